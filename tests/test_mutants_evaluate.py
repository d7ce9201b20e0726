"""Evaluation numbers that mutation testing found unchecked: stability between two fits, the capture
curve's ends and degenerate cases, migration and persistence tables, Jaccard overlaps, the VIP
sensitivity's reuse of the base set, the period-total comparison, the recommended scheme's
segments and the scorecard's JSON cleaning. Small hand-checked frames only.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from segkit.calendar import make_split
from segkit.evaluate import (agreement, build_scorecard, capture_curve, holdout_curves, jaccard, migration_matrix,
                             persistence, point_metrics,
                             recommended_segments, score_scheme, stability_ari, union_vs_period_total,
                             vip_sensitivity)


def seg_table(pairs: dict[str, str], ranks: dict[str, int] | None = None) -> pd.DataFrame:
    """customer -> segment, with the tiers' rank order unless given."""
    ranks = ranks or {"VIP": 1, "GOOD": 2, "REGULAR": 3, "INACTIVE": 4}
    return pd.DataFrame({"customer_id": list(pairs), "segment": list(pairs.values()),
                         "rank": [ranks[s] for s in pairs.values()]})


def outcomes(revenue: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": list(revenue), "holdout_revenue": [float(v) for v in revenue.values()],
                         "bought": [v > 0 for v in revenue.values()]})


def test_point_metrics_are_the_scores_without_intervals_and_take_the_previous_fit():
    t = seg_table({"a": "VIP", "b": "GOOD", "c": "REGULAR", "d": "REGULAR"})
    o = outcomes({"a": 6, "b": 3, "c": 1, "d": 0})
    m = point_metrics(t, o)
    assert m == score_scheme(t, o, n_boot=0)["metrics"]
    assert m["top_segment_holdout_revenue_share"] == 0.6 and m["top_segment_share"] == 0.25
    assert m["top_segment_lift"] == pytest.approx(2.4) and m["stability_ari"] is None
    # the previous fit had a and b swapped: the same partition, so the adjusted Rand index is 1
    prev = seg_table({"a": "GOOD", "b": "VIP", "c": "REGULAR", "d": "REGULAR"})
    assert point_metrics(t, o, prev)["stability_ari"] == 1.0
    assert score_scheme(t, o, n_boot=5)["ci95"].keys() == {"top_segment_holdout_revenue_share", "top_segment_lift",
                                                           "holdout_spearman", "holdout_activity_auc"}


def test_stability_needs_two_customers_in_both_fits():
    now = seg_table({"a": "VIP", "b": "GOOD", "c": "REGULAR"})
    assert stability_ari(now, seg_table({"a": "VIP", "z": "GOOD"})) == 0.0       # one common customer
    assert stability_ari(now, seg_table({"a": "VIP", "b": "GOOD"})) == 1.0       # two, kept apart
    assert stability_ari(now, seg_table({"a": "VIP", "b": "VIP"})) == 0.0        # two, merged: chance level
    # a and b together before, apart now, c alone both times: ARI of [0, 0, 1] vs [0, 1, 2] is 0
    assert stability_ari(now, seg_table({"a": "VIP", "b": "VIP", "c": "GOOD"})) == pytest.approx(0.0)


def test_capture_curve_follows_the_segments_in_rank_order():
    # b (rank 1) holds 6 of 10, a (rank 2) holds 4: the scheme captures 0.6 at half the customers;
    # a sorts first by id, so ranks must be taken in rank order, not in the order customers come
    t = seg_table({"a": "GOOD", "b": "VIP"})
    curve = capture_curve(t, outcomes({"a": 4, "b": 6}), points=3)
    assert list(curve.columns) == ["share_of_customers", "scheme", "oracle", "random"]
    assert curve["share_of_customers"].tolist() == [0.0, 0.5, 1.0] and curve["random"].tolist() == [0.0, 0.5, 1.0]
    assert curve["scheme"].tolist() == pytest.approx([0.0, 0.6, 1.0])
    assert curve["oracle"].tolist() == pytest.approx([0.0, 0.6, 1.0])
    swapped = capture_curve(seg_table({"a": "VIP", "b": "GOOD"}), outcomes({"a": 4, "b": 6}), points=3)
    assert swapped["scheme"].tolist() == pytest.approx([0.0, 0.4, 1.0])
    assert swapped["oracle"].tolist() == pytest.approx([0.0, 0.6, 1.0])


def test_capture_curve_with_little_or_no_holdout_revenue():
    t = seg_table({"a": "VIP", "b": "GOOD", "c": "REGULAR", "d": "REGULAR"})
    small = capture_curve(t, outcomes({"a": 0.25, "b": 0.25, "c": 0, "d": 0}), points=5)
    assert small["scheme"].tolist() == pytest.approx([0.0, 0.5, 1.0, 1.0, 1.0])    # a total under 1 is a total
    assert small["oracle"].tolist() == pytest.approx([0.0, 0.5, 1.0, 1.0, 1.0])
    none = capture_curve(t, outcomes({"a": 0, "b": 0, "c": 0, "d": 0}), points=5)
    assert none["scheme"].tolist() == [0.0] * 5 and none["oracle"].tolist() == [0.0] * 5


def tiers_before_after():
    before = seg_table({"a": "VIP", "b": "VIP", "c": "GOOD", "d": "REGULAR", "e": "REGULAR", "x": "GOOD"})
    after = seg_table({"a": "VIP", "b": "REGULAR", "c": "VIP", "d": "REGULAR", "e": "GOOD", "y": "VIP"})
    return before, after


def test_migration_matrix_counts_moves_in_rank_order_not_by_name():
    before, after = tiers_before_after()
    m = migration_matrix(before, after)   # x left, y is new: only a..e count
    assert m.index.tolist() == ["VIP", "GOOD", "REGULAR"] and m.columns.tolist() == ["VIP", "GOOD", "REGULAR"]
    assert m.to_numpy().tolist() == [[1, 0, 1], [1, 0, 0], [0, 1, 1]]
    share = migration_matrix(before, after, normalize=True)
    assert share.to_numpy().tolist() == [[0.5, 0.0, 0.5], [1.0, 0.0, 0.0], [0.0, 0.5, 0.5]]


def test_persistence_is_the_share_that_stayed_and_zero_when_the_segment_vanished():
    before, after = tiers_before_after()
    p = persistence(before, after)
    assert list(p.columns) == ["segment", "customers_before", "stayed", "persistence"]
    assert p["segment"].tolist() == ["VIP", "GOOD", "REGULAR"]
    assert p["customers_before"].tolist() == [2, 1, 2] and p["stayed"].tolist() == [1, 0, 1]
    assert p["persistence"].tolist() == [0.5, 0.0, 0.5]
    # nobody is GOOD any more: GOOD is no column of the matrix, its persistence is 0
    gone = persistence(seg_table({"a": "GOOD", "b": "VIP"}), seg_table({"a": "VIP", "b": "VIP"}))
    assert gone.set_index("segment")["stayed"].to_dict() == {"VIP": 1, "GOOD": 0}


def test_jaccard_of_empty_and_disjoint_sets():
    assert jaccard([], set()) == 1.0
    assert jaccard(["a"], []) == 0.0 and jaccard([], ["a"]) == 0.0
    assert jaccard(["a", "b"], ["b", "c"]) == pytest.approx(1 / 3)


def test_vip_sensitivity_fits_each_setting_once_and_the_base_when_its_criterion_is_not_compared():
    calls = []

    def fit(criterion: str, share: float) -> set:
        calls.append((criterion, share))
        top = {"revenue": ["a", "b", "c", "d"], "units": ["b", "a", "d", "c"]}[criterion]
        return set(top[:round(share * 10)])

    got = vip_sensitivity(fit, ["units"], [0.1, 0.2], base_criterion="revenue", base_share=0.2)
    # revenue is not among the compared criteria: fitted once at the base share, reused for 0.2
    assert calls == [("units", 0.2), ("revenue", 0.2), ("revenue", 0.1)]
    shares = got["shares"].set_index("vip_share")
    assert shares["vip_customers"].tolist() == [1, 2] and shares["jaccard_with_base"].tolist() == [0.5, 1.0]
    assert shares["kept_from_base"].tolist() == [1, 2]
    assert got["vip_counts"].to_dict() == {"units": 2}


def test_union_against_period_total_by_hand():
    union = seg_table({"a": "VIP", "b": "VIP", "c": "VIP", "d": "GOOD"})
    period = seg_table({"a": "VIP", "b": "GOOD", "c": "GOOD", "d": "VIP"})
    alerts = pd.DataFrame({"customer_id": ["b", "a"], "value_at_risk": [30.0, 12.5]})
    got = union_vs_period_total(union, period, outcomes({"a": 5, "b": 7, "d": 1}), alerts)
    assert got == {"union_vip": 3, "period_total_vip": 2, "both": 1, "missed_by_period_total": 2,
                   "missed_holdout_revenue": 7.0,  # b 7, c has no holdout row: 0
                   "only_period_total": 1, "dropouts_flagged_by_union": 2, "dropouts_not_vip_in_period_total": 1,
                   "dropout_value_at_risk": 42.5, "missed_customers": ["b", "c"]}
    quiet = union_vs_period_total(union, period, outcomes({"a": 5}), alerts.iloc[:0])
    assert quiet["dropout_value_at_risk"] == 0.0 and quiet["dropouts_flagged_by_union"] == 0


def test_recommended_segments_of_the_chosen_scheme_or_empty():
    tables = {"tiers": seg_table({"b": "VIP", "a": "GOOD"}),
              "rfm": pd.DataFrame({"customer_id": [2, 1], "segment": ["Lost", "Champions"], "rank": [11, 1]})}
    got = recommended_segments(tables, "rfm")
    assert got.to_dict() == {"2": "Lost", "1": "Champions"}
    for nothing in (None, "kmeans"):
        empty = recommended_segments(tables, nothing)
        assert empty.index.tolist() == ["b", "a"] and empty.tolist() == ["", ""]


def test_scorecard_merges_the_comparison_and_cleans_numbers_for_json():
    split = make_split(dt.date(2024, 1, 1), dt.date(2024, 6, 30), holdout_months=3, window_months=2)
    scores = {"tiers": {"segments": [{"label": "VIP", "customers": np.int64(3)}],
                        "metrics": {"lift": np.float64(2.0 / 3), "bad": float("nan"), "flag": np.bool_(True)},
                        "ci95": {"lift": (0.1234567, np.float32(np.inf))}, "boot": {"lift": np.zeros(3)}}}
    verdict = {"recommended": "tiers", "reasons": ("one", "two"), "clear_winner": False,
               "schemes": {"tiers": {"comparison": {1: 0.5}}, "other": {"comparison": {}}},
               "outcome": {"criterion": "revenue"}}
    card = build_scorecard("demo", split, scores, verdict)
    assert card == {
        "run": "demo",
        "calibration": {"start": "2024-01-01", "end": "2024-06-30"},
        "holdout": {"start": "2024-07-01", "end": "2024-09-30"},
        "schemes": {"tiers": {"segments": [{"label": "VIP", "customers": 3}],
                              "metrics": {"lift": 0.666667, "bad": None, "flag": True},
                              "ci95": {"lift": [0.123457, None]}, "comparison": {"1": 0.5}}},
        "recommended": "tiers", "reasons": ["one", "two"], "clear_winner": False,
        "outcome": {"criterion": "revenue"},
    }
    assert type(card["schemes"]["tiers"]["segments"][0]["customers"]) is int
    assert type(card["schemes"]["tiers"]["metrics"]["flag"]) is bool
    # a verdict without per-scheme parts leaves each scheme's scores as they are
    bare = build_scorecard("demo", split, scores, {"recommended": None, "reasons": []})
    assert set(bare["schemes"]["tiers"]) == {"segments", "metrics", "ci95"} and bare["recommended"] is None


def test_large_runs_bootstrap_a_seeded_subsample_narrowed_around_the_full_estimate(monkeypatch):
    import segkit.evaluate as ev

    monkeypatch.setattr(ev, "_MAX_BOOT_CUSTOMERS", 40)   # 160 customers count as "large" here
    rng = np.random.default_rng(3)
    ids = [f"c{i:03d}" for i in range(160)]
    t = pd.DataFrame({"customer_id": ids, "segment": np.where(np.arange(160) < 40, "VIP", "REGULAR"),
                      "rank": np.where(np.arange(160) < 40, 1, 2)})
    o = pd.DataFrame({"customer_id": ids, "holdout_revenue": rng.exponential(10, 160).round(2),
                      "bought": rng.random(160) < 0.6})
    first, again = score_scheme(t, o, n_boot=50, seed=1), score_scheme(t, o, n_boot=50, seed=1)
    assert first["ci95"] == again["ci95"]                        # the subsample is seeded
    for key in ("top_segment_holdout_revenue_share", "holdout_activity_auc"):
        boot = first["boot"][key]
        # m-out-of-n: the resamples of 40 customers, centred on the estimate from all 160 and
        # narrowed by sqrt(40 / 160) = 0.5
        assert boot.mean() == pytest.approx(first["metrics"][key])
        assert len(boot) == 50


def test_segment_rows_state_revenue_and_shares_and_zero_shares_without_revenue():
    t = seg_table({"a": "VIP", "b": "GOOD", "c": "GOOD"})
    rows = score_scheme(t, outcomes({"a": 6, "b": 3, "c": 0}), n_boot=0)["segments"]
    assert [(r["label"], r["rank"], r["customers"]) for r in rows] == [("VIP", 1, 1), ("GOOD", 2, 2)]
    assert [r["holdout_revenue"] for r in rows] == [6.0, 3.0]
    assert [r["holdout_revenue_share"] for r in rows] == pytest.approx([2 / 3, 1 / 3])
    assert [r["retention"] for r in rows] == [1.0, 0.5] and [r["revenue_per_customer"] for r in rows] == [6.0, 1.5]
    quiet = score_scheme(t, outcomes({"a": 0, "b": 0, "c": 0}), n_boot=0)["segments"]
    assert [r["holdout_revenue_share"] for r in quiet] == [0.0, 0.0]


def test_capture_curve_has_101_points_by_default():
    curve = capture_curve(seg_table({"a": "VIP", "b": "GOOD"}), outcomes({"a": 3.0, "b": 1.0}))
    assert len(curve) == 101 and curve["share_of_customers"].iloc[1] == pytest.approx(0.01)


def test_holdout_curves_columns_and_whole_buyer_counts():
    table = seg_table({"a": "VIP", "b": "GOOD", "c": "GOOD"})
    hm = pd.DataFrame({"customer_id": ["a", "b"], "month": pd.to_datetime(["2024-01-01", "2024-02-01"]),
                       "revenue": [5.0, 2.0], "purchases": [1, 1]})
    got = holdout_curves(table, hm)
    assert got.columns.tolist() == ["month", "rank", "segment", "segment_customers", "revenue", "buyers",
                                    "share_buying"]
    assert got["buyers"].dtype == "int64" and got.index.tolist() == [0, 1, 2, 3]
    assert got["buyers"].tolist() == [1, 0, 0, 1] and got["share_buying"].tolist() == [1.0, 0.0, 0.0, 0.5]


def test_agreement_of_a_scheme_with_itself_is_one_and_the_pair_rows_are_named():
    a = seg_table({"x": "VIP", "y": "GOOD", "z": "GOOD"})
    b = seg_table({"x": "GOOD", "y": "VIP", "z": "GOOD"})
    got = agreement({"a": a, "b": b})
    assert got["nmi"].loc["a", "a"] == got["nmi"].loc["b", "b"] == 1.0 and got["ari"].loc["a", "a"] == 1.0
    top = got["top_disagreement"]
    assert top.columns.tolist()[:3] == ["top_of", "not_top_of", "customers"]
    assert top[["top_of", "not_top_of", "customers"]].values.tolist() == [["a", "b", 1], ["b", "a", 1],
                                                                          ["a and b", "", 0]]


def test_vip_sensitivity_reuses_the_base_set_instead_of_fitting_it_again():
    calls = []

    def fit(criterion, share):
        calls.append((criterion, share))
        return {"a", "b"} if criterion == "revenue" else {"a"}

    vip_sensitivity(fit, ["revenue", "units"], [0.2], base_criterion="revenue", base_share=0.2)
    assert calls == [("revenue", 0.2), ("units", 0.2)]


def test_agreement_revenue_at_stake_counts_customers_without_revenue_as_zero():
    # a tops x, y; b tops y, z; w is in neither top. x has no calibration revenue on record and z no
    # holdout row: each counts 0, not 1
    a = seg_table({"w": "GOOD", "x": "VIP", "y": "VIP", "z": "GOOD"})
    b = seg_table({"w": "GOOD", "x": "GOOD", "y": "VIP", "z": "VIP"})
    monetary = pd.Series({"w": 100.0, "y": 20.0, "z": 7.0})
    got = agreement({"a": a, "b": b}, monetary=monetary, outcomes=outcomes({"w": 50.0, "x": 3.0, "y": 4.0}))
    rows = got["top_disagreement"].to_dict("records")
    assert rows == [
        {"top_of": "a", "not_top_of": "b", "customers": 1, "calibration_revenue": 0.0, "holdout_revenue": 3.0},
        {"top_of": "b", "not_top_of": "a", "customers": 1, "calibration_revenue": 7.0, "holdout_revenue": 0.0},
        {"top_of": "a and b", "not_top_of": "", "customers": 1, "calibration_revenue": 20.0, "holdout_revenue": 4.0},
    ]
    # both in neither top: the shared row is all zeros, not the number of customers
    c = seg_table({"w": "GOOD", "x": "GOOD", "y": "GOOD", "z": "VIP"})
    d = seg_table({"w": "GOOD", "x": "VIP", "y": "GOOD", "z": "GOOD"})
    both = agreement({"c": c, "d": d}, monetary=pd.Series({"w": 1.0}),
                     outcomes=outcomes({"w": 1.0}))["top_disagreement"].to_dict("records")
    assert [(r["calibration_revenue"], r["holdout_revenue"]) for r in both] == [(0.0, 0.0)] * 3


def test_agreement_nmi_and_crosstab_of_two_different_schemes():
    from sklearn.metrics import normalized_mutual_info_score

    a = seg_table({"p": "VIP", "q": "VIP", "r": "GOOD", "s": "GOOD", "t": "REGULAR"})
    b = seg_table({"p": "VIP", "q": "GOOD", "r": "GOOD", "s": "REGULAR", "t": "REGULAR"})
    got = agreement({"a": a, "b": b})
    expected = normalized_mutual_info_score(a["segment"], b["segment"])
    assert 0 < expected < 1
    assert got["nmi"].loc["a", "b"] == got["nmi"].loc["b", "a"] == pytest.approx(expected)
    table = got["crosstabs"][("a", "b")]
    assert table.index.name == "a" and table.columns.name == "b"
    assert table.loc["VIP", "GOOD"] == 1 and table.loc["GOOD", "REGULAR"] == 1 and int(table.to_numpy().sum()) == 5


def test_agreement_shared_top_customer_without_revenue_on_record_counts_zero():
    # x is the top of both schemes but has neither calibration nor holdout revenue on record
    a = seg_table({"w": "GOOD", "x": "VIP"})
    b = seg_table({"w": "GOOD", "x": "VIP"})
    rows = agreement({"a": a, "b": b}, monetary=pd.Series({"w": 5.0}),
                     outcomes=outcomes({"w": 2.0}))["top_disagreement"].to_dict("records")
    assert rows[-1] == {"top_of": "a and b", "not_top_of": "", "customers": 1, "calibration_revenue": 0.0,
                        "holdout_revenue": 0.0}


def test_a_customer_without_outcomes_counts_as_no_revenue_and_no_purchase_and_ids_match_as_text():
    # ids given as numbers on one side and text on the other; customer 4 has no outcome row
    table = pd.DataFrame({"customer_id": [1, 2, 3, 4], "segment": ["VIP", "VIP", "REG", "REG"], "rank": [1, 1, 2, 2]})
    outs = pd.DataFrame({"customer_id": ["1", "2", "3"], "holdout_revenue": [10.0, 6.0, 4.0],
                         "bought": [True, True, True]})
    seg = score_scheme(table, outs, n_boot=0)["segments"]
    assert [(s["customers"], s["holdout_revenue"]) for s in seg] == [(2, 16.0), (2, 4.0)]
    assert [s["holdout_revenue_share"] for s in seg] == [0.8, 0.2]
    assert [s["retention"] for s in seg] == [1.0, 0.5]          # 4 did not buy: not True from a gap
    metrics = score_scheme(table, outs, n_boot=0)["metrics"]
    assert metrics["top_segment_holdout_revenue_share"] == 0.8 and metrics["top_segment_lift"] == 1.6
    assert all(np.isfinite(metrics[k]) for k in ("holdout_spearman", "holdout_activity_auc"))
    # the same with numbers on the outcomes' side
    numeric = outs.assign(customer_id=[1, 2, 3])
    table_text = table.assign(customer_id=table["customer_id"].astype(str))
    assert score_scheme(table_text, numeric, n_boot=0)["segments"] == seg


def test_score_scheme_default_resamples_and_seed_and_a_single_resample():
    t = seg_table({f"c{i}": ("VIP" if i < 4 else "GOOD") for i in range(12)})
    o = outcomes({f"c{i}": float((i * 7) % 5) for i in range(12)})
    default = score_scheme(t, o)
    explicit = score_scheme(t, o, n_boot=1000, seed=0)
    assert default["ci95"] == explicit["ci95"] and len(default["boot"]["top_segment_lift"]) == 1000
    assert score_scheme(t, o, seed=1)["ci95"] != default["ci95"]
    one = score_scheme(t, o, n_boot=1)
    assert set(one["ci95"]) and len(one["boot"]["top_segment_lift"]) == 1


# ====================================================================== weighted metrics, recomputed plainly
def plain_holdout_metrics(rank: np.ndarray, revenue: np.ndarray, bought: np.ndarray, top: int) -> dict[str, float]:
    """The five metrics of customers listed once per draw, written out: shares by counting, Spearman as
    the correlation of average ranks, AUC by comparing every buyer with every non-buyer."""
    from scipy.stats import rankdata

    n = len(rank)
    top_share = float(np.mean(rank == top)) if n else 0.0
    total = revenue.sum()
    rev_share = float(revenue[rank == top].sum() / total) if total > 0 else 0.0
    spread = n > 1 and np.ptp(rank) > 0 and np.ptp(revenue) > 0
    rho = float(np.corrcoef(rankdata(-rank), rankdata(revenue))[0, 1]) if spread else 0.0
    pos, neg = rank[bought], rank[~bought]
    won = sum(1.0 if p < q else 0.5 if p == q else 0.0 for p in pos for q in neg)
    return {"top_segment_share": top_share, "top_segment_holdout_revenue_share": rev_share,
            "top_segment_lift": rev_share / top_share if top_share > 0 else 0.0, "holdout_spearman": rho,
            "holdout_activity_auc": won / (len(pos) * len(neg)) if len(pos) and len(neg) else 0.5}


def drawn_metrics(rank, revenue, bought, weights) -> dict[str, np.ndarray]:
    """plain_holdout_metrics of each row of integer weights (customers repeated by their weight)."""
    rows = [plain_holdout_metrics(np.repeat(rank, w), np.repeat(revenue, w), np.repeat(bought, w), rank.min())
            for w in weights.astype(int)]
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


SMALL = {  # ids in sorted order; one top customer, revenues that total under 1 and a return
    "rank": np.array([2, 1, 3, 2, 3]), "revenue": np.array([0.25, 0.5, 0.0, 0.125, -0.0625]),
    "bought": np.array([True, True, False, False, True])}
LARGER = {
    "rank": np.array([3, 1, 2, 2, 1, 3, 2]), "revenue": np.array([0.0, 40.0, 12.0, 12.0, 5.0, 3.0, -2.0]),
    "bought": np.array([False, True, True, True, False, True, False])}


def as_frames(case: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = [f"c{i}" for i in range(len(case["rank"]))]
    table = pd.DataFrame({"customer_id": ids, "segment": [f"S{r}" for r in case["rank"]], "rank": case["rank"]})
    outs = pd.DataFrame({"customer_id": ids, "holdout_revenue": case["revenue"], "bought": case["bought"]})
    return table, outs


@pytest.mark.parametrize("case", [SMALL, LARGER], ids=["small", "larger"])
def test_each_resample_scores_as_its_customers_repeated_by_their_draws(case):
    table, outs = as_frames(case)
    res = score_scheme(table, outs, n_boot=200, seed=4)
    point = plain_holdout_metrics(case["rank"], case["revenue"], case["bought"], 1)
    for key, value in point.items():
        assert res["metrics"][key] == pytest.approx(value, abs=1e-12), key
    # the resamples: Poisson(1) draws of the seed, one row per resample; a row may draw nobody, or
    # no one of the top segment, or a single customer
    draws = np.random.default_rng(4).poisson(1.0, size=(200, len(case["rank"])))
    if case is SMALL:
        assert (draws.sum(axis=1) == 0).any() and (draws[:, 1] == 0).any() and (draws.sum(axis=1) == 1).any()
    assert (draws[:, case["rank"] == 1].sum(axis=1) == 0).any()
    expected = drawn_metrics(case["rank"], case["revenue"], case["bought"], draws)
    for key in ("top_segment_holdout_revenue_share", "top_segment_lift", "holdout_spearman", "holdout_activity_auc"):
        boot = res["boot"][key]
        assert boot == pytest.approx(expected[key], abs=1e-12), key
        assert np.all(np.abs(boot) <= (1.0 if key == "holdout_spearman" else np.inf))
        lo, hi = np.quantile(expected[key], [0.025, 0.975])
        assert res["ci95"][key] == pytest.approx([min(lo, point[key]), max(hi, point[key])], abs=1e-12), key


def test_a_subsampled_bootstrap_is_the_seeded_subsample_narrowed_around_the_full_estimate(monkeypatch):
    import segkit.evaluate as ev

    monkeypatch.setattr(ev, "_MAX_BOOT_CUSTOMERS", 4)      # 7 customers count as "large" here
    table, outs = as_frames(LARGER)
    res = score_scheme(table, outs, n_boot=100, seed=2)
    idx = np.sort(np.random.default_rng(2 + 7919).choice(7, size=4, replace=False))   # 4 distinct customers
    draws = np.random.default_rng(2).poisson(1.0, size=(100, 4))
    sub = {k: v[idx] for k, v in LARGER.items()}
    plain = drawn_metrics(sub["rank"], sub["revenue"], sub["bought"], draws)
    full = plain_holdout_metrics(LARGER["rank"], LARGER["revenue"], LARGER["bought"], 1)
    for key in ("top_segment_holdout_revenue_share", "top_segment_lift", "holdout_spearman", "holdout_activity_auc"):
        values = plain[key]
        narrowed = full[key] + (values - values.mean()) * np.sqrt(4 / 7)
        assert res["boot"][key] == pytest.approx(narrowed, abs=1e-12), key
        assert np.std(res["boot"][key]) == pytest.approx(np.std(values) * np.sqrt(4 / 7), abs=1e-12)


def test_a_weight_row_that_draws_nobody_or_one_customer_gives_defined_metrics():
    from segkit.evaluate import _Stats

    stats = _Stats(np.array([1, 2, 2]), np.array([0.5, 0.25, 0.0]), np.array([True, True, False]))
    with np.errstate(all="raise"):
        got = stats.metrics(np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 2.0]]))
    # nobody: every share 0, Spearman 0, AUC one half; the top customer alone: all of the customers
    # and all of the revenue (0.5, under 1), lift 1; the non-buyer drawn twice: no top, no revenue
    assert got["top_segment_share"].tolist() == [0.0, 1.0, 0.0]
    assert got["top_segment_holdout_revenue_share"].tolist() == [0.0, 1.0, 0.0]
    assert got["top_segment_lift"].tolist() == [0.0, 1.0, 0.0]
    assert got["holdout_spearman"].tolist() == [0.0, 0.0, 0.0]
    assert got["holdout_activity_auc"].tolist() == [0.5, 0.5, 0.5]


def test_one_customer_is_the_whole_top_and_two_give_a_spearman_of_one():
    one = score_scheme(seg_table({"a": "VIP"}), outcomes({"a": 0.5}), n_boot=0)["metrics"]
    assert one["top_segment_share"] == 1.0 and one["top_segment_holdout_revenue_share"] == 1.0
    assert one["top_segment_lift"] == 1.0
    two = score_scheme(seg_table({"a": "VIP", "b": "GOOD"}), outcomes({"a": 0.5, "b": 0.25}), n_boot=0)["metrics"]
    assert two["holdout_spearman"] == 1.0 and two["top_segment_holdout_revenue_share"] == pytest.approx(2 / 3)
    flipped = score_scheme(seg_table({"a": "GOOD", "b": "VIP"}), outcomes({"a": 0.5, "b": 0.25}), n_boot=0)
    assert flipped["metrics"]["holdout_spearman"] == -1.0


def test_auc_with_a_single_buyer_or_a_single_non_buyer():
    t = seg_table({"a": "VIP", "b": "GOOD", "c": "REGULAR"})
    one_buyer = pd.DataFrame({"customer_id": list("abc"), "holdout_revenue": [1.0, 0, 0], "bought": [True, False, False]})
    assert point_metrics(t, one_buyer)["holdout_activity_auc"] == 1.0
    one_non = pd.DataFrame({"customer_id": list("abc"), "holdout_revenue": [0, 1.0, 1], "bought": [False, True, True]})
    assert point_metrics(t, one_non)["holdout_activity_auc"] == 0.0


# ====================================================================== outcomes and tables of other types
def test_nullable_boolean_outcomes_and_purchase_counts_read_as_bought_or_not():
    t = seg_table({"a": "VIP", "b": "VIP", "c": "GOOD", "d": "GOOD"})
    # pandas' nullable booleans, d without an outcome row: d did not buy
    nullable = pd.DataFrame({"customer_id": list("abc"), "holdout_revenue": [3.0, 0.0, 1.0],
                             "bought": pd.array([True, False, True], dtype="boolean")})
    seg = score_scheme(t, nullable, n_boot=0)["segments"]
    assert [s["retention"] for s in seg] == [0.5, 0.5]
    # purchase counts: any purchase is one buyer, not the count
    counts = pd.DataFrame({"customer_id": list("abcd"), "holdout_revenue": [3.0, 2.0, 1.0, 0.0],
                           "bought": [3, 2, 1, 0]})
    seg = score_scheme(t, counts, n_boot=0)["segments"]
    assert [s["retention"] for s in seg] == [1.0, 0.5]


def test_ranks_read_as_text_score_as_their_numbers():
    # a segment table read back with every column as text (as ids with leading zeros need)
    table, outs = as_frames(LARGER)
    text = table.astype({"rank": str})
    assert text["rank"].tolist()[:2] == ["3", "1"]
    got, expected = score_scheme(text, outs, n_boot=20), score_scheme(table, outs, n_boot=20)
    assert got["metrics"] == expected["metrics"] and got["ci95"] == expected["ci95"]


def test_segment_rows_come_in_rank_order_whatever_the_order_of_the_ids():
    # a (first id) is REGULAR, c is VIP: rows by rank, not by the order customers come
    t = seg_table({"a": "REGULAR", "b": "GOOD", "c": "VIP"})
    rows = score_scheme(t, outcomes({"a": 0.125, "b": 0.25, "c": 0.5}), n_boot=0)["segments"]
    assert [r["label"] for r in rows] == ["VIP", "GOOD", "REGULAR"] and [r["rank"] for r in rows] == [1, 2, 3]
    # holdout revenue 0.875 in all (under 1): shares of it all the same
    assert [r["holdout_revenue_share"] for r in rows] == pytest.approx([4 / 7, 2 / 7, 1 / 7])


# ====================================================================== bootstrap weights
def test_weights_come_in_chunks_of_at_most_the_cell_budget_and_add_up_to_the_resamples(monkeypatch):
    import itertools

    import segkit.evaluate as ev
    from segkit.evaluate import BootstrapWeights

    monkeypatch.setattr(ev, "_CHUNK_CELLS", 10)
    for n, n_boot, sizes in ((4, 5, [2, 2, 1]), (1, 25, [10, 10, 5]), (12, 3, [1, 1, 1])):
        chunks = list(itertools.islice(iter(BootstrapWeights(n, n_boot, 0)), 10))
        assert [len(c) for c in chunks] == sizes, (n, n_boot)
        assert all(c.shape[1] == n and c.dtype == np.float64 for c in chunks)
        drawn = np.random.default_rng(0).poisson(1.0, size=(n_boot, n))   # the same draws, in chunks
        assert np.array_equal(np.concatenate(chunks), drawn)


def test_weights_are_kept_when_they_fit_in_the_byte_budget_exactly():
    from segkit.evaluate import BootstrapWeights

    fits, over = BootstrapWeights(4, 5, 0, keep_bytes=20), BootstrapWeights(4, 5, 0, keep_bytes=19)
    first_fits, first_over = list(fits), list(over)
    assert fits._chunks is not None and over._chunks is None
    assert np.array_equal(np.concatenate(list(fits)), np.concatenate(first_fits))
    assert np.array_equal(np.concatenate(list(over)), np.concatenate(first_over))


def test_spearman_is_clamped_to_one_where_rounding_overshoots():
    # perfectly ordered customers under non-integer weights: the ratio cov / denom comes out one unit
    # in the last place beyond -1 and +1 (found by a search); the metric is clamped to exactly -1 and 1
    from segkit.evaluate import _Stats
    low = _Stats(np.array([2, 3]), np.array([1.0, 3.0]), np.array([True, True]))
    assert low.metrics(np.array([[4.160100211397878, 2.365378578549933]]))["holdout_spearman"][0] == -1.0
    high = _Stats(np.array([1, 1, 2, 3]), np.array([3.0, 3.0, 2.0, 1.0]), np.array([True] * 4))
    w = np.array([[0.01149326332809052, 0.07290151170763094, 0.092742392862456, 0.09679261899246465]])
    assert high.metrics(w)["holdout_spearman"][0] == 1.0
