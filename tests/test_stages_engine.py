"""Relationship stages in the engine: ``stages_table`` gives what ``relationship_stages`` gives, and
so does ``stages_of(per_customer_frame(...))``, the way ``segkit segment`` counts them (each customer's
months counted in the engine, the rules in pandas: the same frame, types included).

Every row and value must equal the pandas stages: on hand-made frames whose customers sit exactly on
each rule's threshold, on spans whose revenue floating point sums differently in SQL and in pandas,
with a customer list holding customers without purchases, on generated frames, on DuckDB and
Polars; and (slow) on the bundled CDNOW file and the synthetic B2B data, on PostgreSQL 15 and on
local PySpark.
"""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from segkit import engines
from segkit.config import CDNOW_PATH
from segkit.data import load_transactions
from segkit.datasets import make_transactions
from segkit.decisions.stages import _per_customer, per_customer_frame, per_customer_frames, relationship_stages, stages_of, stages_table
from segkit.errors import ParameterError
from segkit.features import customer_features_table, customer_month, customer_month_table, split_periods

AS_OF = dt.date(2024, 6, 30)
COLUMNS = ["customer_id", "stage", "first", "last", "active", "usual_gap", "recent", "before"]


def frame(rows: list[tuple[str, int, float]]) -> pd.DataFrame:
    """customer x month rows ``(customer, months before June 2024, revenue)``; a purchase where revenue > 0."""
    month = [pd.Timestamp(2024, 6, 1) - pd.DateOffset(months=age) for _, age, _ in rows]
    df = pd.DataFrame({"customer_id": [c for c, _, _ in rows], "month": month,
                       "revenue": [float(v) for _, _, v in rows], "purchases": [int(v > 0) for _, _, v in rows]})
    return df.sort_values(["customer_id", "month"], kind="stable").reset_index(drop=True)


def fetched(table: ibis.Table) -> pd.DataFrame:
    out = table.to_pandas()[COLUMNS]
    return out.sort_values("customer_id", kind="stable").reset_index(drop=True)


def assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Same customers, stages and figures (the engine's integer counts may come back as floats)."""
    got = got.astype({"customer_id": str, "stage": str})
    want = want.astype({"customer_id": str, "stage": str})
    pd.testing.assert_frame_equal(got, want.reset_index(drop=True), check_dtype=False, check_exact=True)


def both(df: pd.DataFrame, customers: list[str] | None = None, as_of: dt.date = AS_OF,
         engine: str = "duckdb") -> pd.DataFrame:
    """The engine's stages of ``df`` on ``engine``, checked equal to the pandas stages; returned."""
    ids = pd.DataFrame({"customer_id": customers}) if customers is not None else None
    if engine == "duckdb":
        table, ids = ibis.memtable(df), (ibis.memtable(ids) if ids is not None else None)
    else:
        con = engines.connect(engine)
        table, ids = con.create_table("monthly", df), (con.create_table("ids", ids) if ids is not None else None)
    got = fetched(stages_table(table, as_of, ids))
    want = relationship_stages(df, as_of, customers=pd.Series(customers) if customers is not None else None)
    assert_same(got, want)
    for one_row in (True, False):  # the frames here hold one row per customer and month
        counted = per_customer_frame(table, as_of, one_row_per_month=one_row)
        pd.testing.assert_frame_equal(counted, _per_customer(df, as_of), check_exact=True)
        pd.testing.assert_frame_equal(stages_of(counted, pd.Series(customers) if customers is not None else None),
                                      want, check_exact=True)
    # several cut-offs in one query, as the run counts them (the later first, as the run passes them)
    cut_offs = [as_of, (pd.Timestamp(as_of) - pd.offsets.MonthEnd(1)).date(), dt.date(2024, 2, 14)]
    for cut, counted in zip(cut_offs, per_customer_frames(table, cut_offs, one_row_per_month=True), strict=True):
        pd.testing.assert_frame_equal(counted, _per_customer(df, cut), check_exact=True)
    return got


def stage_of(got: pd.DataFrame) -> dict[str, str]:
    return dict(zip(got["customer_id"], got["stage"]))


# ------------------------------------------------------------------ the rules, on their thresholds
THRESHOLDS = [
    ("new2", 2, 5.0),                                      # one month, 2 months ago: exploration
    ("new3", 3, 5.0),                                      # one month, 3 months ago: dissolution
    ("quiet_on", 4, 5.0), ("quiet_on", 3, 5.0),            # gap 1, silent 3 = max(3, 3x1): dissolution
    ("quiet_off", 3, 5.0), ("quiet_off", 2, 5.0),          # gap 1, silent 2: not quiet (awareness)
    ("gap_on", 12, 5.0), ("gap_on", 8, 5.0), ("gap_on", 4, 5.0),   # gap 4, silent 4 < 12: awareness
    ("gap_quiet", 9, 5.0), ("gap_quiet", 6, 5.0),          # gap 3, silent 6 < 9: awareness
    ("decline_on", 4, 4.5), ("decline_on", 3, 4.5), ("decline_on", 1, 1.0), ("decline_on", 0, 2.0),  # 3 = 9 / 3
    ("decline_off", 4, 4.5), ("decline_off", 3, 4.5), ("decline_off", 1, 1.0), ("decline_off", 0, 2.01),
    ("gap3", 3, 9.0), ("gap3", 0, 1.0),                    # gap 3: spans not comparable, no decline
    ("grow_on", 4, 2.0), ("grow_on", 3, 2.0), ("grow_on", 1, 3.0), ("grow_on", 0, 2.0),  # 5 = 1.25 x 4
    ("grow_off", 4, 2.0), ("grow_off", 3, 2.0), ("grow_off", 1, 2.0), ("grow_off", 0, 2.99),
    ("commit_on", 5, 1.0), ("commit_on", 4, 1.0), ("commit_on", 2, 1.0), ("commit_on", 1, 1.0),  # tenure 6, 4 months
    ("commit_short", 4, 1.0), ("commit_short", 3, 1.0), ("commit_short", 2, 1.0), ("commit_short", 1, 1.0),
    ("more_often", 4, 5.0), ("more_often", 1, 1.0), ("more_often", 0, 1.0),  # 2 recent months vs 1 before
    ("returns", 1, -4.0),                                  # returns only: no purchase month, not listed
]


@pytest.mark.parametrize("engine", ["duckdb", "polars"])
def test_customers_on_each_threshold(engine):
    got = both(frame(THRESHOLDS), engine=engine)
    assert stage_of(got) == {
        "new2": "exploration", "new3": "dissolution", "quiet_on": "dissolution", "quiet_off": "awareness",
        "gap_on": "awareness", "gap_quiet": "awareness", "decline_on": "dissolution",
        "decline_off": "awareness", "gap3": "awareness", "grow_on": "expansion", "grow_off": "awareness",
        "commit_on": "commitment", "commit_short": "awareness", "more_often": "expansion"}
    row = got.set_index("customer_id").loc["gap_on"]
    assert (row["first"], row["last"], row["active"], row["usual_gap"]) == (12, 4, 3, 4.0)


def test_spans_are_summed_with_compensation():
    """0.1 + 0.2 + 0.3 is 0.6 in the compensated sum and 0.6000000000000001 in a plain sum: exactly
    on the decline threshold (1.8 / 3 = 0.6) that decides between dissolution and expansion."""
    df = frame([("k", 3, 1.8), ("k", 2, 0.1), ("k", 1, 0.2), ("k", 0, 0.3)])
    got = both(df)
    assert got["recent"].tolist() == [0.6] and got["stage"].tolist() == ["dissolution"]
    assert 0.1 + 0.2 + 0.3 > (1 / 3) * 1.8  # a plain sum would have missed the decline


def test_span_sums_do_not_depend_on_the_row_order():
    """0.1 + 1.8 - 2.5 oldest month first, by Kahan's steps: -0.5999999999999999 on both sides, with
    the rows sorted or reversed (pandas 3.1's own group sum gave -0.6 for the sorted rows only)."""
    df = frame([("k", 5, -2.5), ("k", 2, 0.1), ("k", 1, 1.8), ("k", 0, -2.5)])
    for rows in (df, df.iloc[::-1].reset_index(drop=True)):
        got = both(rows)
        assert got["recent"].tolist() == [-0.5999999999999999] and got["before"].tolist() == [-2.5]
        assert relationship_stages(rows, AS_OF)["recent"].tolist() == [-0.5999999999999999]


def test_usual_gap_is_rounded_as_numpy_rounds():
    df = frame([("k", 7, 1.0), ("k", 6, 1.0), ("k", 0, 1.0)])   # gap 7 / 2 = 3.5; one of 3 months: 2.333333
    assert both(df)["usual_gap"].tolist() == [3.5]
    got = both(frame([("k", 7, 1.0), ("k", 6, 1.0), ("k", 5, 1.0), ("k", 0, 1.0)]))
    assert got["usual_gap"].tolist() == [2.333333]


def test_customer_list_decides_the_rows():
    df = frame([("a", 0, 5.0), ("b", 2, 5.0), ("r", 1, -4.0)])
    got = both(df, customers=["a", "r", "zz", "a"])  # r: returns only; zz: never seen
    assert got["customer_id"].tolist() == ["a", "r", "zz"]
    assert got["stage"].tolist() == ["exploration", "dissolution", "dissolution"]
    assert got.loc[1:, ["first", "last", "active", "recent", "before"]].isna().all().all()


def test_months_after_the_cut_off_are_ignored():
    df = frame([("a", 0, 5.0), ("a", -1, 5.0), ("b", -2, 5.0)])  # July and August 2024
    got = both(df)
    assert got["customer_id"].tolist() == ["a"] and got["active"].tolist() == [1]


def test_without_a_purchases_column_revenue_marks_the_months():
    df = frame([("a", 5, 5.0), ("a", 4, 0.0), ("a", 0, 5.0)]).drop(columns="purchases")
    got = both(df)
    assert got["active"].tolist() == [2] and got["first"].tolist() == [5]


def test_a_cut_off_in_mid_month_counts_that_month():
    df = frame([("a", 0, 5.0), ("a", 1, 5.0)])
    got = both(df, as_of=dt.date(2024, 6, 3))
    assert got["last"].tolist() == [0]


def test_a_month_listed_twice_counts_once_unless_the_table_is_said_to_have_one_row_per_month():
    """A hand-made table may list a customer's month twice: counted as distinct months, as in pandas.
    The run's own customer-month table has one row per month and says so (``one_row_per_month``)."""
    df = frame([("a", 4, 1.0), ("a", 1, 2.0), ("a", 1, 3.0), ("a", 0, 1.0)])
    table = ibis.memtable(df)
    counted = per_customer_frame(table, AS_OF)
    pd.testing.assert_frame_equal(counted, _per_customer(df, AS_OF), check_exact=True)
    assert counted[["active", "recent_active"]].to_numpy().tolist() == [[3, 2]]
    assert counted["recent"].tolist() == [6.0]  # both rows of the month are added
    rows = per_customer_frame(table, AS_OF, one_row_per_month=True)
    assert rows[["active", "recent_active"]].to_numpy().tolist() == [[4, 3]]  # what the flag promises away


def test_customers_without_a_month_in_a_span_get_zero_and_float_counts():
    """As in pandas: 0.0 for a span without a month (not NaN), and the span's month counts as floats
    once a customer has none there."""
    df = frame([("a", 4, 1.0), ("b", 0, 2.0)])
    counted = per_customer_frame(ibis.memtable(df), AS_OF, one_row_per_month=True)
    assert counted[["recent", "before"]].to_numpy().tolist() == [[0.0, 1.0], [2.0, 0.0]]
    assert counted["recent_active"].dtype == np.float64
    pd.testing.assert_frame_equal(counted, _per_customer(df, AS_OF), check_exact=True)


@settings(max_examples=80, deadline=None)
@given(rows=st.lists(st.lists(st.one_of(st.none(), st.sampled_from([-2.5, 0.1, 0.2, 0.3, 1.0, 1.8, 1e16, -1e16, 7.25])),
                              min_size=4, max_size=4), min_size=1, max_size=8))
@example(rows=[[1e16, 1.0, None, 1.0]])  # a compensation carried over a missing month: 1.0000000000000002e16
def test_kahan_rows_add_as_the_ordered_sums(rows):
    """Each row's values left to right with Kahan's steps, NaN skipped: :func:`ordered_sums` of the
    row's values in column order, row by row (an independent implementation of the same steps)."""
    columns = [np.array([np.nan if r[j] is None else r[j] for r in rows], dtype=float) for j in range(4)]
    got = engines.kahan_rows(columns)
    keys = np.repeat(np.arange(len(rows)), 4)
    order = np.tile(np.arange(4), len(rows))
    values = np.array([np.nan if v is None else v for r in rows for v in r], dtype=float)
    want = engines.ordered_sums(keys, order, values)
    assert got.tolist() == want.reindex(range(len(rows))).fillna(0.0).tolist()


def test_customer_table_without_ids_is_refused():
    with pytest.raises(ParameterError, match="lacks 'customer_id'") as err:
        stages_table(ibis.memtable(frame([("a", 0, 1.0)])), AS_OF, ibis.memtable({"id": ["a"]}))
    assert err.value.where == "stages_table"


# ------------------------------------------------------------------ generated frames
@st.composite
def monthly_frames(draw):
    """1..12 customers over 10 months before the cut-off and one after; values from a handful
    (zeros, returns, spans that sum differently in floating point)."""
    values = st.sampled_from([-2.5, 0.0, 0.1, 0.2, 0.3, 0.6, 1.0, 1.8, 3.0, 7.25])
    rows = [(f"k{c}", age, draw(values)) for c in range(draw(st.integers(1, 12)))
            for age in range(-1, 10) if draw(st.integers(0, 2)) == 0]
    return frame(rows) if rows else frame([("k0", 0, 1.0)])


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=monthly_frames())
@example(df=frame([("k5", 5, -2.5), ("k5", 2, 0.1), ("k5", 1, 1.8), ("k5", 0, -2.5), ("k6", 8, -2.5)]))
def test_engine_equals_pandas_on_generated_frames(df):
    both(df)
    both(df, customers=["k0", "k3", "k11", "none"])


# ------------------------------------------------------------------ real data
@pytest.fixture(scope="module")
def b2b_tx():
    frame_, _ = make_transactions(n_customers=400, months=24, seed=11)
    return load_transactions(frame_)


@pytest.mark.slow
@pytest.mark.parametrize("months_back", [None, 6])
def test_real_books_give_the_pandas_stages(cdnow_tx, b2b_tx, months_back):
    """CDNOW (23,502 customers) and the B2B generator at their cut-offs, from the first month or the
    last six, with and without the customer list of the features."""
    for tx in (cdnow_tx, b2b_tx):
        as_of = split_periods(tx, holdout_months=6).as_of
        start = None if months_back is None else (pd.Timestamp(as_of) - pd.DateOffset(months=months_back)).date()
        table = customer_month_table(tx, start, as_of)
        monthly = customer_month(tx, start, as_of)
        assert_same(fetched(stages_table(table, as_of)), relationship_stages(monthly, as_of))
        customers = customer_features_table(tx, as_of)
        ids = customers.select("customer_id").to_pandas()["customer_id"]
        assert_same(fetched(stages_table(table, as_of, customers)), relationship_stages(monthly, as_of, ids))
        counted = per_customer_frame(table, as_of, one_row_per_month=True)
        pd.testing.assert_frame_equal(counted, _per_customer(monthly, as_of), check_exact=True)
        pd.testing.assert_frame_equal(stages_of(counted, ids), relationship_stages(monthly, as_of, ids),
                                      check_exact=True)


@pytest.mark.slow
@pytest.mark.xdist_group("postgres")
def test_postgres_stages_equal_pandas(cdnow_postgres, cdnow_tx):
    """CDNOW as a PostgreSQL table (numeric amounts): the stages of every customer as in pandas."""
    tx = cdnow_postgres()
    as_of = split_periods(cdnow_tx, holdout_months=6).as_of
    try:
        got = fetched(stages_table(customer_month_table(tx, None, as_of), as_of, customer_features_table(tx, as_of)))
    finally:
        tx.close()
    ids = customer_features_table(cdnow_tx, as_of).select("customer_id").to_pandas()["customer_id"]
    assert_same(got, relationship_stages(customer_month(cdnow_tx, None, as_of), as_of, ids))


@pytest.mark.spark
@pytest.mark.slow
def test_pyspark_stages_equal_pandas(cdnow_tx):
    pytest.importorskip("pyspark", reason="PySpark is in the dev extra: pip install -e '.[dev]'")
    as_of = split_periods(cdnow_tx, holdout_months=6).as_of
    tx = load_transactions(CDNOW_PATH, engine="pyspark")
    got = fetched(stages_table(customer_month_table(tx, None, as_of), as_of))
    assert_same(got, relationship_stages(customer_month(cdnow_tx, None, as_of), as_of))
