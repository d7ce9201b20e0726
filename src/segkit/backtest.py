"""The verdict of one run: every scheme fitted and scored at several cut-offs, on equal footing.

The pipeline computes the per-customer tables of every *origin* (cut-off) while the transactions
are open (:func:`origin_splits`, :class:`Origin`); everything here then works on those pandas
frames: fit every registered scheme at each origin (:func:`fit_origin`), score them and the simple
rankings with one shared set of bootstrap resamples (:func:`score_origins`), decide
(:func:`decide`), and, for the report, refit on resampled customers (:func:`stability`) and ask
whether the winner moves under other settings (:func:`settings_winners`).

Origins: the main cut-off, then ``backtest_origins - 1`` earlier ones, :data:`ORIGIN_STEP`
months apart. An earlier origin is kept only when its calibration holds a whole tier window of
data (``window_months`` months from the data's first month) and more customers than k-means'
smallest k; the first one that does not ends the list, and :func:`origin_splits` says why.

Example
-------
>>> import datetime as dt
>>> from segkit.calendar import make_split
>>> main = make_split(dt.date(1997, 1, 1), dt.date(1997, 12, 31), holdout_months=6, window_months=6)
>>> splits, info = origin_splits(main, dt.date(1997, 1, 1), 4)
>>> [str(s.as_of) for s in splits], info["used"], info["limit"]
(['1997-12-31', '1997-09-30', '1997-06-30'], 3, 'history')
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from . import compare
from .calendar import Split, month_start, shift_date
from .config import RunParams
from .engines import lookup
from .errors import ParameterError, SegkitError
from .schemes import SchemeInputs, registry
from .schemes._base import _text, isin

__all__ = ["ORIGIN_STEP", "COMPARE_RESAMPLES", "STABILITY_RESAMPLES", "Origin", "Scoring", "origin_splits",
           "fit_origin", "prepare_scoring", "scoring_of", "score_origins",
           "decide", "stability", "settings_winners", "map_override_tiers", "OVERRIDE_RANKS"]

#: months between two backtest cut-offs
ORIGIN_STEP = 3
#: bootstrap resamples of the comparison (shared by every scheme, baseline and origin); 500 give
#: percentile intervals within about 0.005 of 1,000 resamples' at half the time (see README)
COMPARE_RESAMPLES = 500
#: refits on resampled customers per scheme for the stability check (see README: time budget)
STABILITY_RESAMPLES = 8
#: the rank of each override tier (the percentile tiers' ranks)
OVERRIDE_RANKS = {"VIP": 1, "GOOD": 2, "REGULAR": 3, "INACTIVE": 4}


@dataclasses.dataclass
class Origin:
    """The per-customer tables of one cut-off (computed while the transactions are open)."""

    split: Split
    features: pd.DataFrame
    #: the customer-month table; None where the schemes that read it ranked in the engine (``ranks``)
    monthly: pd.DataFrame | None
    holdout_monthly: pd.DataFrame
    #: the predicted-value model's per-customer summary at this cut-off (:func:`segkit.potential.summary_frame`)
    potential: pd.DataFrame | None = None
    #: ``customer_id, rank`` of the schemes ranked in the engine (:mod:`segkit.backtest_engine`)
    ranks: dict[str, pd.DataFrame] = dataclasses.field(default_factory=dict)
    #: :func:`segkit.compare.baseline_orders`, when computed in the engine with ``ranks``
    baselines: pd.DataFrame | None = None

    def inputs(self, params: RunParams, reference: Any = None, *, segments_only: bool = False) -> SchemeInputs:
        return SchemeInputs(features=self.features, monthly=self.monthly, split=self.split, params=params,
                            reference=reference, potential=self.potential, segments_only=segments_only)


def origin_splits(split: Split, first_date: dt.date, requested: int) -> tuple[list[Split], dict[str, Any]]:
    """The main split, then up to ``requested - 1`` earlier ones :data:`ORIGIN_STEP` months apart.

    Returns the splits and ``{"requested", "used", "limit", "first_month"}``: ``limit`` is None when
    every origin was kept, ``"history"`` when the data starts too late for the next one (its tier
    window would begin before the first month of data).
    """
    out, limit = [split], None
    first = month_start(first_date)
    for i in range(1, requested):
        earlier = split.shifted(-ORIGIN_STEP * i)
        if earlier.window_months[0] < first:
            limit = "history"
            break
        out.append(earlier)
    return out, {"requested": int(requested), "used": len(out), "limit": limit, "first_month": first.isoformat()}


def history_start(splits: Sequence[Split]) -> dt.date:
    """The first month any origin's tiers (and their refit one month earlier) look at."""
    return min(min(s.previous_window_months[0], s.shifted(-1).previous_window_months[0]) for s in splits)


def fit_origin(origin: Origin, params: RunParams, reference: Mapping[str, Any] | None = None) -> dict[str, pd.DataFrame]:
    """Every registered scheme fitted at one origin: name -> segment table (``customer_id, rank`` for
    the schemes the origin ranked in the engine, :attr:`Origin.ranks`).

    ``reference``: the fits at the main cut-off. Each is passed as the refit's ``reference``, as for
    the stability refit one month earlier: k-means keeps the k chosen at the main cut-off and its
    cluster numbers (one sweep of starts instead of one per k, which keeps a cut-off's cost near one
    fit; the clusters themselves are learnt from that cut-off's data), the rule-based schemes ignore it.
    """
    reference = reference or {}
    return {spec.name: origin.ranks[spec.name] if spec.name in origin.ranks else
            spec.cls.from_params(params).fit(origin.inputs(params, reference.get(spec.name), segments_only=True))
            .segment_table() for spec in registry.schemes()}


@dataclasses.dataclass
class Scoring:
    """What scoring needs of one origin, and nothing else: its split, each scheme's segment table,
    the outcomes of its holdout and the simple rankings' keys (:func:`prepare_scoring`).

    The origin's feature, customer-month and summary tables are not needed any more once these are
    computed, so a run holds them for one origin at a time.
    """

    split: Split
    tables: dict[str, pd.DataFrame]
    outcomes: pd.DataFrame
    baselines: pd.DataFrame


def prepare_scoring(origin: Origin, tables: Mapping[str, pd.DataFrame], criterion: str, *,
                    compact: bool = False) -> Scoring:
    """The :class:`Scoring` of ``origin`` with its fitted ``tables`` (name -> segment table).

    ``compact``: keep only ``customer_id`` and ``rank`` of each table (all the comparison reads; for the
    earlier origins, whose tables serve nothing else).
    """
    ids = origin.features["customer_id"]
    outcomes = compare.criterion_outcomes(origin.holdout_monthly, ids, criterion)
    kept = {n: _aligned_ranks(t, outcomes["customer_id"]) if compact else t for n, t in tables.items()}
    baselines = origin.baselines if origin.baselines is not None else \
        compare.baseline_orders(origin.features, origin.monthly, criterion, origin.split.window_months)
    if compact:
        baselines = _sharing_ids(baselines, outcomes["customer_id"])
    return Scoring(origin.split, kept, outcomes, baselines)


def scoring_of(origin: Origin, params: RunParams, reference: Mapping[str, Any] | None = None) -> Scoring:
    """``prepare_scoring(origin, fit_origin(origin, params, reference), params.criterion, compact=True)``,
    made one table at a time: the same :class:`Scoring`.

    The holdout's outcomes come first and the origin lets go of its holdout months, the ranks it
    brought from the engine and its baseline keys as soon as they are aligned with the outcomes' ids;
    then each scheme is fitted and at once reduced to its ranks. So the origin's fit holds one scheme's
    segment table at a time instead of every one of them beside all of the origin's tables (the run's
    memory peak at millions of customers). ``origin`` is left without ``holdout_monthly``, ``ranks``
    and ``baselines``: it serves nothing afterwards.
    """
    reference = reference or {}
    outcomes = compare.criterion_outcomes(origin.holdout_monthly, origin.features["customer_id"], params.criterion)
    origin.holdout_monthly = None
    ids = outcomes["customer_id"]
    baselines = origin.baselines if origin.baselines is not None else \
        compare.baseline_orders(origin.features, origin.monthly, params.criterion, origin.split.window_months)
    baselines = _sharing_ids(baselines, ids)
    origin.baselines = None
    names = [spec.name for spec in registry.schemes()]
    kept: dict[str, pd.DataFrame | None] = dict.fromkeys(names)  # the registry's order, as fit_origin's
    for name in names:
        if name in origin.ranks:
            kept[name] = _aligned_ranks(origin.ranks.pop(name), ids)
    for spec in registry.schemes():
        if kept[spec.name] is None:
            inputs = origin.inputs(params, reference.get(spec.name), segments_only=True)
            fitted = spec.cls.from_params(params).fit(inputs)
            kept[spec.name] = _aligned_ranks(fitted.segment_table(), ids)
            del fitted, inputs
    return Scoring(origin.split, kept, outcomes, baselines)


def _sharing_ids(table: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    """``table`` holding ``ids`` itself where its ``customer_id`` column is the same text in the same
    order (an earlier cut-off read back from its spill file carries a copy of them per table)."""
    own = table["customer_id"]
    if len(own) == len(ids) and isinstance(own.dtype, pd.StringDtype) and isinstance(ids.dtype, pd.StringDtype) \
            and own.reset_index(drop=True).equals(ids.reset_index(drop=True)):
        return table.reset_index(drop=True).assign(customer_id=ids.reset_index(drop=True))
    return table


def _aligned_ranks(table: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    """``customer_id, rank`` of ``table`` for the evaluated customers ``ids``, in their order: every
    compact table shares the one column of ids (not a copy of the text per scheme), ranks as int32
    (NaN where a customer has none, which the comparison reports), and the comparison's lookup of
    the ranks is one comparison of equal columns instead of a hash of the text."""
    text = ids.astype(str).reset_index(drop=True)
    rank = lookup(pd.Series(table["rank"].to_numpy(), index=table["customer_id"].astype(str)), text, np.nan)
    rank = rank.astype(float)
    return pd.DataFrame({"customer_id": text, "rank": rank if np.isnan(rank).any() else rank.astype(np.int32)})


def score_origins(origins: Sequence[Scoring], params: RunParams, *, n_boot: int) -> list[dict[str, Any]]:
    """Capture of every scheme and baseline at every origin, with one shared set of resamples.

    ``origins``: :func:`prepare_scoring` of each origin, main first. Returns one entry per origin (main
    first): ``as_of``, ``holdout`` ({start, end}) and ``results`` (:func:`segkit.compare.compare_rankings`).
    At most :data:`COMPARE_RESAMPLES` resamples.
    """
    # every origin's ids as one Arrow text column (no Python object per id)
    parts = [_text(o.outcomes["customer_id"].astype(str)) for o in origins]
    ids = pa.chunked_array([c for p in parts for c in (p.chunks if isinstance(p, pa.ChunkedArray) else [p])],
                           type=pa.large_string())
    n_boot = min(n_boot, COMPARE_RESAMPLES)
    weights = compare.CustomerWeights(ids, n_boot, params.seed) if n_boot > 0 else None
    del ids
    entries = []
    for o in origins:
        results = compare.compare_rankings(o.tables, o.outcomes, params.vip_share, baselines=o.baselines,
                                           n_boot=n_boot, seed=params.seed, weights=weights)
        entries.append({"as_of": o.split.as_of.isoformat(), "holdout": o.split.to_dict()["holdout"],
                        "results": results})
    return entries


def decide(entries: Sequence[Mapping[str, Any]], params: RunParams) -> dict[str, Any]:
    """The verdict (:func:`segkit.compare.verdict`, simplest first by registry rank) and the
    baselines' retention at the main cut-off."""
    decision = compare.verdict([e["results"] for e in entries], params.vip_share, registry.names())
    retention = compare.baseline_retention(entries[0]["results"], params.vip_share, decision["schemes"])
    return {"decision": decision, "retention": retention}


# ====================================================================== stability, practicality
def stability(origin: Origin, schemes: Mapping[str, Any], params: RunParams, *,
              n_resamples: int = STABILITY_RESAMPLES) -> dict[str, dict[str, Any]]:
    """Each scheme refitted on ``n_resamples`` resamples of its customers (:func:`segkit.compare.refit_stability`).

    A refit gets the main fit as ``reference`` (k-means keeps its k, runs its full sweep of starts
    and renumbers its clusters); schemes whose labels carry no order of their own (those with
    ``match_labels``) are compared after Hungarian matching, the others by rank.
    """
    ids = origin.features["customer_id"].astype(str)
    out = {}
    for spec in registry.schemes():
        if spec.name not in schemes:
            continue
        fitted = schemes[spec.name]

        def fit(drawn: np.ndarray, spec=spec, fitted=fitted) -> pd.DataFrame:
            # membership in Arrow (schemes._base.isin): pandas' isin with a set builds a Python
            # object per id, and this runs for every scheme and resample
            keep = isin(ids, pd.unique(np.asarray(drawn, dtype=object)))
            sub_ids = ids[keep]
            monthly = origin.monthly[isin(origin.monthly["customer_id"].astype(str), sub_ids)]
            summary = origin.potential
            if summary is not None:  # the predicted-value model's summary of the same customers
                summary = summary[isin(summary["customer_id"].astype(str), sub_ids)].reset_index(drop=True)
            inputs = SchemeInputs(features=origin.features[keep].reset_index(drop=True), monthly=monthly,
                                  split=origin.split, params=params, reference=fitted, potential=summary,
                                  segments_only=True)
            return spec.cls.from_params(params).fit(inputs).segment_table()

        out[spec.name] = compare.refit_stability(fit, ids, fitted.segment_table(), n_resamples=n_resamples,
                                                 seed=params.seed, ordered=not hasattr(fitted, "match_labels"))
    return out


# ====================================================================== does the verdict move?
def _same_settings(cls: type, a: RunParams, b: RunParams) -> bool:
    """Whether a scheme would be built the same from both parameter sets (then its fit is reused)."""
    return vars(cls.from_params(a)) == vars(cls.from_params(b))


def _reused(cls: type, fitted: Any, params: RunParams, changed: RunParams) -> Any:
    """The run's fit when ``changed`` builds the scheme the same; its fit re-tiered (``reshared``) when
    only the tier shares differ and the scheme can do that without refitting; else None (refit)."""
    if _same_settings(cls, params, changed):
        return fitted
    reshared = getattr(fitted, "reshared", None)
    shares = {"vip_share": changed.vip_share, "good_share": changed.good_share}
    if reshared is not None and _same_settings(cls, params.replace(**shares), changed):
        return reshared(**shares)
    return None


def settings_winners(origin: Origin, holdout_long: pd.DataFrame, data_end: dt.date, schemes: Mapping[str, Any],
                     params: RunParams, criteria: Sequence[str]) -> dict[str, Any]:
    """The best-scoring scheme (point estimates at the main cut-off) under other settings.

    Settings (:func:`segkit.compare.sensitivity_settings`): ``vip_share`` 0.1 / 0.2 / 0.3, each
    available criterion, a holdout of 3 and 6 months. A scheme is refitted only when the changed
    setting changes how it is built; a horizon the data cannot cover is noted, not counted.
    Returns :func:`segkit.compare.verdict_sensitivity`'s table.
    """
    base = {"vip_share": params.vip_share, "criterion": params.criterion, "holdout_months": params.holdout_months}
    settings = compare.sensitivity_settings(base, list(criteria))
    names = [n for n in registry.names() if n in schemes]

    def decide_one(setting: Mapping[str, Any]) -> str:
        h = int(setting["holdout_months"])
        end = shift_date(origin.split.as_of, h)
        if end > data_end:
            raise ParameterError(f"a {h}-month holdout would end {end}, after the data ({data_end})",
                                 where="holdout_months", fix="not available for this data")
        changed = params.replace(strategy=None, criterion=setting["criterion"], vip_share=setting["vip_share"])
        tables = {}
        for spec in registry.schemes():
            if spec.name not in names:
                continue
            reused = _reused(spec.cls, schemes[spec.name], params, changed)
            inputs = origin.inputs(changed, segments_only=True)
            if changed.criterion != params.criterion:  # the model's summary holds the run's own criterion
                inputs = dataclasses.replace(inputs, potential=None)
            try:
                fitted = reused if reused is not None else spec.cls.from_params(changed).fit(inputs)
            except SegkitError:  # a scheme that cannot be refitted under this setting sits it out
                continue
            tables[spec.name] = fitted.segment_table()
        months = holdout_long[pd.to_datetime(holdout_long["month"]) <= pd.Timestamp(end)]
        outcomes = compare.criterion_outcomes(months, origin.features["customer_id"], setting["criterion"])
        results = compare.compare_rankings(tables, outcomes, setting["vip_share"], n_boot=0)
        scored = [n for n in names if n in tables]
        prim = {n: compare.primary(results[n], setting["vip_share"]) for n in scored}
        return max(scored, key=lambda n: (round(float(prim[n]), 12), -names.index(n)))

    return compare.verdict_sensitivity(decide_one, settings)


# ====================================================================== overrides
def map_override_tiers(override_tier: pd.Series, table: pd.DataFrame) -> pd.Series:
    """Each override tier as the segment of ``table`` with the same rank (or the nearest existing one).

    VIP, GOOD, REGULAR and INACTIVE have ranks 1 to 4; a scheme without that rank gives the segment
    of the nearest rank it has (the better one on a tie). Empty or unknown tiers give None.

    >>> t = pd.DataFrame({"customer_id": ["a", "b"], "segment": ["top", "rest"], "rank": [1, 2]})
    >>> map_override_tiers(pd.Series(["VIP", "INACTIVE", ""]), t).tolist()
    ['top', 'rest', None]
    """
    ranks = table.drop_duplicates("rank").set_index("rank")["segment"].astype(str).sort_index()
    available = ranks.index.to_numpy()

    def one(tier: Any) -> str | None:
        r = OVERRIDE_RANKS.get(str(tier)) if isinstance(tier, str) else None
        if r is None or not len(available):
            return None
        nearest = available[np.argmin(np.abs(available - r) + 1e-9 * available)]
        return str(ranks[nearest])

    return pd.Series([one(t) for t in override_tier], index=override_tier.index, dtype=object)
