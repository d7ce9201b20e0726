"""The synthetic generator: determinism, planted truth visible in the data, and recovered by the schemes."""

from __future__ import annotations

import pandas as pd
import pytest

from segkit.data import load_transactions
from segkit.datasets import make_transactions, write_transactions
from segkit.features import customer_features, customer_month, split_periods
from segkit.schemes import PercentileTiers


@pytest.fixture(scope="module")
def synthetic():
    return make_transactions(n_customers=1500, months=24, seed=11)


def test_same_seed_same_data_other_seed_other_data():
    a, ta = make_transactions(300, 12, seed=1)
    b, tb = make_transactions(300, 12, seed=1)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(ta, tb)
    c, _ = make_transactions(300, 12, seed=2)
    assert not a.equals(c)


def test_planted_truth_is_in_the_data(synthetic):
    tx, truth = synthetic
    tx = tx.assign(month=pd.to_datetime(tx["date"]).dt.strftime("%Y-%m"))
    paid = tx[tx["amount"] > 0]
    months = paid.groupby("customer_id")["month"].agg(["nunique", "max"])
    t = truth.set_index("customer_id").join(months)
    drop = t[t["type"] == "vip_dropout"]
    assert (drop["max"] < drop["stop_month"]).all()                  # nothing paid from the stop month on
    assert (t.loc[t["type"] == "one_off", "nunique"] == 1).all()
    assert t.loc[t["type"] == "steady_vip", "nunique"].min() >= 18    # ~95% of 24 months
    assert (tx.loc[tx["amount"] < 0, "quantity"] < 0).all() and (tx["amount"] < 0).mean() < 0.05
    grow = paid[paid["customer_id"].isin(t.index[t["type"] == "growing"])]
    early = grow[grow["month"] < "2024-01"]["amount"].sum()
    late = grow[grow["month"] >= "2024-01"]["amount"].sum()
    assert late > 1.5 * early


def test_loader_reads_the_generated_file_without_drops(tmp_path, synthetic):
    tx, _ = synthetic
    path = write_transactions(tx, tmp_path / "b2b.csv.gz")
    loaded = load_transactions(path)
    q = loaded.quality
    assert q.rows_read == len(tx) and q.rows_dropped == 0 and q.kept["returns"] == int((tx["amount"] < 0).sum())
    assert {"quantity", "cost", "order_id"} <= set(loaded.has)


def test_tiers_recover_the_planted_vips_and_dropouts(synthetic):
    tx, truth = synthetic
    loaded = load_transactions(tx)
    split = split_periods(loaded, holdout_months=6)
    features = customer_features(loaded, split.as_of)
    monthly = customer_month(loaded, split.previous_window_months[0], split.as_of)
    tiers = PercentileTiers(criterion="revenue", as_of=split.as_of).fit_monthly(monthly, customers=features)
    t = truth.set_index("customer_id")
    steady = t.index[t["type"] == "steady_vip"]
    assert (tiers.labels_.reindex(steady) == "VIP").mean() >= 0.9
    window = [m.strftime("%Y-%m") for m in split.window_months]
    # a planted dropout that stopped inside the window, after at least one window month of paying,
    # and before the last `dropout_months` (2) months began, must be flagged
    paid_window = set(monthly.loc[monthly["month"].dt.strftime("%Y-%m").isin(window) & (monthly["purchases"] > 0),
                                  "customer_id"])
    due = t[(t["type"] == "vip_dropout") & (t["stop_month"] > window[0]) & (t["stop_month"] <= window[-2])
            & t.index.isin(paid_window)]
    flagged = set(tiers.alerts_["customer_id"])
    assert len(due) > 0 and set(due.index) <= flagged
    # one-off buyers reach VIP only through the single month in which they bought (exact rule)
    ones = t.index[t["type"] == "one_off"]
    vip_months = tiers.monthly_tiers_[tiers.monthly_tiers_["monthly_tier"] == "VIP"]
    one_vips = set(tiers.labels_.reindex(ones)[lambda s: s == "VIP"].index)
    assert one_vips == set(vip_months["customer_id"]) & set(ones)
    assert (vip_months[vip_months["customer_id"].isin(ones)].groupby("customer_id").size() == 1).all()
