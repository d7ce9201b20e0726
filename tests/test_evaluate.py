"""Evaluation metrics against independent computations; bootstrap; recommendation rule."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import adjusted_rand_score, roc_auc_score

from segkit.evaluate import capture_curve, migration_matrix, score_scheme, union_vs_period_total


def case(ranks, revenue, bought=None, labels=None):
    ids = [f"c{i:03d}" for i in range(len(ranks))]
    labels = labels or [f"S{r}" for r in ranks]
    table = pd.DataFrame({"customer_id": ids, "segment": labels, "rank": ranks})
    bought = bought if bought is not None else [r > 0 for r in revenue]
    outcomes = pd.DataFrame({"customer_id": ids, "holdout_revenue": revenue, "bought": bought})
    return table, outcomes


def test_metrics_by_hand():
    # 2 top customers of 5 (40%); holdout revenue 10, 5 | 0, 5, 0 -> top share 15/20 = 75%, lift 1.875
    table, outcomes = case([1, 1, 2, 2, 2], [10.0, 5.0, 0.0, 5.0, 0.0])
    m = score_scheme(table, outcomes, n_boot=0)["metrics"]
    assert m["n_segments"] == 2
    assert m["top_segment_share"] == pytest.approx(0.4)
    assert m["min_segment_share"] == pytest.approx(0.4)
    assert m["top_segment_holdout_revenue_share"] == pytest.approx(0.75)
    assert m["top_segment_lift"] == pytest.approx(1.875)
    # AUC by hand: positives (bought) c0,c1 (rank 1) and c3 (rank 2); negatives c2,c4 (rank 2)
    # pairs: (c0,c2) 1, (c0,c4) 1, (c1,c2) 1, (c1,c4) 1, (c3,c2) .5, (c3,c4) .5 -> 5/6
    assert m["holdout_activity_auc"] == pytest.approx(5 / 6)
    assert m["stability_ari"] is None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spearman_and_auc_match_scipy_and_sklearn_on_random_ties(seed):
    rng = np.random.default_rng(seed)
    ranks = rng.integers(1, 5, 300).tolist()
    revenue = np.where(rng.random(300) < 0.4, 0.0, rng.gamma(2, 50, 300) / np.array(ranks)).round(0)
    table, outcomes = case(ranks, revenue.tolist())
    m = score_scheme(table, outcomes, n_boot=0)["metrics"]
    assert m["holdout_spearman"] == pytest.approx(spearmanr(-np.array(ranks), revenue).statistic, abs=1e-9)
    assert m["holdout_activity_auc"] == pytest.approx(roc_auc_score(revenue > 0, -np.array(ranks)), abs=1e-9)


def test_stability_ari_matches_sklearn_on_common_customers():
    table, outcomes = case([1, 1, 2, 2, 3, 3], [1.0] * 6)
    prev = table.copy()
    prev["segment"] = ["S1", "S2", "S2", "S2", "S3", "S1"]
    prev = prev.iloc[1:]  # one customer is new
    m = score_scheme(table, outcomes, prev, n_boot=0)["metrics"]
    assert m["stability_ari"] == pytest.approx(adjusted_rand_score(table["segment"][1:], prev["segment"]))


def test_degenerate_cases_give_defined_numbers_never_nan():
    table, outcomes = case([1, 1, 1], [0.0, 0.0, 0.0])
    s = score_scheme(table, outcomes, n_boot=50)
    m = s["metrics"]
    assert m["holdout_spearman"] == 0.0 and m["holdout_activity_auc"] == 0.5
    assert m["top_segment_holdout_revenue_share"] == 0.0
    json.dumps(s["metrics"], allow_nan=False)
    json.dumps(s["ci95"], allow_nan=False)


def test_bootstrap_is_reproducible_and_contains_the_estimate():
    rng = np.random.default_rng(0)
    ranks = rng.integers(1, 4, 500).tolist()
    table, outcomes = case(ranks, (rng.gamma(1, 30, 500) * (rng.random(500) < 0.5)).tolist())
    a = score_scheme(table, outcomes, n_boot=300, seed=11)
    b = score_scheme(table, outcomes, n_boot=300, seed=11)
    assert a["ci95"] == b["ci95"]
    for key, (lo, hi) in a["ci95"].items():
        assert lo <= a["metrics"][key] <= hi
        assert hi - lo > 0


def test_shared_bootstrap_weights_give_the_same_intervals_and_are_replayed():
    from segkit.evaluate import BootstrapWeights

    rng = np.random.default_rng(1)
    table, outcomes = case(rng.integers(1, 4, 400).tolist(), (rng.gamma(1, 30, 400)).tolist())
    shared = BootstrapWeights.for_customers(400, 200, 5)
    first = score_scheme(table, outcomes, n_boot=200, seed=5, weights=shared)
    assert shared._chunks is not None                     # kept after the first pass, not drawn again
    assert all(c.dtype == np.uint8 and not c.flags.writeable for c in shared._chunks)
    replay = list(shared)
    assert sum(len(w) for w in replay) == 200 and all(w.dtype == np.float64 for w in replay)
    drawn = np.random.default_rng(5).poisson(1.0, size=(200, 400))  # the same draws, replayed exactly
    assert np.array_equal(np.concatenate(replay), drawn)
    again = score_scheme(table, outcomes, n_boot=200, seed=5, weights=shared)
    fresh = score_scheme(table, outcomes, n_boot=200, seed=5)
    assert first["ci95"] == again["ci95"] == fresh["ci95"]
    # weights for another seed are not used for this one
    other = score_scheme(table, outcomes, n_boot=200, seed=6, weights=shared)
    assert other["ci95"] == score_scheme(table, outcomes, n_boot=200, seed=6)["ci95"]


def test_capture_curve_spreads_a_segment_evenly():
    table, outcomes = case([1, 1, 2, 2], [30.0, 10.0, 0.0, 0.0])
    c = capture_curve(table, outcomes, points=5).set_index("share_of_customers")
    assert c.loc[0.5, "scheme"] == pytest.approx(1.0)
    assert c.loc[0.25, "scheme"] == pytest.approx(0.5)   # half of the top segment, half its revenue
    assert c.loc[0.25, "oracle"] == pytest.approx(0.75)


def test_migration_matrix_counts():
    prev = pd.DataFrame({"customer_id": ["a", "b", "c"], "segment": ["VIP", "VIP", "GOOD"], "rank": [1, 1, 2]})
    now = pd.DataFrame({"customer_id": ["a", "b", "c"], "segment": ["VIP", "GOOD", "GOOD"], "rank": [1, 2, 2]})
    m = migration_matrix(prev, now)
    assert m.loc["VIP", "VIP"] == 1 and m.loc["VIP", "GOOD"] == 1 and m.loc["GOOD", "GOOD"] == 1


def test_scorecard_shape_and_json_safety(cdnow_analysis):
    sc = cdnow_analysis.scorecard
    assert set(sc) >= {"run", "calibration", "holdout", "schemes", "recommended", "reasons"}
    assert set(sc["schemes"]) == {"percentile_tiers", "rfm", "kmeans", "potential"}
    # the verdict's keys; the old weighted score is gone
    assert set(sc) >= {"outcome", "baselines", "backtest", "clear_winner", "decision_rule"}
    assert not set(sc) & {"score", "weights"}
    assert sc["outcome"] == {"measure": "revenue", "horizon_months": 6}
    assert [b["as_of"] for b in sc["backtest"]] == ["1997-12-31", "1997-09-30", "1997-06-30"]
    for s in sc["schemes"].values():
        assert set(s) == {"segments", "metrics", "ci95", "comparison"}
        assert set(s["comparison"]) == {"capture_at", "capture_auc", "ci95"}
        assert set(s["metrics"]) == {"n_segments", "min_segment_share", "top_segment_share",
                                     "top_segment_holdout_revenue_share", "top_segment_lift", "holdout_spearman",
                                     "holdout_activity_auc", "stability_ari"}
        assert [seg["rank"] for seg in s["segments"]] == sorted(seg["rank"] for seg in s["segments"])
        assert sum(seg["share"] for seg in s["segments"]) == pytest.approx(1.0, abs=1e-5)
    json.dumps(sc, allow_nan=False)


def test_union_vs_period_total_counts():
    union = pd.DataFrame({"customer_id": ["a", "b", "c"], "segment": ["VIP", "VIP", "GOOD"]})
    period = pd.DataFrame({"customer_id": ["a", "b", "c"], "segment": ["VIP", "REGULAR", "VIP"]})
    outcomes = pd.DataFrame({"customer_id": ["a", "b", "c"], "holdout_revenue": [1.0, 7.0, 2.0]})
    alerts = pd.DataFrame({"customer_id": ["b"], "value_at_risk": [50.0]})
    r = union_vs_period_total(union, period, outcomes, alerts)
    assert r["missed_by_period_total"] == 1 and r["missed_holdout_revenue"] == 7.0
    assert r["dropouts_not_vip_in_period_total"] == 1 and r["only_period_total"] == 1


def test_chosen_columns_of_the_weights_equal_the_chunks_columns_bit_for_bit():
    """``columns(index)`` (the comparison's customers) takes the columns before the floats are made:
    the same weights, kept or drawn afresh, first pass or later."""
    from segkit.evaluate import BootstrapWeights

    index = np.random.default_rng(0).permutation(700)[:450]
    for keep_bytes in (0, 2**20):  # drawn again at every pass / kept as bytes after the first
        weights = BootstrapWeights(700, 30, 9, keep_bytes=keep_bytes)
        for _ in range(2):
            whole, chosen = list(weights), list(weights.columns(index))
            assert len(chosen) == len(whole) > 0
            for w, c in zip(whole, chosen, strict=True):
                assert c.dtype == np.float64 and c.shape == (len(w), 450) and np.array_equal(c, w[:, index])
        assert (weights._chunks is None) == (keep_bytes == 0)


def test_a_larger_set_of_the_same_draws_serves_a_smaller_one_exactly():
    """The comparison's 500 resamples are the first 500 of the scores' 1000 (same customers, seed)."""
    from segkit import evaluate
    from segkit.evaluate import BootstrapWeights

    evaluate._DRAWN.clear()
    n = 30_000  # 266 resamples per chunk: 1000 and 500 resamples have chunks of the same shape
    big = BootstrapWeights(n, 1000, 3)
    assert sum(len(w) for w in big) == 1000
    small = BootstrapWeights(n, 500, 3)
    assert small._chunks is not None and [len(c) for c in small._chunks] == [266, 234]
    fresh = np.random.default_rng(3)
    expected = [fresh.poisson(1.0, size=(266, n)), fresh.poisson(1.0, size=(234, n))]
    got = list(small)
    assert all(np.array_equal(g, e) and g.dtype == np.float64 for g, e in zip(got, expected, strict=True))
    # another seed, more resamples or chunks of another shape are drawn afresh
    assert BootstrapWeights(n, 500, 4)._chunks is None
    assert BootstrapWeights(n, 2000, 3)._chunks is None
    assert BootstrapWeights(n, 100, 3)._chunks is None  # 100 rows per chunk, not 266
    assert BootstrapWeights(n + 1, 500, 3)._chunks is None
    # remembered weakly: once the run's weights are gone, so are the draws
    del big, small, got
    import gc

    gc.collect()
    assert BootstrapWeights(n, 500, 3)._chunks is None
    evaluate._DRAWN.clear()


def test_segment_counts_by_matrix_product_equal_bincount_bit_for_bit():
    """Whole-number weights: the product path of _Stats and of the capture rankings changes no bit."""
    from segkit.compare import _Ranking
    from segkit.evaluate import _Stats

    rng = np.random.default_rng(7)
    n = 5_000
    rank = rng.integers(1, 7, n)
    revenue = np.round(rng.gamma(1, 30, n) * (rng.random(n) < 0.4), 2)
    W = rng.poisson(1.0, size=(40, n)).astype(np.float64)
    with_product = _Stats(rank, revenue, revenue > 0)
    without = _Stats(rank, revenue, revenue > 0)
    without.product = False  # the bincount path (used above 16 segments, and for a single row)
    a, b = with_product.metrics(W), without.metrics(W)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert with_product.members is not None and without.members is None
    # one row of weights (the point estimate) counts by bincount: no customers x segments matrix
    point = _Stats(rank, revenue, revenue > 0)
    single = point.metrics(W[:1])
    alone = without.metrics(W[:1])
    assert point.members is None and all(np.array_equal(single[k], alone[k]) for k in a)
    ranking = _Ranking(rank)
    whole, plain = ranking.sums(W, W * revenue, whole=True), ranking.sums(W, W * revenue)
    assert all(np.array_equal(x, y) for x, y in zip(whole, plain, strict=True))
    many = _Ranking(rng.integers(0, 40, n))  # more than 16 groups: bincount either way
    assert many.sums(W, None, whole=True)[0].shape == (40, 40) and many._members is None


def test_stabilities_pair_the_customers_once_and_equal_each_scheme_alone(monkeypatch):
    """Schemes listing the same customers share one pairing; a scheme with other customers, or a
    month-earlier table out of order, is paired (or joined) on its own: every ARI as computed alone."""
    from segkit import evaluate
    from segkit.evaluate import stabilities, stability_ari

    rng = np.random.default_rng(5)
    ids = pd.Series([f"c{i:04d}" for i in range(400)], dtype="str")
    earlier = ids[rng.random(400) < 0.8].reset_index(drop=True)
    table = lambda who, k: pd.DataFrame({"customer_id": who, "segment": rng.integers(0, k, len(who)).astype(str)})  # noqa: E731
    tables = {"a": table(ids, 3), "b": table(ids.copy(), 4), "c": table(ids[:300], 2), "d": table(ids, 5)}
    previous = {"a": table(earlier, 3), "b": table(earlier.copy(), 4), "c": table(earlier, 2),
                "d": table(earlier, 5).sample(frac=1.0, random_state=1)}
    alone = {name: stability_ari(tables[name], previous[name]) for name in tables}
    calls = []
    real = evaluate.positions
    monkeypatch.setattr(evaluate, "positions", lambda *a: calls.append(1) or real(*a))
    got = stabilities({**tables, "e": tables["a"]}, previous)
    assert got == {**alone, "e": None}
    assert len(calls) == 2  # a and b share one; c is another; d's earlier table is unsorted: joined
