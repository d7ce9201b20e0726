"""What keeps `segkit segment` from growing with the number of customers, checked by values.

Per-fit tables are built once and handed out as copies (a caller's change stays its own; a refit or a
renumbering builds them again); the cut-off's tables are checked against a fresh build.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from segkit.schemes import KMeansSegmenter, PercentileTiers, PotentialTiers


def _monthly(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    ids = [f"c{i:03d}" for i in range(n)]
    months = pd.to_datetime(["2024-05-01", "2024-06-01"])
    rows = [(c, m, float(rng.integers(1, 100))) for c in ids for m in months if rng.random() < 0.8]
    frame = pd.DataFrame(rows, columns=["customer_id", "month", "revenue"])
    return frame.assign(purchases=1)


def test_segment_table_is_built_once_and_every_caller_gets_its_own_copy():
    tiers = PercentileTiers(as_of="2024-06-30", window_months=2, dropout_months=1).fit_monthly(_monthly())
    first = tiers.segment_table()
    first["segment"] = "changed by a caller"
    first["extra"] = 1
    again = tiers.segment_table()
    assert "extra" not in again and set(again["segment"]) <= {"VIP", "GOOD", "REGULAR", "INACTIVE"}
    assert again.equals(tiers._build_segment_table())  # the same as a fresh build
    # labels replaced (a refit, a renumbering): the table follows
    tiers.labels_ = pd.Series("REGULAR", index=tiers.labels_.index, dtype=object)
    assert set(tiers.segment_table()["segment"]) == {"REGULAR"}


def test_reshared_potential_tiers_keep_their_own_table():
    ids = [f"c{i:02d}" for i in range(10)]
    pred = pd.DataFrame({"customer_id": ids, "p_alive": 0.9, "expected_purchases": 1.0,
                         "predicted_value": np.arange(10, 0, -1, dtype=float), "peer_headroom": np.nan})
    fit = PotentialTiers(vip_share=0.2, good_share=0.2)
    fit.predictions_, fit.segments_ = pred, ["VIP", "GOOD", "REGULAR", "INACTIVE"]
    fit.labels_ = fit.labels_from(pred, 0.2, 0.2)
    before = fit.segment_table()
    wider = fit.reshared(vip_share=0.5, good_share=0.2)
    assert (wider.segment_table()["segment"] == "VIP").sum() == 5
    assert fit.segment_table().equals(before) and (before["segment"] == "VIP").sum() == 2
    # the prediction columns sit beside their own customers (aligned by position when sorted alike)
    assert before.set_index("customer_id")["predicted_value"].to_dict() == dict(zip(ids, pred["predicted_value"]))


def test_potential_table_looks_customers_up_when_the_orders_differ():
    pred = pd.DataFrame({"customer_id": ["b", "a"], "p_alive": [0.9, 0.8], "expected_purchases": [1.0, 2.0],
                         "predicted_value": [5.0, 7.0], "peer_headroom": [np.nan, 1.0]})
    fit = PotentialTiers()
    fit.predictions_, fit.segments_ = pred, ["VIP", "GOOD", "REGULAR", "INACTIVE"]
    fit.labels_ = pd.Series(["GOOD", "VIP"], index=pd.Index(["a", "b"], name="customer_id"))
    table = fit.segment_table()
    assert table[["customer_id", "p_alive", "predicted_value", "peer_headroom"]].values.tolist()[0][:3] == \
        ["a", 0.8, 7.0]


def test_kmeans_table_follows_a_renumbering_and_the_cache_is_not_pickled():
    rng = np.random.default_rng(0)
    features = pd.DataFrame({"customer_id": [f"c{i:03d}" for i in range(300)],
                             "recency_days": rng.integers(0, 300, 300), "frequency": rng.integers(1, 9, 300),
                             "monetary": rng.gamma(2.0, 40.0, 300)})
    km = KMeansSegmenter(k_range=(3, 3)).fit_features(features)
    table = km.segment_table()
    assert "_table_cache" in km.__dict__ and "_table_cache" not in pickle.loads(pickle.dumps(km)).__dict__
    flipped = table.assign(cluster=(2 - table["cluster"]))  # an earlier fit that numbered the clusters backwards
    km.match_labels(flipped)
    renumbered = km.segment_table()
    assert (renumbered["cluster"].to_numpy() == flipped["cluster"].to_numpy()).all()
    assert (renumbered["rank"] == renumbered["cluster"] + 1).all()
    assert pickle.loads(pickle.dumps(km)).segment_table().equals(renumbered)


def test_earlier_cut_offs_keep_only_their_splits_and_compact_scoring_scores_the_same(cdnow_analysis):
    from segkit import backtest
    from segkit.calendar import Split

    a = cdnow_analysis
    assert len(a.backtest["origins"]) == len(a.backtest["entries"]) - 1 >= 1
    assert all(isinstance(s, Split) for s in a.backtest["origins"])  # no per-customer tables kept
    assert [s.as_of.isoformat() for s in a.backtest["origins"]] == [e["as_of"] for e in a.backtest["entries"][1:]]
    main = backtest.Origin(a.split, a.features, a.monthly, a.holdout_monthly, a.potential_summary)
    full = backtest.prepare_scoring(main, a.tables, a.params.criterion)
    compact = backtest.prepare_scoring(main, a.tables, a.params.criterion, compact=True)
    assert all(list(t.columns) == ["customer_id", "rank"] for t in compact.tables.values())
    # aligned with the outcomes' customers (one shared column of ids), ranks as small integers
    ids = compact.outcomes["customer_id"].astype(str).tolist()
    for name, t in compact.tables.items():
        assert t["customer_id"].tolist() == ids and t["rank"].dtype == np.int32
        expected = a.tables[name].set_index(a.tables[name]["customer_id"].astype(str))["rank"].reindex(ids)
        assert t["rank"].tolist() == expected.tolist()
    got = [backtest.score_origins([p], a.params, n_boot=50)[0]["results"] for p in (full, compact)]
    for name in got[0]:
        assert got[0][name]["capture_at"] == got[1][name]["capture_at"]
        assert got[0][name]["ci95"] == got[1][name]["ci95"]
    # the run's own main entry is this scoring's (same customers, outcomes and baselines)
    assert a.backtest["entries"][0]["results"]["percentile_tiers"]["capture_auc"] == \
        got[0]["percentile_tiers"]["capture_auc"]


def test_compact_scoring_still_names_a_scheme_that_leaves_customers_without_a_segment(cdnow_analysis):
    from segkit import backtest
    from segkit.errors import DataError

    a = cdnow_analysis
    main = backtest.Origin(a.split, a.features, a.monthly, a.holdout_monthly, a.potential_summary)
    tables = dict(a.tables)
    tables["rfm"] = tables["rfm"].iloc[3:]  # three evaluated customers without a segment
    compact = backtest.prepare_scoring(main, tables, a.params.criterion, compact=True)
    assert compact.tables["rfm"]["rank"].isna().sum() == 3
    with pytest.raises(DataError, match=r"segment table of 'rfm' leaves 3 evaluated customer"):
        backtest.score_origins([compact], a.params, n_boot=0)


def test_customer_weights_pick_the_same_ids_as_numpy_text_sorting():
    # distinct ids sorted in Arrow must be numpy's np.unique order (code points, accents included) and
    # the subsample above max_customers the same draw
    from segkit.compare import CustomerWeights

    rng = np.random.default_rng(1)
    ids = np.array([f"B{i:05d}" for i in rng.integers(0, 3_000, 5_000)] + ["é", "z", "Ä", "a", "B00001"],
                   dtype=object)
    distinct = np.unique(np.asarray(list(ids), dtype=str))
    for cap in (10_000, 500):
        w = CustomerWeights(ids, n_boot=3, seed=4, max_customers=cap)
        want = distinct if cap >= len(distinct) else distinct[np.sort(
            np.random.default_rng(4 + 7919).choice(len(distinct), size=cap, replace=False))]
        assert w.n_customers == len(distinct) and w.ids.tolist() == want.tolist()
        assert w.positions(["é", "nobody"]).tolist() == [(want.tolist().index("é") if "é" in want else -1), -1]


def test_customers_without_a_purchase_are_selected_in_the_engine():
    import datetime as dt

    from segkit.data import load_transactions
    from segkit.decisions.maintenance import customer_returns
    from segkit.pipeline import without_purchase

    tx = load_transactions(pd.DataFrame({
        "customer_id": ["b", "a", "c", "c", "d", "e", "e"], "amount": [10.0, -4.0, 6.0, -2.0, -1.5, -3.0, -1.0],
        "date": ["2024-01-05", "2024-01-09", "2024-02-01", "2024-01-03", "2024-01-20", "2024-01-02", "2024-01-30"]}))
    every = customer_returns(tx, None, dt.date(2024, 1, 31))
    assert every["customer_id"].tolist() == ["a", "b", "c", "d", "e"]  # sorted, whatever the engine's order
    only = customer_returns(tx, None, dt.date(2024, 1, 31), returns_only=True)
    want = every[every["purchase_lines"] == 0].reset_index(drop=True)
    assert only.equals(want) and only["customer_id"].tolist() == ["a", "c", "d", "e"]
    assert without_purchase(tx, dt.date(2024, 1, 31)).values.tolist() == [
        ["a", 1, 4.0], ["c", 1, 2.0], ["d", 1, 1.5], ["e", 2, 4.0]]


def test_month_earlier_refits_keep_only_what_stability_reads(cdnow_analysis):
    """Three columns, the segments as categories (one byte per customer): stability, migration and
    persistence equal those of the segments' text, types included."""
    from segkit.evaluate import migration_matrix, persistence, stability_ari

    a = cdnow_analysis
    for name, previous in a.previous_tables.items():
        assert list(previous.columns) == ["customer_id", "segment", "rank"], name
        assert isinstance(previous["segment"].dtype, pd.CategoricalDtype), name
        table = a.schemes[name].segment_table()
        assert -1.0 <= stability_ari(table, previous) <= 1.0
        assert migration_matrix(previous, table).to_numpy().sum() == previous["customer_id"].isin(
            table["customer_id"]).sum()
        text = previous.assign(segment=previous["segment"].astype(str))
        assert stability_ari(table, previous) == stability_ari(table, text), name
        assert a.scores[name]["metrics"]["stability_ari"] == stability_ari(table, text), name
        for f in (migration_matrix, persistence):
            pd.testing.assert_frame_equal(f(previous, table), f(text, table))




def test_a_runs_ranks_and_rfm_scores_are_narrow_integers(cdnow_analysis):
    """Ranks in 4 bytes, RFM's scores (1..bins, at most 20) in one: each segment table, month-earlier
    refit and the RFM scores kept to the end of a run (10M B2C rows: 0.16 GB less at the peak)."""
    a = cdnow_analysis
    for name, table in [*a.tables.items(), *(("previous " + k, v) for k, v in a.previous_tables.items())]:
        assert table["rank"].dtype == np.int32, name
        assert table["rank"].min() == 1, name
    scores = a.schemes["rfm"].scores_
    assert all(scores[c].dtype == np.int8 for c in ("rfm_r", "rfm_f", "rfm_m"))
    assert scores["rfm_r"].between(1, a.params.rfm_bins).all()
    # the export reads the same numbers
    rfm = a.assignments.set_index(a.assignments["customer_id"].astype(str))
    assert (rfm.loc[scores["customer_id"], "rfm_r"].to_numpy() == scores["rfm_r"].to_numpy()).all()


def test_month_earlier_inputs_keep_only_the_feature_columns_the_pandas_refits_read(cdnow_analysis, cdnow_tx):
    """The tiers refit one month earlier in the engine; RFM, k-means and the predicted-value tiers
    read the columns they name (``features_at_refit``), the rest of the month-earlier feature table
    is let go at once. Those refits give the same segment tables as on the whole table."""
    import dataclasses

    from segkit.features import CustomerMonths, customer_features
    from segkit.pipeline import _previous_inputs
    from segkit.schemes import registry

    a = cdnow_analysis
    earlier = a.split.shifted(-1)
    months = CustomerMonths.compute(cdnow_tx, earlier.previous_window_months[0], a.split.as_of)
    try:
        monthly = months.frame(earlier.previous_window_months[0], a.split.as_of)
        inputs = _previous_inputs(a.params, cdnow_tx, earlier, monthly, months)
    finally:
        months.drop()
    assert sorted(inputs.refitted) == ["percentile_tiers"]
    wanted = {"customer_id", "recency_days", "frequency", "monetary",
              *KMeansSegmenter.from_params(a.params).features_at_refit()}
    assert set(inputs.features.columns) == wanted
    whole = customer_features(cdnow_tx, earlier.as_of)
    assert len(whole.columns) > len(wanted) + 5
    pd.testing.assert_frame_equal(inputs.features, whole[list(inputs.features.columns)])
    for spec in registry.schemes():
        if spec.name in inputs.refitted:
            continue
        fits = [spec.cls.from_params(a.params).fit(dataclasses.replace(
            inputs, features=f, reference=a.schemes[spec.name], segments_only=True)).segment_table()
            for f in (inputs.features, whole)]
        assert len(fits[0]) == len(whole) > 20_000, spec.name
        pd.testing.assert_frame_equal(*fits, obj=spec.name)


def test_month_earlier_refits_hold_the_features_ids_when_the_customers_are_the_same(cdnow_analysis):
    """CDNOW's customers all bought in its first quarter: one month earlier the same customers, whose
    ids the refits hold as the features' own buffer (not a copy of every id); the same values."""
    a = cdnow_analysis
    ids = a.features["customer_id"]
    for name, previous in a.previous_tables.items():
        assert previous["customer_id"].tolist() == ids.tolist(), name
        assert np.shares_memory(np.asarray(previous["customer_id"].array._pa_array.chunks[0].buffers()[-1]),
                                np.asarray(ids.array._pa_array.chunks[0].buffers()[-1])), name


def test_month_earlier_tiers_read_as_categories_give_the_tier_changes_of_their_text(cdnow_analysis):
    """The decisions read the month-earlier tiers by their categories (no text of every customer's):
    the same tiers and tier changes as from the text, also with a missing segment or one that is
    not a tier name (then both map by rank)."""
    from segkit.decisions.actions import tier_change
    from segkit.decisions.run import segments_as_tiers

    a = cdnow_analysis
    now, _ = segments_as_tiers(a.schemes["percentile_tiers"].segment_table())
    previous = a.previous_tables["percentile_tiers"]
    odd = previous["segment"].cat.add_categories(["SPECIAL"])
    variants = [previous,
                previous.assign(segment=previous["segment"].where(np.arange(len(previous)) % 9 > 0)),
                previous.assign(segment=odd.where(np.arange(len(previous)) % 11 > 0, "SPECIAL")),
                previous.assign(segment=previous["segment"].cat.add_categories(["UNUSED"]))]
    hows = []
    for table in variants:
        coded, how = segments_as_tiers(table)
        text, how_text = segments_as_tiers(table.assign(segment=table["segment"].astype(str)))
        hows.append(how)
        assert how == how_text
        assert coded["customer_id"].equals(text["customer_id"])
        assert coded["tier"].astype(str).tolist() == text["tier"].astype(str).tolist()
        pd.testing.assert_frame_equal(tier_change(now, coded), tier_change(now, text))
    assert hows == ["by name", "by rank", "by rank", "by name"]
    for table in (variants[0], variants[3]):  # read by name without their text (an unused category too)
        assert isinstance(segments_as_tiers(table)[0]["tier"].dtype, pd.CategoricalDtype)


def test_stability_of_dictionary_encoded_segments_equals_that_of_their_text():
    from segkit.evaluate import stability_ari

    rng = np.random.default_rng(5)
    ids = np.array([f"c{i:04d}" for i in range(2_000)])
    names = np.array(["VIP", "GOOD", "REGULAR", "INACTIVE"])
    now = pd.DataFrame({"customer_id": ids, "segment": names[rng.integers(0, 4, 2_000)]})
    keep = np.sort(rng.choice(2_000, 1_500, replace=False))
    before = pd.DataFrame({"customer_id": ids[keep], "segment": np.where(rng.random(1_500) < 0.7,
                                                                          now["segment"].to_numpy()[keep], "GOOD")})
    coded = [t.assign(segment=t["segment"].astype("category")) for t in (now, before)]
    assert stability_ari(*coded) == stability_ari(now, before) == stability_ari(coded[0], before)
    with_missing = coded[0].assign(segment=coded[0]["segment"].where(np.arange(2_000) % 7 > 0))
    assert stability_ari(with_missing, before) == stability_ari(with_missing.assign(
        segment=with_missing["segment"].astype(str)), before)



def test_an_earlier_cut_offs_baselines_share_the_outcomes_ids():
    import pickle

    from segkit.backtest import _sharing_ids

    ids = pd.Series([f"c{i:03d}" for i in range(50)], dtype="str")
    base = pickle.loads(pickle.dumps(pd.DataFrame({"customer_id": ids, "recency": np.arange(50.0)})))  # a spilled copy

    def buffer(s):
        return s.array._pa_array.chunks[0].buffers()[2].address

    assert buffer(base["customer_id"]) != buffer(ids)
    shared = _sharing_ids(base, ids)
    assert buffer(shared["customer_id"]) == buffer(ids) and shared.equals(base)
    other = base.assign(customer_id=ids.str.upper())
    assert _sharing_ids(other, ids) is other and _sharing_ids(base.iloc[1:], ids) is not None
    assert _sharing_ids(base.iloc[1:], ids)["customer_id"].tolist() == ids.tolist()[1:]


def _text_buffer(column: pd.Series) -> int:
    """The address of a text column's character buffer (Arrow)."""
    import pyarrow as pa

    arr = pa.array(column.array)
    return (arr.chunks[0] if isinstance(arr, pa.ChunkedArray) else arr).buffers()[2].address


def test_assignments_share_the_segment_tables_columns_instead_of_copying_them():
    """Each scheme's label column in the assignments is categories of the segment table's labels (one byte,
    no Python object per customer on the way), with the same values; a table of text labels (a plug-in's
    own table) gives categories of the same values; its number columns are the table's own arrays."""
    from segkit.pipeline import _assignments
    from segkit.schemes import registry

    if set(registry.names()) != {"percentile_tiers", "rfm", "kmeans", "potential"}:
        pytest.skip("a plug-in scheme is registered: the constructed tables cover the built-in schemes only")
    n = 5000
    ids = pd.array([f"c{i:05d}" for i in range(n)], dtype="str")
    rng = np.random.default_rng(2)

    def labels(names: list[str]) -> pd.Series:
        text = pd.Series(pd.array(np.array(names, dtype=object)[rng.integers(0, len(names), n)], dtype="str"))
        return text.astype("category") if names[0] != "VIP" else text  # the tiers' as text, the others' categories

    names = labels(["recent, frequent, high spend", "fading, one-time, mid spend"])
    tables = {
        "percentile_tiers": pd.DataFrame({"customer_id": ids, "segment": labels(["VIP", "GOOD", "REGULAR"]),
                                          "rank": 1}),
        "rfm": pd.DataFrame({"customer_id": ids, "segment": labels(["Champions", "Lost"]), "rank": 1,
                             "rfm_r": rng.integers(1, 6, n), "rfm_f": 2, "rfm_m": 3}),
        # numbered from 100 (a table not renumbered): its columns go by position, not by index label
        "kmeans": pd.DataFrame({"customer_id": ids, "segment": names, "rank": 1, "cluster": rng.integers(0, 2, n),
                                "name": names}, index=range(100, 100 + n)),
        "potential": pd.DataFrame({"customer_id": ids, "segment": labels(["VIP", "INACTIVE"]), "rank": 1,
                                   "p_alive": rng.random(n), "expected_purchases": 1.0, "predicted_value": rng.random(n),
                                   "peer_headroom": np.nan}),
    }
    lifecycle = pd.DataFrame({"customer_id": ids, "lifecycle_stage": "steady"})
    applied = pd.DataFrame({"customer_id": ids, "override_tier": None, "override_reason": None})
    out = _assignments(lifecycle, applied, tables, {"recommended": "rfm"})
    for column, (scheme, source) in {"percentile_tier": ("percentile_tiers", "segment"),
                                     "rfm_segment": ("rfm", "segment"), "kmeans_name": ("kmeans", "name"),
                                     "potential_tier": ("potential", "segment")}.items():
        assert out[column].tolist() == tables[scheme][source].tolist() and out[column].dtype == "category", column
        assert out[column].cat.categories.tolist() == sorted(set(tables[scheme][source].dropna())), column
        assert out[column].array.codes.nbytes == n, column  # one byte per customer
    assert out["recommended_segment"].tolist() == tables["rfm"]["segment"].tolist()
    assert out["recommended_segment"].dtype == "category"
    # the number columns too: the segment table's own array (a copy was 27 MB per column at 3.4M customers)
    for column, (scheme, source) in {"rfm_r": ("rfm", "rfm_r"), "kmeans_cluster": ("kmeans", "cluster"),
                                     "p_alive": ("potential", "p_alive"),
                                     "predicted_value": ("potential", "predicted_value")}.items():
        assert np.array_equal(out[column].to_numpy(), tables[scheme][source].to_numpy()), column
        assert np.shares_memory(out[column].to_numpy(), tables[scheme][source].to_numpy()), column


def _text_hashes(monkeypatch) -> list[int]:
    """The lengths of the text (or object) indexes pandas hashes from now on (numbers hash without objects)."""
    from pandas.core.indexes.base import Index

    hashed: list[int] = []
    real = Index._get_engine_target

    def spy(self):
        if self.dtype == object or isinstance(self.dtype, pd.StringDtype):
            hashed.append(len(self))
        return real(self)

    monkeypatch.setattr(Index, "_get_engine_target", spy)
    return hashed


def test_the_decisions_never_hash_every_customers_text_in_pandas(cdnow_analysis, monkeypatch):
    """pandas hashes text by making one Python string per value first (a boolean Series used as a key,
    ``dropna``, a merge, a ``Categorical`` of labels): at 3.37M customers each such table cost about
    0.25 GB inside the decisions, the run's peak. The decisions look ids and labels up in Arrow
    instead: nothing as long as the customers is hashed by pandas (the contact list's few candidates
    may be)."""
    from segkit.decisions.run import decide

    hashed = _text_hashes(monkeypatch)
    decisions = decide(cdnow_analysis)
    customers = len(cdnow_analysis.features)
    assert len(decisions.actions) > 100 and customers > 20_000  # not vacuous: a real contact list
    assert max(hashed, default=0) < customers // 4, sorted(hashed)[-3:]


def test_the_model_alerts_never_hash_every_customers_text_in_pandas(cdnow_analysis, monkeypatch):
    """The model's alert rows pick the tiers' VIP and GOOD customers: a boolean Series as the key made
    pandas build the labels' index engine (one Python string per customer in a hash table), kept with
    the tiers to the end of the run: 0.27 GB at 3.37M customers."""
    from segkit.potential.outputs import model_alert_rows

    tiers, potential = cdnow_analysis.schemes["percentile_tiers"], cdnow_analysis.schemes["potential"]
    # a fresh index: an engine another test built on the shared analysis would hide a new one
    labels = pd.Series(tiers.labels_.array, index=pd.Index(tiers.labels_.index.array, name="customer_id"))
    last = cdnow_analysis.features.set_index("customer_id")["last_purchase"]
    hashed = _text_hashes(monkeypatch)
    rows = model_alert_rows(potential.predictions_, labels, tiers.window_totals_, tiers.monthly_tiers_, last)
    customers = len(cdnow_analysis.features)
    assert len(rows) > 10 and customers > 20_000  # not vacuous: the rule flags customers
    assert max(hashed, default=0) < customers // 4, sorted(hashed)[-3:]
    assert "_engine" not in labels.index._cache


def test_the_holdout_the_earlier_stages_and_the_profiles_never_hash_every_customers_text(cdnow_analysis, cdnow_tx,
                                                                                          monkeypatch):
    """A pandas merge or ``Categorical`` of text makes one Python string per value and hashes them: the
    holdout outcomes (features stage), the month-earlier stages and each scheme's profile (the summary
    ``segkit segment`` prints last, the run's highest point at 3.37M customers: 5.17 GB) look the
    customers up in Arrow instead, with the same tables."""
    from segkit.decisions.run import earlier_stages
    from segkit.decisions.stages import per_customer_frames
    from segkit.features import CustomerMonths, holdout_outcomes

    a = cdnow_analysis
    customers = len(a.features)
    earlier = a.split.shifted(-1).as_of
    months = CustomerMonths.compute(cdnow_tx, a.split.previous_window_months[0], a.split.as_of)
    try:
        counted = per_customer_frames(months.rows(a.split.previous_window_months[0], earlier), [earlier],
                                      one_row_per_month=True)[0]
    finally:
        months.drop()
    hashed = _text_hashes(monkeypatch)
    outcomes = holdout_outcomes(cdnow_tx, a.split, a.features["customer_id"])
    stages = earlier_stages(a.features, earlier, counted)
    profiles = {name: scheme.profile() for name, scheme in a.schemes.items()}
    assert max(hashed, default=0) < customers // 4, sorted(hashed)[-3:]
    monkeypatch.undo()
    pd.testing.assert_frame_equal(outcomes, a.outcomes)
    assert stages["stage"].notna().sum() > customers // 2
    pd.testing.assert_series_equal(stages["stage"], a.stages_earlier["stage"])
    # the profile is each segment's mean of the features: recounted here with pandas' own join
    kmeans = a.schemes["kmeans"]
    joined = kmeans.segment_table().merge(a.features, on="customer_id", how="left", suffixes=("", "_f"))
    means = joined.groupby(joined["segment"].astype(str))["monetary"].mean()
    got = profiles["kmeans"].set_index("segment")["monetary"]
    pd.testing.assert_series_equal(got.sort_index(), means.sort_index(), check_names=False)
    assert profiles["kmeans"]["customers"].sum() == customers


def test_stages_read_back_from_disk_share_the_features_ids_and_one_stage_text(cdnow_analysis):
    """The stage tables wait on disk (pickled: every text column comes back with its own buffer);
    read back, the evaluated customers' and the month-earlier stages hold the features' own ids and
    ``lifecycle_stage`` is ``stage``'s categories (one byte per customer), with the same values. RFM's
    labels are its scores' categories."""
    a = cdnow_analysis
    ids = a.features["customer_id"]
    assert _text_buffer(a.lifecycle["customer_id"]) == _text_buffer(ids)
    assert _text_buffer(a.stages_earlier["customer_id"]) == _text_buffer(ids)
    stage = a.lifecycle["stage"].array
    assert isinstance(stage, pd.Categorical) and stage.codes.nbytes == len(stage)
    assert a.lifecycle["lifecycle_stage"].dtype == stage.dtype
    assert _text_buffer(a.potential_summary["customer_id"]) == _text_buffer(ids)
    assert a.lifecycle["customer_id"].tolist() == ids.tolist()
    assert a.lifecycle["lifecycle_stage"].tolist() == a.lifecycle["stage"].tolist()
    rfm = a.schemes["rfm"]
    # RFM's labels are categories (one byte per customer), as its scores' column
    assert rfm.labels_.dtype == "category" and rfm.scores_["rfm_segment"].dtype == "category"
    assert rfm.labels_.array.codes.nbytes == len(rfm.labels_)
    assert rfm.labels_.tolist() == rfm.scores_["rfm_segment"].tolist()


def test_a_table_of_other_ids_keeps_its_own():
    """Ids in another order (or other ids) are not replaced: only the same ids in the same order share."""
    from segkit.pipeline import _with_ids_of

    ids = pd.Series(pd.array(["a", "b", "c"], dtype="str"))
    frame = pd.DataFrame({"customer_id": pd.array(["a", "c", "b"], dtype="str"), "stage": ["x", "y", "z"]})
    assert _with_ids_of(frame, ids) is frame
    same = pd.DataFrame({"customer_id": pd.array(["a", "b", "c"], dtype="str"), "stage": ["x", "y", "z"]})
    shared = _with_ids_of(same, ids)
    assert _text_buffer(shared["customer_id"]) == _text_buffer(ids) and shared.equals(same)


def test_the_potential_predictions_hold_the_summary_columns_without_a_copy(cdnow_analysis):
    """The predictions' ``x, span_days, age_days, repeat_value`` are the purchase summary's own arrays
    (not a second copy sent through the engine and back), with the same values and types."""
    a = cdnow_analysis
    pred, summary = a.schemes["potential"].predictions_, a.potential_summary
    assert pred["customer_id"].tolist() == summary["customer_id"].tolist()
    for column in ("x", "span_days", "age_days", "repeat_value"):
        assert np.shares_memory(pred[column].to_numpy(), summary[column].to_numpy()), column
        pd.testing.assert_series_equal(pred[column], summary[column])


def test_the_tiers_code_only_the_rows_they_read_and_label_alike(cdnow_tx):
    """The tiers take the window's and the window-before's rows of known customers once, with the ids
    as codes (never a text copy): the frame and positions of the mask-then-code steps, and the same
    fit whether the table comes sorted by month (its windows then slices of it) or shuffled."""
    import datetime as dt

    from segkit.features import customer_features, customer_month
    from segkit.schemes.tiers import _coded, _coded_rows, _rows_in, _sorted_ids

    as_of = dt.date(1997, 12, 31)
    monthly, features = customer_month(cdnow_tx, None, as_of), customer_features(cdnow_tx, dt.date(1997, 9, 30))
    ids = _sorted_ids(features["customer_id"].astype(str))  # fewer customers: rows of unknown ids too
    keep = ["customer_id", "month", "revenue", "purchases"]
    rows = (monthly["month"] >= pd.Timestamp("1997-04-01")).to_numpy()
    got, at = _coded_rows(monthly[keep], rows, ids)
    expected, expected_at = _coded(monthly.loc[rows, keep], ids, drop_unknown=True)
    pd.testing.assert_frame_equal(got, expected)
    assert np.array_equal(at, expected_at) and 0 < len(got) < rows.sum()
    window = [pd.Timestamp(f"1997-{m:02d}-01") for m in (10, 11, 12)]
    part = _rows_in(monthly, window)
    assert np.shares_memory(part["revenue"].to_numpy(), monthly["revenue"].to_numpy())
    pd.testing.assert_frame_equal(part, monthly[monthly["month"].isin(window)])
    shuffled = monthly.sample(frac=1, random_state=4)
    pd.testing.assert_frame_equal(_rows_in(shuffled, window), shuffled[shuffled["month"].isin(window)])
    sorted_fit = PercentileTiers(window_months=3).fit_monthly(monthly, features, as_of=as_of)
    shuffled_fit = PercentileTiers(window_months=3).fit_monthly(shuffled, features, as_of=as_of)
    assert len(sorted_fit.alerts_) > 0
    for name in ("labels_", "monthly_tiers_", "alerts_", "movements_", "boundary_", "window_totals_"):
        left, right = getattr(sorted_fit, name), getattr(shuffled_fit, name)
        (pd.testing.assert_series_equal if isinstance(left, pd.Series) else pd.testing.assert_frame_equal)(left, right)


def test_the_runs_month_tables_are_slices_of_one_table():
    """The calibration months from the table's own start, and the month-earlier refit's months, share
    the run's customer-month columns instead of copying them; the same rows as the masks."""
    import datetime as dt

    from segkit.pipeline import _from_month, _through_month

    monthly = _monthly().sort_values(["month", "customer_id"]).reset_index(drop=True)
    assert _from_month(monthly, dt.date(2024, 5, 1)) is monthly
    later = _from_month(monthly, dt.date(2024, 6, 1))
    pd.testing.assert_frame_equal(later, monthly[monthly["month"] >= "2024-06-01"].reset_index(drop=True))
    earlier = _through_month(monthly, dt.date(2024, 5, 31))
    assert np.shares_memory(earlier["revenue"].to_numpy(), monthly["revenue"].to_numpy())
    pd.testing.assert_frame_equal(earlier, monthly[monthly["month"] <= "2024-05-31"])
    shuffled = monthly.sample(frac=1, random_state=2)
    pd.testing.assert_frame_equal(_through_month(shuffled, dt.date(2024, 5, 31)),
                                  shuffled[shuffled["month"] <= "2024-05-31"])


def test_repeated_columns_share_one_buffer_and_zero_columns_hold_no_written_memory():
    from segkit.engines import _frame, shared_repeats

    n = 1000
    base = np.arange(n, dtype=float)
    middle = base.copy()
    middle[500] = -1.0  # equal in its first and last values: compared whole
    signed = np.zeros(n)
    signed[7] = -0.0  # equal to 0.0 as a number, not bit for bit: neither zeros nor shared
    cols = {"a": base, "b": base.copy(), "c": middle, "zero": np.zeros(n), "signed": signed,
            "ints": np.zeros(n, dtype=np.int64), "nan": np.full(n, np.nan), "nan2": np.full(n, np.nan),
            "flag": np.zeros(n, dtype=bool), "days": base.astype("datetime64[D]").astype("datetime64[ns]"),
            "text": pd.Series([f"c{i}" for i in range(n)], dtype="str")}
    before = _frame({k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in cols.items()})
    out = shared_repeats(_frame(cols))
    pd.testing.assert_frame_equal(out, before)  # the same values and dtypes
    assert np.flatnonzero(np.signbit(out["signed"].to_numpy())).tolist() == [7]  # the -0.0 kept
    values = {c: out[c].to_numpy() for c in out.columns if c != "text"}
    assert np.shares_memory(values["a"], values["b"]) and np.shares_memory(values["nan"], values["nan2"])
    assert not np.shares_memory(values["a"], values["c"]) and not np.shares_memory(values["zero"], values["signed"])
    # zeros of different types stay apart; each column of zero bits is a fresh zeroed array
    assert not any(np.shares_memory(values[x], values[y]) for x, y in [("zero", "ints"), ("ints", "flag")])
    assert values["zero"].base is None or not np.shares_memory(values["zero"], cols["zero"])
    # copy-on-write: a change to one column of a shared buffer leaves the other as it was
    out.loc[0, "b"] = 99.0
    assert out.loc[0, "a"] == 0.0 and out.loc[0, "b"] == 99.0


def test_features_and_customer_months_keep_repeated_columns_once(cdnow_tx):
    """CDNOW has no costs, returns or order ids: margin repeats revenue, purchases repeats payments,
    returns are zero; each is kept once, the values those of the engine's own table."""
    import datetime as dt

    from segkit.engines import to_pandas
    from segkit.features import customer_features, customer_features_table, customer_month, customer_month_table

    as_of = dt.date(1997, 9, 30)
    features = customer_features(cdnow_tx, as_of)
    shared = lambda f, a, b: np.shares_memory(f[a].to_numpy(), f[b].to_numpy())  # noqa: E731
    assert shared(features, "margin", "monetary") and shared(features, "gross_revenue", "monetary")
    assert not features["returns_value"].to_numpy().any()
    engine = to_pandas(customer_features_table(cdnow_tx, as_of)).sort_values("customer_id").reset_index(drop=True)
    for col in ("monetary", "margin", "gross_revenue", "returns_value", "frequency", "units"):
        assert np.array_equal(features[col].to_numpy(), engine[col].to_numpy(float if col != "frequency" else None))
    months = customer_month(cdnow_tx, dt.date(1997, 1, 1), as_of)
    assert shared(months, "margin", "revenue") and shared(months, "purchases", "payments")
    assert not shared(months, "units", "revenue")
    rows = to_pandas(customer_month_table(cdnow_tx, dt.date(1997, 1, 1), as_of))
    assert len(rows) == len(months)
    assert np.array_equal(np.sort(rows["margin"].to_numpy()), np.sort(months["margin"].to_numpy()))
    assert np.array_equal(np.sort(rows["purchases"].to_numpy()), np.sort(months["purchases"].to_numpy()))


def test_data_with_costs_and_order_ids_keep_their_own_columns():
    import datetime as dt

    from segkit.config import PROJECT_ROOT
    from segkit.data import load_transactions
    from segkit.features import customer_features, customer_month

    columns = {k: k for k in ("customer_id", "date", "amount", "quantity", "cost", "order_id")}
    tx = load_transactions(PROJECT_ROOT / "data" / "synthetic" / "b2b.csv.gz", columns)
    features = customer_features(tx, tx.last_date)
    months = customer_month(tx, None, tx.last_date)
    for frame, a, b in ((features, "margin", "monetary"), (months, "margin", "revenue")):
        assert not np.shares_memory(frame[a].to_numpy(), frame[b].to_numpy())
        assert not np.array_equal(frame[a].to_numpy(), frame[b].to_numpy())


@pytest.mark.parametrize("order", ["month_then_id", "shuffled", "with_strangers"])
def test_holdout_outcomes_spread_by_position_equal_the_lookup(order):
    """The holdout sums placed at the evaluated ids' positions equal ``lookup``'s reindex (0 without
    holdout rows, other customers' rows ignored), in any row order."""
    from segkit.compare import criterion_outcomes
    from segkit.engines import lookup

    rng = np.random.default_rng(len(order))
    ids = pd.Index(pd.array([f"c{i:05d}" for i in range(0, 4000, 2)], dtype="str"))
    rows = []
    for month in pd.date_range("2024-01-01", periods=4, freq="MS"):
        who = np.sort(rng.choice(4000 if order == "with_strangers" else 2000, 700, replace=False))
        names = [f"c{i:05d}" if order == "with_strangers" else f"c{2 * i:05d}" for i in who]
        rows += [(c, month, float(rng.normal(20, 30)), int(rng.integers(0, 3))) for c in names]
    hm = pd.DataFrame(rows, columns=["customer_id", "month", "revenue", "purchases"])
    hm["customer_id"] = hm["customer_id"].astype("str")
    if order == "shuffled":
        hm = hm.sample(frac=1, random_state=3).reset_index(drop=True)
    got = criterion_outcomes(hm, ids, "revenue")
    sums = lookup(hm.groupby("customer_id", sort=False)[["revenue", "purchases"]].sum(), ids, 0)
    assert got["customer_id"].tolist() == list(ids)
    assert np.array_equal(got["outcome"].to_numpy(), np.clip(sums["revenue"].astype(float), 0.0, None))
    assert np.array_equal(got["bought"].to_numpy(), sums["purchases"] > 0)
    assert 0 < got["bought"].sum() < len(ids) and (got["outcome"] == 0).sum() > 0


def test_holdout_outcomes_of_many_customers_take_no_join(monkeypatch):
    """300k evaluated customers, holdout months by month then id: the groups are searched among the
    sorted ids (no Polars join of every evaluated id, whose memory stayed in Polars' allocator)."""
    from segkit import engines
    from segkit.compare import criterion_outcomes

    rng = np.random.default_rng(8)
    ids = pd.Index(pd.array([f"C{i:07d}" for i in range(300_000)], dtype="str"))
    parts = []
    for m, month in enumerate(pd.date_range("2024-01-01", periods=3, freq="MS")):
        who = np.sort(rng.choice(300_000, 120_000, replace=False))
        parts.append(pd.DataFrame({"customer_id": pd.array([f"C{i:07d}" for i in who], dtype="str"),
                                   "month": month, "revenue": rng.normal(10, 5, len(who)), "purchases": 1}))
    hm = pd.concat(parts, ignore_index=True)
    monkeypatch.setattr(engines, "_joined_positions", lambda *a: pytest.fail("a join"))
    got = criterion_outcomes(hm, ids, "revenue")
    expected = hm.groupby("customer_id")["revenue"].sum().reindex(list(ids), fill_value=0.0).clip(lower=0.0)
    assert np.allclose(got["outcome"].to_numpy(), expected.to_numpy(), rtol=0, atol=1e-9)
    assert got["bought"].sum() == hm["customer_id"].nunique()


def test_scores_with_outcomes_aligned_once_equal_the_per_scheme_alignment():
    """Every scheme of a run is scored on outcomes aligned once (evaluate.AlignedOutcomes): the same
    segments, metrics, intervals and resamples as aligning them per scheme; a table of other customers
    or another order is aligned on its own; and each scheme's own arrays shrink (no revenue levels of
    its own: the holdout side is the shared one)."""
    import tracemalloc

    from segkit.evaluate import AlignedOutcomes, BootstrapWeights, score_scheme

    n = 60_000
    rng = np.random.default_rng(5)
    ids = pd.Series(pd.array([f"c{i:06d}" for i in range(n)], dtype="str"))
    seg = pd.Categorical.from_codes(rng.integers(0, 5, n), categories=list("abcde"))
    table = pd.DataFrame({"customer_id": ids, "segment": seg, "rank": np.asarray(seg.codes, np.int64) + 1})
    revenue = np.where(rng.random(n) < 0.4, np.round(rng.gamma(1.0, 40.0, n), 2), 0.0)
    # outcomes in another order, some customers without any (zeros), as a run's holdout gives them
    outcomes = pd.DataFrame({"customer_id": ids, "holdout_revenue": revenue, "bought": revenue > 0}).sample(
        frac=0.9, random_state=1).sort_values("customer_id")
    weights = BootstrapWeights.for_customers(n, 200, 3).prepare()
    aligned = AlignedOutcomes.of(table, outcomes)

    def strip(result):
        return {k: v for k, v in result.items() if k != "boot"}

    tracemalloc.start()
    alone = score_scheme(table, outcomes, None, n_boot=200, seed=3, weights=weights)
    own = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    shared = score_scheme(table, outcomes, None, n_boot=200, seed=3, weights=weights, aligned=aligned)
    once = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert strip(alone) == strip(shared)
    assert all(np.array_equal(alone["boot"][k], shared["boot"][k]) for k in alone["boot"])
    assert once < own - 3 * 8 * n, (own, once)  # at least the revenue, its levels and buying, per scheme
    other = table.iloc[::-1]  # the same customers in another order: not served, aligned on its own
    assert not aligned.serves(other)
    assert strip(score_scheme(other, outcomes, None, n_boot=0, aligned=aligned)) == \
        strip(score_scheme(other, outcomes, None, n_boot=0))
    fewer = table.iloc[: n // 2]
    assert not aligned.serves(fewer)
    assert strip(score_scheme(fewer, outcomes, None, n_boot=0, aligned=aligned)) == \
        strip(score_scheme(fewer, outcomes, None, n_boot=0))


def test_the_fitted_schemes_keep_no_hash_table_of_every_customers_text(cdnow_analysis):
    """numpy and Arrow ask a Series for attributes it lacks (``__array_interface__``), which pandas
    answers by looking the name up in the Series' text index: that built the hash table of every
    customer id (one Python string each) on the tiers' labels, kept to the end of the run (about
    0.3 GB at 3.37M customers). Each scheme fitted afresh on the run's inputs holds none."""
    from segkit.schemes import SchemeInputs, registry

    a = cdnow_analysis
    inputs = SchemeInputs(features=a.features, monthly=a.monthly, split=a.split, params=a.params,
                          potential=a.potential_summary)
    for spec in registry.schemes():
        scheme = spec.cls.from_params(a.params).fit(inputs)
        index = scheme.labels_.index
        assert len(index) == len(a.features) > 20_000, spec.name  # not vacuous: every customer labelled
        assert "_engine" not in index._cache, spec.name


def test_customer_features_come_sorted_from_the_engine_and_pandas_sorts_nothing(cdnow_tx, monkeypatch):
    """A pandas sort of the text ids took every feature column again (at 3.37M customers 1.3 s and
    about 0.3 GB at the features stage's peak): the engine returns the rows in customer order, whole,
    narrowed or read from a table already computed, and ``by_customer`` finds them sorted."""
    import datetime as dt

    from segkit import features
    from segkit.engines import forget, materialize, text_sorted

    seen = []
    by_customer = features.by_customer
    monkeypatch.setattr(features, "by_customer",
                        lambda f: seen.append(text_sorted(f["customer_id"])) or by_customer(f))
    as_of = dt.date(1997, 9, 30)
    table = materialize(cdnow_tx.con, features.customer_features_table(cdnow_tx, as_of), lasting=False)
    try:
        frames = [features.customer_features(cdnow_tx, as_of),
                  features.customer_features(cdnow_tx, as_of, columns=["recency_days", "monetary"]),
                  features.customer_features(cdnow_tx, as_of, table=table),
                  features.customer_features(cdnow_tx, as_of, table=table, columns=["frequency"])]
    finally:
        forget(cdnow_tx.con, table)
    assert len(frames[0]) > 20_000 and all(len(f) == len(frames[0]) for f in frames)
    assert seen == [True] * 4
    assert frames[2].equals(frames[0]) and frames[3]["frequency"].equals(frames[0]["frequency"])


def test_earlier_cut_offs_ranked_in_the_engine_are_computed_before_the_runs_own_tables(monkeypatch):
    """Ranked in the engine, an earlier cut-off reads no per-customer table of the run's: computed first,
    its aggregates do not stack on the run's own features and months (10M B2C rows: the features
    stage's peak 4.03-4.17 -> 3.78 GB sampled). The pandas path reads the run's months, so it follows."""
    from segkit import pipeline

    calls = []
    for name in ("_spill_origins", "_months"):
        real = getattr(pipeline, name)
        monkeypatch.setattr(pipeline, name,
                            lambda *a, _real=real, _name=name, **k: calls.append(_name) or _real(*a, **k))
    assert _tables_spilling_origins(pipeline) and calls == ["_spill_origins", "_months"]
    calls.clear()
    monkeypatch.setattr(pipeline.backtest_engine, "engine_schemes", lambda tx: None)
    assert _tables_spilling_origins(pipeline) and calls == ["_months", "_spill_origins"]


def _tables_spilling_origins(pipeline) -> bool:
    """Whether the run's tables of CDNOW hold at least one earlier cut-off (their files then removed)."""
    from segkit.config import CDNOW_PATH, RunParams

    params = RunParams.from_mapping({"name": "order", "data": str(CDNOW_PATH)})
    tx = pipeline.load_transactions(params.data)
    tables = pipeline._tables(params, tx, pipeline._split(params, tx), own_tx=True)
    try:
        return len(tables["origins"]) >= 1
    finally:
        tables["origins"].discard()
        tables["stages"].discard()
