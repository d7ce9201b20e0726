"""Feature tables equal a plain pandas reference; periods; row order does not matter."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from segkit.data import load_transactions
from segkit.errors import ParameterError
from segkit.features import customer_features, customer_month, holdout_outcomes, split_periods


def random_transactions(seed: int, n: int = 800) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    amount = rng.gamma(2, 30, n).round(2)
    amount[rng.random(n) < 0.08] *= -1                     # returns
    return pd.DataFrame({
        "customer_id": [f"{i:04d}" for i in rng.integers(0, 120, n)],
        "date": (pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 540, n), unit="D")).strftime("%Y-%m-%d"),
        "amount": amount,
        "quantity": rng.integers(1, 5, n),
        "cost": (np.abs(amount) * 0.6).round(2),
        "order_id": [f"o{i}" for i in rng.integers(0, n // 2, n)],
    })


def reference_features(df: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    d = df.assign(date=pd.to_datetime(df["date"]))
    d = d[d["date"] <= pd.Timestamp(as_of)]
    sign = np.sign(d["amount"])
    d = d.assign(units=sign * d["quantity"].abs(), netcost=sign * d["cost"].abs())
    p = d[d["amount"] > 0]
    out = pd.DataFrame({
        "last_purchase": p.groupby("customer_id")["date"].max(),
        "frequency": p.groupby("customer_id")["order_id"].nunique(),
    })
    out["monetary"] = d.groupby("customer_id")["amount"].sum()
    out["units"] = d.groupby("customer_id")["units"].sum()
    out["margin"] = out["monetary"] - d.groupby("customer_id")["netcost"].sum()
    out["recency_days"] = (pd.Timestamp(as_of) - out["last_purchase"]).dt.days
    return out.sort_index()


@pytest.mark.parametrize("seed", [0, 1])
def test_duckdb_features_equal_pandas_reference(seed):
    df = random_transactions(seed)
    tx = load_transactions(df)
    as_of = dt.date(2024, 1, 31)
    got = customer_features(tx, as_of).set_index("customer_id")
    ref = reference_features(df, as_of)
    assert list(got.index) == list(ref.index)
    for col in ("frequency", "monetary", "units", "margin", "recency_days"):
        np.testing.assert_allclose(got[col].to_numpy(float), ref[col].to_numpy(float), atol=1e-6, err_msg=col)
    # customer x month revenue
    cm = customer_month(tx, None, as_of)
    d = df.assign(month=pd.to_datetime(df["date"]).dt.to_period("M").dt.to_timestamp())
    d = d[pd.to_datetime(d["date"]) <= pd.Timestamp(as_of)]
    ref_m = d.groupby(["customer_id", "month"])["amount"].sum()
    got_m = cm.set_index(["customer_id", "month"])["revenue"].sort_index()
    np.testing.assert_allclose(got_m.to_numpy(), ref_m.sort_index().to_numpy(), atol=1e-6)


def test_row_order_does_not_change_features():
    df = random_transactions(3)
    a = customer_features(load_transactions(df), dt.date(2024, 3, 31))
    b = customer_features(load_transactions(df.sample(frac=1, random_state=9)), dt.date(2024, 3, 31))
    pd.testing.assert_frame_equal(a, b)


def test_default_periods_end_with_the_last_complete_month(cdnow_tx):
    split = split_periods(cdnow_tx, holdout_months=6)
    assert split.as_of == dt.date(1997, 12, 31)
    assert (split.holdout_start, split.holdout_end) == (dt.date(1998, 1, 1), dt.date(1998, 6, 30))
    assert [m.month for m in split.window_months] == [7, 8, 9, 10, 11, 12]


def test_incomplete_last_month_is_not_used_for_the_holdout():
    df = pd.DataFrame({"customer_id": ["1", "2", "1"], "date": ["2024-01-03", "2024-05-31", "2024-06-15"],
                       "amount": [1.0, 2.0, 3.0]})
    split = split_periods(load_transactions(df), holdout_months=2)
    assert split.holdout_end == dt.date(2024, 5, 31) and split.as_of == dt.date(2024, 3, 31)


def test_periods_the_data_cannot_hold_raise_clear_errors(cdnow_tx):
    with pytest.raises(ParameterError, match="leaves no calibration data"):
        split_periods(cdnow_tx, holdout_months=24)
    with pytest.raises(ParameterError, match="runs past the end of the data"):
        split_periods(cdnow_tx, as_of="1998-03-31", holdout_months=6)
    with pytest.raises(ParameterError, match="before the first transaction"):
        split_periods(cdnow_tx, as_of="1990-01-01")


def test_holdout_outcomes_cover_every_evaluated_customer(cdnow_tx):
    split = split_periods(cdnow_tx)
    f = customer_features(cdnow_tx, split.as_of)
    h = holdout_outcomes(cdnow_tx, split, f["customer_id"])
    assert list(h["customer_id"]) == list(f["customer_id"])
    raw = pd.read_csv("data/cdnow/cdnow_master.csv.gz", dtype={"customer_id": str}, parse_dates=["date"])
    in_hold = raw[(raw["date"] >= "1998-01-01") & (raw["date"] <= "1998-06-30")]
    expected = in_hold[in_hold["customer_id"].isin(f["customer_id"])]["amount"].sum()
    assert h["holdout_revenue"].sum() == pytest.approx(expected)


def _reference_active_months(df: pd.DataFrame, start: dt.date | None, as_of: dt.date) -> pd.Series:
    d = df.assign(date=pd.to_datetime(df["date"]))
    d = d[(d["date"] <= pd.Timestamp(as_of)) & (d["date"] >= pd.Timestamp(start or dt.date.min))]
    paid = d[d["amount"] > 0]
    return paid.groupby("customer_id")["date"].agg(lambda s: s.dt.to_period("M").nunique()).sort_index()


@pytest.mark.parametrize("seed", [4, 5])
def test_active_months_count_every_month_with_a_purchase_on_every_path(seed, monkeypatch):
    """DuckDB counts them as bits of one bit string per customer; a long span and Polars count distinct months."""
    from segkit import features

    df = random_transactions(seed, n=1500)
    df.loc[df.index[:40], "amount"] *= -1  # months with returns only do not count
    df.loc[df.index[40], "date"] = "1998-02-28"  # one purchase 25 years before the others (300 months)
    df.loc[df.index[40], "amount"] = 12.5
    cases = [(None, dt.date(2024, 5, 31)), (dt.date(2023, 3, 1), dt.date(2024, 2, 29)), (dt.date(2023, 6, 1), dt.date(2023, 6, 30))]
    for start, as_of in cases:
        ref = _reference_active_months(df, start, as_of)
        got = {}
        for label, bits in (("bits", 1000), ("distinct", 1)):
            monkeypatch.setattr(features, "_MONTH_BITS", bits)
            got[label] = customer_features(load_transactions(df), as_of, start).set_index("customer_id")["active_months"]
        got["polars"] = customer_features(load_transactions(df, engine="polars"), as_of, start).set_index(
            "customer_id")["active_months"]
        for label, series in got.items():
            assert series.to_dict() == ref.to_dict(), (label, start, as_of)
    # the bit string is what DuckDB counted with (not the fallback) where the span is short
    monkeypatch.setattr(features, "_MONTH_BITS", 240)
    tx = load_transactions(df)
    assert "BITSTRING_AGG" in str(tx.con.compile(features.customer_features_table(tx, dt.date(2024, 5, 31),
                                                                                   dt.date(2023, 1, 1))))
    assert "BITSTRING_AGG" not in str(tx.con.compile(features.customer_features_table(tx, dt.date(2024, 5, 31))))
