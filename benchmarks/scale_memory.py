"""Scale fault: a large transactions file validates and segments through DuckDB with bounded memory.

Generates a CSV of ``--rows`` transactions (DuckDB writes it directly, deterministic values), then
measures the peak resident memory of three child processes, each started fresh:

- ``pandas``: ``pd.read_csv`` of the file (ids as text) — what holding it in pandas costs;
- ``validate``: ``python -m segkit validate FILE``, with DuckDB's default memory limit (80% of RAM)
  and with ``SEGKIT_MEMORY_LIMIT`` (``--memory-limit``, default 256MB: DuckDB spills to disk);
- ``segment``: ``python -m segkit segment FILE --out DIR`` (every scheme, evaluation, run files).

Peak RSS comes from ``resource.getrusage(RUSAGE_CHILDREN)`` in a wrapper process per command, so
the numbers do not mix; each is also shown minus the interpreter's own imports (segkit imports
DuckDB, Ibis, scikit-learn and matplotlib: ~320 MiB before any data). The script fails (exit 1)
when validate's data memory is not below half of what pandas needs for the same file.

    python benchmarks/scale_memory.py                  # 5M rows, ~2-3 minutes on 2 cores
    python benchmarks/scale_memory.py --rows 1000000   # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WRAPPER = """
import resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
seconds = time.perf_counter() - start
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(peak_kib, code.returncode, round(seconds, 1))
if code.returncode:
    print(code.stderr[-2000:], file=sys.stderr)
"""


def generate(path: Path, rows: int, customers: int) -> None:
    import duckdb

    con = duckdb.connect()
    # 24 complete months (2022-01-01 .. 2023-12-31); ids with leading zeros; amounts and quantities from a hash
    con.execute(f"""
        COPY (
          SELECT lpad(CAST((i * 7919) % {customers} AS VARCHAR), 7, '0') AS customer_id,
                 DATE '2022-01-01' + CAST((hash(i) % 730) AS INTEGER) AS date,
                 round(1 + (hash(i * 31) % 50000) / 100.0, 2) AS amount,
                 1 + CAST(hash(i * 17) % 5 AS INTEGER) AS quantity
          FROM range({rows}) t(i)
        ) TO '{path}' (HEADER, DELIMITER ',')
    """)
    con.close()


def peak(cmd: list[str], memory_limit: str = "") -> tuple[float, float]:
    """(peak RSS in MiB, seconds) of ``cmd`` run as a child of a fresh wrapper process."""
    env = {k: v for k, v in os.environ.items() if k != "SEGKIT_MEMORY_LIMIT"}
    if memory_limit:
        env["SEGKIT_MEMORY_LIMIT"] = memory_limit
    result = subprocess.run([sys.executable, "-c", WRAPPER, *cmd], capture_output=True, text=True, check=True,
                            env=env)
    kib, code, seconds = result.stdout.split()
    if int(code):
        raise SystemExit(f"{' '.join(cmd[:4])} failed:\n{result.stderr}")
    return int(kib) / 1024, float(seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--memory-limit", default="256MB",
                        help="DuckDB memory limit for the bounded runs (SEGKIT_MEMORY_LIMIT; default 256MB)")
    parser.add_argument("--keep", help="folder to keep the generated file in (default: a temporary one)")
    args = parser.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="segkit-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / f"tx_{args.rows}.csv"
    t0 = time.perf_counter()
    if not data.exists():
        generate(data, args.rows, args.customers)
    size = data.stat().st_size / 2**20
    print(f"file: {data} ({args.rows:,} rows, {size:,.0f} MiB, generated in {time.perf_counter() - t0:.1f} s)")
    py = sys.executable
    imports = {  # what the interpreters hold before reading any data
        "pandas read_csv": peak([py, "-c", "import pandas"]),
        "segkit validate": peak([py, "-c", "import segkit.cli, segkit.pipeline, ibis; ibis.duckdb.connect()"]),
    }
    lim = args.memory_limit
    validate, segment = [py, "-m", "segkit", "validate", str(data)], \
        [py, "-m", "segkit", "segment", str(data), "--out", str(folder / "out")]
    rows = {
        "pandas read_csv": peak([py, "-c", f"import pandas as pd; f = pd.read_csv({str(data)!r}, "
                                          "dtype={'customer_id': str}); print(len(f))"]),
        "segkit validate (DuckDB default limit)": peak(validate),
        f"segkit validate (limit {lim})": peak(validate, lim),
        f"segkit segment (limit {lim})": peak(segment, lim),
    }
    print(f"{'step':<40}{'peak RSS MiB':>14}{'imports MiB':>13}{'data MiB':>10}{'seconds':>10}")
    growth = {}
    for name, (mib, seconds) in rows.items():
        base = imports["pandas read_csv" if name.startswith("pandas") else "segkit validate"][0]
        growth[name] = mib - base
        print(f"{name:<40}{mib:>14,.0f}{base:>13,.0f}{growth[name]:>10,.0f}{seconds:>10.1f}")
    run = json.loads((folder / "out" / "run.json").read_text())
    print(f"segment: {run['data']['rows_used']:,} rows used, {run['data']['customers']:,} customers")
    # "data MiB" = peak minus what the interpreter holds after its imports: the cost of the data.
    ok = growth[f"segkit validate (limit {lim})"] < 0.5 * growth["pandas read_csv"]
    print(f"validate bounded with SEGKIT_MEMORY_LIMIT={lim}: " + ("yes" if ok else "NO")
          + " (its data memory < half of pandas'); without a limit DuckDB uses up to 80% of RAM as it likes")
    print("segment: its memory is per-customer work after the DuckDB aggregation (schemes, bootstrap); "
          "compare runs with the same --customers and different --rows")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
