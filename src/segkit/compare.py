"""Compare segmentation schemes on equal footing: capture of the holdout outcome, baselines, verdict.

Everything here works on the segment-table contract (``customer_id, segment, rank``; rank 1 = most
valuable) and on one *outcome* per evaluated customer, so any scheme (and any simple ranking) is
scored by the same code, and every number can be recomputed from ``assignments.csv`` and the raw
transactions. Numbers only: the words that explain them live in :mod:`segkit.narrative`.

Definitions
-----------
- *Outcome* of a customer: the run's criterion (revenue, units, margin or payments) summed over
  the holdout months, clipped at 0 from below (a customer who returned more than they bought
  brought nothing, not less than nothing); 0 for a customer without holdout activity. "Bought
  again" (at least one purchase in the holdout) is kept as a second outcome.
- *Ordering*: a ranking orders the customers best first. Customers with the same key (one
  segment) are tied and share their segment's outcome pro rata: the capture curve runs straight
  between the segment's end points, the expected curve under a random order inside the segment.
- *Capture curve* C(x): share of the total outcome held by the first x of the customers;
  ``capture_at`` = C at the shares 0.1, ``vip_share`` and 0.4 (keys ``str(share)``).
- ``capture_auc`` = (A - 0.5) / (A* - 0.5): A the area under C, A* the area under the
  perfect-foresight curve (customers sorted by their own outcome). 0 = random order, 1 = perfect,
  negative = worse than random. Splitting a segment into sub-segments with the same mean outcome
  leaves it unchanged; a split that puts the sub-segment with the higher mean first never lowers
  it, and raises it at most to the area with the segment sorted by outcome.
- Degenerate cases are defined, never NaN: when the total outcome is 0 (or no customer carries
  weight) every order is as good as any other, so C is the diagonal (``capture_at[x] = x``) and
  ``capture_auc`` = 0; when every customer has the same outcome A* = 0.5 and ``capture_auc`` = 0.
- *Baselines*, ordered the same way at full resolution: ``recency`` (later last purchase in
  calibration first) and ``past_value`` (higher criterion total over the last ``window_months`` of
  calibration first).

Uncertainty: the Poisson bootstrap of :mod:`segkit.evaluate` (each customer weighted by a Poisson(1)
draw). One set of weights, drawn over customer ids (:class:`CustomerWeights`), serves every scheme,
every baseline and every backtest origin, so differences between them have *paired* intervals. A
resample costs two ``bincount`` passes over the customers per ranking, plus one for the
perfect-foresight curve, and cumulative sums over the groups: O(customers) per resample.

Example
-------
>>> import numpy as np
>>> r = capture(np.array([1, 1, 2, 2]), np.array([6.0, 2, 2, 0]), shares=(0.5,))
>>> r["capture_at"]["0.5"], round(r["capture_auc"], 6)
(0.8, 0.666667)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score

from .errors import DataError, ParameterError
from .evaluate import _MAX_BOOT_CUSTOMERS, BootstrapWeights, levels_and_codes
from .engines import lookup, ordered_sums, text_sorted
from .reproducible import side_by_side
from .schemes._base import _text, positions

__all__ = [
    "BASELINES",
    "TOLERANCE",
    "capture_shares",
    "share_key",
    "criterion_outcomes",
    "baseline_orders",
    "capture",
    "capture_curve",
    "CustomerWeights",
    "compare_rankings",
    "primary",
    "verdict",
    "baseline_retention",
    "practicality",
    "refit_stability",
    "sensitivity_settings",
    "verdict_sensitivity",
    "scorecard_fragments",
]

BASELINES = ("recency", "past_value")
#: the recommended scheme is never beaten on both measures by more than this at the main cut-off
TOLERANCE = 0.02
_LEVEL = 0.95


# ====================================================================== outcomes and orders
def capture_shares(vip_share: float) -> tuple[float, ...]:
    """The shares ``capture_at`` reports: 0.1, ``vip_share`` and 0.4 (sorted, without repeats).

    >>> capture_shares(0.2), capture_shares(0.1)
    ((0.1, 0.2, 0.4), (0.1, 0.4))
    """
    return tuple(sorted({0.1, float(vip_share), 0.4}))


def share_key(share: float) -> str:
    """The text key of a share in ``capture_at`` (``str`` of the float: ``"0.2"``)."""
    return str(float(share))


def criterion_outcomes(holdout_monthly: pd.DataFrame, customers: Iterable[str], criterion: str) -> pd.DataFrame:
    """Each evaluated customer's holdout outcome: ``customer_id, outcome, bought`` (sorted by id).

    ``holdout_monthly`` is :func:`segkit.features.customer_month` over the holdout (columns
    ``revenue, payments, units, margin, purchases``). ``outcome`` = the criterion summed over the
    holdout months, clipped at 0 from below; ``bought`` = at least one purchase. Customers without
    holdout rows get 0 and False; rows of customers not in ``customers`` are ignored.

    >>> hm = pd.DataFrame({"customer_id": ["a", "a", "b", "x"], "revenue": [5.0, 2, -3, 9],
    ...                    "purchases": [1, 1, 0, 1]})
    >>> criterion_outcomes(hm, ["a", "b", "c"], "revenue")["outcome"].tolist()
    [7.0, 0.0, 0.0]
    """
    if criterion not in holdout_monthly.columns:
        raise ParameterError(f"the holdout table has no column for the criterion {criterion!r}",
                             where="criterion", fix="use revenue, payments, units or margin")
    given = customers if isinstance(customers, (pd.Series, pd.Index)) else pd.Series(list(customers), dtype=str)
    ids = pd.Index(given.astype(str))
    if not text_sorted(ids, strict=True):  # the features' ids come sorted and unique
        ids = ids.unique().sort_values()
    hm = holdout_monthly.assign(customer_id=holdout_monthly["customer_id"].astype(str))
    sums = _spread(hm.groupby("customer_id", sort=False)[[criterion, "purchases"]].sum(), ids)
    # the ids' own Arrow text (to_numpy would make a Python object per id, then copy them back)
    return pd.DataFrame({"customer_id": ids.array,
                         "outcome": np.clip(sums[criterion].astype(float), 0.0, None),
                         "bought": sums["purchases"] > 0})


def _spread(groups: pd.DataFrame, ids: pd.Index) -> dict[str, np.ndarray]:
    """``lookup(groups, ids, 0)`` for ``ids`` sorted and unique: each group's row placed at its id's
    position (0 where an id has no group; groups of other ids dropped). The groups' ids are looked up
    among the sorted ``ids`` (a binary search when they come in sorted runs, as the groups of a
    customer-month table sorted by month do), not the ids among the groups': that took a hash join of
    every evaluated id, whose memory Polars' allocator kept (0.33 GB at 3.37M customers)."""
    at = positions(groups.index, ids)
    keep = at >= 0
    out = {}
    for column in groups.columns:
        values = groups[column].to_numpy()
        spread = np.zeros(len(ids), dtype=values.dtype)
        spread[at[keep]] = values[keep]
        out[column] = spread
    return out


def baseline_orders(features: pd.DataFrame, monthly: pd.DataFrame, criterion: str,
                    window: Sequence[Any]) -> pd.DataFrame:
    """Order keys of the simple rankings (smaller = earlier): ``customer_id, recency, past_value``.

    ``recency`` = days since the last purchase (:func:`segkit.features.customer_features`'
    ``recency_days``); ``past_value`` = minus the criterion total over the months ``window`` (the
    last ``window_months`` of calibration) in the calibration customer-month table ``monthly``,
    each customer's months added oldest first (:func:`segkit.engines.ordered_sums`, as the engine's
    window totals add them: :func:`baseline_frame` takes those).

    >>> f = pd.DataFrame({"customer_id": ["a", "b"], "recency_days": [3, 40]})
    >>> m = pd.DataFrame({"customer_id": ["a", "b", "b"], "revenue": [1.0, 5, 7],
    ...                   "month": pd.to_datetime(["2024-06-01", "2024-06-01", "2023-01-01"])})
    >>> baseline_orders(f, m, "revenue", ["2024-06-01"])["past_value"].tolist()
    [-1.0, -5.0]
    """
    ids = features["customer_id"].astype(str).reset_index(drop=True)  # kept as text: no Python object per id
    months = pd.to_datetime(pd.Series(list(window))).astype("datetime64[ns]")
    inside = monthly[pd.to_datetime(monthly["month"]).isin(months)]
    # each row's customer as its position among the features' ids: the sums group on integers
    at = positions(inside["customer_id"].astype(str), ids)
    known = at >= 0
    sums = ordered_sums(at[known], pd.to_datetime(inside["month"]).to_numpy()[known],
                        inside[criterion].to_numpy(float)[known])
    value = np.zeros(len(ids))
    value[sums.index.to_numpy(np.int64)] = sums.to_numpy()
    return baseline_frame(features, value)


def baseline_frame(features: pd.DataFrame, window_value: np.ndarray) -> pd.DataFrame:
    """:func:`baseline_orders` from each feature row's criterion total over the window (0 for none)."""
    ids = features["customer_id"].astype(str).reset_index(drop=True)
    out = pd.DataFrame({"customer_id": ids, "recency": features["recency_days"].to_numpy(float),
                        "past_value": -np.asarray(window_value, dtype=float)})
    if text_sorted(ids):  # the features come sorted by customer_id
        return out
    return out.sort_values("customer_id", kind="stable").reset_index(drop=True)


# ====================================================================== curves on weights
class _Ranking:
    """One ordering as group codes (group 0 comes first), summed per resample with ``bincount``.

    A resample costs two ``bincount`` passes over the customers (O(n)) and a cumulative sum over
    the groups, whatever the number of groups (a few segments, or one per customer for a baseline).
    """

    def __init__(self, order: np.ndarray):
        levels, codes = levels_and_codes(order)
        self.codes, self.k, self.levels = codes.ravel(), len(levels), levels
        self._members: np.ndarray | None = None

    def sums(self, W: np.ndarray, Wy: np.ndarray | None, *, whole: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Weighted customers and outcome per group for each row of ``W`` (resamples x customers).

        ``Wy`` = ``W`` times the outcome; None for the oracle, whose groups *are* outcome levels
        (order = minus the outcome), so a group's outcome is its count times its level.
        ``whole``: the weights are whole numbers (bootstrap draws), so the counts are exact integers
        whatever the order of addition, and a few groups are counted by one matrix product
        (:func:`_group_counts`); the outcome sums keep ``bincount``'s fixed order of addition.
        """
        counts = _group_counts(self, W) if whole and self.k <= _PRODUCT_GROUPS else \
            np.stack([np.bincount(self.codes, weights=w, minlength=self.k) for w in W])
        if Wy is None:
            return counts, counts * -self.levels[None, :]
        return counts, np.stack([np.bincount(self.codes, weights=w, minlength=self.k) for w in Wy])


#: up to this many groups, whole-number weights are counted per group by a matrix product
_PRODUCT_GROUPS = 16


def _group_counts(ranking: _Ranking, W: np.ndarray) -> np.ndarray:
    """``W`` summed per group by one product with the customers' 0/1 membership matrix.

    Exact for whole-number weights: every partial sum is an integer far below 2**53, so BLAS's order
    of addition (which varies with the machine and its threads) cannot change a bit of the result,
    and it equals ``bincount``'s; about 3x faster than one ``bincount`` per resample.
    """
    if ranking._members is None:
        members = np.zeros((len(ranking.codes), ranking.k))
        members[np.arange(len(ranking.codes)), ranking.codes] = 1.0
        ranking._members = members
    return W @ ranking._members


def _vertices(counts: np.ndarray, totals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Capture-curve vertices (with the origin) of one row of group counts and outcome sums."""
    n, t = counts.sum(), totals.sum()
    if n <= 0 or t <= 0:  # nothing to capture: every order is the diagonal
        return np.array([0.0, 1.0]), np.array([0.0, 1.0])
    return np.concatenate([[0.0], np.cumsum(counts) / n]), np.concatenate([[0.0], np.cumsum(totals) / t])


def _curve_stats(counts: np.ndarray, totals: np.ndarray, shares: Sequence[float]) -> tuple[np.ndarray, dict]:
    """Area under the pro-rata capture curve and C(share), for each row of group sums.

    With N customers, T outcome and S_g the outcome of groups 1..g, group g adds the trapezoid
    c_g/N * (S_(g-1) + S_g)/(2T), so A = (sum c_g S_g - sum c_g t_g / 2) / (N T): one cumulative
    sum, no vertex arrays. C(s) interpolates inside the group where the count passes s*N.
    """
    n, t = counts.sum(axis=1), totals.sum(axis=1)
    flat = (n <= 0) | (t <= 0)  # nothing to capture: every order is the diagonal
    n1, t1 = np.where(flat, 1.0, n), np.where(flat, 1.0, t)
    S = np.cumsum(totals, axis=1)
    area = (np.einsum("ij,ij->i", counts, S) - 0.5 * np.einsum("ij,ij->i", counts, totals)) / (n1 * t1)
    area = np.where(flat, 0.5, area)
    cx = np.cumsum(counts, axis=1)
    rows, at = np.arange(len(counts)), {}
    for share in shares:
        target = share * n1
        g = np.minimum((cx < target[:, None]).sum(axis=1), counts.shape[1] - 1)
        before_c = np.where(g > 0, cx[rows, g - 1], 0.0)
        before_s = np.where(g > 0, S[rows, g - 1], 0.0)
        c_g = counts[rows, g]
        frac = np.where(c_g > 0, (target - before_c) / np.where(c_g > 0, c_g, 1.0), 0.0).clip(0.0, 1.0)
        at[share_key(share)] = np.where(flat, share, (before_s + frac * totals[rows, g]) / t1)
    return area, at


def _auc(area: np.ndarray, oracle: np.ndarray) -> np.ndarray:
    gap = oracle - 0.5
    return np.where(gap > 1e-12, (area - 0.5) / np.where(gap > 1e-12, gap, 1), 0.0)


def _score(ranking: _Ranking, W: np.ndarray, Wy: np.ndarray, oracle_area: np.ndarray,
           shares: Sequence[float], *, whole: bool = False) -> dict[str, Any]:
    area, at = _curve_stats(*ranking.sums(W, Wy, whole=whole), shares)
    return {"capture_at": at, "capture_auc": _auc(area, oracle_area), "area": area, "oracle_area": oracle_area}


def _oracle_area(y: np.ndarray, W: np.ndarray) -> np.ndarray:
    """A*: the area under the perfect-foresight curve, for each row of weights."""
    return _curve_stats(*_Ranking(-y).sums(W, None), ())[0]


def capture(order: np.ndarray, outcome: np.ndarray, shares: Sequence[float] = (0.1, 0.2, 0.4),
            weights: np.ndarray | None = None, *, oracle_area: np.ndarray | None = None) -> dict[str, Any]:
    """``capture_at``, ``capture_auc``, ``area`` (A) and ``oracle_area`` (A*) of one ordering.

    ``order``: one key per customer, smaller first (a segment rank, or minus a value); equal keys
    are tied and share pro rata. ``outcome``: >= 0 per customer. ``weights``: optional customer
    weights (a weight of 2 counts the customer twice). ``oracle_area``: A* when the caller has it
    (the same for every ordering of the same outcomes and weights).

    >>> r = capture(np.array([2, 1, 1]), np.array([0.0, 3, 1]), shares=(0.5,))
    >>> r["capture_at"]["0.5"], round(r["capture_auc"], 6)
    (0.75, 0.666667)
    """
    order, outcome = np.asarray(order), np.asarray(outcome, dtype=float)
    W = np.ones((1, len(order))) if weights is None else np.asarray(weights, dtype=float)[None, :]
    oracle = _oracle_area(outcome, W) if oracle_area is None else oracle_area
    out = _score(_Ranking(order), W, W * outcome, oracle, shares)
    return {"capture_at": {k: float(v[0]) for k, v in out["capture_at"].items()},
            **{k: float(out[k][0]) for k in ("capture_auc", "area", "oracle_area")}}


def capture_curve(order: np.ndarray, outcome: np.ndarray, points: int = 101) -> pd.DataFrame:
    """The capture curve on a grid: ``share, ranking, oracle, random`` (for plots).

    >>> capture_curve(np.array([1, 2]), np.array([1.0, 0.0]), points=3)["ranking"].tolist()
    [0.0, 1.0, 1.0]
    """
    outcome = np.asarray(outcome, dtype=float)
    grid = np.linspace(0, 1, points)
    W = np.ones((1, len(outcome)))
    X, Y = _vertices(*(a[0] for a in _Ranking(np.asarray(order)).sums(W, W * outcome)))
    OX, OY = _vertices(*(a[0] for a in _Ranking(-outcome).sums(W, None)))
    return pd.DataFrame({"share": grid, "ranking": np.interp(grid, X, Y),
                         "oracle": np.interp(grid, OX, OY), "random": grid})


# ====================================================================== bootstrap over customers
class CustomerWeights:
    """Poisson(1) bootstrap weights keyed by customer id, shared by schemes, baselines and origins.

    Drawn once over the sorted union of the customer ids of every backtest origin, so resample b
    weights a customer the same at every origin: the pooled advantage over origins then has a
    paired interval that respects the overlap of the origins' customers. Above ``max_customers``
    the resamples run on a seeded subsample (the same subsample as :func:`segkit.evaluate.score_scheme`
    draws for one origin) and :attr:`scale` = sqrt(subsample / customers) narrows the spread.

    >>> w = CustomerWeights(["b", "a", "c"], n_boot=4, seed=0)
    >>> w.ids.tolist(), w.positions(["c", "a"]).tolist(), w.scale
    (['a', 'b', 'c'], [2, 0], 1.0)
    """

    def __init__(self, customer_ids: Iterable[str], n_boot: int, seed: int,
                 max_customers: int = _MAX_BOOT_CUSTOMERS):
        # distinct ids sorted in Arrow (code point order, as numpy sorts text): a numpy text array of
        # every origin's ids would take 4 bytes per character per row; only the subsample becomes one
        if isinstance(customer_ids, (pa.Array, pa.ChunkedArray)):  # already text in Arrow (score_origins)
            text = customer_ids.cast(pa.large_string())
        else:
            text = pa.array(pd.Series(customer_ids if isinstance(customer_ids, (np.ndarray, pd.Series, pd.Index))
                                      else list(customer_ids), dtype=object).astype(str), type=pa.large_string())
        distinct = pc.unique(text)
        distinct = distinct.take(pc.sort_indices(distinct))
        self.n_customers, self.scale = len(distinct), 1.0
        if len(distinct) > max_customers:
            rng = np.random.default_rng(seed + 7919)
            distinct = distinct.take(pa.array(np.sort(rng.choice(len(distinct), size=max_customers, replace=False))))
            self.scale = math.sqrt(max_customers / self.n_customers)
        ids = np.asarray(distinct.to_numpy(zero_copy_only=False), dtype=str)
        self.ids, self.n_boot, self.seed = ids, n_boot, seed
        self._sorted = distinct.combine_chunks() if isinstance(distinct, pa.ChunkedArray) else distinct
        self.draws = BootstrapWeights(len(ids), n_boot, seed)

    def positions(self, customer_ids: Iterable[str]) -> np.ndarray:
        """Column of each id in the weights; -1 for ids outside the (sub)sample."""
        if isinstance(customer_ids, pd.Series | pd.Index) and isinstance(customer_ids.dtype, pd.StringDtype):
            # text in Arrow: one hash of the (sub)sample, no Python object per id
            found = pc.index_in(_text(customer_ids), value_set=self._sorted, skip_nulls=True)
            return np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
        ids = np.asarray(list(customer_ids), dtype=str)
        pos = np.searchsorted(self.ids, ids).clip(0, max(len(self.ids) - 1, 0))
        found = (self.ids[pos] == ids) if len(self.ids) else np.zeros(len(ids), bool)
        return np.where(found, pos, -1)

    def __iter__(self):
        return iter(self.draws)

    def columns(self, index: np.ndarray) -> Iterator[np.ndarray]:
        """The chunks of weights with only the columns ``index`` (e.g. :meth:`positions` of the
        evaluated customers), in that order."""
        return self.draws.columns(index)


def _orders(tables: Mapping[str, pd.DataFrame], baselines: pd.DataFrame | None,
            ids: pd.Series | np.ndarray) -> dict[str, np.ndarray]:
    """Order keys aligned with ``ids``: each table's rank, then each baseline's key."""
    orders = {}
    for name, table in tables.items():
        rank = lookup(pd.Series(table["rank"].to_numpy(), index=table["customer_id"].astype(str)), ids,
                      np.nan).astype(float)
        absent = np.isnan(rank)
        if absent.any():
            missing = [str(c) for c in np.asarray(ids, dtype=object)[absent][:3]]
            raise DataError(f"the segment table of {name!r} leaves {int(absent.sum())} evaluated customer(s) "
                            f"without a segment (e.g. {missing})", where=f"scheme {name!r}",
                            fix="give every customer with a purchase in calibration a segment and a rank")
        orders[name] = rank
    if baselines is not None:
        keys = [name for name in BASELINES if name in baselines]
        b = lookup(baselines.set_index(baselines["customer_id"].astype(str))[keys], ids, np.nan)
        for name in keys:
            values = b[name].astype(float)
            orders[name] = np.where(np.isnan(values), np.inf, values)  # unknown: last
    return orders


def _interval(values: np.ndarray, centre: float, scale: float) -> tuple[np.ndarray, list[float]]:
    """Per-resample values (spread narrowed by ``scale`` around ``centre``) and their 95% interval."""
    if scale != 1.0:
        values = centre + (values - values.mean()) * scale
    lo, hi = np.quantile(values, [(1 - _LEVEL) / 2, (1 + _LEVEL) / 2])
    return values, [float(lo), float(hi)]


def compare_rankings(tables: Mapping[str, pd.DataFrame], outcomes: pd.DataFrame, vip_share: float, *,
                     baselines: pd.DataFrame | None = None, n_boot: int = 1000, seed: int = 0,
                     weights: CustomerWeights | None = None) -> dict[str, dict[str, Any]]:
    """Capture of every scheme (and baseline) on the same customers, with paired bootstrap intervals.

    ``tables``: name -> segment table; ``outcomes``: :func:`criterion_outcomes` (the evaluated
    customers); ``baselines``: :func:`baseline_orders` (optional). Returns name -> ``{"capture_at",
    "capture_auc", "ci95": {"capture_at": {key: [lo, hi]}, "capture_auc": [lo, hi]}, "boot":
    {"capture_at": {key: array}, "capture_auc": array}}``; ``boot`` holds the per-resample values
    (resample b is the same customer weighting for every name) and is empty when ``n_boot`` is 0.
    ``weights``: the resamples shared with other origins (:class:`CustomerWeights`); when given,
    ``n_boot`` and ``seed`` are its own.

    >>> t = pd.DataFrame({"customer_id": ["a", "b"], "segment": ["top", "rest"], "rank": [1, 2]})
    >>> o = pd.DataFrame({"customer_id": ["a", "b"], "outcome": [3.0, 1.0]})
    >>> compare_rankings({"s": t}, o, 0.5, n_boot=0)["s"]["capture_at"]["0.5"]
    0.75
    """
    ids = outcomes["customer_id"].astype(str).reset_index(drop=True)  # text: looked up in Arrow
    if len(ids) == 0:
        raise DataError("there are no evaluated customers to compare the schemes on", where="calibration period",
                        fix="choose an as_of with purchases before it")
    y = np.clip(outcomes["outcome"].to_numpy(float), 0.0, None)
    shares = capture_shares(vip_share)
    orders = _orders(tables, baselines, ids)
    oracle = _oracle_area(y, np.ones((1, len(y))))  # the same for every ranking: computed once
    out = {name: capture(order, y, shares, oracle_area=oracle) for name, order in orders.items()}
    for r in out.values():
        r.update(ci95={}, boot={})
    if weights is None:
        if n_boot <= 0:
            return out
        weights = CustomerWeights(ids, n_boot, seed)
    pos = weights.positions(ids)
    keep = pos >= 0
    yk = y[keep]
    rankings = {name: _Ranking(order[keep]) for name, order in orders.items()}
    parts: dict[str, list[dict[str, Any]]] = {name: [] for name in orders}
    with side_by_side(len(rankings)) as run:  # the rankings of a chunk scored on threads, each as serially
        for W in weights.columns(pos[keep]):
            Wy, oracle = W * yk, _oracle_area(yk, W)  # shared by every ranking of the chunk
            scored = run(lambda ranking: _score(ranking, W, Wy, oracle, shares, whole=True),  # Poisson draws
                         list(rankings.values()))
            for name, part in zip(rankings, scored, strict=True):
                parts[name].append(part)
    for name, r in out.items():
        auc, r["ci95"]["capture_auc"] = _interval(np.concatenate([p["capture_auc"] for p in parts[name]]),
                                                  r["capture_auc"], weights.scale)
        r["boot"] = {"capture_auc": auc, "capture_at": {}}
        r["ci95"]["capture_at"] = {}
        for key in r["capture_at"]:
            values = np.concatenate([p["capture_at"][key] for p in parts[name]])
            r["boot"]["capture_at"][key], r["ci95"]["capture_at"][key] = _interval(
                values, r["capture_at"][key], weights.scale)
    return out


# ====================================================================== the verdict
def primary(result: Mapping[str, Any], vip_share: float, *, boot: bool = False) -> Any:
    """The statistic that decides: the mean of ``capture_auc`` and ``capture_at[vip_share]``.

    Both are on a 0..1 scale and both matter to a manager (the whole ordering, and the share the
    top group holds). A scheme that beats another on both by more than d beats it here by more
    than d, which is what lets :func:`verdict` guarantee the recommendation is never beaten on
    both. ``boot=True`` gives the per-resample values.

    >>> primary({"capture_auc": 0.6, "capture_at": {"0.2": 0.5}}, 0.2)
    0.55
    """
    src = result["boot"] if boot else result
    return (src["capture_auc"] + src["capture_at"][share_key(vip_share)]) / 2


def _ordered(names: Iterable[str], simplicity: Sequence[str]) -> list[str]:
    names = list(names)
    return [n for n in simplicity if n in names] + [n for n in names if n not in simplicity]


def _argmax(values: Mapping[str, float], names: list[str]) -> str:
    """The highest value; on an exact tie (12 decimals) the earlier, i.e. simpler, name."""
    return max(names, key=lambda n: (round(float(values[n]), 12), -names.index(n)))


def _dominated(main: Mapping[str, Mapping[str, Any]], names: list[str], vip_share: float,
               tolerance: float) -> dict[str, list[str]]:
    """name -> the schemes that beat it at the main cut-off on both measures by more than ``tolerance``."""
    key = share_key(vip_share)
    out = {}
    for n in names:
        out[n] = [m for m in names if m != n
                  and main[m]["capture_at"][key] - main[n]["capture_at"][key] > tolerance
                  and main[m]["capture_auc"] - main[n]["capture_auc"] > tolerance]
    return out


def _advantage(origins: Sequence[Mapping[str, Any]], best: str, other: str, vip_share: float) -> dict[str, Any]:
    """Pooled advantage of ``best`` over ``other`` (mean over origins) and its paired 95% interval."""
    est = float(np.mean([primary(o[best], vip_share) - primary(o[other], vip_share) for o in origins]))
    boots = [(o[best].get("boot"), o[other].get("boot")) for o in origins]
    if not all(a and b for a, b in boots) or len({len(a["capture_auc"]) for a, _ in boots}) != 1:
        return {"estimate": est, "ci95": None}  # without shared resamples nothing is distinguishable
    diff = np.mean([primary(o[best], vip_share, boot=True) - primary(o[other], vip_share, boot=True)
                    for o in origins], axis=0)
    lo, hi = np.quantile(diff, [(1 - _LEVEL) / 2, (1 + _LEVEL) / 2])
    return {"estimate": est, "ci95": [float(lo), float(hi)]}


def verdict(origins: Sequence[Mapping[str, Mapping[str, Any]]], vip_share: float, simplicity: Sequence[str], *,
            tolerance: float = TOLERANCE) -> dict[str, Any]:
    """Choose a scheme from per-origin comparisons (:func:`compare_rankings`; origin 0 = main cut-off).

    The rule, on the primary statistic (:func:`primary`):

    1. *best* = the scheme with the highest primary statistic averaged over the origins.
    2. It is a *clear winner* when it has the highest primary statistic at every origin and the
       paired bootstrap 95% interval of its pooled advantage over every other scheme is above 0.
    3. Otherwise there is no clear winner: among *best* and the schemes whose interval against it
       reaches 0, the first in ``simplicity`` (simplest first) that no scheme beats at the main
       cut-off on both ``capture_at[vip_share]`` and ``capture_auc`` by more than ``tolerance``
       is recommended; segment size plays no part.
    4. If every such scheme is beaten that way, the best scheme at the main cut-off is recommended
       (nothing beats it on both measures: it would have a higher primary statistic).

    Baselines (``recency``, ``past_value``) in the results are ignored here.

    >>> r = lambda auc, at: {"capture_auc": auc, "capture_at": {"0.2": at}}
    >>> v = verdict([{"a": r(0.5, 0.5), "b": r(0.6, 0.6)}], 0.2, ["a", "b"])
    >>> v["recommended"], v["clear_winner"], v["rule"], v["dominated"]["a"]
    ('b', False, 'best_not_clear', ['b'])
    """
    if not origins:
        raise ParameterError("no backtest origin to decide on", where="backtest_origins", fix="use at least 1")
    common = set.intersection(*(set(o) for o in origins)) - set(BASELINES)
    names = _ordered([n for n in origins[0] if n in common], simplicity)
    if not names:
        raise ParameterError("no scheme was scored at every backtest origin", where="backtest_origins",
                             fix="score the same schemes at every origin")
    prim = {n: [float(primary(o[n], vip_share)) for o in origins] for n in names}
    winners = [_argmax({n: prim[n][i] for n in names}, names) for i in range(len(origins))]
    pooled = {n: float(np.mean(prim[n])) for n in names}
    best = _argmax(pooled, names)
    advantage = {n: _advantage(origins, best, n, vip_share) for n in names if n != best}
    tied = [n for n, a in advantage.items() if a["ci95"] is None or a["ci95"][0] <= 0]
    dominated = _dominated(origins[0], names, vip_share, tolerance)
    clear = len(names) > 1 and all(w == best for w in winners) and not tied
    if clear:
        chosen, rule = best, "clear_winner"
    else:
        candidates = [n for n in names if (n == best or n in tied) and not dominated[n]]
        chosen = candidates[0] if candidates else winners[0]
        rule = ("best_at_main_cutoff" if not candidates else "best_not_clear" if chosen == best
                else "simplest_of_tied")
    return {"recommended": chosen, "best": best, "clear_winner": bool(clear), "rule": rule, "schemes": names,
            "primary": prim, "pooled": pooled, "origin_winners": winners,
            "wins": {n: winners.count(n) for n in names}, "advantage": advantage, "tied_with_best": tied,
            "dominated": dominated, "vip_share": float(vip_share), "tolerance": float(tolerance)}


# ====================================================================== baselines, practicality
def _ratio(a: float, b: float) -> float | None:
    """a / b; None when b is not positive (a share of nothing is not a number to print)."""
    return float(a / b) if b > 1e-12 else None


def baseline_retention(results: Mapping[str, Mapping[str, Any]], vip_share: float,
                       schemes: Sequence[str]) -> dict[str, Any]:
    """How much of the best simple ranking each scheme keeps, at one cut-off.

    The best baseline is the one with the higher primary statistic. ``kept[scheme]`` holds the
    ratios scheme / best baseline of ``capture_auc`` and of ``capture_at[vip_share]`` (None when
    the baseline's value is not positive). ``simple_beats_all`` is True when the best baseline's
    primary statistic is above every scheme's.

    >>> r = lambda auc, at: {"capture_auc": auc, "capture_at": {"0.2": at}}
    >>> out = baseline_retention({"s": r(0.6, 0.5), "recency": r(0.8, 0.6), "past_value": r(0.7, 0.5)},
    ...                          0.2, ["s"])
    >>> out["best_baseline"], round(out["kept"]["s"]["capture_auc"], 6), out["simple_beats_all"]
    ('recency', 0.75, True)
    """
    key = share_key(vip_share)
    names = [b for b in BASELINES if b in results]
    if not names:
        raise ParameterError("no baseline ranking in the comparison", where="baselines",
                             fix="pass baseline_orders(...) to compare_rankings")
    best = _argmax({b: primary(results[b], vip_share) for b in names}, names)
    base = results[best]
    kept = {s: {"capture_auc": _ratio(results[s]["capture_auc"], base["capture_auc"]),
                "capture_at": _ratio(results[s]["capture_at"][key], base["capture_at"][key])} for s in schemes}
    top = max(primary(results[s], vip_share) for s in schemes)
    return {"best_baseline": best, "kept": kept,
            "simple_beats_all": bool(primary(base, vip_share) > top + 1e-12)}


def practicality(table: pd.DataFrame, min_share: float = 0.01) -> dict[str, Any]:
    """Segments a team must handle: ``n_segments``, ``min_segment_share``, ``smallest_segment`` and
    ``small_segments`` (labels under ``min_share`` of the customers, in rank order).

    >>> t = pd.DataFrame({"customer_id": list("abc"), "segment": ["x", "y", "y"], "rank": [1, 2, 2]})
    >>> practicality(t, min_share=0.5)["small_segments"]
    ['x']
    """
    sizes = table.groupby(["rank", "segment"], sort=True).size()
    shares = sizes / max(len(table), 1)
    labels = [str(seg) for _, seg in shares.index]
    i = int(np.argmin(shares.to_numpy())) if len(shares) else 0
    return {"n_segments": int(len(sizes)), "min_segment_share": float(shares.min()) if len(shares) else 0.0,
            "smallest_segment": labels[i] if labels else None,
            "small_segments": [lab for lab, s in zip(labels, shares.to_numpy()) if s < min_share]}


# ====================================================================== stability with uncertainty
def _matched_agreement(a: np.ndarray, b: np.ndarray, ordered: bool) -> float:
    """Share of customers in the same segment once the labels of ``b`` are matched to ``a``.

    Ranked labels match by identity; unordered ones (clusters) by the assignment that maximises
    the customers on the diagonal of the contingency table (Hungarian algorithm).
    """
    if ordered:
        return float(np.mean(a == b))
    la, ia = np.unique(a, return_inverse=True)
    lb, ib = np.unique(b, return_inverse=True)
    table = np.zeros((len(la), len(lb)))
    np.add.at(table, (ia, ib), 1)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / len(a))


def refit_stability(fit: Callable[[np.ndarray], pd.DataFrame], customer_ids: Iterable[str],
                    reference: pd.DataFrame, *, n_resamples: int = 20, seed: int = 0,
                    ordered: bool = True) -> dict[str, Any]:
    """How much a scheme's segments move when it is refitted on resampled customers.

    Each of ``n_resamples`` seeded resamples draws the customers with replacement and passes the
    distinct ids drawn to ``fit`` (ids -> segment table); the refit is compared with ``reference``
    (the fit on every customer) on their common customers: adjusted Rand index (label-free) and
    the share in the same segment after matching labels (``ordered``: by rank; else Hungarian).
    Returns means, percentile 95% intervals and the per-resample ``values``.

    >>> ids = [f"c{i}" for i in range(40)]
    >>> fit = lambda sub: pd.DataFrame({"customer_id": sub, "segment": "all", "rank": 1})
    >>> refit_stability(fit, ids, fit(ids), n_resamples=3)["same_segment"]
    1.0
    """
    ids = np.asarray(list(customer_ids), dtype=str)
    ref = reference.set_index(reference["customer_id"].astype(str))
    col = "rank" if ordered else "segment"
    rng = np.random.default_rng(seed)
    rows = []
    for b in range(n_resamples):
        drawn = np.unique(ids[rng.integers(0, len(ids), len(ids))])
        refit = fit(drawn)
        both = refit.assign(customer_id=refit["customer_id"].astype(str)).join(
            ref[[col]].rename(columns={col: "ref"}), on="customer_id", how="inner")
        a, c = both["ref"].astype(str).to_numpy(), both[col].astype(str).to_numpy()
        rows.append({"resample": b, "customers": len(both),
                     "ari": float(adjusted_rand_score(a, c)) if len(both) > 1 else 0.0,
                     "same_segment": _matched_agreement(a, c, ordered) if len(both) else 0.0})
    values = pd.DataFrame(rows)
    out: dict[str, Any] = {"values": values, "n_resamples": n_resamples}
    for m in ("ari", "same_segment"):
        v = values[m].to_numpy(float)
        out[m] = float(v.mean())
        out[f"{m}_ci95"] = [float(x) for x in np.quantile(v, [(1 - _LEVEL) / 2, (1 + _LEVEL) / 2])]
    return out


# ====================================================================== does the verdict move?
def sensitivity_settings(base: Mapping[str, Any], criteria: Sequence[str], *,
                         shares: Sequence[float] = (0.1, 0.2, 0.3),
                         horizons: Sequence[int] = (3, 6)) -> list[dict[str, Any]]:
    """The base settings first, then each one changed alone: ``vip_share``, ``criterion``, ``holdout_months``.

    >>> s = sensitivity_settings({"vip_share": 0.2, "criterion": "revenue", "holdout_months": 6},
    ...                          ["revenue", "units"])
    >>> [(x["vip_share"], x["criterion"], x["holdout_months"]) for x in s]
    [(0.2, 'revenue', 6), (0.1, 'revenue', 6), (0.3, 'revenue', 6), (0.2, 'units', 6), (0.2, 'revenue', 3)]
    """
    base = dict(base)
    out, seen = [base], {tuple(sorted(base.items()))}
    for key, values in (("vip_share", shares), ("criterion", criteria), ("holdout_months", horizons)):
        for v in values:
            setting = {**base, key: v}
            if tuple(sorted(setting.items())) not in seen:
                seen.add(tuple(sorted(setting.items())))
                out.append(setting)
    return out


def verdict_sensitivity(decide: Callable[[Mapping[str, Any]], str | None],
                        settings: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The recommended scheme under each setting (the first is the base) and whether it ever changes.

    ``decide(setting)`` returns the recommended scheme; a :class:`segkit.errors.SegkitError` (a
    setting the data cannot support, such as a horizon longer than the data) is recorded in
    ``note`` and that row does not count as a change. Returns ``table`` (one row per setting:
    the setting's keys, ``changed_key``, ``winner``, ``same_as_base``, ``note``), ``base_winner``
    and ``changed``.

    >>> pick = lambda s: "rfm" if s["vip_share"] > 0.25 else "tiers"
    >>> out = verdict_sensitivity(pick, [{"vip_share": 0.2}, {"vip_share": 0.1}, {"vip_share": 0.3}])
    >>> out["table"]["winner"].tolist(), out["changed"]
    (['tiers', 'tiers', 'rfm'], True)
    """
    from .errors import SegkitError

    if not settings:
        raise ParameterError("no setting to try", where="verdict_sensitivity", fix="pass at least the base setting")
    base = dict(settings[0])
    rows = []
    for setting in settings:
        diff = [k for k in setting if setting[k] != base.get(k)]
        try:
            winner, note = decide(setting), ""
        except SegkitError as exc:
            winner, note = None, str(exc)
        rows.append({**setting, "changed_key": diff[0] if diff else "", "winner": winner, "note": note})
    table = pd.DataFrame(rows)
    base_winner = table["winner"].iloc[0]
    table["same_as_base"] = table["winner"].isna() | (table["winner"] == base_winner)
    return {"table": table, "base_winner": base_winner, "changed": bool(not table["same_as_base"].all())}


# ====================================================================== scorecard
def _public(result: Mapping[str, Any], with_ci: bool = True) -> dict[str, Any]:
    out = {"capture_at": dict(result["capture_at"]), "capture_auc": float(result["capture_auc"])}
    if with_ci:
        out["ci95"] = dict(result.get("ci95") or {})
    return out


def scorecard_fragments(main: Mapping[str, Mapping[str, Any]], backtest: Sequence[Mapping[str, Any]],
                        decision: Mapping[str, Any], *, measure: str, horizon_months: int,
                        decision_rule: str) -> dict[str, Any]:
    """The comparison's part of ``scorecard.json``.

    ``main``: :func:`compare_rankings` at the main cut-off; ``backtest``: one mapping per origin
    (main first) with ``as_of``, ``holdout`` (``{"start", "end"}``) and ``results`` (its
    :func:`compare_rankings`); ``decision``: :func:`verdict` on those origins; ``decision_rule``:
    the one-sentence rule in words (:func:`segkit.narrative.decision_rule`). Returns ``outcome``,
    ``schemes`` (name -> ``{"comparison": ...}``, to merge into each scheme's entry),
    ``baselines``, ``backtest``, ``clear_winner``, ``decision_rule`` and ``verdict`` (the rule's
    numbers: primary statistic per origin, pooled advantages with intervals, ties).
    """
    schemes = list(decision["schemes"])
    return {
        "outcome": {"measure": measure, "horizon_months": int(horizon_months)},
        "schemes": {n: {"comparison": _public(main[n])} for n in schemes},
        "baselines": {b: _public(main[b], with_ci=False) for b in BASELINES if b in main},
        "backtest": [{"as_of": str(o["as_of"]), "holdout": dict(o["holdout"]),
                      "schemes": {n: _public(o["results"][n], with_ci=False) for n in schemes},
                      "baselines": {b: _public(o["results"][b], with_ci=False) for b in BASELINES
                                    if b in o["results"]},
                      "winner": decision["origin_winners"][i]} for i, o in enumerate(backtest)],
        "clear_winner": bool(decision["clear_winner"]),
        "decision_rule": decision_rule,
        "verdict": {k: decision[k] for k in ("recommended", "best", "rule", "pooled", "advantage",
                                             "tied_with_best", "tolerance")},
    }
