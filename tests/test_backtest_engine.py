"""An earlier backtest cut-off ranked in the engine gives the pandas refit's ranks and baseline keys.

``segkit.backtest_engine``: on DuckDB, with every registered scheme either ranking in the engine
(percentile tiers, RFM) or not reading the customer months at a refit (k-means, the predicted-value
tiers), an earlier cut-off's customer-month table stays in the engine. Checked here against the pandas
refit it replaces, customer by customer and bit for bit, on the bundled CDNOW file and the synthetic
B2B file under every criterion and tier setting a run can give; and a whole analysis with either path
gives the same comparison numbers. A plug-in scheme that may read the months, or another engine, keeps
the pandas refit.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from segkit import backtest, backtest_engine, pipeline
from segkit.config import CDNOW_PATH, PROJECT_ROOT, RunParams
from segkit.data import load_transactions
from segkit.engines import forget, materialize
from segkit.features import customer_features, customer_features_table, customer_month, split_periods
from segkit.schemes import registry
from segkit.schemes.registry import SchemeSpec

pytestmark = pytest.mark.slow

B2B_PATH = PROJECT_ROOT / "data" / "synthetic" / "b2b.csv.gz"
B2B_COLUMNS = {k: k for k in ("customer_id", "date", "amount", "quantity", "cost", "order_id", "region")}


@pytest.fixture(scope="module")
def b2b_tx():
    return load_transactions(B2B_PATH, B2B_COLUMNS)


def both_ways(tx, params: RunParams, months_back: int):
    """(engine ranks, engine baselines, pandas segment tables, pandas baselines) at the cut-off
    ``months_back`` months before the run's."""
    split = split_periods(tx, holdout_months=params.holdout_months, window_months=params.window_months)
    split = split.shifted(-months_back)
    specs = backtest_engine.engine_schemes(tx)
    assert [s.name for s in specs] == ["percentile_tiers", "rfm"]
    table = materialize(tx.con, customer_features_table(tx, split.as_of), lasting=False)
    try:
        features = customer_features(tx, split.as_of, table=table)
        ranks, baselines = backtest_engine.ranked_in_engine(tx, split, params, specs, features, table)
    finally:
        forget(tx.con, table)
    monthly = customer_month(tx, backtest.history_start([split]), split.as_of)
    origin = backtest.Origin(split, features, monthly, pd.DataFrame())
    pandas_tables = {s.name: s.cls.from_params(params).fit(origin.inputs(params, segments_only=True)).segment_table()
                     for s in specs}
    expected = backtest.compare.baseline_orders(features, monthly, params.criterion, split.window_months)
    return ranks, baselines, pandas_tables, expected


def assert_same(ranks, baselines, pandas_tables, expected):
    for name, table in pandas_tables.items():
        got = ranks[name].reset_index(drop=True)  # sorted by customer_id as they come (no join needed)
        assert got["customer_id"].tolist() == table["customer_id"].astype(str).tolist(), name
        assert got["rank"].astype(int).tolist() == table["rank"].astype(int).tolist(), name
    pd.testing.assert_frame_equal(baselines, expected, check_exact=True)


@pytest.mark.parametrize("months_back", [3, 6])
def test_cdnow_earlier_cut_offs_rank_in_the_engine_as_in_pandas(cdnow_tx, months_back):
    assert_same(*both_ways(cdnow_tx, RunParams(data=str(CDNOW_PATH), name="t"), months_back))


@pytest.mark.parametrize("settings", [
    {"criterion": "revenue"}, {"criterion": "margin"}, {"criterion": "units"}, {"criterion": "payments"},
    {"criterion": "revenue", "window_months": 3, "vip_share": 0.1, "good_share": 0.3, "dropout_months": 1,
     "rfm_bins": 4},
])
def test_b2b_earlier_cut_off_ranks_in_the_engine_as_in_pandas(b2b_tx, settings):
    params = RunParams(data=str(B2B_PATH), name="t", columns=B2B_COLUMNS, **settings)
    ranks, baselines, tables, expected = both_ways(b2b_tx, params, 3)
    assert_same(ranks, baselines, tables, expected)
    assert baselines["past_value"].lt(0).any() and tables["percentile_tiers"]["rank"].nunique() > 2  # not vacuous


def test_a_whole_analysis_scores_alike_either_way(monkeypatch):
    """Every comparison number of a CDNOW run with three cut-offs, engine refits or pandas refits."""
    params = RunParams(data=str(CDNOW_PATH), name="t", backtest_origins=3, k_range=(2, 4))
    seen = []
    real = backtest_engine.ranked_in_engine
    monkeypatch.setattr(backtest_engine, "ranked_in_engine", lambda *a: seen.append(a[1].as_of) or real(*a))
    engine = pipeline.analyze(params, n_boot=40)
    assert len(seen) == 2  # both earlier cut-offs ranked in the engine
    monkeypatch.setattr(backtest_engine, "engine_schemes", lambda tx: None)
    pandas_run = pipeline.analyze(params, n_boot=40)
    assert len(seen) == 2
    for a, b in zip(engine.backtest["entries"], pandas_run.backtest["entries"], strict=True):
        assert a["as_of"] == b["as_of"]
        for name, result in a["results"].items():
            other = b["results"][name]
            assert result["capture_at"] == other["capture_at"] and result["capture_auc"] == other["capture_auc"]
            assert result["ci95"] == other["ci95"], name
            np.testing.assert_array_equal(result["boot"]["capture_auc"], other["boot"]["capture_auc"])
    assert engine.scorecard == pandas_run.scorecard


class _PlugIn:
    """A plug-in scheme that says nothing about the customer months: it may read them at a refit."""


def test_a_scheme_that_may_read_the_months_or_another_engine_keeps_pandas(cdnow_tx):
    assert [s.name for s in backtest_engine.engine_schemes(cdnow_tx)] == ["percentile_tiers", "rfm"]
    registry.register(SchemeSpec("plug_in", _PlugIn, "Plug-in", "#000000", 9, {"plug_in_segment": "segment"}))
    try:
        assert backtest_engine.engine_schemes(cdnow_tx) is None
    finally:
        registry.unregister("plug_in")
    polars = dataclasses.replace(cdnow_tx, con=type("Con", (), {"name": "polars"})())
    assert backtest_engine.engine_schemes(polars) is None


class _QuietPlugIn:
    """A plug-in that reads no customer months at a refit and says nothing about its features."""

    monthly_at_refit = False

    @classmethod
    def from_params(cls, params):
        return cls()


class _NamedPlugIn(_QuietPlugIn):
    def features_at_refit(self):
        return ("customer_id", "units")


def test_an_earlier_cut_off_keeps_only_the_feature_columns_its_refits_read(cdnow_tx):
    """k-means and the predicted-value tiers name their columns; a plug-in that does not keeps them all."""
    split = split_periods(cdnow_tx)
    f = customer_features(cdnow_tx, split.as_of)
    params = RunParams(data=str(CDNOW_PATH), name="t")
    ranked = backtest_engine.engine_schemes(cdnow_tx)
    kept = backtest_engine.refit_features(f, params, ranked)
    assert list(kept.columns) == ["customer_id", "recency_days", "frequency", "monetary"]
    assert kept.equals(f[list(kept.columns)])
    # with nothing ranked in the engine, the tiers and RFM name no columns: every column stays
    assert list(backtest_engine.refit_features(f, params, []).columns) == list(f.columns)
    for plug_in, expected in ((_QuietPlugIn, list(f.columns)),
                              (_NamedPlugIn, ["customer_id", "recency_days", "frequency", "monetary", "units"])):
        registry.register(SchemeSpec("plug_in", plug_in, "Plug-in", "#000000", 9, {"plug_in_segment": "segment"}))
        try:
            assert list(backtest_engine.refit_features(f, params, ranked).columns) == expected, plug_in
        finally:
            registry.unregister("plug_in")


def test_the_engine_ranks_and_keys_come_in_the_features_order(cdnow_tx, monkeypatch):
    """Sorted by customer_id in the engine, as the feature table is: neither the cut-off nor the
    comparison hashes the text ids again (no join of millions of ids, the backtest's memory peak)."""
    from segkit import engines

    def no_join(*args):
        raise AssertionError("a text join of the ids")

    split = split_periods(cdnow_tx).shifted(-3)
    table = materialize(cdnow_tx.con, customer_features_table(cdnow_tx, split.as_of), lasting=False)
    try:
        features = customer_features(cdnow_tx, split.as_of, table=table)
        monkeypatch.setattr(engines, "_index_in", no_join)
        params = RunParams(data=str(CDNOW_PATH), name="t")
        ranks, baselines = backtest_engine.ranked_in_engine(cdnow_tx, split, params,
                                                            backtest_engine.engine_schemes(cdnow_tx), features, table)
    finally:
        forget(cdnow_tx.con, table)
    for name, got in ranks.items():
        assert got["customer_id"].tolist() == features["customer_id"].tolist(), name
        backtest._aligned_ranks(got, features["customer_id"])  # the comparison's lookup: by position
    assert baselines["customer_id"].tolist() == features["customer_id"].tolist()
    assert baselines["past_value"].lt(0).any() and baselines["past_value"].eq(0).any()  # with and without a row


@pytest.mark.parametrize("in_engine", [True, False])
def test_an_earlier_cut_off_scored_one_scheme_at_a_time_gives_the_same_scoring(cdnow_tx, in_engine):
    """``backtest.scoring_of`` (what a run does) against ``prepare_scoring`` of ``fit_origin`` (every
    scheme's table at once): the same ranks, outcomes and baseline keys, in the registry's order, for an
    earlier cut-off ranked in the engine and for one refitted in pandas; the origin lets go of its
    holdout months, engine ranks and baseline keys."""
    from segkit.potential.summary import summary_frame

    params = RunParams(data=str(CDNOW_PATH), name="t", k_range=(2, 3))
    split = split_periods(cdnow_tx, holdout_months=params.holdout_months,
                          window_months=params.window_months).shifted(-3)
    holdout = customer_month(cdnow_tx, split.holdout_start, split.holdout_end)
    summary = summary_frame(cdnow_tx, split.as_of, criterion=params.criterion)

    def origin() -> backtest.Origin:
        if not in_engine:
            monthly = customer_month(cdnow_tx, backtest.history_start([split]), split.as_of)
            return backtest.Origin(split, customer_features(cdnow_tx, split.as_of), monthly, holdout, summary)
        specs = backtest_engine.engine_schemes(cdnow_tx)
        table = materialize(cdnow_tx.con, customer_features_table(cdnow_tx, split.as_of), lasting=False)
        try:
            features = customer_features(cdnow_tx, split.as_of, table=table)
            ranks, baselines = backtest_engine.ranked_in_engine(cdnow_tx, split, params, specs, features, table)
        finally:
            forget(cdnow_tx.con, table)
        return backtest.Origin(split, backtest_engine.refit_features(features, params, specs), None, holdout,
                               summary, ranks=ranks, baselines=baselines)

    before = origin()
    expected = backtest.prepare_scoring(before, backtest.fit_origin(before, params), params.criterion, compact=True)
    streamed = origin()
    got = backtest.scoring_of(streamed, params)
    names = [spec.name for spec in registry.schemes()]
    assert list(got.tables) == list(expected.tables) == names
    for name in names:
        pd.testing.assert_frame_equal(got.tables[name], expected.tables[name], check_exact=True)
    pd.testing.assert_frame_equal(got.outcomes, expected.outcomes, check_exact=True)
    pd.testing.assert_frame_equal(got.baselines, expected.baselines, check_exact=True)
    assert got.split == expected.split and got.outcomes["outcome"].gt(0).any()
    assert streamed.holdout_monthly is None and streamed.baselines is None and streamed.ranks == {}


def test_an_earlier_cut_off_fetches_only_the_columns_its_refits_and_baselines_read(cdnow_tx):
    """Ranked in the engine, an earlier cut-off brings back the columns its pandas refits name and the
    recency its baselines read (the run's ``_spill_origins``), not the whole feature table: the same
    values as the whole table's columns, and the same scoring."""
    from segkit.potential.summary import summary_frame

    params = RunParams(data=str(CDNOW_PATH), name="t", k_range=(2, 3))
    split = split_periods(cdnow_tx, holdout_months=params.holdout_months,
                          window_months=params.window_months).shifted(-3)
    holdout = customer_month(cdnow_tx, split.holdout_start, split.holdout_end)
    summary = summary_frame(cdnow_tx, split.as_of, criterion=params.criterion)
    specs = backtest_engine.engine_schemes(cdnow_tx)
    wanted = sorted(backtest_engine.refit_columns(params, specs) | {"recency_days"})
    table = materialize(cdnow_tx.con, customer_features_table(cdnow_tx, split.as_of), lasting=False)
    scored = []
    try:
        whole = customer_features(cdnow_tx, split.as_of, table=table)
        narrow = customer_features(cdnow_tx, split.as_of, table=table, columns=wanted)
        assert list(narrow.columns) == [c for c in whole.columns if c in wanted] and len(whole.columns) > 10
        pd.testing.assert_frame_equal(narrow, whole[list(narrow.columns)], check_exact=True)
        # computed without the table: the aggregate of those columns alone, the same values
        pd.testing.assert_frame_equal(customer_features(cdnow_tx, split.as_of, columns=wanted), narrow,
                                      check_exact=True)
        for features in (whole, narrow):
            ranks, baselines = backtest_engine.ranked_in_engine(cdnow_tx, split, params, specs, features, table)
            origin = backtest.Origin(split, backtest_engine.refit_features(features, params, specs), None, holdout,
                                     summary, ranks=ranks, baselines=baselines)
            scored.append(backtest.scoring_of(origin, params))
    finally:
        forget(cdnow_tx.con, table)
    for name in scored[0].tables:
        pd.testing.assert_frame_equal(scored[1].tables[name], scored[0].tables[name], check_exact=True)
    pd.testing.assert_frame_equal(scored[1].baselines, scored[0].baselines, check_exact=True)
    pd.testing.assert_frame_equal(scored[1].outcomes, scored[0].outcomes, check_exact=True)


def _ids_buffer(ids: pd.Series) -> int:
    chunks = ids.array._pa_array.chunks
    assert len(chunks) == 1
    return chunks[0].buffers()[2].address


@pytest.mark.parametrize("which, settings", [
    ("cdnow", {}), ("b2b", {"criterion": "margin"}),
    ("b2b", {"criterion": "payments", "window_months": 3, "vip_share": 0.1, "good_share": 0.3, "dropout_months": 1}),
])
def test_the_month_earlier_tiers_refit_in_the_engine_as_in_pandas(cdnow_tx, b2b_tx, which, settings):
    """The refit one month earlier (stability, tier changes) of the percentile tiers comes from the engine
    while the transactions are open: the segment table the pandas refit gives, bit for bit and dtype for
    dtype (sorted ids sharing the month-earlier features' text, the segments as categories)."""
    from segkit.features import CustomerMonths
    from segkit.schemes import PercentileTiers

    tx = cdnow_tx if which == "cdnow" else b2b_tx
    params = RunParams(data=str(CDNOW_PATH if which == "cdnow" else B2B_PATH), name="t",
                       **({} if which == "cdnow" else {"columns": B2B_COLUMNS}), **settings)
    split = split_periods(tx, holdout_months=params.holdout_months, window_months=params.window_months)
    start = backtest.history_start([split])
    months = CustomerMonths.compute(tx, start, split.as_of)
    try:
        inputs = pipeline._previous_inputs(params, tx, split.shifted(-1), months.frame(start, split.as_of), months)
    finally:
        months.drop()
    assert list(inputs.refitted) == ["percentile_tiers"]
    got = inputs.refitted["percentile_tiers"]
    fit = PercentileTiers.from_params(params).fit(dataclasses.replace(inputs, segments_only=True, refitted={}))
    expected = fit.segment_table()[["customer_id", "segment", "rank"]]
    pd.testing.assert_frame_equal(got, expected.assign(segment=expected["segment"].astype("category")))
    assert _ids_buffer(got["customer_id"]) == _ids_buffer(inputs.features["customer_id"])
    assert got["segment"].nunique() == 4  # VIP, GOOD, REGULAR and INACTIVE: not vacuous


def test_a_refit_at_a_cut_off_inside_a_month_reads_its_last_month_up_to_that_day(cdnow_tx):
    """Cut-off 1997-12-15: the run's customer months hold November whole, but the refit one month earlier
    (1997-11-15) counts November up to the 15th, as the run's own cut-off counts December, on both paths
    (the engine's segment table, and the months a pandas refit reads). Reading the whole month moved the
    month-earlier tier of 334 of 23,500 CDNOW customers."""
    import datetime as dt

    from segkit.features import CustomerMonths
    from segkit.schemes import PercentileTiers

    params = RunParams(data=str(CDNOW_PATH), name="t")
    split = split_periods(cdnow_tx, as_of=dt.date(1997, 12, 15), holdout_months=6)
    previous = split.shifted(-1)
    start = backtest.history_start([split])
    months = CustomerMonths.compute(cdnow_tx, start, split.as_of)
    try:
        whole = months.frame(start, split.as_of)
        inputs = pipeline._previous_inputs(params, cdnow_tx, previous, whole, months)
    finally:
        months.drop()
    exact = customer_month(cdnow_tx, previous.previous_window_months[0], previous.as_of)
    pd.testing.assert_frame_equal(inputs.monthly, exact)
    tiers = PercentileTiers.from_params(params)
    expected = tiers.fit_monthly(exact, inputs.features, as_of=previous.as_of, segments_only=True).segment_table()
    got = inputs.refitted["percentile_tiers"]
    assert got["customer_id"].tolist() == expected["customer_id"].tolist()
    assert got["segment"].astype(str).tolist() == expected["segment"].tolist()
    leaky = tiers.fit_monthly(pipeline._through_month(whole, previous.as_of), inputs.features, as_of=previous.as_of,
                              segments_only=True).segment_table()
    assert (leaky["segment"] != expected["segment"]).sum() == 334  # what reading all of November changed


def test_a_cut_off_inside_a_month_scores_alike_on_duckdb_and_polars():
    """Cut-off 1997-12-15 with three cut-offs: DuckDB ranks the earlier ones and refits the month-earlier tiers
    in the engine, Polars in pandas; both read each cut-off's last month up to its day (the pandas path read
    the whole month), so every comparison number and the stability agree."""
    params = RunParams(data=str(CDNOW_PATH), name="t", as_of="1997-12-15", backtest_origins=3, k_range=(2, 4))
    duck = pipeline.analyze(params, n_boot=40)
    polars = pipeline.analyze(params.replace(engine="polars"), n_boot=40)
    assert [e["as_of"] for e in duck.backtest["entries"]] == [e["as_of"] for e in polars.backtest["entries"]]
    assert len(duck.backtest["entries"]) == 3
    assert duck.scorecard == polars.scorecard
