"""RFM scores and segment map; k-means choice, numbering, determinism; overrides."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segkit.errors import OverridesError, ParameterError, SegkitError
from segkit.schemes import (KMeansSegmenter, RFMSegmenter, apply_overrides, load_overrides,
                            load_segment_map)
from segkit.schemes.rfm import rfm_scores
from segkit.schemes.kmeans import kmeans_matrix


def test_rfm_scores_hand_checked():
    # ten distinct values, five bins: two per score, best values get 5
    assert rfm_scores(np.arange(10), 5).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    # recency: lower is better
    assert rfm_scores(np.arange(10), 5, higher_is_better=False).tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    # the tie at the worst value takes the lowest score: six customers with one purchase all get 1
    assert rfm_scores(np.array([1, 1, 1, 1, 1, 1, 2, 3, 4, 5]), 5).tolist() == [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]
    # the tie at the best value takes the highest: most customers buy every one of 12 months -> all 5
    assert rfm_scores(np.array([2, 3, 4, 5, 12, 12, 12, 12, 12, 12]), 5).tolist() == [1, 1, 2, 2, 5, 5, 5, 5, 5, 5]
    # a tie in the middle takes its average rank: ranks 4..7 -> 5.5 -> floor(4.5 * 5 / 10) + 1 = 3
    assert rfm_scores(np.array([1, 2, 3, 7, 7, 7, 7, 8, 9, 10]), 5).tolist() == [1, 1, 2, 3, 3, 3, 3, 4, 5, 5]
    # everybody equal: one middle score
    assert set(rfm_scores(np.array([4, 4, 4, 4, 4]), 5)) == {3}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=200), st.integers(2, 10))
def test_property_scores_equal_for_ties_monotone_and_balanced(values, bins):
    v = np.array(values, dtype=float)
    s = rfm_scores(v, bins)
    assert s.min() >= 1 and s.max() <= bins
    for value in np.unique(v):
        assert len(set(s[v == value])) == 1                     # equal values, equal scores
    order = np.argsort(v, kind="stable")
    assert np.all(np.diff(s[order]) >= 0)                       # monotone in the value
    if v.min() < v.max() and len(v) >= bins:                    # the extremes keep the extreme scores
        assert set(s[v == v.min()]) == {1} and set(s[v == v.max()]) == {bins}
    if len(np.unique(v)) == len(v):                             # no ties: n/bins each (+-1)
        counts = np.bincount(s, minlength=bins + 1)[1:]
        assert counts.max() - counts.min() <= 1


@pytest.mark.parametrize("bins", [2, 3, 4, 5, 6, 7, 10])
def test_default_map_covers_every_cell_once(bins):
    cells = load_segment_map().cells(bins)
    assert len(cells) == bins**3
    assert cells[["rfm_r", "rfm_f", "rfm_m"]].drop_duplicates().shape[0] == bins**3


def test_map_with_a_gap_or_overlap_names_the_cells(tmp_path):
    gap = tmp_path / "gap.yml"
    gap.write_text("segments:\n  - name: Top\n    regions: [{r: [0.5, 1], fm: [0, 1]}]\n")
    with pytest.raises(SegkitError, match=r"belong to no segment, e.g. \[\(1, 1, 1\)"):
        load_segment_map(gap).cells(5)
    both = tmp_path / "both.yml"
    both.write_text("segments:\n  - name: A\n    regions: [{r: [0, 1], fm: [0, 1]}]\n"
                    "  - name: B\n    regions: [{r: [0.5, 1], fm: [0, 1]}]\n")
    with pytest.raises(SegkitError, match="several segments"):
        load_segment_map(both).cells(5)


def test_segment_cells_are_read_again_when_the_map_changes(tmp_path):
    from segkit.schemes.rfm import segment_cells

    path = tmp_path / "two.yml"
    path.write_text("segments:\n  - name: Low\n    regions: [{r: [0, 0.5], fm: [0, 1]}]\n"
                    "  - name: High\n    regions: [{r: [0.5, 1], fm: [0, 1]}]\n")
    first = segment_cells(path, 3)
    assert set(first["rfm_segment"]) == {"Low", "High"}
    first.loc[:, "rfm_segment"] = "changed by the caller"  # a copy: the cached table is not touched
    assert set(segment_cells(path, 3)["rfm_segment"]) == {"Low", "High"}
    path.write_text("segments:\n  - name: Everyone\n    regions: [{r: [0, 1], fm: [0, 1]}]\n")
    assert set(segment_cells(path, 3)["rfm_segment"]) == {"Everyone"}
    pd.testing.assert_frame_equal(segment_cells(None, 4), load_segment_map().cells(4))


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 7), st.integers(0, 2**32 - 1), st.integers(1, 300))
def test_cell_segments_equal_a_merge_on_the_scores_and_keep_the_ids(bins, seed, n):
    from segkit.schemes.rfm import cell_segments, segment_cells

    rng = np.random.default_rng(seed)
    cells = segment_cells(None, bins)
    scores = pd.DataFrame({"rfm_r": rng.integers(1, bins + 1, n), "rfm_f": rng.integers(1, bins + 1, n),
                           "rfm_m": rng.integers(1, bins + 1, n)})
    merged = scores.merge(cells, on=["rfm_r", "rfm_f", "rfm_m"], how="left")["rfm_segment"]
    got = cell_segments(cells, bins, scores["rfm_r"], scores["rfm_f"], scores["rfm_m"])
    assert list(got.categories) == sorted(set(merged))  # the segments that occur, sorted as text
    assert got.astype(object).tolist() == merged.tolist()
    # a cell the table lacks: missing, as the merge gives
    partial = cells[cells["rfm_r"] > 1]
    gaps = cell_segments(partial, bins, scores["rfm_r"], scores["rfm_f"], scores["rfm_m"])
    expected = scores.merge(partial, on=["rfm_r", "rfm_f", "rfm_m"], how="left")["rfm_segment"]
    assert pd.Series(gaps).isna().tolist() == expected.isna().tolist()
    assert gaps.astype(object)[~expected.isna().to_numpy()].tolist() == expected.dropna().tolist()


def test_rfm_on_cdnow_matches_an_independent_computation(cdnow_analysis):
    f = cdnow_analysis.features
    r = cdnow_analysis.schemes["rfm"]
    scores = r.scores_.set_index("customer_id")
    # independent: the rank of each monetary value (ties: worst value lowest rank, best value highest,
    # others average) computed by counting, bins of n/5
    n = len(f)
    m = f.set_index("customer_id")["monetary"]
    counts = m.value_counts().sort_index()
    below = counts.cumsum() - counts                       # customers with a strictly lower value
    rank_of = below + (counts + 1) / 2                     # average rank
    rank_of.iloc[0] = 1                                    # worst value: lowest rank
    rank_of.iloc[-1] = n                                   # best value: highest rank
    ranks = m.map(rank_of)
    expected = ((ranks - 1) * 5 // n + 1).astype(int)
    assert (scores["rfm_m"] == expected.reindex(scores.index)).all()
    sizes = r.bin_sizes_.query("dimension == 'M'")["customers"].tolist()
    assert sizes == expected.value_counts().reindex(range(1, 6), fill_value=0).tolist()
    assert sum(sizes) == n
    assert scores["rfm_segment"].notna().all()
    print(r.cut_points_.to_string())  # visible with -s: the actual thresholds


def features_frame(seed=0, n=600):
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, 3, n)
    return pd.DataFrame({
        "customer_id": [f"c{i:04d}" for i in range(n)],
        "recency_days": np.choose(groups, [rng.integers(1, 20, n), rng.integers(100, 200, n), rng.integers(300, 365, n)]),
        "frequency": np.choose(groups, [rng.integers(8, 15, n), rng.integers(2, 4, n), np.ones(n, int)]),
        "monetary": np.choose(groups, [rng.normal(900, 50, n), rng.normal(150, 20, n), rng.normal(20, 5, n)]),
    })


def test_kmeans_finds_planted_groups_and_numbers_them_by_spend():
    f = features_frame()
    k = KMeansSegmenter(k_range=(2, 6), random_state=3).fit_features(f)
    assert k.k_ == 3
    prof = k.profile()
    assert prof["monetary"].is_monotonic_decreasing                      # cluster 0 = highest spend
    assert len(set(k.names_.values())) == k.k_                          # unique names
    assert set(k.k_scores_.columns) >= {"k", "silhouette", "calinski_harabasz", "davies_bouldin", "inertia"}
    assert (k.stability_["jaccard"] > 0.9).all()


def test_kmeans_is_deterministic_for_a_seed_and_relabels_to_match():
    f = features_frame(1)
    a = KMeansSegmenter(k_range=(3, 3), random_state=5).fit_features(f).segment_table()
    b = KMeansSegmenter(k_range=(3, 3), random_state=5).fit_features(f.sample(frac=1, random_state=2)).segment_table()
    pd.testing.assert_frame_equal(a, b)
    other = KMeansSegmenter(k_range=(3, 3), random_state=9).fit_features(f)
    other.match_labels(a)
    assert (other.segment_table()["cluster"].to_numpy() == a["cluster"].to_numpy()).mean() > 0.95


def test_kmeans_refit_against_a_reference_skips_only_its_own_bootstrap():
    """A refit (earlier cut-off, stability resample) gives the labels of a full fit with the reference's k."""
    from types import SimpleNamespace

    f = features_frame(2)
    main = KMeansSegmenter(k_range=(2, 6), random_state=4).fit_features(f)
    refit = KMeansSegmenter(k_range=(2, 6), random_state=4).fit(SimpleNamespace(features=f, reference=main))
    full = KMeansSegmenter(k_range=(main.k_, main.k_), random_state=4).fit_features(f).match_labels(
        main.segment_table())
    pd.testing.assert_frame_equal(refit.segment_table(), full.segment_table())
    assert refit.stability_["jaccard"].isna().all() and len(refit.stability_) == main.k_
    # nor the scores of its one k; its inertia on the sample is the full fit's
    assert refit.k_scores_[["silhouette", "calinski_harabasz", "davies_bouldin"]].isna().all().all()
    assert refit.k_scores_["inertia"].tolist() == full.k_scores_["inertia"].tolist()
    assert full.k_scores_["silhouette"].notna().all()
    assert full.stability_["jaccard"].notna().all()


def test_kmeans_refuses_more_clusters_than_customers():
    with pytest.raises(ParameterError, match="more customers than clusters"):
        KMeansSegmenter(k_range=(4, 6)).fit_features(features_frame(n=3))


def test_overrides_are_checked_and_applied(tmp_path):
    path = tmp_path / "ov.csv"
    path.write_text("customer_id,tier,reason\n 007 ,vip,market leader\n")
    ov = load_overrides(path, known_customers=["007", "008"])
    assert ov.to_dict("records") == [{"customer_id": "007", "tier": "VIP", "reason": "market leader",
                                      "prospect": False}]
    table = pd.DataFrame({"customer_id": ["007", "008"], "segment": ["REGULAR", "GOOD"], "rank": [3, 2]})
    applied = apply_overrides(table, ov).set_index("customer_id")
    assert applied.loc["007", "tier"] == "VIP" and applied.loc["007", "computed_tier"] == "REGULAR"
    assert applied.loc["008", "tier"] == "GOOD"
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,tier,reason\n7,PLATINUM,x\n999,VIP,\n")
    with pytest.raises(OverridesError) as err:
        load_overrides(bad, known_customers=["007"])
    msg = str(err.value)
    # '7' and '999' are prospects (no purchase): accepted with a reason, refused without one
    assert "PLATINUM" in msg and "line 2" in msg and "empty reason on line(s) 3 (a prospect" in msg


@pytest.mark.parametrize("source", ["cdnow", "synthetic"])
def test_final_fit_on_all_customers_is_within_one_percent_of_ten_restarts(source, cdnow_tx):
    """Issue 6: the final fit (one start from the sample's best centres) keeps inertia within 1% of n_init=10."""
    import datetime as dt

    from sklearn.cluster import KMeans

    from segkit.data import load_transactions
    from segkit.datasets import make_transactions
    from segkit.features import customer_features

    if source == "cdnow":
        features = customer_features(cdnow_tx, dt.date(1997, 12, 31))
    else:
        frame, _ = make_transactions(n_customers=30_000, months=18, seed=3)
        features = customer_features(load_transactions(frame), dt.date.fromisoformat(str(frame["date"].max())[:10]))
    km = KMeansSegmenter(random_state=0).fit_features(features)
    assert len(features) > km.sample_size  # the sweep ran on a sample, the final fit on everyone
    X = np.nan_to_num(km.scaler_.transform(kmeans_matrix(km._features)))  # the matrix the final fit saw
    reference = KMeans(n_clusters=km.k_, n_init=10, random_state=0).fit(X).inertia_
    assert km.inertia_ <= 1.01 * reference, (km.k_, km.inertia_, reference)



def test_a_profile_of_numeric_customer_ids_equals_the_profile_of_the_same_ids_as_text():
    # the segment table holds ids as text; features with integer ids used to fail inside the merge
    f = pd.DataFrame({"customer_id": [1, 2, 3, 4, 5, 6], "recency_days": [3, 1, 2, 2, 9, 4],
                      "frequency": [1, 1, 2, 5, 1, 3], "monetary": [10.0, 30, 20, 20, 5, 12]})
    text = f.assign(customer_id=f["customer_id"].astype(str))
    for make in (lambda: RFMSegmenter(bins=2), lambda: KMeansSegmenter(k_range=(2, 2), random_state=0)):
        numeric, textual = make().fit_features(f).profile(), make().fit_features(text).profile()
        pd.testing.assert_frame_equal(numeric, textual)
        assert numeric["customers"].sum() == 6
    # RFM (bins 2): customer 4 (recency 2 <= median 2.5, 5 purchases, 20) holds R=2, F=2, M=2
    rfm = RFMSegmenter(bins=2).fit_features(f)
    assert rfm.scores_.set_index(rfm.scores_["customer_id"].astype(str)).loc["4", ["rfm_r", "rfm_f", "rfm_m"]].tolist() \
        == [2, 2, 2]
