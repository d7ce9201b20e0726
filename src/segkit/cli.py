"""The ``segkit`` command: ``run``, ``segment`` and ``validate``.

Exit codes: 0 success; 1 a run failed while executing; 2 bad input, config or arguments.
Expected mistakes print one message (what, where, how to fix) and no traceback.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import datetime as dt
import json
import multiprocessing
import os
import secrets
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from . import __version__
from .config import NOTEBOOKS_DIR, PROJECT_ROOT, RunParams, is_connection_url, load_config, parse_columns
from .errors import ConfigError, ParameterError, RunFailed, SegkitError

__all__ = ["main", "execute_run", "notebook_paths"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
MANAGEMENT_NOTEBOOK = "05_compare"

_EPILOG = """examples:
  segkit run                                  publish every run of reports.yml into reports/
  segkit run reports.yml --only cdnow-revenue --jobs 2
  segkit validate sales.csv --columns customer_id=CustomerNo date=InvoiceDate amount=NetValue
  segkit segment sales.csv --out out/sales --strategy market-expansion --columns quantity=Qty

exit codes: 0 success, 1 a run failed while executing, 2 bad input, config or arguments
"""


# ====================================================================== arguments
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="segkit", description="Decide how to split customers into groups, and "
                                "prove the choice on your own transactions.", epilog=_EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"segkit {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="execute the notebooks of every run in a config and publish the reports",
                         epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("config", nargs="?", default="reports.yml", help="reports config (default: reports.yml)")
    run.add_argument("--out", help="output folder (default: the config's `out`)")
    run.add_argument("--only", nargs="+", metavar="NAME", help="run only these runs")
    run.add_argument("--jobs", type=int, default=1, help="runs executed in parallel (default 1)")
    run.add_argument("--notebooks", help=argparse.SUPPRESS)

    val = sub.add_parser("validate", help="print the data-quality report of a transactions file")
    val.add_argument("data", help="CSV, Parquet (or glob), or Excel file, or a database URL with --table")
    val.add_argument("--columns", nargs="+", metavar="KEY=COLUMN", help="map canonical names to the file's columns")
    val.add_argument("--max-bad-share", type=float, default=0.01)
    val.add_argument("--drop-duplicates", action="store_true")
    val.add_argument("--filter", nargs="+", metavar="KEY=VALUE")
    val.add_argument("--engine", default="duckdb", help="where the data is read: duckdb (default), polars, pyspark")
    val.add_argument("--table", help="with a database URL as DATA (e.g. duckdb:///wh.duckdb): the table to read")

    seg = sub.add_parser("segment", help="segment a file and write the run files (no notebooks)")
    seg.add_argument("data")
    seg.add_argument("--out", required=True, help="folder for assignments.csv, tiers_monthly.csv, alerts.csv, ...")
    seg.add_argument("--name", help="run name recorded in the files (default: the folder name)")
    seg.add_argument("--columns", nargs="+", metavar="KEY=COLUMN")
    seg.add_argument("--as-of", dest="as_of")
    seg.add_argument("--criterion")
    seg.add_argument("--strategy")
    seg.add_argument("--holdout-months", type=int)
    seg.add_argument("--window-months", type=int)
    seg.add_argument("--vip-share", type=float)
    seg.add_argument("--good-share", type=float)
    seg.add_argument("--dropout-months", type=int)
    seg.add_argument("--rfm-bins", type=int)
    seg.add_argument("--k-range", nargs=2, type=int, metavar=("LOW", "HIGH"))
    seg.add_argument("--seed", type=int)
    seg.add_argument("--overrides")
    seg.add_argument("--filter", nargs="+", metavar="KEY=VALUE")
    seg.add_argument("--drop-duplicates", action="store_true", default=None)
    seg.add_argument("--max-bad-share", type=float)
    seg.add_argument("--currency")
    seg.add_argument("--engine", help="where features are computed: duckdb (default), polars, pyspark")
    seg.add_argument("--table", help="with a database URL as DATA (e.g. duckdb:///wh.duckdb): the table to read")
    return p


def _filter_arg(pairs: list[str] | None) -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        k, sep, v = pair.partition("=")
        if not sep or not k.strip():
            raise ParameterError(f"--filter expects KEY=VALUE, got {pair!r}", where="--filter",
                                 fix="write e.g. --filter region=EU")
        out[k.strip()] = v.strip()
    return out


# ====================================================================== commands
def cmd_validate(args: argparse.Namespace) -> int:
    from .data import load_transactions

    if not 0 <= args.max_bad_share < 1:
        raise ParameterError(f"--max-bad-share must be a fraction from 0 up to (not including) 1, got "
                             f"{args.max_bad_share:g}", where="--max-bad-share", fix="write e.g. --max-bad-share 0.05")
    tx = load_transactions(args.data, parse_columns(args.columns), max_bad_share=args.max_bad_share,
                           drop_duplicates=args.drop_duplicates, filter=_filter_arg(args.filter),
                           engine=args.engine, table=args.table)
    print(tx.quality)
    print(f"\nUsable: {tx.quality.rows_used:,} rows of {tx.quality.customers:,} customers.")
    return EXIT_OK


def cmd_segment(args: argparse.Namespace) -> int:
    from .pipeline import analyze, segment_summary, write_run_files

    out = Path(args.out)
    raw: dict[str, Any] = {"name": args.name or _safe_name(out.resolve().name), "data": args.data}
    if args.columns:
        raw["columns"] = parse_columns(args.columns)
    if args.filter:
        raw["filter"] = _filter_arg(args.filter)
    for key in ("as_of", "criterion", "strategy", "holdout_months", "window_months", "vip_share", "good_share",
                "dropout_months", "rfm_bins", "seed", "overrides", "drop_duplicates", "max_bad_share", "currency",
                "engine", "table"):
        value = getattr(args, key)
        if value is not None:
            raw[key] = value
    if args.k_range:
        raw["k_range"] = list(args.k_range)
    params = RunParams.from_mapping(raw, where="command line", base_dir=Path.cwd())
    analysis = analyze(params)
    # Write next to the destination, then move each file into place (each replace is atomic, and
    # run.json, the record of a complete run, goes last).
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".segkit-{secrets.token_hex(4)}"
    try:
        written = write_run_files(analysis, tmp)
        for path in sorted(written, key=lambda p: p.name == "run.json"):
            os.replace(path, out / path.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rec = analysis.scorecard["recommended"]
    print(segment_summary(analysis))
    print(f"{params.name}: {len(analysis.assignments):,} customers segmented; recommended scheme: {rec}; "
          f"{len(analysis.alerts):,} VIP dropout alert(s). Files in {out}/")
    return EXIT_OK


def _safe_name(text: str) -> str:
    import re

    name = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-")
    return name or "segment"


def notebook_paths(folder: str | Path | None = None) -> list[Path]:
    folder = Path(folder or os.environ.get("SEGKIT_NOTEBOOKS") or NOTEBOOKS_DIR)
    paths = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise ConfigError("no notebooks to run", where=str(folder),
                          fix="run segkit from the project folder, or restore notebooks/0N_*.ipynb")
    return paths


def execute_run(params: RunParams, out_root: str | Path, notebooks: list[str], progress: Any = None) -> dict[str, Any]:
    """Analyze, execute the notebooks, render HTML and publish one run. Never raises for run errors.

    Returns the run's index entry (``status`` is ``published``, ``failed`` or ``bad-input``).
    ``progress`` (a queue, or anything with ``put``) receives ``(run, step)`` after the analysis and
    after each notebook, for the progress bar.
    """
    def step(what: str) -> None:
        if progress is not None:
            with contextlib.suppress(Exception):  # a progress bar must never fail a run
                progress.put((params.name, what))

    import papermill as pm

    from .pipeline import analyze, write_run_files
    from .publish import OutputFolder
    from .report import render_notebook_html

    folder = OutputFolder(out_root)
    entry: dict[str, Any] = {"title": params.display_title,
                             "generated": dt.datetime.now().isoformat(timespec="seconds")}
    staged = folder.staging(params.name)
    try:
        analysis = analyze(params)
    except SegkitError as exc:
        folder.discard(staged)
        return {**entry, "status": "bad-input", "message": f"run {params.name!r}: {exc.message}",
                "exit_code": exc.exit_code}
    except Exception as exc:  # a bug: keep its traceback for the maintainer
        folder.discard(staged)
        return {**entry, "status": "failed", "message": f"run {params.name!r}: analysis crashed: "
                f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(), "exit_code": EXIT_FAILED}
    cache = staged / ".cache"
    analysis.save(cache)
    step("analysis")
    nb_dir = staged / "notebooks"
    nb_dir.mkdir()
    seconds: dict[str, float] = {}
    parameters = {**params.to_dict(), "cache_dir": str(cache)}
    for nb in map(Path, notebooks):
        target = nb_dir / nb.name
        start = time.perf_counter()
        try:
            pm.execute_notebook(str(nb), str(target), parameters=parameters, kernel_name="python3",
                                progress_bar=False, log_output=False, cwd=str(nb.parent),
                                # the kernel's own start-up warnings and shutdown interrupts are noise in a scheduler's log
                                extra_arguments=["--IPKernelApp.log_level=CRITICAL"])
        except pm.PapermillExecutionError as exc:
            shutil.rmtree(cache, ignore_errors=True)
            kept = folder.keep_failed(params.name, staged)
            first_line = _failing_cell_line(target, exc.exec_count)
            return {**entry, "status": "failed", "exit_code": EXIT_FAILED, "notebook": nb.stem,
                    "cell": exc.exec_count,
                    "message": (f"run {params.name!r}: notebook {nb.stem}, cell {exc.exec_count}"
                                f"{' (' + first_line + ')' if first_line else ''}: {exc.ename}: {exc.evalue}. "
                                f"The executed notebook is in {kept / 'notebooks' / nb.name}; "
                                "the last good report stays published.")}
        except Exception as exc:  # the kernel died, the notebook is unreadable, ...
            shutil.rmtree(cache, ignore_errors=True)
            kept = folder.keep_failed(params.name, staged)
            return {**entry, "status": "failed", "exit_code": EXIT_FAILED, "notebook": nb.stem,
                    "message": f"run {params.name!r}: notebook {nb.stem} could not run: {type(exc).__name__}: "
                               f"{exc}. Kept in {kept}; the last good report stays published."}
        seconds[nb.stem] = time.perf_counter() - start
        step(nb.stem)
        render_notebook_html(target, staged / f"{nb.stem}.html", management=False,
                             title=f"{params.display_title} — {nb.stem}")
        if nb.stem == MANAGEMENT_NOTEBOOK:
            render_notebook_html(target, staged / "report.html", management=True, title=params.display_title)
    shutil.rmtree(cache, ignore_errors=True)
    write_run_files(analysis, staged, notebook_seconds=seconds)
    folder.publish(params.name, staged)
    folder.clear_failed(params.name)
    rec = analysis.scorecard["recommended"]
    from .evaluate import SCHEME_NAMES

    return {**entry, "status": "published", "exit_code": EXIT_OK, "recommended": rec,
            "recommended_label": SCHEME_NAMES.get(rec, rec) + ("" if analysis.scorecard.get("clear_winner")
                                                                 else " (no clear winner)"),
            "data_last_date": analysis.data.get("last_date"), "sha256": analysis.data.get("sha256"),
            "notebooks": [Path(n).stem for n in notebooks], "seconds": round(sum(seconds.values()), 2),
            "message": ""}


def _failing_cell_line(path: Path, exec_count: int | None) -> str:
    with contextlib.suppress(Exception):
        import nbformat

        nb = nbformat.read(str(path), as_version=4)
        for cell in nb.cells:
            if cell.get("cell_type") == "code" and cell.get("execution_count") == exec_count:
                lines = [ln for ln in cell.source.splitlines() if ln.strip() and not ln.startswith("#")]
                return lines[0][:80] if lines else ""
    return ""


def cmd_run(args: argparse.Namespace) -> int:
    from .publish import OutputFolder

    if args.jobs < 1:
        raise ParameterError(f"--jobs must be at least 1, got {args.jobs}", where="--jobs", fix="e.g. --jobs 2")
    config = load_config(args.config, out=args.out)
    runs = config.select(args.only)
    for r in runs:  # fail before any work when a run's files are missing
        if not is_connection_url(r.data) and not any(ch in r.data for ch in "*?[") and not Path(r.data).exists():
            raise ConfigError(f"the data file {r.data!r} of run {r.name!r} does not exist",
                              where=f"{config.path}, run {r.name!r}, key 'data'",
                              fix="check the path (relative paths are relative to the config file)")
        if r.overrides and not Path(r.overrides).exists():
            raise ConfigError(f"the overrides file {r.overrides!r} of run {r.name!r} does not exist",
                              where=f"{config.path}, run {r.name!r}, key 'overrides'", fix="check the path")
    notebooks = [str(p) for p in notebook_paths(args.notebooks)]
    folder = OutputFolder(config.out)
    results: dict[str, dict[str, Any]] = {}
    with folder.locked():
        bar = _progress_bar(len(runs) * (len(notebooks) + 1))
        try:
            if args.jobs == 1 or len(runs) == 1:
                for r in runs:
                    results[r.name] = execute_run(r, config.out, notebooks, progress=bar and _BarSteps(bar))
                    _report_progress(r.name, results[r.name], bar)
            else:
                ctx = multiprocessing.get_context("spawn")
                # workers report steps through a managed queue (only when a bar shows them)
                manager = ctx.Manager() if bar is not None else None
                queue = manager.Queue() if manager is not None else None
                try:
                    with cf.ProcessPoolExecutor(max_workers=min(args.jobs, len(runs)), mp_context=ctx) as pool:
                        futures = {pool.submit(execute_run, r, config.out, notebooks, queue): r.name for r in runs}
                        pending = set(futures)
                        while pending:
                            done, pending = cf.wait(pending, timeout=0.25, return_when=cf.FIRST_COMPLETED)
                            _drain(queue, bar)
                            for fut in done:
                                name = futures[fut]
                                try:
                                    results[name] = fut.result()
                                except Exception as exc:  # a worker died (killed, out of memory)
                                    results[name] = {"status": "failed", "exit_code": EXIT_FAILED,
                                                     "message": f"run {name!r}: worker stopped: "
                                                                f"{type(exc).__name__}: {exc}"}
                                _report_progress(name, results[name], bar)
                finally:
                    if manager is not None:
                        manager.shutdown()
        finally:
            if bar is not None:
                bar.close()
            if results:
                folder.update_index({k: {kk: vv for kk, vv in v.items() if kk != "traceback"}
                                     for k, v in results.items()})
    failed = {k: v for k, v in results.items() if v["status"] != "published"}
    for name, res in failed.items():
        print(f"error: {res['message']}", file=sys.stderr)
        if res.get("traceback"):
            print(res["traceback"], file=sys.stderr)
    print(f"{len(results) - len(failed)} of {len(results)} run(s) published in {config.out}/ "
          f"(index: {Path(config.out) / 'index.html'})")
    if not failed:
        return EXIT_OK
    # Bad input needs a person to fix the data or config: it wins over an execution failure.
    return EXIT_BAD_INPUT if any(v["status"] == "bad-input" for v in failed.values()) else EXIT_FAILED


def _progress_bar(total: int) -> Any:
    """A tqdm bar of runs x (analysis + notebooks) on a terminal; None (plain log lines) otherwise."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    # a terminal that reports no size (a bare pty, some schedulers' consoles) would hide the bar
    size = shutil.get_terminal_size((100, 20))
    return tqdm(total=total, unit="step", desc="segkit run", file=sys.stderr, ncols=min(size.columns or 100, 120),
                nrows=size.lines or 20)


class _BarSteps:
    """``put`` for the sequential case: advance the bar directly."""

    def __init__(self, bar: Any):
        self.bar = bar

    def put(self, item: tuple[str, str]) -> None:
        self.bar.update(1)
        self.bar.set_postfix_str(f"{item[0]}: {item[1]}"[:60])


def _drain(queue: Any, bar: Any) -> None:
    if queue is None or bar is None:
        return
    steps = _BarSteps(bar)
    while True:
        try:
            steps.put(queue.get_nowait())
        except Exception:  # queue.Empty, or the manager is gone
            return


def _report_progress(name: str, result: dict[str, Any], bar: Any) -> None:
    line = f"{name}: {result['status']}" + (f" (recommended: {result.get('recommended_label')})"
                                            if result["status"] == "published" else "")
    if bar is not None:
        bar.write(line, file=sys.stderr)
    else:
        print(line, file=sys.stderr, flush=True)


# ====================================================================== entry point
def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_BAD_INPUT
    commands = {"run": cmd_run, "validate": cmd_validate, "segment": cmd_segment}
    try:
        return commands[args.command](args)
    except SegkitError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: nothing was published by the interrupted run", file=sys.stderr)
        return EXIT_INTERRUPTED


def entry() -> None:  # pragma: no cover - console script
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
