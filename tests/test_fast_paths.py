"""Faster forms of per-customer computations give the same numbers, bit for bit, as the pandas
expressions they replace (written out here as the reference).

- ``rfm_scores``: one sort (``np.unique``) instead of three ``Series.rank`` calls.
- ``PercentileTiers._rank_months``: one ``np.lexsort`` of the id codes (or, for rows in month and
  customer order, a sort of the values month by month) instead of pandas' sort of the frame,
  positions and sizes from the runs of months instead of group-bys, tier text built in Arrow;
  ``tiers_monthly``' rows put in customer order month by month, the ids taken as text in Arrow.
- ``engines.fetch``: ``con.execute`` without a Python object per row for DuckDB's DECIMAL sums of
  counts or for floating columns holding NULLs, dates without a Python object per row, and without
  stacking columns into 2-D blocks;
  ``engines.to_pandas``: ``expr.to_pandas()`` the same way.
- ``engines._index_in`` of a few ids among many members: the ids hashed, not the members; of many
  ids among many members: a Polars left join (both cores), Arrow's ``index_in`` where the join cannot
  answer alike.
- ``features.by_customer``: no pandas sort of rows the engine already ordered.
- ``engines.month_then_text_order``: the customer-month table sorted by month and id with Arrow's
  sort of the text and a sort of small month codes, not pandas' two-key sort (a hash of every id).
- ``engines.ordered_sums`` of Arrow text keys: the keys factorized once, integers sorted.
- ``decisions.stages._per_customer``: group-bys and lookups on the codes of the ids, not their text.
- k-means labels: the cluster names taken in Arrow, not one Python string per customer.
- ``engines.left_join``: pandas' left merge on unique text ids as one Arrow lookup and a take per column.
- ``schemes._base.isin`` of two columns holding the same ids: one comparison, no hash.
- ``apply_overrides`` without overrides: the segment table's own columns, no outer join of every id.
- ``evaluate.levels_and_codes``: ``np.unique(..., return_inverse=True)`` of whole-number keys in a
  short span (segment ranks, days) by counting, not sorting; the comparison's perfect-foresight
  area computed once per cut-off, not once per ranking.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segkit.schemes.rfm import rfm_scores
from segkit.schemes.tiers import PercentileTiers, exact_ceil


def _rfm_scores_by_pandas_rank(values, bins: int, higher_is_better: bool = True) -> np.ndarray:
    """The rule with pandas' ranks: lowest value -> its lowest rank, highest -> its highest, other
    ties -> their average; score floor((rank - 1) * bins / n) + 1; a missing value scores 1."""
    v = pd.Series(np.asarray(values, dtype=float))
    n = len(v)
    if n == 0:
        return np.array([], dtype=np.int64)
    x = v if higher_is_better else -v
    lowest, highest = x.min(), x.max()
    rank = np.where((x == lowest) & (x != highest), x.rank(method="min"),
                    np.where((x == highest) & (x != lowest), x.rank(method="max"), x.rank(method="average")))
    score = np.floor((rank - 1) * bins / n)
    return (np.nan_to_num(score, nan=0.0).astype(np.int64) + 1).clip(1, bins)


@pytest.mark.parametrize("values, bins, expected", [
    ([1, 2, 2, 3], 2, [1, 1, 1, 2]),
    ([5, 5, 5], 5, [2, 2, 2]),                  # one value: every customer at the average rank 2
    ([0, 0, 7], 5, [1, 1, 4]),                  # ties at the lowest value take its lowest rank
    ([1, 9, 9], 5, [1, 4, 4]),                  # ties at the highest value take its highest rank
    ([np.nan, 1, 2], 3, [1, 1, 2]),             # missing: scores 1, counts among the customers
    ([np.nan, np.nan], 4, [1, 1]),
    ([-0.0, 0.0, 1], 2, [1, 1, 2]),             # -0 and 0 are one value
    ([1, np.inf, 3, 3, 2], 5, [1, 5, 3, 3, 2]),  # the two 3s share rank 3.5
    ([], 5, []),
])
def test_rfm_scores_by_hand(values, bins, expected):
    got = rfm_scores(np.array(values, dtype=float), bins)
    assert got.tolist() == expected and got.dtype == np.int64
    assert np.array_equal(got, _rfm_scores_by_pandas_rank(values, bins))


_VALUES = st.lists(st.one_of(st.integers(-3, 3).map(float), st.floats(allow_nan=True, allow_infinity=True,
                                                                       width=32).map(float)), max_size=40)


@given(values=_VALUES, bins=st.integers(1, 10), higher=st.booleans())
def test_rfm_scores_equal_pandas_ranks(values, bins, higher):
    a = rfm_scores(np.array(values, dtype=float), bins, higher_is_better=higher)
    b = _rfm_scores_by_pandas_rank(values, bins, higher_is_better=higher)
    assert np.array_equal(a, b) and a.dtype == b.dtype


def test_rfm_scores_equal_pandas_ranks_on_a_million_values():
    rng = np.random.default_rng(4)
    x = np.round(rng.exponential(100, 1_000_000), 1)  # many ties, as amounts and day counts have
    x[rng.random(len(x)) < 0.01] = np.nan
    for bins in (3, 5):
        assert np.array_equal(rfm_scores(x, bins), _rfm_scores_by_pandas_rank(x, bins))
        assert np.array_equal(rfm_scores(x, bins, False), _rfm_scores_by_pandas_rank(x, bins, False))


# ====================================================================== monthly ranks of the tiers
def _rank_months_by_pandas(tiers: PercentileTiers, frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame[frame["value"] > 0].sort_values(["month", "value", "customer_id"],
                                                  ascending=[True, False, True], kind="stable")
    pos = frame.groupby("month", sort=False).cumcount().to_numpy()
    n = frame.groupby("month", sort=False)["value"].transform("size").to_numpy()
    vip = exact_ceil(tiers.vip_share, n)
    good = exact_ceil(tiers.good_share, n - vip)
    tier = np.where(pos < vip, "VIP", np.where(pos < vip + good, "GOOD", "REGULAR"))
    return frame.assign(monthly_tier=tier, _pos=pos, _n=n, _vip=vip, _good=good)


def _month_frame(rng: np.random.Generator, rows: int, customers: int) -> pd.DataFrame:
    ids = sorted({f"c{i:03d}" for i in rng.integers(0, customers, rows)})
    pairs = {(str(rng.choice(ids)), int(m)) for m in rng.integers(1, 5, rows)}  # one row per customer-month
    cid, month = zip(*sorted(pairs, key=lambda p: rng.random()), strict=True) if pairs else ((), ())
    value = rng.choice([0.0, -1.0, 5.0, 5.0, 7.5, 100.0], len(cid)) + rng.choice([0, 0, 0.25], len(cid))
    codes = pd.Categorical(list(cid), categories=ids)
    return pd.DataFrame({"customer_id": codes, "month": pd.to_datetime([f"2024-{m:02d}-01" for m in month]),
                         "value": value}, index=rng.permutation(len(cid)) * 3)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("shares", [(0.2, 0.2), (0.1, 0.3), (0.5, 0.5), (1 / 3, 0.2)])
def test_rank_months_equal_pandas_sort_and_groupby(seed, shares):
    rng = np.random.default_rng(seed)
    frame = _month_frame(rng, rows=int(rng.integers(0, 80)), customers=int(rng.integers(1, 40)))
    tiers = PercentileTiers(vip_share=shares[0], good_share=shares[1])
    got, expected = tiers._rank_months(frame), _rank_months_by_pandas(tiers, frame)
    pd.testing.assert_frame_equal(got, expected)  # the same rows in the same order, index and dtypes
    as_text = frame.assign(customer_id=frame["customer_id"].astype(str))  # ids as text: pandas sorts them
    pd.testing.assert_frame_equal(tiers._rank_months(as_text), _rank_months_by_pandas(tiers, as_text))
    # in the customer-month table's own order (month, then customer): sorted by value month by month
    ordered = frame.sort_values(["month", "customer_id"], kind="stable")
    pd.testing.assert_frame_equal(tiers._rank_months(ordered), _rank_months_by_pandas(tiers, ordered))


def _monthly_tiers_by_pandas(ranked: pd.DataFrame) -> pd.DataFrame:
    from segkit.schemes.tiers import _month_key

    mt = (ranked.assign(month=_month_key(ranked["month"]))[["customer_id", "month", "value", "monthly_tier"]]
          .sort_values(["month", "customer_id"], kind="stable").reset_index(drop=True))
    return mt.assign(customer_id=mt["customer_id"].astype(str))


@pytest.mark.parametrize("seed", range(8))
def test_monthly_tiers_table_equals_pandas_sort_and_text(seed):
    from segkit.schemes.tiers import _monthly_tiers_table

    rng = np.random.default_rng(seed)
    frame = _month_frame(rng, rows=int(rng.integers(0, 80)), customers=int(rng.integers(1, 40)))
    tiers = PercentileTiers(vip_share=0.2, good_share=0.2)
    codes = frame["customer_id"].cat.codes.to_numpy()
    n_ids = len(frame["customer_id"].cat.categories)
    numbers = pd.Categorical.from_codes(codes, categories=[2**70 + i for i in range(n_ids)])
    for f in (frame, frame.assign(customer_id=frame["customer_id"].astype(str)),  # coded ids, then text
              frame.assign(customer_id=numbers),  # ids that are numbers (too long for 64 bits): pandas' text
              frame.assign(month=frame["month"] - pd.DateOffset(years=1500))):  # year 524: its text sorts otherwise
        ranked = tiers._rank_months(f)
        pd.testing.assert_frame_equal(_monthly_tiers_table(ranked), _monthly_tiers_by_pandas(ranked))


@given(rows=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 6), st.sampled_from([1.0, 2.0, 2.5, 9.0, 1e300])),
                     max_size=40), ordered=st.booleans())
def test_value_sorted_within_months_equals_lexsort(rows, ordered):
    from segkit.schemes.tiers import _by_value_within_months

    rows = sorted(set((m, c) for m, c, _ in rows)) if ordered else [(m, c) for m, c, _ in rows]
    values = [9.0, 2.0, 2.0, 1.0, 1e300, 2.5]
    codes = np.array([c for _, c in rows], dtype=np.int64)
    month = np.array([f"2024-{m + 1:02d}-01" for m, _ in rows], dtype="datetime64[ns]")
    key = -np.array([values[(m * 7 + c) % len(values)] for m, c in rows], dtype=float)
    assert np.array_equal(_by_value_within_months(codes, key, month), np.lexsort((codes, key, month)))


def test_rank_months_break_ties_by_customer_code_and_keep_each_month_apart():
    ids = pd.Categorical(["b", "a", "c", "a", "b"], categories=["a", "b", "c"])
    frame = pd.DataFrame({"customer_id": ids, "month": pd.to_datetime(["2024-02-01", "2024-02-01", "2024-01-01",
                                                                       "2024-01-01", "2024-01-01"]),
                          "value": [3.0, 3.0, 1.0, 2.0, 2.0]})
    got = PercentileTiers(vip_share=0.2, good_share=0.2)._rank_months(frame)
    assert got["customer_id"].astype(str).tolist() == ["a", "b", "c", "a", "b"]
    assert got["_pos"].tolist() == [0, 1, 2, 0, 1] and got["_n"].tolist() == [3, 3, 3, 2, 2]
    assert got["monthly_tier"].tolist() == ["VIP", "GOOD", "REGULAR", "VIP", "GOOD"]


# ====================================================================== fetching engine results
def _null_heavy_table():
    import datetime as dt

    import ibis

    return ibis.memtable(pd.DataFrame({
        "customer_id": ["b", "a", None, "c"],
        "f_all_null": [None, None, None, None],
        "f_some_null": [1.5, None, -0.0, float("inf")],
        "f_full": [1.0, 2.0, 3.0, 4.0],
        "i_some_null": pd.array([1, None, 3, 4], dtype="Int64"),
        "i_full": [1, 2, 3, 4],
        "s_some_null": ["x", None, "z", "é"],
        "d_some_null": [dt.date(2024, 1, 5), None, dt.date(2023, 12, 31), dt.date(2024, 2, 29)],
        "d_full": [dt.date(1, 1, 1), dt.date(1970, 1, 1), dt.date(2262, 4, 12), dt.date(9999, 12, 31)],
        "b_some_null": pd.array([True, None, False, True], dtype="boolean"),
    })).cast({"f_all_null": "float64", "f_some_null": "float64", "f_full": "float32"})


def test_fetch_gives_ibis_own_frame_for_every_kind_of_column():
    from segkit.engines import connect, fetch

    con = connect("duckdb")
    t = _null_heavy_table()
    expr = t.mutate(total=t.f_some_null + t.f_full, n=t.i_some_null * 2)
    pd.testing.assert_frame_equal(fetch(con, expr), con.execute(expr))
    empty = expr.filter(expr.f_full > 100)
    pd.testing.assert_frame_equal(fetch(con, empty), con.execute(empty))


@pytest.fixture(scope="module")
def b2c_like_tx(tmp_path_factory):
    """CDNOW without its quantity column (sums of counts, as DuckDB returns them, beside floats)."""
    from segkit.config import CDNOW_PATH
    from segkit.data import load_transactions

    path = tmp_path_factory.mktemp("b2c") / "sales.csv"
    pd.read_csv(CDNOW_PATH, dtype=str)[["customer_id", "date", "amount"]].to_csv(path, index=False)
    return load_transactions(str(path))


def test_fetch_of_the_per_customer_tables_equals_execute(b2c_like_tx):
    import datetime as dt

    from segkit.engines import fetch
    from segkit.features import customer_features_table, customer_month_table
    from segkit.potential.summary import purchase_summary

    tx = b2c_like_tx
    as_of = dt.date(1997, 12, 31)
    for expr in (customer_month_table(tx, None, as_of), customer_features_table(tx, as_of),
                 purchase_summary(tx, as_of, criterion="revenue")):
        keys = [c for c in ("customer_id", "month") if c in expr.columns]  # an aggregate's rows come in any order
        got, expected = (f.sort_values(keys).reset_index(drop=True) for f in (fetch(tx.con, expr), tx.con.execute(expr)))
        pd.testing.assert_frame_equal(got, expected)


def test_fetch_copies_no_column_into_blocks_and_to_pandas_equals_ibis():
    import ibis

    from segkit.engines import connect, fetch, to_pandas

    con = connect("duckdb")
    t = _null_heavy_table()
    got = fetch(con, t)
    # one block per column: nothing stacked (Ibis' own frame has its float columns in one block)
    assert got._mgr.nblocks == len(got.columns)
    pd.testing.assert_frame_equal(got, con.execute(t))
    mem = ibis.memtable({"customer_id": ["b", "a", None], "x": [1, None, 3], "y": [0.5, 1.5, None]})
    expr = mem.mutate(z=mem.x * 2 + mem.y)
    pd.testing.assert_frame_equal(to_pandas(expr), expr.to_pandas())


_MEMBER = st.sampled_from(["a", "b", "B", "é", "c1", "", "q", "zz"])


@given(ids=st.lists(st.one_of(st.none(), _MEMBER), max_size=6),
       members=st.lists(st.one_of(st.none(), _MEMBER), max_size=60))
def test_index_in_of_few_ids_equals_the_members_hashed(ids, members):
    import pyarrow as pa

    from segkit.engines import _index_in_few, _positions_in

    a, m = pa.array(ids, type=pa.large_string()), pa.chunked_array([pa.array(members, type=pa.large_string())])
    expected = _positions_in(a, m)  # Arrow's index_in: the first position of a repeated member
    assert np.array_equal(_index_in_few(a, m), expected)
    by_hand = [next((j for j, x in enumerate(members) if x == i), -1) if i is not None else -1 for i in ids]
    assert expected.tolist() == by_hand


@settings(deadline=None)  # the first example imports Polars: 0.29 s on a busy machine, past the default 0.2 s
@given(ids=st.lists(st.one_of(st.none(), _MEMBER), max_size=30),
       members=st.lists(st.one_of(st.none(), _MEMBER), max_size=30))
def test_positions_by_a_polars_join_equal_arrow_index_in(ids, members):
    """The join path (used from 200k ids on; here for every size) gives Arrow's positions: the first of
    a repeated member (the join hands such a case back), -1 for missing and absent ids."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from segkit.engines import _joined_positions

    a, m = pa.array(ids, type=pa.large_string()), pa.chunked_array([pa.array(members, type=pa.large_string())])
    expected = np.asarray(pc.fill_null(pc.index_in(a, value_set=m, skip_nulls=True), -1).to_numpy(zero_copy_only=False))
    joined = _joined_positions(a, m)
    repeated_match = any(i is not None and members.count(i) > 1 for i in ids)
    assert (joined is None) == repeated_match
    if joined is not None:
        assert joined.dtype == np.int64 and joined.tolist() == expected.tolist()


def test_positions_of_millions_take_the_join_and_equal_arrow():
    import pyarrow as pa
    import pyarrow.compute as pc

    from segkit import engines

    rng = np.random.default_rng(11)
    members = pa.array([f"C{i:07d}" for i in rng.permutation(600_000)], type=pa.large_string())
    values = pa.concat_arrays([members.take(pa.array(rng.integers(0, 600_000, 900_000))),
                               pa.array([None, "nobody", ""], type=pa.large_string())])
    expected = np.asarray(pc.fill_null(pc.index_in(values, value_set=members, skip_nulls=True), -1)
                          .to_numpy(zero_copy_only=False))
    assert engines._joined_positions(values, members) is not None  # the join answered
    assert np.array_equal(engines._positions_in(values, members), expected)


_WIDE = st.sampled_from(["ab", "ac", "b0", "é", "Zz", "a\x00", "zz", "09"])  # 2 bytes each ("é" too)


@settings(max_examples=300, deadline=None)
@given(ids=st.lists(st.one_of(_WIDE, st.sampled_from([None, "abc", "a", ""])), max_size=30),
       members=st.lists(st.one_of(_WIDE, st.sampled_from([None, "abc", "a"])), max_size=30),
       sort_ids=st.booleans(), sort_members=st.booleans(), large=st.booleans(), cut=st.integers(0, 3))
def test_positions_by_binary_search_equal_arrow_index_in(ids, members, sort_ids, sort_members, large, cut):
    """The search (ids of one byte length, sorted, or few against the members) gives Arrow's positions,
    and hands back every other case: ids of other lengths, NULLs, NUL bytes, unsorted or repeated
    members, many unsorted ids."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from segkit.engines import _searched_positions

    if sort_ids:
        ids = sorted(ids, key=lambda x: (x is None, (x or "").encode()))
    if sort_members:
        members = sorted(set(members) - {None}, key=lambda x: x.encode()) + [None] * members.count(None)
    kind = pa.large_string() if large else pa.string()
    a = pa.array(["xx"] * cut + ids, type=kind).slice(cut)  # an offset into Arrow's buffers too
    m = pa.chunked_array([pa.array(members, type=kind)])
    expected = np.asarray(pc.fill_null(pc.index_in(a, value_set=m, skip_nulls=True), -1).to_numpy(zero_copy_only=False))
    got = _searched_positions(a, m)
    # one byte length for all (2 bytes for most draws; "abc" or "a" alone are one length too), no NULL or NUL byte
    simple = bool(ids) and bool(members) and all(x is not None and "\x00" not in x for x in ids + members) and \
        len({len(x.encode()) for x in ids + members}) == 1 and ids[0] != ""
    ordered = [x.encode() for x in members] if simple else []
    # ids in another order: sorted first when they are at most a quarter of the members
    usable = simple and all(p < q for p, q in zip(ordered, ordered[1:])) and \
        (all(p.encode() <= q.encode() for p, q in zip(ids, ids[1:])) or len(ids) <= 0.25 * len(members))
    assert (got is not None) == usable
    if got is not None:
        assert got.dtype == np.int64 and got.tolist() == expected.tolist()


def test_positions_of_sorted_millions_take_the_search_not_a_join(monkeypatch):
    import pyarrow as pa
    import pyarrow.compute as pc

    from segkit import engines

    rng = np.random.default_rng(12)
    members = pa.array([f"C{i:07d}" for i in range(0, 1_200_000, 2)], type=pa.large_string())
    values = pa.array([f"C{i:07d}" for i in np.sort(rng.choice(1_200_000, 500_000, replace=False))],
                      type=pa.large_string())
    expected = np.asarray(pc.fill_null(pc.index_in(values, value_set=members), -1).to_numpy(zero_copy_only=False))
    monkeypatch.setattr(engines, "_joined_positions", lambda *a: pytest.fail("a join"))
    got = engines._positions_in(values, members)
    assert np.array_equal(got, expected) and (got >= 0).sum() == (expected >= 0).sum() > 200_000


def test_positions_of_a_few_ids_in_any_order_are_sorted_then_searched(monkeypatch):
    """Up to a quarter of the members, ids in any order (the contact list's customers, by priority)
    are sorted and searched, with Arrow's positions and no join (whose hash stayed in Polars'
    allocator); more of them go to the join."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from segkit import engines

    rng = np.random.default_rng(21)
    members = pa.array([f"C{i:07d}" for i in range(0, 2_000_000, 2)], type=pa.large_string())
    picks = rng.choice(2_000_000, 250_000, replace=False)  # half of them absent (odd numbers)
    values = pa.array([f"C{i:07d}" for i in picks], type=pa.large_string())
    expected = np.asarray(pc.fill_null(pc.index_in(values, value_set=members), -1).to_numpy(zero_copy_only=False))
    joins = []
    monkeypatch.setattr(engines, "_joined_positions", lambda *a: joins.append(1))
    got = engines._positions_in(values, members)
    assert not joins and got.dtype == np.int64 and np.array_equal(got, expected)
    assert 100_000 < (got >= 0).sum() < 150_000
    more = pa.array([f"C{i:07d}" for i in rng.choice(2_000_000, 260_000, replace=False)], type=pa.large_string())
    assert engines._searched_positions(more, members) is None  # past a quarter: the join's


def test_positions_of_ids_in_sorted_runs_take_the_search(monkeypatch):
    """A customer-month table comes by month, then customer_id: each month a sorted run of ids. The
    search answers it (no join, no hash of the rows) with Arrow's positions; ids in short runs do not."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from segkit import engines

    rng = np.random.default_rng(5)
    members = pa.array([f"C{i:07d}" for i in range(0, 400_000, 2)], type=pa.large_string())
    months = [np.sort(rng.choice(400_000, 60_000, replace=False)) for _ in range(6)]
    values = pa.array([f"C{i:07d}" for run in months for i in run], type=pa.large_string())
    expected = np.asarray(pc.fill_null(pc.index_in(values, value_set=members), -1).to_numpy(zero_copy_only=False))
    monkeypatch.setattr(engines, "_joined_positions", lambda *a: pytest.fail("a join"))
    got = engines._positions_in(values, members)
    assert got.dtype == np.int64 and np.array_equal(got, expected) and 100_000 < (got >= 0).sum() < 360_000
    # runs of 1,000 ids on average: the search would jump about the members, a hash answers
    chunks = [chunk for run in months for chunk in np.split(run, 60)[::-1]]  # each sorted, in descending order
    short = pa.array([f"C{i:07d}" for chunk in chunks for i in chunk], type=pa.large_string())
    assert engines._searched_positions(short, members) is None


def test_lookup_of_a_few_flagged_customers_among_a_million():
    from segkit.engines import lookup

    n = 1_000_000
    ids = pd.Series([f"C{i:07d}" for i in range(n)], dtype="str")
    values = pd.Series(np.arange(n, dtype=float), index=pd.Index(ids.iloc[::-1].to_numpy(), dtype="str"))
    few = pd.Index(["C0000003", "nobody", "C0999999", "C0000003"], dtype="str")  # 4 <= n / 8: the ids hashed
    assert lookup(values, few, -1.0).tolist() == [n - 1 - 3.0, -1.0, 0.0, n - 1 - 3.0]
    expected = values.reindex(few[:3]).fillna(-1.0).to_numpy()
    assert np.array_equal(lookup(values, few[:3], -1.0), expected)


@given(rows=st.lists(st.tuples(st.integers(0, 4), st.sampled_from(["a", "b", "B", "é", "c1", "", "a ", "\U0001f600", "z"])),
                     max_size=40), missing=st.sampled_from([None, "id", "month"]))
def test_month_then_text_order_equals_pandas_sort(rows, missing):
    from segkit.engines import month_then_text_order

    frame = pd.DataFrame({"customer_id": pd.Series([c for _, c in rows], dtype="str"),
                          "month": pd.to_datetime([f"2024-{m + 1:02d}-01" for m, _ in rows]).astype("datetime64[ns]"),
                          "n": np.arange(len(rows))})
    if missing and len(rows):
        frame.loc[0, "customer_id" if missing == "id" else "month"] = None
    order = month_then_text_order(frame["month"].to_numpy(), frame["customer_id"])
    expected = frame.sort_values(["month", "customer_id"], kind="stable")
    if missing and len(rows):
        assert order is None  # pandas sorts it (missing values last)
    else:
        pd.testing.assert_frame_equal(frame.take(order), expected)


def test_customer_month_comes_sorted_by_month_then_customer(cdnow_tx):
    import datetime as dt

    from segkit.features import customer_month, customer_month_table

    got = customer_month(cdnow_tx, None, dt.date(1997, 12, 31))
    raw = cdnow_tx.con.execute(customer_month_table(cdnow_tx, None, dt.date(1997, 12, 31)))
    assert len(got) == len(raw) > 40_000
    pairs = list(zip(got["month"], got["customer_id"], strict=True))
    assert pairs == sorted(pairs)


def test_fetch_leaves_other_back_ends_to_ibis():
    import ibis

    from segkit.engines import fetch

    con = ibis.polars.connect()
    t = ibis.memtable({"x": [1.0, None]})
    pd.testing.assert_frame_equal(fetch(con, t), con.execute(t))


def test_by_customer_leaves_ordered_rows_and_sorts_others():
    from segkit.features import by_customer

    ordered = pd.DataFrame({"customer_id": pd.Series(["a", "b", "b", "é"], dtype="str"), "v": [1, 2, 3, 4]},
                           index=[5, 6, 7, 8])
    got = by_customer(ordered)
    assert got["v"].tolist() == [1, 2, 3, 4] and got.index.tolist() == [0, 1, 2, 3]
    shuffled = ordered.iloc[[3, 1, 0, 2]]
    pd.testing.assert_frame_equal(by_customer(shuffled),
                                  shuffled.sort_values("customer_id", kind="stable").reset_index(drop=True))
    missing = pd.DataFrame({"customer_id": pd.Series(["b", None, "a"], dtype="str"), "v": [1, 2, 3]})
    pd.testing.assert_frame_equal(by_customer(missing),
                                  missing.sort_values("customer_id", kind="stable").reset_index(drop=True))


# ====================================================================== group sums and stages on codes
_KEYS = st.lists(st.sampled_from(["a", "b", "B", "é", "a1", ""]), max_size=25)


@given(keys=_KEYS, data=st.data())
def test_ordered_sums_of_arrow_text_equal_those_of_python_text(keys, data):
    """Arrow text keys are factorized to integers first: the same sums, bit for bit, and the same index."""
    from segkit.engines import ordered_sums

    n = len(keys)
    order = data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    values = data.draw(st.lists(st.sampled_from([0.1, 1.8, -2.5, 1e16, 3.0, float("nan")]), min_size=n, max_size=n))
    fast = ordered_sums(pd.Series(keys, dtype="str"), order, values)
    plain = ordered_sums(np.array(keys, dtype=object), order, values)
    pd.testing.assert_series_equal(fast, plain, check_exact=True)


def _per_customer_by_text(monthly: pd.DataFrame, as_of) -> pd.DataFrame:
    """decisions.stages._per_customer grouped and looked up on the text ids (before the codes)."""
    from segkit.decisions.stages import COMPARE_MONTHS
    from segkit.engines import lookup, ordered_sums

    cut = pd.Timestamp(as_of)
    cut_m = pd.Timestamp(cut.year, cut.month, 1)
    month = pd.to_datetime(monthly["month"])
    m = monthly.loc[month <= cut_m].assign(customer_id=lambda d: d["customer_id"].astype(str))
    month = pd.to_datetime(m["month"])
    m = m.assign(_age=(cut_m.year - month.dt.year) * 12 + cut_m.month - month.dt.month)
    paid = m[m["purchases" if "purchases" in m else "revenue"] > 0]
    g = paid.groupby("customer_id")["_age"]
    out = pd.DataFrame({"first": g.max(), "last": g.min(), "active": g.nunique()})
    recent_span, before_span = m["_age"] < COMPARE_MONTHS, m["_age"].between(COMPARE_MONTHS, 2 * COMPARE_MONTHS - 1)
    for name, span in (("recent", recent_span), ("before", before_span)):
        rows = m[span]
        sums = lookup(ordered_sums(rows["customer_id"], -rows["_age"], rows["revenue"]), out.index, 0.0)
        out[name] = np.where(np.isnan(sums), 0.0, sums)
    out["recent_active"] = lookup(paid[paid["_age"] < COMPARE_MONTHS].groupby("customer_id")["_age"].nunique(),
                                  out.index, 0.0)
    out["before_active"] = lookup(paid[paid["_age"].between(COMPARE_MONTHS, 2 * COMPARE_MONTHS - 1)]
                                  .groupby("customer_id")["_age"].nunique(), out.index, 0.0)
    return out


def test_stage_inputs_on_codes_equal_those_on_text(cdnow_tx):
    import datetime as dt

    from segkit.decisions.stages import _per_customer
    from segkit.features import customer_month

    monthly = customer_month(cdnow_tx, None, dt.date(1998, 6, 30))
    for as_of in (dt.date(1997, 3, 31), dt.date(1997, 12, 31), dt.date(1998, 6, 30)):
        pd.testing.assert_frame_equal(_per_customer(monthly, as_of), _per_customer_by_text(monthly, as_of),
                                      check_exact=True)
    # a few customers, some only in one span, one with returns only, months out of order
    small = pd.DataFrame({"customer_id": ["b", "a", "b", "c", "a", "d"],
                          "month": pd.to_datetime(["2024-05-01", "2024-06-01", "2023-11-01", "2024-06-01",
                                                   "2023-10-01", "2024-01-01"]),
                          "revenue": [10.0, 0.1, 1.8, -5.0, -2.5, 4.0], "purchases": [1, 1, 2, 0, 0, 1]})
    got = _per_customer(small, dt.date(2024, 6, 30))
    pd.testing.assert_frame_equal(got, _per_customer_by_text(small, dt.date(2024, 6, 30)), check_exact=True)
    assert got.index.tolist() == ["a", "b", "d"] and got["recent_active"].dtype == np.float64


def test_kmeans_labels_are_the_cluster_names_as_categories(cdnow_tx):
    import datetime as dt

    from segkit.features import customer_features
    from segkit.schemes import KMeansSegmenter

    features = customer_features(cdnow_tx, dt.date(1997, 9, 30))
    km = KMeansSegmenter(k_range=(2, 4), random_state=0).fit_features(features)
    expected = pd.Series(np.asarray(km.segments_, dtype=object)[km.clusters_.to_numpy()], index=km.clusters_.index)
    assert km.labels_.tolist() == expected.tolist() and km.labels_.index.equals(expected.index)
    # categories of the names that occur, sorted as text (one byte per customer, not each one's text)
    assert km.labels_.dtype == "category" and len(set(km.segments_)) == km.k_
    assert km.labels_.cat.categories.tolist() == sorted(set(expected))


# ====================================================================== left joins on text ids
_ID = st.one_of(st.none(), st.sampled_from(["a", "b", "B", "é", "c1", ""]))


@given(left_ids=st.lists(_ID, max_size=12), right_ids=st.lists(st.sampled_from(["a", "b", "B", "é", "c1", "", "q"]),
                                                            unique=True, max_size=7),
       data=st.data())
def test_left_join_equals_pandas_merge(left_ids, right_ids, data):
    from segkit.engines import left_join

    n = len(right_ids)
    left = pd.DataFrame({"customer_id": pd.Series(left_ids, dtype="str"), "x": np.arange(len(left_ids))},
                        index=np.arange(len(left_ids)) * 2 + 1)
    text = data.draw(st.lists(st.one_of(st.none(), st.text("xyZ", max_size=2)), min_size=n, max_size=n))
    right = pd.DataFrame({
        "customer_id": pd.Series(right_ids, dtype="str"),
        "s": pd.Series(text, dtype="str"),
        "i": np.arange(n, dtype=np.int64) * 7,
        "f": np.linspace(0.5, 3.0, n),
        "b": np.arange(n) % 2 == 0,
        "o": pd.Series(text, dtype=object),
        "d": pd.to_datetime(["2024-01-31"] * n),
        "c": pd.Series(text, dtype="str").astype("category"),  # a scheme's labels: their codes taken
    })
    if data.draw(st.booleans()):
        right = right.sort_values("customer_id")
    pd.testing.assert_frame_equal(left_join(left, right), left.merge(right, on="customer_id", how="left"))


def test_left_join_of_the_same_ids_takes_no_lookup_and_other_cases_go_to_merge():
    from segkit.engines import left_join

    ids = pd.Series(["a", "b", "c"], dtype="str")
    left = pd.DataFrame({"customer_id": ids, "x": [1, 2, 3]})
    same = pd.DataFrame({"customer_id": ids.copy(), "y": [10, 20, 30]})
    got = left_join(left, same)
    assert got["y"].tolist() == [10, 20, 30] and got["y"].dtype == np.int64
    repeated = pd.DataFrame({"customer_id": pd.Series(["a", "a"], dtype="str"), "y": [1, 2]})
    pd.testing.assert_frame_equal(left_join(left, repeated), left.merge(repeated, on="customer_id", how="left"))
    assert len(left_join(left, repeated)) == 4  # a repeated id multiplies the row, as a merge does
    clash = pd.DataFrame({"customer_id": ids, "x": [0, 0, 0]})
    assert list(left_join(left, clash).columns) == ["customer_id", "x_x", "x_y"]
    nullable = pd.DataFrame({"customer_id": ids, "n": pd.array([1, None, 3], dtype="Int64")})
    pd.testing.assert_frame_equal(left_join(left, nullable), left.merge(nullable, on="customer_id", how="left"))


@given(ids=st.lists(_ID, max_size=10), same=st.booleans())
def test_isin_of_the_same_ids_equals_the_hashed_answer(ids, same):
    """Two columns of the same ids skip the hash (isin's one-pass comparison): the answer is pandas'."""
    from segkit.schemes._base import isin

    left = pd.Series(ids, dtype="str")
    members = left.copy() if same else pd.Series(list(reversed(ids)), dtype="str")
    expected = left.isin(members.dropna()).to_numpy() & left.notna().to_numpy()
    assert isin(left, members).tolist() == expected.tolist()


# ====================================================================== overrides
def _apply_overrides_by_merge(table: pd.DataFrame, overrides: pd.DataFrame) -> pd.DataFrame:
    out = table[["customer_id", "segment"]].rename(columns={"segment": "computed_tier"})
    ov = overrides.rename(columns={"tier": "override_tier", "reason": "override_reason"})
    out = out.merge(ov[["customer_id", "override_tier", "override_reason"]], on="customer_id", how="outer")
    out["prospect"] = out["computed_tier"].isna()
    out["tier"] = out["override_tier"].where(out["override_tier"].notna(), out["computed_tier"]).astype("str")
    # categories of that text: the tiers that occur, sorted as text (pandas' own Categorical of the text)
    out["tier"] = pd.Categorical(out["tier"].to_numpy(object))
    return out.sort_values("customer_id", kind="stable").reset_index(drop=True)


@pytest.mark.parametrize("ids", [["a", "b", "é"], ["b", "a"], []])
def test_no_overrides_give_the_outer_join_s_table_without_joining(ids):
    from segkit.schemes import apply_overrides

    table = pd.DataFrame({"customer_id": pd.Series(ids, dtype="str"),
                          "segment": pd.Series(["VIP", "GOOD", "REGULAR"][:len(ids)], dtype="str"),
                          "rank": np.arange(1, len(ids) + 1)}, index=np.arange(len(ids)) + 10)
    none = pd.DataFrame(columns=["customer_id", "tier", "reason"])
    got = apply_overrides(table, none)
    # (an empty table: the join made its ids Python objects; they stay text here)
    pd.testing.assert_frame_equal(got, _apply_overrides_by_merge(table, none), check_dtype=bool(ids),
                                  check_categorical=bool(ids))
    assert got["tier"].dtype == "category" and got["override_tier"].dtype == object and got["customer_id"].dtype == "str"
    assert got["tier"].array.codes.nbytes == len(got)  # one byte per customer
    some = pd.DataFrame({"customer_id": ["b", "zz"], "tier": ["VIP", "GOOD"], "reason": ["contract", "prospect"]})
    pd.testing.assert_frame_equal(apply_overrides(table, some), _apply_overrides_by_merge(table, some))


def test_margin_erosion_reads_the_window_rows_only():
    """Selecting the window's rows by year and month numbers first flags the same VIPs as formatting
    every row's month as text: mid-month dates, months outside the window and extra columns included."""
    from segkit.decisions.erosion import margin_erosion

    rng = np.random.default_rng(3)
    ids = [f"C{i:03d}" for i in range(60)]
    months = pd.date_range("2023-01-01", "2023-12-01", freq="MS")
    rows = [(c, m + pd.Timedelta(days=int(rng.integers(0, 3))), float(rng.integers(50, 500)))
            for c in ids for m in months if rng.random() < 0.8]
    monthly = pd.DataFrame(rows, columns=["customer_id", "month", "revenue"])
    monthly["margin"] = monthly["revenue"] * rng.uniform(0.05, 0.6, len(monthly))
    monthly["purchases"] = rng.integers(0, 3, len(monthly))
    monthly["units"] = 1.0  # a column erosion does not read
    window = [m.strftime("%Y-%m") for m in months[-6:]]
    tiers = pd.DataFrame([(c, w, "VIP" if int(c[1:]) % 3 else "GOOD") for c in ids for w in window],
                         columns=["customer_id", "month", "monthly_tier"])
    got = margin_erosion(monthly, tiers, window, threshold_pp=0.0)
    # the former expression: every month as text, then the window's rows (their months as month starts)
    text = pd.to_datetime(monthly["month"]).dt.strftime("%Y-%m")
    inside = monthly[text.isin(window)].assign(month=lambda d: pd.to_datetime(text[d.index] + "-01"))
    expected = margin_erosion(inside[["customer_id", "month", "revenue", "margin", "purchases"]], tiers, window,
                              threshold_pp=0.0)
    assert len(got) > 5
    pd.testing.assert_frame_equal(got, expected)


def test_margin_erosion_trend_is_each_customers_own_fit():
    """The grouped slopes equal a least-squares fit of each flagged customer's own months, found by
    scanning the rows for that customer (the former expression), revenue-less months left out,
    numeric ids."""
    from segkit.decisions.erosion import margin_erosion

    rng = np.random.default_rng(11)
    months = pd.date_range("2024-01-01", "2024-06-01", freq="MS")
    window = [m.strftime("%Y-%m") for m in months]
    rows = [(c, m, float(rng.integers(0, 400)), float(rng.uniform(0.6, 0.9) - 0.1 * k * (c % 2)))
            for c in range(200) for k, m in enumerate(months) if rng.random() < 0.85]
    monthly = pd.DataFrame(rows, columns=["customer_id", "month", "revenue", "rate"])
    monthly["margin"] = monthly["revenue"] * monthly["rate"]
    monthly["purchases"] = (monthly["revenue"] > 0).astype(int)
    tiers = pd.DataFrame({"customer_id": range(200), "month": window[0], "monthly_tier": "VIP"})
    got = margin_erosion(monthly, tiers, window, threshold_pp=-1000.0)
    assert len(got) > 150
    for c, trend in zip(got["customer_id"], got["trend_pp_per_month"]):
        own = monthly[(monthly["customer_id"].astype(str) == c) & (monthly["revenue"] > 0)]
        x = np.array([window.index(m.strftime("%Y-%m")) for m in own["month"]], float)
        assert trend == round(float(np.polyfit(x, own["margin"] / own["revenue"] * 100, 1)[0]), 6), c


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=200))
def test_adjusted_rand_equals_scikit_learn_to_the_last_bit(pairs):
    """The pair counts from one bincount give scikit-learn's adjusted Rand index exactly (the
    stability metric of every scheme): full agreement, one cluster, relabellings, any sizes."""
    from sklearn.metrics import adjusted_rand_score

    from segkit.evaluate import adjusted_rand

    a, b = (np.array(x) for x in zip(*pairs))
    got, expected = adjusted_rand(a, b), float(adjusted_rand_score(a, b))
    assert got == expected or (np.isnan(got) and np.isnan(expected))


def test_adjusted_rand_on_a_million_labels_and_many_labels():
    from sklearn.metrics import adjusted_rand_score

    from segkit.evaluate import adjusted_rand

    rng = np.random.default_rng(5)
    a = rng.integers(0, 9, 1_000_000)
    b = np.where(rng.random(len(a)) < 0.7, (a + 1) % 9, rng.integers(0, 5, len(a)))
    assert adjusted_rand(a, b) == float(adjusted_rand_score(a, b))
    many = rng.integers(0, 5000, 20_000)  # 5000 x 5000 pairs: scikit-learn's own path
    assert adjusted_rand(many, many[::-1].copy()) == float(adjusted_rand_score(many, many[::-1].copy()))


_KEYS = st.one_of(
    st.lists(st.integers(-5, 40), max_size=60).map(lambda v: np.array(v, dtype=np.int64)),
    st.lists(st.integers(-5, 40), max_size=60).map(lambda v: np.array(v, dtype=np.int32)),
    st.lists(st.sampled_from([0.0, -0.0, 1.0, 2.0, 7.0, -3.0, 0.5, np.inf, -np.inf, np.nan, 1e300, 2.0**53]),
             max_size=60).map(lambda v: np.array(v, dtype=float)),
    st.lists(st.integers(-(2**21), 2**21), max_size=40).map(lambda v: np.array(v, dtype=float)))


@settings(max_examples=400, deadline=None)
@given(_KEYS)
def test_levels_and_codes_equal_numpy_unique(keys):
    from segkit.evaluate import levels_and_codes

    expected_levels, expected_codes = np.unique(keys, return_inverse=True)
    levels, codes = levels_and_codes(keys)
    assert levels.dtype == expected_levels.dtype and codes.dtype == expected_codes.dtype
    np.testing.assert_array_equal(levels, expected_levels)
    assert np.signbit(levels).tolist() == np.signbit(expected_levels).tolist()  # -0.0 stays numpy's
    np.testing.assert_array_equal(codes, expected_codes)


def test_levels_and_codes_count_a_million_ranks_and_days():
    from segkit.evaluate import levels_and_codes

    rng = np.random.default_rng(3)
    for keys in (rng.integers(1, 12, 1_000_000).astype(float), rng.integers(0, 5000, 1_000_000).astype(float)):
        levels, codes = levels_and_codes(keys)
        expected_levels, expected_codes = np.unique(keys, return_inverse=True)
        np.testing.assert_array_equal(levels, expected_levels)
        np.testing.assert_array_equal(codes, expected_codes)


def test_levels_and_codes_hash_a_million_amounts_and_a_wide_span():
    """Amounts with cents and whole numbers too far apart to count go by hashing: numpy's arrays."""
    from segkit.evaluate import levels_and_codes

    rng = np.random.default_rng(4)
    amounts = np.where(rng.random(1_000_000) < 0.6, 0.0, np.round(rng.gamma(1.5, 40.0, 1_000_000), 2))
    wide = rng.integers(-(2**40), 2**40, 1_000_000)
    for keys in (amounts, wide, wide.astype(float), np.array([2.0**60, 1.5, 2.0**60, -7.25])):
        levels, codes = levels_and_codes(keys)
        expected_levels, expected_codes = np.unique(keys, return_inverse=True)
        assert levels.dtype == expected_levels.dtype and codes.dtype == expected_codes.dtype
        np.testing.assert_array_equal(levels, expected_levels)
        np.testing.assert_array_equal(codes, expected_codes)


def test_the_comparison_with_one_oracle_equals_one_oracle_per_ranking():
    """compare_rankings' point estimates (A* computed once) equal capture() of each order on its own."""
    from segkit.compare import capture, compare_rankings

    rng = np.random.default_rng(5)
    n = 2000
    ids = [f"c{i:05d}" for i in range(n)]
    outcome = np.where(rng.random(n) < 0.4, 0.0, rng.lognormal(3, 1, n).round(2))
    tables = {"a": pd.DataFrame({"customer_id": ids, "segment": "s", "rank": rng.integers(1, 5, n)}),
              "b": pd.DataFrame({"customer_id": ids, "segment": "s", "rank": rng.integers(1, 12, n)})}
    base = pd.DataFrame({"customer_id": ids, "recency": rng.integers(0, 400, n).astype(float),
                         "past_value": -rng.lognormal(3, 1, n).round(2)})
    out = compare_rankings(tables, pd.DataFrame({"customer_id": ids, "outcome": outcome}), 0.2, baselines=base,
                           n_boot=0)
    orders = {"a": tables["a"]["rank"].to_numpy(float), "b": tables["b"]["rank"].to_numpy(float),
              "recency": base["recency"].to_numpy(), "past_value": base["past_value"].to_numpy()}
    for name, order in orders.items():
        alone = capture(order, outcome, tuple(float(k) for k in out[name]["capture_at"]))
        assert alone["capture_at"] == out[name]["capture_at"] and alone["capture_auc"] == out[name]["capture_auc"]


# ====================================================================== labels as categories
@given(values=st.lists(st.one_of(st.none(), st.text("abéZ", max_size=3)), max_size=30), parts=st.integers(1, 3))
def test_text_categories_equal_pandas_categorical(values, parts):
    """The labels' categories and codes are pandas' own Categorical of the text (categories sorted as
    text, missing as -1), from one Arrow array or several chunks, and from categories in any order."""
    import pyarrow as pa

    from segkit.schemes._base import text_categories

    cut = np.array_split(np.arange(len(values)), parts)
    chunked = pa.chunked_array([pa.array([values[i] for i in c], type=pa.large_string()) for c in cut],
                               type=pa.large_string())
    expected = pd.Categorical(pd.Series(values, dtype="str"))
    for given_values in (pd.Series(values, dtype="str"), pd.Series(pd.array(chunked, dtype="str")), values,
                         pd.Series(pd.Categorical(values, categories=sorted({v for v in values if v is not None}, reverse=True)
                                                  + ["unused"]))):
        got = text_categories(given_values)
        assert got.categories.tolist() == expected.categories.tolist()
        assert got.codes.tolist() == expected.codes.tolist()
