"""Every column of the per-customer feature table against a plain pandas re-count, on a small file
made by hand: orders of several rows, returns (with quantity and cost of either sign), blank
quantities, costs and order ids, a customer with returns only, rows before ``start`` and after
``as_of``, an attribute that changes, and averages that land on a half at the sixth decimal.

Mutation testing found these columns unchecked by the fast tests (the tests that check them all
read the whole bundled data set and are left out of the mutation run).
"""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd
import pytest

from segkit.data import load_transactions
from segkit.errors import ParameterError
from segkit.features import FEATURE_COLUMNS, customer_features, customer_features_table, customer_month

START, AS_OF = dt.date(2024, 1, 1), dt.date(2024, 3, 31)

# customer_id,date,amount,quantity,cost,order_id,region
ROWS = """\
a,2023-12-15,50,1,20,o0,north
a,2024-01-05,10.5,2,4,o1,north
a,2024-01-05,2.25,1,1,o1,north
a,2024-01-05,3,1,1,o9,north
a,2024-02-10,0.5,-1,0.2,o2,south
a,2024-02-20,-3,1,1,o3,south
a,2024-04-02,99,1,1,o4,east
b,2023-12-20,40,1,10,p0,west
b,2024-02-01,-5,-2,-3,p1,east
c,2024-01-10,10,,,q1,
c,2024-03-05,2.345625,1,,q2,
d,2024-02-02,5,1,2,,north
d,2024-02-03,2.000001,1,1,r1,north
d,2024-03-03,0.1,,0.05,r2,south
d,2024-03-04,0.2,,0.05,r3,south
d,2024-03-04,-0.15,-1,,r4,south
e,2024-03-30,0.4,3,0.1,s1,
e,2024-03-31,0.6,3,0.1,s2,west
f,2024-01-31,1,1,0.5,t1,north
f,2024-02-01,1,1,0.5,t2,north
f,2024-02-29,1,1,0.5,t3,north
g,2024-01-15,-1,1,1,u0,east
g,2024-01-16,-2,,,u1,east
h,2023-11-30,7,1,1,v0,south
h,2024-03-10,25.125,5,10.0625,v1,south
h,2024-03-10,-25.125,-5,-10.0625,v2,south
i,2024-01-01,100,10,60,w1,north
i,2024-02-14,-40,4,24,w2,north
i,2024-03-20,0.000001,1,0,w3,north
j,2024-02-05,8,,3,x1,north
"""
HEADER = "customer_id,date,amount,quantity,cost,order_id,region"


def _write(tmp_path, header: str, rows: str):
    path = tmp_path / "tx.csv"
    path.write_text(header + "\n" + rows)
    return path


def _raw(header: str = HEADER, rows: str = ROWS) -> pd.DataFrame:
    frame = pd.read_csv(io.StringIO(header + "\n" + rows), dtype={"customer_id": str, "order_id": str,
                                                                   "region": str})
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def recount(raw: pd.DataFrame, as_of: dt.date, start: dt.date | None, by_order: bool,
            attributes: tuple[str, ...] = ()) -> pd.DataFrame:
    """The README's definitions, one customer at a time in plain pandas."""
    end = pd.Timestamp(as_of)
    t = raw[(raw["date"] <= end) & ((raw["date"] >= pd.Timestamp(start)) if start else True)]
    out = []
    for cid, rows in t.groupby("customer_id"):
        bought = rows[rows["amount"] > 0]
        keys = bought["order_id"].dropna() if by_order else bought["date"]
        frequency = keys.nunique()
        if frequency == 0:
            continue  # no purchase in the period: not a customer of the table
        sign = np.where(rows["amount"] < 0, -1.0, 1.0)
        quantity = rows["quantity"].fillna(0).abs() * sign if "quantity" in rows else 0.0 * sign
        cost = rows["cost"].fillna(0).abs() * sign if "cost" in rows else 0.0 * sign
        gross = round(float(bought["amount"].sum()), 6)
        months = bought["date"].dt.to_period("M").nunique()
        record = {
            "customer_id": cid,
            "first_purchase": bought["date"].min(),
            "last_purchase": bought["date"].max(),
            "recency_days": (end - bought["date"].max()).days,
            "frequency": frequency,
            "monetary": round(float(rows["amount"].sum()), 6),
            "gross_revenue": gross,
            "returns_value": round(float(-rows.loc[rows["amount"] < 0, "amount"].sum()), 6),
            "units": round(float(np.sum(quantity)), 6),
            "margin": round(float(rows["amount"].sum() - np.sum(cost)), 6),
            "tenure_days": (end - bought["date"].min()).days,
            "active_months": months,
            "avg_order_value": float(np.round(gross / frequency, 6)),
            "purchases_per_active_month": float(np.round(frequency / months, 6)),
        }
        for attr in attributes:
            record[attr] = rows.sort_values("date")[attr].iloc[-1]
        out.append(record)
    frame = pd.DataFrame(out)
    for col in ("first_purchase", "last_purchase"):
        frame[col] = frame[col].astype("datetime64[ns]")
    for col in ("recency_days", "frequency", "tenure_days", "active_months"):
        frame[col] = frame[col].astype("int64")
    return frame


def _features_equal(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(got.columns) == list(expected.columns)
    got = got.reset_index(drop=True)
    expected = expected.reset_index(drop=True)
    for col in expected.columns:
        if col in ("customer_id", *expected.columns[len(FEATURE_COLUMNS) + 1:]):
            assert got[col].astype(object).where(got[col].notna(), None).tolist() == \
                expected[col].astype(object).where(expected[col].notna(), None).tolist(), col
        else:
            assert got[col].tolist() == expected[col].tolist(), col
            assert got[col].dtype == expected[col].dtype, col


@pytest.mark.parametrize("engine", ["duckdb", "polars"])
def test_every_feature_column_equals_a_pandas_recount(tmp_path, engine):
    tx = load_transactions(_write(tmp_path, HEADER, ROWS), columns={"region": "region"}, engine=engine)
    expected = recount(_raw(), AS_OF, START, by_order=True, attributes=("region",))
    # a before start and after as_of, b (returns only in the period), g (returns only) drop out
    assert expected["customer_id"].tolist() == ["a", "c", "d", "e", "f", "h", "i", "j"]
    got = customer_features(tx, AS_OF, START)
    _features_equal(got, expected)
    # a few of the re-counted values by hand, so the re-count itself is checked
    row = got.set_index("customer_id")
    assert row.loc["a", "frequency"] == 3 and row.loc["a", "monetary"] == 13.25    # o1, o9, o2
    assert row.loc["a", "gross_revenue"] == 16.25 and row.loc["a", "returns_value"] == 3.0
    assert row.loc["a", "units"] == 4.0 and row.loc["a", "margin"] == 8.05  # 2+1+1+1-1; 13.25-(4+1+1+.2-1)
    assert row.loc["a", "region"] == "south" and pd.isna(row.loc["c", "region"])
    # 12.345625 / 2 = 6.1728125: numpy rounds the half to the even 6.172812 (SQL's ROUND: 6.172813)
    assert row.loc["c", "avg_order_value"] == 6.172812 and row.loc["c", "units"] == 1.0
    assert row.loc["c", "margin"] == 12.345625
    # d: the purchase without an order id is no order: r1, r2, r3 (r4 is a return); 7.300001 / 3
    assert row.loc["d", "frequency"] == 3 and row.loc["d", "avg_order_value"] == 2.433334
    assert row.loc["d", "units"] == 1.0 + 1.0 - 1.0 and row.loc["d", "monetary"] == 7.150001
    assert row.loc["e", "recency_days"] == 0 and row.loc["e", "region"] == "west"
    assert row.loc["f", "purchases_per_active_month"] == 1.5 and row.loc["f", "active_months"] == 2
    assert row.loc["h", "monetary"] == 0.0 and row.loc["h", "returns_value"] == 25.125
    assert row.loc["j", "units"] == 0.0 and row.loc["j", "margin"] == 5.0  # no quantity on any row
    assert row.loc["i", "tenure_days"] == 90 and row.loc["i", "margin"] == round(60.000001 - 36, 6)


def test_without_the_optional_columns_units_are_zero_and_margin_is_revenue(tmp_path):
    rows = "".join(",".join(line.split(",")[:3]) + "\n" for line in ROWS.splitlines())
    tx = load_transactions(_write(tmp_path, "customer_id,date,amount", rows))
    assert tx.has == frozenset() and tx.attributes == ()
    raw = _raw("customer_id,date,amount", rows)
    expected = recount(raw, AS_OF, START, by_order=False)
    got = customer_features(tx, AS_OF, START)
    _features_equal(got, expected)
    assert (got["units"] == 0.0).all() and not np.signbit(got["units"]).any()
    assert got["margin"].tolist() == got["monetary"].tolist()
    # purchase days, not orders: a bought twice on 2024-01-05 and once on 2024-02-10
    assert got.set_index("customer_id").loc["a", "frequency"] == 2
    # without start every row up to as_of counts: b and h come back through their old purchases
    everything = customer_features(tx, AS_OF)
    _features_equal(everything, recount(raw, AS_OF, None, by_order=False))
    assert "b" in set(everything["customer_id"]) and "g" not in set(everything["customer_id"])


def test_named_columns_are_the_same_numbers_in_the_table_order(tmp_path):
    tx = load_transactions(_write(tmp_path, HEADER, ROWS), columns={"region": "region"})
    full = customer_features(tx, AS_OF, START)
    table = customer_features_table(tx, AS_OF, START)
    assert {k: str(v) for k, v in table.schema().items()} == {
        "customer_id": "string", "first_purchase": "date", "last_purchase": "date",
        "recency_days": "int64", "frequency": "int64", "monetary": "float64", "gross_revenue": "float64",
        "returns_value": "float64", "units": "float64", "margin": "float64", "tenure_days": "int64",
        "active_months": "int64", "avg_order_value": "float64", "purchases_per_active_month": "float64",
        "region": "string"}
    for columns in (["monetary", "frequency", "recency_days"], ["customer_id", "tenure_days"],
                    ["avg_order_value"], ["purchases_per_active_month", "region"],
                    ["units", "margin", "returns_value", "gross_revenue", "first_purchase", "last_purchase",
                     "active_months"], []):
        t = customer_features_table(tx, AS_OF, START, columns=columns)
        names = ["customer_id", *[c for c in (*FEATURE_COLUMNS, "region") if c in columns]]
        assert t.columns == tuple(names)
        got = t.to_pandas().sort_values("customer_id").reset_index(drop=True)
        for col in names:
            assert got[col].tolist() == full[col].tolist(), (columns, col)
            assert str(t.schema()[col]) == str(table.schema()[col]), (columns, col)
    with pytest.raises(ParameterError, match=r"\['recency', 'spend'\]"):
        customer_features_table(tx, AS_OF, START, columns=["spend", "recency", "frequency"])


def test_as_of_given_as_a_timestamp_counts_by_its_day(tmp_path):
    tx = load_transactions(_write(tmp_path, HEADER, ROWS), columns={"region": "region"})
    by_date = customer_features(tx, AS_OF, START)
    for moment in (pd.Timestamp(AS_OF), dt.datetime(2024, 3, 31, 18, 30)):
        pd.testing.assert_frame_equal(customer_features(tx, moment, START), by_date)
    assert by_date.set_index("customer_id").loc["e", "recency_days"] == 0


@pytest.mark.parametrize("engine", ["duckdb", "polars"])
def test_monthly_measures_equal_a_pandas_recount(tmp_path, engine):
    tx = load_transactions(_write(tmp_path, HEADER, ROWS), engine=engine)
    raw = _raw()
    raw["month"] = raw["date"].dt.to_period("M").dt.to_timestamp()
    sign = np.where(raw["amount"] < 0, -1.0, 1.0)
    raw["q"] = raw["quantity"].fillna(0).abs() * sign
    raw["c"] = raw["cost"].fillna(0).abs() * sign
    raw["paid"] = raw["order_id"].where(raw["amount"] > 0)
    expected = raw.groupby(["customer_id", "month"]).agg(
        revenue=("amount", "sum"), payments=("paid", "nunique"), units=("q", "sum"), cost=("c", "sum"),
        purchases=("amount", lambda a: int((a > 0).sum()))).reset_index()
    got = customer_month(tx).set_index(["customer_id", "month"]).sort_index()
    expected = expected.set_index(["customer_id", "month"]).sort_index()
    assert got.index.tolist() == expected.index.tolist()
    assert got["payments"].tolist() == expected["payments"].tolist()
    assert got["purchases"].tolist() == expected["purchases"].tolist()
    assert got["revenue"].tolist() == expected["revenue"].round(6).tolist()
    assert got["units"].tolist() == expected["units"].round(6).tolist()
    assert got["margin"].tolist() == (expected["revenue"] - expected["cost"]).round(6).tolist()
    # a's February: o2 (0.5, a purchase below 1) is one payment; o3 is a return
    assert got.loc[("a", pd.Timestamp("2024-02-01")), "payments"] == 1


@pytest.mark.parametrize("engine", ["duckdb", "polars"])
def test_without_quantity_a_month_of_returns_has_plus_zero_units(tmp_path, engine):
    rows = "".join(",".join(line.split(",")[:3]) + "\n" for line in ROWS.splitlines())
    months = customer_month(load_transactions(_write(tmp_path, "customer_id,date,amount", rows), engine=engine))
    returns_only = months[months["purchases"] == 0]
    assert len(returns_only) == 3  # b and i in February, g in January
    # 0.0 like every other month, not -0.0 (which a CSV shows as "-0.0"); the same on every engine
    assert (months["units"] == 0.0).all() and not np.signbit(months["units"]).any()
    assert not np.signbit(months["margin"][months["revenue"] > 0]).any()
