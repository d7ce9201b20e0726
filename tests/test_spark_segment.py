"""The whole ``segkit segment`` with ``--engine pyspark`` publishes the files DuckDB publishes.

Issue 20's acceptance check for the Spark path on the bundled data: the bundled CDNOW file and the
bundled synthetic B2B file (returns, cost, order ids, attributes) segmented on local Spark and on
DuckDB, each as an analyst runs it (a subprocess), give byte-identical ``assignments.csv``,
``tiers_monthly.csv``, ``alerts.csv``, ``actions.csv`` and ``scorecard.json``, and a ``run.json``
whose data block (counts, findings, hash) is the same. Spark computes the loading, cleaning counts and
per-customer aggregates; the schemes, the comparison and the exports still run in Python on what comes
back (README, "Data in a warehouse or on Spark"). Needs Java 17 and the dev extra; skips saying why.
"""

from __future__ import annotations

import json
import shutil

import pytest

from segkit.config import CDNOW_PATH, PROJECT_ROOT
from tests.test_postgres import FILES, SEGMENT_OPTIONS, finished, segkit

pytestmark = [pytest.mark.slow, pytest.mark.spark]

B2B_PATH = PROJECT_ROOT / "data" / "synthetic" / "b2b.csv.gz"


@pytest.fixture(scope="module")
def spark_runs(tmp_path_factory):
    """{name: (duckdb folder, pyspark folder)}: the Spark runs one after the other (2 cores), DuckDB beside them."""
    pytest.importorskip("pyspark", reason="PySpark is in the dev extra: pip install -e '.[dev]'")
    if shutil.which("java") is None:
        pytest.skip("PySpark needs Java 17 (java not on PATH)")
    root = tmp_path_factory.mktemp("spark-segment")
    out = {}
    for name, path in (("cdnow", CDNOW_PATH), ("b2b", B2B_PATH)):
        folders = (root / f"{name}-duckdb", root / f"{name}-pyspark")
        procs = [segkit("segment", str(path), "--out", str(folder), "--engine", engine, *SEGMENT_OPTIONS)
                 for folder, engine in zip(folders, ("duckdb", "pyspark"))]
        for folder, proc in zip(folders, procs):
            code, _, err = finished(proc, timeout=1800)
            assert code == 0, f"segment {name} into {folder.name}: exit {code}\n{err[-3000:]}"
            assert "Traceback" not in err, err
        out[name] = folders
    return out


@pytest.mark.parametrize("name", ["cdnow", "b2b"])
def test_spark_publishes_the_files_duckdb_publishes(spark_runs, name):
    duck, spark = spark_runs[name]
    for file in FILES:
        assert (spark / file).read_bytes() == (duck / file).read_bytes(), f"{name}: {file} differs"
    rows = len((spark / "assignments.csv").read_text().splitlines()) - 1
    assert rows == {"cdnow": 23_502, "b2b": 1_915}[name]  # every customer who bought by as_of


@pytest.mark.parametrize("name", ["cdnow", "b2b"])
def test_spark_run_json_differs_only_in_the_engine(spark_runs, name):
    """The same data block, periods, population and parameters but the engine; times differ."""
    duck, spark = (json.loads((folder / "run.json").read_text()) for folder in spark_runs[name])
    assert duck["parameters"].pop("engine") == "duckdb" and spark["parameters"].pop("engine") == "pyspark"
    for info in (duck, spark):
        for key in ("started", "finished", "seconds", "seconds_per_notebook"):
            info.pop(key)
    assert spark == duck
