"""The whole ``segkit segment`` with ``--engine pyspark`` publishes the files DuckDB publishes.

Issue 20's acceptance check for the Spark path on the bundled data: the bundled CDNOW file and the
bundled synthetic B2B file (returns, cost, order ids, attributes) segmented on local Spark and on
DuckDB, each as an analyst runs it (a subprocess), give byte-identical ``assignments.csv``,
``tiers_monthly.csv``, ``alerts.csv``, ``actions.csv`` and ``scorecard.json``, and a ``run.json``
whose data block (counts, findings, hash) is the same. Spark computes the loading, cleaning counts and
per-customer aggregates; the schemes, the comparison and the exports still run in Python on what comes
back (README, "Data in a warehouse or on Spark"). Needs Java 17 and the dev extra; skips saying why.

The same run started by ``spark-submit --master local[1]`` (as on a cluster, README "On a Spark
cluster") runs on the master spark-submit names and publishes the same files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

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


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def master_of(env: dict[str, str], *submit: str) -> str:
    """The master and shuffle partitions of the session ``segkit.engines.connect("pyspark")`` opens in a
    fresh process (through ``spark-submit`` with ``submit`` arguments, else plain Python)."""
    code = ("from segkit.engines import connect; s = connect('pyspark')._session; "
            "print('MASTER', s.sparkContext.master, s.conf.get('spark.sql.shuffle.partitions'), "
            "s.conf.get('spark.sql.session.timeZone'))")
    script = Path(env["TMP_SCRIPT"])
    script.write_text(code + "\n")
    argv = [str(spark_home() / "bin" / "spark-submit"), *submit, str(script)] if submit else [sys.executable, str(script)]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return next(line for line in proc.stdout.splitlines() if line.startswith("MASTER "))


@pytest.fixture(scope="module")
def submit_env(tmp_path_factory):
    pytest.importorskip("pyspark", reason="PySpark is in the dev extra: pip install -e '.[dev]'")
    if shutil.which("java") is None:
        pytest.skip("PySpark needs Java 17 (java not on PATH)")
    env = {k: v for k, v in os.environ.items() if k not in ("SEGKIT_SPARK_MASTER", "PYSPARK_SUBMIT_ARGS")}
    env.update(SPARK_HOME=str(spark_home()), PYSPARK_PYTHON=sys.executable,
               TMP_SCRIPT=str(tmp_path_factory.mktemp("submit") / "master.py"))
    return env


def test_the_spark_master_comes_from_spark_submit_or_the_environment(submit_env):
    """Own local session by default (4 partitions); SEGKIT_SPARK_MASTER names another; spark-submit's
    --master is kept with Spark's own settings (segkit does not force its local ones on a cluster)."""
    assert master_of(submit_env) == "MASTER local[2] 4 UTC"
    assert master_of({**submit_env, "SEGKIT_SPARK_MASTER": "local[1]"}) == "MASTER local[1] 4 UTC"
    assert master_of(submit_env, "--master", "local[1]") == "MASTER local[1] 200 UTC"
    assert master_of(submit_env, "--master", "local[1]", "--conf", "spark.sql.shuffle.partitions=3") == \
        "MASTER local[1] 3 UTC"


def test_spark_submit_runs_segment_with_the_same_files(spark_runs, submit_env, tmp_path):
    """``spark-submit --master local[1] src/segkit/__main__.py segment ...``: the CDNOW files as DuckDB's."""
    import segkit

    entry = Path(segkit.__file__).parent / "__main__.py"  # what a cluster user submits (not imported: it runs)
    out = tmp_path / "submitted"
    proc = subprocess.run([str(spark_home() / "bin" / "spark-submit"), "--master", "local[1]", str(entry),
                           "segment", str(CDNOW_PATH), "--out", str(out), "--engine", "pyspark", *SEGMENT_OPTIONS],
                          capture_output=True, text=True, env=submit_env, cwd=PROJECT_ROOT, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    duck = spark_runs["cdnow"][0]
    for file in FILES:
        assert (out / file).read_bytes() == (duck / file).read_bytes(), f"spark-submit: {file} differs"
