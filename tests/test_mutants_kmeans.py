"""k-means details that mutation testing found unchecked: the feature matrix's clipping, the name
boundaries (a cluster median exactly on a tercile), the seeds' range, ``from_params``, and the
seeded procedure itself: the silhouette is measured on the seeded subsample, and the stability
resamples follow the same seeded stream.

``replay`` redoes the documented procedure step by step with its own generator (the module
docstring of ``segkit.schemes.kmeans``): one ``numpy.random.default_rng(random_state)`` draws the
sample, then the silhouette subsample, then one KMeans seed per k, the final fit's seed, and per
stability resample its rows and then its KMeans seed. The Jaccard indices are recomputed with sets.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

from segkit.schemes import KMeansSegmenter
from segkit.schemes.kmeans import kmeans_matrix

SEED_HIGH = 2**31 - 1


def test_matrix_is_log1p_of_the_values_clipped_at_zero():
    f = pd.DataFrame({"recency_days": [0, -2, 9], "frequency": [1.0, -0.5, 3.0], "monetary": [-10.0, 0.0, 99.0],
                      "extra": [1.5, -2.0, 3.0]})
    X = kmeans_matrix(f, ("extra",))
    expected = np.array([[0.0, np.log(2), 0.0, 1.5], [0.0, 0.0, 0.0, -2.0], [np.log(10), np.log(4), np.log(100), 3.0]])
    np.testing.assert_allclose(X, expected, rtol=1e-12)


def test_names_at_the_tercile_boundaries():
    # 4 customers of cluster 2, 5 of cluster 1, 1 of cluster 0; the 33% and 67% quantiles (linear)
    # fall between equal values: recency 50 and 100, frequency 1 and 2, monetary 1 and 5
    f = pd.DataFrame({"recency_days": [100] * 4 + [50] * 5 + [10], "frequency": [1] * 4 + [2] * 5 + [10],
                      "monetary": [1.0] * 4 + [5.0] * 5 + [9.0]})
    seg = KMeansSegmenter()
    seg._features, seg.k_ = f, 3
    names = seg._name_clusters(np.array([2] * 4 + [1] * 5 + [0]))
    # a median on the lower tercile is recent / low spend (<=); on the upper tercile it is not
    # lapsed, not frequent, not high spend (strictly above)
    assert names == {0: "recent, frequent, high spend", 1: "recent, occasional, mid spend",
                     2: "fading, one-time, low spend"}


def test_seeds_cover_the_31_bit_range():
    rng = np.random.default_rng(3)
    seeds = [KMeansSegmenter._seed(rng) for _ in range(200)]
    assert all(0 <= s < SEED_HIGH for s in seeds) and len(set(seeds)) == 200
    assert max(seeds) > 2**30  # 200 draws all below half the range: probability 2**-200


def test_from_params_takes_the_k_range_and_the_seed():
    seg = KMeansSegmenter.from_params(SimpleNamespace(k_range=[3, 5], seed=11))
    assert seg.k_range == (3, 5) and seg.random_state == 11


def overlapping(n: int = 90, seed: int = 4) -> pd.DataFrame:
    """Three loose groups that overlap, so resamples and subsamples change the numbers."""
    rng = np.random.default_rng(seed)
    g = np.arange(n) % 3
    return pd.DataFrame({"customer_id": [f"c{i:03d}" for i in range(n)],
                         "recency_days": np.exp(rng.normal(2 + g, 0.9)).round(),
                         "frequency": 1 + rng.poisson(1 + 2 * g),
                         "monetary": np.exp(rng.normal(3 + 0.5 * g, 0.8)).round(2)})


def replay(f: pd.DataFrame, seg: KMeansSegmenter) -> dict:
    """The documented procedure redone: sample, silhouette subsample, sweep, final fit, resamples."""
    f = f.sort_values("customer_id", kind="stable").reset_index(drop=True)
    rng = np.random.default_rng(seg.random_state)
    X = np.nan_to_num(StandardScaler().fit_transform(kmeans_matrix(f)))
    S = X[np.sort(rng.choice(len(f), size=min(len(f), seg.sample_size), replace=False))]
    sil = np.sort(rng.choice(len(S), size=min(len(S), seg.silhouette_size), replace=False))
    lo, hi = seg.k_range
    sweep = {k: KMeans(n_clusters=k, n_init=seg.n_init_sweep, random_state=int(rng.integers(0, SEED_HIGH))).fit(S)
             for k in range(lo, hi + 1)}
    final = KMeans(n_clusters=seg.k_, init=sweep[seg.k_].cluster_centers_, n_init=1,
                   random_state=int(rng.integers(0, SEED_HIGH))).fit(X)
    ref = ((S[:, None, :] - seg.centers_[None]) ** 2).sum(axis=2).argmin(axis=1)
    jaccard = np.full((max(seg.n_stability, 1), seg.k_), np.nan)
    for b in range(seg.n_stability):
        boot = rng.choice(len(S), size=len(S), replace=True)
        km = KMeans(n_clusters=seg.k_, n_init=1, init=seg.centers_, random_state=int(rng.integers(0, SEED_HIGH)))
        new = km.fit(S[boot]).predict(S)
        for c in range(seg.k_):
            a = {i for i in range(len(S)) if ref[i] == c}
            jaccard[b, c] = max(len(a & {i for i in range(len(S)) if new[i] == d}) /
                                len(a | {i for i in range(len(S)) if new[i] == d}) for d in range(seg.k_))
    return {"S": S, "sil": sil, "sweep": sweep, "final": final, "jaccard": jaccard.mean(axis=0).round(4)}


@pytest.fixture()
def fitted():
    seg = KMeansSegmenter(k_range=(2, 4), random_state=5, sample_size=60, n_init_sweep=2, n_stability=3,
                          silhouette_size=25)
    f = overlapping()
    seg.fit_features(f)
    return seg, replay(f, seg)


def test_silhouette_is_measured_on_the_seeded_subsample(fitted):
    seg, r = fitted
    S, sil = r["S"], r["sil"]
    assert len(S) == 60 and len(sil) == 25
    on_sub = [silhouette_score(S[sil], r["sweep"][k].labels_[sil]) for k in (2, 3, 4)]
    on_all = [silhouette_score(S, r["sweep"][k].labels_) for k in (2, 3, 4)]
    assert seg.k_scores_["k"].tolist() == [2, 3, 4]
    np.testing.assert_allclose(seg.k_scores_["silhouette"], on_sub, rtol=1e-9)
    assert max(abs(a - b) for a, b in zip(on_sub, on_all)) > 1e-3  # the subsample makes a difference here
    assert seg.inertia_ == pytest.approx(r["final"].inertia_)


def test_stability_resamples_follow_the_seeded_stream(fitted):
    seg, r = fitted
    np.testing.assert_allclose(seg.stability_["jaccard"], r["jaccard"], atol=1e-12)
    assert (r["jaccard"] < 1).any()  # resamples move customers: the figures depend on which rows are drawn


def tied_groups() -> pd.DataFrame:
    """Four separate groups of six; two spend 100 on average, two spend 10 (exact ties)."""
    rows = []
    for g, (recency, frequency, spend) in enumerate([(1, 5, (90, 110)), (300, 5, (95, 105)), (100, 1, (8, 12)),
                                                     (2, 20, (9, 11))]):
        rows += [(f"g{g}_{j}", recency + j, frequency, float(spend[j % 2])) for j in range(6)]
    return pd.DataFrame(rows, columns=["customer_id", "recency_days", "frequency", "monetary"])


def test_clusters_of_equal_spend_keep_kmeans_own_order():
    f = tied_groups()
    seg = KMeansSegmenter(k_range=(4, 4), random_state=35, n_stability=0).fit_features(f)
    raw = replay(f, seg)["final"].labels_  # k-means' own numbers, customers sorted by id
    spend = f.sort_values("customer_id")["monetary"].to_numpy()
    means = {c: spend[raw == c].mean() for c in range(4)}
    assert sorted(means.values()) == [10.0, 10.0, 100.0, 100.0]
    # descending mean spend; a tie keeps k-means' order (with this seed k-means numbers the two
    # groups spending 10 first, so an unstable sort would swap the tied pairs)
    order = sorted(range(4), key=lambda c: (-means[c], c))
    number = {c: i for i, c in enumerate(order)}
    assert seg.clusters_.to_numpy().tolist() == [number[c] for c in raw]


def test_describe_states_each_cluster_from_the_customers_in_it(fitted):
    seg, _ = fitted
    f = overlapping().set_index("customer_id")
    line = seg.describe()
    assert len(line) == 1 and line[0].startswith(f"kmeans k={seg.k_}: ")
    parts = line[0][len(f"kmeans k={seg.k_}: "):].split("; ")
    assert len(parts) == seg.k_
    clusters = seg.clusters_.reindex(f.index)
    names = seg.labels_.reindex(f.index)
    for part, name in zip(parts, seg.segments_):
        g = f[names == name]
        c = int(clusters[names == name].iloc[0])
        assert part == (f"{c} {name}: {len(g):,}, recency {g.recency_days.mean():.0f} d, "
                        f"frequency {g.frequency.mean():.1f}, monetary {g.monetary.mean():.2f}")


def test_profile_columns_hold_every_behaviour_mean_and_the_cluster_number():
    rng = np.random.default_rng(0)
    n = 60
    f = pd.DataFrame({"customer_id": [f"c{i:02d}" for i in range(n)],
                      "recency_days": np.r_[rng.integers(1, 30, n // 2), rng.integers(300, 400, n // 2)],
                      "frequency": np.r_[rng.integers(5, 9, n // 2), np.ones(n // 2, int)],
                      "monetary": rng.uniform(10, 500, n).round(2),
                      "avg_order_value": rng.uniform(5, 50, n).round(2),
                      "tenure_days": rng.integers(30, 700, n)})
    km = KMeansSegmenter(k_range=(2, 2), random_state=0, n_stability=2).fit_features(f)
    prof = km.profile()
    assert prof.columns.tolist() == ["segment", "cluster", "rank", "customers", "share", "recency_days",
                                     "frequency", "monetary", "avg_order_value", "tenure_days", "jaccard"]
    table = km.segment_table().merge(f, on="customer_id")
    for _, row in prof.iterrows():
        members = table[table["segment"] == row["segment"]]
        for col in ("avg_order_value", "tenure_days"):
            assert row[col] == pytest.approx(members[col].mean())
    assert prof["cluster"].tolist() == [0, 1]


def two_groups() -> pd.DataFrame:
    """c0..c3 recent, frequent, big spenders; c4..c7 lapsed one-timers: k = 2 finds exactly these."""
    return pd.DataFrame({"customer_id": [f"c{i}" for i in range(8)],
                         "recency_days": [5, 6, 5, 7, 300, 310, 305, 320], "frequency": [9, 8, 10, 9, 1, 1, 1, 2],
                         "monetary": [500.0, 450.0, 520.0, 480.0, 20.0, 25.0, 22.0, 30.0]})


def two_clusters() -> KMeansSegmenter:
    seg = KMeansSegmenter(k_range=(2, 2), random_state=1, n_stability=2).fit_features(two_groups())
    assert seg.clusters_.tolist() == [0] * 4 + [1] * 4   # the starting numbering the tests below renumber
    return seg


def previous(clusters: dict) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": list(clusters), "cluster": list(clusters.values())})


def test_match_labels_swaps_numbers_centres_and_stability_rows():
    seg = two_clusters()
    centers, names = seg.centers_.copy(), list(seg.segments_)
    seg.match_labels(previous({f"c{i}": 1 if i < 4 else 0 for i in range(8)}))   # the old fit numbered them the other way
    assert seg.clusters_.tolist() == [1] * 4 + [0] * 4
    np.testing.assert_array_equal(seg.centers_, centers[::-1])     # centre rows follow their clusters
    assert list(seg.segments_) == names[::-1]
    assert seg.stability_.columns.tolist() == ["cluster", "name", "jaccard"]
    assert seg.stability_["cluster"].tolist() == [0, 1] and seg.stability_["name"].tolist() == names[::-1]


def test_match_labels_with_one_shared_customer_or_none():
    seg = two_clusters()
    seg.match_labels(previous({"zz": 0}))                           # nobody in common: nothing changes
    assert seg.clusters_.tolist() == [0] * 4 + [1] * 4
    seg.match_labels(previous({"c5": 0, "zz": 1}))                  # one customer in common decides
    assert seg.clusters_.tolist() == [1] * 4 + [0] * 4


def test_match_labels_against_a_fit_with_more_clusters():
    # the old fit had clusters 0..2; new cluster 0 overlaps old 2, new 1 overlaps old 0: the matched
    # numbers 2 and 0 are compacted to 0..k-1 in their order, so new 0 -> 1 and new 1 -> 0
    seg = two_clusters()
    centers = seg.centers_.copy()
    seg.match_labels(previous({"c0": 2, "c1": 2, "c4": 0, "c5": 0, "c6": 1}))
    assert seg.clusters_.tolist() == [1] * 4 + [0] * 4
    np.testing.assert_array_equal(seg.centers_, centers[::-1])


def test_fit_without_a_reference_is_fit_features():
    from segkit.schemes.registry import SchemeInputs

    seg = KMeansSegmenter(k_range=(2, 2), random_state=1, n_stability=2)
    seg.fit(SchemeInputs(features=two_groups(), monthly=pd.DataFrame(), split=None, params=None))
    assert seg.k_ == 2 and seg.clusters_.tolist() == [0] * 4 + [1] * 4
    np.testing.assert_array_equal(seg.centers_, two_clusters().centers_)


def test_segment_table_numbers_names_and_ranks_by_cluster():
    seg = two_clusters()
    assert seg.clusters_.name == "cluster"
    seg.match_labels(previous({f"c{i}": 1 if i < 4 else 0 for i in range(8)}))   # numbers no longer in id order
    table = seg.segment_table()
    assert table.columns.tolist() == ["customer_id", "segment", "rank", "cluster", "name"]
    assert table["customer_id"].tolist() == [f"c{i}" for i in range(8)]
    assert table["cluster"].tolist() == [1] * 4 + [0] * 4
    assert table["rank"].tolist() == [2] * 4 + [1] * 4                 # rank = cluster + 1
    assert table["name"].tolist() == table["segment"].tolist() == [seg.segments_[1]] * 4 + [seg.segments_[0]] * 4
    assert seg.clusters_.name == "cluster"


def test_segment_table_takes_the_numbers_by_id_whatever_their_order():
    """clusters_ in the table's order are shared as they are (and stay the scheme's own when the table
    is changed); in another order they are looked up by id: the same table."""
    import copy

    seg = two_clusters()
    seg.match_labels(previous({f"c{i}": 1 if i < 4 else 0 for i in range(8)}))
    table = seg.segment_table()
    other = copy.copy(seg)
    other.clusters_ = seg.clusters_.iloc[::-1]  # the same numbers, reversed
    other._table_cache = {}
    pd.testing.assert_frame_equal(other.segment_table(), table)
    table.loc[0, "cluster"] = 7
    assert seg.clusters_.iloc[0] == 1 and seg.segment_table().loc[0, "cluster"] == 1


def test_features_in_any_row_order_give_the_same_fit():
    f = two_groups()
    ref = two_clusters()
    for shuffled in (f.iloc[::-1].reset_index(drop=True), f.iloc[[4, 0, 5, 1, 6, 2, 7, 3]]):
        seg = KMeansSegmenter(k_range=(2, 2), random_state=1, n_stability=2).fit_features(shuffled)
        assert seg.clusters_.index.tolist() == [f"c{i}" for i in range(8)]
        assert seg.clusters_.tolist() == [0] * 4 + [1] * 4
        np.testing.assert_array_equal(seg.centers_, ref.centers_)


def test_clusters_with_the_same_name_are_numbered_from_the_second():
    # every customer alike: medians equal both terciles -> recent (<=), one-time (freq 1), low spend (<=)
    f = pd.DataFrame({"recency_days": [10] * 6, "frequency": [1] * 6, "monetary": [5.0] * 6})
    seg = KMeansSegmenter()
    seg._features, seg.k_ = f, 3
    names = seg._name_clusters(np.array([0, 0, 1, 1, 2, 2]))
    base = "recent, one-time, low spend"
    assert names == {0: base, 1: f"{base} (2)", 2: f"{base} (3)"}


# --- survivors of the 2026-12-04 run -------------------------------------------------------------

def test_matrix_of_object_columns_is_a_float_matrix():
    # numbers held as Python objects (a frame read without dtypes) still give a float matrix
    f = pd.DataFrame({"recency_days": [0, 9], "frequency": [1, 3], "monetary": [0, 99], "extra": [2, -1]},
                     dtype=object)
    X = kmeans_matrix(f, ("extra",))
    assert X.dtype == np.float64
    np.testing.assert_allclose(X, [[0.0, np.log(2), 0.0, 2.0], [np.log(10), np.log(4), np.log(100), -1.0]])


def test_sorted_by_id_keeps_a_sorted_frame_and_sorts_others_stably():
    from segkit.schemes.kmeans import _sorted_by_id

    f = two_groups()
    assert _sorted_by_id(f) is f                                       # already sorted: not copied
    # integer ids out of order, 20 and 7 twice: rows with the same id keep their input order
    ids = [20, 7, 3, 20, 7] * 8
    g = pd.DataFrame({"customer_id": ids, "row": range(len(ids))}, index=range(100, 100 + len(ids)))
    out = _sorted_by_id(g)
    assert out.columns.tolist() == ["customer_id", "row"] and out.index.equals(pd.RangeIndex(len(ids)))
    expected = sorted(range(len(ids)), key=lambda i: (ids[i], i))
    assert out["row"].tolist() == expected
    sorted_but_indexed = two_groups().set_axis(range(10, 18))       # sorted ids, another index: renumbered
    assert _sorted_by_id(sorted_but_indexed).index.equals(pd.RangeIndex(8))


def test_missing_feature_columns_are_a_parameter_error():
    from segkit.errors import ParameterError

    with pytest.raises(ParameterError, match=r"lack \['extra', 'frequency'\]"):
        KMeansSegmenter(extra_features=("extra",)).fit_features(two_groups().drop(columns="frequency"))


def test_as_many_customers_as_clusters_is_a_parameter_error():
    from segkit.errors import ParameterError

    with pytest.raises(ParameterError, match="more customers than clusters: 2 customer"):
        KMeansSegmenter(k_range=(2, 2)).fit_features(two_groups().iloc[[0, 5]])


def test_k_is_tried_up_to_one_below_the_customers():
    f = two_groups().iloc[[0, 1, 4, 5, 7]].reset_index(drop=True)      # 5 distinct customers
    seg = KMeansSegmenter(k_range=(2, 8), random_state=0, n_stability=0).fit_features(f)
    assert seg.k_scores_["k"].tolist() == [2, 3, 4]


def test_k_stops_below_the_distinct_profiles():
    # 6 customers, 3 distinct profiles: k = 3 would put every profile alone, k stops at 2
    f = two_groups().iloc[[0, 0, 4, 4, 7, 7]].reset_index(drop=True)
    f["customer_id"] = [f"c{i}" for i in range(6)]
    seg = KMeansSegmenter(k_range=(2, 5), random_state=0, n_stability=0)
    assert seg.fit_features(f) is seg
    assert seg.k_scores_["k"].tolist() == [2] and seg.k_ == 2


def test_extra_features_are_clustered_on():
    f = two_groups()
    f["extra"] = np.arange(8.0)
    seg = KMeansSegmenter(k_range=(2, 2), random_state=1, n_stability=0, extra_features=("extra",)).fit_features(f)
    assert seg.centers_.shape == (2, 4) and seg.scaler_.n_features_in_ == 4


def test_fits_emit_no_warnings():
    import warnings

    for n_stability in (0, 2):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            KMeansSegmenter(k_range=(2, 3), random_state=1, n_stability=n_stability).fit_features(two_groups())


def test_silhouette_falls_back_to_the_sample_when_the_subsample_has_one_cluster():
    f = overlapping()
    seg = KMeansSegmenter(k_range=(2, 3), random_state=5, sample_size=60, n_init_sweep=2, n_stability=0,
                          silhouette_size=1).fit_features(f)
    r = replay(f, seg)
    full = [silhouette_score(r["S"], r["sweep"][k].labels_) for k in (2, 3)]
    np.testing.assert_allclose(seg.k_scores_["silhouette"], full, rtol=1e-9)


def test_one_stability_resample_is_computed():
    f = overlapping()
    seg = KMeansSegmenter(k_range=(2, 3), random_state=5, sample_size=60, n_init_sweep=2, n_stability=1,
                          silhouette_size=25).fit_features(f)
    jaccard = replay(f, seg)["jaccard"]
    assert np.isfinite(jaccard).all()
    np.testing.assert_allclose(seg.stability_["jaccard"], jaccard, atol=1e-12)
    assert seg.stability_.columns.tolist() == ["cluster", "name", "jaccard"]
    assert seg.stability_["name"].tolist() == seg.segments_


def test_stability_not_computed_is_one_empty_row_per_cluster():
    seg = KMeansSegmenter(k_range=(2, 2), random_state=1, n_stability=0).fit_features(two_groups())
    st = seg.stability_
    assert st.columns.tolist() == ["cluster", "name", "jaccard"]
    assert st["cluster"].tolist() == [0, 1] and st["name"].tolist() == seg.segments_
    assert st["jaccard"].dtype == np.float64 and st["jaccard"].isna().all()


def test_segment_table_of_integer_ids_carries_each_customers_cluster():
    f = two_groups()
    f["customer_id"] = range(5, 13)                                   # as text "10" sorts before "5"
    seg = KMeansSegmenter(k_range=(2, 2), random_state=1, n_stability=0).fit_features(f)
    table = seg.segment_table()
    assert table["customer_id"].tolist() == ["10", "11", "12", "5", "6", "7", "8", "9"]
    assert table["cluster"].tolist() == [1, 1, 1, 0, 0, 0, 0, 1]       # ids 5..8 spend most: cluster 0
    assert table["rank"].tolist() == [2, 2, 2, 1, 1, 1, 1, 2]


def test_a_tie_in_silhouette_chooses_the_smaller_k():
    # behaviour alike, one extra column 0, 2, 3, 5 (silhouette does not change with its scaling):
    # k = 2 {0, 2} {3, 5}: s = 1/2, 0, 0, 1/2; k = 3 {0} {2, 3} {5}: s = 0, 1/2, 1/2, 0; both mean 1/4
    f = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "recency_days": [5] * 4, "frequency": [2] * 4,
                      "monetary": [10.0] * 4, "x": [0.0, 2.0, 3.0, 5.0]})
    seg = KMeansSegmenter(k_range=(2, 3), random_state=0, n_stability=0, extra_features=("x",)).fit_features(f)
    assert seg.k_scores_["k"].tolist() == [2, 3]
    assert seg.k_scores_["silhouette"].tolist() == [0.25, 0.25]
    assert seg.k_ == 2 and sorted(seg.clusters_.value_counts().tolist()) == [2, 2]


def test_names_after_renumbering_are_those_counted_afresh():
    """match_labels moves each cluster's medians with its number: the names equal a fresh count over
    the customers (four clusters, a cyclic renumbering)."""
    rng = np.random.default_rng(3)
    n = 300
    f = pd.DataFrame({"customer_id": [f"c{i:03d}" for i in range(n)], "recency_days": rng.integers(0, 400, n),
                      "frequency": rng.integers(1, 12, n), "monetary": rng.gamma(2.0, 50.0, n)})
    seg = KMeansSegmenter(k_range=(4, 4), random_state=2, n_stability=0).fit_features(f)
    before = seg.clusters_.to_numpy().copy()
    names = dict(seg.names_)
    perm = np.array([2, 0, 3, 1])
    seg.match_labels(pd.DataFrame({"customer_id": f["customer_id"], "cluster": perm[before]}))
    assert seg.clusters_.tolist() == perm[before].tolist()
    assert {perm[c]: name for c, name in names.items()} == seg.names_
    assert seg.names_ == seg._name_clusters(seg.clusters_.to_numpy())  # counted again from the customers
