"""segkit benchmark: per-customer features from a CSV file, against baselines measured in the same run.

Each case runs in a fresh Python process (so import and cache effects are the same for all) and is
repeated; the table shows the median wall time, the peak resident memory of the child, and the
ratio to the hand-written DuckDB query on the same file. Usage:

    python benchmarks/bench.py [--sizes 1M,10M] [--repeat 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"

CASES = {
    "segkit features (DuckDB via Ibis)": """
from segkit.data import load_transactions
from segkit.features import customer_features, split_periods
tx = load_transactions(PATH)
f = customer_features(tx, tx.last_date)
print(len(f))
""",
    "hand-written DuckDB SQL": """
import duckdb
con = duckdb.connect()
df = con.sql(f'''SELECT customer_id, max(date) AS last, count(DISTINCT CASE WHEN amount > 0 THEN order_id END) AS f,
                 sum(amount) AS m, sum(quantity) AS units FROM read_csv('{PATH}', header=true)
                 WHERE amount <> 0 GROUP BY customer_id''').df()
print(len(df))
""",
    "pandas read_csv + groupby": """
import pandas as pd
d = pd.read_csv(PATH, dtype={"customer_id": str}, parse_dates=["date"])
d = d[d["amount"] != 0]
g = d.groupby("customer_id").agg(last=("date", "max"), m=("amount", "sum"), units=("quantity", "sum"))
g["f"] = d[d["amount"] > 0].groupby("customer_id")["order_id"].nunique()
print(len(g))
""",
    "pymc-marketing rfm_summary": """
import pandas as pd
from pymc_marketing.clv.utils import rfm_summary
d = pd.read_csv(PATH, dtype={"customer_id": str}, parse_dates=["date"])
print(len(rfm_summary(d, "customer_id", "date", "amount")))
""",
}

RUNNER = """
import resource, sys, time
PATH = sys.argv[1]
t = time.perf_counter()
exec(compile(sys.stdin.read(), "case", "exec"))
print("SECONDS", time.perf_counter() - t)
print("PEAK_MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def dataset(rows: int) -> Path:
    path = DATA / f"b2b_{rows}.csv"
    if not path.exists():
        from segkit.datasets import make_transactions, write_transactions

        customers = max(rows // 13, 100)  # ~13 rows per customer over 24 months
        frame, _ = make_transactions(n_customers=customers, months=24, seed=1)
        write_transactions(frame, path)
    return path


def run_case(code: str, path: Path) -> tuple[float, float] | None:
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(path)], input=code, capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    out = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if line.startswith(("SECONDS", "PEAK_MB")))
    return float(out["SECONDS"]), float(out["PEAK_MB"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1M,10M", help="comma-separated row counts such as 100k,1M,10M")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="100k rows, one repeat (a smoke test)")
    args = p.parse_args(argv)
    sizes = ["100k"] if args.quick else args.sizes.split(",")
    repeat = 1 if args.quick else args.repeat
    DATA.mkdir(exist_ok=True)
    results = []
    for size in sizes:
        rows = int(float(size.lower().rstrip("km")) * (1_000_000 if size.lower().endswith("m") else 1_000))
        path = dataset(rows)
        base = None
        print(f"\n{size} rows ({path.stat().st_size / 1e6:.0f} MB CSV), median of {repeat}:")
        print(f"  {'case':<36} {'seconds':>9} {'peak MB':>9} {'vs DuckDB SQL':>14}")
        timings = {}
        for name, code in CASES.items():
            runs = [run_case(code, path) for _ in range(repeat)]
            if any(r is None for r in runs):
                print(f"  {name:<36} {'(not available)':>34}")
                continue
            sec = statistics.median(r[0] for r in runs)
            mb = max(r[1] for r in runs)
            timings[name] = (sec, mb)
        base = timings.get("hand-written DuckDB SQL", (None,))[0]
        for name, (sec, mb) in timings.items():
            ratio = f"{sec / base:.2f}x" if base else "–"
            print(f"  {name:<36} {sec:>9.2f} {mb:>9.0f} {ratio:>14}")
            results.append({"size": size, "case": name, "seconds": sec, "peak_mb": mb,
                            "ratio_to_duckdb_sql": sec / base if base else None})
    (DATA / "last_run.json").write_text(json.dumps({"when": time.strftime("%Y-%m-%d %H:%M"), "results": results},
                                                   indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
