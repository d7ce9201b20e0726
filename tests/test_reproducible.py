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
