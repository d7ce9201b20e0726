"""segkit benchmark: segkit against hand-written baselines, all measured in the same run.

Parts (``--parts``; by default all but ``b2c`` and ``spark``; ``--large`` adds them and 10M B2B rows;
``--quick`` keeps only the first three):

- ``features``  per-customer features (RFM and behaviour) from a CSV: segkit on its default engine
  and on every other installed engine, against a hand-written DuckDB SQL query, a hand-written
  Polars lazy query, a straightforward pandas implementation and pymc-marketing ``rfm_summary``
  (only when that package happens to be installed);
- ``tiers``     customer x month revenue with VIP/GOOD/REGULAR per month over the last 6 months:
  segkit (``customer_month`` + ``PercentileTiers``) against DuckDB SQL with a window function,
  Polars and pandas, all with the documented exact ceil;
- ``segment``   end-to-end ``segkit segment FILE --out DIR`` (default engine) with the seconds of
  each stage (its run.json ``seconds``), against a hand-written DuckDB query that writes the
  per-customer RFM table and the ranked customer-month table from the same file;
- ``verdict``   the cost of the verdict's backtest and of the predicted-value scheme: one bundled run
  of ``--config`` (``--verdict-runs``) analysed as ``segkit run`` does before its notebooks, with
  them (``backtest_origins: 3``, the potential scheme) and without them (``backtest_origins: 1``,
  no potential scheme), the two modes interleaved; the ratio of the medians;
- ``b2c``       (opt-in) the B2C shape: CDNOW's real transactions scaled up (``--b2c-sizes``, 10M rows
  = about 3.4M customers, Parquet): ``segkit segment`` and the hand-written query as above, and RFM
  scores (segkit's loader, the feature table and ``RFMSegmenter.score_table`` in the engine, fetched
  to pandas) against openretailscience 0.48.1
  ``RFMSegmentation``, run by its own interpreter (``--ors-python``; skipped with the reason when absent);
- ``spark``     (opt-in) the whole ``segkit segment`` on local Spark (``--engine pyspark``, ``local[2]``)
  and on DuckDB, on the B2B and the B2C file of ``--spark-sizes`` rows (default 1M): each process's
  time and the stages, and whether the published files are byte-identical (``assignments.csv``,
  ``tiers_monthly.csv``, ``alerts.csv``, ``actions.csv``, ``scorecard.json``; ``run.json`` but for the
  engine and the times). Not a speed case: 2 cores run Spark for checking the cluster path;
- ``run``       ``segkit run reports.yml --jobs 2`` into a temporary folder, against the floor of
  starting the notebook kernels: papermill executing trivial notebooks, as many per run and as many
  runs as the config has, two at a time.

Every case runs in a fresh Python process and is repeated; the table shows the median of the
timed work (after imports), the median wall time of the whole process, the peak resident memory
of the process and its children, and ratios to the baselines measured in the same run. Every case
also prints a check of its result (customers and purchases, or a hash of the VIP list) so the
table shows when implementations disagree. Synthetic files are generated (B2B in chunks in
parallel) and cached under ``benchmarks/.data/`` (not in git); results go to
``benchmarks/.data/last_run.json``.

Usage::

    python benchmarks/bench.py                      # 1M B2B rows, the verdict part, `segkit run`; 3 repeats
    python benchmarks/bench.py --large              # also 10M B2B rows and the 10M-row B2C shape
    python benchmarks/bench.py --huge               # also 100M rows
    python benchmarks/bench.py --parts b2c --repeat 1 --b2c-sizes 10M
    python benchmarks/bench.py --parts b2c --cases RFM,openretailscience   # only the RFM-score cases
    python benchmarks/bench.py --parts verdict --verdict-runs cdnow-revenue
    python benchmarks/bench.py --parts spark        # local Spark against DuckDB, 1M rows of each shape
    python benchmarks/bench.py --engines duckdb,polars --budget 60   # leave Spark out, fewer slow repeats
    python benchmarks/bench.py --quick              # 100k rows, 1 repeat, no `segkit run` (CI smoke test)

openretailscience pins pandas < 3, duckdb < 1.6 and pyarrow < 26, so it gets a virtualenv of its own,
never segkit's, outside the repository (so no test or linter walks into it)::

    python -m venv ~/.cache/segkit-bench/ors-venv
    ~/.cache/segkit-bench/ors-venv/bin/pip install openretailscience==0.48.1
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import dataclasses
import datetime as dt
import importlib.metadata
import importlib.util
import json
import math
import multiprocessing
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from segkit.atomic import atomic_open, atomic_path, atomic_write  # the one write-then-rename helper of the project

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / ".data"

# ------------------------------------------------------------------ synthetic data
SEED = 1
START = dt.date(2023, 1, 1)
MONTHS = 24
ROWS_PER_CUSTOMER = 12.8      # what segkit.datasets.make_transactions gives with the default mix
CHUNK_ROWS = 2_000_000        # rows per generated chunk (about 0.5 GB of pandas at most per worker)
AS_OF = dt.date(2024, 12, 31)  # last day of the generated months (returns may spill a few days past it)
B2B_CUTOFF = dt.date(2024, 6, 30)  # `segkit segment`'s default cut-off on those months (6-month holdout)
WINDOW_MONTHS = 6
VIP_SHARE, GOOD_SHARE = 0.2, 0.2
PARTS = ("features", "tiers", "segment", "verdict", "b2c", "spark", "run")
#: the parts of a plain `make bench` (the B2C shape is opt-in: --large)
DEFAULT_PARTS = ("features", "tiers", "segment", "verdict", "run")


def first_of_month(day: dt.date, months: int = 0) -> dt.date:
    """The first day of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def parse_size(text: str) -> int:
    """'100k' -> 100_000, '1M' -> 1_000_000, '2.5M', '100M', '1000' -> rows."""
    t = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000, "b": 1_000_000_000}.get(t[-1:], 1)
    number = t[:-1] if scale != 1 else t
    try:
        rows = int(round(float(number) * scale))
    except ValueError:
        raise SystemExit(f"error: --sizes: {text!r} is not a row count (use e.g. 100k, 1M, 10M)") from None
    if rows < 1000:
        raise SystemExit(f"error: --sizes: {text!r} is too small (at least 1000 rows)")
    return rows


def _chunk(args: tuple[int, int, int, int, str]) -> str:
    """Generate chunk ``index`` (exactly ``want`` rows) and write it as CSV; returns the path.

    Chunks share the calendar but not customers or orders: chunk k holds customers
    k*customers_per_chunk ... and orders k*10^8 ..., so a file of many chunks reads as one business.
    """
    index, want, customers, customers_per_chunk, out = args
    import numpy as np
    import pandas as pd

    from segkit.datasets import make_transactions, write_transactions

    frame, _ = make_transactions(n_customers=customers, months=MONTHS, start=START.isoformat(), seed=SEED + index)
    if len(frame) < want:  # the surplus below makes this practically impossible; fail loudly if it happens
        raise RuntimeError(f"chunk {index}: generated {len(frame)} rows, wanted {want}")
    rng = np.random.default_rng(SEED + 10_000 + index)
    keep = np.sort(rng.choice(len(frame), size=want, replace=False))  # thin evenly, keep date order
    frame = frame.take(keep).reset_index(drop=True)
    local = pd.Categorical(frame["customer_id"], categories=[f"C{i:06d}" for i in range(customers)]).codes
    offset = index * customers_per_chunk
    new_ids = np.array([f"C{offset + i:09d}" for i in range(customers)])
    frame["customer_id"] = new_ids[local]
    frame["order_id"] = frame["order_id"] + index * 100_000_000
    write_transactions(frame, out)
    return out


def dataset(rows: int, workers: int = 2) -> Path:
    """The cached synthetic file with exactly ``rows`` rows, generated in parallel chunks when missing.

    Never holds more than one chunk per worker in memory, so 100M rows need no more than ~10M do.
    """
    path = DATA / f"b2b_{rows}_seed{SEED}.csv"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    parts_dir = Path(tempfile.mkdtemp(prefix=f".parts-{rows}-", dir=DATA))
    n_chunks = math.ceil(rows / CHUNK_ROWS)
    per_chunk = math.ceil(rows / n_chunks)
    customers_per_chunk = math.ceil(per_chunk / ROWS_PER_CUSTOMER * 1.08) + 20  # surplus, thinned to `want`
    jobs = []
    for k in range(n_chunks):
        want = min(per_chunk, rows - k * per_chunk)
        jobs.append((k, want, customers_per_chunk, customers_per_chunk, str(parts_dir / f"part-{k:05d}.csv")))
    started = time.perf_counter()
    print(f"generating {rows:,} rows in {n_chunks} chunk(s) -> {path.relative_to(ROOT)} ...", file=sys.stderr,
          flush=True)
    try:
        # atomic: a half-written file is never taken for a cached one
        with atomic_open(path, "wb") as out:
            if n_chunks == 1:
                parts = map(_chunk, jobs)
                pool = None
            else:
                pool = cf.ProcessPoolExecutor(max_workers=min(workers, n_chunks),
                                              mp_context=multiprocessing.get_context("spawn"))
                parts = pool.map(_chunk, jobs)  # in order: concatenation keeps chunk order
            try:
                for k, part in enumerate(parts):
                    with open(part, "rb") as fh:
                        if k:
                            fh.readline()  # every chunk has a header; keep the first only
                        shutil.copyfileobj(fh, out, 16 << 20)
                    os.unlink(part)
            finally:
                if pool is not None:
                    pool.shutdown(cancel_futures=True)
    finally:
        shutil.rmtree(parts_dir, ignore_errors=True)
    print(f"  {rows:,} rows generated in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    return path


# ------------------------------------------------------------------ the B2C shape (CDNOW scaled up)
CDNOW = ROOT / "data" / "cdnow" / "cdnow_master.csv.gz"
B2C_AS_OF = dt.date(1997, 12, 31)  # `segkit segment`'s default cut-off on CDNOW's months (6-month holdout)


def b2c_dataset(rows: int) -> Path:
    """The cached B2C file: CDNOW's real transactions scaled up to ``rows`` rows (Parquet).

    The bundled CDNOW master file (69,659 rows of 23,570 one-time-heavy music buyers, about 3 rows
    per customer) is copied as many times as needed, each copy a new set of customers: every
    customer keeps the number, spacing and quantities of the original's purchases, with all dates
    moved by one draw of -3..+3 days (kept inside CDNOW's 18 months) and all amounts multiplied by one
    draw of 0.5..1.5 (draws from a hash of copy and customer: the same file every time). The last copy
    is cut at ``rows``. 10M rows give about 3.4M customers, a B2C book (few rows per customer), where the
    synthetic B2B shape has 12.8 rows per customer. Written by DuckDB, sorted by date like an export.
    """
    path = DATA / f"b2c_{rows}.parquet"
    if path.exists():
        return path
    import duckdb

    DATA.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    print(f"generating {rows:,} B2C rows (CDNOW scaled up) -> {path} ...", file=sys.stderr, flush=True)
    con = duckdb.connect()
    src = con.sql(f"SELECT count(*) FROM read_csv('{CDNOW}', header = true, types = {{'customer_id': 'VARCHAR'}})")
    copies = math.ceil(rows / src.fetchall()[0][0])
    try:
        with atomic_path(path) as partial:  # renamed when complete: never taken for a cached one
            con.execute(f"""
              COPY (
                WITH src AS (
                  SELECT dense_rank() OVER (ORDER BY customer_id) AS c, date, quantity, amount
                  FROM read_csv('{CDNOW}', header = true, types = {{'customer_id': 'VARCHAR'}})),
                copied AS (
                  SELECT k, c, date, quantity, amount, hash(k, c) AS h
                  FROM src, range({copies}) t(k)
                  ORDER BY k, c, date LIMIT {rows})
                SELECT printf('B%04d%06d', k, c) AS customer_id,
                       least(greatest(date + CAST(h % 7 AS INTEGER) - 3, DATE '1997-01-01'), DATE '1998-06-30') AS date,
                       quantity,
                       round(amount * (0.5 + (h // 7 % 1001) / 1000.0), 2) AS amount
                FROM copied ORDER BY date, customer_id
              ) TO '{partial}' (FORMAT parquet)""")
    finally:
        con.close()
    print(f"  {rows:,} rows generated in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    return path


# ------------------------------------------------------------------ the cases
@dataclass
class Case:
    name: str
    part: str
    kind: str              # "segkit", "engine" (a hand-written engine query), "pandas", "other"
    code: str = ""         # python run in a fresh process (setup, then WORK marker, then the timed work)
    argv: list[str] = field(default_factory=list)  # or: a command (wall time only)
    needs: tuple[str, ...] = ()  # importable modules the case needs
    check: str | None = None     # untimed code that sets CHECK from RESULT (default: by part)
    engine: str = ""             # the segkit engine a segkit case runs on
    python: str = ""             # the interpreter of a code case (default: the one running the bench)
    run_json: str = ""           # a run.json the command writes: its `seconds` become the row's stages


# A child runs SETUP (imports), then times WORK, then CHECK (untimed) and prints its markers.
RUNNER = r"""
import json, sys, time
PATH = sys.argv[1]
A = json.loads(sys.argv[2])
{setup}
_t0 = time.perf_counter()
{work}
_seconds = time.perf_counter() - _t0
{check}
print("WORK_SECONDS", _seconds)
print("CHECK", CHECK)
print("LIVE_CHILDREN_PEAK_MB", _children_peak_mb())
"""

# Helper processes still alive at the end (the JVM behind PySpark) are not in the rusage the parent
# gets from wait4, so the child adds their own peaks (VmHWM) to its report.
CHILDREN_PEAK = r"""
def _children_peak_mb():
    import os
    total, me = 0, str(os.getpid())
    parents = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                parents[pid] = fh.read().rsplit(")", 1)[1].split()[1]
        except OSError:
            pass
    family, grew = {me}, True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in family and pid not in family:
                family.add(pid)
                grew = True
    for pid in family - {me}:
        try:
            with open(f"/proc/{pid}/status") as fh:
                total += next((int(ln.split()[1]) for ln in fh if ln.startswith("VmHWM:")), 0)
        except OSError:
            pass
    return total / 1024
"""

_FEATURE_CHECK = """
import pandas as _pd
_r = _pd.DataFrame(RESULT)
CHECK = f"customers={len(_r)} purchases={int(_r['frequency'].sum())} net={float(_r['monetary'].sum()):.0f}"
"""

_TIER_CHECK = """
import hashlib as _h, pandas as _pd
_r = _pd.DataFrame(RESULT)
_m = _pd.to_datetime(_r['month'].astype(str).str.slice(0, 7) + '-01').dt.strftime('%Y-%m')
_v = sorted((_m + '|' + _r['customer_id'].astype(str))[_r['monthly_tier'].astype(str).eq('VIP').to_numpy()])
_n = _r['monthly_tier'].astype(str).value_counts()
CHECK = (f"rows={len(_r)} VIP={_n.get('VIP', 0)} GOOD={_n.get('GOOD', 0)} "
         f"vip_hash={_h.sha1(chr(10).join(_v).encode()).hexdigest()[:8]}")
"""


def _segkit_engines() -> tuple[str, list[str]]:
    """segkit's default engine and the other engines whose Python package is installed."""
    import inspect

    from segkit.data import load_transactions
    from segkit.engines import ENGINES

    default = inspect.signature(load_transactions).parameters["engine"].default
    others = [e for e in ENGINES if e != default and importable(_ENGINE_MODULE.get(e, e))]
    return default, others


_ENGINE_MODULE = {"duckdb": "duckdb", "polars": "polars", "pyspark": "pyspark"}


def importable(module: str, python: str = "") -> bool:
    """Whether ``module`` can be imported here, or by the interpreter ``python`` when given."""
    if not python:
        return importlib.util.find_spec(module) is not None
    if not Path(python).exists():
        return False
    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return subprocess.run([python, "-c", probe], capture_output=True).returncode == 0


def _segkit_cases(part: str, imports: str, body: str) -> list[Case]:
    """One case per installed engine (the default first): ``body`` runs after loading PATH into ``tx``."""
    default, others = _segkit_engines()
    cases = []
    for engine in [default, *others]:
        kw = "" if engine == default else f"engine={engine!r}"
        label = f"segkit (default engine: {engine})" if engine == default else f"segkit engine={engine}"
        code = f"import datetime as dt\nfrom segkit.data import load_transactions\n{imports}\n##WORK\n" \
               f"tx = load_transactions(PATH, {kw})\n{body}"
        cases.append(Case(label, part, "segkit", needs=(_ENGINE_MODULE.get(engine, engine),), engine=engine,
                          code=code))
    return cases


def feature_cases() -> list[Case]:
    cases = _segkit_cases("features", "from segkit.features import customer_features",
                          'RESULT = customer_features(tx, dt.date.fromisoformat(A["as_of"]))\n')
    cases.append(Case("hand-written DuckDB SQL", "features", "engine", needs=("duckdb",), code="""
import duckdb
##WORK
con = duckdb.connect()
RESULT = con.sql(f'''
  SELECT customer_id,
         min(date) FILTER (WHERE amount > 0) AS first_purchase,
         max(date) FILTER (WHERE amount > 0) AS last_purchase,
         count(DISTINCT order_id) FILTER (WHERE amount > 0) AS frequency,
         round(sum(amount), 6) AS monetary,
         round(sum(amount) FILTER (WHERE amount > 0), 6) AS gross_revenue,
         round(coalesce(-sum(amount) FILTER (WHERE amount < 0), 0), 6) AS returns_value,
         round(sum(CASE WHEN amount < 0 THEN -abs(quantity) ELSE abs(quantity) END), 6) AS units,
         round(sum(amount) - sum(CASE WHEN amount < 0 THEN -abs(cost) ELSE abs(cost) END), 6) AS margin,
         count(DISTINCT date_trunc('month', date)) FILTER (WHERE amount > 0) AS active_months,
         date_diff('day', max(date) FILTER (WHERE amount > 0), DATE '{A["as_of"]}') AS recency_days,
         date_diff('day', min(date) FILTER (WHERE amount > 0), DATE '{A["as_of"]}') AS tenure_days,
         round(gross_revenue / frequency, 6) AS avg_order_value,
         round(frequency / active_months, 6) AS purchases_per_active_month
  FROM read_csv('{PATH}', header = true, types = {{'customer_id': 'VARCHAR'}})
  WHERE amount <> 0 AND customer_id IS NOT NULL AND date IS NOT NULL AND date <= DATE '{A["as_of"]}'
  GROUP BY customer_id
  HAVING count(*) FILTER (WHERE amount > 0) > 0
  ORDER BY customer_id''').df()
"""))
    cases.append(Case("hand-written Polars lazy", "features", "engine", needs=("polars",), code="""
import datetime as dt
import polars as pl
##WORK
as_of = dt.date.fromisoformat(A["as_of"])
buy = pl.col("amount") > 0
sign = pl.when(pl.col("amount") < 0).then(-1).otherwise(1)
RESULT = (
    pl.scan_csv(PATH, schema_overrides={"customer_id": pl.String}, try_parse_dates=True)
    .filter((pl.col("amount") != 0) & pl.col("customer_id").is_not_null() & pl.col("date").is_not_null()
            & (pl.col("date") <= as_of))
    .group_by("customer_id")
    .agg(first_purchase=pl.col("date").filter(buy).min(),
         last_purchase=pl.col("date").filter(buy).max(),
         frequency=pl.col("order_id").filter(buy).n_unique(),
         monetary=pl.col("amount").sum().round(6),
         gross_revenue=pl.col("amount").filter(buy).sum().round(6),
         returns_value=(-pl.col("amount").filter(~buy).sum()).round(6),
         units=(sign * pl.col("quantity").abs()).sum().round(6),
         margin=(pl.col("amount").sum() - (sign * pl.col("cost").abs()).sum()).round(6),
         active_months=pl.col("date").filter(buy).dt.truncate("1mo").n_unique())
    .filter(pl.col("frequency") > 0)
    .with_columns(recency_days=(pl.lit(as_of) - pl.col("last_purchase")).dt.total_days(),
                  tenure_days=(pl.lit(as_of) - pl.col("first_purchase")).dt.total_days(),
                  avg_order_value=(pl.col("gross_revenue") / pl.col("frequency")).round(6),
                  purchases_per_active_month=(pl.col("frequency") / pl.col("active_months")).round(6))
    .sort("customer_id")
    .collect()
    .to_pandas())
"""))
    cases.append(Case("pandas read_csv + groupby", "features", "pandas", code="""
import numpy as np
import pandas as pd
##WORK
as_of = pd.Timestamp(A["as_of"])
d = pd.read_csv(PATH, usecols=["customer_id", "date", "order_id", "quantity", "amount", "cost"],
                dtype={"customer_id": str}, parse_dates=["date"])
d = d[(d["amount"] != 0) & d["customer_id"].notna() & d["date"].notna() & (d["date"] <= as_of)]
buy = d["amount"] > 0
sign = np.where(d["amount"] < 0, -1, 1)
d = d.assign(pdate=d["date"].where(buy), porder=d["order_id"].where(buy),
             pmonth=d["date"].dt.to_period("M").dt.start_time.where(buy),
             gross=d["amount"].where(buy, 0.0), ret=(-d["amount"]).where(~buy, 0.0),
             units=sign * d["quantity"].abs(), cost_signed=sign * d["cost"].abs())
g = d.groupby("customer_id", sort=True).agg(
    first_purchase=("pdate", "min"), last_purchase=("pdate", "max"), frequency=("porder", "nunique"),
    monetary=("amount", "sum"), gross_revenue=("gross", "sum"), returns_value=("ret", "sum"),
    units=("units", "sum"), cost=("cost_signed", "sum"), active_months=("pmonth", "nunique"))
g = g[g["frequency"] > 0]
g["margin"] = g["monetary"] - g.pop("cost")
g["recency_days"] = (as_of - g["last_purchase"]).dt.days
g["tenure_days"] = (as_of - g["first_purchase"]).dt.days
g["avg_order_value"] = g["gross_revenue"] / g["frequency"]
g["purchases_per_active_month"] = g["frequency"] / g["active_months"]
RESULT = g.round(6).reset_index()
"""))
    cases.append(Case("pymc-marketing rfm_summary", "features", "other", needs=("pymc_marketing",), code="""
import pandas as pd
from pymc_marketing.clv.utils import rfm_summary
##WORK
d = pd.read_csv(PATH, usecols=["customer_id", "date", "amount"], dtype={"customer_id": str}, parse_dates=["date"])
d = d[(d["amount"] > 0) & (d["date"] <= pd.Timestamp(A["as_of"]))]
RESULT = rfm_summary(d, "customer_id", "date", "amount", observation_period_end=A["as_of"], time_unit="D")
""", check="CHECK = f'customers={len(RESULT)} (frequency there = repeat purchase days)'"))
    return cases


def tier_cases() -> list[Case]:
    cases = _segkit_cases("tiers", "from segkit.features import customer_month\nfrom segkit.schemes import PercentileTiers",
                          """
monthly = customer_month(tx, dt.date.fromisoformat(A["window_start"]), dt.date.fromisoformat(A["as_of"]))
tiers = PercentileTiers(criterion="revenue", as_of=A["as_of"], window_months=A["window_months"],
                        vip_share=A["vip_share"], good_share=A["good_share"]).fit_monthly(monthly)
RESULT = tiers.monthly_tiers_
""")
    cases.append(Case("hand-written DuckDB SQL (window fn)", "tiers", "engine", needs=("duckdb",), code="""
import duckdb
##WORK
vp, vq, gp, gq = A["vip_frac"] + A["good_frac"]
con = duckdb.connect()
RESULT = con.sql(f'''
  WITH monthly AS (
    SELECT customer_id, date_trunc('month', date) AS month, round(sum(amount), 6) AS value
    FROM read_csv('{PATH}', header = true, types = {{'customer_id': 'VARCHAR'}})
    WHERE amount <> 0 AND customer_id IS NOT NULL
      AND date BETWEEN DATE '{A["window_start"]}' AND DATE '{A["as_of"]}'
    GROUP BY ALL HAVING value > 0),
  ranked AS (
    SELECT *, row_number() OVER (PARTITION BY month ORDER BY value DESC, customer_id) - 1 AS pos,
              count(*) OVER (PARTITION BY month) AS n
    FROM monthly),
  cuts AS (SELECT *, (n * {vp} + {vq} - 1) // {vq} AS vip FROM ranked)  -- exact ceil(share * n)
  SELECT customer_id, strftime(month, '%Y-%m') AS month, value,
         CASE WHEN pos < vip THEN 'VIP'
              WHEN pos < vip + ((n - vip) * {gp} + {gq} - 1) // {gq} THEN 'GOOD'
              ELSE 'REGULAR' END AS monthly_tier
  FROM cuts ORDER BY month, customer_id''').df()
"""))
    cases.append(Case("hand-written Polars lazy", "tiers", "engine", needs=("polars",), code="""
import datetime as dt
import polars as pl
##WORK
vp, vq, gp, gq = A["vip_frac"] + A["good_frac"]
n = pl.len().over("month")
pos = pl.int_range(pl.len()).over("month")
vip = (n * vp + vq - 1) // vq
good = ((n - vip) * gp + gq - 1) // gq
RESULT = (
    pl.scan_csv(PATH, schema_overrides={"customer_id": pl.String}, try_parse_dates=True)
    .filter((pl.col("amount") != 0) & pl.col("customer_id").is_not_null()
            & pl.col("date").is_between(dt.date.fromisoformat(A["window_start"]), dt.date.fromisoformat(A["as_of"])))
    .group_by("customer_id", month=pl.col("date").dt.truncate("1mo"))
    .agg(value=pl.col("amount").sum().round(6))
    .filter(pl.col("value") > 0)
    .sort(["month", "value", "customer_id"], descending=[False, True, False])
    .with_columns(monthly_tier=pl.when(pos < vip).then(pl.lit("VIP"))
                  .when(pos < vip + good).then(pl.lit("GOOD")).otherwise(pl.lit("REGULAR")))
    .with_columns(month=pl.col("month").dt.strftime("%Y-%m"))
    .sort(["month", "customer_id"])
    .collect()
    .to_pandas())
"""))
    cases.append(Case("pandas groupby + rank", "tiers", "pandas", code="""
import numpy as np
import pandas as pd
##WORK
vp, vq, gp, gq = A["vip_frac"] + A["good_frac"]
d = pd.read_csv(PATH, usecols=["customer_id", "date", "amount"], dtype={"customer_id": str}, parse_dates=["date"])
d = d[(d["amount"] != 0) & d["customer_id"].notna()
      & d["date"].between(pd.Timestamp(A["window_start"]), pd.Timestamp(A["as_of"]))]
m = (d.groupby(["customer_id", d["date"].dt.to_period("M").rename("month")])["amount"].sum().round(6)
     .rename("value").reset_index())
m = m[m["value"] > 0].sort_values(["month", "value", "customer_id"], ascending=[True, False, True])
pos = m.groupby("month").cumcount().to_numpy()
n = m.groupby("month")["value"].transform("size").to_numpy()
vip = (n * vp + vq - 1) // vq
good = ((n - vip) * gp + gq - 1) // gq
m["monthly_tier"] = np.where(pos < vip, "VIP", np.where(pos < vip + good, "GOOD", "REGULAR"))
m["month"] = m["month"].dt.strftime("%Y-%m")
RESULT = m.sort_values(["month", "customer_id"]).reset_index(drop=True)
"""))
    return cases


def segkit_command() -> list[str]:
    script = Path(sys.executable).parent / "segkit"
    return [str(script)] if script.exists() else [sys.executable, "-m", "segkit"]


# ------------------------------------------------------------------ measuring
@dataclass
class Measure:
    work: float | None       # timed work inside the process (None for commands)
    wall: float              # the whole process, start to exit
    peak_mb: float           # max RSS of the process and its children (a sum of peaks: an upper bound)
    check: str = ""
    stages: dict[str, float] = field(default_factory=dict)  # run.json `seconds` of a segkit command


def _child_code(case: Case) -> str:
    setup, work = case.code.split("##WORK", 1)
    check = case.check or (_TIER_CHECK if case.part == "tiers" else _FEATURE_CHECK)
    return CHILDREN_PEAK + RUNNER.format(setup=setup.strip(), work=work.strip(), check=check.strip())


DEFAULT_TIMEOUT = 1800.0  # seconds one process may take before it is killed (--timeout)


def spawn(argv: list[str], timeout: float, cwd: Path = ROOT) -> tuple[int, float, float, str, str]:
    """Run ``argv``; returns (exit code, wall seconds, peak RSS MB, stdout, stderr).

    The child gets its own process group so a timeout also stops what it started (kernels, a JVM).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        env = {**os.environ, "MPLBACKEND": "Agg"}
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, cwd=cwd, env=env, start_new_session=True)
        expired = threading.Event()

        def _kill() -> None:
            expired.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, _kill)
        timer.start()
        try:
            # wait4 (not wait) so the kernel hands us the child's peak RSS; the child's own children that
            # it waited for are included (Linux reports the max over the process and its reaped descendants)
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if expired.is_set():
            raise TimeoutError(f"timeout: killed after {timeout:.0f} s (--timeout)")
        out.seek(0)
        err.seek(0)
        return (proc.returncode, wall, usage.ru_maxrss / 1024, out.read().decode(errors="replace"),
                err.read().decode(errors="replace"))


def measure(case: Case, path: Path, args: dict, timeout: float) -> Measure:
    if case.argv:
        code, wall, peak, _, err = spawn([a.replace("{PATH}", str(path)) for a in case.argv], timeout)
        if code != 0:
            raise RuntimeError(_last_line(err) or f"exit code {code}")
        stages = json.loads(Path(case.run_json).read_text())["seconds"] if case.run_json else {}
        return Measure(None, wall, peak, stages=stages)
    python = case.python or sys.executable
    code, wall, peak, out, err = spawn([python, "-c", _child_code(case), str(path), json.dumps(args)], timeout)
    if code != 0:
        raise RuntimeError(_last_line(err) or f"exit code {code}")
    marks = dict(line.split(" ", 1) for line in out.splitlines()
                 if line.startswith(("WORK_SECONDS ", "CHECK ", "LIVE_CHILDREN_PEAK_MB ")))
    peak += float(marks.get("LIVE_CHILDREN_PEAK_MB", 0))
    return Measure(float(marks["WORK_SECONDS"]), wall, peak, marks.get("CHECK", "").strip())


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:160] if lines else ""


@dataclass
class Row:
    part: str
    size: str
    case: str
    kind: str
    status: str = "ok"           # ok | not installed | skipped | failed
    repeats: int = 0             # processes measured (fewer than --repeat when the budget ran out)
    requested: int = 0
    work: float | None = None    # median seconds
    wall: float | None = None    # median seconds
    peak_mb: float | None = None  # max over repeats
    runs: list[dict] = field(default_factory=list)
    check: str = ""
    error: str = ""
    ratios: dict[str, float] = field(default_factory=dict)
    best_baseline: str = ""      # the fastest hand-written engine query of the same part and size
    stages: dict[str, float] = field(default_factory=dict)  # median seconds per stage (run.json `seconds`)


DEFAULT_BUDGET = 300.0  # seconds of repeats per case: later repeats are skipped past it (--budget)


@dataclass(frozen=True)
class Limits:
    """How long a case may take: ``budget`` seconds of repeats, ``timeout`` seconds per process."""

    budget: float = DEFAULT_BUDGET
    timeout: float = DEFAULT_TIMEOUT


def run_case(case: Case, path: Path, size: str, args: dict, repeat: int, limits: Limits, skip: str = "") -> Row:
    row = Row(case.part, size, case.name, case.kind, requested=repeat)
    if skip:
        row.status, row.error = "skipped", skip
        return row
    missing = [m for m in case.needs if not importable(m, case.python)]
    if missing:
        row.status = "not installed"
        row.error = ", ".join(missing) + (f" (in {case.python})" if case.python else "")
        return row
    print(f"  {case.part:<9} {size:>5}  {case.name} ...", end="", file=sys.stderr, flush=True)
    measures: list[Measure] = []
    started = time.perf_counter()
    for _ in range(repeat):
        if measures and time.perf_counter() - started > limits.budget:
            print(" (budget spent: fewer repeats)", end="", file=sys.stderr)
            break
        try:
            measures.append(measure(case, path, args, limits.timeout))
        except Exception as exc:  # keep going: one broken case must not hide the others
            row.status, row.error = "failed", str(exc)
            print(f" failed: {exc}", file=sys.stderr, flush=True)
            return row
        print(f" {measures[-1].work or measures[-1].wall:.2f}s", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr, flush=True)
    row.runs = [{"work": m.work, "wall": m.wall, "peak_mb": m.peak_mb} for m in measures]
    row.repeats = len(measures)
    row.work = statistics.median(m.work for m in measures) if measures[0].work is not None else None
    row.wall = statistics.median(m.wall for m in measures)
    row.peak_mb = max(m.peak_mb for m in measures)
    row.stages = {k: statistics.median(m.stages[k] for m in measures if k in m.stages)
                  for k in dict.fromkeys(k for m in measures for k in m.stages)}
    checks = {m.check for m in measures}
    row.check = checks.pop() if len(checks) == 1 else "differs between repeats: " + " / ".join(sorted(checks))
    return row


def add_ratios(rows: list[Row]) -> None:
    """Ratios of work time against the baselines of the same part and size."""
    ok = [r for r in rows if r.status == "ok" and r.work is not None]
    duck = next((r for r in ok if r.case.startswith("hand-written DuckDB")), None)
    pandas = next((r for r in ok if r.kind == "pandas"), None)
    engines = [r for r in ok if r.kind == "engine"]
    best = min(engines, key=lambda r: r.work) if engines else None
    for r in ok:
        if duck:
            r.ratios["duckdb_sql"] = r.work / duck.work
        if pandas:
            r.ratios["pandas"] = r.work / pandas.work
        if best:
            r.ratios["best_hand_written"] = r.work / best.work
            r.best_baseline = best.case


# ------------------------------------------------------------------ segkit run vs the kernel floor
FLOOR_SCRIPT = r"""
import concurrent.futures as cf, json, multiprocessing, sys, time
import nbformat, papermill as pm

def one_run(args):
    notebooks, out = args
    for nb in notebooks:
        pm.execute_notebook(nb, nb + f".{out}.out.ipynb", parameters={"run": out}, kernel_name="python3",
                            progress_bar=False, log_output=False, extra_arguments=["--IPKernelApp.log_level=ERROR"])
    return out

if __name__ == "__main__":
    folder, runs, per_run, jobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    paths = []
    for i in range(per_run):
        nb = nbformat.v4.new_notebook()
        params = nbformat.v4.new_code_cell("run = ''")
        params.metadata["tags"] = ["parameters"]
        nb.cells = [nbformat.v4.new_markdown_cell("A trivial notebook: the cost of starting a kernel."), params,
                    nbformat.v4.new_code_cell("x = 1")]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        path = f"{folder}/{i:02d}_trivial.ipynb"
        nbformat.write(nb, path)
        paths.append(path)
    t0 = time.perf_counter()
    if jobs == 1 or runs == 1:
        for r in range(runs):
            one_run((paths, f"r{r}"))
    else:
        ctx = multiprocessing.get_context("spawn")  # like `segkit run`
        with cf.ProcessPoolExecutor(max_workers=min(jobs, runs), mp_context=ctx) as pool:
            list(pool.map(one_run, [(paths, f"r{r}") for r in range(runs)]))
    print("WORK_SECONDS", time.perf_counter() - t0)
"""


def run_part(repeat: int, jobs: int, config: Path, timeout: float) -> list[Row]:
    """`segkit run CONFIG --jobs N` into a temporary folder against papermill on trivial notebooks."""
    from segkit.runner import notebook_paths
    from segkit.config import load_config

    runs = len(load_config(str(config)).runs)
    per_run = len(notebook_paths())
    size = f"{runs}x{per_run}"
    rows = []
    label = f"segkit run {config.name} --jobs {jobs} ({runs} runs x {per_run} notebooks)"
    floor_label = f"kernel floor: papermill, {runs} x {per_run} trivial notebooks, {jobs} at a time"
    segkit_row, floor_row = Row("run", size, label, "segkit"), Row("run", size, floor_label, "floor")
    for target in (floor_row, segkit_row):
        print(f"  run       {size:>5}  {target.case} ...", end="", file=sys.stderr, flush=True)
        for _ in range(repeat):
            with tempfile.TemporaryDirectory(prefix="segkit-bench-") as tmp:
                if target is floor_row:  # a file, not -c: spawned workers re-import the main module
                    script = Path(tmp) / "floor.py"
                    script.write_text(FLOOR_SCRIPT)
                    argv = [sys.executable, str(script), tmp, str(runs), str(per_run), str(jobs)]
                else:
                    argv = [*segkit_command(), "run", str(config), "--jobs", str(jobs), "--out", tmp]
                try:
                    code, wall, peak, _, err = spawn(argv, timeout)
                except TimeoutError as exc:
                    code, err = -9, str(exc)
            if code != 0:
                target.status, target.error = "failed", _last_line(err) or f"exit code {code}"
                print(f" failed: {target.error}", file=sys.stderr, flush=True)
                break
            target.runs.append({"wall": wall, "peak_mb": peak})
            print(f" {wall:.1f}s", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr, flush=True)
        if target.status == "ok":
            target.wall = statistics.median(r["wall"] for r in target.runs)
            target.peak_mb = max(r["peak_mb"] for r in target.runs)
        rows.append(target)
    if segkit_row.status == floor_row.status == "ok":
        segkit_row.ratios["kernel_floor"] = segkit_row.wall / floor_row.wall
    return rows


# ------------------------------------------------------------------ end to end and the B2C shape
# The hand-written baseline of `segkit segment`: the per-customer RFM table (recency, frequency,
# monetary, quintile scores) and the ranked customer-month table (VIP/GOOD/REGULAR per month over
# the tier window) from the same file, at the same cut-off, both written as CSV like segkit's files.
FEATURE_AND_RANK = """
import duckdb, os, tempfile
##WORK
vp, vq, gp, gq = A["vip_frac"] + A["good_frac"]
cut, start = A["cutoff"], A["cutoff_window_start"]
src = (f"read_parquet('{PATH}')" if PATH.endswith(".parquet")
       else f"read_csv('{PATH}', header = true, types = {{'customer_id': 'VARCHAR'}})")
out = tempfile.mkdtemp()
con = duckdb.connect()
con.execute(f'''CREATE TEMP TABLE tx AS SELECT customer_id, date, amount FROM {src}
                WHERE amount <> 0 AND customer_id IS NOT NULL AND date IS NOT NULL AND date <= DATE '{cut}' ''')
con.execute(f'''COPY (
  WITH f AS (
    SELECT customer_id, date_diff('day', max(date) FILTER (WHERE amount > 0), DATE '{cut}') AS recency_days,
           count(DISTINCT date) FILTER (WHERE amount > 0) AS frequency, round(sum(amount), 6) AS monetary
    FROM tx GROUP BY customer_id HAVING count(*) FILTER (WHERE amount > 0) > 0)
  SELECT *, ntile(5) OVER (ORDER BY recency_days DESC, customer_id) AS rfm_r,
            ntile(5) OVER (ORDER BY frequency, customer_id) AS rfm_f,
            ntile(5) OVER (ORDER BY monetary, customer_id) AS rfm_m
  FROM f ORDER BY customer_id) TO '{out}/customers.csv' (HEADER)''')
con.execute(f'''COPY (
  WITH monthly AS (
    SELECT customer_id, date_trunc('month', date) AS month, round(sum(amount), 6) AS value
    FROM tx WHERE date >= DATE '{start}' GROUP BY ALL HAVING value > 0),
  ranked AS (
    SELECT *, row_number() OVER (PARTITION BY month ORDER BY value DESC, customer_id) - 1 AS pos,
              count(*) OVER (PARTITION BY month) AS n
    FROM monthly),
  cuts AS (SELECT *, (n * {vp} + {vq} - 1) // {vq} AS vip FROM ranked)
  SELECT customer_id, strftime(month, '%Y-%m') AS month, value,
         CASE WHEN pos < vip THEN 'VIP'
              WHEN pos < vip + ((n - vip) * {gp} + {gq} - 1) // {gq} THEN 'GOOD'
              ELSE 'REGULAR' END AS monthly_tier
  FROM cuts ORDER BY month, customer_id) TO '{out}/tiers_monthly.csv' (HEADER)''')
RESULT = out
"""
_FILES_CHECK = """
import duckdb as _d, shutil as _s
_n = [_d.sql(f"SELECT count(*) FROM read_csv('{RESULT}/{f}')").fetchall()[0][0]
      for f in ('customers.csv', 'tiers_monthly.csv')]
_s.rmtree(RESULT, ignore_errors=True)
CHECK = f"customers={_n[0]} customer-months={_n[1]}"
"""

SEGKIT_RFM = """
import datetime as dt
from segkit.data import load_transactions
from segkit.features import customer_features_table
from segkit.engines import to_pandas
from segkit.schemes import RFMSegmenter
##WORK
tx = load_transactions(PATH)
features = customer_features_table(tx, dt.date.fromisoformat(A["cutoff"]), columns=("recency_days", "frequency", "monetary"))
RESULT = to_pandas(RFMSegmenter(bins=5).score_table(features, keep=("frequency",)))
"""
# openretailscience's documented input columns; CDNOW has no order id, so a purchase is a customer-day
# there as in segkit (frequency = distinct purchase days). Five bins like segkit's default.
ORS_RFM = """
import datetime as dt
import ibis
from openretailscience.segmentation.rfm import RFMSegmentation
##WORK
con = ibis.duckdb.connect()
t = con.read_parquet(PATH)
t = t.filter((t.amount > 0) & (t.date <= dt.date.fromisoformat(A["cutoff"])))
t = t.select(customer_id=t.customer_id, transaction_date=t.date, unit_spend=t.amount,
             transaction_id=t.date.cast("string"))
RESULT = RFMSegmentation(t, current_date=A["cutoff"], r_segments=5, f_segments=5, m_segments=5).df.reset_index()
"""
_RFM_CHECK = """
CHECK = f"customers={len(RESULT)} purchases={int(RESULT['frequency'].sum())}"
"""

#: where the bench looks for openretailscience: an interpreter of its own (it pins pandas < 3,
#: duckdb < 1.6 and pyarrow < 26, so it cannot share segkit's environment); see --ors-python
ORS_VENV = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "segkit-bench" / "ors-venv"


def segment_cases(out: Path, extra: list[str]) -> list[Case]:
    """`segkit segment` (stages from its run.json) and the hand-written query it is measured against."""
    label = "segkit segment (default engine" + (", --k-range 2 3)" if extra else ")")
    return [Case(label, "segment", "segkit", argv=[*segkit_command(), "segment", "{PATH}", "--out", str(out), *extra],
                 run_json=str(out / "run.json")),
            Case("hand-written DuckDB feature-and-rank query", "segment", "engine", needs=("duckdb",),
                 code=FEATURE_AND_RANK, check=_FILES_CHECK)]


def b2c_cases(out: Path, ors_python: str) -> list[Case]:
    """The B2C shape's cases: end to end as for B2B, then RFM scores against openretailscience."""
    cases = [dataclasses.replace(c, part="b2c") for c in segment_cases(out, [])]
    cases.append(Case("segkit RFM scores: load_transactions + customer_features_table + RFMSegmenter.score_table "
                      "(in the engine, fetched to pandas)", "b2c", "segkit",
                      code=SEGKIT_RFM, check=_RFM_CHECK))
    cases.append(Case("openretailscience 0.48.1 RFMSegmentation (Ibis on DuckDB)", "b2c", "other",
                      needs=("openretailscience",), code=ORS_RFM, check=_RFM_CHECK, python=ors_python))
    return cases


def selected(cases: list[Case], patterns: list[str] | None) -> list[Case]:
    """The cases whose name holds one of ``patterns`` (``--cases``; None: all of them)."""
    return cases if patterns is None else [c for c in cases if any(p in c.name for p in patterns)]


def add_segment_ratios(rows: list[Row]) -> None:
    """`segkit segment` against the query (whole processes); segkit's RFM against openretailscience's."""
    ok = [r for r in rows if r.status == "ok"]
    query = next((r for r in ok if r.case.startswith("hand-written DuckDB feature")), None)
    ors = next((r for r in ok if r.case.startswith("openretailscience")), None)
    for r in ok:
        if query and r.case.startswith("segkit segment"):
            r.ratios["feature_and_rank"] = r.wall / query.wall
        if ors and r.case.startswith("segkit RFM"):
            r.ratios["openretailscience"] = r.work / ors.work
            r.ratios["openretailscience_peak"] = r.peak_mb / ors.peak_mb


# ------------------------------------------------------------------ the verdict's cost (issue 13)
#: the bundled runs the verdict part times: one per bundled data set of reports.yml
VERDICT_RUNS = ("cdnow-revenue", "b2b-margin")

# One run's analysis as `segkit run` computes it before the notebooks: `analyze` (load, features at
# every cut-off, every scheme at every cut-off, scoring, verdict, decisions), `Analysis.save` (the
# comparison pages' refits and curves, pickled for the notebooks) and the run files. The notebooks
# (kernels, figures, HTML) do the same work in both modes and are left out.
# mode "without" = the same run before the backtest and the predicted-value scheme: one cut-off
# (backtest_origins 1, its minimum) and the potential scheme neither fitted nor given its
# per-customer summary. No run key turns a built-in scheme off, so this child takes it out of the
# registry for its own process, and checks that it is gone.
VERDICT_CHILD = r"""
import hashlib, json, sys, tempfile, time
config, run, mode = sys.argv[1:4]
from segkit import pipeline
from segkit.config import load_config
from segkit.schemes import registry
params = next(r for r in load_config(config).runs if r.name == run)
if mode == "without":
    registry.BUILTIN = tuple(s for s in registry.BUILTIN if s.name != "potential")
    registry.reload()
    pipeline.summary_frame = lambda *args, **kwargs: None
    params = params.replace(backtest_origins=1)
t0 = time.perf_counter()
with tempfile.TemporaryDirectory() as tmp:
    analysis = pipeline.analyze(params)
    t1 = time.perf_counter()
    analysis.save(tmp)
    t2 = time.perf_counter()
    pipeline.write_run_files(analysis, tmp)
    seconds = time.perf_counter() - t0
    scorecard = open(tmp + "/scorecard.json", "rb").read()
names = list(analysis.schemes)
origins = len(analysis.backtest["entries"])
if mode == "without" and ("potential" in names or analysis.potential_summary is not None or origins != 1):
    sys.exit(f"the bench could not turn the backtest and the potential scheme off: schemes {names}, {origins} cut-offs")
print("WORK_SECONDS", seconds)
print("STAGES", json.dumps({**analysis.timings, "comparison": t2 - t1, "run files": seconds - (t2 - t0)}))
print("CHECK", f"schemes={len(names)} cut-offs={origins} recommended={analysis.scorecard.get('recommended')} "
      f"scorecard={hashlib.sha1(scorecard).hexdigest()[:8]}")
"""

VERDICT_LABELS = {"with": "with the backtest (backtest_origins 3) and the potential scheme",
                  "without": "without: backtest_origins 1, no potential scheme (before them)"}


def _verdict_once(config: Path, run: str, mode: str, timeout: float) -> Measure:
    code, wall, peak, out, err = spawn([sys.executable, "-c", VERDICT_CHILD, str(config), run, mode], timeout)
    if code != 0:
        raise RuntimeError(_last_line(err) or f"exit code {code}")
    marks = dict(line.split(" ", 1) for line in out.splitlines() if line.startswith(("WORK_SECONDS ", "CHECK ", "STAGES ")))
    return Measure(float(marks["WORK_SECONDS"]), wall, peak, marks.get("CHECK", "").strip(),
                   stages=json.loads(marks.get("STAGES", "{}")))


def verdict_part(config: Path, runs: list[str], repeat: int, timeout: float) -> list[Row]:
    """Each run's analysis with and without the backtest and the potential scheme, interleaved.

    The two modes alternate (with, without, without, with, ...) so that a change of the machine's
    load during the part falls on both; the ratio is median(with) / median(without).
    """
    rows = []
    for run in runs:
        pair = {mode: Row("verdict", run, VERDICT_LABELS[mode], "segkit" if mode == "with" else "before",
                          requested=repeat) for mode in VERDICT_LABELS}
        measures: dict[str, list[Measure]] = {mode: [] for mode in pair}
        print(f"  verdict   {run}: with / without ...", end="", file=sys.stderr, flush=True)
        for i in range(repeat):
            for mode in (("with", "without") if i % 2 == 0 else ("without", "with")):
                if pair[mode].status != "ok":
                    continue
                try:
                    measures[mode].append(_verdict_once(config, run, mode, timeout))
                except Exception as exc:  # keep going: report the failure in the table
                    pair[mode].status, pair[mode].error = "failed", str(exc)
                    continue
                print(f" {mode} {measures[mode][-1].work:.1f}s", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr, flush=True)
        for mode, row in pair.items():
            got = measures[mode]
            if row.status != "ok" or not got:
                row.status = "failed" if row.status == "ok" else row.status
                rows.append(row)
                continue
            row.runs = [{"work": m.work, "wall": m.wall, "peak_mb": m.peak_mb, "stages": m.stages, "check": m.check}
                        for m in got]
            row.repeats, row.work = len(got), statistics.median(m.work for m in got)
            row.wall, row.peak_mb = statistics.median(m.wall for m in got), max(m.peak_mb for m in got)
            row.stages = {k: statistics.median(m.stages[k] for m in got if k in m.stages)
                          for k in dict.fromkeys(k for m in got for k in m.stages)}
            checks = {m.check for m in got}
            row.check = checks.pop() if len(checks) == 1 else "differs between repeats: " + " / ".join(sorted(checks))
            rows.append(row)
        if pair["with"].status == pair["without"].status == "ok":
            pair["with"].ratios["without"] = pair["with"].work / pair["without"].work
    return rows


# ------------------------------------------------------------------ reporting
def machine() -> dict:
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    cpu = ""
    try:
        cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                    if ln.startswith("model name")), "")
    except OSError:
        pass
    versions = {}
    for dist in ("segkit", "pandas", "numpy", "pyarrow", "duckdb", "ibis-framework", "polars", "pyspark",
                 "scikit-learn", "papermill", "pymc-marketing"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True)
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "ram_gib": round(pages / 2**30, 1),
        "cpu": cpu,
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "segkit_commit": commit.stdout.strip() if commit.returncode == 0 else None,
        "packages": versions,
    }


def _fmt(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _name(r: Row) -> str:
    return r.case + (f" (n={r.repeats})" if 0 < r.repeats < r.requested else "")


def _ratio(r: Row, key: str) -> str:
    return f"{r.ratios[key]:.2f}x" if key in r.ratios else "–"


TITLES = {"features": "Per-customer features (RFM + behaviour) from CSV",
          "tiers": "Monthly tiers: customer x month revenue + VIP/GOOD/REGULAR, last 6 months",
          "segment": "End to end: `segkit segment FILE --out DIR` (B2B shape) against the hand-written "
                     "DuckDB feature-and-rank query",
          "verdict": "The verdict's cost: one bundled run's analysis with and without the backtest and the "
                     "potential scheme",
          "b2c": "B2C shape (CDNOW scaled up): `segkit segment`, the hand-written DuckDB feature-and-rank query, "
                 "and RFM scores against openretailscience",
          "spark": "The whole `segkit segment` on local Spark (`--engine pyspark`) against DuckDB: the same files?",
          "run": "`segkit run` of the default config vs starting the notebook kernels"}


def print_table(info: dict, sizes: dict[str, dict], rows: list[Row], repeat: int, run_repeat: int) -> list[str]:
    lines = [
        f"segkit benchmark, {info['date']}",
        f"machine: {info['cores']} cores, {info['ram_gib']} GiB RAM, {info['cpu'] or 'cpu ?'}; "
        f"Python {info['python']}; load average at start {', '.join(map(str, info['load_average']))}, at the end "
        f"{', '.join(map(str, info.get('load_average_end', [])))}",
        "packages: " + ", ".join(f"{k} {v}" for k, v in info["packages"].items())
        + (f"; segkit at {info['segkit_commit']}" if info.get("segkit_commit") else ""),
        "data: " + ("; ".join(f"{s}: {d['rows']:,} rows ({d['shape']}), {d['mb']:,.0f} MB "
                              f"{'Parquet' if d['path'].endswith('.parquet') else 'CSV'}" for s, d in sizes.items())
                    or "none (only the `segkit run` part)"),
        f"work = median seconds of {repeat} fresh process(es) after imports; process = whole process; "
        "peak = max RSS; ratios on work",
    ]
    for part in PARTS:
        part_rows = [r for r in rows if r.part == part]
        if not part_rows:
            continue
        lines += ["", f"## {TITLES[part]}", ""]
        if part in ("features", "tiers"):
            lines += ["| rows | case | work s | process s | peak MB | vs DuckDB SQL | vs pandas | vs best hand-written |"
                      " check |",
                      "|---|---|---:|---:|---:|---:|---:|---:|---|"]
            for r in part_rows:
                if r.status != "ok":
                    lines.append(f"| {r.size} | {r.case} | {r.status} | | | | | | {r.error} |")
                    continue
                lines.append(f"| {r.size} | {_name(r)} | {_fmt(r.work)} | {_fmt(r.wall)} | {_fmt(r.peak_mb, 0)} | "
                             f"{_ratio(r, 'duckdb_sql')} | {_ratio(r, 'pandas')} | {_ratio(r, 'best_hand_written')} | "
                             f"{r.check} |")
        elif part in ("segment", "b2c", "spark"):
            lines += _stage_table(part_rows)
        elif part == "verdict":
            lines += _verdict_table(part_rows)
        else:
            lines += [f"| case | process s (median of {run_repeat}) | largest process MB | vs kernel floor |",
                      "|---|---:|---:|---:|"]
            for r in part_rows:
                lines.append(f"| {r.case} | {_fmt(r.wall, 1) if r.status == 'ok' else r.status} | "
                             f"{_fmt(r.peak_mb, 0) if r.status == 'ok' else r.error} | {_ratio(r, 'kernel_floor')} |")
    lines += ["", "Targets (issues 6, 13 and 20):"] + targets(rows)
    print("\n".join(lines), flush=True)
    return lines


STAGES = ("load", "features", "schemes", "lifecycle_overrides", "evaluate")


def _stage_table(rows: list[Row]) -> list[str]:
    """Whole process, work (code cases), peak, run.json's stage seconds, and the ratios of the part."""
    lines = ["| rows | case | process s | peak MB | work s | " + " | ".join(STAGES) + " | ratio | check |",
             "|---|---|---:|---:|---:|" + "---:|" * len(STAGES) + "---|---|"]
    for r in rows:
        if r.status != "ok":
            lines.append(f"| {r.size} | {r.case} | {r.status} | | |" + " |" * len(STAGES) + f" | {r.error} |")
            continue
        stages = " | ".join(_fmt(r.stages.get(k), 1) for k in STAGES)
        ratio = "; ".join(f"{v:.2f}x {RATIO_NAMES.get(k, k)}" for k, v in r.ratios.items()) or "–"
        lines.append(f"| {r.size} | {_name(r)} | {_fmt(r.wall, 1)} | {_fmt(r.peak_mb, 0)} | {_fmt(r.work, 1)} | "
                     f"{stages} | {ratio} | {r.check} |")
    return lines


RATIO_NAMES = {"feature_and_rank": "the query (process s)", "openretailscience": "openretailscience (work s)",
               "openretailscience_peak": "openretailscience's peak", "without": "without"}


def _verdict_table(rows: list[Row]) -> list[str]:
    lines = ["| run | case | work s (median) | load | features | schemes | evaluate | comparison | run files | "
             "peak MB | with / without | check |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        if r.status != "ok":
            lines.append(f"| {r.size} | {r.case} | {r.status} | | | | | | | | | {r.error} |")
            continue
        st = " | ".join(_fmt(r.stages.get(k), 1) for k in ("load", "features", "schemes", "evaluate", "comparison",
                                                             "run files"))
        lines.append(f"| {r.size} | {_name(r)} | {_fmt(r.work, 1)} | {st} | {_fmt(r.peak_mb, 0)} | "
                     f"{_ratio(r, 'without')} | {r.check} |")
    return lines


def targets(rows: list[Row]) -> list[str]:
    out = []
    for r in rows:
        if r.part == "features" and r.kind == "segkit" and "best_hand_written" in r.ratios:
            verdict = "meets" if r.ratios["best_hand_written"] <= 1.3 else "misses"
            out.append(f"- features {r.size}, {r.case}: {r.ratios['best_hand_written']:.2f}x the best hand-written "
                       f"engine query ({r.best_baseline}); target <= 1.3x: {verdict}")
        if r.part == "features" and r.kind == "other":
            seg = next((s for s in rows if s.part == "features" and s.size == r.size and s.kind == "segkit"
                        and s.status == "ok" and s.case.startswith("segkit (default")), None)
            if seg and r.status == "ok":
                speed = r.work / seg.work
                out.append(f"- features {r.size}: segkit is {speed:.1f}x faster than {r.case}; target >= 5x at 10M: "
                           f"{'meets' if speed >= 5 else 'misses'}")
        if r.part == "run" and "kernel_floor" in r.ratios:
            verdict = "meets" if r.ratios["kernel_floor"] <= 1.5 else "misses"
            out.append(f"- {r.case}: {r.ratios['kernel_floor']:.2f}x the kernel floor; target <= 1.5x: {verdict}")
        if r.part in ("segment", "b2c") and r.case.startswith("segkit segment"):
            shape = "B2C" if r.part == "b2c" else "B2B"
            text = f"{r.wall:.1f} s, peak {r.peak_mb / 1024:,.2f} GiB" if r.status == "ok" else f"{r.status}: {r.error}"
            if "feature_and_rank" in r.ratios:
                ok = r.ratios["feature_and_rank"] <= 3 and r.peak_mb <= 3 * 1024
                text += (f"; {r.ratios['feature_and_rank']:.2f}x the hand-written feature-and-rank query; target <= 3x "
                         f"and peak <= 3 GiB: {'meets' if ok else 'misses'}")
            out.append(f"- segkit segment {r.size} ({shape}): {text}")
        if r.part == "spark" and r.case.endswith("pyspark"):
            text = f"{r.wall:.1f} s, largest process {r.peak_mb / 1024:,.2f} GiB" if r.status == "ok" else r.status
            ok = r.status == "ok" and r.check.startswith(SPARK_SAME)
            out.append(f"- local Spark `segkit segment` {r.size}: {text}; {r.check or r.error}; target: finishes "
                       f"with DuckDB's files: {'meets' if ok else 'misses'}")
        if r.part == "b2c" and "openretailscience" in r.ratios:
            ok = r.ratios["openretailscience"] < 1 and r.ratios["openretailscience_peak"] < 1
            out.append(f"- RFM scores {r.size}: {r.ratios['openretailscience']:.2f}x openretailscience's time, "
                       f"{r.ratios['openretailscience_peak']:.2f}x its peak; target below 1x on both: "
                       f"{'meets' if ok else 'misses'}")
        if r.part == "verdict" and "without" in r.ratios:
            verdict = "meets" if r.ratios["without"] <= 1.5 else "misses"
            out.append(f"- {r.size}: the analysis with the backtest and the potential scheme takes "
                       f"{r.ratios['without']:.2f}x its time without them (medians of {r.repeats}); target <= 1.5x: "
                       f"{verdict}")
    return out or ["- (no target measured in this run)"]


# ------------------------------------------------------------------ main
def _skip(case: Case, engines: set[str] | None, quick: bool) -> str:
    """Why a segkit engine is left out of this run ('' when it runs)."""
    if not case.engine:
        return ""
    if engines is not None:
        return "" if case.engine in engines else "not in --engines"
    if quick and case.engine == "pyspark":
        return "--quick leaves Spark out (a JVM start and a job per step); add --engines duckdb,polars,pyspark"
    return ""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1M", help="comma-separated row counts of the B2B shape, e.g. 100k,1M,10M,100M "
                                                 "(default 1M; --large adds 10M)")
    p.add_argument("--large", action="store_true",
                   help="the large cases: B2B at 10M rows, and the B2C part (--b2c-sizes) with openretailscience")
    p.add_argument("--huge", action="store_true", help="add 100M rows to --sizes")
    p.add_argument("--b2c-sizes", default="10M", help="row counts of the B2C shape (default 10M: about 3.4M customers)")
    p.add_argument("--spark-sizes", default="1M", help="row counts of the spark part, each in both shapes (default 1M)")
    p.add_argument("--spark-repeat", type=int, default=1, help="repeats of the spark part's runs (default 1)")
    p.add_argument("--repeat", type=int, default=3, help="fresh processes per case; the table shows medians")
    p.add_argument("--parts", help=f"comma-separated subset of {','.join(PARTS)} (default: {','.join(DEFAULT_PARTS)}; "
                                   "--large adds b2c and spark)")
    p.add_argument("--run-repeat", type=int, default=1,
                   help="repeats of the slow `segkit run` part (minutes each; default 1)")
    p.add_argument("--segment-repeat", type=int, help="repeats of `segkit segment` (default: --repeat)")
    p.add_argument("--verdict-runs", default=",".join(VERDICT_RUNS),
                   help=f"runs of --config the verdict part times (default {','.join(VERDICT_RUNS)})")
    p.add_argument("--verdict-repeat", type=int, default=3, help="repeats of each mode in the verdict part (default 3)")
    p.add_argument("--jobs", type=int, default=2, help="--jobs of `segkit run` and of its floor (default 2)")
    p.add_argument("--config", default=str(ROOT / "reports.yml"), help="config of the `segkit run` and verdict parts")
    p.add_argument("--ors-python", default=str(ORS_VENV / "bin" / "python"),
                   help="a Python with openretailscience 0.48.1 for the B2C RFM case (default: the venv "
                        f"{ORS_VENV}; see README); the case is skipped without it")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 100k rows, one repeat, no `segkit run` or verdict part, `segkit segment` "
                        "with --k-range 2 3 (about a minute)")
    p.add_argument("--engines", help="segkit engines to measure, e.g. duckdb,polars (default: every installed "
                                     "engine; --quick leaves out pyspark)")
    p.add_argument("--budget", type=float, default=DEFAULT_BUDGET,
                   help=f"seconds of repeats per case; past it a case stops repeating (default {DEFAULT_BUDGET:.0f})")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help=f"seconds before one process is killed and its case marked failed "
                        f"(default {DEFAULT_TIMEOUT:.0f})")
    p.add_argument("--cases", help="comma-separated substrings: run only the B2C cases whose name holds one "
                                   "(e.g. RFM: the two RFM-score cases without the long `segkit segment` at 10M)")
    p.add_argument("--json", default=str(DATA / "last_run.json"), help="where to save the results")
    args = p.parse_args(argv)
    parts = [x.strip() for x in (args.parts or ",".join(DEFAULT_PARTS)).split(",") if x.strip()]
    if args.large and not args.parts:
        parts[parts.index("verdict"):parts.index("verdict")] = ["b2c", "spark"]
    unknown = set(parts) - set(PARTS)
    if unknown or min(args.repeat, args.run_repeat, args.verdict_repeat, args.spark_repeat) < 1:
        p.error(f"unknown part(s) {sorted(unknown)}" if unknown else "repeats must be at least 1")
    args.parts = [x for x in parts if not (args.quick and x in ("run", "verdict", "b2c", "spark"))]
    sizes = ["100k"] if args.quick else [s.strip() for s in args.sizes.split(",") if s.strip()]
    for flag, size in ((args.large, "10M"), (args.huge, "100M")):
        if flag and size not in sizes and not args.quick:
            sizes.append(size)
    args.sizes = sizes
    args.repeat = 1 if args.quick else args.repeat
    args.segment_repeat = 1 if args.quick else (args.segment_repeat or args.repeat)
    args.engines = {e.strip() for e in args.engines.split(",") if e.strip()} if args.engines else None
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()] if args.cases else None
    return args


def case_parameters(cutoff: dt.date) -> dict:
    """What every child gets (``A``): the features' as-of date, the tier settings and the end-to-end cut-off."""
    return {
        "as_of": AS_OF.isoformat(),
        "window_start": first_of_month(AS_OF, -(WINDOW_MONTHS - 1)).isoformat(),
        "window_months": WINDOW_MONTHS, "vip_share": VIP_SHARE, "good_share": GOOD_SHARE,
        "vip_frac": list(Fraction(str(VIP_SHARE)).as_integer_ratio()),
        "good_frac": list(Fraction(str(GOOD_SHARE)).as_integer_ratio()),
        # `segkit segment`'s default cut-off: the data's last month minus the 6-month holdout
        "cutoff": cutoff.isoformat(), "cutoff_window_start": first_of_month(cutoff, -(WINDOW_MONTHS - 1)).isoformat(),
    }


def b2b_sizes(args: argparse.Namespace, limits: Limits, rows: list[Row]) -> dict[str, dict]:
    """The B2B shape's parts (features, tiers, segment) at every size of ``--sizes``."""
    case_args = case_parameters(B2B_CUTOFF)
    cases = (feature_cases() if "features" in args.parts else []) + (tier_cases() if "tiers" in args.parts else [])
    size_info: dict[str, dict] = {}
    for size in args.sizes if set(args.parts) & {"features", "tiers", "segment"} else []:
        path = dataset(parse_size(size))
        size_info[size] = {"shape": "B2B", "rows": parse_size(size), "mb": path.stat().st_size / 1e6,
                           "path": str(path.relative_to(ROOT))}
        size_rows = [run_case(c, path, size, case_args, args.repeat, limits, skip=_skip(c, args.engines, args.quick))
                     for c in cases]
        for part in ("features", "tiers"):
            add_ratios([r for r in size_rows if r.part == part])
        rows += size_rows
        if "segment" in args.parts:
            with tempfile.TemporaryDirectory(prefix="segkit-bench-") as tmp:
                # the smoke test sweeps fewer k so CI stays around a minute; the table says so
                extra = ["--k-range", "2", "3"] if args.quick else []
                seg_rows = [run_case(c, path, size, case_args, args.segment_repeat, limits)
                            for c in segment_cases(Path(tmp), extra)]
            add_segment_ratios(seg_rows)
            rows += seg_rows
    return size_info


def b2c_sizes(args: argparse.Namespace, limits: Limits, rows: list[Row]) -> dict[str, dict]:
    """The B2C shape's part at every size of ``--b2c-sizes`` (opt-in: --large or --parts b2c)."""
    size_info: dict[str, dict] = {}
    for size in [s.strip() for s in args.b2c_sizes.split(",") if s.strip()] if "b2c" in args.parts else []:
        path = b2c_dataset(parse_size(size))
        size_info[f"{size} B2C"] = {"shape": "B2C", "rows": parse_size(size), "mb": path.stat().st_size / 1e6,
                                    "path": str(path.relative_to(ROOT))}
        with tempfile.TemporaryDirectory(prefix="segkit-bench-") as tmp:
            size_rows = [run_case(c, path, size, case_parameters(B2C_AS_OF), args.segment_repeat, limits)
                         for c in selected(b2c_cases(Path(tmp), args.ors_python), args.cases)]
        add_segment_ratios(size_rows)
        rows += size_rows
    return size_info


# ------------------------------------------------------------------ the whole run on local Spark (issue 20)
#: what `segkit segment` publishes byte for byte alike on every engine (run.json: but the engine and the times)
SPARK_FILES = ("assignments.csv", "tiers_monthly.csv", "alerts.csv", "actions.csv", "scorecard.json")
SPARK_SAME = "the five files and run.json identical to DuckDB's"


def spark_cases(out: Path) -> list[Case]:
    """`segkit segment` of one file on DuckDB, then on local Spark, each into ``out/<engine>`` (one run name)."""
    return [Case(f"segkit segment --engine {engine}", "spark", "segkit", engine=engine,
                 needs=(_ENGINE_MODULE[engine],),
                 argv=[*segkit_command(), "segment", "{PATH}", "--engine", engine, "--name", "same",
                       "--out", str(out / engine)], run_json=str(out / engine / "run.json"))
            for engine in ("duckdb", "pyspark")]


def same_files(duck: Path, spark: Path) -> str:
    """Which of the published files differ between two runs of `segkit segment` (the check of the Spark row)."""
    differ = [f for f in SPARK_FILES if not (duck / f).is_file() or not (spark / f).is_file()
              or (duck / f).read_bytes() != (spark / f).read_bytes()]
    infos = []
    for folder in (duck, spark):
        info = json.loads((folder / "run.json").read_text()) if (folder / "run.json").is_file() else {}
        for key in ("started", "finished", "seconds", "seconds_per_notebook"):
            info.pop(key, None)
        info.get("parameters", {}).pop("engine", None)
        infos.append(info)
    if not infos[0] or infos[0] != infos[1]:
        differ.append("run.json")
    return SPARK_SAME if not differ else "differ from DuckDB's: " + ", ".join(differ)


def spark_sizes(args: argparse.Namespace, limits: Limits, rows: list[Row]) -> dict[str, dict]:
    """The spark part (opt-in: --large or --parts spark): both shapes at every size of ``--spark-sizes``."""
    size_info: dict[str, dict] = {}
    java = "" if shutil.which("java") else "PySpark needs Java 17 (java not on PATH)"
    for size in [s.strip() for s in args.spark_sizes.split(",") if s.strip()] if "spark" in args.parts else []:
        for shape, path in (("B2B", dataset(parse_size(size))), ("B2C", b2c_dataset(parse_size(size)))):
            label = f"{size} {shape}"
            size_info[f"{label} (spark)"] = {"shape": shape, "rows": parse_size(size), "mb": path.stat().st_size / 1e6,
                                             "path": str(path.relative_to(ROOT))}
            with tempfile.TemporaryDirectory(prefix="segkit-bench-") as tmp:
                duck, spark = spark_cases(Path(tmp))
                size_rows = [run_case(duck, path, label, {}, args.spark_repeat, limits),
                             run_case(spark, path, label, {}, args.spark_repeat, limits,
                                      skip=java or _skip(spark, args.engines, False))]
                if all(r.status == "ok" for r in size_rows):
                    size_rows[1].check = same_files(Path(tmp) / "duckdb", Path(tmp) / "pyspark")
            rows += size_rows
    return size_info


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    limits = Limits(budget=args.budget, timeout=args.timeout)
    os.chdir(ROOT)
    info = machine()
    rows: list[Row] = []
    size_info = b2b_sizes(args, limits, rows)
    size_info.update(b2c_sizes(args, limits, rows))
    size_info.update(spark_sizes(args, limits, rows))
    if "verdict" in args.parts:
        runs = [r.strip() for r in args.verdict_runs.split(",") if r.strip()]
        rows += verdict_part(Path(args.config), runs, args.verdict_repeat, limits.timeout)
    if "run" in args.parts:
        rows += run_part(args.run_repeat, args.jobs, Path(args.config), limits.timeout)
    info["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    lines = print_table(info, size_info, rows, args.repeat, args.run_repeat)
    result = {"machine": info, "args": {"sizes": args.sizes, "b2c_sizes": args.b2c_sizes,
                                        "spark_sizes": args.spark_sizes, "spark_repeat": args.spark_repeat,
                                        "repeat": args.repeat,
                                        "parts": args.parts, "run_repeat": args.run_repeat,
                                        "segment_repeat": args.segment_repeat, "verdict_repeat": args.verdict_repeat,
                                        "jobs": args.jobs, "quick": args.quick},
              "data": size_info, "results": [r.__dict__ for r in rows], "table": lines}
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, json.dumps(result, indent=1, default=str))
    print(f"\nresults saved to {out}", flush=True)
    return 1 if any(r.status == "failed" for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
