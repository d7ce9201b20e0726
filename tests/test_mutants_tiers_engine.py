"""The percentile tiers as engine expressions (``PercentileTiers.tiers_table`` and
``segkit.schemes.tiers_engine``) on small frames made by hand or drawn from a fixed seed: every label,
monthly tier, alert and window total must equal ``fit_monthly``'s, and the values worked out by hand
from the rule in ``segkit.schemes.tiers`` are stated beside.

Mutation testing reached these expressions only through slow tests (CDNOW, the B2B data, generated
frames), so each test here runs a few queries on a few dozen rows at most.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest

from segkit.errors import ParameterError
from segkit.schemes import PercentileTiers
from segkit.schemes import tiers_engine as engine
from segkit.schemes.tiers import TierTables, exact_ceil

AS_OF = dt.date(2024, 6, 30)
ALERT_COLUMNS = ["customer_id", "last_vip_month", "last_payment", "value_at_risk"]
MONTHS = ["2023-12", "2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06", "2024-07"]


def frame(rows: list[tuple], purchases: bool = True) -> pd.DataFrame:
    """rows: (customer, 'YYYY-MM', revenue[, purchases]) -> a customer x month table.

    Without a purchases value in the row, ``purchases`` is 1 when revenue > 0, else 0; with
    ``purchases=False`` the table has no such column."""
    full = [(r[0], r[1], float(r[2]), r[3] if len(r) > 3 else int(r[2] > 0)) for r in rows]
    df = pd.DataFrame(full, columns=["customer_id", "month", "revenue", "purchases"])
    df["month"] = pd.to_datetime(df["month"] + "-01")
    return df if purchases else df.drop(columns="purchases")


def fetch(tables: TierTables) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """labels as a dict; monthly sorted by month and id; alerts sorted as ``fit_monthly`` sorts them."""
    labels = tables.labels.to_pandas()
    assert list(labels.columns) == ["customer_id", "percentile_tier"]
    assert labels["customer_id"].is_unique
    monthly = tables.monthly.to_pandas()
    assert list(monthly.columns) == ["customer_id", "month", "value", "monthly_tier"]
    monthly = monthly.sort_values(["month", "customer_id"], kind="stable").reset_index(drop=True)
    alerts = tables.alerts.to_pandas()
    assert list(alerts.columns) == ALERT_COLUMNS
    alerts = alerts.sort_values(["value_at_risk", "customer_id"], ascending=[False, True],
                                kind="stable").reset_index(drop=True)
    return dict(zip(labels["customer_id"], labels["percentile_tier"])), monthly, alerts


def schemas(tables: TierTables) -> list[dict]:
    return [{k: str(v) for k, v in t.schema().items()} for t in tables]


def compare(tiers: PercentileTiers, df: pd.DataFrame, customers: pd.DataFrame | None = None,
            as_of: dt.date | str = AS_OF) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """``tiers_table`` on memtables of the frames equals ``fit_monthly`` on the frames; returns the fetched tables."""
    fit = dataclasses.replace(tiers).fit_monthly(df, customers=customers, as_of=pd.Timestamp(as_of).date())
    tables = tiers.tiers_table(ibis.memtable(df), None if customers is None else ibis.memtable(customers),
                               as_of=as_of)
    assert schemas(tables) == [
        {"customer_id": "string", "percentile_tier": "string"},
        {"customer_id": "string", "month": "string", "value": "float64", "monthly_tier": "string"},
        {"customer_id": "string", "last_vip_month": "string", "last_payment": "string", "value_at_risk": "float64"}]
    labels, monthly, alerts = fetch(tables)
    assert labels == fit.labels_.to_dict()
    expected = fit.monthly_tiers_.astype({"customer_id": str, "month": str, "value": "float64"})
    assert monthly.to_numpy().tolist() == expected.to_numpy().tolist()
    exp = fit.alerts_[ALERT_COLUMNS].reset_index(drop=True)
    assert alerts.to_numpy().tolist() == exp.astype({"value_at_risk": "float64"}).to_numpy().tolist()
    return labels, monthly, alerts


# ------------------------------------------------------------------ a net of seeded frames
def drawn(seed: int, purchases: bool = True) -> pd.DataFrame:
    """Up to 14 customers over Dec 2023 .. Jul 2024 (the window Apr..Jun, the previous one Jan..Mar, a
    month before and one after as_of), values from a handful (ties, zeros, returns), a purchase count
    of 0, 1 or 2 that does not always follow the value, rows in no particular order."""
    rng = np.random.default_rng(seed)
    values = [-2.5, 0.0, 0.1, 0.2, 0.3, 0.6, 1.0, 1.0, 7.25, 100.0, 2.5e-06]
    rows = []
    for k in rng.permutation(14):
        for m in MONTHS:
            if rng.random() < 0.45:
                v = float(rng.choice(values))
                p = int(rng.choice([0, 1, 2])) if rng.random() < 0.2 else int(v > 0)
                rows.append((f"k{k:02d}", m, v, p))
    return frame(rows, purchases=purchases)


def drawn_customers(df: pd.DataFrame, seed: int, last_purchase: bool = True) -> pd.DataFrame:
    """Most of the frame's customers (not all: the others' rows are left out) and one without rows."""
    rng = np.random.default_rng(seed + 100)
    ids = sorted(set(df["customer_id"]))
    keep = [c for c in ids if rng.random() < 0.8] + ["zz_none"]
    out = pd.DataFrame({"customer_id": keep})
    if last_purchase:
        out["last_purchase"] = pd.to_datetime("2024-01-01") + pd.to_timedelta(
            rng.integers(0, 180, len(keep)), unit="D")
    return out


CASES = [  # seed, variant, vip, good, window, dropout, purchases, customers (None / "last" / "ids"), as_of
    (1, "monthly_union", 0.2, 0.2, 3, 1, True, None, AS_OF),
    (2, "monthly_union", 0.3, 0.25, 3, 2, True, "last", AS_OF),
    (3, "monthly_union", 0.5, 0.3, 3, 1, False, None, AS_OF),
    (15, "monthly_union", 0.1, 0.5, 3, 2, True, "ids", AS_OF),
    (5, "monthly_union", 0.2, 0.2, 3, 1, True, None, "2024-06-01"),
    (6, "period_total", 0.2, 0.2, 3, 1, True, None, AS_OF),
    (7, "period_total", 0.3, 0.3, 3, 2, True, "last", AS_OF),
    (8, "period_total", 0.5, 0.25, 3, 1, False, None, AS_OF),
    (9, "abc", 0.2, 0.2, 3, 1, True, None, AS_OF),
    (10, "abc", 0.2, 0.2, 3, 2, True, "last", AS_OF),
    (11, "abc", 0.2, 0.2, 3, 1, False, None, AS_OF),
    (12, "monthly_union", 0.2, 0.3, 2, 1, True, None, dt.date(2024, 5, 31)),
]


@pytest.mark.parametrize("case", CASES, ids=[f"seed{c[0]}-{c[1]}" for c in CASES])
def test_engine_tiers_equal_fit_monthly_on_seeded_frames(case):
    seed, variant, vip, good, window, dropout, purchases, customers, as_of = case
    df = drawn(seed, purchases)
    cust = None if customers is None else drawn_customers(df, seed, last_purchase=customers == "last")
    tiers = PercentileTiers(variant=variant, vip_share=vip, good_share=good, window_months=window,
                            dropout_months=dropout)
    labels, monthly, alerts = compare(tiers, df, cust, as_of)
    assert len(monthly) > 0 and "INACTIVE" in labels.values() and len(set(labels.values())) >= 3
    if variant == "monthly_union":
        assert "VIP" in labels.values()
    else:
        assert alerts.empty


def test_the_net_of_seeded_frames_reaches_the_alerts():
    """The seeded frames of the net above flag dropouts (with and without ``last_purchase``)."""
    flagged = []
    for seed, variant, vip, good, window, dropout, purchases, customers, as_of in CASES[:5]:
        df = drawn(seed, purchases)
        cust = None if customers is None else drawn_customers(df, seed, last_purchase=customers == "last")
        tiers = PercentileTiers(variant=variant, vip_share=vip, good_share=good, window_months=window,
                                dropout_months=dropout)
        flagged.append(len(tiers.fit_monthly(df, customers=cust, as_of=pd.Timestamp(as_of).date()).alerts_))
    assert min(flagged[:4]) > 0, flagged


# ------------------------------------------------------------------ the pieces, stated by hand
def test_share_ceil_is_exact_ceil_in_integers():
    """ceil(p * n / q) for the share as the decimal written: 20% of 15 is 3, of 16 is 4, of 0 is 0."""
    n = list(range(0, 41)) + [999_999, 10**7 + 3]
    t = ibis.memtable({"n": n})
    for share in (0.2, 0.1, 0.3, 0.1 + 0.2, 0.05, 0.25, 0.5, 1 / 3, 0.123456789, 1.0, 0.0):
        got = t.select(v=engine.share_ceil(share, t.n)).to_pandas()["v"]
        assert str(got.dtype) == "int64"
        assert got.tolist() == exact_ceil(share, np.array(n)).tolist(), share
    got = t.select(v=engine.share_ceil(0.2, t.n)).to_pandas()["v"].tolist()
    assert got[:17] == [0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 4]
    assert got[-2:] == [200_000, 2_000_001]


def month_rows(rows: list[tuple[str, str, float, bool]]) -> ibis.Table:
    """(customer, 'YYYY-MM', value, paid) -> the rows :func:`window_totals` reads."""
    return ibis.memtable(pd.DataFrame({
        "customer_id": [r[0] for r in rows], "month": [dt.date.fromisoformat(r[1] + "-01") for r in rows],
        "value": [float(r[2]) for r in rows], "paid": [bool(r[3]) for r in rows]}))


def test_window_totals_compensate_as_pandas_does():
    """q: 0.1 + 0.2 + 0.3 is 0.6 (plain: 0.6000000000000001); big: 1e16 then three 1.0 is 1e16 + 4 as
    pandas' compensated group sum gets it (plain: 1e16); swing: 1e16, 1, -1e16, 1 is 1.0 (the -1 the first
    1.0 leaves in the compensation is lost again when -1e16 + 1 rounds to -1e16);
    gap: a month without a row is skipped; ret: returns only."""
    rows = [("q", "2024-04", 0.1, True), ("q", "2024-05", 0.2, True), ("q", "2024-06", 0.3, True),
            ("big", "2024-03", 1e16, True), ("big", "2024-04", 1.0, False), ("big", "2024-05", 1.0, True),
            ("big", "2024-06", 1.0, False),
            ("gap", "2024-03", 0.1, True), ("gap", "2024-05", 0.2, False), ("gap", "2024-06", 0.3, False),
            ("swing", "2024-03", 1e16, False), ("swing", "2024-04", 1.0, False), ("swing", "2024-05", -1e16, False),
            ("swing", "2024-06", 1.0, False), ("ret", "2024-05", -2.5, False), ("one", "2024-06", 7.25, True)]
    window = [dt.date(2024, m, 1) for m in (3, 4, 5, 6)]
    t = engine.window_totals(month_rows(rows), window, window[-2:]).to_pandas().set_index("customer_id")
    assert list(t.columns) == ["paid", "paid_recent", "last_paid", "total"]
    got = t.sort_index().to_dict("index")
    assert {k: v["total"] for k, v in got.items()} == {"big": 1.0000000000000004e16, "gap": 0.6, "one": 7.25,
                                                       "q": 0.6, "ret": -2.5, "swing": 1.0}
    frame_ = pd.DataFrame(rows, columns=["customer_id", "month", "value", "paid"])
    assert t["total"].sort_index().tolist() == frame_.groupby("customer_id")["value"].sum().tolist()
    assert {k: (v["paid"], v["paid_recent"]) for k, v in got.items()} == {
        "q": (1, 1), "big": (1, 1), "gap": (1, 0), "ret": (0, 0), "one": (1, 1), "swing": (0, 0)}
    last = {k: None if pd.isna(v["last_paid"]) else pd.Timestamp(v["last_paid"]).strftime("%Y-%m")
            for k, v in got.items()}
    assert last == {"q": "2024-06", "big": "2024-05", "gap": "2024-03", "ret": None, "one": "2024-06",
                    "swing": None}


def test_window_totals_of_one_month_and_the_plain_sum_they_avoid():
    rows = [("a", "2024-06", 0.3, True), ("a", "2024-05", 0.2, True), ("a", "2024-04", 0.1, True),
            ("b", "2024-06", -1.0, False), ("b", "2024-06", 3.0, True)]
    t = engine.window_totals(month_rows(rows[:3]), [dt.date(2024, 4, 1), dt.date(2024, 5, 1), dt.date(2024, 6, 1)],
                             [dt.date(2024, 6, 1)]).to_pandas()
    assert t["total"].tolist() == [0.6] and 0.1 + 0.2 + 0.3 != 0.6
    # one row per customer and month is the contract; two rows in a month count as the larger value
    t = engine.window_totals(month_rows(rows[3:]), [dt.date(2024, 6, 1)], []).to_pandas()
    assert t[["total", "paid", "paid_recent"]].to_numpy().tolist() == [[3.0, 1, 0]]


def test_ranked_ties_and_rows_that_hold_no_tier():
    """Ten values > 0 in June (2 VIP: z, then a before b on the tie; 2 GOOD of 8: b, c), a zero and a
    return without a tier; May is ranked on its own (1 VIP of 2, 1 GOOD of 1)."""
    rows = [("z", "2024-06", 90.0), ("b", "2024-06", 50.0), ("a", "2024-06", 50.0), ("c", "2024-06", 30.0),
            ("f", "2024-06", 20.0), ("e", "2024-06", 20.0), ("d", "2024-06", 20.0), ("g", "2024-06", 5.0),
            ("h", "2024-06", 4.0), ("i", "2024-06", 3.0), ("zero", "2024-06", 0.0), ("ret", "2024-06", -3.0),
            ("a", "2024-05", 1.0), ("b", "2024-05", 2.0)]
    t = month_rows([(*r, r[2] > 0) for r in rows])
    got = engine.ranked(t, "value", ["month"], 0.2, 0.2).to_pandas()
    assert list(got.columns) == ["customer_id", "month", "value", "paid", "tier"]
    tier = {(r.customer_id, pd.Timestamp(r.month).month): r.tier if isinstance(r.tier, str) else "-"
            for r in got.itertuples()}
    assert tier == {("z", 6): "VIP", ("a", 6): "VIP", ("b", 6): "GOOD", ("c", 6): "GOOD",
                    **{(c, 6): "REGULAR" for c in "defghi"}, ("zero", 6): "-", ("ret", 6): "-",
                    ("b", 5): "VIP", ("a", 5): "GOOD"}
    one = engine.ranked(t, "value", [], 0.2, 0.2).to_pandas()  # the 12 rows > 0 as one group: 3 VIP, 2 GOOD
    order = one[one["tier"].notna()].sort_values("value", ascending=False, kind="stable")
    assert one.set_index(["customer_id", "value"])["tier"].fillna("-").to_dict() == {
        ("z", 90.0): "VIP", ("a", 50.0): "VIP", ("b", 50.0): "VIP", ("c", 30.0): "GOOD", ("d", 20.0): "GOOD",
        ("e", 20.0): "REGULAR", ("f", 20.0): "REGULAR", ("g", 5.0): "REGULAR", ("h", 4.0): "REGULAR",
        ("i", 3.0): "REGULAR", ("b", 2.0): "REGULAR", ("a", 1.0): "REGULAR", ("zero", 0.0): "-",
        ("ret", -3.0): "-"}
    assert len(order) == 12


def test_customer_ids_are_distinct_text_without_null():
    t = ibis.memtable(pd.DataFrame({"customer_id": pd.array([3, 1, 3, None, 12], dtype="Int64")}))
    got = engine.customer_ids(t).to_pandas()
    assert list(got.columns) == ["customer_id"] and str(engine.customer_ids(t).schema()["customer_id"]) == "string"
    assert sorted(got["customer_id"]) == ["1", "12", "3"]


# ------------------------------------------------------------------ tiers_table's checks
def small() -> pd.DataFrame:
    return frame([("a", "2024-06", 5.0), ("b", "2024-06", 3.0), ("c", "2024-05", 2.0)])


def test_check_tables_each_mistake():
    t = ibis.memtable(small())
    with pytest.raises(ParameterError, match="need the cut-off") as err:
        PercentileTiers().tiers_table(t)
    assert err.value.where == "PercentileTiers.tiers_table"
    with pytest.raises(ParameterError, match=r"lacks \['margin'\]") as err:
        PercentileTiers(criterion="margin").tiers_table(t, as_of="2024-06-30")
    assert err.value.where == "PercentileTiers.tiers_table"
    with pytest.raises(ParameterError, match="unknown variant"):
        PercentileTiers(variant="pareto").tiers_table(t, as_of="2024-06-30")
    with pytest.raises(ParameterError, match="lacks 'customer_id'") as err:
        PercentileTiers().tiers_table(t, ibis.memtable({"id": ["a"]}), as_of="2024-06-30")
    assert err.value.where == "PercentileTiers.tiers_table"


def test_check_tables_polars_tables_are_refused_either_one():
    pl = ibis.polars.connect()
    monthly, ids = pl.create_table("monthly", small()), pl.create_table("ids", pd.DataFrame({"customer_id": ["a"]}))
    for args in ((monthly, None), (ibis.memtable(small()), ids)):
        with pytest.raises(ParameterError, match="Polars backend lacks") as err:
            PercentileTiers().tiers_table(*args, as_of="2024-06-30")
        assert err.value.where == "PercentileTiers.tiers_table" and "duckdb" in err.value.fix


def test_check_tables_cut_off_from_the_constructor_or_the_call():
    """as_of from the call wins over the constructor's; either may be a date or text."""
    t = ibis.memtable(small())
    june = {"a": "VIP", "b": "GOOD", "c": "GOOD"}  # c: VIP in May, the previous window, is demoted
    may = {"c": "VIP"}
    assert fetch(PercentileTiers(window_months=1, as_of="2024-06-30").tiers_table(t))[0] == june
    assert fetch(PercentileTiers(window_months=1, as_of=dt.date(2024, 5, 31)).tiers_table(t))[0] == may
    assert fetch(PercentileTiers(window_months=1, as_of="2024-06-30").tiers_table(t, as_of="2024-05-15"))[0] == may
    assert fetch(PercentileTiers(window_months=1).tiers_table(t, as_of=dt.date(2024, 6, 1)))[0] == june


# ------------------------------------------------------------------ one frame worked out by hand
def worked() -> pd.DataFrame:
    """Window Apr..Jun 2024 (3 months, dropout 1: June), the previous window Jan..Mar; shares 20% / 20%.

    Jan: old 100 is the only payer: VIP (ceil(0.2 x 1) = 1).
    Apr: a 50 VIP (1 of 5), b 40 GOOD (ceil(0.2 x 4) = 1), c 30, d 20, e 10 REGULAR.
    May: b 60, c 60 tie: b VIP, c GOOD (ceil(0.2 x 1) = 1); f -5 with a purchase holds no tier.
    Jun: c 10 VIP, d 5 GOOD; e 0 without a purchase holds no tier. Jul (after as_of): late 9.
    """
    return frame([("e", "2024-04", 10.0), ("old", "2024-01", 100.0), ("a", "2024-04", 50.0),
                  ("b", "2024-04", 40.0), ("c", "2024-04", 30.0), ("d", "2024-04", 20.0), ("c", "2024-05", 60.0),
                  ("b", "2024-05", 60.0), ("f", "2024-05", -5.0, 1), ("d", "2024-06", 5.0), ("c", "2024-06", 10.0),
                  ("e", "2024-06", 0.0), ("late", "2024-07", 9.0)])


WORKED_MONTHLY = [["a", "2024-04", 50.0, "VIP"], ["b", "2024-04", 40.0, "GOOD"], ["c", "2024-04", 30.0, "REGULAR"],
                  ["d", "2024-04", 20.0, "REGULAR"], ["e", "2024-04", 10.0, "REGULAR"],
                  ["b", "2024-05", 60.0, "VIP"], ["c", "2024-05", 60.0, "GOOD"],
                  ["c", "2024-06", 10.0, "VIP"], ["d", "2024-06", 5.0, "GOOD"]]


def test_worked_frame_monthly_union():
    """a, b, c VIP in a window month; d GOOD in June; old a former VIP: GOOD; e and f paid: REGULAR.
    a and b were VIP and did not buy in June: alerts, b first (window total 100, a 50)."""
    tiers = PercentileTiers(window_months=3, dropout_months=1)
    labels, monthly, alerts = compare(tiers, worked())
    assert labels == {"a": "VIP", "b": "VIP", "c": "VIP", "d": "GOOD", "e": "REGULAR", "f": "REGULAR",
                      "old": "GOOD"}
    assert monthly.to_numpy().tolist() == WORKED_MONTHLY
    assert alerts.to_numpy().tolist() == [["b", "2024-05", "2024-05", 100.0], ["a", "2024-04", "2024-04", 50.0]]


def test_worked_frame_two_months_of_dropout():
    """dropout_months 2 (May and June): b bought in May, so only a is flagged."""
    _, _, alerts = compare(PercentileTiers(window_months=3, dropout_months=2), worked())
    assert alerts.to_numpy().tolist() == [["a", "2024-04", "2024-04", 50.0]]


def test_worked_frame_period_total_and_abc():
    """Totals: b 100, c 100, a 50, d 25, e 10 (> 0: ranked once), f -5 and old (no window row).
    period_total: b VIP (1 of 5), c GOOD (ceil(0.2 x 4) = 1), a, d, e REGULAR; f paid: REGULAR.
    abc (80 / 15 / 5 of 285): the share before b 0, c 0.35, a 0.70: VIP; d 0.877: GOOD; e 0.965."""
    base = {"f": "REGULAR", "old": "INACTIVE"}
    labels, monthly, alerts = compare(PercentileTiers(window_months=3, variant="period_total"), worked())
    assert labels == {"b": "VIP", "c": "GOOD", "a": "REGULAR", "d": "REGULAR", "e": "REGULAR", **base}
    assert monthly.to_numpy().tolist() == WORKED_MONTHLY and alerts.empty
    labels, monthly, alerts = compare(PercentileTiers(window_months=3, variant="abc"), worked())
    assert labels == {"b": "VIP", "c": "VIP", "a": "VIP", "d": "GOOD", "e": "REGULAR", **base}
    assert monthly.to_numpy().tolist() == WORKED_MONTHLY and alerts.empty
    labels, _, _ = compare(PercentileTiers(window_months=3, variant="abc", abc_shares=(0.35, 0.5, 0.15)), worked())
    assert labels == {"b": "VIP", "c": "GOOD", "a": "GOOD", "d": "REGULAR", "e": "REGULAR", **base}


def test_worked_frame_with_customers():
    """Only the customers given are ranked and labelled: without a, April ranks b 40 VIP, c 30 GOOD; a's
    rows are left out; nobody (no rows) is INACTIVE; the alerts take last_purchase as 'YYYY-MM-DD'."""
    customers = pd.DataFrame({"customer_id": ["b", "c", "d", "e", "f", "old", "nobody"],
                              "last_purchase": pd.to_datetime(["2024-05-31", "2024-06-02", "2024-06-20", "2024-06-11",
                                                               "2024-05-09", "2024-01-30", "2023-02-01"])})
    tiers = PercentileTiers(window_months=3, dropout_months=1)
    labels, monthly, alerts = compare(tiers, worked(), customers)
    assert labels == {"b": "VIP", "c": "VIP", "d": "GOOD", "e": "REGULAR", "f": "REGULAR", "old": "GOOD",
                      "nobody": "INACTIVE"}
    assert monthly[monthly["month"] == "2024-04"].to_numpy().tolist() == [
        ["b", "2024-04", 40.0, "VIP"], ["c", "2024-04", 30.0, "GOOD"], ["d", "2024-04", 20.0, "REGULAR"],
        ["e", "2024-04", 10.0, "REGULAR"]]
    assert alerts.to_numpy().tolist() == [["b", "2024-05", "2024-05-31", 100.0]]
    ids = customers[["customer_id"]]  # without last_purchase: the last month paid in
    _, _, alerts = compare(tiers, worked(), ids)
    assert alerts.to_numpy().tolist() == [["b", "2024-05", "2024-05", 100.0]]


def test_value_at_risk_is_rounded_half_to_even():
    """A dropout whose window total is 2.5e-06 is at risk of 2e-06 (numpy's rint; SQL's ROUND: 3e-06),
    one of 3.5e-06 of 4e-06; the other months' values count in the total."""
    df = frame([("p", "2024-05", 2.5e-06), ("q", "2024-04", 1.5e-06), ("q", "2024-05", 2e-06),
                ("r", "2024-06", 1e-07), ("s", "2024-05", 1e-07)])
    tiers = PercentileTiers(window_months=3, dropout_months=1, vip_share=0.5)
    labels, _, alerts = compare(tiers, df)
    assert alerts.to_numpy().tolist() == [["q", "2024-05", "2024-05", 4e-06], ["p", "2024-05", "2024-05", 2e-06]]


def test_abc_cuts_are_strict_where_the_share_lands_on_them():
    """Four customers of 25 each: the share held before them is 0, 0.25, 0.5, 0.75 exactly. With A =
    0.250000001 the cut A - 1e-9 is 0.25 exactly, and b (0.25 before it) is not below it: GOOD (d is
    below A + B - 1e-9 = 0.7500000000000001: GOOD); with A + B = 0.25 + 0.500000001 the cut A + B - 1e-9
    is 0.75 exactly: d is REGULAR."""
    assert 0.250000001 - 1e-9 == 0.25 and (0.25 + 0.500000001) - 1e-9 == 0.75
    df = frame([(c, "2024-06", 25.0) for c in "dcba"])
    labels, _, _ = compare(PercentileTiers(window_months=1, variant="abc", abc_shares=(0.250000001, 0.5, 0.25)), df)
    assert labels == {"a": "VIP", "b": "GOOD", "c": "GOOD", "d": "GOOD"}
    labels, _, _ = compare(PercentileTiers(window_months=1, variant="abc", abc_shares=(0.25, 0.500000001, 0.25)), df)
    assert labels == {"a": "VIP", "b": "GOOD", "c": "GOOD", "d": "REGULAR"}


def test_abc_and_period_total_rank_a_positive_total_without_a_purchase():
    """x has value in the window but no purchase (a margin from returns): ranked on its total as in
    ``fit_monthly``: REGULAR in C / below the cuts, not INACTIVE; y paid but its total is < 0: REGULAR;
    z neither: INACTIVE."""
    df = frame([("a", "2024-06", 80.0), ("b", "2024-06", 15.0), ("x", "2024-06", 5.0, 0), ("y", "2024-06", -1.0, 1),
                ("z", "2024-06", -2.0, 0)])
    labels, _, _ = compare(PercentileTiers(window_months=1, variant="abc"), df)
    assert labels == {"a": "VIP", "b": "GOOD", "x": "REGULAR", "y": "REGULAR", "z": "INACTIVE"}
    labels, _, _ = compare(PercentileTiers(window_months=1, variant="period_total"), df)  # 1 VIP, 1 GOOD of 3
    assert labels == {"a": "VIP", "b": "GOOD", "x": "REGULAR", "y": "REGULAR", "z": "INACTIVE"}


def test_share_ceil_reads_the_share_to_nine_decimals():
    """0.1428571429 (1/7 to ten decimals) is 1/7 read to nine: 1 of 7, where the ten-decimal fraction
    gives 2; 0.011 of 1000 is 11 (a denominator below 90 would make it 1/90: 12)."""
    t = ibis.memtable({"n": [7, 1000]})
    got = t.select(a=engine.share_ceil(0.1428571429, t.n), b=engine.share_ceil(0.011, t.n)).to_pandas()
    assert got["a"].tolist() == [1, 143] and got["b"].tolist() == [1, 11]
    assert exact_ceil(0.1428571429, 7) == 1 and exact_ceil(0.011, 1000) == 11


def test_a_share_of_ten_decimals_ranks_as_fit_monthly_reads_it():
    """Seven payers in June and vip_share 0.1428571429: one VIP (1/7 of 7), as ``fit_monthly`` says."""
    df = frame([(c, "2024-06", float(10 - i)) for i, c in enumerate("abcdefg")])
    _, monthly, _ = compare(PercentileTiers(window_months=1, vip_share=0.1428571429), df)
    assert monthly["monthly_tier"].tolist() == ["VIP", "GOOD", "GOOD", "REGULAR", "REGULAR", "REGULAR", "REGULAR"]
