"""The ``segkit`` command: ``run``, ``segment``, ``validate`` and ``init``: arguments and exit codes.

The work is done by :mod:`segkit.runner` (running and publishing) and :mod:`segkit.data`. The
options that set run parameters are generated from :class:`segkit.config.RunParams`, so the command
line, ``reports.yml`` and the notebooks' parameters cell name the same parameters.

Exit codes: 0 success; 1 a run failed while executing; 2 bad input, config or arguments.
Expected mistakes print one message (what, where, how to fix) and no traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import json
import re
import sys
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import __version__
from .config import RunParams, load_config, parse_columns
from .errors import ParameterError, SegkitError
from .reproducible import share_malloc_arena

__all__ = ["main", "run_param_options"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

_EPILOG = """examples:
  segkit init reports && cd reports           a working folder with a commented reports.yml
  segkit run                                  publish every run of reports.yml into reports/
  segkit run --if-changed --json              for schedulers: skip unchanged runs, JSON summary
  segkit run reports.yml --only cdnow-revenue --jobs 2
  segkit validate sales.csv --columns customer_id=CustomerNo date=InvoiceDate amount=NetValue
  segkit segment sales.csv --out out/sales --strategy market-expansion --columns quantity=Qty

exit codes: 0 success, 1 a run failed while executing, 2 bad input, config or arguments
"""

#: the help of each run parameter's option (every RunParams field but ``data`` has an option)
_PARAM_HELP = {
    "name": "run name recorded in the files (default: the folder name)",
    "columns": "map canonical names to the file's columns",
    "criterion": "what ranks customers: revenue, payments, units or margin",
    "strategy": "market-expansion, working-capital, dividends or activity (sets the criterion)",
    "as_of": "last day of calibration, YYYY-MM-DD (default: the holdout months before the data's end)",
    "filter": "keep only rows whose column KEY equals VALUE",
    "engine": "where features are computed: duckdb (default), polars, pyspark",
    "table": "with a database URL as DATA (e.g. duckdb:///wh.duckdb): the table to read",
    "overrides": "CSV of customers placed in a tier by hand, with reasons",
    "currency": "ISO 4217 code of the amounts (default: none, amounts without a currency sign)",
    "language": "the reader's language of reports and summaries: en (default), cs, pl, ro, sr, sr-Cyrl",
    "backtest_origins": "cut-offs the schemes are compared at, 1-6 (as_of, then 3, 6, ... months earlier)",
    "policy": "YAML file with the tier policy (what each tier gets, costs and can serve)",
}
_METAVAR = {"columns": "KEY=COLUMN", "filter": "KEY=VALUE"}


# ====================================================================== arguments
def run_param_options(parser: argparse.ArgumentParser, only: tuple[str, ...] | None = None) -> None:
    """Add an option for each :class:`RunParams` field (``--holdout-months`` for ``holdout_months``).

    Every option defaults to None, meaning "the RunParams default". ``only`` limits the fields.
    """
    hints = typing.get_type_hints(RunParams)
    for f in dataclasses.fields(RunParams):
        if f.name == "data" or (only is not None and f.name not in only):
            continue
        if only is None and not f.metadata.get("notebook", True):
            continue  # the runner's own keys (notebooks) are options of `segkit run` only
        flag, kind = "--" + f.name.replace("_", "-"), hints[f.name]
        extra: dict[str, Any] = {"help": _PARAM_HELP.get(f.name)}
        if f.name == "policy":  # a mapping in reports.yml; on the command line, a YAML file
            extra.update(type=str, metavar="FILE")
        elif kind is bool:
            extra.update(action="store_true", default=None)
        elif typing.get_origin(kind) is tuple:
            extra.update(nargs=2, type=int, metavar=("LOW", "HIGH"))
        elif typing.get_origin(kind) is Mapping:
            extra.update(nargs="+", metavar=_METAVAR[f.name])
        else:
            base = next((t for t in typing.get_args(kind) if t is not type(None)), kind)
            extra.update(type=base)
        parser.add_argument(flag, dest=f.name, **extra)


def _params_from_args(args: argparse.Namespace, raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` completed with every run parameter given on the command line."""
    for f in dataclasses.fields(RunParams):
        value = getattr(args, f.name, None)
        if f.name == "data" or value is None:
            continue
        if f.name == "columns":
            value = parse_columns(value)
        elif f.name == "filter":
            value = _filter_arg(value)
        elif f.name == "k_range":
            value = list(value)
        raw[f.name] = value
    return raw


def _filter_arg(pairs: list[str] | None) -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        k, sep, v = pair.partition("=")
        if not sep or not k.strip():
            raise ParameterError(f"--filter expects KEY=VALUE, got {pair!r}", where="--filter",
                                 fix="write e.g. --filter region=EU")
        out[k.strip()] = v.strip()
    return out


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
    run.add_argument("--notebooks", metavar="DIR", help="execute the notebooks in DIR (your customised copies, "
                     "see `segkit init --notebooks`) instead of each run's `notebooks` or segkit's own")
    run.add_argument("--if-changed", action="store_true", help="skip a run whose data, parameters, notebooks and "
                     "segkit version equal those of its published report (for schedulers)")
    run.add_argument("--json", action="store_true", help="print a JSON summary of every run to stdout "
                     "(messages go to stderr)")

    ini = sub.add_parser("init", help="create a working folder: a commented reports.yml, sample data, "
                         "an example overrides file", epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ini.add_argument("dir", nargs="?", default=".", help="folder to create or fill (default: the current folder)")
    ini.add_argument("--notebooks", action="store_true", help="also copy the notebooks into DIR/notebooks to customise")
    ini.add_argument("--force", action="store_true", help="overwrite files segkit init wrote before")

    val = sub.add_parser("validate", help="print the data-quality report of a transactions file")
    val.add_argument("data", help="CSV, Parquet (or glob), or Excel file, or a database URL with --table")
    run_param_options(val, only=("columns", "max_bad_share", "drop_duplicates", "filter", "engine", "table"))

    seg = sub.add_parser("segment", help="segment a file and write the run files (no notebooks)")
    seg.add_argument("data")
    seg.add_argument("--out", required=True, help="folder for assignments.csv, tiers_monthly.csv, alerts.csv, ...")
    run_param_options(seg)
    return p


# ====================================================================== commands
def cmd_validate(args: argparse.Namespace) -> int:
    from .data import load_transactions

    defaults = RunParams(name="validate", data=args.data)
    max_bad_share = defaults.max_bad_share if args.max_bad_share is None else args.max_bad_share
    if not 0 <= max_bad_share < 1:
        raise ParameterError(f"--max-bad-share must be a fraction from 0 up to (not including) 1, got "
                             f"{max_bad_share:g}", where="--max-bad-share", fix="write e.g. --max-bad-share 0.05")
    tx = load_transactions(args.data, parse_columns(args.columns), max_bad_share=max_bad_share,
                           drop_duplicates=bool(args.drop_duplicates), filter=_filter_arg(args.filter),
                           engine=args.engine or defaults.engine, table=args.table)
    print(tx.quality)
    print(f"\nUsable: {tx.quality.rows_used:,} rows of {tx.quality.customers:,} customers.")
    return EXIT_OK


def cmd_segment(args: argparse.Namespace) -> int:
    from . import formats
    from .evaluate import SCHEME_NAMES
    from .i18n import _, ngettext, using
    from .pipeline import segment_summary
    from .runner import segment

    out = Path(args.out)
    raw = _params_from_args(args, {"name": _safe_name(out.resolve().name), "data": args.data})
    params = RunParams.from_mapping(raw, where="command line", base_dir=Path.cwd())
    analysis = segment(params, out)
    with using(params.language):
        print(_segment_summary(analysis, segment_summary(analysis)))
        print(ngettext("{name}: {n} customers segmented; recommended scheme: {scheme}; {alerts} VIP dropout alert. "
                       "Files in {out}/", "{name}: {n} customers segmented; recommended scheme: {scheme}; {alerts} VIP "
                       "dropout alerts. Files in {out}/", len(analysis.alerts)).format(
            name=params.name, n=formats.number(len(analysis.features)),  # segmented: not returns-only nor prospects
            scheme=_(SCHEME_NAMES.get(analysis.scorecard["recommended"], analysis.scorecard["recommended"])),
            alerts=formats.number(len(analysis.alerts)), out=out))
    return EXIT_OK


def _segment_summary(analysis: Any, english: str) -> str:
    """The segment sizes of every scheme in the reader's language, then the schemes' own cut points.

    The first lines (one per scheme: segment, customers, share) are written here with the local
    separators and names; the schemes' descriptions (``describe()``) follow as ``english`` has them.
    """
    from . import formats
    from .evaluate import SCHEME_NAMES
    from .i18n import _, segment_label

    total = len(analysis.features)
    lines = []
    for name, scheme in analysis.schemes.items():
        sizes = scheme.segment_table().groupby(["rank", "segment"]).size()
        lines.append(f"{_(SCHEME_NAMES.get(name, name))}: " + ", ".join(
            f"{segment_label(seg)} {formats.number(n)} ({formats.pct(n / total, 1)})" for (_r, seg), n in sizes.items()))
    return "\n".join([*lines, *english.splitlines()[len(lines):]])


def _safe_name(text: str) -> str:
    name = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-")
    return name or "segment"


def cmd_run(args: argparse.Namespace) -> int:
    from .runner import check_inputs, notebook_paths, run_all

    if args.jobs < 1:
        raise ParameterError(f"--jobs must be at least 1, got {args.jobs}", where="--jobs", fix="e.g. --jobs 2")
    config = load_config(args.config, out=args.out)
    runs = config.select(args.only)
    check_inputs(config, runs)
    notebooks = [str(p) for p in notebook_paths(args.notebooks)] if args.notebooks else None
    if notebooks:  # --notebooks wins over each run's `notebooks` key
        runs = tuple(dataclasses.replace(r, notebooks=None) for r in runs)
    results = run_all(runs, config.out, notebooks, jobs=args.jobs, if_changed=args.if_changed)
    failed = {k: v for k, v in results.items() if v["status"] not in ("published", "unchanged")}
    for res in failed.values():
        print(f"error: {res['message']}", file=sys.stderr)
        if res.get("traceback"):
            print(res["traceback"], file=sys.stderr)
    done = len(results) - len(failed)
    same = sum(v["status"] == "unchanged" for v in results.values())
    print(f"{done} of {len(results)} run(s) published{f' ({same} unchanged)' if same else ''} in {config.out}/ "
          f"(index: {Path(config.out) / 'index.html'})", file=sys.stderr if args.json else sys.stdout)
    # Bad input needs a person to fix the data or config: it wins over an execution failure.
    code = (EXIT_OK if not failed else EXIT_BAD_INPUT if any(v["status"] == "bad-input" for v in failed.values())
            else EXIT_FAILED)
    if args.json:
        print(json.dumps(run_summary(code, Path(config.out), results), indent=2, ensure_ascii=False))
    return code


def run_summary(code: int, out: Path, results: Mapping[str, Mapping[str, Any]], error: str | None = None) -> dict:
    """The ``segkit run --json`` document: the exit code and, for every run, its outcome and paths.

    Example
    -------
    >>> run_summary(2, Path("out"), {}, error="the config has no runs")["exit_code"]
    2
    """
    runs = []
    for name, res in results.items():
        folder = out / name
        report = folder / "report.html"
        runs.append({
            "name": name, "status": res.get("status"), "exit_code": res.get("exit_code"),
            "recommended": res.get("recommended"), "recommended_label": res.get("recommended_label"),
            "data_sha256": res.get("sha256"), "data_last_date": res.get("data_last_date"),
            "generated": res.get("generated"), "unchanged_since": res.get("unchanged_since"),
            "message": res.get("message") or None,
            "folder": str(folder.resolve()) if res.get("status") in ("published", "unchanged") else None,
            "report": str(report.resolve()) if res.get("status") in ("published", "unchanged")
            and report.exists() else None,
            "failed_folder": str((out / "_failed" / name).resolve()) if res.get("status") == "failed" else None,
        })
    return {"exit_code": code, "error": error, "out": str(out.resolve()), "index": str((out / "index.html").resolve()),
            "runs": runs}


def cmd_init(args: argparse.Namespace) -> int:
    from .scaffold import init_folder

    written = init_folder(args.dir, notebooks=args.notebooks, force=args.force)
    for path in written:
        print(f"wrote {path}")
    folder = Path(args.dir)
    print(f"\nNext: cd {folder} && segkit run   (publishes the sample report into {folder / 'reports'}/)")
    return EXIT_OK


# ====================================================================== entry point
def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_BAD_INPUT
    commands = {"run": cmd_run, "validate": cmd_validate, "segment": cmd_segment, "init": cmd_init}
    share_malloc_arena()  # before the engines' and the bootstrap's threads start (segkit.reproducible)
    try:
        return commands[args.command](args)
    except SegkitError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if getattr(args, "json", False):  # a scheduler reading stdout still gets a document
            out = Path(getattr(args, "out", None) or "reports")
            print(json.dumps(run_summary(exc.exit_code, out, {}, error=exc.message), indent=2))
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: nothing was published by the interrupted run", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        message = _disk_full(exc)
        print(f"error: {message}", file=sys.stderr)
        if getattr(args, "json", False):
            out = Path(getattr(args, "out", None) or "reports")
            print(json.dumps(run_summary(EXIT_FAILED, out, {}, error=message), indent=2))
        return EXIT_FAILED


def _disk_full(exc: OSError) -> str:
    """The message for a disk that fills during a run (the engine's spill, the earlier cut-offs' tables
    waiting on disk, the files written): where, and what to do, without a traceback."""
    where = f" writing {exc.filename}" if exc.filename else ""
    return (f"the disk is full{where} ({exc.strerror or 'no space left on device'}); the run stopped. "
            "Free some space, or point TMPDIR (segkit's temporary tables) and --out at a disk with room, "
            "then run again")


def entry() -> None:  # pragma: no cover - console script
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
