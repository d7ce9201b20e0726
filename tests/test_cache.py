"""A cached analysis is used only for the same data, parameters, overrides and segkit version."""

from __future__ import annotations

import pandas as pd
import pytest

from segkit import pipeline
from segkit.config import RunParams
from segkit.data import load_transactions
from segkit.pipeline import _data_sha256, analyze, load_or_analyze
from tests.test_cli import small_csv


def params_for(data, **extra) -> RunParams:
    return RunParams.from_mapping({"name": "cached", "data": str(data), "holdout_months": 3, "k_range": [2, 3],
                                   **extra})


@pytest.fixture()
def saved(tmp_path):
    data = small_csv(tmp_path / "sales.csv")
    params = params_for(data)
    analysis = analyze(params, n_boot=50)
    analysis.save(tmp_path / "cache")
    return tmp_path, data, params, analysis


class Recomputed(Exception):
    pass


def _refuse(params, **_):
    raise Recomputed(params.name)


def test_the_cache_is_used_for_the_same_inputs(saved, monkeypatch):
    root, _, params, analysis = saved
    monkeypatch.setattr(pipeline, "analyze", _refuse)
    got = load_or_analyze(params, root / "cache")
    assert got.started == analysis.started and got.data["sha256"] == analysis.data["sha256"]


def test_changed_data_gives_a_fresh_analysis(saved):
    root, data, params, analysis = saved
    frame = pd.read_csv(data, dtype={"customer_id": str})
    frame.loc[frame.index[:40], "amount"] *= 10               # same file name, different numbers
    frame.to_csv(data, index=False)
    fresh = load_or_analyze(params, root / "cache")
    assert fresh.data["sha256"] != analysis.data["sha256"]
    assert fresh.data["sha256"] == load_transactions(data).sha256
    calibration = frame[pd.to_datetime(frame["date"]) <= pd.Timestamp(fresh.split.as_of)]
    assert fresh.features["monetary"].sum() == pytest.approx(calibration["amount"].sum())
    assert fresh.features["monetary"].sum() != pytest.approx(analysis.features["monetary"].sum())


def test_changed_parameters_version_or_overrides_are_not_served_from_the_cache(saved, monkeypatch):
    root, data, params, _ = saved
    monkeypatch.setattr(pipeline, "analyze", _refuse)
    with pytest.raises(Recomputed):
        load_or_analyze(params_for(data, seed=7), root / "cache")
    monkeypatch.setattr(pipeline, "__version__", "999.0")
    with pytest.raises(Recomputed):
        load_or_analyze(params, root / "cache")
    monkeypatch.undo()
    # overrides: the same path with new content is a new analysis
    overrides = root / "overrides.csv"
    overrides.write_text("customer_id,tier,reason\n00001,VIP,reference\n")
    with_overrides = params_for(data, overrides=str(overrides))
    analyze(with_overrides, n_boot=20).save(root / "cache2")
    monkeypatch.setattr(pipeline, "analyze", _refuse)
    assert load_or_analyze(with_overrides, root / "cache2").overrides is not None
    overrides.write_text("customer_id,tier,reason\n00002,VIP,another reference\n")
    with pytest.raises(Recomputed):
        load_or_analyze(with_overrides, root / "cache2")


def test_a_broken_cache_file_is_recomputed(saved, monkeypatch):
    root, _, params, _ = saved
    (root / "cache" / "analysis.pkl").write_bytes(b"not a pickle")
    monkeypatch.setattr(pipeline, "analyze", _refuse)
    with pytest.raises(Recomputed):
        load_or_analyze(params, root / "cache")


def test_the_data_hash_is_the_one_the_loader_records(tmp_path):
    one = small_csv(tmp_path / "part-1.csv", seed=1, customers=20)
    small_csv(tmp_path / "part-2.csv", seed=2, customers=20)
    assert _data_sha256(params_for(one)) == load_transactions(one).sha256
    pattern = str(tmp_path / "part-*.csv")
    assert _data_sha256(params_for(pattern)) == load_transactions(pattern).sha256
    assert _data_sha256(params_for("duckdb:///warehouse.duckdb", table="sales")) is None


def test_notebooks_open_the_cached_analysis_with_the_parameters_segkit_run_passes(saved, monkeypatch):
    from segkit.notebook import open_run

    root, _, params, analysis = saved
    monkeypatch.setattr(pipeline, "analyze", _refuse)
    # segkit run hands each notebook the run's parameters and the cache folder (cli.execute_run)
    got = open_run(cache_dir=str(root / "cache"), **params.to_dict())
    assert got.started == analysis.started
