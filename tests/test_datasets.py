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


def test_planted_margin_erosion_changes_only_the_planted_customers_costs():
    eroded, truth = make_transactions(400, 24, seed=3)
    flat, flat_truth = make_transactions(400, 24, seed=3, eroding=0)
    planted = truth.loc[truth["margin_erosion_from"].notna(), "customer_id"]
    assert len(planted) == 5 and set(truth.loc[truth["customer_id"].isin(planted), "type"]) == {"steady_vip"}
    assert flat_truth["margin_erosion_from"].isna().all()
    pd.testing.assert_frame_equal(eroded.drop(columns="cost"), flat.drop(columns="cost"))
    changed = eroded["cost"].to_numpy() != flat["cost"].to_numpy()
    assert set(eroded.loc[changed, "customer_id"]) == set(planted)
    rate = 1 - eroded["cost"] / eroded["amount"]
    late = eroded["customer_id"].isin(planted) & (eroded["date"] >= "2024-10-01") & (eroded["amount"] > 0)
    before = eroded["customer_id"].isin(planted) & (eroded["date"] < "2024-01-01") & (eroded["amount"] > 0)
    assert rate[late].mean() < rate[before].mean() - 0.2  # 3 points a month: ~0.3 lower by the end


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


# ====================================================================== planted verdicts
SIMPLICITY = ["percentile_tiers", "rfm", "kmeans"]


def _origin(tx, split, criterion="revenue", vip_share=0.2):
    """Fit the three schemes at one cut-off as a run does, and the outcome and baselines to score them."""
    from segkit.compare import baseline_orders, criterion_outcomes
    from segkit.schemes import KMeansSegmenter, RFMSegmenter

    features = customer_features(tx, split.as_of)
    monthly = customer_month(tx, split.previous_window_months[0], split.as_of)
    holdout = customer_month(tx, split.holdout_start, split.holdout_end)
    tables = {
        "percentile_tiers": PercentileTiers(criterion=criterion, as_of=split.as_of, vip_share=vip_share)
        .fit_monthly(monthly, customers=features).segment_table(),
        "rfm": RFMSegmenter().fit_features(features).segment_table(),
        "kmeans": KMeansSegmenter(random_state=0).fit_features(features).segment_table(),
    }
    return (tables, criterion_outcomes(holdout, features["customer_id"], criterion),
            baseline_orders(features, monthly, criterion, split.window_months))


@pytest.fixture(scope="module")
def scenario_verdicts():
    """Verdict, comparison and reasons on each planted scenario, over three cut-offs 3 months apart."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from segkit.compare import CustomerWeights, baseline_retention, compare_rankings, verdict
    from segkit.datasets import SCENARIOS, make_scenario
    from segkit.narrative import verdict_reasons

    out = {}
    for name in SCENARIOS:
        # RFM's lead over the tiers is real but modest: 800 customers leave its interval touching 0 on
        # some seeds (seed 2); 1,500 clear it on the seeds tried (0, 2, 3)
        tx, truth = make_scenario(name, n_customers=1500 if name == "rfm_wins" else 800, seed=0)
        loaded = load_transactions(tx)
        main = split_periods(loaded, holdout_months=6)
        # one thread: on a busy machine k-means' OpenMP threads fight each other (10 s a fit instead of 0.6)
        with threadpool_limits(limits=1):
            origins = [_origin(loaded, s) for s in (main, main.shifted(-3), main.shifted(-6))]
        weights = CustomerWeights(np.concatenate([o[1]["customer_id"].to_numpy() for o in origins]), 200, 0)
        results = [compare_rankings(t, o, 0.2, baselines=b, n_boot=200, weights=weights) for t, o, b in origins]
        decision = verdict(results, 0.2, SIMPLICITY)
        retention = baseline_retention(results[0], 0.2, decision["schemes"])
        reasons = verdict_reasons(decision, results[0], retention, measure="revenue", horizon_months=6)
        out[name] = {"truth": truth, "tables": origins[0][0], "results": results, "decision": decision,
                     "retention": retention, "reasons": reasons}
    return out


def test_tiers_win_when_value_moved_to_recent_big_occasional_buyers(scenario_verdicts):
    s = scenario_verdicts["tiers_win"]
    d = s["decision"]
    assert d["recommended"] == "percentile_tiers" and d["clear_winner"] and d["origin_winners"] == SIMPLICITY[:1] * 3
    assert s["reasons"][0].startswith("Percentile tiers is the clear winner")
    # the planted mechanism: the risers are the tiers' VIPs; the faded whales are RFM's Champions
    truth = s["truth"].set_index("customer_id")["type"]
    tiers = s["tables"]["percentile_tiers"].set_index("customer_id")["segment"]
    rfm = s["tables"]["rfm"].set_index("customer_id")["segment"]
    risers, whales = truth.index[truth == "riser"], truth.index[truth == "whale_faded"]
    assert (tiers.reindex(risers) == "VIP").mean() > 0.8
    assert (tiers.reindex(whales) == "VIP").mean() < 0.2
    assert (rfm.reindex(whales) == "Champions").mean() > 0.5


def test_rfm_wins_when_the_future_follows_recency_and_frequency(scenario_verdicts):
    s = scenario_verdicts["rfm_wins"]
    d = s["decision"]
    assert d["recommended"] == "rfm" and d["clear_winner"]
    assert all(a["ci95"][0] > 0 for a in d["advantage"].values())
    assert s["reasons"][0].startswith("RFM is the clear winner")


def test_a_simple_ranking_beats_every_scheme_and_the_reasons_say_so(scenario_verdicts):
    s = scenario_verdicts["simple_wins"]
    r = s["retention"]
    main = s["results"][0]
    assert r["simple_beats_all"] and r["best_baseline"] == "past_value"
    assert all(main["past_value"]["capture_auc"] > main[n]["capture_auc"] for n in SIMPLICITY)
    assert all(k["capture_auc"] < 1 for k in r["kept"].values())
    assert any(x.startswith("A simple ranking beats every scheme") for x in s["reasons"])
    assert any("best simple ranking (last-6-month value)" in x for x in s["reasons"])


def test_indistinguishable_schemes_give_no_clear_winner_and_the_simplest_scheme(scenario_verdicts):
    s = scenario_verdicts["indistinguishable"]
    d = s["decision"]
    assert not d["clear_winner"] and d["recommended"] == "percentile_tiers"
    # the tie-break, not luck: the simplest of the best and the schemes tied with it
    assert d["recommended"] == [n for n in SIMPLICITY if n == d["best"] or n in d["tied_with_best"]][0]
    assert s["reasons"][0].startswith("No clear winner")
    assert all(abs(r[n]["capture_auc"]) < 0.1 for r in s["results"] for n in SIMPLICITY)
    assert d["tied_with_best"] and all(d["advantage"][n]["ci95"][0] <= 0 for n in d["tied_with_best"])


def test_scenarios_are_deterministic_and_unknown_names_are_refused():
    from segkit.datasets import make_scenario
    from segkit.errors import ParameterError

    a, ta = make_scenario("rfm_wins", n_customers=50, months=12, seed=3)
    b, tb = make_scenario("rfm_wins", n_customers=50, months=12, seed=3)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(ta, tb)
    with pytest.raises(ParameterError, match="unknown scenario"):
        make_scenario("tiers_lose")
