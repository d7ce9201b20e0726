"""Score segmentation schemes out of time and compare them.

Every function works on *segment tables* (``customer_id, segment, rank``; rank 1 = most valuable)
and *outcomes* (:func:`segkit.features.holdout_outcomes`: ``customer_id, holdout_revenue,
holdout_purchases, bought``), so any scheme can be scored, and the numbers can be recomputed from
the exported ``assignments.csv`` and the raw transactions alone.

Metrics (docs/contract.md, "Definitions"): ``n_segments``, ``min_segment_share``, ``top_segment_share``,
``top_segment_holdout_revenue_share``, ``top_segment_lift``, ``holdout_spearman`` (Spearman
between -rank and holdout revenue, average ranks for ties), ``holdout_activity_auc`` (ROC AUC of
-rank for "bought in the holdout", ties count one half) and ``stability_ari``.

Confidence intervals: a Poisson bootstrap (each customer drawn Poisson(1) times, the large-sample
equivalent of resampling customers with replacement), computed on sufficient statistics per
segment and per distinct holdout value, so 1,000 resamples of 23k customers take about a second.
The resamples depend only on the seed and the number of customers, so every scheme of a run sees
the *same* resamples and differences between schemes have paired intervals. Above
``_MAX_BOOT_CUSTOMERS`` customers the bootstrap runs on a seeded subsample and the intervals are
narrowed by sqrt(subsample / customers) (the usual m-out-of-n scaling for smooth statistics).
Degenerate cases are defined, never NaN: Spearman 0 when either side is constant, AUC 0.5 when
nobody (or everybody) bought, revenue shares 0 when total holdout revenue is not positive.
"""

from __future__ import annotations

import dataclasses
import math
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from .engines import lookup, same_text, text_sorted
from .schemes._base import positions
from .schemes import registry  # names and tie-break ranks only: scoring needs nothing but segment tables

__all__ = [
    "HOLDOUT_METRICS",
    "METRICS",
    "score_scheme",
    "stability_ari",
    "stabilities",
    "BootstrapWeights",
    "point_metrics",
    "capture_curve",
    "holdout_curves",
    "migration_matrix",
    "persistence",
    "agreement",
    "jaccard",
    "vip_sensitivity",
    "union_vs_period_total",
    "recommended_segments",
    "build_scorecard",
    "SIMPLICITY",
]

METRICS = ("n_segments", "min_segment_share", "top_segment_share", "top_segment_holdout_revenue_share",
           "top_segment_lift", "holdout_spearman", "holdout_activity_auc", "stability_ari")
HOLDOUT_METRICS = ("top_segment_holdout_revenue_share", "top_segment_lift", "holdout_spearman",
                   "holdout_activity_auc")
#: scheme names in tie-break order, simplest first (the registry's ranks; always current)
SIMPLICITY = registry.LiveSequence(registry.names)
#: scheme name -> how a sentence names it ("percentile tiers"); always current
SCHEME_NAMES = registry.LiveMapping(lambda: {s.name: s.noun for s in registry.schemes()})
_MAX_BOOT_CUSTOMERS = 100_000
_CHUNK_CELLS = 8_000_000  # resamples x customers handled at once (memory ~ 100 MB)


# ====================================================================== alignment
def _align(table: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """Outcomes of the table's customers, sorted by customer_id (zeros for customers without any)."""
    t = table[["customer_id", "segment", "rank"]].copy()
    t["customer_id"] = t["customer_id"].astype(str)
    o = outcomes[["customer_id", "holdout_revenue", "bought"]].copy()
    o["customer_id"] = o["customer_id"].astype(str)
    if text_sorted(o["customer_id"], strict=True):  # one row per customer (as usual): looked up in Arrow
        found = lookup(o.set_index("customer_id"), t["customer_id"], np.nan)
        out = t.reset_index(drop=True).assign(holdout_revenue=found["holdout_revenue"], bought=found["bought"])
    else:
        out = t.merge(o, on="customer_id", how="left")
    out["holdout_revenue"] = out["holdout_revenue"].fillna(0.0).astype(float)
    out["bought"] = out["bought"].fillna(False).astype(bool)
    if text_sorted(out["customer_id"]):  # segment tables come sorted by customer_id
        return out
    return out.sort_values("customer_id", kind="stable").reset_index(drop=True)


# ====================================================================== metrics on weights
#: whole-number keys spanning fewer values than this are grouped by counting, not by sorting
_COUNTED_SPAN = 1 << 20


def levels_and_codes(order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(order, return_inverse=True)``, without its sort where the keys are whole numbers
    in a short span (segment ranks, days since the last purchase): each key's presence is counted,
    the levels are the present keys in order and a key's code is the number of levels below it.
    Other finite keys (amounts with cents, a wide span) are hashed and only the distinct ones sorted
    (:func:`_hashed_levels`). The same arrays as numpy's (checked against it in
    ``tests/test_fast_paths.py``); a sign-carrying zero (-0.0: numpy keeps whichever zero sorts
    first), infinities or NaN take numpy's path.
    """
    order = np.asarray(order)
    if order.ndim != 1 or order.size == 0 or order.dtype.kind not in "iuf":
        return np.unique(order, return_inverse=True)
    lo, hi = order.min(), order.max()
    if not (np.isfinite(lo) and np.isfinite(hi)) or (
            order.dtype.kind == "f" and (np.signbit(order) & (order == 0)).any()):
        return np.unique(order, return_inverse=True)
    if max(abs(lo), abs(hi)) >= 2**52 or hi - lo >= _COUNTED_SPAN:
        return _hashed_levels(order)
    start = np.floor(lo) if order.dtype.kind == "f" else lo
    exact = order - start  # whole numbers below 2**52: exact
    shifted = exact.astype(np.int64)
    if order.dtype.kind == "f" and not np.array_equal(shifted, exact):
        return _hashed_levels(order)  # keys with fractions (money): hashed, then only the levels sorted
    present = np.bincount(shifted) > 0
    below = np.cumsum(present) - 1
    levels = (np.flatnonzero(present) + start).astype(order.dtype)
    return levels, below[shifted]


def _hashed_levels(order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`levels_and_codes` of finite keys without a negative zero by hashing (pandas' factorize):
    only the distinct keys are sorted, not every customer's (3.37M amounts: 1.1 -> 0.05 s)."""
    codes, distinct = pd.factorize(order, sort=False)
    distinct = np.asarray(distinct, dtype=order.dtype)
    sort = np.argsort(distinct, kind="stable")
    place = np.empty(len(distinct), dtype=np.intp)
    place[sort] = np.arange(len(distinct), dtype=np.intp)
    return distinct[sort], place[codes]


@dataclasses.dataclass(frozen=True)
class _Outcome:
    """The holdout side of :class:`_Stats`: revenue and buying (float64) and the revenue's levels
    (``gy``: each customer's level, ``ky`` levels). The same for every scheme scored on the same
    customers, so :class:`AlignedOutcomes` makes it once (about 0.1 GB and a hash of every customer's
    revenue per scheme at 3.4M customers). Read-only: threads share it."""

    ky: int
    gy: np.ndarray
    revenue: np.ndarray
    bought: np.ndarray

    @classmethod
    def of(cls, revenue: np.ndarray, bought: np.ndarray) -> "_Outcome":
        y_levels, gy = levels_and_codes(revenue)
        return cls(len(y_levels), gy, revenue.astype(np.float64), bought.astype(np.float64))


@dataclasses.dataclass(frozen=True)
class AlignedOutcomes:
    """The holdout outcomes aligned to a segment table's customers once, for every scheme of a run
    whose table lists the same customers in the same order (:func:`score_scheme`'s ``aligned``): the
    same numbers as aligning them per scheme, held once instead of once per scheme and thread."""

    ids: pd.Series
    holdout_revenue: np.ndarray
    bought: np.ndarray
    outcome: _Outcome

    @classmethod
    def of(cls, table: pd.DataFrame, outcomes: pd.DataFrame) -> "AlignedOutcomes":
        data = _align(table, outcomes)
        revenue, bought = data["holdout_revenue"].to_numpy(float), data["bought"].to_numpy(bool)
        return cls(data["customer_id"], revenue, bought, _Outcome.of(revenue, bought))

    def serves(self, table: pd.DataFrame) -> bool:
        """Whether ``table`` lists these customers in this order (then its rows need no alignment)."""
        ids = table["customer_id"]
        return len(ids) == len(self.ids) and pd.api.types.is_string_dtype(ids) and same_text(ids, self.ids)


class _Stats:
    """Per-customer data arranged for weighted metrics (weights = 1 for the point estimate).

    Every metric is a function of weighted counts per segment (x) and per distinct holdout value
    (y), so each resample costs a few ``bincount`` passes over the customers: about 3x faster than
    gathering whole resamples x customers matrices, and memory stays one row of weights.
    """

    def __init__(self, rank: np.ndarray, revenue: np.ndarray, bought: np.ndarray,
                 outcome: "_Outcome | None" = None):
        self.n = len(rank)
        self.ranks = levels_and_codes(rank)[0]    # ascending: best segment first
        self.top = self.ranks[0]
        # x = -rank ascending  <=> rank descending: group index gx (0 = worst segment, kx-1 = top)
        x_levels = -self.ranks[::-1]
        self.gx = np.searchsorted(x_levels, -rank)
        self.kx = len(x_levels)
        # the outcome side is the same for every scheme of a run: computed once when given
        outcome = outcome if outcome is not None else _Outcome.of(revenue, bought)
        self.ky, self.gy, self.revenue, self.bought = outcome.ky, outcome.gy, outcome.revenue, outcome.bought
        self.top_revenue = (rank == self.top) * self.revenue
        # 0/1 segment membership (and of the buyers): W @ members counts each segment's customers in a
        # resample exactly (whole-number weights, integer sums far below 2**53), as bincount would
        # (up to 16 segments; more would make the matrix large, and bincount counts them instead).
        # Built on the first call with several rows of weights: the point estimate (one row, every
        # customer) counts by bincount, the same integers, without two customers x segments
        # matrices (3.37M customers in 11 RFM segments: 0.6 GB at the evaluate stage's peak)
        self.product = self.kx <= 16
        self.members = self.buyers = None

    def _memberships(self) -> None:
        if self.members is None:
            self.members = np.zeros((self.n, self.kx))
            self.members[np.arange(self.n), self.gx] = 1.0
            self.buyers = self.members * self.bought[:, None]

    def metrics(self, W: np.ndarray) -> dict[str, np.ndarray]:
        """Holdout metrics for each row of whole-number weights ``W`` (resamples x customers)."""
        keys = ("top_segment_holdout_revenue_share", "top_segment_lift", "holdout_spearman",
                "holdout_activity_auc", "top_segment_share")
        out = {k: np.empty(len(W)) for k in keys}
        gx, gy, kx, ky = self.gx, self.gy, self.kx, self.ky
        # one matrix-vector product per chunk, not two dot products per resample: each dot of a
        # long vector wakes BLAS's threads, which on a busy machine cost 20-50x the arithmetic
        revs, top_revs = W @ self.revenue, W @ self.top_revenue
        # customers and buyers per segment: whole numbers, so one exact product per chunk
        product = self.product and len(W) > 1
        if product:
            self._memberships()
        cnts_x, poss = (W @ self.members, W @ self.buyers) if product else (None, None)
        for b, w in enumerate(W):
            total = w.sum()
            cnt_x = cnts_x[b] if product else np.bincount(gx, weights=w, minlength=kx)
            cnt_y = np.bincount(gy, weights=w, minlength=ky)
            pos = poss[b] if product else np.bincount(gx, weights=w * self.bought, minlength=kx)  # buyers
            rev, top_rev = revs[b], top_revs[b]
            top_share = cnt_x[-1] / total if total > 0 else 0.0
            rev_share = top_rev / rev if rev > 0 else 0.0
            # Spearman with average ranks: each group's customers share the mean of its rank range
            mean = (total + 1) / 2
            cx = np.cumsum(cnt_x) - cnt_x + (cnt_x + 1) / 2 - mean
            cy = np.cumsum(cnt_y) - cnt_y + (cnt_y + 1) / 2 - mean
            cov = np.bincount(gx, weights=w * cy[gy], minlength=kx) @ cx
            denom = math.sqrt((cnt_x @ (cx * cx)) * (cnt_y @ (cy * cy)))
            # AUC: a buyer beats every non-buyer of a worse segment and ties half with its own
            neg = cnt_x - pos
            P, N = pos.sum(), neg.sum()
            out["top_segment_holdout_revenue_share"][b] = rev_share
            out["top_segment_lift"][b] = rev_share / top_share if top_share > 0 else 0.0
            out["holdout_spearman"][b] = min(max(cov / denom, -1.0), 1.0) if denom > 1e-12 else 0.0
            out["holdout_activity_auc"][b] = (pos @ (np.cumsum(neg) - neg + 0.5 * neg)) / (P * N) \
                if P > 0 and N > 0 else 0.5
            out["top_segment_share"][b] = top_share
        return out


#: the last kept set of draws of this process: (customers, seed) -> (resamples, its owner, weakly: the
#: draws go with the run that drew them, not with the process)
_DRAWN: dict[tuple[int, int], tuple[int, "weakref.ref[BootstrapWeights]"]] = {}


def _chunk_rows(n: int, n_boot: int) -> int:
    """Resamples per chunk of weights for ``n`` customers."""
    return max(1, min(n_boot, _CHUNK_CELLS // max(n, 1)))


def _drawn_before(n: int, n_boot: int, seed: int) -> list[np.ndarray] | None:
    """Chunks of the same draws kept by an earlier :class:`BootstrapWeights` of this process, if any.

    One seeded stream gives the same first ``n_boot`` x ``n`` draws however many resamples are drawn
    from it, so a kept set of at least ``n_boot`` resamples for the same customers and seed serves
    (its first rows), when its chunks have the same number of rows (the same chunk shapes, the same
    arithmetic downstream).
    """
    kept = _DRAWN.get((n, seed))
    owner = kept[1]() if kept is not None else None
    if owner is None or owner._chunks is None or kept[0] < n_boot or _chunk_rows(n, kept[0]) != _chunk_rows(n, n_boot):
        return None
    chunks, left = [], n_boot
    for chunk in owner._chunks:
        if left <= 0:
            break
        chunks.append(chunk[:left])
        left -= len(chunks[-1])
    return chunks


class BootstrapWeights:
    """Poisson(1) weights for ``n`` customers and ``n_boot`` resamples; identical for the same seed.

    Iterating yields chunks (resamples x customers). Every scheme of a run is scored on the same
    resamples, so a run makes one of these and passes it to :func:`score_scheme` for each scheme:
    the chunks are kept after the first pass (as one byte per weight: a Poisson(1) draw never
    comes near 255) when they fit in ``keep_bytes``, since drawing them costs about a third of
    scoring a scheme; larger sets are drawn again, identically.
    """

    def __init__(self, n: int, n_boot: int, seed: int, keep_bytes: int = 256 * 2**20):
        self.n, self.n_boot, self.seed = n, n_boot, seed
        self._keep = n * n_boot <= keep_bytes
        # the same draws kept by another object of this process (at millions of customers every
        # origin's scores and the comparison use the same subsample size and seed; drawing 1e8
        # weights takes about 1.5 s)
        self._chunks: list[np.ndarray] | None = _drawn_before(n, n_boot, seed) if self._keep else None

    def prepare(self) -> "BootstrapWeights":
        """Draw now the chunks this object keeps, so threads that share it only read them (itself)."""
        if self._keep and self._chunks is None:
            for _ in self:
                pass
        return self

    @classmethod
    def for_customers(cls, n_customers: int, n_boot: int, seed: int) -> "BootstrapWeights":
        """The weights :func:`score_scheme` draws for ``n_customers`` (large runs use a subsample)."""
        return cls(min(n_customers, _MAX_BOOT_CUSTOMERS), n_boot, seed)

    def matches(self, n: int, n_boot: int, seed: int) -> bool:
        return (self.n, self.n_boot, self.seed) == (n, n_boot, seed)

    def __iter__(self):
        return self.columns(None)

    def columns(self, index: np.ndarray | None) -> Iterator[np.ndarray]:
        """The chunks (float64), only the columns ``index`` of each (None: all), in that order.

        The columns are taken from the kept bytes (or the fresh draws) before they become floats: at
        100,000 customers a chunk's columns cost 18 ms so, 76-102 ms taken from the float chunk.
        """
        if self._chunks is not None:
            for kept in self._chunks:
                yield (kept if index is None else kept[:, index]).astype(np.float64)
            return
        rng = np.random.default_rng(self.seed)
        chunk = _chunk_rows(self.n, self.n_boot)
        chunks, done = [], 0
        while done < self.n_boot:
            b = min(chunk, self.n_boot - done)
            draws = rng.poisson(1.0, size=(b, self.n))
            if self._keep:
                kept = draws.astype(np.uint8)
                kept.flags.writeable = False
                chunks.append(kept)
            yield (draws if index is None else draws[:, index]).astype(np.float64)
            done += b
        if self._keep:
            self._chunks = chunks
            _DRAWN.clear()  # one set remembered per process (at most keep_bytes)
            _DRAWN[(self.n, self.seed)] = (self.n_boot, weakref.ref(self))


def point_metrics(table: pd.DataFrame, outcomes: pd.DataFrame, previous: pd.DataFrame | None = None) -> dict:
    """The descriptive metrics of one scheme, without intervals."""
    return score_scheme(table, outcomes, previous, n_boot=0)["metrics"]


def score_scheme(table: pd.DataFrame, outcomes: pd.DataFrame, previous: pd.DataFrame | None = None, *,
                 n_boot: int = 1000, seed: int = 0, weights: BootstrapWeights | None = None,
                 aligned: AlignedOutcomes | None = None) -> dict[str, Any]:
    """Segments, metrics and bootstrap 95% intervals of one scheme on the holdout.

    Returns ``{"segments": [...], "metrics": {...}, "ci95": {...}, "boot": {metric: array}}``;
    ``boot`` holds the per-resample values (used for paired comparisons, not exported).
    ``weights``: a :class:`BootstrapWeights` shared by the schemes of a run (drawn here when absent);
    ``aligned``: the outcomes aligned once for the run's schemes (:class:`AlignedOutcomes`), used when
    it lists the table's customers in the table's order.

    Example
    -------
    >>> t = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "segment": ["VIP", "VIP", "REG", "REG"],
    ...                   "rank": [1, 1, 2, 2]})
    >>> o = pd.DataFrame({"customer_id": list("abcd"), "holdout_revenue": [10.0, 5, 0, 5],
    ...                   "bought": [True, True, False, True]})
    >>> score_scheme(t, o, n_boot=0)["metrics"]["top_segment_holdout_revenue_share"]
    0.75
    """
    if aligned is not None and aligned.serves(table):
        data = table[["customer_id", "segment", "rank"]].reset_index(drop=True)
        # as Series on the same index: the aligned arrays themselves (an array assigned is copied)
        data = data.assign(holdout_revenue=pd.Series(aligned.holdout_revenue, index=data.index, copy=False),
                           bought=pd.Series(aligned.bought, index=data.index, copy=False))
    else:
        data, aligned = _align(table, outcomes), None
    n = len(data)
    rank = data["rank"].to_numpy(np.int64)
    stats = _Stats(rank, data["holdout_revenue"].to_numpy(float), data["bought"].to_numpy(bool),
                   aligned.outcome if aligned is not None else None)
    point = {k: float(v[0]) for k, v in stats.metrics(np.ones((1, n))).items()}

    segments = _segment_rows(data)
    shares = [s["share"] for s in segments]
    metrics = {
        "n_segments": len(segments),
        "min_segment_share": min(shares),
        "top_segment_share": point["top_segment_share"],
        "top_segment_holdout_revenue_share": point["top_segment_holdout_revenue_share"],
        "top_segment_lift": point["top_segment_lift"],
        "holdout_spearman": point["holdout_spearman"],
        "holdout_activity_auc": point["holdout_activity_auc"],
        "stability_ari": stability_ari(table, previous) if previous is not None else None,
    }
    ci, boot = _bootstrap(stats, rank, metrics, n_boot=n_boot, seed=seed, weights=weights) if n_boot > 0 else ({}, {})
    return {"segments": segments, "metrics": metrics, "ci95": ci, "boot": boot}


def _segment_rows(data: pd.DataFrame) -> list[dict[str, Any]]:
    """Per segment (rank order): customers, share, holdout revenue and its share, retention."""
    n = len(data)
    seg = data.groupby(["rank", "segment"], sort=True).agg(
        customers=("customer_id", "size"), holdout_revenue=("holdout_revenue", "sum"), retention=("bought", "mean"))
    total_rev = data["holdout_revenue"].sum()
    return [{
        "label": str(label), "rank": int(r), "customers": int(row["customers"]),
        "share": row["customers"] / n, "holdout_revenue": float(row["holdout_revenue"]),
        "holdout_revenue_share": float(row["holdout_revenue"] / total_rev) if total_rev > 0 else 0.0,
        "retention": float(row["retention"]), "revenue_per_customer": float(row["holdout_revenue"] / row["customers"]),
    } for (r, label), row in seg.iterrows()]


def _bootstrap(stats: "_Stats", rank: np.ndarray, metrics: dict[str, Any], *, n_boot: int, seed: int,
               weights: BootstrapWeights | None) -> tuple[dict[str, list[float]], dict[str, np.ndarray]]:
    """95% percentile intervals and per-resample values of the holdout metrics.

    Above ``_MAX_BOOT_CUSTOMERS`` customers: a seeded subsample, its spread narrowed by
    sqrt(subsample / customers) around the full-data estimate (m-out-of-n).
    """
    n = len(rank)
    idx, scale = np.arange(n), 1.0
    if n > _MAX_BOOT_CUSTOMERS:
        rng = np.random.default_rng(seed + 7919)
        idx = np.sort(rng.choice(n, size=_MAX_BOOT_CUSTOMERS, replace=False))
        scale = math.sqrt(_MAX_BOOT_CUSTOMERS / n)
        stats = _Stats(rank[idx], stats.revenue[idx], stats.bought[idx].astype(bool))
    if weights is None or not weights.matches(len(idx), n_boot, seed):
        weights = BootstrapWeights(len(idx), n_boot, seed)
    parts = [stats.metrics(W) for W in weights]
    ci, boot = {}, {}
    for key in HOLDOUT_METRICS:
        values = np.concatenate([p[key] for p in parts])
        centre = metrics[key]
        if scale != 1.0:  # m-out-of-n: narrow the spread around the full-data estimate
            values = centre + (values - values.mean()) * scale
        boot[key] = values
        lo, hi = np.quantile(values, [0.025, 0.975])
        ci[key] = [float(min(lo, centre)), float(max(hi, centre))]
    return ci, boot


def stability_ari(table: pd.DataFrame, previous: pd.DataFrame, *, where: np.ndarray | None = None) -> float:
    """Adjusted Rand index between the segments of the same customers in two fits.

    ``where``: each customer's row in ``previous`` (-1: none), as :func:`pairing` gives it, when the
    caller has it already (every scheme's tables list the same customers).
    """
    a = pd.DataFrame({"customer_id": table["customer_id"].astype(str), "a": _as_labels(table["segment"])})
    b = pd.DataFrame({"customer_id": previous["customer_id"].astype(str), "b": _as_labels(previous["segment"])})
    where = where if where is not None else pairing(a["customer_id"], b["customer_id"])
    if where is not None:  # one row per customer: paired in Arrow (ARI ignores order)
        both = pd.DataFrame({"a": pd.factorize(a["a"])[0][where >= 0], "b": pd.factorize(b["b"])[0][where[where >= 0]]})
    else:
        both = a.merge(b, on="customer_id", how="inner")
    if len(both) < 2:
        return 0.0
    # integer codes: the same index, without sorting hundreds of thousands of strings
    return adjusted_rand(pd.factorize(both["a"])[0], pd.factorize(both["b"])[0])


def pairing(ids: pd.Series, previous_ids: pd.Series) -> np.ndarray | None:
    """Each of ``ids``' position among ``previous_ids`` (-1: absent) when those are unique and sorted
    (a segment table's), else None (then :func:`stability_ari` joins the tables)."""
    previous_ids = previous_ids.astype(str)
    if not text_sorted(previous_ids, strict=True):
        return None
    return positions(ids.astype(str), previous_ids)


def stabilities(tables: Mapping[str, pd.DataFrame], previous: Mapping[str, pd.DataFrame]) -> dict[str, float | None]:
    """:func:`stability_ari` of each scheme against its table one month earlier (None without one).

    The schemes' tables list the same customers in the same order (the features'), in both fits: the
    customers are then paired once for all schemes, not once per scheme (3.37M customers: 0.7 s each).
    """
    out: dict[str, float | None] = {}
    paired: tuple[pd.Series, pd.Series, np.ndarray | None] | None = None
    for name, table in tables.items():
        if name not in previous:
            out[name] = None
            continue
        ids, earlier = table["customer_id"], previous[name]["customer_id"]
        if paired is None or not (same_text(ids, paired[0]) and same_text(earlier, paired[1])):
            paired = ids, earlier, pairing(ids, earlier)
        out[name] = stability_ari(table, previous[name], where=paired[2])
    return out


def _as_labels(segment: pd.Series) -> pd.Series:
    """The segments as text labels; dictionary-encoded ones (the segment tables') stay encoded: their
    codes group the customers as their text does (a missing segment, read as the text ``nan``, takes
    the text path)."""
    if isinstance(segment.dtype, pd.CategoricalDtype) and not segment.isna().any():
        return segment
    return segment.astype(str)


def adjusted_rand(a: np.ndarray, b: np.ndarray) -> float:
    """scikit-learn's ``adjusted_rand_score`` of two labelings given as codes 0..k-1, to the last bit.

    The pair counts come from one ``bincount`` of the code pairs (a few segments each) instead of
    scikit-learn's sort of every label (0.75 s per call at 3.4M customers); the counts are the same
    integers and the final expression the same, so the float is too. Many labels: scikit-learn.

    >>> adjusted_rand(np.array([0, 0, 1, 1]), np.array([1, 1, 0, 0]))
    1.0
    >>> adjusted_rand(np.array([0, 0, 1]), np.array([0, 1, 1]))
    -0.5
    """
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    ka, kb = int(a.max(initial=-1)) + 1, int(b.max(initial=-1)) + 1
    if len(a) == 0 or ka * kb > 1_000_000 or a.min() < 0 or b.min() < 0:
        return float(adjusted_rand_score(a, b))
    table = np.bincount(a * kb + b, minlength=ka * kb).reshape(ka, kb).astype(np.int64)
    n, squares = len(a), int((table * table).sum())
    fp = int((table @ table.sum(axis=0)).sum()) - squares
    fn = int((table.T @ table.sum(axis=1)).sum()) - squares
    tp, tn = squares - n, n * n - fp - fn - squares
    if fn == 0 and fp == 0:
        return 1.0
    return 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))


# ====================================================================== curves and movement
def capture_curve(table: pd.DataFrame, outcomes: pd.DataFrame, points: int = 101) -> pd.DataFrame:
    """Share of holdout revenue captured by the top x% of customers as ordered by the scheme.

    Customers within one segment are interchangeable, so the curve runs straight across a
    segment (its revenue is spread evenly). ``oracle`` orders by the holdout revenue itself;
    ``random`` is the diagonal.
    """
    data = _align(table, outcomes)
    n, total = len(data), data["holdout_revenue"].sum()
    x = np.linspace(0, 1, points)
    g = data.groupby("rank", sort=True).agg(c=("customer_id", "size"), r=("holdout_revenue", "sum"))
    bx = np.concatenate([[0], g["c"].cumsum().to_numpy() / n])
    by = np.concatenate([[0], g["r"].cumsum().to_numpy() / total]) if total > 0 else np.zeros(len(g) + 1)
    scheme = np.interp(x, bx, by)
    ordered = np.sort(data["holdout_revenue"].to_numpy())[::-1]
    ox = np.arange(n + 1) / n
    oy = np.concatenate([[0], np.cumsum(ordered) / total]) if total > 0 else np.zeros(n + 1)
    oracle = np.interp(x, ox, oy)
    return pd.DataFrame({"share_of_customers": x, "scheme": scheme, "oracle": oracle, "random": x})


def holdout_curves(table: pd.DataFrame, holdout_monthly: pd.DataFrame) -> pd.DataFrame:
    """Month by month in the holdout, per segment: revenue, buyers and share of the segment buying."""
    t = table[["customer_id", "segment", "rank"]].copy()
    sizes = t.groupby(["rank", "segment"]).size().rename("segment_customers").reset_index()
    hm = holdout_monthly.merge(t, on="customer_id", how="inner")
    agg = hm.groupby(["month", "rank", "segment"]).agg(revenue=("revenue", "sum"),
                                                        buyers=("purchases", lambda s: int((s > 0).sum())))
    agg = agg.reset_index()
    months = sorted(holdout_monthly["month"].unique())
    full = pd.MultiIndex.from_product([months, sizes["rank"]], names=["month", "rank"]).to_frame(index=False)
    full = full.merge(sizes, on="rank").merge(agg.drop(columns="segment"), on=["month", "rank"], how="left")
    full[["revenue", "buyers"]] = full[["revenue", "buyers"]].fillna(0)
    full["buyers"] = full["buyers"].astype("int64")
    full["share_buying"] = full["buyers"] / full["segment_customers"]
    return full.sort_values(["rank", "month"]).reset_index(drop=True)


def migration_matrix(previous: pd.DataFrame, table: pd.DataFrame, normalize: bool = False) -> pd.DataFrame:
    """Customers by previous segment (rows) and current segment (columns), in rank order."""
    p = previous[["customer_id", "segment", "rank"]].rename(columns={"segment": "from", "rank": "from_rank"})
    c = table[["customer_id", "segment", "rank"]].rename(columns={"segment": "to", "rank": "to_rank"})
    m = p.merge(c, on="customer_id", how="inner")
    rows = m.drop_duplicates("from").sort_values("from_rank")["from"].tolist()
    cols = m.drop_duplicates("to").sort_values("to_rank")["to"].tolist()
    out = pd.crosstab(m["from"], m["to"]).reindex(index=rows, columns=cols, fill_value=0)
    if normalize:
        out = out.div(out.sum(axis=1).replace(0, 1), axis=0)
    return out


def persistence(previous: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Per segment: customers in it before, and the share still in it now."""
    m = migration_matrix(previous, table)
    rows = []
    for seg in m.index:
        before = int(m.loc[seg].sum())
        stayed = int(m.loc[seg, seg]) if seg in m.columns else 0
        rows.append({"segment": seg, "customers_before": before, "stayed": stayed,
                     "persistence": stayed / before if before else 0.0})
    return pd.DataFrame(rows)


def agreement(tables: Mapping[str, pd.DataFrame], monetary: pd.Series | None = None,
              outcomes: pd.DataFrame | None = None) -> dict[str, Any]:
    """Pairwise ARI and NMI, crosstabs, and who the schemes disagree on at the top.

    ``monetary`` (customer_id -> calibration net revenue) and ``outcomes`` add the revenue at stake
    among the customers that one scheme puts in its top segment and the other does not.
    """
    names = list(tables)
    labels = {k: v.set_index(v["customer_id"].astype(str)) for k, v in tables.items()}
    common = None
    for v in labels.values():
        common = v.index if common is None else common.intersection(v.index)
    ari = pd.DataFrame(1.0, index=names, columns=names)
    nmi = pd.DataFrame(1.0, index=names, columns=names)
    pairs, crosstabs = [], {}
    hold = outcomes.set_index(outcomes["customer_id"].astype(str))["holdout_revenue"] if outcomes is not None else None
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            la, lb = labels[a].loc[common, "segment"].astype(str), labels[b].loc[common, "segment"].astype(str)
            ari.loc[a, b] = ari.loc[b, a] = adjusted_rand_score(la, lb)
            nmi.loc[a, b] = nmi.loc[b, a] = normalized_mutual_info_score(la, lb)
            crosstabs[(a, b)] = pd.crosstab(la.rename(a), lb.rename(b))
            top_a = set(common[(labels[a].loc[common, "rank"] == 1).to_numpy()])
            top_b = set(common[(labels[b].loc[common, "rank"] == 1).to_numpy()])
            for x, y, only in ((a, b, top_a - top_b), (b, a, top_b - top_a)):
                ids = sorted(only)
                pairs.append({"top_of": x, "not_top_of": y, "customers": len(ids),
                              "calibration_revenue": float(monetary.reindex(ids).fillna(0).sum())
                              if monetary is not None else None,
                              "holdout_revenue": float(hold.reindex(ids).fillna(0).sum()) if hold is not None else None})
            pairs.append({"top_of": f"{a} and {b}", "not_top_of": "", "customers": len(top_a & top_b),
                          "calibration_revenue": float(monetary.reindex(sorted(top_a & top_b)).fillna(0).sum())
                          if monetary is not None else None,
                          "holdout_revenue": float(hold.reindex(sorted(top_a & top_b)).fillna(0).sum())
                          if hold is not None else None})
    return {"ari": ari, "nmi": nmi, "crosstabs": crosstabs, "top_disagreement": pd.DataFrame(pairs)}


# ====================================================================== sensitivity
def jaccard(a: set | pd.Index | list, b: set | pd.Index | list) -> float:
    """|A ∩ B| / |A ∪ B| (1.0 for two empty sets)."""
    a, b = set(a), set(b)
    return 1.0 if not a and not b else len(a & b) / len(a | b)


def vip_sensitivity(fit_fn: Callable[[str, float], set], criteria: list[str], shares: list[float], *,
                    base_criterion: str, base_share: float = 0.2) -> dict[str, pd.DataFrame]:
    """How the VIP set moves with the criterion and with ``vip_share``.

    ``fit_fn(criterion, vip_share)`` returns the VIP customer ids. Returns ``criteria`` (Jaccard
    overlap between every pair of criteria at ``base_share``) and ``shares`` (VIP count and
    Jaccard with the base share, for each share at ``base_criterion``).
    """
    sets = {c: fit_fn(c, base_share) for c in criteria}
    crit = pd.DataFrame([[jaccard(sets[a], sets[b]) for b in criteria] for a in criteria], index=criteria,
                        columns=criteria)
    base = sets.get(base_criterion) or fit_fn(base_criterion, base_share)
    rows = []
    for s in shares:
        vip = base if math.isclose(s, base_share) else fit_fn(base_criterion, s)
        rows.append({"vip_share": s, "vip_customers": len(vip), "jaccard_with_base": jaccard(vip, base),
                     "kept_from_base": len(vip & base)})
    return {"criteria": crit, "vip_counts": pd.Series({c: len(v) for c, v in sets.items()}),
            "shares": pd.DataFrame(rows)}


def union_vs_period_total(union_table: pd.DataFrame, period_table: pd.DataFrame, outcomes: pd.DataFrame,
                          alerts: pd.DataFrame) -> dict[str, Any]:
    """What ranking the window total once (period-total) misses compared with monthly union tiers."""
    u = set(union_table.loc[union_table["segment"] == "VIP", "customer_id"].astype(str))
    p = set(period_table.loc[period_table["segment"] == "VIP", "customer_id"].astype(str))
    hold = outcomes.set_index(outcomes["customer_id"].astype(str))["holdout_revenue"]
    missed = sorted(u - p)
    alerted = set(alerts["customer_id"].astype(str))
    return {
        "union_vip": len(u), "period_total_vip": len(p), "both": len(u & p),
        "missed_by_period_total": len(missed),
        "missed_holdout_revenue": float(hold.reindex(missed).fillna(0).sum()),
        "only_period_total": len(p - u),
        "dropouts_flagged_by_union": len(alerted),
        "dropouts_not_vip_in_period_total": len(alerted - p),
        "dropout_value_at_risk": float(alerts["value_at_risk"].sum()) if len(alerts) else 0.0,
        "missed_customers": missed,
    }


# ====================================================================== recommendation
def recommended_segments(tables: Mapping[str, pd.DataFrame], recommended: str | None) -> pd.Series:
    """customer_id -> segment of the recommended scheme (empty strings when none)."""
    if recommended is None or recommended not in tables:
        any_table = next(iter(tables.values()))
        return pd.Series("", index=pd.Index(any_table["customer_id"].astype(str)).rename(None))
    t = tables[recommended]  # categories or Arrow text as they are: no Python object per customer
    segment = t["segment"] if isinstance(t["segment"].dtype, pd.CategoricalDtype) else t["segment"].astype(str)
    return pd.Series(segment.array, index=pd.Index(t["customer_id"].astype(str)).rename(None))


# ====================================================================== scorecard
def _clean(value: Any) -> Any:
    """JSON-safe: numpy to Python, floats rounded to 6 decimals, NaN/inf to None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return None if not math.isfinite(v) else round(v, 6)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value


def build_scorecard(run: str, split: Any, scores: Mapping[str, Mapping[str, Any]],
                    verdict: Mapping[str, Any]) -> dict[str, Any]:
    """The content of ``scorecard.json``.

    ``scores``: :func:`score_scheme` per scheme (segments, descriptive metrics, their intervals);
    ``verdict``: ``recommended``, ``reasons`` and the comparison's part
    (:func:`segkit.compare.scorecard_fragments`: ``outcome``, per-scheme ``comparison``,
    ``baselines``, ``backtest``, ``clear_winner``, ``decision_rule``, ...). Each scheme's
    ``comparison`` is merged into its entry under ``schemes``.
    """
    periods = split.to_dict()
    extra = {k: v for k, v in verdict.items() if k not in ("recommended", "reasons", "schemes")}
    per_scheme = verdict.get("schemes", {})
    schemes = {name: {"segments": s["segments"], "metrics": s["metrics"], "ci95": s["ci95"],
                      **per_scheme.get(name, {})} for name, s in scores.items()}
    return _clean({
        "run": run,
        "calibration": periods["calibration"],
        "holdout": periods["holdout"],
        "schemes": schemes,
        "recommended": verdict["recommended"],
        "reasons": list(verdict["reasons"]),
        **extra,
    })
