"""Numbers under stress: messy generated transaction tables, checked end to end through `analyze`.

Hypothesis builds tables with returns, zero amounts, missing ids and dates, unreadable values,
exact duplicates, blanks and few customers. Whatever it builds, either the analysis succeeds and
its invariants hold (rows conserved, one segment per customer and scheme, shares summing to 1,
metrics within their ranges, no NaN or infinity in the published files) or it stops with a
:class:`SegkitError` (a user mistake such as too little history), never anything else.
"""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from segkit.config import RunParams
from segkit.data import load_transactions
from segkit.errors import SegkitError
from segkit.pipeline import SCHEMES, analyze, write_run_files

MONTHS = [f"2023-{m:02d}" for m in range(1, 11)]          # ten complete months of data
AMOUNTS = st.one_of(st.floats(0.5, 5000, allow_nan=False).map(lambda x: f"{x:.2f}"),
                    st.sampled_from(["-25.00", "-0.01", "0", "0.00", "", "n/a", "1e3", " 12.5 "]))


@st.composite
def messy_tables(draw) -> pd.DataFrame:
    n_customers = draw(st.integers(1, 14))
    ids = [f"{i:04d}" for i in range(n_customers)]
    rows = []
    for cid in ids:
        months = draw(st.lists(st.sampled_from(MONTHS), min_size=1, max_size=10, unique=True))
        for month in months:
            for _ in range(draw(st.integers(1, 3))):
                rows.append((cid, f"{month}-{draw(st.integers(1, 28)):02d}", draw(AMOUNTS)))
    # rows that cleaning must drop or count
    junk = st.tuples(st.sampled_from(["", "   ", *ids[:3]]),
                     st.sampled_from(["", "2023-02-30", "bad", "2023-05-05"]), AMOUNTS)
    rows += draw(st.lists(junk, max_size=6))
    if rows and draw(st.booleans()):
        rows += draw(st.lists(st.sampled_from(rows), max_size=5))   # exact duplicates
    # the data always reaches the last day of its last month
    rows.append((ids[0], "2023-10-31", "10.00"))
    order = draw(st.permutations(range(len(rows))))
    return pd.DataFrame([rows[i] for i in order], columns=["customer_id", "date", "amount"])


def _finite(value) -> bool:
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return not (isinstance(value, float) and not math.isfinite(value))


def _within(value, lo: float, hi: float) -> bool:
    return value is None or lo - 1e-9 <= value <= hi + 1e-9


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(table=messy_tables(), drop_duplicates=st.booleans(), holdout=st.sampled_from([1, 2]))
def test_messy_tables_keep_every_invariant_or_stop_with_a_segkit_error(tmp_path_factory, table, drop_duplicates,
                                                                       holdout):
    params = RunParams.from_mapping({"name": "prop", "data": "generated.csv", "holdout_months": holdout,
                                     "window_months": 3, "dropout_months": 1, "k_range": [2, 3],
                                     "drop_duplicates": drop_duplicates, "max_bad_share": 0.5})
    try:
        tx = load_transactions(table, drop_duplicates=drop_duplicates, max_bad_share=0.5)
        q = tx.quality
        assert q.rows_read == len(table) == q.rows_used + q.rows_dropped
        analysis = analyze(params, tx=tx, n_boot=50)
    except SegkitError as exc:  # an expected user mistake: a plain message, nothing else
        assert exc.exit_code == 2 and exc.message and "Traceback" not in exc.message
        event(f"stopped: {exc.what[:40]}")
        return
    event("analysed")
    customers = set(analysis.features["customer_id"])  # evaluated: a purchase up to as_of
    # listed: every customer with a cleaned row up to as_of, those with returns only included
    rows = tx.con.execute(tx.table.select("customer_id", "date"))
    seen = set(rows.loc[pd.to_datetime(rows["date"]) <= pd.Timestamp(analysis.split.as_of), "customer_id"].astype(str))
    assert customers and customers <= seen and set(analysis.assignments["customer_id"]) == seen
    assert analysis.population()["without_purchase"] == len(seen - customers)
    assert analysis.assignments["customer_id"].is_unique
    for name in SCHEMES:
        seg = analysis.tables[name]
        assert seg["customer_id"].is_unique and set(seg["customer_id"]) == customers, name
        assert seg["segment"].notna().all()
        card = analysis.scorecard["schemes"][name]
        assert sum(s["customers"] for s in card["segments"]) == len(customers)
        assert sum(s["share"] for s in card["segments"]) == pytest.approx(1.0, abs=1e-4)
        assert all(0 <= s["share"] <= 1 for s in card["segments"])
        m = card["metrics"]
        assert _within(m["holdout_activity_auc"], 0, 1) and _within(m["holdout_spearman"], -1, 1)
        assert _within(m["min_segment_share"], 0, 1) and _within(m["top_segment_share"], 0, 1)
        assert _within(m["stability_ari"], -1, 1)
        for metric, interval in card["ci95"].items():
            if interval is not None and None not in interval:
                assert interval[0] <= interval[1] + 1e-9, (name, metric, interval)
    tiers = analysis.tiers_monthly
    assert not tiers.duplicated(["customer_id", "month"]).any()
    # the published numbers: strict JSON (no NaN/inf) and CSVs readable back
    out = tmp_path_factory.mktemp("files")
    write_run_files(analysis, out)
    for name in ("scorecard.json", "run.json"):
        payload = json.loads((out / name).read_text(encoding="utf-8"), parse_constant=lambda c: pytest.fail(c))
        assert _finite(payload)
    back = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    assert sorted(back["customer_id"]) == sorted(seen)


def test_too_little_history_is_a_segkit_error():
    table = pd.DataFrame({"customer_id": ["1", "2", "3"], "date": ["2023-01-05", "2023-01-06", "2023-01-31"],
                          "amount": ["5", "6", "7"]})
    params = RunParams.from_mapping({"name": "short", "data": "x.csv", "holdout_months": 2})
    with pytest.raises(SegkitError, match="holdout"):
        analyze(params, tx=load_transactions(table), n_boot=50)


LINE = st.tuples(st.sampled_from(["0001", "0002", "0003"]), st.sampled_from(["2023-01-05", "2023-02-10"]),
                 st.sampled_from(["10", "-3.5", "7.25", "1000"]), st.sampled_from(["MUG", "CUP", "PLATE"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(LINE, min_size=1, max_size=30))
def test_drop_duplicates_removes_exactly_the_rows_repeated_in_every_column(rows):
    """Net revenue changes by the duplicated rows' amounts and by nothing else (product lines stay)."""
    frame = pd.DataFrame(rows, columns=["customer_id", "date", "amount", "product"])
    repeated = frame[frame.duplicated()]                                 # pandas: equal in every column
    alike = int(frame.duplicated(["customer_id", "date", "amount"]).sum()) - len(repeated)
    kept = load_transactions(frame)
    dropped = load_transactions(frame, drop_duplicates=True)
    amounts = repeated["amount"].astype(float)
    change = kept.to_pandas()["amount"].sum() - dropped.to_pandas()["amount"].sum()
    assert abs(change) <= amounts.abs().sum() + 1e-9
    assert change == pytest.approx(amounts.sum(), abs=1e-9)
    assert kept.quality.kept["exact_duplicates"] == dropped.quality.dropped["duplicates_dropped"] == len(repeated)
    assert kept.quality.kept["same_customer_time_amount"] == dropped.quality.kept["same_customer_time_amount"] == alike
    assert dropped.quality.rows_used == len(frame) - len(repeated) == len(frame.drop_duplicates())
    event(f"duplicates: {len(repeated) > 0}, product lines: {alike > 0}")
