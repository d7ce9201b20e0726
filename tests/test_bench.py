"""`make bench --quick` (benchmarks/bench.py) runs and prints a number for every case.

A smoke test: it checks that the benchmark works against the current code, never how fast
anything is (timings belong in the benchmark's table, not in assertions).
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys

import pytest

from segkit.config import PROJECT_ROOT

BENCH = PROJECT_ROOT / "benchmarks" / "bench.py"
NUMBER = r"\d+(\.\d+)?"


def _load_bench():
    spec = importlib.util.spec_from_file_location("segkit_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _sections(stdout: str) -> dict[str, list[str]]:
    """Table lines under each '## <title>' heading."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in stdout.splitlines():
        if line.startswith("## "):
            current = sections.setdefault(line[3:].strip(), [])
        elif current is not None and line.startswith("|"):
            current.append(line)
    return sections


@pytest.mark.slow
def test_quick_benchmark_prints_every_case(tmp_path):
    bench = _load_bench()
    out_json = tmp_path / "run.json"
    proc = subprocess.run([sys.executable, str(BENCH), "--quick", "--json", str(out_json)], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=900)  # a guard against hangs, not a timing
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    assert re.search(r"machine: \d+ cores, [\d.]+ GiB RAM", proc.stdout)
    sections = _sections(proc.stdout)

    for part, cases in (("features", bench.feature_cases()), ("tiers", bench.tier_cases())):
        lines = sections[bench.TITLES[part]]
        for case in cases:
            row = [ln for ln in lines if ln.startswith(f"| 100k | {case.name} |")]
            assert len(row) == 1, f"{part}: no row for {case.name!r} in\n" + "\n".join(lines)
            if not all(importlib.util.find_spec(m) for m in case.needs):
                assert "not installed" in row[0]
            elif case.engine == "pyspark":  # --quick leaves Spark out, and says so
                assert "| skipped |" in row[0]
            else:
                assert re.match(rf"\| 100k \| {re.escape(case.name)} \| {NUMBER} \| {NUMBER} \| {NUMBER} \|", row[0]), row
        # every implementation computed the same thing
        checks = {ln.rsplit("|", 2)[-2].strip() for ln in lines if re.match(rf"\| 100k \| [^|]+ \| {NUMBER} ", ln)
                  and "rfm_summary" not in ln}
        assert len(checks) == 1, f"{part}: implementations disagree: {checks}"

    segment = sections[bench.TITLES["segment"]]
    assert any(re.match(rf"\| 100k \| segkit segment [^|]+ \| {NUMBER} \| {NUMBER} \|", ln) for ln in segment), segment
    assert bench.TITLES["run"] not in sections  # --quick leaves out the slow `segkit run` part

    saved = json.loads(out_json.read_text())
    assert saved["args"]["quick"] is True
    assert {r["status"] for r in saved["results"]} <= {"ok", "not installed", "skipped"}


# ---------------------------------------------------------------- the parts' plumbing (fast, no timing)
def test_large_cases_are_opt_in():
    bench = _load_bench()
    plain = bench.parse_args([])
    assert "b2c" not in plain.parts and plain.sizes == ["1M"] and "verdict" in plain.parts
    large = bench.parse_args(["--large"])
    assert "b2c" in large.parts and "10M" in large.sizes
    assert "spark" not in plain.parts and large.parts.index("spark") < large.parts.index("verdict")
    quick = bench.parse_args(["--quick", "--large"])
    assert not {"b2c", "spark", "verdict", "run"} & set(quick.parts) and quick.sizes == ["100k"]
    assert bench.parse_args(["--parts", "spark"]).parts == ["spark"]


def _published(folder, engine, **changes):
    folder.mkdir()
    for name in ("assignments.csv", "tiers_monthly.csv", "alerts.csv", "actions.csv", "scorecard.json"):
        (folder / name).write_text(changes.get(name, f"{name}: the same\n"))
    info = {"parameters": {"engine": engine, "name": "same"}, "seconds": {"load": len(engine)},
            "started": engine, "finished": engine, "data": {"rows": changes.get("rows", 10)}}
    (folder / "run.json").write_text(json.dumps(info))


def test_spark_part_names_the_files_that_differ_from_duckdb(tmp_path):
    """Identical but for the engine and the times: the target is met; a changed byte or count: named, missed."""
    bench = _load_bench()
    _published(tmp_path / "duckdb", "duckdb")
    _published(tmp_path / "same", "pyspark")
    _published(tmp_path / "alerts", "pyspark", **{"alerts.csv": "alerts.csv: the samE\n"})
    _published(tmp_path / "counts", "pyspark", rows=11)
    duck = tmp_path / "duckdb"
    assert bench.same_files(duck, tmp_path / "same") == bench.SPARK_SAME
    assert bench.same_files(duck, tmp_path / "alerts") == "differ from DuckDB's: alerts.csv"
    assert bench.same_files(duck, tmp_path / "counts") == "differ from DuckDB's: run.json"
    (tmp_path / "same" / "actions.csv").unlink()
    assert bench.same_files(duck, tmp_path / "same") == "differ from DuckDB's: actions.csv"
    rows = [bench.Row("spark", "1M B2B", "segkit segment --engine pyspark", "segkit", wall=118.0, peak_mb=1024.0,
                      check=bench.SPARK_SAME),
            bench.Row("spark", "1M B2C", "segkit segment --engine pyspark", "segkit", wall=200.0, peak_mb=2048.0,
                      check="differ from DuckDB's: alerts.csv")]
    lines = bench.targets(rows)
    assert any(ln.startswith("- local Spark `segkit segment` 1M B2B: 118.0 s") and ln.endswith("meets") for ln in lines)
    assert any("1M B2C" in ln and "alerts.csv" in ln and ln.endswith("misses") for ln in lines)


def test_b2c_shape_scales_cdnow_exactly_and_reproducibly(tmp_path, monkeypatch):
    import duckdb

    bench = _load_bench()
    monkeypatch.setattr(bench, "DATA", tmp_path)
    rows = 100_000  # two copies of CDNOW's 69,659 rows, the second cut
    path = bench.b2c_dataset(rows)
    stats = duckdb.sql(f"SELECT count(*), count(DISTINCT customer_id), min(date), max(date) FROM '{path}'").fetchall()[0]
    assert stats[0] == rows
    cdnow = duckdb.sql(f"SELECT count(*), count(DISTINCT customer_id), sum(quantity) FROM "
                       f"read_csv('{bench.CDNOW}', types = {{'customer_id': 'VARCHAR'}})").fetchall()[0]
    # the first copy holds every CDNOW customer with all their purchases, quantities unchanged
    first = duckdb.sql(f"SELECT count(*), count(DISTINCT customer_id), sum(quantity) FROM '{path}' "
                       "WHERE customer_id LIKE 'B0000%'").fetchall()[0]
    assert first == cdnow
    assert stats[1] > cdnow[1] and str(stats[2]) >= "1997-01-01" and str(stats[3]) <= "1998-06-30"
    assert bench.b2c_dataset(rows) == path


def test_missing_interpreter_skips_the_case_with_its_reason(tmp_path):
    bench = _load_bench()
    case = bench.Case("openretailscience", "b2c", "other", code="##WORK\nRESULT = 1", needs=("openretailscience",),
                      python=str(tmp_path / "no-such-python"))
    row = bench.run_case(case, tmp_path / "x.parquet", "10M", {}, 1, bench.Limits())
    assert row.status == "not installed" and "openretailscience" in row.error and "no-such-python" in row.error


def test_ratios_of_the_end_to_end_and_rfm_cases():
    bench = _load_bench()
    rows = [bench.Row("b2c", "10M", "segkit segment (default engine)", "segkit", wall=300.0, peak_mb=6000.0),
            bench.Row("b2c", "10M", "hand-written DuckDB feature-and-rank query", "engine", work=10, wall=20.0),
            bench.Row("b2c", "10M", "segkit RFM scores: ...", "segkit", work=30.0, peak_mb=3000.0),
            bench.Row("b2c", "10M", "openretailscience 0.48.1 RFMSegmentation", "other", work=10.0, peak_mb=2000.0)]
    bench.add_segment_ratios(rows)
    assert rows[0].ratios == {"feature_and_rank": 15.0}
    assert rows[2].ratios == {"openretailscience": 3.0, "openretailscience_peak": 1.5}
    lines = bench.targets(rows)
    assert any("15.00x the hand-written feature-and-rank query" in ln and "misses" in ln for ln in lines)
    assert any("RFM scores 10M: 3.00x openretailscience's time, 1.50x its peak" in ln for ln in lines)


def test_rfm_case_gives_the_scores_of_fit_features(tmp_path, monkeypatch):
    """The B2C RFM case (engine path) on a small B2C file: every score equals the pandas path's, and its check
    counts customers and purchases as openretailscience's does."""
    import datetime as dt

    import pandas as pd

    from segkit.data import load_transactions
    from segkit.features import customer_features
    from segkit.schemes import RFMSegmenter

    bench = _load_bench()
    monkeypatch.setattr(bench, "DATA", tmp_path)
    path = bench.b2c_dataset(30_000)
    scope = {"PATH": str(path), "A": bench.case_parameters(bench.B2C_AS_OF)}
    exec(bench.SEGKIT_RFM.replace("##WORK", ""), scope)  # noqa: S102 - the bench's own case code
    exec(bench._RFM_CHECK, scope)  # noqa: S102
    got = scope["RESULT"].sort_values("customer_id").reset_index(drop=True)
    features = customer_features(load_transactions(path), bench.B2C_AS_OF)
    expected = RFMSegmenter(bins=5).fit_features(features).scores_
    for col in ("customer_id", "rfm_r", "rfm_f", "rfm_m", "rfm_segment"):
        assert got[col].astype(str).tolist() == expected[col].astype(str).tolist(), col
    assert scope["CHECK"] == f"customers={len(features)} purchases={int(features['frequency'].sum())}"
    assert isinstance(scope["A"]["cutoff"], str) and dt.date.fromisoformat(scope["A"]["cutoff"]) == bench.B2C_AS_OF
    assert isinstance(got, pd.DataFrame)


def test_cases_option_keeps_only_the_named_b2c_cases(tmp_path):
    bench = _load_bench()
    args = bench.parse_args(["--parts", "b2c", "--cases", "RFM, openretailscience"])
    assert args.cases == ["RFM", "openretailscience"]
    names = [c.name for c in bench.selected(bench.b2c_cases(tmp_path, ""), args.cases)]
    assert len(names) == 2 and not any(n.startswith("segkit segment") for n in names)
    assert bench.parse_args([]).cases is None and len(bench.selected(bench.b2c_cases(tmp_path, ""), None)) == 4
