"""The run's customer months computed once (``segkit.features.CustomerMonths``) serve the periods inside them.

A run reads the customer months of several overlapping periods (the calibration months, each earlier
cut-off's history and holdout, the holdouts after the cut-off). They come from one table in the
engine when the period holds whole months of it; the rows must equal the table computed from the
transactions for that period, on every period a run can ask for, and a period that cuts a month (a
mid-month cut-off) must still be computed from the transactions.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segkit import backtest, backtest_engine, features, pipeline
from segkit.config import CDNOW_PATH, PROJECT_ROOT, RunParams
from segkit.data import load_transactions
from segkit.engines import forget, materialize
from segkit.features import CustomerMonths, customer_features, customer_features_table, customer_month

B2B_PATH = PROJECT_ROOT / "data" / "synthetic" / "b2b.csv.gz"
B2B_COLUMNS = {k: k for k in ("customer_id", "date", "amount", "quantity", "cost", "order_id", "region")}
d = dt.date.fromisoformat


@pytest.fixture(scope="module")
def b2b_tx():
    return load_transactions(B2B_PATH, B2B_COLUMNS)


@pytest.mark.parametrize(("start", "end", "expected"), [
    ("1997-03-01", "1997-06-30", True),     # whole months inside
    ("1997-02-10", "1997-06-30", True),     # the table's own start (mid-month)
    ("1997-02-10", "1998-05-20", True),     # the table's own period
    ("1997-03-01", "1998-05-20", True),     # the table's own end (mid-month)
    ("1997-02-01", "1997-06-30", False),    # before the table's start
    ("1997-02-11", "1997-06-30", False),    # starts inside a month
    ("1997-03-02", "1997-06-30", False),
    ("1997-03-01", "1997-06-29", False),    # ends inside a month
    ("1997-03-01", "1998-05-31", False),    # after the table's end
    ("1997-03-01", "1998-04-30", True),
    ("1998-02-01", "1998-02-28", True),     # one whole month
])
def test_covers_whole_months_of_the_table_only(cdnow_tx, start, end, expected):
    months = CustomerMonths(cdnow_tx, None, d("1997-02-10"), d("1998-05-20"))  # covers() reads no table
    assert months.covers(d(start), d(end)) is expected


def test_covers_an_open_start_only_from_an_open_table(cdnow_tx):
    bounded = CustomerMonths(cdnow_tx, None, d("1997-01-01"), d("1998-06-30"))
    assert not bounded.covers(None, d("1997-12-31"))  # the data may start before the table
    opened = CustomerMonths(cdnow_tx, None, None, d("1998-06-30"))
    assert opened.covers(None, d("1997-12-31")) and opened.covers(d("1997-05-01"), d("1997-12-31"))
    assert not opened.covers(d("1997-05-02"), d("1997-12-31"))


@pytest.mark.parametrize(("start", "end"), [("1997-02-10", "1998-05-20"), (None, "1998-06-30"),
                                            ("1997-01-01", "1998-06-30")])
def test_every_period_gives_the_rows_of_the_transactions(cdnow_tx, start, end):
    """Covered periods (read from the table) and uncovered ones (computed again) alike."""
    months = CustomerMonths.compute(cdnow_tx, start and d(start), d(end))
    try:
        for a, b in [("1997-03-01", "1997-12-31"), (start, end), ("1997-02-10", "1997-06-30"),
                     ("1997-05-01", "1997-05-31"), ("1997-05-15", "1997-09-30"), ("1997-05-01", "1997-09-14"),
                     (None, "1997-12-31"), ("1998-01-01", "1998-05-20"), ("1998-01-01", "1998-06-30")]:
            a = a and d(a)
            got, expected = months.frame(a, d(b)), customer_month(cdnow_tx, a, d(b))
            assert len(expected) and got.equals(expected), (a, b)
    finally:
        months.drop()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.integers(0, 20), length=st.integers(0, 14), cut=st.sampled_from([0, 1, 14]))
def test_b2b_periods_equal_the_transactions(b2b_tx, first, length, cut):
    """Order ids (payments are distinct orders per month), returns, cost and quantity: any period
    inside the table, whole months or cut inside one, equals its own query."""
    table_start, table_end = d("2023-03-01"), d("2025-06-30")
    months = _months(b2b_tx, table_start, table_end)
    start = features.add_months(table_start, first) + dt.timedelta(days=cut)
    end = features.add_months(start, length + 1) - dt.timedelta(days=1 + cut)
    end = min(max(end, start), table_end)
    got, expected = months.frame(start, end), customer_month(b2b_tx, start, end)
    assert got.equals(expected), (start, end)


_B2B_MONTHS: dict = {}


def _months(tx, start, end) -> CustomerMonths:
    """One table for every example (dropped with the module's connection)."""
    if (start, end) not in _B2B_MONTHS:
        _B2B_MONTHS[(start, end)] = CustomerMonths.compute(tx, start, end)
    return _B2B_MONTHS[(start, end)]


def test_a_run_computes_its_customer_months_once(monkeypatch):
    """CDNOW with three cut-offs (the default): the calibration months, both earlier cut-offs'
    histories and holdouts and the run's holdouts are read from one table; a mid-month cut-off
    computes the periods that cut its month again, with the same results as before."""
    calls = []
    real = features.customer_month_table
    monkeypatch.setattr(features, "customer_month_table", lambda *a: calls.append(a[1:]) or real(*a))
    analysis = pipeline.analyze(RunParams(data=str(CDNOW_PATH), name="t", k_range=(2, 4)), n_boot=20)
    assert len(analysis.backtest["origins"]) == 2
    # from the first month the earliest cut-off's tiers (refitted a month earlier) look at, to the end of
    # the longest holdout
    assert calls == [(d("1996-06-01"), d("1998-06-30"))]
    calls.clear()
    pipeline.analyze(RunParams(data=str(CDNOW_PATH), name="t", k_range=(2, 4), as_of="1997-09-15"), n_boot=20)
    assert calls[0][1] == d("1997-09-15") and len(calls) > 1  # up to the cut-off only, the holdouts apart


def test_earlier_cut_offs_rank_the_same_from_the_shared_months(cdnow_tx, b2b_tx):
    """``ranked_in_engine`` reading the run's table gives the ranks and baseline keys it computes
    from the transactions, at both earlier cut-offs of CDNOW and the B2B data."""
    for tx, params in ((cdnow_tx, RunParams(data=str(CDNOW_PATH), name="t")),
                       (b2b_tx, RunParams(data=str(B2B_PATH), name="t", columns=B2B_COLUMNS, criterion="margin"))):
        split = pipeline._split(params, tx)
        splits, _ = backtest.origin_splits(split, tx.first_date, 3)
        months = CustomerMonths.compute(tx, backtest.history_start(splits), split.holdout_end)
        specs = backtest_engine.engine_schemes(tx)
        try:
            for s in splits[1:]:
                table = materialize(tx.con, customer_features_table(tx, s.as_of), lasting=False)
                f = customer_features(tx, s.as_of, table=table)
                shared = backtest_engine.ranked_in_engine(tx, s, params, specs, f, table, months)
                own = backtest_engine.ranked_in_engine(tx, s, params, specs, f, table)
                forget(tx.con, table)
                for name in own[0]:
                    assert shared[0][name].equals(own[0][name]), name
                assert shared[1].equals(own[1])
        finally:
            months.drop()


def test_the_month_earlier_stages_at_a_cut_off_inside_a_month_count_up_to_its_day(cdnow_tx):
    """Cut-off 1997-12-15: the stages one month earlier (1997-11-15) count November up to the 15th, as
    a customer-month table made at that day has it, not the whole November the run's table holds."""
    import pandas as pd

    from segkit.decisions.stages import per_customer_frames

    split = features.split_periods(cdnow_tx, as_of=dt.date(1997, 12, 15), holdout_months=6)
    main_start = min(split.previous_window_months[0], split.shifted(-1).previous_window_months[0])
    earlier = split.shifted(-1).as_of
    months = CustomerMonths.compute(cdnow_tx, main_start, split.as_of)
    try:
        _, counted = pipeline._months(months, split, main_start, main_start)
        whole = per_customer_frames(months.rows(main_start, split.as_of), [split.as_of, earlier],
                                    one_row_per_month=True)
    finally:
        months.drop()
    exact = per_customer_frames(features.customer_month_table(cdnow_tx, main_start, earlier), [earlier],
                                one_row_per_month=True)[0]
    pd.testing.assert_frame_equal(counted["earlier"], exact)
    pd.testing.assert_frame_equal(counted["now"], whole[0])
    assert not counted["earlier"].equals(whole[1])  # the whole November counted other months
