"""The "schemes" stage of ``segkit segment`` alone, in CPU seconds of this process.

A shared machine's wall seconds move with its load by more than the stage itself changes; the CPU
seconds of one process move much less. The stage (every scheme fitted at the cut-off and one month
earlier, then each earlier backtest cut-off fitted and reduced to its scoring) runs on per-customer
tables computed once and cached (``benchmarks/.data/schemes_stage_<rows>.pkl``), so two versions of
segkit can be timed on the same tables, interleaved:

    python benchmarks/schemes_stage.py --rows 1000000                          # this checkout
    PYTHONPATH=/path/to/other/src python benchmarks/schemes_stage.py --rows 1000000

The data are the B2C file of ``bench.py`` (``b2c_dataset``: CDNOW scaled up), with default settings.
The cached tables are pickled pandas frames of the version that wrote them; delete the file when the
feature tables change.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _tables(rows: int) -> tuple:
    """The run's parameters, split and per-customer tables, computed once per size and cached."""
    cache = HERE / ".data" / f"schemes_stage_{rows}.pkl"
    if cache.exists():
        with open(cache, "rb") as fh:
            return pickle.load(fh)
    sys.path.insert(0, str(HERE))
    from bench import b2c_dataset

    from segkit import pipeline
    from segkit.config import RunParams
    from segkit.data import load_transactions

    params = RunParams.from_mapping({"name": "b2c", "data": str(b2c_dataset(rows))})
    tx = load_transactions(params.data, params.columns, engine=params.engine)
    split = pipeline._split(params, tx)
    out = (params, split, pipeline._tables(params, tx, split, True))
    with open(cache, "wb") as fh:
        pickle.dump(out, fh)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the B2C file (default 1,000,000)")
    args = parser.parse_args(argv)
    import segkit
    from segkit import backtest, pipeline

    params, split, tables = _tables(args.rows)
    inputs = pipeline.SchemeInputs(features=tables["features"], monthly=tables["monthly"], split=split,
                                   params=params, potential=tables["potential"])
    cpu0, wall0 = time.process_time(), time.perf_counter()
    schemes, _ = pipeline._fit_schemes(inputs, tables["previous"])
    cpu1 = time.process_time()
    main_origin = backtest.Origin(split, inputs.features, inputs.monthly, tables["holdout_monthly"],
                                  tables["potential"])
    segment_tables = {name: s.segment_table() for name, s in schemes.items()}
    pipeline._backtest_scoring(params, schemes, main_origin, segment_tables, tables)
    cpu2, wall2 = time.process_time(), time.perf_counter()
    print(f"segkit {Path(segkit.__file__).parent}: {len(inputs.features):,} customers; schemes stage "
          f"{cpu2 - cpu0:.2f} s CPU (cut-off and one month earlier {cpu1 - cpu0:.2f}, earlier cut-offs "
          f"{cpu2 - cpu1:.2f}), {wall2 - wall0:.2f} s wall, load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
