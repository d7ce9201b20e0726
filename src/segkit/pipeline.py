"""One run from data to every table the notebooks and exported files need.

:func:`analyze` loads and cleans the data, computes the feature tables (at the cut-off, one month
earlier and at every earlier backtest cut-off, while the transactions are open), fits every
registered scheme (:mod:`segkit.schemes.registry`) at each cut-off, scores them and the simple
rankings on the run's own outcome with one shared bootstrap (:mod:`segkit.backtest`,
:mod:`segkit.compare`) and chooses one. The :class:`Analysis` it returns is what every notebook
reads, and :func:`write_run_files` exports it (``assignments.csv``, ``tiers_monthly.csv``,
``alerts.csv``, ``actions.csv``, ``scorecard.json``, ``run.json``).

A run computes its analysis once: ``segkit run`` saves it into the staging folder
(:meth:`Analysis.save`) and passes that folder to the notebooks as ``cache_dir``; a notebook opened
by hand in JupyterLab computes it itself (a few seconds on the bundled data).

Example (skipped by the doctest run: a full analysis of CDNOW with 1,000 bootstrap resamples and
two k-means sweeps takes 10-20 s, too long for a docstring check; tests/test_cli.py runs it)
-------
>>> from segkit.config import RunParams, CDNOW_PATH
>>> from segkit.pipeline import analyze
>>> a = analyze(RunParams.from_mapping({"name": "demo", "data": str(CDNOW_PATH)}))  # doctest: +SKIP
>>> a.scorecard["recommended"]  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import glob
import hashlib
import json
import pickle
import shutil
import time
from pathlib import Path
from collections.abc import Callable, Iterator
from typing import Any

import ibis
import pandas as pd
from pandas.api.types import union_categoricals

from . import __version__
from .atomic import atomic_open, atomic_write
from .calendar import Split, month_end, shift_date
from .config import RunParams, is_connection_url
from .csvfiles import write_csv
from .data import QualityReport, Transactions, file_sha256, load_transactions, sha256_of_files
from .engines import compress_tables, forget, left_join, materialize, private_folder, same_text, to_pandas
from .errors import DataError, ParameterError
from .reproducible import one_thread, side_by_side
from . import backtest, backtest_engine, compare, i18n, narrative
from .evaluate import (AlignedOutcomes, BootstrapWeights, agreement, build_scorecard, holdout_curves, migration_matrix, persistence,
                       recommended_segments, score_scheme, stabilities, union_vs_period_total,
                       vip_sensitivity)
from .features import (CustomerMonths, available_criteria, criterion_available, customer_features,
                       customer_features_table, holdout_outcomes, split_periods)
from .decisions.actions import ACTION_COLUMNS, payment_counts
from .decisions.maintenance import customer_returns
from .decisions.erosion import erosion_alerts
from .decisions.run import Decisions, decide, earlier_stages, stage_labels, with_tier_change
from .decisions.stages import per_customer_frames
from .schemes import PercentileTiers, SchemeInputs, apply_overrides, load_overrides
from .schemes import registry
from .schemes._base import isin, no_purchase_values, text_categories
from .potential import outputs as potential_outputs
from .potential.summary import holdout_purchases, summary_frame

__all__ = ["Analysis", "analyze", "load_or_analyze", "write_run_files", "package_versions", "segment_summary",
           "assignment_columns", "comparison", "ASSIGNMENT_COLUMNS", "SCHEMES", "SENSITIVITY_SHARES"]

#: the columns every assignments.csv carries whatever the schemes
_SHARED_COLUMNS = ("lifecycle_stage", "override_tier", "override_reason", "recommended_segment")
#: the decisions' columns, always last (after every scheme's)
_DECISION_COLUMNS = ("tier_change",)
#: VIP shares the sensitivity table tries
SENSITIVITY_SHARES = (0.1, 0.15, 0.2, 0.25, 0.3)
_CACHE_FILE = "analysis.pkl"


def assignment_columns() -> list[str]:
    """The columns of assignments.csv, in order.

    customer_id, the columns of the original schemes (registry order), the shared columns, then the
    columns of segkit's later schemes (``potential``), then those of any scheme added as a plug-in
    (a new scheme appends, it never moves a column), then ``tier_change`` (the decisions', last).

    >>> assignment_columns()[:2], assignment_columns()[-7:]
    (['customer_id', 'percentile_tier'], ['recommended_segment', 'potential_tier', 'p_alive', \
'expected_purchases', 'predicted_value', 'peer_headroom', 'tier_change'])
    """
    original = set(registry.ORIGINAL)
    shipped = {s.name for s in registry.BUILTIN} - original
    specs = registry.schemes()
    return ["customer_id", *(c for s in specs if s.name in original for c in s.columns), *_SHARED_COLUMNS,
            *(c for s in specs if s.name in shipped for c in s.columns),
            *(c for s in specs if s.name not in original | shipped for c in s.columns), *_DECISION_COLUMNS]


#: registered scheme names in tie-break order; always current (a view of the registry)
SCHEMES = registry.LiveSequence(registry.names)
#: the columns of assignments.csv; always current (see :func:`assignment_columns`)
ASSIGNMENT_COLUMNS = registry.LiveSequence(assignment_columns)


@dataclasses.dataclass
class Analysis:
    """Everything one run computed. Frames are small (one row per customer or per segment)."""

    params: RunParams
    data: dict[str, Any]
    quality: QualityReport
    split: Split
    features: pd.DataFrame
    monthly: pd.DataFrame
    outcomes: pd.DataFrame
    holdout_monthly: pd.DataFrame
    schemes: dict[str, Any]
    previous_tables: dict[str, pd.DataFrame]
    scores: dict[str, dict[str, Any]]
    recommendation: dict[str, Any]
    assignments: pd.DataFrame
    tiers_monthly: pd.DataFrame
    alerts: pd.DataFrame
    lifecycle: pd.DataFrame
    overrides: pd.DataFrame
    scorecard: dict[str, Any]
    timings: dict[str, float]
    started: str
    finished: str
    extras: dict[str, Any] | None = None
    #: the backtest: the earlier origins' splits (main cut-off excluded; their per-customer tables are
    #: let go once scored), the scored origins, which origins were kept and why, the holdout over the
    #: longest horizon the report tries
    backtest: dict[str, Any] | None = None
    #: rows of the potential model's alert rule (alerts.csv lists them after ``alerts``, the VIP dropouts)
    model_alerts: pd.DataFrame | None = None
    #: purchases (distinct days or orders) per customer in the holdout, as the purchase model counts them
    holdout_purchases: pd.DataFrame | None = None
    #: stages, payback, capacity, erosion, contact list (:mod:`segkit.decisions.run`)
    decisions: Decisions | None = None
    #: the predicted-value model's per-customer summary at the cut-off (for refits in the comparison)
    potential_summary: pd.DataFrame | None = None
    #: per customer: purchase and return lines of the window (:func:`segkit.decisions.customer_returns`)
    returns: pd.DataFrame | None = None
    #: customers seen up to as_of without a purchase (only returns): listed in assignments.csv, not
    #: segmented or scored; ``customer_id, return_lines, returns_value`` (see :func:`without_purchase`)
    without_purchase: pd.DataFrame | None = None
    #: ``customer_id, stage`` one month before the cut-off (the stage transitions): every customer of
    #: ``features``, the stage categorical and missing for those who had not bought by then
    #: (:func:`segkit.decisions.run.earlier_stages`); None: the decisions count them from ``monthly``
    stages_earlier: pd.DataFrame | None = None
    #: the contact list's payment counts (:func:`segkit.decisions.actions.payment_counts`), counted in
    #: the engine; None: the contact list counts them from ``monthly``
    payment_counts: pd.DataFrame | None = None

    def alert_rows(self) -> pd.DataFrame:
        """The content of alerts.csv: every rule's rows (VIP dropouts, the model's rule, margin erosion)."""
        erosion = self.decisions.erosion if self.decisions is not None else None
        return potential_outputs.combine_alerts(
            self.alerts, self.model_alerts, erosion_alerts(erosion) if erosion is not None and len(erosion) else None)

    def comparison(self) -> dict[str, Any]:
        """Curves, movement, agreement and sensitivity the reports show (computed once, then kept).

        ``segkit segment`` never needs them, so they are computed on first use; :meth:`save`
        computes them before saving, so the notebooks of a run share one computation.
        """
        if self.extras is None:
            self.extras = comparison(self)
        return self.extras

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Each scheme's segment table (customer_id, segment, rank)."""
        return {name: s.segment_table() for name, s in self.schemes.items()}

    def save(self, folder: str | Path) -> Path:
        """Pickle the analysis, with its comparison tables, for the run's notebooks."""
        self.comparison()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / _CACHE_FILE
        with atomic_open(path, "wb") as fh:
            pickle.dump({"key": cache_key(self.params, self.data["sha256"]), "analysis": self}, fh,
                        protocol=pickle.HIGHEST_PROTOCOL)
        return path

    def population(self) -> dict[str, int]:
        """Who the rows of assignments.csv are: ``evaluated`` (a purchase up to as_of: segmented and
        scored), ``without_purchase`` (seen up to as_of with returns only: listed, not scored) and
        ``prospects`` (placed by hand before any transaction); they add up to ``assignments``."""
        absent = 0 if self.without_purchase is None else len(self.without_purchase)
        return {"assignments": len(self.assignments), "evaluated": len(self.features), "without_purchase": absent,
                "prospects": len(self.assignments) - len(self.features) - absent}

    def run_info(self, notebook_seconds: dict[str, float] | None = None) -> dict[str, Any]:
        """The content of ``run.json``."""
        return {
            "run": self.params.name,
            "title": self.params.display_title,
            "parameters": self.params.to_dict(),
            "data": self.data,
            "periods": self.split.to_dict(),
            "population": self.population(),
            "packages": package_versions(),
            "started": self.started,
            "finished": self.finished,
            "seconds": {k: round(v, 3) for k, v in self.timings.items()},
            "seconds_per_notebook": {k: round(v, 3) for k, v in (notebook_seconds or {}).items()},
        }


def cache_key(params: RunParams, sha256: str | None) -> str:
    """What a cached analysis must match: the parameters, the data's SHA-256, the overrides file's
    content and the segkit version."""
    overrides = file_sha256(params.overrides) if params.overrides and Path(params.overrides).is_file() else None
    payload = json.dumps({"params": params.to_dict(), "sha256": sha256, "overrides": overrides,
                          "version": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _data_sha256(params: RunParams) -> str | None:
    """The data's SHA-256 as :func:`segkit.data.load_transactions` records it (one file: its hash;
    a glob: the names and hashes of the matching files); None for a database table, which cannot
    be hashed without reading it."""
    if is_connection_url(params.data):
        return None
    text = str(params.data)
    paths = sorted(glob.glob(text)) if any(ch in text for ch in "*?[") else [text]
    if not paths or not all(Path(p).is_file() for p in paths):
        return "missing"
    return sha256_of_files(paths)


def load_or_analyze(params: RunParams, cache_dir: str | Path | None = None) -> Analysis:
    """The run's analysis from ``cache_dir`` when it was saved there for this data, else computed.

    Notebooks call this: under ``segkit run`` the analysis is computed once per run and shared by
    the notebooks; opened by hand, a notebook computes it itself. The cached analysis is used only
    when its key still matches (:func:`cache_key`): the same parameters, segkit version, overrides
    file and data, the data hashed again now, so a file changed since the analysis is analysed
    afresh. (A database table is not hashed: its cache is checked against everything else.)
    """
    if cache_dir:
        path = Path(cache_dir) / _CACHE_FILE
        if path.exists():
            try:
                with open(path, "rb") as fh:
                    saved = pickle.load(fh)  # written by segkit itself for this run (see Analysis.save)
            except Exception:  # noqa: BLE001 - an unreadable or foreign cache is simply not used
                saved = None
            current = _data_sha256(params)
            if (isinstance(saved, dict) and isinstance(saved.get("analysis"), Analysis)
                    and saved["analysis"].params == params
                    and (current is None or current == saved["analysis"].data.get("sha256"))
                    and saved.get("key") == cache_key(params, saved["analysis"].data.get("sha256"))):
                return saved["analysis"]
    return analyze(params)


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": __import__("platform").python_version(), "segkit": __version__}
    for name in ("pandas", "numpy", "scikit-learn", "scipy", "duckdb", "ibis-framework", "pyarrow", "matplotlib",
                 "seaborn", "papermill", "nbconvert"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover - optional
            out[name] = "not installed"
    return out


def _stopwatch(timings: dict[str, float]) -> Any:
    """``lap(name)`` records the seconds since the previous lap (or since this call) under ``name``."""
    clock = [time.perf_counter()]

    def lap(name: str) -> None:  # a stage timed in two parts adds them up
        now = time.perf_counter()
        timings[name] = timings.get(name, 0.0) + now - clock[0]
        clock[0] = now

    return lap


@one_thread  # numeric pools on one thread: the same numbers on any machine (segkit.reproducible)
def analyze(params: RunParams, *, tx: Transactions | None = None, n_boot: int = 1000) -> Analysis:
    """Run every step of one segmentation run and return the :class:`Analysis`.

    Raises segkit errors (exit code 2) for bad data or parameters that do not fit the data.
    """
    started = dt.datetime.now(dt.timezone.utc)
    timings: dict[str, float] = {}
    lap = _stopwatch(timings)
    own_tx = tx is None  # loaded here: closed as soon as the per-customer tables are computed
    tx = tx if tx is not None else load_transactions(
        params.data, params.columns, drop_duplicates=params.drop_duplicates, max_bad_share=params.max_bad_share,
        filter=params.filter, engine=params.engine, table=params.table)
    compress_tables(tx.con)  # held beside the per-customer frames of the whole features stage
    split = _split(params, tx)
    lap("load")
    tables = _tables(params, tx, split, own_tx)
    spilled = tables["origins"], tables["stages"]  # their files: gone however the run ends
    try:
        lap("features")
        return _fitted_and_scored(params, tx, split, tables, n_boot, lap, timings, started)
    finally:
        for files in spilled:
            files.discard()


def _fitted_and_scored(params: RunParams, tx: Transactions, split: Split, tables: dict[str, Any], n_boot: int,
                       lap: Any, timings: dict[str, float], started: dt.datetime) -> Analysis:
    """:func:`analyze` once the per-customer tables exist: fit, score, decide."""
    _check_enough_customers(params, tx, split, len(tables["features"]))
    _check_holdout_has_purchases(params, tx, split, tables["holdout_monthly"])
    inputs = SchemeInputs(features=tables["features"], monthly=tables["monthly"], split=split, params=params,
                          potential=tables["potential"])
    # the month-earlier inputs serve the refit only: let go as soon as it is done (~0.3 KB per customer)
    schemes, previous_tables = _fit_schemes(inputs, tables.pop("previous"))
    main_origin = backtest.Origin(split, inputs.features, inputs.monthly, tables["holdout_monthly"],
                                  tables["potential"])
    segment_tables = {n: s.segment_table() for n, s in schemes.items()}
    scoring = _backtest_scoring(params, schemes, main_origin, segment_tables, tables)
    lap("schemes")
    timings["lifecycle_overrides"] = 0.0  # (stage order in run.json)
    # the comparison first: every cut-off's ranks and outcomes go before the next per-customer
    # tables are made (about 0.3 KB per customer and cut-off at the peak otherwise)
    # the run's resamples drawn first: above 100,000 customers the comparison's (at most 500) are
    # their first rows, not a draw of their own (1.5 s)
    weights = BootstrapWeights.for_customers(len(inputs.features), n_boot, params.seed).prepare()
    entries = backtest.score_origins(scoring, params, n_boot=n_boot)
    del scoring
    lap("evaluate")
    customers = inputs.features["customer_id"]
    # the relationship stages, counted with the per-customer tables: read back from disk
    lifecycle, absent_stages, stages_earlier, payments = _stages_read_back(tables["stages"], customers)
    absent = tables["without_purchase"]
    overrides = (load_overrides(params.overrides, known_customers=customers) if params.overrides
                 else pd.DataFrame(columns=["customer_id", "tier", "reason"]))
    tiers = schemes["percentile_tiers"]  # the tiers own tiers_monthly.csv, alerts.csv and the overrides
    applied = apply_overrides(tiers.segment_table(), overrides)
    alerts, model_alerts = _alerts(tiers, schemes.get("potential"), inputs)
    lap("lifecycle_overrides")
    scores = _scores(segment_tables, tables["outcomes"], previous_tables, weights, n_boot=n_boot, seed=params.seed)
    recommendation = _recommendation(params, entries, tables["origin_info"])
    scorecard = build_scorecard(params.name, split, scores, recommendation["scorecard"])
    scorecard["models"] = _models(schemes)
    lap("evaluate")
    return _decided(Analysis(
        params=params, data=tables["data_info"], quality=tx.quality, split=split, features=inputs.features,
        monthly=inputs.monthly, outcomes=tables["outcomes"], holdout_monthly=tables["holdout_monthly"],
        schemes=schemes, previous_tables=previous_tables, scores=scores, recommendation=recommendation,
        assignments=pd.DataFrame(columns=assignment_columns()),  # made after the decisions (_decided)
        tiers_monthly=tiers.monthly_tiers_.copy(deep=False), alerts=alerts, lifecycle=lifecycle,
        overrides=applied, scorecard=scorecard, timings=timings, started=started.isoformat(timespec="seconds"),
        finished=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        model_alerts=model_alerts, holdout_purchases=tables["holdout_purchases"],
        potential_summary=tables["potential"], without_purchase=absent, stages_earlier=stages_earlier,
        payment_counts=payments,
        backtest={"origins": tables["origins"], "entries": entries, "info": tables["origin_info"],
                  "holdout_long": tables["holdout_long"], "data_end": tables["data_end"]},
    ), tables["returns"], _headroom_rows(segment_tables),
        lambda: _assignments(_with_absent_stages(lifecycle, absent_stages), applied, segment_tables, recommendation,
                             absent))


def _headroom_rows(segment_tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """``customer_id, peer_headroom`` of the segment table that fills that assignments column (the
    potential scheme's), as the decisions read it from the assignments; without one, ``customer_id`` only."""
    for spec in registry.schemes():
        source = spec.columns.get("peer_headroom")
        if source is not None and spec.name in segment_tables:
            table = segment_tables[spec.name]
            return pd.DataFrame({"customer_id": table["customer_id"], "peer_headroom": table[source]})
    return pd.DataFrame({"customer_id": pd.Series([], dtype="str")})


def _backtest_scoring(params: RunParams, schemes: dict[str, Any], main: backtest.Origin,
                      segment_tables: dict[str, pd.DataFrame], tables: dict[str, Any]) -> list[backtest.Scoring]:
    """What the comparison needs of every origin (:func:`segkit.backtest.prepare_scoring`), main first.

    Each earlier origin is fitted and reduced to its segment ranks, outcomes and baseline keys in turn,
    and its per-customer tables are let go (``tables["origins"]`` keeps only the splits): they are
    most of a run's memory at millions of customers, and nothing reads them afterwards.
    """
    scoring = [backtest.prepare_scoring(main, segment_tables, params.criterion)]
    earlier, tables["origins"] = tables["origins"], []
    for origin in earlier.take():  # read back one at a time (_SpilledOrigins)
        scoring.append(backtest.scoring_of(origin, params, schemes))  # one scheme's table at a time
        tables["origins"].append(origin.split)
        del origin
    return scoring


class _SpilledOrigins:
    """The earlier backtest origins, kept on disk until they are fitted, one at a time (and, in
    another instance, the relationship stage tables until the decisions: :func:`_stage_tables`).

    Their tables must be computed while the transactions are open, and the engine is closed before
    the schemes are fitted (at 10M rows DuckDB holds the data in about 0.9 GB); held in memory, the
    origins' per-customer tables would all be alive at once (about 0.7 GB per origin at 3.4M
    customers). Each is pickled to a private temporary folder as it is computed and read back when
    its turn comes (the same frames, dtypes and all); the folder goes when the origins have been
    taken or the run ends (:meth:`discard`).
    """

    def __init__(self) -> None:
        self._folder: Path | None = None
        self._paths: list[Path] = []

    def __len__(self) -> int:
        return len(self._paths)

    def append(self, origin: backtest.Origin) -> None:
        if self._folder is None:
            self._folder = Path(private_folder("segkit-origins-"))  # a killed run's folder goes next time
        path = self._folder / f"origin{len(self._paths)}.pkl"
        with open(path, "wb") as fh:
            pickle.dump(origin, fh, protocol=pickle.HIGHEST_PROTOCOL)
        self._paths.append(path)

    def pop(self) -> Any:
        """The first table written, read back and its file removed (:meth:`discard` removes the folder)."""
        path = self._paths.pop(0)
        with open(path, "rb") as fh:
            kept = pickle.load(fh)  # written by this run, just above
        path.unlink()
        return kept

    def take(self) -> Iterator[backtest.Origin]:
        """Each origin in turn, read back and its file removed; the folder goes after the last."""
        try:
            while self._paths:
                path = self._paths.pop(0)
                with open(path, "rb") as fh:
                    origin = pickle.load(fh)  # written by this run, just above
                path.unlink()
                yield origin
                del origin
        finally:
            self.discard()

    def discard(self) -> None:
        """Remove the folder and whatever it still holds (a failed run leaves nothing behind)."""
        self._paths = []
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


def _decided(analysis: Analysis, returns: pd.DataFrame, headroom: pd.DataFrame,
             assignments: Callable[[], pd.DataFrame]) -> Analysis:
    """The analysis with its decisions (:func:`segkit.decisions.run.decide`), then its assignments
    (``assignments()``) with ``tier_change``.

    The assignments are made after the decisions, which read only their peer headroom (``headroom``,
    the same rows): the decisions are the run's highest point, and the assignments are about 0.1 KB
    per customer of their own (copies of the segment tables' columns, in customer order).
    """
    analysis.returns = returns
    analysis.decisions = decide(analysis, headroom=headroom)
    analysis.assignments = with_tier_change(assignments(), analysis.decisions)
    return analysis


def _alerts(tiers: Any, potential: Any, inputs: SchemeInputs) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The tiers' VIP dropouts (rule ``vip_dropout``) and the model's rule rows (rule ``p_alive``).

    Which customers the model's rule covers: see :mod:`segkit.potential.outputs`.
    """
    predictions = potential.predictions_ if potential is not None else None
    seed = potential_outputs.seed_alert_rows(tiers.alerts_, predictions)
    if predictions is None:
        return seed, None
    features = inputs.features.assign(customer_id=inputs.features["customer_id"].astype(str)).set_index("customer_id")
    model = potential_outputs.model_alert_rows(predictions, tiers.labels_, tiers.window_totals_,
                                               tiers.monthly_tiers_, features["last_purchase"])
    return seed, model


def _models(schemes: dict[str, Any]) -> dict[str, Any]:
    """scorecard.json's ``models``: each model-based scheme's parameters, counts and fit diagnostics."""
    out = {}
    for name, scheme in schemes.items():
        model = getattr(scheme, "model_", None)
        if model is not None and hasattr(model, "to_dict"):
            info = {**model.to_dict(), "horizon_days": getattr(scheme, "horizon_days", None)}
            # fit times vary from run to run; scorecard.json must not (the same data give the same file)
            info["diagnostics"] = {part: {k: v for k, v in d.items() if k != "seconds"}
                                   for part, d in info.get("diagnostics", {}).items()}
            out[name] = info
    return out


def _recommendation(params: RunParams, entries: list[dict[str, Any]], info: dict[str, Any]) -> dict[str, Any]:
    """The verdict on the scored origins, its reasons in words (in the run's language), and its part of
    ``scorecard.json``."""
    with i18n.using(params.language):
        return _recommendation_words(params, entries, info)


def _recommendation_words(params: RunParams, entries: list[dict[str, Any]], info: dict[str, Any]) -> dict[str, Any]:
    decided = backtest.decide(entries, params)
    decision, retention = decided["decision"], decided["retention"]
    main = entries[0]["results"]
    reasons = narrative.verdict_reasons(decision, main, retention, measure=params.criterion,
                                        horizon_months=params.holdout_months, window_months=params.window_months)
    note = narrative.backtest_note(info, step_months=backtest.ORIGIN_STEP)
    if note:
        reasons.append(note)
    rule = narrative.decision_rule(params.vip_share, compare.TOLERANCE, decision["schemes"])
    fragments = compare.scorecard_fragments(main, entries, decision, measure=params.criterion,
                                            horizon_months=params.holdout_months, decision_rule=rule)
    fragments["backtest_origins"] = {k: info[k] for k in ("requested", "used")} | {"note": note}
    return {"recommended": decision["recommended"], "clear_winner": decision["clear_winner"], "reasons": reasons,
            "decision": decision, "retention": retention, "scorecard": {
                "recommended": decision["recommended"], "reasons": reasons, **fragments}}


def _split(params: RunParams, tx: Transactions) -> Split:
    """The run's periods, checked against the data (and the criterion's column against the file)."""
    criterion_available(tx, params.criterion)
    try:
        return split_periods(tx, as_of=params.as_of_date, holdout_months=params.holdout_months,
                             window_months=params.window_months)
    except ParameterError as exc:  # name the data the periods were measured on
        raise ParameterError(exc.what, where=f"key {exc.where!r} with the data {tx.path}", fix=exc.fix) from exc


def _tables(params: RunParams, tx: Transactions, split: Split, own_tx: bool) -> dict[str, Any]:
    """Every per-customer table the run needs: at the cut-off, one month earlier (for stability),
    at every earlier backtest origin, and the holdout over the longest horizon the report tries."""
    previous_split = split.shifted(-1)
    splits, info = backtest.origin_splits(split, tx.first_date, params.backtest_origins)
    main_start = min(split.previous_window_months[0], previous_split.previous_window_months[0])
    in_engine = backtest_engine.engine_schemes(tx) if len(splits) > 1 else None
    months = _shared_months(params, tx, split, min(main_start, backtest.history_start(splits)))
    origins, stages = _SpilledOrigins(), None
    try:
        if in_engine is not None:
            # ranked in the engine, the earlier cut-offs read no table of the run's: they go first, while
            # no per-customer table is in memory (beside the run's own, they were the run's peak)
            _spill_origins(params, tx, splits[1:], None, info, origins, in_engine, months)
        # the earlier cut-offs' months too, unless they ranked in the engine
        long_monthly, stage_months = _months(months, split, main_start if in_engine is not None else months.start,
                                             main_start)
        monthly = _from_month(long_monthly, main_start)
        features = customer_features(tx, split.as_of)
        absent = without_purchase(tx, split.as_of)  # listed in assignments.csv, not scored
        stages = _stage_tables(split, features, absent, stage_months)
        if in_engine is None:
            _spill_origins(params, tx, splits[1:], long_monthly, info, origins, None, months)
        del long_monthly
        out = {**_main_tables(params, tx, split, features, monthly, origins, info, months),
               "without_purchase": absent, "stages": stages}
    except BaseException:
        origins.discard()
        if stages is not None:
            stages.discard()
        raise
    finally:
        months.drop()
    if own_tx:
        tx.close()  # everything below works on per-customer pandas frames; DuckDB's buffers go back
    return out


def _from_month(monthly: pd.DataFrame, start: dt.date) -> pd.DataFrame:
    """The rows of ``monthly`` from ``start``'s month on: ``monthly`` itself when they are all of them
    (the earlier cut-offs ranked in the engine). A mask of all True copies every column (about 2.5 GB
    of customer months at 100M B2B rows, held twice while the earlier cut-offs were computed)."""
    keep = monthly["month"] >= pd.Timestamp(start)
    return monthly if keep.all() else monthly[keep].reset_index(drop=True)


def _through_month(monthly: pd.DataFrame, end: dt.date) -> pd.DataFrame:
    """The rows of ``monthly`` up to ``end``. The run's table is sorted by month: they are its first
    rows, a slice that shares its columns (a mask copied every column but of the last month, kept
    until the month-earlier refit: about 0.1 KB per customer at 10M B2C rows, 0.3 KB at B2B)."""
    month = monthly["month"]
    if month.is_monotonic_increasing:
        return monthly.iloc[:int(month.searchsorted(pd.Timestamp(end), side="right"))]
    return monthly[month <= pd.Timestamp(end)]


def _shared_months(params: RunParams, tx: Transactions, split: Split, start: dt.date) -> CustomerMonths:
    """The customer months every part of the run reads, computed once in the engine: from ``start``
    (the first month a cut-off's tiers look at) to the end of the longest holdout, or to the cut-off
    when it falls inside a month (a month then mixes the two sides; the holdouts are their own queries)."""
    horizon = max(params.holdout_months, 6)
    end = max(split.holdout_end, shift_date(split.as_of, horizon))
    return CustomerMonths.compute(tx, start, end if split.as_of == month_end(split.as_of) else split.as_of)


def _months(months: CustomerMonths, split: Split, start: dt.date,
            main_start: dt.date) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The customer-month table from ``start`` to the cut-off (pandas), and each customer's months
    counted for the relationship stages at the cut-off and one month earlier (``now``, ``earlier``:
    :func:`segkit.decisions.stages.per_customer_frames`, from ``main_start`` as the run's ``monthly``)
    and for the contact list (``payments``: :func:`segkit.decisions.actions.payment_counts`).

    The table is the run's shared one (:class:`segkit.features.CustomerMonths`); the stages' counts
    come back one row per customer instead of being counted in pandas over every customer-month later
    in the run."""
    long_monthly = months.frame(start, split.as_of)
    rows = months.rows(main_start, split.as_of)
    earlier = split.shifted(-1).as_of
    if months.covers(main_start, earlier):
        counted = dict(zip(("now", "earlier"), per_customer_frames(rows, [split.as_of, earlier],
                                                                    one_row_per_month=True), strict=True))
    else:  # a cut-off inside a month: the earlier one counts its last month up to its day, not whole
        counted = {"now": per_customer_frames(rows, [split.as_of], one_row_per_month=True)[0],
                   "earlier": per_customer_frames(months.rows(main_start, earlier), [earlier],
                                                  one_row_per_month=True)[0]}
    counted["payments"] = payment_counts(rows, split.as_of)  # the contact list's first and second purchases
    return long_monthly, counted


def _main_tables(params: RunParams, tx: Transactions, split: Split, features: pd.DataFrame,
                 monthly: pd.DataFrame, origins: "_SpilledOrigins", info: dict[str, Any],
                 months: CustomerMonths) -> dict[str, Any]:
    previous_split = split.shifted(-1)
    horizon = max(params.holdout_months, 6)
    out = {
        "features": features, "monthly": monthly,
        "outcomes": holdout_outcomes(tx, split, features["customer_id"]),
        "holdout_monthly": months.frame(split.holdout_start, split.holdout_end),
        # a longer horizon than the run's own, for the "does the verdict move?" table
        "holdout_long": (months.frame(split.holdout_start, shift_date(split.as_of, horizon))
                         if horizon > params.holdout_months else None),
        "data_end": tx.last_date, "origins": origins, "origin_info": info,
        "previous": _previous_inputs(params, tx, previous_split, monthly, months),
        # the potential scheme's inputs, computed while the transactions are open
        # sharing the features' ids (the same customers in the same order): one buffer, not two
        "potential": _with_ids_of(summary_frame(tx, split.as_of, criterion=params.criterion), features["customer_id"]),
        "holdout_purchases": holdout_purchases(tx, split.holdout_start, split.holdout_end),
        "data_info": {**tx.data_info(), "has": sorted(tx.has)},
        "returns": customer_returns(tx, split.window_months[0], split.as_of),  # high-maintenance customers
    }
    if out["holdout_long"] is None:
        out["holdout_long"] = out["holdout_monthly"]
    return out


def _previous_inputs(params: RunParams, tx: Transactions, split: Split, monthly: pd.DataFrame,
                     months: CustomerMonths) -> SchemeInputs:
    """The inputs of the refit one month earlier (``split``: that cut-off), with ``refitted``: the segment
    tables of the schemes that refit in the engine (``refit_table``, on segkit's DuckDB), computed here
    while the transactions are open, so those schemes are not fitted again in pandas (the percentile
    tiers: about 4 s and 0.6 GB at 3.4M customers).

    The months are the run's up to that cut-off when they are whole months; a cut-off inside a month
    gets its last month counted up to that day from the transactions, as the run's own cut-off does
    (the run's table holds that month whole: the refit read the days after its cut-off)."""
    start = split.previous_window_months[0]  # the first month the tiers read: the window before the window
    whole = months.covers(start, split.as_of)
    specs = [s for s in registry.schemes() if callable(getattr(s.cls, "refit_table", None))] \
        if backtest_engine.engine_schemes(tx) is not None else []
    # the schemes refitted in pandas read a few of the feature columns (``features_at_refit``; RFM and
    # k-means 4 of 15): only those are fetched (the others waited to the fits for nothing, about
    # 0.27 GB at 3.4M customers in the features stage, the run's highest point)
    wanted = backtest_engine.refit_columns(params, specs) if specs else None
    features = customer_features(tx, split.as_of, columns=None if wanted is None else sorted(wanted))
    # the refit reads the customers' ids only: handed to the engine as they are (no feature table kept there)
    customers = ibis.memtable(features[["customer_id"]]) if specs else None
    refitted = {spec.name: _refit_frame(spec, params, customers, months.rows(start, split.as_of), split.as_of,
                                        features["customer_id"]) for spec in specs}
    own = _through_month(monthly, split.as_of) if whole else months.frame(start, split.as_of)
    return SchemeInputs(features=features, monthly=own, split=split, params=params,
                        potential=summary_frame(tx, split.as_of, criterion=params.criterion), refitted=refitted)


def _refit_frame(spec: registry.SchemeSpec, params: RunParams, features_table: Any, monthly: Any, as_of: dt.date,
                 ids: pd.Series) -> pd.DataFrame:
    """``customer_id, segment, rank`` of ``spec``'s refit in the engine, as :func:`_fit_schemes` keeps a
    refit's segment table: sorted by customer_id (sharing ``ids``' text when they are the same ids), the
    segments as categories."""
    table = to_pandas(spec.cls.from_params(params).refit_table(features_table, monthly, as_of).order_by("customer_id"))
    table = _with_ids_of(pd.DataFrame({"customer_id": table["customer_id"].astype(str),
                                       "segment": table["segment"].astype(str), "rank": table["rank"].to_numpy("int32")}),
                         ids)
    return table.assign(segment=table["segment"].astype("category"))


def _stage_tables(split: Split, features: pd.DataFrame, absent: pd.DataFrame,
                  counted: dict[str, pd.DataFrame]) -> "_SpilledOrigins":
    """The relationship stages of the evaluated customers, of those without a purchase (dissolution
    by the rules) and one month earlier (the transitions), from each customer's months counted in
    the engine (``counted``, emptied here), and the contact list's payment counts. They wait on disk while the earlier cut-offs are computed
    and the schemes fitted, the run's peak (held in memory, about 0.3 GB at 3.4M customers: the
    10M-row peak rose by that much)."""
    tables = (stage_labels(None, split.as_of, features["customer_id"], per_customer=counted["now"]),
              stage_labels(None, split.as_of, absent["customer_id"], per_customer=counted.pop("now")),
              earlier_stages(features, split.shifted(-1).as_of, counted.pop("earlier")), counted.pop("payments"))
    spilled = _SpilledOrigins()
    spilled.append(tables)
    return spilled


def _stages_read_back(spilled: "_SpilledOrigins", customers: pd.Series) -> tuple[pd.DataFrame, ...]:
    """The stage tables of :func:`_stage_tables`, read back from disk and sharing the features' ids again.

    A pickled text column comes back with its own buffer: the evaluated customers' stages and the
    month-earlier stages would each hold a copy of every id, and ``lifecycle_stage`` a copy of
    ``stage`` (about 0.2 GB at 3.4M customers, to the end of the run). The same values, one buffer.
    """
    lifecycle, absent, earlier, payments = spilled.pop()
    lifecycle = _with_ids_of(lifecycle, customers)
    lifecycle = lifecycle.assign(lifecycle_stage=lifecycle["stage"].array)
    return lifecycle, absent, _with_ids_of(earlier, customers), payments


def _with_ids_of(frame: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    """``frame`` with ``ids``' own array as its ``customer_id`` when they hold the same ids in the same order."""
    if not same_text(frame["customer_id"], ids):
        return frame
    return frame.assign(customer_id=ids.array)


def _spill_origins(params: RunParams, tx: Transactions, splits: list[Split], long_monthly: pd.DataFrame | None,
                   info: dict[str, Any], origins: "_SpilledOrigins", in_engine: list[Any] | None,
                   months: CustomerMonths) -> None:
    """Compute each earlier origin's tables and spill them (:class:`_SpilledOrigins`). The first
    origin with too few customers to fit every scheme ends the list, and ``info`` says so.

    ``in_engine``: the schemes that rank in the engine (:func:`segkit.backtest_engine.engine_schemes`);
    then the origin keeps their ranks and the baseline keys instead of its customer-month table.
    """
    # ranked in the engine, a cut-off's pandas refits read the columns their schemes name, and its
    # baselines the recency: only those come back (an earlier cut-off's whole feature table beside
    # the run's own was the features stage's highest point, 0.25 GB more at 3.4M customers)
    wanted = backtest_engine.refit_columns(params, in_engine) if in_engine else None
    for s in splits:
        table = materialize(tx.con, customer_features_table(tx, s.as_of), lasting=False) if in_engine else None
        try:
            f = customer_features(tx, s.as_of, table=table, columns=None if wanted is None else
                                  sorted(wanted | {"recency_days"}))
            if len(f) <= params.k_range[0]:  # too few customers to fit every scheme: stop here and say so
                info.update(used=len(origins) + 1, limit="customers")
                break
            origins.append(_origin(params, tx, s, f, long_monthly, table, in_engine, months))
        finally:
            if table is not None:
                forget(tx.con, table)
        del f


def _origin(params: RunParams, tx: Transactions, s: Split, f: pd.DataFrame, long_monthly: pd.DataFrame | None,
            table: Any, in_engine: list[Any] | None, months: CustomerMonths) -> backtest.Origin:
    holdout, summary = months.frame(s.holdout_start, s.holdout_end), summary_frame(tx, s.as_of,
                                                                                  criterion=params.criterion)
    if in_engine is not None:
        ranks, baselines = backtest_engine.ranked_in_engine(tx, s, params, in_engine, f, table, months)
        return backtest.Origin(s, backtest_engine.refit_features(f, params, in_engine), None, holdout, summary,
                               ranks=ranks, baselines=baselines)
    # its own months only, from the first one its tiers look at (as the main cut-off's table):
    # the long table starts where the earliest cut-off needs it; a cut-off inside a month counts that
    # month up to its day, from the transactions (the long table holds it whole)
    start = backtest.history_start([s])
    if not months.covers(start, s.as_of):
        return backtest.Origin(s, f, months.frame(start, s.as_of), holdout, summary)
    month = long_monthly["month"]
    own = long_monthly[(month >= pd.Timestamp(start)) & (month <= pd.Timestamp(s.as_of))]
    return backtest.Origin(s, f, own.reset_index(drop=True), holdout, summary)


def _scores(segment_tables: dict[str, pd.DataFrame], outcomes: pd.DataFrame, previous_tables: dict[str, Any],
            weights: BootstrapWeights, *, n_boot: int, seed: int) -> dict[str, dict[str, Any]]:
    """:func:`segkit.evaluate.score_scheme` of every scheme on the same resamples, the schemes side by
    side on threads (the same numbers as one after the other). Their stability against the month-earlier
    fit is computed one scheme at a time first: it pairs every customer's two labels (a join of all the
    ids), which two threads would hold at once. ``weights``: :meth:`BootstrapWeights.for_customers` of the
    run's customers, drawn (``prepare()``) before the threads."""
    names = list(segment_tables)
    stable = stabilities(segment_tables, previous_tables)
    # the outcomes aligned to the customers once (every table lists the same ones, sorted): not once
    # per scheme and thread (about 0.35 GB per thread at 3.4M customers)
    aligned = AlignedOutcomes.of(segment_tables[names[0]], outcomes) if names else None
    with side_by_side(len(names)) as run:
        scored = run(lambda name: score_scheme(segment_tables[name], outcomes, None, n_boot=n_boot, seed=seed,
                                               weights=weights, aligned=aligned), names)
    for name, score in zip(names, scored, strict=True):
        score["metrics"]["stability_ari"] = stable[name]
    return dict(zip(names, scored, strict=True))


def _check_enough_customers(params: RunParams, tx: Transactions, split: Split, n: int) -> None:
    """Stop with a plain message when calibration has too few buying customers to segment."""
    period = f"{split.calibration_start} .. {split.as_of}"
    if n == 0:
        raise DataError(f"no customer has a purchase (amount > 0) in the calibration period {period}",
                        where=f"{tx.path}, column {params.columns.get('amount', 'amount')!r}",
                        fix="check that sales are positive and returns negative, or choose a later as_of")
    low = params.k_range[0]
    if n <= low:
        raise ParameterError(f"only {n} customer(s) bought in the calibration period {period}; k-means needs "
                             f"more customers than clusters (k_range starts at {low})",
                             where=f"{tx.path}; key 'k_range'",
                             fix=("lower k_range" if n > 2 else "segment a file with at least 3 customers")
                             + " (the other schemes need several customers too)")


def _check_holdout_has_purchases(params: RunParams, tx: Transactions, split: Split,
                                 holdout_monthly: pd.DataFrame) -> None:
    """A holdout without a single purchase scores nothing (typically one mistyped future date)."""
    if int(holdout_monthly["purchases"].sum()) > 0:
        return
    future = tx.quality.examples.get("future_dates", [])
    hint = f"; rows dated after today: {', '.join(future)}" if future else ""
    raise DataError(f"there is no purchase in the holdout {split.holdout_start} .. {split.holdout_end} "
                    f"(the data runs {tx.quality.first_date} .. {tx.quality.last_date}{hint})",
                    where=f"{tx.path}; keys 'as_of' / 'holdout_months'",
                    fix="correct mistyped dates, or set as_of so that the holdout covers months with sales")


def _fit_schemes(inputs: SchemeInputs, previous: SchemeInputs) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """Every registered scheme fitted at the cut-off, and the segment tables (``customer_id, segment, rank``)
    of its refit one month earlier.

    The refit gets the main fit as ``reference`` (k-means keeps the k chosen now and renumbers its
    clusters to match, so "cluster 0" means the same group in both fits).
    """
    schemes, previous_tables = {}, {}
    for spec in registry.schemes():
        schemes[spec.name] = spec.cls.from_params(inputs.params).fit(inputs)
    for spec in registry.schemes():
        if spec.name in previous.refitted:  # refitted in the engine (:func:`_previous_inputs`)
            previous_tables[spec.name] = previous.refitted[spec.name]
            continue
        again = dataclasses.replace(previous, reference=schemes[spec.name], segments_only=True)
        # stability, migration and persistence read these three columns only (a scheme's scores or
        # predictions beside them would stay in memory for nothing)
        table = spec.cls.from_params(inputs.params).fit(again).segment_table()[["customer_id", "segment", "rank"]]
        # the segments as categories: one byte per customer instead of its text (about 0.25 GB for the
        # four schemes at 3.4M customers, kept to the end of the run); the same groups and labels
        previous_tables[spec.name] = table.assign(segment=table["segment"].astype("category"))
    # the month-earlier customers are often the same as now (a book without new customers in its last
    # month): then the refits hold the features' ids, not a copy of every id (65 MB at 3.4M customers)
    ids = inputs.features["customer_id"]
    return schemes, {name: _with_ids_of(t, ids) for name, t in previous_tables.items()}


def without_purchase(tx: Transactions, as_of: dt.date) -> pd.DataFrame:
    """Customers seen up to ``as_of`` without a purchase: every row they have is a return.

    (Rows with amount 0 were dropped by cleaning, so "seen" means a return.) Typically customers who
    bought before the data begin. They are listed in assignments.csv, not segmented or scored.
    Returns ``customer_id, return_lines, returns_value`` (positive), sorted by customer_id.

    >>> import datetime as dt, pandas as pd
    >>> from segkit.data import load_transactions
    >>> tx = load_transactions(pd.DataFrame({"customer_id": ["a", "b", "b", "c"], "amount": [10.0, -4.0, 6.0, -2.0],
    ...     "date": ["2024-01-05", "2024-01-09", "2024-02-01", "2024-03-01"]}))
    >>> without_purchase(tx, dt.date(2024, 1, 31)).values.tolist()
    [['b', 1, 4.0]]
    """
    seen = customer_returns(tx, None, as_of, returns_only=True)
    absent = seen[seen["purchase_lines"] == 0]
    return absent[["customer_id", "return_lines", "returns_value"]].reset_index(drop=True)


def _with_absent_stages(lifecycle: pd.DataFrame, absent: pd.DataFrame) -> pd.DataFrame:
    """The stages of the evaluated customers and of those without a purchase (``absent``: dissolution
    by the stage rules), for assignments.csv; the decisions' stage tables keep the evaluated customers."""
    if absent.empty:
        return lifecycle
    return pd.concat([lifecycle, absent], ignore_index=True)


def _assignments(lifecycle: pd.DataFrame, applied: pd.DataFrame, tables: dict[str, pd.DataFrame],
                 recommendation: dict[str, Any], without: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per customer: every scheme's columns (as the registry maps them), stage, override, choice.

    The customers of ``without`` (seen without a purchase, :func:`without_purchase`) get each
    scheme's no-purchase values (:func:`_absent_rows`); prospects (placed by hand, never seen) follow.
    """
    chosen = recommendation.get("recommended")
    out = pd.DataFrame({"customer_id": tables[registry.names()[0]]["customer_id"]})
    for spec in registry.schemes():
        cols = tables[spec.name][["customer_id", *spec.columns.values()]]
        # two assignment columns may come from the same table column: select, then name
        if cols["customer_id"].reset_index(drop=True).equals(out["customer_id"]):
            # the same customers in the same order (every table is sorted by customer_id): no text join;
            # each column as it is, sharing the segment table's buffer (a Series renumbered as ``out``:
            # no copy, where an array is copied, 27 MB per number column at 3.4M customers; no Python
            # object per customer, which .to_numpy() made of every label before pandas made text again)
            for column, source in spec.columns.items():
                out[column] = cols[source].set_axis(out.index)
            continue
        part = pd.DataFrame({"customer_id": cols["customer_id"]})
        for column, source in spec.columns.items():
            part[column] = cols[source]
        out = left_join(out, part)
    rec = recommended_segments(tables, chosen)
    out = left_join(out, pd.DataFrame({"customer_id": rec.index, "recommended_segment": rec.array}))
    if without is not None and len(without):
        out = _append_rows(out, _absent_rows(without["customer_id"], chosen if chosen in tables else None))
    # joins by Arrow lookups of the ids (engines.left_join): pandas' merge copied every column each time
    out = left_join(out, lifecycle[["customer_id", "lifecycle_stage"]])
    out = left_join(out, applied[["customer_id", "override_tier", "override_reason"]])
    if chosen in tables:  # an override places a customer in a tier: the chosen scheme's segment of that rank
        manual = out["override_tier"].notna() & (out["override_tier"] != "")
        mapped = backtest.map_override_tiers(out.loc[manual, "override_tier"], tables[chosen])
        mapped = mapped.where(mapped.notna(), out.loc[manual, "recommended_segment"])
        out["recommended_segment"] = _with_categories(out["recommended_segment"], mapped)
        out.loc[manual, "recommended_segment"] = mapped
    prospects = _prospect_rows(applied)
    if len(prospects):  # a customer placed by hand who has only returns is listed once, with the no-purchase values
        out = _append_rows(out, prospects[~isin(prospects["customer_id"], out["customer_id"])])
    columns = [c for c in assignment_columns() if c not in _DECISION_COLUMNS]  # added by _decided
    out = out[columns].sort_values("customer_id", kind="stable").reset_index(drop=True)
    return out.assign(**{c: text_categories(out[c]) for c in _label_columns() if c in out})


def _label_columns() -> list[str]:
    """The assignments' label columns, held as categories (:func:`segkit.schemes._base.text_categories`:
    one byte per customer, not its text; the same text in assignments.csv): every scheme's columns
    filled from its ``segment``, ``recommended_segment`` and ``lifecycle_stage``."""
    return [*(c for s in registry.schemes() for c, source in s.columns.items() if source == "segment"),
            "recommended_segment", "lifecycle_stage"]


def _with_categories(column: pd.Series, values: pd.Series) -> pd.Series:
    """``column`` able to hold ``values``: a categorical column gains the categories it lacks."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        return column
    new = pd.Index(pd.unique(values.dropna().astype(str))).difference(column.cat.categories)
    return column.cat.add_categories(new) if len(new) else column


def _absent_rows(ids: pd.Series, chosen: str | None) -> pd.DataFrame:
    """Rows for customers without a purchase: each scheme's no-purchase values (INACTIVE for the tiers
    and the potential tiers, ``No purchase`` for RFM and k-means; scores, cluster numbers and
    predictions empty) and the chosen scheme's as ``recommended_segment`` (empty without a choice)."""
    out = pd.DataFrame({"customer_id": ids.astype(str).to_numpy()})
    for spec in registry.schemes():
        values = no_purchase_values(spec.cls)
        for column, source in spec.columns.items():
            out[column] = values.get(source)
        if spec.name == chosen:
            out["recommended_segment"] = values.get("segment", "")
    if chosen is None:
        out["recommended_segment"] = ""
    return out


def _append_rows(out: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """``out`` with ``rows`` below it; integer columns stay integers (empty cells, never 1.0)."""
    if rows.empty:
        return out
    ints = [c for c in out.columns if pd.api.types.is_integer_dtype(out[c])]
    floats = {c: "float64" for c in rows.columns if c in out and pd.api.types.is_float_dtype(out[c])}
    # categories stay categories (pandas makes text of two different ones): their union, sorted as text
    labels = {c: union_categoricals([out[c].array, text_categories(rows[c] if c in rows else
                                                                   pd.Series([None] * len(rows), dtype="str"))],
                                    sort_categories=True)
              for c in out.columns if isinstance(out[c].dtype, pd.CategoricalDtype)}
    order = [*out.columns, *(c for c in rows.columns if c not in out)]
    out = pd.concat([out.drop(columns=list(labels)), rows.drop(columns=[c for c in labels if c in rows]).astype(floats)],
                    ignore_index=True)
    out[ints] = out[ints].astype("Int64")
    return out.assign(**labels)[order]


def _prospect_rows(applied: pd.DataFrame) -> pd.DataFrame:
    """Customers placed by hand before their first purchase: no scheme columns, the override as segment."""
    if "prospect" not in applied:
        return pd.DataFrame(columns=["customer_id"])
    p = applied[applied["prospect"].astype(bool)]
    return pd.DataFrame({"customer_id": p["customer_id"].astype(str), "override_tier": p["override_tier"],
                         "override_reason": p["override_reason"], "recommended_segment": p["override_tier"]})


def segment_summary(analysis: Analysis) -> str:
    """Segment sizes and cut points of every scheme, as plain text (``segkit segment`` prints it).

    One line of segment sizes per scheme, then each scheme's own description (``describe()``):
    percentile tiers give each window month's VIP and GOOD thresholds; RFM the value range of every
    score; k-means the chosen k and each cluster's size and mean recency, frequency and monetary.
    Last, when there are any, the customers seen without a purchase (listed, not segmented).
    """
    lines = []
    total = len(analysis.features)  # the customers evaluated (prospects placed by hand are not)
    for name, scheme in analysis.schemes.items():
        table = scheme.segment_table()
        sizes = table.groupby(["rank", "segment"]).size()
        lines.append(f"{name}: " + ", ".join(f"{seg} {n:,} ({n / total:.1%})" for (_, seg), n in sizes.items()))
    for scheme in analysis.schemes.values():
        lines.extend(getattr(scheme, "describe", list)())
    absent = analysis.population()["without_purchase"]
    if absent:
        lines.append(f"without a purchase up to {analysis.split.as_of}: {absent:,} customer(s) with returns only, "
                     "listed in assignments.csv as INACTIVE (not segmented or scored)")
    return "\n".join(lines)


@one_thread
def comparison(a: Analysis) -> dict[str, Any]:
    """What the comparison pages show beyond the scorecard, computed from the analysis.

    Per scheme: ``capture`` (capture curves of the run's outcome, with the simple rankings under
    ``baselines``), ``holdout`` (share of each segment buying, month by month), ``migration``
    (label-matched, one month earlier against now), ``persistence``, ``practicality`` and
    ``stability`` (refits on resampled customers); ``agreement`` (ARI, NMI, crosstabs);
    ``verdict_sensitivity`` (the best-scoring scheme under other settings); for the tiers: the VIP
    set's sensitivity to the criterion and to ``vip_share`` (:data:`SENSITIVITY_SHARES`) and
    monthly union against period total.
    """
    tables, p = a.tables, a.params
    tiers = tables["percentile_tiers"]

    def tiers_fit(**changes: Any) -> PercentileTiers:
        settings = {"criterion": p.criterion, "window_months": p.window_months, "vip_share": p.vip_share,
                    "good_share": p.good_share, "dropout_months": p.dropout_months, **changes}
        return PercentileTiers(**settings).fit_monthly(a.monthly, customers=a.features, as_of=a.split.as_of)

    def vips(criterion: str, share: float) -> set:
        labels = tiers_fit(criterion=criterion, vip_share=share).labels_
        return set(labels[labels == "VIP"].index)

    criteria = available_criteria(a.data.get("has", []))
    sens = vip_sensitivity(vips, criteria, list(SENSITIVITY_SHARES), base_criterion=p.criterion,
                           base_share=p.vip_share)
    period = tiers_fit(variant="period_total").segment_table()
    main = backtest.Origin(a.split, a.features, a.monthly, a.holdout_monthly, a.potential_summary)
    bt = a.backtest or {}
    return {"capture": _capture_curves(a, tables),
            "holdout": {n: holdout_curves(t, a.holdout_monthly) for n, t in tables.items()},
            "migration": {n: migration_matrix(a.previous_tables[n], tables[n]) for n in tables},
            "persistence": {n: persistence(a.previous_tables[n], tables[n]) for n in tables},
            "practicality": {n: compare.practicality(t) for n, t in tables.items()},
            "stability": backtest.stability(main, a.schemes, p),
            "agreement": agreement(tables, monetary=a.features.set_index("customer_id")["monetary"],
                                   outcomes=a.outcomes),
            "verdict_sensitivity": backtest.settings_winners(main, bt.get("holdout_long", a.holdout_monthly),
                                                             bt.get("data_end", a.split.holdout_end), a.schemes,
                                                             p, criteria),
            "sensitivity": sens, "union_vs_period": union_vs_period_total(tiers, period, a.outcomes, a.alerts)}


def _capture_curves(a: Analysis, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Capture curves of the run's outcome: every scheme, then the simple rankings (same customers)."""
    outcomes = compare.criterion_outcomes(a.holdout_monthly, a.features["customer_id"], a.params.criterion)
    ids = outcomes["customer_id"].astype(str)
    y = outcomes["outcome"].to_numpy(float)
    keys = compare.baseline_orders(a.features, a.monthly, a.params.criterion, a.split.window_months)
    keys = keys.set_index(keys["customer_id"].astype(str)).reindex(ids)
    out = {}
    for name, t in tables.items():
        order = t.set_index(t["customer_id"].astype(str))["rank"].reindex(ids).to_numpy(float)
        out[name] = compare.capture_curve(order, y)
    for name in compare.BASELINES:
        out[name] = compare.capture_curve(keys[name].to_numpy(float), y)
    return out


def write_run_files(analysis: Analysis, out_dir: str | Path, *,
                    notebook_seconds: dict[str, float] | None = None) -> list[Path]:
    """Write the run files (``assignments.csv``, ``tiers_monthly.csv``, ``alerts.csv``, ``actions.csv``,
    ``scorecard.json``, ``run.json``) into ``out_dir``; returns their paths.

    Text cells that a spreadsheet would read as a formula (starting with ``= + - @``, tab or CR)
    are prefixed with ``'`` so a CRM import or a spreadsheet never executes them.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    decided = analysis.decisions
    actions = decided.actions if decided is not None else pd.DataFrame(columns=ACTION_COLUMNS)
    for name, frame in (("assignments.csv", analysis.assignments), ("tiers_monthly.csv", analysis.tiers_monthly),
                        ("alerts.csv", analysis.alert_rows()), ("actions.csv", actions)):
        path = out / name
        # floats keep every digit (values are rounded to 6 decimals upstream): the files must
        # reproduce every figure of the reports exactly. DuckDB writes them, pandas' bytes (csvfiles)
        write_csv(frame, path)
        written.append(path)
    for name, payload in (("scorecard.json", analysis.scorecard),
                          ("run.json", analysis.run_info(notebook_seconds))):
        path = out / name
        atomic_write(path, json.dumps(payload, indent=2, ensure_ascii=False, allow_nan=False, default=str) + "\n")
        written.append(path)
    return written

