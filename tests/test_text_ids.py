"""Customer ids looked up and checked in Arrow (segkit.schemes._base.text_sorted, lookup) give pandas'
own answers; the earlier backtest origins spilled to disk come back unchanged and leave nothing behind.

Each helper is compared with the pandas expression it replaces, on hand-made cases (missing ids, fills
that widen the type, ids out of order, numbers as ids) and on drawn ones.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import tempfile

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from segkit import compare, pipeline
from segkit.backtest import Origin
from segkit.calendar import make_split
from segkit.engines import lookup, lookup_text, text_sorted

_IDS = st.lists(st.text(alphabet="abcé0Z", min_size=0, max_size=4), max_size=30)


# ====================================================================== text_sorted
@pytest.mark.parametrize("values, loose, strict", [
    (["a", "b", "c"], True, True),
    (["a", "b", "b"], True, False),
    (["b", "a"], False, False),
    (["a", None], False, False),
    ([None, "a"], False, False),
    ([], True, True),
    (["only"], True, True),
    (["B", "a", "é"], True, True),          # code-point order: upper case first, accents last
    (["10", "9"], True, True),              # text, not numbers
])
def test_text_sorted_says_what_pandas_says(values, loose, strict):
    for make in (lambda v: pd.Series(v, dtype="str"), lambda v: pd.Index(v, dtype="str"),
                 lambda v: np.array(v, dtype=object)):
        data = make(values)
        assert text_sorted(data) is loose
        assert text_sorted(data, strict=True) is strict


def test_text_sorted_of_numbers_compares_numbers():
    assert text_sorted(pd.Series([3, 10])) and not text_sorted(pd.Series([10, 3]))
    assert not text_sorted(pd.Series([3, 3]), strict=True)


def test_text_sorted_sees_across_arrow_chunks():
    two = pd.concat([pd.Series(["a", "c"], dtype="str"), pd.Series(["b"], dtype="str")], ignore_index=True)
    assert two.array._pa_array.num_chunks == 2
    assert not text_sorted(two)
    assert text_sorted(pd.concat([pd.Series(["a"], dtype="str"), pd.Series(["b"], dtype="str")], ignore_index=True))


@given(_IDS)
def test_text_sorted_equals_pandas_on_drawn_ids(values):
    s = pd.Series(values, dtype="str")
    assert text_sorted(s) == s.is_monotonic_increasing
    assert text_sorted(s, strict=True) == (s.is_monotonic_increasing and s.is_unique)
    ordered = s.sort_values()
    assert text_sorted(ordered)


# ====================================================================== lookup
def test_lookup_fills_missing_ids_and_widens_like_reindex():
    s = pd.Series([1, 2, 3], index=pd.Index(["a", "b", "c"], dtype="str"))
    ids = pd.Index(["c", "x", "a"], dtype="str")
    assert lookup(s, ids, 0).tolist() == [3, 0, 1] and lookup(s, ids, 0).dtype.kind == "i"
    widened = lookup(s, ids, np.nan)
    assert widened.dtype == float and np.isnan(widened[1]) and widened[[0, 2]].tolist() == [3.0, 1.0]
    flags = pd.Series([True, False], index=pd.Index(["a", "b"], dtype="str"))
    assert lookup(flags, ["b", "q"], False).tolist() == [False, False]
    assert lookup(flags, ["a", "q"], np.nan).dtype == object
    assert lookup(flags, ["a", "q"], np.nan)[0] is True or lookup(flags, ["a", "q"], np.nan)[0] == True  # noqa: E712
    days = pd.Series(pd.to_datetime(["2024-01-02", "2024-03-04"]), index=pd.Index(["a", "b"], dtype="str"))
    got = lookup(days, ["b", "z"], pd.NaT)
    assert str(got[0])[:10] == "2024-03-04" and pd.isna(got[1])


def test_lookup_in_the_same_order_is_a_copy():
    s = pd.Series([1.5, 2.5], index=pd.Index(["a", "b"], dtype="str"))
    got = lookup(s, pd.Index(["a", "b"], dtype="str"), 0.0)
    got[0] = 99.0
    assert s.iloc[0] == 1.5


def test_lookup_of_a_frame_gives_each_column():
    f = pd.DataFrame({"n": [1, 2], "v": [0.5, 1.5]}, index=pd.Index(["a", "b"], dtype="str"))
    got = lookup(f, pd.Series(["b", "zz", "a"], dtype="str"), 0)
    assert got["n"].tolist() == [2, 0, 1] and got["v"].tolist() == [1.5, 0.0, 0.5]


def test_lookup_with_numbers_as_ids_is_pandas_reindex():
    s = pd.Series([10.0, 20.0], index=[5, 6])
    assert lookup(s, [6, 7], -1.0).tolist() == [20.0, -1.0]


@given(st.lists(st.text(alphabet="abc", max_size=3), unique=True, max_size=12), _IDS)
def test_lookup_equals_reindex_on_drawn_ids(index, wanted):
    s = pd.Series(np.arange(len(index), dtype=float), index=pd.Index(index, dtype="str"))
    ids = pd.Index(wanted, dtype="str")
    expected = s.reindex(ids, fill_value=-1.0).to_numpy()
    assert lookup(s, ids, -1.0).tolist() == expected.tolist()


@given(st.lists(st.tuples(st.text(alphabet="abc", max_size=3), st.sampled_from(["VIP", "left VIP", "", None])),
                unique_by=lambda r: r[0], max_size=12), _IDS, st.booleans())
def test_lookup_text_equals_reindex_and_stays_arrow_text(rows, wanted, same):
    """Text looked up in Arrow: reindex's values (a missing value stays missing, an absent id gets the
    fill), as ``str``; the same ids in the same order take the path without positions."""
    s = pd.Series([v for _, v in rows], index=pd.Index([k for k, _ in rows], dtype="str"), dtype="str")
    ids = s.index.copy() if same else pd.Index(wanted, dtype="str")
    got = pd.Series(lookup_text(s, ids, "new"))
    expected = s.reindex(ids, fill_value="new").reset_index(drop=True)
    assert got.dtype == "str"
    pd.testing.assert_series_equal(got, expected.astype("str"), check_index_type=False)


# ====================================================================== callers, against their pandas twins
def test_criterion_outcomes_and_baselines_with_ids_out_of_order_and_absent():
    hm = pd.DataFrame({"customer_id": ["b", "a", "a", "x"], "revenue": [5.0, 2.0, 1.0, 9.0],
                       "payments": [1, 1, 1, 1], "purchases": [1, 0, 1, 1]})
    out = compare.criterion_outcomes(hm, pd.Series(["c", "a", "b"], dtype="str"), "payments")
    assert out["customer_id"].tolist() == ["a", "b", "c"]
    assert out["outcome"].tolist() == [2.0, 1.0, 0.0] and out["bought"].tolist() == [True, True, False]
    f = pd.DataFrame({"customer_id": pd.Series(["b", "a", "c"], dtype="str"), "recency_days": [3, 1, 2]})
    m = pd.DataFrame({"customer_id": ["a", "b", "a"], "revenue": [1.0, 5.0, 2.0],
                      "month": pd.to_datetime(["2024-06-01", "2024-06-01", "2024-05-01"])})
    keys = compare.baseline_orders(f, m, "revenue", ["2024-05-01", "2024-06-01"])
    assert keys.values.tolist() == [["a", 1.0, -3.0], ["b", 3.0, -5.0], ["c", 2.0, -0.0]]


def test_customer_weights_find_arrow_text_as_they_find_python_text():
    w = compare.CustomerWeights(pa.chunked_array([pa.array(["b", "a"]), pa.array(["c", "a"])]), n_boot=3, seed=1)
    assert w.ids.tolist() == ["a", "b", "c"] and w.n_customers == 3
    asked = ["c", "zz", "a"]
    assert w.positions(pd.Series(asked, dtype="str")).tolist() == w.positions(asked).tolist() == [2, -1, 0]
    big = compare.CustomerWeights([f"c{i:03d}" for i in range(50)], n_boot=2, seed=0, max_customers=10)
    every = pd.Series([f"c{i:03d}" for i in range(50)], dtype="str")
    assert big.positions(every).tolist() == big.positions(every.tolist()).tolist()
    assert (big.positions(every) >= 0).sum() == 10


def test_a_segment_table_missing_an_evaluated_customer_is_named():
    t = pd.DataFrame({"customer_id": ["a"], "segment": ["top"], "rank": [1]})
    o = pd.DataFrame({"customer_id": ["a", "b"], "outcome": [1.0, 2.0]})
    with pytest.raises(Exception, match=r"leaves 1 evaluated customer\(s\) without a segment \(e.g. \['b'\]\)"):
        compare.compare_rankings({"s": t}, o, 0.5, n_boot=0)


# ====================================================================== spilled origins
def _origin(as_of: dt.date) -> Origin:
    split = make_split(dt.date(2023, 1, 1), as_of, holdout_months=3, window_months=3)
    f = pd.DataFrame({"customer_id": pd.Series(["a", "b"], dtype="str"), "monetary": [1.5, 2.5],
                      "last_purchase": pd.to_datetime(["2024-01-02", "2024-02-03"])})
    m = pd.DataFrame({"customer_id": pd.Series(["a"], dtype="str"), "month": pd.to_datetime(["2024-01-01"]),
                      "revenue": [1.5], "purchases": [1]})
    return Origin(split, f, m, m.iloc[:0], None)


def test_spilled_origins_come_back_equal_in_order_and_leave_nothing(tmp_path, monkeypatch):
    # a temporary folder of the test's own: runs of other test workers add and remove theirs in /tmp
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "segkit-origins-*")))
    assert before == set()
    spilled = pipeline._SpilledOrigins()
    origins = [_origin(dt.date(2024, 3, 31)), _origin(dt.date(2023, 12, 31))]
    for o in origins:
        spilled.append(o)
    assert len(spilled) == 2
    folder = spilled._folder
    assert folder is not None and len(list(folder.iterdir())) == 2
    back = list(spilled.take())
    assert [o.split for o in back] == [o.split for o in origins]
    for got, want in zip(back, origins):
        pd.testing.assert_frame_equal(got.features, want.features)
        pd.testing.assert_frame_equal(got.monthly, want.monthly)
        assert got.features["customer_id"].dtype == want.features["customer_id"].dtype
    assert not folder.exists() and folder.parent == tmp_path
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "segkit-origins-*"))) == before


def test_spilled_origins_are_removed_when_a_run_stops_between_them():
    spilled = pipeline._SpilledOrigins()
    spilled.append(_origin(dt.date(2024, 3, 31)))
    spilled.append(_origin(dt.date(2023, 12, 31)))
    folder = spilled._folder
    taken = spilled.take()
    next(taken)  # the first origin is being fitted when the run fails
    taken.close()
    assert not folder.exists() and len(spilled) == 0
    again = pipeline._SpilledOrigins()
    again.append(_origin(dt.date(2024, 3, 31)))
    kept = again._folder
    again.discard()
    assert not kept.exists()
    again.discard()  # twice: nothing to do


def test_payment_counts_equal_the_pandas_alignment_they_replace():
    from segkit.decisions.actions import _payment_counts

    monthly = pd.DataFrame({"customer_id": ["b", "a", "a", "c", "c"],
                            "month": pd.to_datetime(["2024-06-01", "2024-05-01", "2024-06-01", "2024-04-01",
                                                     "2024-07-01"]),
                            "payments": [2, 1, 3, 1, 5]})
    got = _payment_counts(monthly, dt.date(2024, 6, 30))
    m = monthly[(monthly["month"] <= "2024-06-30") & (monthly["payments"] > 0)]
    want = pd.DataFrame({"total": m.groupby("customer_id")["payments"].sum(),
                         "this_month": m[m["month"] == "2024-06-01"].groupby("customer_id")["payments"].sum()}).fillna(0)
    # the customers who paid in the cut-off's month (the rules need a payment this month): a and b
    want = want[want["this_month"] > 0]
    pd.testing.assert_frame_equal(got, want, check_index_type=False, check_dtype=False)
    assert got.index.tolist() == ["a", "b"] and got.loc["a"].tolist() == [4, 3]


def test_recommended_segments_keep_text_ids_and_labels():
    from segkit.evaluate import recommended_segments

    t = pd.DataFrame({"customer_id": pd.Series(["a", "b"], dtype="str"), "segment": ["VIP", "GOOD"], "rank": [1, 2]})
    got = recommended_segments({"s": t}, "s")
    assert got.to_dict() == {"a": "VIP", "b": "GOOD"} and got.index.name is None
    assert recommended_segments({"s": t}, None).to_dict() == {"a": "", "b": ""}


# ====================================================================== private temporary folders
def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid  # reaped: no process has this id now (reuse within the test is unlikely)


def test_private_folder_removes_what_killed_runs_left_and_nothing_else(tmp_path, monkeypatch):
    from segkit import engines

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead, old = _dead_pid(), 1_000_000_000  # mtime in 2001
    stale = tmp_path / f"segkit-origins-{dead}-abc"
    recent = tmp_path / f"segkit-origins-{dead}-def"      # dead, but touched within the hour
    alive = tmp_path / f"segkit-origins-{os.getpid()}-ghi"  # this process: running
    other = tmp_path / f"segkit-duckdb-{dead}-jkl"        # another prefix
    odd = tmp_path / "segkit-origins-notapid"
    for folder in (stale, recent, alive, other, odd):
        folder.mkdir()
        (folder / "origin0.pkl").write_bytes(b"x")
    for folder in (stale, alive, other, odd):
        os.utime(folder, (old, old))
    made = engines.private_folder("segkit-origins-")
    assert os.path.isdir(made) and os.path.basename(made).startswith(f"segkit-origins-{os.getpid()}-")
    assert not stale.exists()
    assert recent.exists() and alive.exists() and other.exists() and odd.exists()


def test_spilled_origins_use_a_folder_named_after_the_process():
    spilled = pipeline._SpilledOrigins()
    spilled.append(_origin(dt.date(2024, 3, 31)))
    try:
        assert spilled._folder.name.startswith(f"segkit-origins-{os.getpid()}-")
    finally:
        spilled.discard()


def test_utf8_copy_of_a_latin1_file_is_removed_when_the_process_ends(tmp_path):
    """A cp1252/Latin-1 export is read through a UTF-8 copy; the copy must not outlive the run."""
    import subprocess
    import sys

    data = tmp_path / "sales.csv"
    data.write_bytes("customer_id,date,amount\nJosé,2024-01-05,10\nMüller,2024-01-06,3\n".encode("latin-1"))
    spool = tmp_path / "tmp"
    spool.mkdir()
    script = (
        "import os, sys\n"
        "from segkit.data.sniffing import transcode\n"
        "copy = transcode(sys.argv[1], 'latin-1')\n"
        "folder = os.path.basename(os.path.dirname(copy))\n"
        "assert folder.startswith(f'segkit-text-{os.getpid()}-'), folder\n"
        "assert open(copy, encoding='utf-8').read().splitlines()[1] == 'José,2024-01-05,10'\n"
        "print(copy)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(data)], capture_output=True, text=True,
                          env={**os.environ, "TMPDIR": str(spool)}, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(str(spool))
    assert list(spool.iterdir()) == []


def test_first_and_second_purchase_actions_equal_the_counts_over_every_customer():
    """Counting only the customers who paid in the cut-off's month picks the same thank-you and
    satisfaction-check customers as the counts over every customer did."""
    from segkit.decisions.actions import contact_list

    rng = np.random.default_rng(11)
    ids = [f"c{i:03d}" for i in range(300)]
    months = pd.to_datetime(["2024-03-01", "2024-04-01", "2024-05-01", "2024-06-01", "2024-07-01"])
    rows = [(c, m, int(rng.integers(0, 3))) for c in ids for m in months if rng.random() < 0.3]
    monthly = pd.DataFrame(rows, columns=["customer_id", "month", "payments"]).sample(frac=1, random_state=3)
    tiers = pd.DataFrame({"customer_id": ids, "tier": rng.choice(["VIP", "GOOD", "REGULAR"], 300)})
    stages = pd.DataFrame({"customer_id": ids, "stage": "awareness"})
    got = contact_list("2024-06-30", tiers, stages, monthly, window_value=pd.Series(1.0, index=pd.Index(ids)))
    m = monthly[(monthly["month"] <= "2024-06-30") & (monthly["payments"] > 0)]
    total = m.groupby("customer_id")["payments"].sum().reindex(ids).fillna(0)
    now = m[m["month"] == "2024-06-01"].groupby("customer_id")["payments"].sum().reindex(ids).fillna(0)
    want = {"satisfaction_check": set(total.index[(total == 2) & (now >= 1)]),
            "thank_you": set(total.index[(total == 1) & (now == 1)])}
    assert want["thank_you"] and want["satisfaction_check"]
    for action, customers in want.items():
        assert set(got.loc[got["action"] == action, "customer_id"]) == customers


def test_tier_change_equals_the_text_map_it_replaces():
    from segkit.decisions.actions import tier_change

    rng = np.random.default_rng(2)
    names = np.array(["VIP", "GOOD", "REGULAR", None], dtype=object)
    now = pd.DataFrame({"customer_id": [f"c{i:03d}" for i in rng.permutation(400)],
                        "tier": names[rng.integers(0, 3, 400)]})
    before = pd.DataFrame({"customer_id": [f"c{i:03d}" for i in rng.choice(500, 300, replace=False)],
                           "tier": names[rng.integers(0, 4, 300)]})
    got = tier_change(now, before)
    was = now["customer_id"].map(before.set_index("customer_id")["tier"])
    vip_now, vip_before = (now["tier"] == "VIP").to_numpy(), (was == "VIP").to_numpy()
    want = np.select([was.isna().to_numpy(), vip_now & ~vip_before, vip_before & ~vip_now],
                     ["new", "entered VIP", "left VIP"], default="unchanged")
    assert got["customer_id"].tolist() == now["customer_id"].tolist() and got["tier_change"].tolist() == want.tolist()
    assert {"new", "entered VIP", "left VIP", "unchanged"} == set(want)
