"""Comparison on equal footing: capture and area by hand, invariances, bootstrap, the verdict rule."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segkit.compare import (CustomerWeights, baseline_orders, baseline_retention, capture, capture_curve,
                            compare_rankings, criterion_outcomes, practicality, primary, refit_stability,
                            scorecard_fragments, sensitivity_settings, verdict, verdict_sensitivity)
from segkit.errors import DataError, ParameterError

SHARES = (0.1, 0.2, 0.4)


def table(ranks, labels=None):
    ids = [f"c{i:03d}" for i in range(len(ranks))]
    return pd.DataFrame({"customer_id": ids, "segment": labels or [f"S{r}" for r in ranks], "rank": ranks})


def outcomes(values):
    return pd.DataFrame({"customer_id": [f"c{i:03d}" for i in range(len(values))], "outcome": values})


# ====================================================================== by hand
def test_capture_and_area_of_a_two_segment_scheme_by_hand():
    # segment 1 = 2 of 4 customers holding 6+2 = 8 of 10; segment 2 holds 2 + 0.
    # vertices (0,0) (0.5,0.8) (1,1); C(0.1) = 0.1/0.5*0.8 = 0.16, C(0.2) = 0.32, C(0.4) = 0.64
    # A = 0.5*(0+0.8)/2 + 0.5*(0.8+1)/2 = 0.2 + 0.45 = 0.65
    # oracle 6 | 2,2 | 0: vertices (0,0) (.25,.6) (.75,1) (1,1): A* = .25*.3 + .5*.8 + .25*1 = 0.725
    # capture_auc = (0.65-0.5)/(0.725-0.5) = 0.15/0.225 = 2/3
    r = capture(np.array([1, 1, 2, 2]), np.array([6.0, 2, 2, 0]), SHARES)
    assert r["capture_at"] == pytest.approx({"0.1": 0.16, "0.2": 0.32, "0.4": 0.64})
    assert r["area"] == pytest.approx(0.65)
    assert r["oracle_area"] == pytest.approx(0.725)
    assert r["capture_auc"] == pytest.approx(2 / 3)


def test_full_resolution_ranking_with_a_tie_and_worse_than_random_by_hand():
    # past value 5, 3, 3, 1 -> keys -5, -3, -3, -1; holdout outcome 0, 4, 0, 6 (T = 10)
    # groups {c0}: 0, {c1, c2}: 4, {c3}: 6 -> vertices (0,0) (.25,0) (.75,.4) (1,1)
    # A = 0 + .5*(0+.4)/2 + .25*(.4+1)/2 = .1 + .175 = .275
    # oracle 6, 4, 0, 0 -> (0,0) (.25,.6) (.5,1) (1,1): A* = .075 + .2 + .5 = .775
    # capture_auc = (.275-.5)/(.775-.5) = -.225/.275 = -9/11; C(0.4) = (.4-.25)/.5 * .4 = .12
    r = capture(np.array([-5.0, -3, -3, -1]), np.array([0.0, 4, 0, 6]), SHARES)
    assert r["capture_auc"] == pytest.approx(-9 / 11)
    assert r["capture_at"] == pytest.approx({"0.1": 0.0, "0.2": 0.0, "0.4": 0.12})


def test_capture_curve_passes_through_the_segment_end_points():
    curve = capture_curve(np.array([1, 1, 2, 2]), np.array([6.0, 2, 2, 0]), points=5)
    assert curve["ranking"].tolist() == pytest.approx([0, 0.4, 0.8, 0.9, 1.0])
    assert curve["oracle"].tolist() == pytest.approx([0, 0.6, 0.8, 1.0, 1.0])


def test_degenerate_outcomes_are_defined_never_nan():
    nothing = capture(np.array([1, 2, 2]), np.zeros(3), SHARES)   # nothing to capture: the diagonal
    assert nothing["capture_at"] == pytest.approx({"0.1": 0.1, "0.2": 0.2, "0.4": 0.4})
    assert nothing["capture_auc"] == 0.0
    equal = capture(np.array([3, 1, 2]), np.full(3, 5.0), SHARES)  # A* = 0.5: no order can do better
    assert equal["capture_auc"] == 0.0 and equal["capture_at"]["0.4"] == pytest.approx(0.4)


# ====================================================================== invariances
def test_splitting_a_segment_into_parts_with_the_same_mean_leaves_the_area_unchanged():
    y = np.array([9.0, 1, 4, 0, 4, 0, 1])
    one = capture(np.array([1, 1, 2, 2, 2, 2, 3]), y, SHARES)
    # segment 2 (4, 0, 4, 0) split into (4, 0) and (4, 0): both means 2
    split = capture(np.array([1, 1, 2, 2, 3, 3, 4]), y, SHARES)
    assert split["area"] == pytest.approx(one["area"]) and split["capture_auc"] == pytest.approx(one["capture_auc"])
    # split along the outcome (4, 4 first): the area grows, at most to the segment sorted by outcome
    along = capture(np.array([1, 1, 2, 3, 2, 3, 4]), y, SHARES)
    assert along["area"] > one["area"] + 1e-6


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4), st.integers(0, 20)), min_size=2, max_size=30), st.integers(1, 4))
def test_a_split_that_follows_the_outcome_raises_the_area_within_the_pro_rata_bound(rows, seg):
    rank = np.array([r for r, _ in rows], float)
    y = np.array([v for _, v in rows], float)
    base = capture(rank, y, SHARES)["area"]
    inside = rank == seg
    # split `seg` by the outcome: customers above the segment's median outcome go first
    med = np.median(y[inside]) if inside.any() else 0.0
    split = np.where(inside & (y > med), seg - 0.5, rank)
    sorted_inside = np.where(inside, seg - 0.5 + 0.4 * (1 - y / (y.max() + 1)), rank)  # fully sorted
    assert capture(split, y, SHARES)["area"] >= base - 1e-12
    assert capture(split, y, SHARES)["area"] <= capture(sorted_inside, y, SHARES)["area"] + 1e-12


def test_relabelling_segments_and_reordering_rows_change_nothing():
    t = table([1, 2, 2, 3, 1, 3])
    o = outcomes([5.0, 1, 0, 2, 3, 0])
    a = compare_rankings({"s": t}, o, 0.2, n_boot=50, seed=3)["s"]
    renamed = t.assign(segment=t["segment"].map({"S1": "gold", "S2": "silver", "S3": "zz"}))
    b = compare_rankings({"s": renamed.iloc[::-1]}, o.iloc[[3, 1, 0, 5, 4, 2]], 0.2, n_boot=50, seed=3)["s"]
    assert a["capture_at"] == b["capture_at"] and a["capture_auc"] == b["capture_auc"]
    np.testing.assert_array_equal(a["boot"]["capture_auc"], b["boot"]["capture_auc"])


def test_weighted_capture_equals_capture_on_rows_repeated_by_the_weights():
    rng = np.random.default_rng(5)
    rank, y, w = rng.integers(1, 4, 40), rng.gamma(1.0, 10.0, 40) * (rng.random(40) < 0.6), rng.poisson(1.0, 40)
    weighted = capture(rank, y, SHARES, weights=w)
    repeated = capture(np.repeat(rank, w), np.repeat(y, w), SHARES)
    assert weighted["capture_at"] == pytest.approx(repeated["capture_at"])
    assert weighted["capture_auc"] == pytest.approx(repeated["capture_auc"])


def test_every_bootstrap_resample_is_the_capture_of_the_resampled_customers():
    rng = np.random.default_rng(6)
    t = table(list(rng.integers(1, 5, 60)))
    o = outcomes(list(rng.gamma(1.0, 10.0, 60) * (rng.random(60) < 0.5)))
    weights = CustomerWeights(t["customer_id"], n_boot=30, seed=9)
    res = compare_rankings({"s": t}, o, 0.2, n_boot=30, seed=9, weights=weights)["s"]
    W = np.concatenate(list(weights))
    for b in (0, 17, 29):
        w = W[b].astype(int)  # the weights are ordered by customer id, as the tables here
        again = capture(np.repeat(t["rank"].to_numpy(), w), np.repeat(o["outcome"].to_numpy(), w), SHARES)
        assert res["boot"]["capture_auc"][b] == pytest.approx(again["capture_auc"])
        assert res["boot"]["capture_at"]["0.2"][b] == pytest.approx(again["capture_at"]["0.2"])
    lo, hi = res["ci95"]["capture_auc"]
    assert lo == pytest.approx(np.quantile(res["boot"]["capture_auc"], 0.025))
    assert hi == pytest.approx(np.quantile(res["boot"]["capture_auc"], 0.975))


def test_customer_weights_subsample_large_sets_and_pair_origins_by_id():
    w = CustomerWeights([f"c{i:04d}" for i in range(1000)], n_boot=5, seed=1, max_customers=100)
    assert len(w.ids) == 100 and w.scale == pytest.approx(np.sqrt(0.1))
    pos = w.positions(["c0000", "c0001", "zzz"])
    assert pos[2] == -1 and set(pos[:2]) <= set(range(-1, 100))
    # the same id gets the same column, whichever origin asks
    assert w.positions([w.ids[7]])[0] == 7


def test_a_table_that_misses_evaluated_customers_is_refused():
    with pytest.raises(DataError, match="without a segment"):
        compare_rankings({"s": table([1, 2])}, outcomes([1.0, 2.0, 3.0]), 0.2, n_boot=0)


# ====================================================================== outcomes and baselines
def test_outcome_follows_the_criterion_summed_over_months_and_clipped_at_zero():
    hm = pd.DataFrame({
        "customer_id": ["a", "a", "b", "b", "z"],
        "month": pd.to_datetime(["2024-01-01", "2024-02-01"] * 2 + ["2024-01-01"]),
        "revenue": [10.0, -4, 5, -8, 9], "units": [2.0, 1, 1, -2, 1], "margin": [3.0, -1, 1, -3, 2],
        "payments": [1, 1, 1, 0, 1], "purchases": [1, 1, 1, 0, 1]})
    rev = criterion_outcomes(hm, ["b", "a", "c"], "revenue")
    assert rev["customer_id"].tolist() == ["a", "b", "c"]
    assert rev["outcome"].tolist() == [6.0, 0.0, 0.0]     # b: 5 - 8 < 0 -> 0; c: no holdout rows
    assert rev["bought"].tolist() == [True, True, False]  # b bought, then returned more
    assert criterion_outcomes(hm, ["a", "b"], "units")["outcome"].tolist() == [3.0, 0.0]
    assert criterion_outcomes(hm, ["a", "b"], "payments")["outcome"].tolist() == [2.0, 1.0]
    with pytest.raises(ParameterError):
        criterion_outcomes(hm.drop(columns="margin"), ["a"], "margin")


def test_baselines_order_by_last_purchase_and_by_the_windows_criterion():
    feats = pd.DataFrame({"customer_id": ["b", "a", "c"], "recency_days": [30, 2, 30]})
    monthly = pd.DataFrame({"customer_id": ["a", "b", "b", "c"], "units": [1.0, 2, 50, 3],
                            "month": pd.to_datetime(["2024-05-01", "2024-06-01", "2023-01-01", "2024-06-01"])})
    keys = baseline_orders(feats, monthly, "units", pd.to_datetime(["2024-05-01", "2024-06-01"]))
    assert keys["customer_id"].tolist() == ["a", "b", "c"]
    assert keys["recency"].tolist() == [2, 30, 30]
    assert keys["past_value"].tolist() == [-1.0, -2.0, -3.0]  # b's 50 units fall outside the window


# ====================================================================== the verdict
def res(auc, at, boot_auc=None, boot_at=None):
    out = {"capture_auc": auc, "capture_at": {"0.2": at}}
    if boot_auc is not None:
        out["boot"] = {"capture_auc": np.asarray(boot_auc, float), "capture_at": {"0.2": np.asarray(boot_at, float)}}
    return out


def noisy(auc, at, rng, spread=0.01, n=200):
    return res(auc, at, auc + rng.normal(0, spread, n), at + rng.normal(0, spread, n))


def test_winning_every_origin_with_an_interval_above_zero_is_a_clear_winner():
    rng = np.random.default_rng(0)
    origins = [{"tiers": noisy(0.60, 0.55, rng), "rfm": noisy(0.70, 0.65, rng)} for _ in range(3)]
    v = verdict(origins, 0.2, ["tiers", "rfm"])
    assert v["clear_winner"] and v["recommended"] == "rfm" and v["rule"] == "clear_winner"
    assert v["advantage"]["tiers"]["estimate"] == pytest.approx(0.10)
    assert v["advantage"]["tiers"]["ci95"][0] > 0.05


def test_losing_one_origin_means_no_clear_winner():
    rng = np.random.default_rng(1)
    origins = [{"tiers": noisy(0.60, 0.55, rng), "rfm": noisy(0.70, 0.65, rng)} for _ in range(2)]
    origins.append({"tiers": noisy(0.66, 0.60, rng), "rfm": noisy(0.64, 0.59, rng)})
    v = verdict(origins, 0.2, ["tiers", "rfm"])
    assert not v["clear_winner"] and v["origin_winners"] == ["rfm", "rfm", "tiers"]
    # rfm is still ahead beyond chance when pooled, and nothing beats it at the main cut-off
    assert v["recommended"] == "rfm" and v["rule"] == "best_not_clear" and v["tied_with_best"] == []


def test_tied_schemes_go_to_the_simplest_not_to_the_largest_segment():
    rng = np.random.default_rng(2)
    origins = [{"kmeans": noisy(0.612, 0.60, rng, 0.05), "tiers": noisy(0.60, 0.60, rng, 0.05),
                "rfm": noisy(0.605, 0.60, rng, 0.05)}]
    v = verdict(origins, 0.2, ["tiers", "rfm", "kmeans"])
    assert v["best"] == "kmeans" and set(v["tied_with_best"]) == {"tiers", "rfm"}
    assert v["recommended"] == "tiers" and v["rule"] == "simplest_of_tied" and not v["clear_winner"]
    assert v["schemes"] == ["tiers", "rfm", "kmeans"]


def test_a_tied_scheme_beaten_on_both_measures_at_the_main_cut_off_is_passed_over():
    # pooled over origins tiers and rfm are close, but at the main cut-off rfm beats tiers on both by 0.03
    rng = np.random.default_rng(3)
    origins = [{"tiers": noisy(0.60, 0.60, rng, 0.1), "rfm": noisy(0.63, 0.63, rng, 0.1)},
               {"tiers": noisy(0.66, 0.66, rng, 0.1), "rfm": noisy(0.60, 0.60, rng, 0.1)}]
    v = verdict(origins, 0.2, ["tiers", "rfm"])
    assert v["best"] == "tiers" and v["dominated"]["tiers"] == ["rfm"]
    assert v["recommended"] == "rfm"


def test_without_resamples_nothing_counts_as_distinguishable():
    v = verdict([{"a": res(0.5, 0.5), "b": res(0.51, 0.5)}], 0.2, ["a", "b"])
    assert v["advantage"]["a"]["ci95"] is None and v["recommended"] == "a" and not v["clear_winner"]


def test_baselines_do_not_take_part_in_the_verdict_and_no_scheme_is_refused():
    v = verdict([{"a": res(0.5, 0.5), "past_value": res(0.9, 0.9)}], 0.2, ["a"])
    assert v["schemes"] == ["a"] and v["recommended"] == "a"
    with pytest.raises(ParameterError):
        verdict([{"recency": res(0.5, 0.5)}], 0.2, [])


measure = st.floats(-0.2, 1.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 3), st.integers(2, 4), st.lists(st.tuples(measure, measure, st.floats(0.001, 0.2)),
                                                      min_size=12, max_size=12), st.integers(0, 10**6))
def test_the_recommendation_is_never_beaten_on_both_measures_by_more_than_the_tolerance(n_origins, n_schemes,
                                                                                      values, seed):
    rng = np.random.default_rng(seed)
    names = ["tiers", "rfm", "kmeans", "other"][:n_schemes]
    def draw(auc, at, spread):
        return noisy(auc, at, rng, spread, n=60)
    origins = [{n: draw(*values[(i * n_schemes + j) % 12]) for j, n in enumerate(names)}
               for i in range(n_origins)]
    v = verdict(origins, 0.2, list(rng.permutation(names)))
    main, r = origins[0], v["recommended"]
    for n in names:
        assert not (main[n]["capture_at"]["0.2"] - main[r]["capture_at"]["0.2"] > 0.02
                    and main[n]["capture_auc"] - main[r]["capture_auc"] > 0.02)
    if v["clear_winner"]:
        assert all(w == r for w in v["origin_winners"])
        assert all(a["ci95"][0] > 0 for a in v["advantage"].values())


def test_primary_is_the_mean_of_area_and_capture_at_vip_share():
    assert primary(res(0.7, 0.4), 0.2) == pytest.approx(0.55)


# ====================================================================== baselines, practicality
def test_retention_of_the_best_simple_ranking_and_the_flag():
    results = {"tiers": res(0.658, 0.624), "rfm": res(0.611, 0.553), "recency": res(0.682, 0.674),
               "past_value": res(0.681, 0.715)}
    out = baseline_retention(results, 0.2, ["tiers", "rfm"])
    assert out["best_baseline"] == "past_value"  # (0.681 + 0.715)/2 = 0.698 > (0.682 + 0.674)/2 = 0.678
    assert out["kept"]["tiers"]["capture_auc"] == pytest.approx(0.658 / 0.681)
    assert out["kept"]["tiers"]["capture_at"] == pytest.approx(0.624 / 0.715)
    assert out["simple_beats_all"]
    results["tiers"] = res(0.70, 0.72)
    assert not baseline_retention(results, 0.2, ["tiers", "rfm"])["simple_beats_all"]
    results["past_value"] = res(0.0, 0.0)
    results["recency"] = res(-0.1, 0.1)
    assert baseline_retention(results, 0.2, ["tiers"])["kept"]["tiers"]["capture_auc"] is None


def test_practicality_flags_segments_under_one_percent():
    t = table([1] * 1 + [2] * 150 + [3] * 49)
    p = practicality(t)
    assert p == {"n_segments": 3, "min_segment_share": 0.005, "smallest_segment": "S1", "small_segments": ["S1"]}


# ====================================================================== stability, sensitivity
def _quartiles(values: pd.Series):
    def fit(ids):
        v = values.reindex(ids)
        rank = 4 - np.searchsorted(np.quantile(v, [0.25, 0.5, 0.75]), v.to_numpy(), side="right")
        return pd.DataFrame({"customer_id": ids, "segment": [f"Q{r}" for r in rank], "rank": rank})
    return fit


def test_refit_stability_of_a_ranked_scheme_is_high_and_matched_clusters_agree_fully():
    rng = np.random.default_rng(0)
    ids = np.array([f"c{i:04d}" for i in range(400)])
    fit = _quartiles(pd.Series(rng.lognormal(0, 1, 400), index=ids))
    out = refit_stability(fit, ids, fit(ids), n_resamples=10, seed=1)
    assert 0.6 < out["ari"] <= 1 and out["ari_ci95"][0] <= out["ari"] <= out["ari_ci95"][1]
    assert out["same_segment"] > 0.85 and len(out["values"]) == 10

    ref = pd.DataFrame({"customer_id": ids, "segment": np.arange(400) % 4, "rank": 0})

    def same_partition(sub):  # the same partition every time, cluster numbers shuffled per refit
        codes = pd.Index(ids).get_indexer(sub) % 4
        perm = rng.permutation(4)
        return pd.DataFrame({"customer_id": sub, "segment": perm[codes], "rank": 0})
    unordered = refit_stability(same_partition, ids, ref, n_resamples=5, seed=2, ordered=False)
    assert unordered["same_segment"] == 1.0 and unordered["ari"] == pytest.approx(1.0)


def test_the_sensitivity_table_shows_when_the_winner_moves():
    settings_ = sensitivity_settings({"vip_share": 0.2, "criterion": "revenue", "holdout_months": 6},
                                     ["revenue", "units"])
    assert len(settings_) == 5

    def decide(s):
        if s["holdout_months"] == 3:
            raise ParameterError("too short", where="holdout_months")
        return "rfm" if s["criterion"] == "units" else "percentile_tiers"
    out = verdict_sensitivity(decide, settings_)
    t = out["table"]
    assert out["changed"] and out["base_winner"] == "percentile_tiers"
    assert t.loc[t["criterion"] == "units", "same_as_base"].tolist() == [False]
    assert t.loc[t["holdout_months"] == 3, "winner"].isna().all()
    assert "too short" in t.loc[t["holdout_months"] == 3, "note"].iloc[0]
    assert not verdict_sensitivity(lambda s: "x", settings_)["changed"]


# ====================================================================== scorecard
def test_scorecard_fragments_follow_the_contract_and_serialise():
    t, o = table([1, 2, 2, 3]), outcomes([5.0, 1, 0, 2])
    base = pd.DataFrame({"customer_id": o["customer_id"], "recency": [1, 2, 3, 4], "past_value": [-4, -3, -2, -1]})
    main = compare_rankings({"a": t, "b": table([2, 1, 1, 2])}, o, 0.2, baselines=base, n_boot=20)
    backtest = [{"as_of": "2024-06-30", "holdout": {"start": "2024-07-01", "end": "2024-12-31"}, "results": main}]
    v = verdict([main], 0.2, ["a", "b"])
    frag = scorecard_fragments(main, backtest, v, measure="revenue", horizon_months=6, decision_rule="A rule.")
    assert frag["outcome"] == {"measure": "revenue", "horizon_months": 6}
    comp = frag["schemes"]["a"]["comparison"]
    assert set(comp) == {"capture_at", "capture_auc", "ci95"} and set(comp["capture_at"]) == {"0.1", "0.2", "0.4"}
    assert set(frag["baselines"]) == {"recency", "past_value"}
    assert set(frag["baselines"]["recency"]) == {"capture_at", "capture_auc"}
    assert frag["backtest"][0]["winner"] == v["origin_winners"][0]
    assert set(frag["backtest"][0]["schemes"]) == {"a", "b"}
    assert frag["clear_winner"] is v["clear_winner"] and frag["decision_rule"] == "A rule."
    json.dumps(frag, allow_nan=False)


# ====================================================================== words
def test_reasons_are_sentences_built_from_the_numbers():
    from segkit.narrative import decision_rule, practicality_sentence, sensitivity_sentence, verdict_reasons

    rng = np.random.default_rng(0)
    main = {"tiers": noisy(0.658, 0.624, rng), "rfm": noisy(0.611, 0.553, rng),
            "recency": res(0.682, 0.674), "past_value": res(0.681, 0.715)}
    main["tiers"]["ci95"] = {"capture_auc": [0.638, 0.676]}
    v = verdict([main], 0.2, ["tiers", "rfm"])
    reasons = verdict_reasons(v, main, baseline_retention(main, 0.2, v["schemes"]), measure="revenue",
                              horizon_months=6)
    assert reasons[0].startswith("Tiers is the clear winner: best at the only cut-off")
    assert "ahead of RFM by 0.059 (95% interval" in reasons[0]  # (0.658 + 0.624)/2 - (0.611 + 0.553)/2
    assert "pooled" not in reasons[0]  # one cut-off: nothing to pool
    assert reasons[1] == ("Ordering customers by tiers, the top 20% held 62% of the next 6 months' revenue (area "
                          "score 0.66, 95% interval 0.64 to 0.68; 0 = random order, 1 = perfect foresight).")
    # 0.624 / 0.715 = 87%, 0.658 / 0.681 = 97%
    assert "The best simple ranking (last-6-month value) held 72%: tiers keeps 87% of it, and 97% of its area " \
           "score." in reasons
    assert reasons[-1].startswith("A simple ranking beats every scheme")
    assert "segment size plays no part" in decision_rule(0.2, 0.02, ["tiers", "rfm"])
    assert practicality_sentence("rfm", practicality(table([1] + [2] * 199))).endswith("S1 is under 1%: too small "
                                                                                      "to staff.")
    moved = verdict_sensitivity(lambda s: "rfm" if s["vip_share"] == 0.1 else "kmeans",
                                [{"vip_share": 0.2}, {"vip_share": 0.1}])
    assert sensitivity_sentence(moved) == ("The recommendation moves with the settings: k-means at the base "
                                           "setting, but with vip_share 0.1 it is RFM.")


# ====================================================================== the bundled data
def _independent_capture(order: pd.Series, y: pd.Series, share: float) -> tuple[float, float]:
    """capture_at and capture_auc straight from the definitions, with pandas and np.trapezoid."""
    g = pd.DataFrame({"key": order, "y": y}).groupby("key", sort=True)["y"].agg(["size", "sum"])
    x = np.concatenate([[0], g["size"].cumsum() / len(y)])
    c = np.concatenate([[0], g["sum"].cumsum() / y.sum()])
    best = np.concatenate([[0], np.sort(y.to_numpy())[::-1].cumsum() / y.sum()])
    a_star = np.trapezoid(best, np.linspace(0, 1, len(best)))
    return float(np.interp(share, x, c)), float((np.trapezoid(c, x) - 0.5) / (a_star - 0.5))


def test_cdnow_default_run_matches_an_independent_recount(cdnow_tx):
    from threadpoolctl import threadpool_limits

    from segkit.features import customer_features, customer_month, split_periods
    from segkit.schemes import KMeansSegmenter, PercentileTiers, RFMSegmenter

    split = split_periods(cdnow_tx, holdout_months=6)
    features = customer_features(cdnow_tx, split.as_of)
    monthly = customer_month(cdnow_tx, split.previous_window_months[0], split.as_of)
    outcome = criterion_outcomes(customer_month(cdnow_tx, split.holdout_start, split.holdout_end),
                                 features["customer_id"], "revenue")
    with threadpool_limits(limits=1):
        tables = {"percentile_tiers": PercentileTiers(as_of=split.as_of).fit_monthly(monthly, customers=features),
                  "rfm": RFMSegmenter().fit_features(features),
                  "kmeans": KMeansSegmenter(random_state=0).fit_features(features)}
    tables = {n: s.segment_table() for n, s in tables.items()}
    keys = baseline_orders(features, monthly, "revenue", split.window_months)
    got = compare_rankings(tables, outcome, 0.2, baselines=keys, n_boot=0)
    y = outcome.set_index("customer_id")["outcome"]
    orders = {n: t.set_index("customer_id")["rank"] for n, t in tables.items()}
    orders |= {b: keys.set_index("customer_id")[b] for b in ("recency", "past_value")}
    for name, order in orders.items():
        at, auc = _independent_capture(order.reindex(y.index), y, 0.2)
        assert got[name]["capture_at"]["0.2"] == pytest.approx(at, abs=1e-9)
        assert got[name]["capture_auc"] == pytest.approx(auc, abs=1e-9)
    # the figures of the public re-count (tiers / RFM / k-means; last purchase / last-6-month value)
    auc = [round(got[n]["capture_auc"], 3) for n in ("percentile_tiers", "rfm", "kmeans", "recency", "past_value")]
    assert auc == [0.658, 0.611, 0.586, 0.682, 0.681]
    assert [round(got[n]["capture_at"]["0.2"], 3) for n in ("percentile_tiers", "rfm", "kmeans")] == \
        [0.624, 0.553, 0.597]
