"""Run and publish: the one path from run parameters to a published folder.

``segkit run`` calls :func:`run_all` (each run: analysis, notebooks executed by papermill, HTML
pages, run files, then one atomic publish); ``segkit segment`` calls :func:`segment` (analysis and
run files only). Both stage their files in the output folder and publish them through
:class:`segkit.publish.OutputFolder` under its lock, and both stamp the analysis the same way, so
``SOURCE_DATE_EPOCH`` (see :mod:`segkit.reproducible`) makes either command's files reproducible.

Example
-------
>>> from segkit.config import CDNOW_PATH, RunParams
>>> params = RunParams.from_mapping({"name": "demo", "data": str(CDNOW_PATH)})
>>> segment(params, "out/demo")  # doctest: +SKIP
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import multiprocessing
import os
import shutil
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config import NOTEBOOKS_DIR, Config, RunParams, is_connection_url
from .errors import ConfigError, SegkitError
from .reproducible import duration, source_date_epoch, timestamp

__all__ = ["run_all", "execute_run", "segment", "notebook_paths", "run_notebooks", "check_inputs", "stamp", "tidy_executed_notebook",
           "MANAGEMENT_NOTEBOOK", "EXIT_OK", "EXIT_FAILED"]

EXIT_OK, EXIT_FAILED = 0, 1
MANAGEMENT_NOTEBOOK = "05_compare"
#: the id of papermill's injected-parameters cell (papermill draws a random one each run)
_INJECTED_ID = "injected-parameters"
_KEPT = "\x00kept\x00"  # stands for the failed attempt's folder in a message until it is known


# ====================================================================== inputs
def notebook_paths(folder: str | Path | None = None) -> list[Path]:
    """The notebooks a run executes: ``NN_*.ipynb`` in ``folder``, ``$SEGKIT_NOTEBOOKS`` or segkit's own.

    segkit's own are ``notebooks/`` of the checkout, or the templates shipped inside the installed
    package. Each must have a cell tagged ``parameters`` (where papermill injects the run's values).

    Example
    -------
    >>> [p.name for p in notebook_paths()][:2]
    ['01_data_profile.ipynb', '02_percentile_tiers.ipynb']
    """
    own = not (folder or os.environ.get("SEGKIT_NOTEBOOKS"))
    where = "segkit's own notebooks" if own else ("the `notebooks` folder" if folder else "$SEGKIT_NOTEBOOKS")
    folder = Path(folder or os.environ.get("SEGKIT_NOTEBOOKS") or NOTEBOOKS_DIR)
    fix = ("reinstall segkit (its notebooks are missing), or restore notebooks/0N_*.ipynb in the checkout" if own
           else "point `notebooks:` / --notebooks at a folder made by `segkit init DIR --notebooks`")
    if not folder.is_dir():
        raise ConfigError(f"{where} folder does not exist", where=str(folder), fix=fix)
    paths = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise ConfigError(f"no notebooks to run (no 0N_*.ipynb in {where} folder)", where=str(folder), fix=fix)
    for path in paths:
        if not _has_parameters_cell(path):
            raise ConfigError("the notebook has no cell tagged `parameters`, so a run cannot pass it its values",
                              where=str(path), fix="tag the cell that sets name, data, ... with `parameters` "
                              "(JupyterLab: Property Inspector > Cell Tags), or copy it afresh with `segkit init`")
    return paths


def _has_parameters_cell(path: Path) -> bool:
    import json

    try:
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return False
    return any("parameters" in (c.get("metadata") or {}).get("tags", []) for c in cells if isinstance(c, dict))


def run_notebooks(params: RunParams, default: Sequence[str] | None = None) -> list[str]:
    """The notebooks of run ``params``: its ``notebooks`` folder, else ``default``, else segkit's own."""
    if params.notebooks is None and default is not None:
        return list(default)
    return [str(p) for p in notebook_paths(params.notebooks)]


def check_inputs(config: Config, runs: Sequence[RunParams]) -> None:
    """Fail before any work when a run's data or overrides file or its notebooks folder is missing."""
    for r in runs:
        if r.notebooks is not None:
            notebook_paths(r.notebooks)
        if not is_connection_url(r.data) and not any(ch in r.data for ch in "*?[") and not Path(r.data).exists():
            raise ConfigError(f"the data file {r.data!r} of run {r.name!r} does not exist",
                              where=f"{config.path}, run {r.name!r}, key 'data'",
                              fix="check the path (relative paths are relative to the config file)")
        if r.overrides and not Path(r.overrides).exists():
            raise ConfigError(f"the overrides file {r.overrides!r} of run {r.name!r} does not exist",
                              where=f"{config.path}, run {r.name!r}, key 'overrides'", fix="check the path")


def stamp(analysis: Any) -> Any:
    """The analysis as it is published: under ``SOURCE_DATE_EPOCH`` its start and end times are that
    moment and its step timings 0, so the report's "Computed" line and ``run.json`` reproduce."""
    if source_date_epoch() is None:
        return analysis
    moment = timestamp()
    return dataclasses.replace(analysis, started=moment, finished=moment,
                               timings={k: 0.0 for k in analysis.timings})


def for_notebooks(params: RunParams) -> RunParams:
    """``params`` without the runner's own keys: what the analysis and the notebooks see, so a
    notebook building its parameters from its cell gets the same run (and the shared cache)."""
    return dataclasses.replace(params, notebooks=None)


# ====================================================================== --if-changed
def inputs_key(params: RunParams, sha256: str | None, notebooks: Sequence[str]) -> str:
    """One hash of what a published run was made from, but for the data file itself: its parameters,
    the data's SHA-256, the overrides file's content, the segkit version and the notebooks' content."""
    import hashlib

    from .pipeline import cache_key

    h = hashlib.sha256(cache_key(for_notebooks(params), sha256).encode())
    for nb in notebooks:
        h.update(b"\0" + Path(nb).name.encode() + b"\0" + hashlib.sha256(Path(nb).read_bytes()).digest())
    return h.hexdigest()


def unchanged(folder: Any, params: RunParams, notebooks: Sequence[str]) -> dict[str, Any] | None:
    """The index entry to keep when ``params`` would publish what is already published, else None.

    Unchanged means: the last run of that name was published, its folder is still there, and the
    data's SHA-256, the parameters, the overrides, the segkit version and the notebooks are the same.
    A database table cannot be hashed without reading it, so its runs are never skipped.
    """
    from .pipeline import _data_sha256

    previous = folder.read_index()["runs"].get(params.name) or {}
    if previous.get("status") != "published" or not (folder.root / params.name).is_dir():
        return None
    sha = _data_sha256(for_notebooks(params))
    if sha in (None, "missing") or sha != previous.get("sha256"):
        return None
    if previous.get("inputs") != inputs_key(params, sha, notebooks):
        return None
    return {**previous, "status": "unchanged", "exit_code": EXIT_OK, "checked": timestamp(), "message": "",
            "unchanged_since": previous.get("unchanged_since") or previous.get("generated")}


# ====================================================================== segment
def segment(params: RunParams, out: str | Path) -> Any:
    """Analyze one run and publish its run files into ``out`` (no notebooks); returns the analysis."""
    from .pipeline import analyze, write_run_files
    from .publish import OutputFolder

    source_date_epoch()  # a malformed SOURCE_DATE_EPOCH stops the command before any work
    analysis = stamp(analyze(params))
    folder = OutputFolder(out)
    with folder.locked(repair=False):
        staged = folder.staging(params.name)
        try:
            write_run_files(analysis, staged)
            folder.publish_files(staged)
        finally:
            folder.discard(staged)
    return analysis


# ====================================================================== one run with notebooks
def execute_run(params: RunParams, out_root: str | Path, notebooks: Sequence[str],
                progress: Any = None) -> dict[str, Any]:
    """Analyze, execute the notebooks, render HTML and publish one run. Never raises for run errors.

    Returns the run's index entry (``status`` is ``published``, ``failed`` or ``bad-input``).
    ``progress`` (a queue, or anything with ``put``) receives ``(run, step)`` after the analysis and
    after each notebook, for the progress bar. The caller holds the output folder's lock.
    """
    from .publish import OutputFolder

    def step(what: str) -> None:
        if progress is not None:
            with contextlib.suppress(Exception):  # a progress bar must never fail a run
                progress.put((params.name, what))

    folder = OutputFolder(out_root)
    params = for_notebooks(params)
    entry: dict[str, Any] = {"title": params.display_title, "generated": timestamp(), "language": params.language}
    staged = folder.staging(params.name)
    analysis, failure = _analyze(params)
    if failure is not None:
        folder.discard(staged)
        return {**entry, **failure}
    cache = staged / ".cache"
    analysis.save(cache)
    step("analysis")
    seconds: dict[str, float] = {}
    failure = _run_notebooks(params, notebooks, staged, cache, seconds, step)
    shutil.rmtree(cache, ignore_errors=True)
    if failure is not None:
        kept = folder.keep_failed(params.name, staged)
        return {**entry, **failure, "message": failure["message"].replace(_KEPT, str(kept))}
    return {**entry, **_publish(folder, params, analysis, staged, seconds, notebooks)}


def _analyze(params: RunParams) -> tuple[Any, dict[str, Any] | None]:
    from .pipeline import analyze

    try:
        return stamp(analyze(params)), None
    except SegkitError as exc:
        return None, {"status": "bad-input", "message": f"run {params.name!r}: {exc.message}",
                      "exit_code": exc.exit_code}
    except Exception as exc:  # a bug: keep its traceback for the maintainer
        return None, {"status": "failed", "message": f"run {params.name!r}: analysis crashed: "
                      f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(), "exit_code": EXIT_FAILED}


def _run_notebooks(params: RunParams, notebooks: Sequence[str], staged: Path, cache: Path,
                   seconds: dict[str, float], step: Any) -> dict[str, Any] | None:
    """Execute and render each notebook into ``staged``; the failure entry of the first that fails.

    A failure's message holds ``_KEPT`` where the folder the failed attempt is kept in belongs.
    """
    from .report import render_notebook_html, translate_markdown

    nb_dir = staged / "notebooks"
    nb_dir.mkdir()
    parameters = {**{k: v for k, v in params.to_dict().items() if k in RunParams.notebook_fields()},
                  "cache_dir": str(cache)}
    for nb in map(Path, notebooks):
        target = nb_dir / nb.name
        start = time.perf_counter()
        failure = _execute_notebook(params, nb, target, parameters)
        if failure is not None:
            return failure
        seconds[nb.stem] = time.perf_counter() - start
        tidy_executed_notebook(target)
        translate_markdown(target, params.language)
        step(nb.stem)
        render_notebook_html(target, staged / f"{nb.stem}.html", management=False,
                             title=f"{params.display_title} — {nb.stem}", language=params.language)
        if nb.stem == MANAGEMENT_NOTEBOOK:
            render_notebook_html(target, staged / "report.html", management=True, title=params.display_title,
                                 language=params.language)
    return None


#: what jupyter_client raises when a kernel never came up: nothing ran, so starting it again is safe.
#: Seen in CI: two processes starting at once, one kernel found its port taken by the time it bound
#: it ("Address already in use") and the notebook failed after 60 s of waiting.
_KERNEL_NOT_STARTED = ("Kernel didn't respond", "Kernel died before replying to kernel_info")
#: seconds a kernel may take to start (papermill's default is 60; a loaded 2-core machine needs more)
KERNEL_START_TIMEOUT = 120


def _execute_notebook(params: RunParams, nb: Path, target: Path, parameters: dict[str, Any]) -> dict[str, Any] | None:
    """Execute ``nb`` into ``target``; None, or the failure entry. A kernel that did not start is started once more."""
    import papermill as pm

    base = {"status": "failed", "exit_code": EXIT_FAILED, "notebook": nb.stem}
    try:
        for attempt in (1, 2):
            try:
                pm.execute_notebook(str(nb), str(target), parameters=parameters, kernel_name="python3",
                                    progress_bar=False, log_output=False, cwd=str(nb.parent),
                                    start_timeout=KERNEL_START_TIMEOUT,
                                    # the kernel's own start-up warnings and shutdown interrupts are noise in a scheduler's log
                                    extra_arguments=["--IPKernelApp.log_level=CRITICAL"])
                break
            except RuntimeError as exc:
                if attempt == 2 or not any(text in str(exc) for text in _KERNEL_NOT_STARTED):
                    raise
    except pm.PapermillExecutionError as exc:
        first_line = _failing_cell_line(target, exc.exec_count)
        return {**base, "cell": exc.exec_count,
                "message": (f"run {params.name!r}: notebook {nb.stem}, cell {exc.exec_count}"
                            f"{' (' + first_line + ')' if first_line else ''}: {exc.ename}: {exc.evalue}. "
                            f"The executed notebook is in {_KEPT}/notebooks/{nb.name}; "
                            "the last good report stays published.")}
    except Exception as exc:  # the kernel died, the notebook is unreadable, ...
        return {**base, "message": f"run {params.name!r}: notebook {nb.stem} could not run: {type(exc).__name__}: "
                                   f"{exc}. Kept in {_KEPT}; the last good report stays published."}
    return None


def _failing_cell_line(path: Path, exec_count: int | None) -> str:
    with contextlib.suppress(Exception):
        import nbformat

        nb = nbformat.read(str(path), as_version=4)
        for cell in nb.cells:
            if cell.get("cell_type") == "code" and cell.get("execution_count") == exec_count:
                lines = [ln for ln in cell.source.splitlines() if ln.strip() and not ln.startswith("#")]
                return lines[0][:80] if lines else ""
    return ""


def tidy_executed_notebook(path: str | Path) -> Path:
    """Make an executed notebook reproducible: no clock times, no staging path, stable ids.

    papermill and nbclient record when each cell ran, papermill gives its injected-parameters cell
    a random id, and the injected ``cache_dir`` names the run's staging folder (gone once
    published). Outputs are left as they are. The cache path becomes ``""``, which is also what a
    reader re-running the notebook by hand wants (the notebook then computes the analysis itself).
    """
    import nbformat

    path = Path(path)
    nb = nbformat.read(str(path), as_version=4)
    pm_meta = nb.metadata.get("papermill", {})
    for key in ("start_time", "end_time", "duration"):
        pm_meta.pop(key, None)
    pm_meta["output_path"] = f"notebooks/{path.name}"
    if "cache_dir" in pm_meta.get("parameters", {}):
        pm_meta["parameters"]["cache_dir"] = ""
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        for key in ("start_time", "end_time", "duration"):
            cell.metadata.get("papermill", {}).pop(key, None)
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell["id"] = _INJECTED_ID
            cell.source = "\n".join('cache_dir = ""' if line.startswith("cache_dir = ") else line
                                    for line in cell.source.split("\n"))
    nbformat.write(nb, str(path))
    return path


def _publish(folder: Any, params: RunParams, analysis: Any, staged: Path, seconds: dict[str, float],
             notebooks: Sequence[str]) -> dict[str, Any]:
    from .evaluate import SCHEME_NAMES
    from .pipeline import write_run_files

    write_run_files(analysis, staged, notebook_seconds={k: duration(v) for k, v in seconds.items()})
    folder.publish(params.name, staged)
    folder.clear_failed(params.name)
    rec = analysis.scorecard["recommended"]
    from .i18n import _, using

    with using(params.language):  # the index page shows it in the run's language
        label = _(SCHEME_NAMES.get(rec, rec)) + ("" if analysis.scorecard.get("clear_winner")
                                                 else " " + _("(no clear winner)"))
    return {"status": "published", "exit_code": EXIT_OK, "recommended": rec, "recommended_label": label,
            "data_last_date": analysis.data.get("last_date"), "sha256": analysis.data.get("sha256"),
            "inputs": inputs_key(params, analysis.data.get("sha256"), notebooks),
            "notebooks": [Path(n).stem for n in notebooks], "seconds": round(duration(sum(seconds.values())), 2),
            "message": ""}


# ====================================================================== every run of a config
def run_all(runs: Sequence[RunParams], out: str | Path, notebooks: Sequence[str] | None = None, jobs: int = 1,
            *, if_changed: bool = False) -> dict[str, dict]:
    """Execute ``runs`` (``jobs`` at a time) and publish each; returns every run's index entry.

    Each run executes its own ``notebooks`` folder if it names one, else ``notebooks`` (a list of
    paths), else segkit's own. With ``if_changed`` a run whose inputs equal those of its published
    report (see :func:`unchanged`) is not executed: its entry has status ``unchanged``.
    Holds the output folder's lock throughout and rewrites ``index.html``/``index.json`` at the end,
    also after an interruption (the runs finished by then are listed).
    """
    from .publish import OutputFolder

    source_date_epoch()  # a malformed SOURCE_DATE_EPOCH stops the command before any work
    folder = OutputFolder(out)
    results: dict[str, dict[str, Any]] = {}
    with folder.locked():
        todo = []
        for r in runs:
            nbs = run_notebooks(r, notebooks)
            kept = unchanged(folder, r, nbs) if if_changed else None
            if kept is not None:
                results[r.name] = kept
                _report_progress(r.name, kept, None)
            else:
                todo.append((r, nbs))
        bar = _progress_bar(sum(len(nbs) + 1 for _, nbs in todo)) if todo else None
        try:
            if jobs == 1 or len(todo) <= 1:
                for r, nbs in todo:
                    results[r.name] = execute_run(r, out, nbs, progress=bar and _BarSteps(bar))
                    _report_progress(r.name, results[r.name], bar)
            else:
                _run_parallel(todo, out, jobs, bar, results)
        finally:
            if bar is not None:
                bar.close()
            if results:
                folder.update_index({k: {kk: vv for kk, vv in v.items() if kk != "traceback"}
                                     for k, v in results.items()})
    return results


def _run_parallel(todo: Sequence[tuple[RunParams, list[str]]], out: str | Path, jobs: int, bar: Any,
                  results: dict[str, dict[str, Any]]) -> None:
    ctx = multiprocessing.get_context("spawn")
    # workers report steps through a managed queue (only when a bar shows them)
    manager = ctx.Manager() if bar is not None else None
    queue = manager.Queue() if manager is not None else None
    try:
        with cf.ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=ctx) as pool:
            futures = {pool.submit(execute_run, r, out, nbs, queue): r.name for r, nbs in todo}
            pending = set(futures)
            while pending:
                done, pending = cf.wait(pending, timeout=0.25, return_when=cf.FIRST_COMPLETED)
                _drain(queue, bar)
                for fut in done:
                    name = futures[fut]
                    try:
                        results[name] = fut.result()
                    except Exception as exc:  # a worker died (killed, out of memory)
                        results[name] = {"status": "failed", "exit_code": EXIT_FAILED, "generated": timestamp(),
                                         "message": f"run {name!r}: worker stopped: {type(exc).__name__}: {exc}"}
                    _report_progress(name, results[name], bar)
    finally:
        if manager is not None:
            manager.shutdown()


# ====================================================================== progress
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
    if result["status"] == "unchanged":
        line += f" since {result.get('unchanged_since')}: not run again (--if-changed)"
    if bar is not None:
        bar.write(line, file=sys.stderr)
    else:
        print(line, file=sys.stderr, flush=True)
