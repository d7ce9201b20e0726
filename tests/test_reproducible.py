"""Two `segkit run` of the same data and parameters publish byte-identical files under SOURCE_DATE_EPOCH,
and files that differ only in their timestamp lines without it."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from segkit.reproducible import duration, source_date_epoch, timestamp
from segkit.runner import tidy_executed_notebook

from .test_cli import small_csv

EPOCH = 1700000000  # 2023-11-14T22:13:20+00:00


def _run(tmp_path: Path, config: Path, out: str, epoch: int | None) -> Path:
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    if epoch is not None:
        env["SOURCE_DATE_EPOCH"] = str(epoch)
    proc = subprocess.run([sys.executable, "-m", "segkit", "run", str(config), "--out", str(tmp_path / out)],
                          env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp_path / out


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow
@pytest.mark.xdist_group("reproducible")
def test_two_runs_publish_byte_identical_files(tmp_path):
    data = small_csv(tmp_path / "small.csv", customers=300)
    config = tmp_path / "reports.yml"
    config.write_text(f"runs:\n  - name: small\n    data: {data}\n    holdout_months: 3\n    k_range: [2, 4]\n")
    first = _files(_run(tmp_path, config, "a", EPOCH))
    second = _files(_run(tmp_path, config, "b", EPOCH))
    assert set(first) == set(second)
    assert {"small/report.html", "small/05_compare.html", "small/notebooks/05_compare.ipynb", "small/run.json",
            "small/assignments.csv", "index.html", "index.json"} <= set(first)
    differ = [name for name in first if first[name] != second[name]]
    assert differ == [], differ
    shown = dt.datetime.fromtimestamp(EPOCH, dt.timezone.utc).isoformat(timespec="seconds")
    assert f"Computed</strong>: {shown}" in first["small/report.html"].decode()
    run = json.loads(first["small/run.json"])
    assert run["started"] == run["finished"] == shown
    assert set(run["seconds_per_notebook"].values()) == {0.0} and set(run["seconds"].values()) == {0.0}
    # another moment: only the lines that carry it change
    third = _files(_run(tmp_path, config, "c", EPOCH + 86400))
    for name in first:
        if first[name] != third[name]:
            old, new = first[name].decode().splitlines(), third[name].decode().splitlines()
            assert len(old) == len(new), name
            changed = [(a, b) for a, b in zip(old, new) if a != b]
            assert all("2023-11-14" in a and "2023-11-15" in b for a, b in changed), (name, changed[:3])


def test_executed_notebooks_lose_clock_times_and_the_staging_path(tmp_path):
    nb = nbformat.v4.new_notebook()
    injected = nbformat.v4.new_code_cell('name = "x"\ncache_dir = "/out/.staging/x-1a2b3c4d/.cache"\n')
    injected.metadata.update(tags=["injected-parameters"], papermill={"start_time": "t", "duration": 0.1,
                                                                      "status": "completed"})
    injected.metadata["execution"] = {"iopub.status.busy": "2026-12-03T15:30:14.823821Z"}
    nb.cells = [injected]
    nb.metadata["papermill"] = {"start_time": "t", "end_time": "t", "duration": 1.0, "output_path": "/out/x.ipynb",
                                "parameters": {"name": "x", "cache_dir": "/out/.staging/x-1a2b3c4d/.cache"}}
    path = tmp_path / "01_x.ipynb"
    nbformat.write(nb, str(path))
    tidy_executed_notebook(path)
    text = path.read_text()
    assert "staging" not in text and "2026" not in text and '"duration"' not in text
    cleaned = nbformat.read(str(path), as_version=4)
    assert cleaned.cells[0].id == "injected-parameters" and cleaned.cells[0].metadata.papermill == {
        "status": "completed"}
    assert cleaned.metadata.papermill["parameters"] == {"name": "x", "cache_dir": ""}


def test_source_date_epoch_values(monkeypatch):
    from segkit.errors import ParameterError

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "86400")
    assert timestamp() == "1970-01-02T00:00:00+00:00" and duration(3.5) == 0.0
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "")
    assert source_date_epoch() is None and duration(3.5) == 3.5
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", timestamp())
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(ParameterError, match="SOURCE_DATE_EPOCH"):
        timestamp()


# ---------------------------------------------------------------- the bootstrap's threads
def _comparison_inputs(n: int = 4000, seed: int = 3):
    """Two schemes' segment tables, the baselines and holdout outcomes of ``n`` generated customers."""
    import numpy as np
    import pandas as pd

    from segkit.compare import baseline_frame

    rng = np.random.default_rng(seed)
    ids = pd.Series([f"c{i:05d}" for i in range(n)])
    value = rng.gamma(1.5, 40.0, n).round(2)
    tables = {"three": pd.DataFrame({"customer_id": ids, "segment": "s", "rank": np.digitize(-value, [-90, -40]) + 1}),
              "eleven": pd.DataFrame({"customer_id": ids, "segment": "s", "rank": rng.integers(1, 12, n)})}
    features = pd.DataFrame({"customer_id": ids, "recency_days": rng.integers(0, 400, n),
                             "monetary": value, "frequency": rng.integers(1, 9, n)})
    outcomes = pd.DataFrame({"customer_id": ids, "outcome": np.where(rng.random(n) < 0.4, value * rng.random(n), 0.0)})
    return tables, outcomes, baseline_frame(features, value)


def _assert_same_numbers(a, b, where=""):
    import numpy as np

    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_same_numbers(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, (list, tuple)) and a and isinstance(a[0], dict):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same_numbers(x, y, f"{where}[{i}]")
    else:
        np.testing.assert_array_equal(np.asarray(a, dtype=object), np.asarray(b, dtype=object), err_msg=where)


def test_rankings_scored_side_by_side_give_the_serial_numbers_bit_for_bit(monkeypatch):
    from segkit import compare

    tables, outcomes, baselines = _comparison_inputs()
    got = {}
    for threads in ("1", "2", "3"):
        monkeypatch.setenv("SEGKIT_THREADS", threads)
        got[threads] = compare.compare_rankings(tables, outcomes, 0.2, baselines=baselines, n_boot=120, seed=5)
    assert got["1"]["three"]["boot"]["capture_auc"].std() > 0  # resampled: a real spread to compare
    _assert_same_numbers(got["1"], got["2"])
    _assert_same_numbers(got["1"], got["3"])


def test_schemes_scored_side_by_side_give_the_serial_numbers_bit_for_bit(monkeypatch):
    import pandas as pd

    from segkit import evaluate, pipeline

    tables, outcomes, _ = _comparison_inputs(n=3000, seed=8)
    holdout = pd.DataFrame({"customer_id": outcomes["customer_id"], "holdout_revenue": outcomes["outcome"],
                            "bought": outcomes["outcome"] > 0})
    earlier = {"three": tables["three"].assign(rank=tables["three"]["rank"].sample(frac=1, random_state=1).to_numpy())}
    got = {}
    for threads in ("1", "2"):
        monkeypatch.setenv("SEGKIT_THREADS", threads)
        weights = evaluate.BootstrapWeights.for_customers(3000, 80, 2).prepare()
        got[threads] = pipeline._scores(tables, holdout, earlier, weights, n_boot=80, seed=2)
    serial = {name: evaluate.score_scheme(t, holdout, earlier.get(name), n_boot=80, seed=2) for name, t in tables.items()}
    assert got["1"]["three"]["metrics"]["stability_ari"] is not None
    assert got["1"]["eleven"]["metrics"]["stability_ari"] is None
    for threads in ("1", "2"):
        _assert_same_numbers(serial, got[threads], threads)
        assert [list(s["metrics"]) for s in got[threads].values()] == [list(s["metrics"]) for s in serial.values()]


def test_side_by_side_keeps_the_order_raises_what_a_task_raises_and_reads_the_thread_cap(monkeypatch):
    from segkit.errors import ParameterError
    from segkit.reproducible import side_by_side, side_by_side_threads

    monkeypatch.setenv("SEGKIT_THREADS", "2")
    with side_by_side(5) as run:
        assert run(lambda x: -x, [3, 1, 2]) == [-3, -1, -2]
        with pytest.raises(ZeroDivisionError):
            run(lambda x: 1 / x, [1, 0])
    assert side_by_side_threads({"SEGKIT_THREADS": "3"}) == 3
    assert 1 <= side_by_side_threads({}) <= 4
    with pytest.raises(ParameterError, match="SEGKIT_THREADS"):
        side_by_side_threads({"SEGKIT_THREADS": "two"})
