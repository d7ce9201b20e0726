"""Comparison numbers that mutation testing found unchecked: the smallest segment a team must handle
and what the scorecard's comparison part carries. Small hand-made inputs only.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from segkit.compare import (BASELINES, capture_curve, practicality, scorecard_fragments, sensitivity_settings,
                            verdict_sensitivity)


def test_practicality_names_the_smallest_segment_not_the_first():
    t = pd.DataFrame({"customer_id": list("abcdef"), "segment": ["top", "top", "mid", "low", "low", "low"],
                      "rank": [1, 1, 2, 3, 3, 3]})
    got = practicality(t, min_share=0.2)
    assert got == {"n_segments": 3, "min_segment_share": 1 / 6, "smallest_segment": "mid",
                   "small_segments": ["mid"]}
    empty = practicality(t.iloc[:0])
    assert empty == {"n_segments": 0, "min_segment_share": 0.0, "smallest_segment": None, "small_segments": []}


def result(auc: float, ci: list[float] | None = None) -> dict:
    out = {"capture_at": {"0.2": auc / 2}, "capture_auc": auc}
    if ci is not None:
        out["ci95"] = {"capture_auc": ci}
    return out


def test_scorecard_fragments_carry_intervals_cut_offs_and_winners():
    base = BASELINES[0]
    main = {"tiers": result(0.6, [0.5, 0.7]), "rfm": result(0.55, [0.45, 0.65]), base: result(0.4, [0.3, 0.5])}
    backtest = [{"as_of": "1997-12-31", "holdout": {"start": "1998-01-01", "end": "1998-06-30"}, "results": main},
                {"as_of": "1997-11-30", "holdout": {"start": "1997-12-01", "end": "1998-05-31"},
                 "results": {"tiers": result(0.5), "rfm": result(0.58)}}]
    decision = {"schemes": ["tiers", "rfm"], "origin_winners": ["tiers", "rfm"], "clear_winner": 0,
                "recommended": "tiers", "best": "tiers", "rule": "simplest", "pooled": {}, "advantage": {},
                "tied_with_best": ["rfm"], "tolerance": 0.01, "not exported": 1}
    got = scorecard_fragments(main, backtest, decision, measure="revenue", horizon_months=6,
                              decision_rule="the simplest of the tied schemes")
    assert got["outcome"] == {"measure": "revenue", "horizon_months": 6}
    assert got["schemes"]["tiers"] == {"comparison": {"capture_at": {"0.2": 0.3}, "capture_auc": 0.6,
                                                      "ci95": {"capture_auc": [0.5, 0.7]}}}
    assert got["baselines"] == {base: {"capture_at": {"0.2": 0.2}, "capture_auc": 0.4}}   # no interval
    assert [o["as_of"] for o in got["backtest"]] == ["1997-12-31", "1997-11-30"]
    assert got["backtest"][1]["holdout"] == {"start": "1997-12-01", "end": "1998-05-31"}
    assert got["backtest"][1]["schemes"]["rfm"] == {"capture_at": {"0.2": 0.29}, "capture_auc": 0.58}
    assert got["backtest"][1]["baselines"] == {} and [o["winner"] for o in got["backtest"]] == ["tiers", "rfm"]
    assert got["clear_winner"] is False and got["decision_rule"] == "the simplest of the tied schemes"
    assert got["verdict"] == {"recommended": "tiers", "best": "tiers", "rule": "simplest", "pooled": {},
                              "advantage": {}, "tied_with_best": ["rfm"], "tolerance": 0.01}


def test_refit_stability_of_a_single_customer_is_zero_not_perfect():
    from segkit.compare import refit_stability

    fit = lambda ids: pd.DataFrame({"customer_id": ids, "segment": "all", "rank": 1})  # noqa: E731
    got = refit_stability(fit, ["only"], fit(["only"]), n_resamples=2)
    assert got["values"]["customers"].tolist() == [1, 1]
    assert got["ari"] == 0.0 and got["same_segment"] == 1.0   # one customer: no pair to agree on


def test_advantage_without_resamples_still_states_the_estimate():
    from segkit.compare import verdict

    origins = [{"a": {"capture_auc": 0.5, "capture_at": {"0.2": 0.5}},
                "b": {"capture_auc": 0.6, "capture_at": {"0.2": 0.4}}},
               {"a": {"capture_auc": 0.7, "capture_at": {"0.2": 0.5}},
                "b": {"capture_auc": 0.5, "capture_at": {"0.2": 0.5}}}]
    v = verdict(origins, 0.2, ["a", "b"])
    # primary = (area + capture at 20%) / 2: a 0.5 and 0.6, b 0.5 and 0.5; a's mean advantage 0.05
    assert v["best"] == "a" and v["advantage"]["b"]["ci95"] is None
    assert v["advantage"]["b"]["estimate"] == pytest.approx(0.05)


def test_capture_curve_without_outcome_is_the_diagonal():
    # nothing to capture (no holdout revenue, or returns cancelling it): every order is the diagonal
    grid = [0.0, 0.25, 0.5, 0.75, 1.0]
    for outcome in ([0.0, 0.0, 0.0], [2.0, -2.0, 0.0], [-1.0, 0.0, 0.0]):
        curve = capture_curve(np.array([3, 1, 2]), np.array(outcome), points=5)
        assert curve["ranking"].tolist() == grid and curve["oracle"].tolist() == grid, outcome
    # a total below 1 is still an outcome: the best customer first captures it all at once
    curve = capture_curve(np.array([1, 2]), np.array([0.5, 0.0]), points=3)
    assert curve["ranking"].tolist() == [0.0, 1.0, 1.0] and curve["oracle"].tolist() == [0.0, 1.0, 1.0]


def test_capture_curve_columns_and_flags_as_outcome():
    curve = capture_curve(np.array([3, 1, 2]), np.array([5.0, 0.0, 1.0]), points=5)
    assert curve.columns.tolist() == ["share", "ranking", "oracle", "random"]
    assert curve["random"].tolist() == curve["share"].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    # bought / did not buy as True / False counts as 1 / 0
    flags = capture_curve(np.array([3, 1, 2]), np.array([True, False, True]), points=5)
    ones = capture_curve(np.array([3, 1, 2]), np.array([1.0, 0.0, 1.0]), points=5)
    pd.testing.assert_frame_equal(flags, ones)


def test_practicality_lists_small_segments_in_rank_order_and_counts_one_customer():
    # rows not in rank order; C (rank 3) and A (rank 1) are equally small
    t = pd.DataFrame({"customer_id": list("pqrstu"), "segment": ["C", "B", "B", "A", "B", "B"],
                      "rank": [3, 2, 2, 1, 2, 2]})
    got = practicality(t, min_share=0.2)
    assert got["small_segments"] == ["A", "C"] and got["smallest_segment"] == "A"
    one = practicality(t.iloc[:1])
    assert one["min_segment_share"] == 1.0 and one["n_segments"] == 1


def test_sensitivity_settings_never_repeat_a_setting():
    base = {"vip_share": 0.2, "criterion": "revenue", "holdout_months": 6}
    got = sensitivity_settings(base, ["units", "units"], shares=(0.1, 0.1), horizons=(3, 3))
    assert [(s["vip_share"], s["criterion"], s["holdout_months"]) for s in got] == [
        (0.2, "revenue", 6), (0.1, "revenue", 6), (0.2, "units", 6), (0.2, "revenue", 3)]


def test_verdict_sensitivity_names_the_changed_key_and_leaves_notes_empty():
    out = verdict_sensitivity(lambda s: "rfm", [{"vip_share": 0.2, "holdout_months": 6},
                                                {"vip_share": 0.2, "holdout_months": 3}])
    assert out["table"]["changed_key"].tolist() == ["", "holdout_months"]
    assert out["table"]["note"].tolist() == ["", ""] and not out["changed"]


def test_plot_capture_curve_has_101_points_by_default():
    curve = capture_curve(np.array([1, 2]), np.array([1.0, 0.0]))
    assert len(curve) == 101 and curve["share"].iloc[1] == pytest.approx(0.01)


def test_a_segment_exactly_at_the_minimum_share_is_not_small():
    t = pd.DataFrame({"customer_id": list("abcd"), "segment": ["A", "B", "B", "B"], "rank": [1, 2, 2, 2]})
    assert practicality(t, min_share=0.25)["small_segments"] == []
    assert practicality(t, min_share=0.26)["small_segments"] == ["A"]


def _refit_by_hand(ids, fit, reference, n_resamples, seed, col):
    """refit_stability's resamples, re-counted: the same draws, the agreement in plain Python."""
    ids = np.array([str(i) for i in ids])
    ref = dict(zip(reference["customer_id"].astype(str), reference[col].astype(str)))
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n_resamples):
        refit = fit(np.unique(ids[rng.integers(0, len(ids), len(ids))]))
        pairs = [(ref[c], str(s)) for c, s in zip(refit["customer_id"].astype(str), refit[col]) if c in ref]
        rows.append((len(pairs), sum(a == b for a, b in pairs) / len(pairs)))
    return rows


def test_refit_stability_counts_each_resample_against_the_reference():
    from sklearn.metrics import adjusted_rand_score

    from segkit.compare import refit_stability

    ids = list(range(12))  # ids given as numbers are compared as text

    def fit(sub):
        # a refit that moves customers with an odd number of drawn customers: ranks 1/2 by the id's
        # parity, flipped for id 3; "x"/"y" labels that do not say the rank; and one customer the
        # reference does not have ("new")
        flip = len(sub) % 2
        rank = [1 + (int(c) % 2 ^ (flip and int(c) == 3)) for c in sub]
        return pd.DataFrame({"customer_id": list(sub) + ["new"], "segment": [["x", "y"][r - 1] for r in rank] + ["x"],
                             "rank": rank + [1]})

    reference = pd.DataFrame({"customer_id": [str(i) for i in ids], "rank": [1 + i % 2 for i in ids],
                              "segment": ["y" if i % 2 else "x" for i in ids]})
    got = refit_stability(fit, ids, reference)
    hand = _refit_by_hand(ids, fit, reference, 20, 0, "rank")
    values = got["values"]
    assert got["n_resamples"] == 20 and values.columns.tolist() == ["resample", "customers", "ari", "same_segment"]
    assert values["resample"].tolist() == list(range(20))
    assert values["customers"].tolist() == [n for n, _ in hand]           # "new" is not counted
    assert values["same_segment"].tolist() == pytest.approx([s for _, s in hand])
    assert 0 < got["same_segment"] < 1 and got["same_segment"] == pytest.approx(np.mean([s for _, s in hand]))
    for m in ("ari", "same_segment"):
        assert got[f"{m}_ci95"] == pytest.approx(np.quantile(values[m], [0.025, 0.975]).tolist())
        assert got[f"{m}_ci95"][0] < got[f"{m}_ci95"][1]
    # the default seed is 0, and another seed draws other customers
    assert values.equals(refit_stability(fit, ids, reference, seed=0)["values"])
    assert not values["customers"].equals(refit_stability(fit, ids, reference, seed=1)["values"]["customers"])
    # the ARI is sklearn's on the common customers
    one = refit_stability(fit, ids, reference, n_resamples=1)
    drawn = np.unique(np.array([str(i) for i in ids])[np.random.default_rng(0).integers(0, 12, 12)])
    refit = fit(drawn).iloc[:-1]
    expected = adjusted_rand_score(reference.set_index("customer_id").loc[refit["customer_id"], "rank"].astype(str),
                                   refit["rank"].astype(str))
    assert one["ari"] == pytest.approx(expected)


def test_refit_stability_unordered_matches_labels_and_no_common_customer_scores_zero():
    from segkit.compare import refit_stability

    ids = [f"c{i}" for i in range(6)]
    reference = pd.DataFrame({"customer_id": ids, "segment": ["p", "p", "p", "q", "q", "q"], "rank": [1, 1, 1, 2, 2, 2]})
    # the refit swaps the names of the clusters but keeps them apart; its ranks are all 1
    swap = lambda sub: pd.DataFrame({"customer_id": sub, "rank": 1,  # noqa: E731
                                     "segment": ["q" if int(c[1:]) < 3 else "p" for c in sub]})
    got = refit_stability(swap, ids, reference, n_resamples=3, ordered=False)
    assert got["same_segment"] == 1.0 and got["ari"] == 1.0         # matched by the Hungarian rule
    by_rank = refit_stability(swap, ids, reference, n_resamples=3)    # ordered: compares ranks
    assert by_rank["same_segment"] < 1.0
    stranger = lambda sub: pd.DataFrame({"customer_id": ["zz"], "segment": ["p"], "rank": [1]})  # noqa: E731
    none = refit_stability(stranger, ids, reference, n_resamples=2)
    assert none["values"]["customers"].tolist() == [0, 0]
    assert none["same_segment"] == 0.0 and none["ari"] == 0.0


# ====================================================================== bootstrap, baselines, weights
def _five():
    ids = ["a", "b", "c", "d", "e"]
    t = pd.DataFrame({"customer_id": ids, "segment": ["top", "top", "mid", "low", "low"], "rank": [1, 1, 2, 3, 3]})
    return t, pd.DataFrame({"customer_id": ids, "outcome": [6.0, -2.0, 3.0, 1.0, 0.0]})


def test_compare_rankings_defaults_and_the_path_without_resamples():
    from segkit.compare import compare_rankings

    t, o = _five()
    got = compare_rankings({"s": t}, o, 0.3, n_boot=0)["s"]
    # b's -2 counts as 0: total 10 over 5 customers; groups (2 customers, 6), (1, 3), (2, 1).
    # C(0.1) = 0.5 of 2 top customers x 6 / 10; C(0.3) = 1.5 / 2 x 6 / 10; C(0.4) = 6 / 10.
    # A = (2*6 + 1*9 + 2*10 - (2*6 + 1*3 + 2*1) / 2) / 50 = 0.65; sorted 6, 3, 1, 0, 0: A* = 0.8
    assert got["capture_at"] == pytest.approx({"0.1": 0.15, "0.3": 0.45, "0.4": 0.6})
    assert got["capture_auc"] == pytest.approx((0.65 - 0.5) / (0.8 - 0.5))
    assert got["boot"] == {} and got["ci95"] == {}
    # one resample still gives one value per measure, and an interval of that value
    one = compare_rankings({"s": t}, o, 0.3, n_boot=1)["s"]
    assert len(one["boot"]["capture_auc"]) == 1
    assert one["ci95"]["capture_auc"] == [one["boot"]["capture_auc"][0]] * 2
    # the defaults: 1000 resamples drawn with seed 0
    default = compare_rankings({"s": t}, o, 0.3)["s"]
    assert len(default["boot"]["capture_auc"]) == 1000
    seeded = compare_rankings({"s": t}, o, 0.3, n_boot=1000, seed=0)["s"]
    other = compare_rankings({"s": t}, o, 0.3, n_boot=1000, seed=1)["s"]
    np.testing.assert_array_equal(default["boot"]["capture_auc"], seeded["boot"]["capture_auc"])
    assert not np.array_equal(default["boot"]["capture_auc"], other["boot"]["capture_auc"])
    # one evaluated customer is enough (every order is the same); none is refused
    single = compare_rankings({"s": t.iloc[:1]}, o.iloc[:1], 0.2, n_boot=0)["s"]
    assert single["capture_at"] == pytest.approx({"0.1": 0.1, "0.2": 0.2, "0.4": 0.4})
    assert single["capture_auc"] == 0.0
    from segkit.errors import DataError

    with pytest.raises(DataError, match="no evaluated customers"):
        compare_rankings({"s": t.iloc[:0]}, o.iloc[:0], 0.2, n_boot=0)


def test_a_table_missing_customers_names_the_first_three_in_the_error():
    from segkit.compare import compare_rankings
    from segkit.errors import DataError

    t, o = _five()
    with pytest.raises(DataError) as err:
        compare_rankings({"s": t.iloc[:1]}, o, 0.2, n_boot=0)
    assert "leaves 4 evaluated customer(s) without a segment (e.g. ['b', 'c', 'd'])" in str(err.value)


def test_outcomes_as_exact_decimals_are_resampled_like_floats():
    from segkit.compare import compare_rankings

    t, o = _five()
    exact = o.assign(outcome=pd.Series([Decimal(str(v)) for v in o["outcome"]], dtype=object))
    got = compare_rankings({"s": t}, exact, 0.3, n_boot=20)["s"]
    floats = compare_rankings({"s": t}, o, 0.3, n_boot=20)["s"]
    assert got["capture_auc"] == floats["capture_auc"]
    np.testing.assert_array_equal(got["boot"]["capture_auc"], floats["boot"]["capture_auc"])


def test_ranks_and_baseline_keys_given_as_text_are_ordered_as_numbers():
    from segkit.compare import compare_rankings

    # ranks 1, 2, 10 as text ("10" < "2" as text): the rank-10 customer, with all the outcome, is last
    t = pd.DataFrame({"customer_id": ["a", "b", "c"], "segment": ["x", "y", "z"], "rank": ["1", "10", "2"]})
    o = pd.DataFrame({"customer_id": ["a", "b", "c"], "outcome": [0.0, 5.0, 0.0]})
    got = compare_rankings({"s": t}, o, 0.2, n_boot=0)["s"]
    assert got["capture_at"] == {"0.1": 0.0, "0.2": 0.0, "0.4": 0.0}
    assert got["capture_auc"] == pytest.approx(-1.0)  # A = 1/6 (last third), A* = 5/6
    keys = pd.DataFrame({"customer_id": ["a", "b", "c"], "recency": ["1", "10", "2"], "past_value": ["1", "10", "2"]})
    base = compare_rankings({"s": t}, o, 0.2, baselines=keys, n_boot=0)
    assert base["recency"]["capture_auc"] == base["past_value"]["capture_auc"] == pytest.approx(-1.0)


def test_baseline_keys_follow_the_customer_ids_and_unknown_customers_come_last():
    from segkit.compare import compare_rankings

    o = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "outcome": [0.0, 4.0, 0.0, 6.0]})
    t = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "segment": "all", "rank": 1})
    # rows in another order, one customer not evaluated (zz), one evaluated customer without keys (c)
    keys = pd.DataFrame({"customer_id": ["d", "zz", "b", "a"], "recency": [np.inf, 1.0, 2.0, 5.0],
                         "past_value": [-1.0, -9.0, -3.0, -2.0]})
    got = compare_rankings({"s": t}, o, 0.2, baselines=keys, n_boot=0)
    # recency: b (4), a (0), then d (infinite key) tied with c (no key): 6 over 2 customers.
    # A = (1*4 + 1*4 + 2*10 - (4 + 0 + 2*6 / 2 * 2) / 2) / 40 = 0.5 = random; A* = 0.775
    assert got["recency"]["capture_at"] == pytest.approx({"0.1": 0.16, "0.2": 0.32, "0.4": 0.4})
    assert got["recency"]["capture_auc"] == pytest.approx(0.0)
    # past_value: b (-3), a (-2), d (-1), c last: A = (4 + 4 + 10 + 10 - (4 + 6) / 2) / 40 = 0.575
    assert got["past_value"]["capture_at"] == pytest.approx({"0.1": 0.16, "0.2": 0.32, "0.4": 0.4})
    assert got["past_value"]["capture_auc"] == pytest.approx((0.575 - 0.5) / (0.775 - 0.5))
    assert list(got) == ["s", "recency", "past_value"]


def test_subsampled_resamples_are_narrowed_by_scale_around_the_estimate():
    from segkit.compare import CustomerWeights, capture, compare_rankings

    rng = np.random.default_rng(11)
    n = 40
    ids = np.array([f"c{i:02d}" for i in range(n)])
    rank, y = rng.integers(1, 4, n), np.round(rng.gamma(1.0, 10.0, n) * (rng.random(n) < 0.6), 2)
    t = pd.DataFrame({"customer_id": ids, "segment": [f"S{r}" for r in rank], "rank": rank})
    w = CustomerWeights(ids, n_boot=40, seed=3, max_customers=20)
    assert w.scale == pytest.approx(np.sqrt(0.5))
    got = compare_rankings({"s": t}, pd.DataFrame({"customer_id": ids, "outcome": y}), 0.2, weights=w)["s"]
    # each resample re-counted on the subsample by repeating rows, then moved towards the estimate
    point = capture(rank, y, (0.2,))
    keep = np.isin(ids, w.ids)
    W = np.concatenate(list(w)).astype(int)
    raw = [capture(np.repeat(rank[keep], wb), np.repeat(y[keep], wb), (0.2,)) for wb in W]
    for boot, centre, values in (
            (got["boot"]["capture_auc"], point["capture_auc"], [r["capture_auc"] for r in raw]),
            (got["boot"]["capture_at"]["0.2"], point["capture_at"]["0.2"], [r["capture_at"]["0.2"] for r in raw])):
        values = np.array(values)
        narrowed = centre + (values - values.mean()) * np.sqrt(0.5)
        assert boot == pytest.approx(narrowed)
    assert got["ci95"]["capture_auc"] == pytest.approx(np.quantile(got["boot"]["capture_auc"], [0.025, 0.975]))
    lo, hi = got["ci95"]["capture_at"]["0.2"]
    assert [lo, hi] == pytest.approx(np.quantile(got["boot"]["capture_at"]["0.2"], [0.025, 0.975]))


def test_baseline_orders_columns_types_and_order():
    from segkit.compare import baseline_orders

    feats = pd.DataFrame({"customer_id": ["b", "a", "d"], "recency_days": [30, 2, 7]})   # whole days
    monthly = pd.DataFrame({"customer_id": ["a", "b", "b"], "units": [1, 2, 50],          # whole units
                            "month": pd.to_datetime(["2024-05-01", "2024-06-01", "2023-01-01"])})
    keys = baseline_orders(feats, monthly, "units", ["2024-05-01", "2024-06-01"])
    assert keys.columns.tolist() == ["customer_id", "recency", "past_value"]
    assert keys.index.tolist() == [0, 1, 2]
    assert keys["customer_id"].tolist() == ["a", "b", "d"]
    assert keys["recency"].dtype == np.float64 and keys["recency"].tolist() == [2.0, 30.0, 7.0]
    # d bought nothing inside the window: 0 (not missing, not another value)
    assert keys["past_value"].dtype == np.float64 and keys["past_value"].tolist() == [-1.0, -2.0, 0.0]


def test_criterion_outcomes_are_floats_and_ids_keep_their_text():
    from segkit.compare import criterion_outcomes

    hm = pd.DataFrame({"customer_id": ["10", "10", "2.5"], "units": [2, 3, 4], "purchases": [1, 1, 1]})
    got = criterion_outcomes(hm, [10, 2.5, 7], "units")
    assert got["customer_id"].tolist() == ["10", "2.5", "7"]   # 10 stays "10" beside 2.5
    assert got["outcome"].dtype == np.float64 and got["outcome"].tolist() == [5.0, 4.0, 0.0]
    # amounts as Python objects (a database's exact decimals) come out as floats too
    hm["units"] = pd.Series([Decimal("2.5"), Decimal("-3"), Decimal("4")], dtype=object)
    got = criterion_outcomes(hm, ["10", "2.5"], "units")
    assert got["outcome"].dtype == np.float64 and got["outcome"].tolist() == [0.0, 4.0]


def test_customer_weights_ids_subsample_and_positions():
    from segkit.compare import CustomerWeights, criterion_outcomes

    w = CustomerWeights({"b", "a", "c"}, n_boot=2, seed=0)      # any iterable, a set too
    assert w.ids.tolist() == ["a", "b", "c"] and w.ids.dtype.kind == "U"
    assert w.positions(["c", "b", "zz", "0"]).tolist() == [2, 1, -1, -1]
    # numbers as ids: the same text as the outcomes' ids, so the two line up
    mixed = [10, 2.5]
    ids = criterion_outcomes(pd.DataFrame({"customer_id": [], "revenue": [], "purchases": []}), mixed,
                             "revenue")["customer_id"]
    assert CustomerWeights(mixed, n_boot=1, seed=0).ids.tolist() == ids.tolist() == ["10", "2.5"]
    nums = CustomerWeights([1, 2, 10], n_boot=1, seed=0)
    assert nums.positions([10, 2, 3]).tolist() == [1, 2, -1]   # text order: "1" < "10" < "2"
    one = CustomerWeights(["m"], n_boot=1, seed=0)
    assert one.positions(["z", "a", "m"]).tolist() == [-1, -1, 0]
    empty = CustomerWeights([], n_boot=1, seed=0)
    assert empty.positions(["a", "b"]).tolist() == [-1, -1] and empty.positions(["a"]).tolist() == [-1]
    # above max_customers: a seeded draw of distinct customers, the same one evaluate draws
    big = CustomerWeights([f"c{i:03d}" for i in range(50)], n_boot=3, seed=4, max_customers=10)
    pick = np.sort(np.random.default_rng(4 + 7919).choice(50, size=10, replace=False))
    assert big.ids.tolist() == [f"c{i:03d}" for i in pick] and big.ids.dtype.kind == "U"
    assert big.n_customers == 50 and big.scale == pytest.approx(np.sqrt(10 / 50))


def test_retention_ratio_and_the_flag_at_their_thresholds():
    from segkit.compare import baseline_retention

    r = lambda auc, at: {"capture_auc": auc, "capture_at": {"0.2": at}}  # noqa: E731
    # a baseline area of 1e-12 is not positive enough to divide by
    out = baseline_retention({"s": r(0.5, 0.5), "recency": r(1e-12, 0.5), "past_value": r(0.0, 0.0)}, 0.2, ["s"])
    assert out["best_baseline"] == "recency"
    assert out["kept"]["s"] == {"capture_auc": None, "capture_at": 1.0}
    # a baseline equal to the best scheme, or ahead by exactly 1e-12, does not beat it
    even = baseline_retention({"s": r(0.5, 0.5), "recency": r(0.5, 0.5)}, 0.2, ["s"])
    assert even["simple_beats_all"] is False
    x = 0.5 + 1e-12
    assert baseline_retention({"s": r(0.5, 0.5), "recency": r(x, x)}, 0.2, ["s"])["simple_beats_all"] is False
    assert baseline_retention({"s": r(0.5, 0.5), "recency": r(x, 0.6)}, 0.2, ["s"])["simple_beats_all"] is True


def test_scorecard_backtest_baselines_carry_no_interval_and_a_clear_winner_is_true():
    main = {"tiers": result(0.6, [0.5, 0.7]), "recency": result(0.4, [0.3, 0.5])}
    backtest = [{"as_of": "1997-12-31", "holdout": {"start": "1998-01-01", "end": "1998-06-30"}, "results": main}]
    decision = {"schemes": ["tiers"], "origin_winners": ["tiers"], "clear_winner": 1, "recommended": "tiers",
                "best": "tiers", "rule": "clear_winner", "pooled": {}, "advantage": {}, "tied_with_best": [],
                "tolerance": 0.02}
    got = scorecard_fragments(main, backtest, decision, measure="revenue", horizon_months=6, decision_rule="r")
    assert got["backtest"][0]["baselines"] == {"recency": {"capture_at": {"0.2": 0.2}, "capture_auc": 0.4}}
    assert got["backtest"][0]["schemes"] == {"tiers": {"capture_at": {"0.2": 0.3}, "capture_auc": 0.6}}
    assert got["clear_winner"] is True


# ====================================================================== the capture statistics
def test_capture_is_unchanged_by_scaling_the_weights_and_reads_flags_and_decimals():
    from segkit.compare import capture

    order, y = np.array([1, 2, 2, 3]), np.array([0.3, 0.1, 0.0, 0.05])
    plain = capture(order, y, (0.1, 0.2, 0.4))
    # groups (1, 0.3), (2, 0.1), (1, 0.05) of N = 4, T = 0.45: C(0.1) = 0.4 x 0.3 / 0.45
    assert plain["capture_at"]["0.1"] == pytest.approx(0.4 * 0.3 / 0.45)
    assert plain["capture_at"]["0.4"] == pytest.approx((0.3 + 0.6 / 2 * 0.1) / 0.45)
    # fifths of a customer each (N = 0.8, a total outcome of 0.09): the same shares and areas
    fifths = capture(order, y, (0.1, 0.2, 0.4), weights=np.full(4, 0.2))
    assert fifths["capture_at"] == pytest.approx(plain["capture_at"])
    for k in ("capture_auc", "area", "oracle_area"):
        assert fifths[k] == pytest.approx(plain[k])
    exact = capture(order, y, (0.1, 0.2, 0.4), weights=[Decimal("0.2")] * 4)
    assert exact["capture_at"] == pytest.approx(plain["capture_at"])
    # bought / did not buy as True / False counts as 1 / 0
    flags, ones = np.array([True, False, True, False]), np.array([1.0, 0, 1, 0])
    assert capture(order, flags, (0.2,)) == capture(order, ones, (0.2,))


def test_capture_without_outcome_or_weight_is_the_diagonal_with_area_one_half():
    from segkit.compare import capture

    flat = {"capture_at": {"0.2": 0.2}, "capture_auc": 0.0, "area": 0.5, "oracle_area": 0.5}
    assert capture(np.array([1, 2]), np.array([0.0, 0.0]), (0.2,)) == flat
    # weights that cancel out: no customer carries weight, still defined
    assert capture(np.array([1, 2]), np.array([1.0, 0.0]), (0.2,), weights=np.array([1.0, -1.0])) == flat


def test_capture_at_shares_outside_the_curve_and_at_an_empty_first_segment():
    from segkit.compare import capture

    order, y = np.array([1, 2, 2, 3]), np.array([4.0, 3.0, 1.0, 2.0])
    got = capture(order, y, (-0.5, 0.0, 1.0, 1.5))["capture_at"]
    assert got == pytest.approx({"-0.5": 0.0, "0.0": 0.0, "1.0": 1.0, "1.5": 1.0})   # clamped to the ends
    # the first segment carries no weight: at share 0 the curve is at 0, whatever that segment holds
    weighted = capture(order, y, (0.0, 0.5), weights=np.array([0.0, 1.0, 1.0, 2.0]))["capture_at"]
    assert weighted == pytest.approx({"0.0": 0.0, "0.5": 4 / 8})   # N = 4: the two middle customers, 3 + 1


def test_refit_stability_passes_text_ids_compares_ranks_and_states_the_interval():
    from segkit.compare import refit_stability

    ids = [1, 2, 10, 20]                                   # numbers as ids: the fit gets them as text
    ref_rank = {"1": 1, "2": 2, "10": 1, "20": 2}
    reference = pd.DataFrame({"customer_id": list(ref_rank), "segment": ["s" + c for c in ref_rank],
                              "rank": list(ref_rank.values())})
    # the refit keeps the segment names but swaps the ranks 1 and 2: by rank nobody stays
    flip = lambda sub: pd.DataFrame({"customer_id": sub, "segment": ["s" + c for c in sub],  # noqa: E731
                                     "rank": [3 - ref_rank[c] for c in sub]})
    got = refit_stability(flip, ids, reference, n_resamples=5)
    assert got["values"]["same_segment"].tolist() == [0.0] * 5 and got["same_segment"] == 0.0
    # two customers in common are enough for an ARI (1 when the refit agrees)
    same = lambda sub: reference.set_index("customer_id").loc[list(sub)].reset_index()  # noqa: E731
    two = refit_stability(same, ["1", "2"], reference, n_resamples=8)["values"]
    assert set(two["customers"]) == {1, 2}
    assert two["ari"].tolist() == [1.0 if n == 2 else 0.0 for n in two["customers"]]
    # the interval is the 2.5% and 97.5% quantiles of the per-resample values
    many = [f"c{i:02d}" for i in range(30)]
    ref = pd.DataFrame({"customer_id": many, "segment": "a", "rank": 1})
    part = lambda sub: pd.DataFrame({"customer_id": sub, "segment": "a",  # noqa: E731
                                     "rank": [1 if i < len(sub) - 15 else 2 for i in range(len(sub))]})
    spread = refit_stability(part, many, ref, n_resamples=20)
    v = spread["values"]["same_segment"].to_numpy()
    assert len(set(v)) >= 3
    assert spread["same_segment_ci95"] == pytest.approx(np.quantile(v, [0.025, 0.975]).tolist())


# ====================================================================== ids given as pandas or numpy columns
def test_customers_given_as_the_holdouts_own_float32_column_match_its_rows():
    from segkit.compare import criterion_outcomes

    # a column is turned into text by pandas, as the holdout's ids are: 0.1 as float32 reads "0.1" on both
    # sides (the float32 scalars of a list would read "0.10000000149011612" and match nothing)
    ids = pd.Series(np.array([2.5, 0.1, 0.1], dtype=np.float32))
    hm = pd.DataFrame({"customer_id": ids, "revenue": [4.0, 1.0, 2.0], "purchases": [1, 1, 0]})
    got = criterion_outcomes(hm, ids.iloc[:2], "revenue")
    assert got["customer_id"].tolist() == ["0.1", "2.5"]
    assert got["outcome"].tolist() == [3.0, 4.0] and got["bought"].tolist() == [True, True]


def test_customer_weights_key_an_array_a_series_and_an_index_of_the_same_ids_alike():
    from segkit.compare import CustomerWeights

    for values in (np.array([2.5, 0.1], dtype=np.float32),
                   np.array(["2024-02-01", "2024-01-01"], dtype="datetime64[ns]")):
        keyed = [CustomerWeights(c, n_boot=1, seed=0).ids.tolist()
                 for c in (values, pd.Series(values), pd.Index(values))]
        assert keyed[0] == keyed[1] == keyed[2] and len(keyed[0]) == 2
    dates = CustomerWeights(np.array(["2024-02-01", "2024-01-01"], dtype="datetime64[ns]"), n_boot=1, seed=0)
    assert dates.ids.tolist() == ["2024-01-01 00:00:00", "2024-02-01 00:00:00"]


# ====================================================================== the verdict on constructed scores
def scored(auc: float, at: float, boot_auc=None, boot_at=None) -> dict:
    """One scheme's comparison result at one origin (capture at 20% as the VIP share)."""
    out = {"capture_auc": auc, "capture_at": {"0.2": at}}
    if boot_auc is not None:
        out["boot"] = {"capture_auc": np.asarray(boot_auc, float), "capture_at": {"0.2": np.asarray(boot_at, float)}}
    return out


def test_the_pooled_advantage_interval_is_the_quantiles_of_the_paired_resample_differences():
    from segkit.compare import verdict

    x = np.linspace(0.0, 0.8, 81)                        # resample b: b ahead of a by x[b] exactly
    b = scored(0.7, 0.7, 0.4 + x, 0.4 + x)               # point estimates differ from the resamples,
    a = scored(0.45, 0.45, np.full(81, 0.4), np.full(81, 0.4))   # so each side must read its resamples
    v = verdict([{"a": a, "b": b}], 0.2, ["a", "b"])
    assert v["best"] == "b" and v["recommended"] == "b" and v["rule"] == "clear_winner"
    adv = v["advantage"]["a"]
    assert adv["estimate"] == pytest.approx(0.25)
    # 2.5% and 97.5% of 81 evenly spaced values 0, 0.01, ..., 0.8: the 3rd and the 79th
    assert adv["ci95"] == pytest.approx([0.02, 0.78])
    assert v["tied_with_best"] == [] and v["clear_winner"] is True


def test_one_scheme_without_resamples_leaves_the_advantage_without_an_interval():
    from segkit.compare import verdict

    x = np.linspace(0.0, 0.8, 81)
    with_boot = scored(0.7, 0.7, 0.4 + x, 0.4 + x)
    for a, b in ((scored(0.45, 0.45), with_boot),
                 (scored(0.45, 0.45, np.full(81, 0.4), np.full(81, 0.4)), scored(0.7, 0.7))):
        v = verdict([{"a": a, "b": b}], 0.2, ["a", "b"])
        assert v["advantage"]["a"] == {"estimate": pytest.approx(0.25), "ci95": None}
        # nothing distinguishable: no clear winner; a is beaten on both measures, so b is recommended
        assert v["tied_with_best"] == ["a"] and v["clear_winner"] is False
        assert v["recommended"] == "b" and v["rule"] == "best_not_clear" and v["dominated"] == {"a": ["b"], "b": []}


def test_an_interval_that_starts_exactly_at_zero_is_a_tie_and_one_scheme_is_no_clear_winner():
    from segkit.compare import verdict

    x = np.r_[np.zeros(5), np.linspace(0.01, 0.76, 76)]   # 81 resamples, the 5 lowest differences exactly 0
    b = scored(0.7, 0.7, 0.4 + x, 0.4 + x)
    a = scored(0.45, 0.45, np.full(81, 0.4), np.full(81, 0.4))
    v = verdict([{"a": a, "b": b}], 0.2, ["a", "b"])
    assert v["advantage"]["a"]["ci95"][0] == 0.0          # the 3rd lowest of 81
    assert v["tied_with_best"] == ["a"] and v["clear_winner"] is False and v["rule"] == "best_not_clear"
    # a single scheme wins every origin but has nothing to be clearly better than
    alone = verdict([{"b": b}, {"b": b}], 0.2, ["b"])
    assert alone["recommended"] == "b" and alone["clear_winner"] is False and alone["rule"] == "best_not_clear"
    assert alone["advantage"] == {} and alone["origin_winners"] == ["b", "b"]


def test_when_every_candidate_is_beaten_at_the_main_cut_off_its_winner_is_recommended():
    from segkit.compare import verdict

    x = np.linspace(0.0, 0.08, 81)
    # main cut-off: a beats b on both measures by 0.1; the other origin: b far ahead (0.7 against 0.3)
    origins = [{"a": scored(0.6, 0.6, np.full(81, 0.6), np.full(81, 0.6)), "b": scored(0.5, 0.5, 0.5 + x, 0.5 + x)},
               {"a": scored(0.3, 0.3, np.full(81, 0.3), np.full(81, 0.3)), "b": scored(0.7, 0.7, 0.7 + x, 0.7 + x)}]
    v = verdict(origins, 0.2, ["b", "a"])
    # pooled primary: a (0.6 + 0.3) / 2 = 0.45, b 0.6: b is best, ahead beyond chance (a is not tied),
    # but b is beaten on both measures at the main cut-off and is the only candidate
    assert v["best"] == "b" and v["tied_with_best"] == [] and v["dominated"] == {"b": ["a"], "a": []}
    # resample b: b ahead by ((0.5 + x - 0.6) + (0.7 + x - 0.3)) / 2 = 0.15 + x
    assert v["advantage"]["a"]["ci95"] == pytest.approx([0.15 + 0.002, 0.15 + 0.078])
    assert v["recommended"] == "a" and v["rule"] == "best_at_main_cutoff" and v["clear_winner"] is False
    assert v["primary"] == {"b": [0.5, 0.7], "a": [0.6, 0.3]}
    assert v["origin_winners"] == ["a", "b"] and v["wins"] == {"b": 1, "a": 1}


def test_beaten_on_both_measures_means_by_more_than_the_tolerance_on_each():
    from segkit.compare import verdict

    # differences that are exact in binary: 0.25 = the tolerance, 0.375 and 0.125
    n = scored(0.5, 0.5)
    at_only = scored(0.5, 0.875)            # ahead on capture_at only
    auc_equal = scored(0.75, 0.875)         # capture_at ahead, capture_auc ahead by exactly the tolerance
    at_equal = scored(0.875, 0.75)          # capture_auc ahead, capture_at ahead by exactly the tolerance
    both = scored(0.875, 0.875)             # ahead by 0.375 on both
    main = {"n": n, "at_only": at_only, "auc_equal": auc_equal, "at_equal": at_equal, "both": both}
    v = verdict([main], 0.2, list(main), tolerance=0.25)
    assert v["dominated"] == {"n": ["both"], "at_only": [], "auc_equal": [], "at_equal": [], "both": []}
    assert v["tolerance"] == 0.25


def test_exact_ties_go_to_the_simpler_scheme_to_twelve_decimals():
    from segkit.compare import verdict

    for later in (0.5, 0.5 + 4e-13):        # equal, or ahead only in the 13th decimal: a tie either way
        main = {"simple": scored(0.5, 0.5), "complex": scored(later, later)}
        v = verdict([main, main], 0.2, ["simple", "complex"])
        assert v["best"] == "simple" and v["origin_winners"] == ["simple", "simple"]
        assert v["recommended"] == "simple" and v["wins"] == {"simple": 2, "complex": 0}
    ahead = {"simple": scored(0.5, 0.5), "complex": scored(0.5 + 4e-12, 0.5 + 4e-12)}
    assert verdict([ahead], 0.2, ["simple", "complex"])["best"] == "complex"


def test_capture_at_reads_the_foot_of_a_group_with_outcome_but_no_net_weight():
    from segkit.compare import capture

    # weights that cancel inside a group (+1 and -1) leave it outcome (3 - 1 = 2) but no customer:
    # the curve rises straight up there, and capture_at is read at the foot of the rise
    first = capture(np.array([1, 1, 2]), np.array([3.0, 1.0, 1.0]), (0.0, 0.5),
                    weights=np.array([1.0, -1.0, 1.0]))["capture_at"]
    assert first == pytest.approx({"0.0": 0.0, "0.5": 2.5 / 3})     # N = 1, T = 3: half of the second group
    middle = capture(np.array([1, 2, 2, 3]), np.array([1.0, 3.0, 1.0, 2.0]), (0.5,),
                     weights=np.array([1.0, 1.0, -1.0, 1.0]))["capture_at"]
    assert middle == pytest.approx({"0.5": 1 / 5})                   # N = 2, T = 5: after the first group
    last = capture(np.array([1, 2, 2]), np.array([1.0, 3.0, 1.0]), (1.0, 1.5),
                   weights=np.array([1.0, 1.0, -1.0]))["capture_at"]
    assert last == pytest.approx({"1.0": 1 / 3, "1.5": 1 / 3})       # the rise at the end is never reached
