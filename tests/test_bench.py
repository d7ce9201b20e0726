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
