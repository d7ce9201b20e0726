"""Percentile tiers in the engine: ``customer_month_table`` + ``PercentileTiers.tiers_table`` give what
``fit_monthly`` gives.

The expressions must equal ``fit_monthly`` on ``customer_month`` for every customer, month and alert:
on the bundled CDNOW file and on the synthetic B2B generator's data at cut-offs, for every criterion
and the variants; on hand-made frames with ties across the cuts, shares whose floating-point
product lands on a whole number (20% of 15) and window totals that floating point sums differently
in SQL and in pandas; on generated frames; on DuckDB always and on a throw-away PostgreSQL server
where one can start (skipped with the reason otherwise).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import ibis
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segkit.config import CDNOW_PATH
from segkit.data import load_transactions
from segkit.datasets import make_transactions
from segkit.errors import ParameterError
from segkit.features import (available_criteria, customer_features, customer_features_table, customer_month,
                             customer_month_table, split_periods)
from segkit.schemes import PercentileTiers
from segkit.schemes.tiers import TierTables

# The tests that load CDNOW or the B2B data, the property test on generated frames and PostgreSQL are
# marked slow (each takes seconds, more than a mutant's time budget; ``make test`` runs them); the
# hand-made frames below take a fraction of a second each and run in the mutation run too.

ALERT_COLUMNS = ["customer_id", "last_vip_month", "last_payment", "value_at_risk"]


def fetched(tables: TierTables) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame]:
    """The three expressions fetched to pandas, in ``fit_monthly``'s order and types."""
    labels = tables.labels.to_pandas().sort_values("customer_id", kind="stable")
    labels = pd.Series(labels["percentile_tier"].astype(str).to_numpy(), index=labels["customer_id"].astype(str))
    monthly = tables.monthly.to_pandas().astype({"customer_id": str, "month": str, "value": "float64",
                                                 "monthly_tier": str})
    monthly = monthly.sort_values(["month", "customer_id"], kind="stable").reset_index(drop=True)
    alerts = tables.alerts.to_pandas()[ALERT_COLUMNS].astype({"customer_id": str, "last_vip_month": str,
                                                             "value_at_risk": "float64"})
    alerts = alerts.sort_values(["value_at_risk", "customer_id"], ascending=[False, True],
                                kind="stable").reset_index(drop=True)
    return labels, monthly, alerts


def assert_same(tables: TierTables, fit: PercentileTiers) -> None:
    """Every label, monthly tier and alert of the engine equals ``fit``'s, exactly."""
    labels, monthly, alerts = fetched(tables)
    expected = fit.labels_
    assert labels.index.tolist() == expected.index.astype(str).tolist()
    assert labels.tolist() == expected.tolist()
    mt = fit.monthly_tiers_.astype({"customer_id": str, "month": str, "value": "float64", "monthly_tier": str})
    pd.testing.assert_frame_equal(monthly, mt, check_exact=True, check_dtype=False)
    exp_alerts = fit.alerts_[ALERT_COLUMNS].astype({"customer_id": str, "last_vip_month": str,
                                                    "value_at_risk": "float64"}).reset_index(drop=True)
    assert alerts["customer_id"].tolist() == exp_alerts["customer_id"].tolist()
    for col in ("last_vip_month", "last_payment", "value_at_risk"):
        assert alerts[col].tolist() == exp_alerts[col].tolist(), col


def both(tiers: PercentileTiers, monthly: pd.DataFrame, customers: pd.DataFrame | None, as_of: dt.date,
         monthly_table: ibis.Table | None = None, customer_table: ibis.Table | None = None) -> None:
    """``tiers_table`` on the tables (memtables of the frames unless given) equals ``fit_monthly`` on the frames."""
    fit = dataclasses.replace(tiers).fit_monthly(monthly, customers=customers, as_of=as_of)
    if monthly_table is None:
        monthly_table = ibis.memtable(monthly)
    if customer_table is None and customers is not None:
        customer_table = ibis.memtable(customers)
    assert_same(tiers.tiers_table(monthly_table, customer_table, as_of=as_of), fit)


# ------------------------------------------------------------------ the customer x month table
@pytest.fixture(scope="module")
def b2b_tx():
    frame, _ = make_transactions(n_customers=500, months=24, seed=7)
    return load_transactions(frame)


@pytest.mark.slow
def test_customer_month_is_the_table_fetched(cdnow_tx):
    """Same rows, values and types as the expression, which is built without running anything."""
    table = customer_month_table(cdnow_tx, None, dt.date(1997, 12, 31))
    assert dict(table.schema()) == {"customer_id": ibis.dtype("string"), "month": ibis.dtype("date"),
                                    "revenue": ibis.dtype("float64"), "payments": ibis.dtype("int64"),
                                    "units": ibis.dtype("float64"), "margin": ibis.dtype("float64"),
                                    "purchases": ibis.dtype("int64")}
    frame = customer_month(cdnow_tx, None, dt.date(1997, 12, 31))
    got = table.to_pandas().sort_values(["month", "customer_id"], kind="stable").reset_index(drop=True)
    assert len(frame) == 45_727 == len(got)
    assert got["customer_id"].tolist() == frame["customer_id"].tolist()
    assert pd.to_datetime(got["month"]).tolist() == frame["month"].tolist()
    for col in ("revenue", "payments", "units", "margin", "purchases"):
        assert got[col].tolist() == frame[col].tolist(), col


# ------------------------------------------------------------------ the bundled and generated data
@pytest.mark.slow
@pytest.mark.parametrize("variant", ["monthly_union", "period_total", "abc"])
def test_cdnow_tiers_equal_fit_monthly(cdnow_tx, variant):
    split = split_periods(cdnow_tx, holdout_months=6)
    tiers = PercentileTiers(criterion="revenue", variant=variant)
    start = split.previous_window_months[0]
    fit = tiers.fit_monthly(customer_month(cdnow_tx, start, split.as_of),
                            customers=customer_features(cdnow_tx, split.as_of), as_of=split.as_of)
    tables = PercentileTiers(criterion="revenue", variant=variant).tiers_table(
        customer_month_table(cdnow_tx, start, split.as_of), customer_features_table(cdnow_tx, split.as_of),
        as_of=split.as_of)
    assert_same(tables, fit)
    labels = fit.labels_.value_counts().to_dict()
    assert sum(labels.values()) == 23_502  # every customer who bought by as_of
    if variant == "monthly_union":
        assert labels["VIP"] > 0 and labels["INACTIVE"] > 0 and len(fit.alerts_) > 0


@pytest.mark.slow
def test_cdnow_without_customers_labels_everyone_seen(cdnow_tx):
    """Without ``customers``, every customer of the monthly table up to as_of is labelled; the alerts'
    last payment is then the last month paid in."""
    as_of = dt.date(1997, 9, 30)
    monthly = customer_month(cdnow_tx, None, as_of)
    tiers = PercentileTiers(criterion="units", window_months=3, dropout_months=1)
    both(tiers, monthly, None, as_of, monthly_table=customer_month_table(cdnow_tx, None, as_of))
    assert len(tiers.fit_monthly(monthly, as_of=as_of).alerts_["last_payment"].iloc[0]) == 7  # YYYY-MM


@pytest.mark.slow
@pytest.mark.parametrize("criterion", ["revenue", "payments", "units", "margin"])
def test_b2b_tiers_equal_fit_monthly_for_every_criterion(b2b_tx, criterion):
    """The generator's data has returns, order ids, quantities and cost: every criterion, two cut-offs,
    the three variants; customers seen with returns only are left out as in ``fit_monthly``."""
    assert criterion in available_criteria(b2b_tx.has)
    for months in (6, 9):
        split = split_periods(b2b_tx, holdout_months=months)
        monthly = customer_month(b2b_tx, None, split.as_of)
        table = customer_month_table(b2b_tx, None, split.as_of)
        features = customer_features(b2b_tx, split.as_of)
        for variant in ("monthly_union", "period_total", "abc"):
            tiers = PercentileTiers(criterion=criterion, variant=variant, window_months=4, dropout_months=2)
            both(tiers, monthly, features, split.as_of, monthly_table=table,
                 customer_table=customer_features_table(b2b_tx, split.as_of))


# ------------------------------------------------------------------ hand-made cases
def frame(rows: list[tuple[str, str, float]], purchases: bool = True) -> pd.DataFrame:
    """rows: (customer, 'YYYY-MM', value) -> a customer x month table (revenue, purchases)."""
    df = pd.DataFrame(rows, columns=["customer_id", "month", "revenue"])
    df["month"] = pd.to_datetime(df["month"] + "-01")
    if purchases:
        df["purchases"] = (df["revenue"] > 0).astype("int64")
    return df.sort_values(["month", "customer_id"], kind="stable").reset_index(drop=True)


def engine_labels(tiers: PercentileTiers, df: pd.DataFrame, as_of: str) -> dict[str, str]:
    labels, _, _ = fetched(tiers.tiers_table(ibis.memtable(df), as_of=as_of))
    return labels.to_dict()


def engine_monthly(tiers: PercentileTiers, df: pd.DataFrame, as_of: str) -> dict[str, str]:
    _, monthly, _ = fetched(tiers.tiers_table(ibis.memtable(df), as_of=as_of))
    return dict(zip(monthly["customer_id"], monthly["monthly_tier"]))


def test_twenty_percent_of_fifteen_is_three():
    """ceil(0.2 * 15) in floating point is 4; the engine's integer rule gives 3 VIP, then ceil(0.2 * 12) = 3 GOOD."""
    df = frame([(f"c{i:02d}", "2024-06", float(100 - i)) for i in range(15)])
    tiers = PercentileTiers(window_months=1, dropout_months=1)
    got = engine_monthly(tiers, df, "2024-06-30")
    assert [got[f"c{i:02d}"] for i in range(15)] == ["VIP"] * 3 + ["GOOD"] * 3 + ["REGULAR"] * 9
    both(tiers, df, None, dt.date(2024, 6, 30))


@pytest.mark.parametrize("share,n,vip", [(0.2, 16, 4), (0.1, 30, 3), (0.3, 10, 3), (0.3, 11, 4), (0.05, 1, 1),
                                         (0.1 + 0.2, 10, 3)])
def test_shares_whose_floats_mislead(share, n, vip):
    """The share is the decimal it was written as: 0.1 + 0.2 (0.30000000000000004) of 10 is 3, not
    ceil(3.0000000000000004) = 4."""
    df = frame([(f"c{i:02d}", "2024-06", float(1000 - i)) for i in range(n)])
    tiers = PercentileTiers(window_months=1, dropout_months=1, vip_share=share)
    assert list(engine_monthly(tiers, df, "2024-06-30").values()).count("VIP") == vip
    both(tiers, df, None, dt.date(2024, 6, 30))


def test_ties_across_the_cuts_break_by_customer_id():
    """Ten customers: b and a tie at the VIP/GOOD cut (2 VIP of 10: the higher, then a); e, d and f tie at
    the GOOD/REGULAR cut (2 GOOD of 8: d, e; f is REGULAR). Rows arrive in no id order."""
    df = frame([("z", "2024-06", 90.0), ("b", "2024-06", 50.0), ("a", "2024-06", 50.0), ("c", "2024-06", 30.0),
                ("f", "2024-06", 20.0), ("e", "2024-06", 20.0), ("d", "2024-06", 20.0), ("g", "2024-06", 5.0),
                ("h", "2024-06", 4.0), ("i", "2024-06", 3.0)])
    tiers = PercentileTiers(window_months=1, dropout_months=1)
    got = engine_monthly(tiers, df, "2024-06-30")
    assert {k for k, v in got.items() if v == "VIP"} == {"z", "a"}
    assert {k for k, v in got.items() if v == "GOOD"} == {"b", "c"}
    assert got["d"] == got["e"] == got["f"] == "REGULAR"
    both(tiers, df, None, dt.date(2024, 6, 30))
    ties = frame([(c, "2024-06", 7.0) for c in "edcbaihgfj"])  # all equal: ids alone decide
    got = engine_monthly(tiers, ties, "2024-06-30")
    assert [got[c] for c in "abcdefghij"] == ["VIP", "VIP", "GOOD", "GOOD"] + ["REGULAR"] * 6
    both(tiers, ties, None, dt.date(2024, 6, 30))


def test_window_tier_rules():
    """VIP in a window month wins; a former VIP (previous window) is GOOD; paid in the window REGULAR;
    a customer with a return only in the window (value < 0, no purchase) INACTIVE, as is one seen earlier."""
    rows = [("former", "2024-01", 1000.0), ("vip_once", "2024-05", 900.0), ("returned", "2024-05", -40.0),
            ("gone", "2024-01", 0.5), *[(f"s{i}", m, 1.0) for i in range(8) for m in ("2024-01", "2024-04")]]
    df = frame(rows)
    tiers = PercentileTiers(window_months=3, dropout_months=1)
    labels = engine_labels(tiers, df, "2024-06-30")
    assert labels == {"former": "GOOD", "vip_once": "VIP", "returned": "INACTIVE", "gone": "INACTIVE",
                      **{f"s{i}": ("VIP" if i < 2 else "GOOD" if i < 4 else "REGULAR") for i in range(8)}}
    both(tiers, df, None, dt.date(2024, 6, 30))


def test_customers_limit_who_is_ranked_and_labelled():
    """Only the given customers are ranked (x, seen with returns only, holds no monthly tier and does not
    take a VIP place) and labelled (y, given but without rows, is INACTIVE); last_purchase fills the alert."""
    df = frame([("x", "2024-05", 500.0), ("a", "2024-05", 100.0), ("b", "2024-05", 50.0), ("c", "2024-05", 10.0),
                ("d", "2024-05", 5.0), ("b", "2024-06", 50.0)])
    customers = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "y"],
                              "last_purchase": pd.to_datetime(["2024-05-20", "2024-06-03", "2024-05-02",
                                                               "2024-05-09", "2023-01-05"])})
    tiers = PercentileTiers(window_months=2, dropout_months=1)
    tables = tiers.tiers_table(ibis.memtable(df), ibis.memtable(customers), as_of="2024-06-30")
    labels, monthly, alerts = fetched(tables)
    # May ranks a, b, c, d: 1 VIP (a; x would have taken it), 1 GOOD of 3 (b); b is June's only payer: VIP
    assert labels.to_dict() == {"a": "VIP", "b": "VIP", "c": "REGULAR", "d": "REGULAR", "y": "INACTIVE"}
    assert "x" not in set(monthly["customer_id"])
    assert alerts.to_numpy().tolist() == [["a", "2024-05", "2024-05-20", 100.0]]
    both(tiers, df, customers, dt.date(2024, 6, 30))


def test_window_totals_are_summed_as_pandas_sums_them():
    """q pays 0.1, 0.2, 0.3 in three months, p pays 0.6 once: pandas' compensated group sum makes both 0.6,
    so the tie breaks by id and p is the one VIP of 2 (q GOOD); SQL's plain SUM would give q
    0.6000000000000001 and the VIP place, for a reason that is not in the rule."""
    df = frame([("p", "2024-04", 0.6), ("q", "2024-04", 0.1), ("q", "2024-05", 0.2), ("q", "2024-06", 0.3)])
    assert 0.1 + 0.2 + 0.3 > 0.6
    total = PercentileTiers(window_months=3, dropout_months=1, variant="period_total")
    fit = total.fit_monthly(df, as_of=dt.date(2024, 6, 30))
    assert fit.window_totals_.to_dict() == {"p": 0.6, "q": 0.6}
    assert engine_labels(total, df, "2024-06-30") == {"p": "VIP", "q": "GOOD"}
    both(total, df, None, dt.date(2024, 6, 30))


def test_period_total_and_abc():
    rows = [("spike", "2024-04", 150.0), ("returns", "2024-04", -20.0),
            *[(f"r{i}", m, 60.0 + i) for i in range(4) for m in ("2024-04", "2024-05", "2024-06")]]
    df = frame(rows)
    total = PercentileTiers(window_months=3, variant="period_total")
    assert engine_labels(total, df, "2024-06-30") == {"r3": "VIP", "r2": "GOOD", "r1": "REGULAR", "r0": "REGULAR",
                                                      "spike": "REGULAR", "returns": "INACTIVE"}
    both(total, df, None, dt.date(2024, 6, 30))
    abc = PercentileTiers(window_months=1, dropout_months=1, variant="abc")
    three = frame([("a", "2024-06", 80.0), ("b", "2024-06", 15.0), ("c", "2024-06", 5.0)])
    assert engine_labels(abc, three, "2024-06-30") == {"a": "VIP", "b": "GOOD", "c": "REGULAR"}
    both(abc, three, None, dt.date(2024, 6, 30))
    both(PercentileTiers(window_months=3, variant="abc"), df, None, dt.date(2024, 6, 30))


def test_dropout_alerts_without_a_purchases_column():
    """Without ``purchases`` a month counts as paid when its value is > 0; the alert then names the last such month."""
    rows = [("big", "2024-04", 500.0), ("big", "2024-05", 400.0), ("late", "2024-04", 450.0),
            ("late", "2024-06", 10.0), *[(f"s{i}", m, 5.0) for i in range(8) for m in ("2024-04", "2024-05", "2024-06")]]
    df = frame(rows, purchases=False)
    tiers = PercentileTiers(window_months=3, dropout_months=1)
    _, _, alerts = fetched(tiers.tiers_table(ibis.memtable(df), as_of="2024-06-30"))
    assert alerts.to_numpy().tolist() == [["big", "2024-05", "2024-05", 900.0]]
    both(tiers, df, None, dt.date(2024, 6, 30))


# ------------------------------------------------------------------ generated frames
@st.composite
def monthly_frames(draw):
    """1..25 customers over 4 months (a 2-month window and the previous one), values from a handful
    (ties everywhere, zeros and returns), shares that floating point gets wrong."""
    n = draw(st.integers(1, 25))
    values = st.sampled_from([-2.5, 0.0, 0.1, 0.2, 0.3, 0.6, 1.0, 1.0, 7.25, 100.0])
    rows = []
    for i in range(n):
        for month in ("2024-03", "2024-04", "2024-05", "2024-06"):
            if draw(st.booleans()):
                rows.append((f"k{draw(st.integers(0, 30)):02d}", month, draw(values)))
    return frame(rows).drop_duplicates(["customer_id", "month"]).reset_index(drop=True)


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=monthly_frames(), variant=st.sampled_from(["monthly_union", "period_total", "abc"]),
       vip=st.sampled_from([0.1, 0.2, 0.3, 0.5]), good=st.sampled_from([0.2, 0.3]))
def test_engine_equals_fit_monthly_on_generated_frames(df, variant, vip, good):
    if df.empty:
        return
    tiers = PercentileTiers(window_months=2, dropout_months=1, variant=variant, vip_share=vip, good_share=good)
    both(tiers, df, None, dt.date(2024, 6, 30))


# ------------------------------------------------------------------ mistakes
def test_mistakes_raise_parameter_errors():
    t = ibis.memtable(frame([("a", "2024-06", 1.0)]))
    with pytest.raises(ParameterError, match="need the cut-off") as err:
        PercentileTiers().tiers_table(t)
    assert err.value.where == "PercentileTiers.tiers_table"
    with pytest.raises(ParameterError, match=r"lacks \['margin'\]"):
        PercentileTiers(criterion="margin").tiers_table(t, as_of="2024-06-30")
    with pytest.raises(ParameterError, match="unknown variant"):
        PercentileTiers(variant="pareto").tiers_table(t, as_of="2024-06-30")
    with pytest.raises(ParameterError, match="lacks 'customer_id'"):
        PercentileTiers().tiers_table(t, ibis.memtable({"id": ["a"]}), as_of="2024-06-30")


@pytest.mark.slow
def test_polars_backend_says_it_cannot():
    tx = load_transactions(CDNOW_PATH, engine="polars")
    with pytest.raises(ParameterError, match="Polars backend lacks") as err:
        PercentileTiers().tiers_table(customer_month_table(tx, None, dt.date(1997, 12, 31)), as_of="1997-12-31")
    assert "duckdb" in err.value.fix


# ------------------------------------------------------------------ PostgreSQL
@pytest.mark.slow
@pytest.mark.xdist_group("postgres")
def test_postgres_tiers_equal_fit_monthly(postgres_server, cdnow_tx, monkeypatch):
    """CDNOW as a finance team's PostgreSQL table (numeric amounts): the same tiers and alerts as pandas."""
    server = postgres_server
    server.create_database("tiers_engine")
    server.load_csv("tiers_engine", "sales", '"CustomerNo" text, "InvoiceDate" date, "Qty" integer, '
                    '"NetValue" numeric', CDNOW_PATH)
    monkeypatch.setenv("PGPASSWORD", server.password)
    columns = {"customer_id": "CustomerNo", "date": "InvoiceDate", "quantity": "Qty", "amount": "NetValue"}
    tx = load_transactions(server.url("tiers_engine"), columns, table="sales")
    split = split_periods(cdnow_tx, holdout_months=6)
    try:
        got = {variant: fetched(PercentileTiers(criterion="units", variant=variant).tiers_table(
            customer_month_table(tx, None, split.as_of), customer_features_table(tx, split.as_of), as_of=split.as_of))
            for variant in ("monthly_union", "period_total")}
    finally:
        tx.close()
    for variant, (labels, monthly, alerts) in got.items():
        fit = PercentileTiers(criterion="units", variant=variant).fit_monthly(
            customer_month(cdnow_tx, None, split.as_of), customers=customer_features(cdnow_tx, split.as_of),
            as_of=split.as_of)
        assert labels.tolist() == fit.labels_.tolist() and labels.index.tolist() == fit.labels_.index.tolist()
        mt = fit.monthly_tiers_.astype({"customer_id": str, "month": str, "monthly_tier": str})
        pd.testing.assert_frame_equal(monthly, mt, check_exact=True, check_dtype=False)
        assert alerts["customer_id"].tolist() == fit.alerts_["customer_id"].tolist()
        assert alerts["value_at_risk"].tolist() == fit.alerts_["value_at_risk"].tolist()


@pytest.mark.spark
@pytest.mark.slow
def test_pyspark_tiers_equal_fit_monthly(cdnow_tx):
    """CDNOW read by local PySpark: every label, monthly tier and alert of the three variants as in pandas."""
    pytest.importorskip("pyspark", reason="PySpark is in the dev extra: pip install -e '.[dev]'")
    as_of = split_periods(cdnow_tx, holdout_months=6).as_of
    tx = load_transactions(CDNOW_PATH, engine="pyspark")
    monthly_table, customer_table = customer_month_table(tx, None, as_of), customer_features_table(tx, as_of)
    monthly, customers = customer_month(cdnow_tx, None, as_of), customer_features(cdnow_tx, as_of)
    for variant in ("monthly_union", "period_total", "abc"):
        tiers = PercentileTiers(variant=variant)
        assert_same(tiers.tiers_table(monthly_table, customer_table, as_of=as_of),
                    tiers.fit_monthly(monthly, customers=customers, as_of=as_of))
