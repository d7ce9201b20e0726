"""Potential tiers: VIP / GOOD / REGULAR by predicted value, INACTIVE when probably gone.

The forward-looking scheme. On the calibration period it fits the purchase model (BG/NBD) and the
value-per-purchase model (Gamma-Gamma) of :mod:`segkit.potential` and predicts, for every customer
evaluated, ``p_alive``, ``expected_purchases`` over the holdout horizon and ``predicted_value``
(expected criterion value over the horizon). Then:

- **INACTIVE** — ``p_alive`` below :data:`INACTIVE_P_ALIVE` (0.5: the model finds the customer
  more likely gone than active);
- the others, by ``predicted_value`` descending (ties by customer_id): the first
  ceil(vip_share · n) are **VIP** and the next ceil(good_share · (n − VIP)) **GOOD**, with n = the
  customers evaluated and the same exact ceiling as the percentile tiers; the rest **REGULAR**.
  (When the value model cannot be fitted, ``expected_purchases`` ranks instead and
  ``predicted_value`` stays empty.)

**Fallback.** When the purchase model cannot be fitted (too few repeat buyers, as on a marketplace
where almost everyone buys once; a failed or degenerate fit), nothing is predicted: every customer
is REGULAR, the prediction columns are empty, and ``model_.reason`` says why with the counts. The
scheme is still scored, as one segment it ranks nobody (activity AUC 0.5) and the report says it was
not fitted.

**Peer headroom.** When the data carry attribute columns (region, industry, …), each customer's
criterion value over the tier window is compared with its peer group's upper quartile
(:func:`segkit.potential.peer_headroom`): ``peer_headroom`` = what a peer at the upper quartile
bought beyond what this customer bought. Without attributes the column is empty.

Example
-------
>>> import datetime as dt, pandas as pd
>>> s = pd.DataFrame({"customer_id": ["a", "b", "c"], "x": [0, 1, 0], "span_days": [0, 10, 0],
...                   "age_days": [40, 40, 20], "repeat_value": [None, 5.0, None]})
>>> PotentialTiers.labels_from(s.assign(p_alive=[1.0, 0.2, 1.0], predicted_value=[3.0, 9.0, 1.0]),
...                            vip_share=0.3, good_share=0.5).tolist()
['VIP', 'INACTIVE', 'GOOD']
"""

from __future__ import annotations

import copy

from typing import TYPE_CHECKING, Any

import ibis
import numpy as np
import pandas as pd

from ..errors import ParameterError
from ..features import FEATURE_COLUMNS
from ..potential import fit_summary, peer_headroom, predict_summary
from ..engines import drop_memtables, lookup, same_text, text_sorted, to_pandas
from ._base import SchemeMixin, isin, text_categories
from .tiers import TIERS, exact_ceil

if TYPE_CHECKING:
    from ..config import RunParams
    from ..potential import PotentialModel  # noqa: F401 (annotation)
    from .registry import SchemeInputs

__all__ = ["PotentialTiers", "INACTIVE_P_ALIVE", "PREDICTION_COLUMNS"]

#: below this P(alive) a customer is INACTIVE (the model thinks it more likely gone than active)
INACTIVE_P_ALIVE = 0.5
#: the per-customer columns the scheme exports (beside its tier), in assignments.csv order
PREDICTION_COLUMNS = ("p_alive", "expected_purchases", "predicted_value", "peer_headroom")


#: the purchase summary's columns the predictions carry (taken from the summary, not from the engine)
_SUMMARY_COLUMNS = ("x", "span_days", "age_days", "repeat_value")


def _in_summary_order(pred: pd.DataFrame, summary: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    """The engine's predictions (any row order, ``_row``: the summary row each came from) in the
    summary's order, after the summary's ``ids`` and its own columns (:data:`_SUMMARY_COLUMNS`: the
    text and the counts stay in pandas, not sent back and forth).

    One prediction per summary row (the join of every row with its own counts) is put in place by
    ``_row`` directly, beside the summary's own columns (no copy of them); anything else is sorted by
    ``_row``, and the ids and the summary's columns follow the rows."""
    rows = pred.pop("_row").to_numpy(np.int64)
    n = len(ids)
    if len(rows) == n and (n == 0 or (rows.min() >= 0 and rows.max() < n and np.bincount(rows, minlength=n).max() == 1)):
        order = np.empty(n, dtype=np.int64)
        order[rows] = np.arange(n)  # where the prediction of summary row i is
        # as Series: pandas inserts a Series of the same index without a copy, an array with one
        own = {"customer_id": ids.array, **{c: summary[c].reset_index(drop=True) for c in _SUMMARY_COLUMNS}}
    else:
        order = np.argsort(rows, kind="stable")
        own = {"customer_id": ids.array.take(rows[order]),
               **{c: summary[c].array.take(rows[order]) for c in _SUMMARY_COLUMNS}}
    out = pred.take(order).reset_index(drop=True)
    for i, (name, values) in enumerate(own.items()):
        out.insert(i, name, values)
    return out


class PotentialTiers(SchemeMixin):
    """Tiers by predicted value over the holdout horizon (see the module docstring).

    Attributes after ``fit``
    ------------------------
    model_ : :class:`segkit.potential.PotentialModel` (``fitted``, ``reason``, parameters, diagnostics)
    predictions_ : one row per customer: ``x, span_days, age_days, repeat_value, p_alive,
        expected_purchases, expected_value, predicted_value, peer_headroom`` (NaN where not computed)
    headroom_ : per customer ``peer_group, peer_size, peer_upper_quartile, window_value, peer_headroom``
        (empty frame without attribute columns)
    horizon_days : the forecast horizon (days from the cut-off to the end of the holdout)
    """

    #: a refit reads the summary and the features; only the main fit's peer headroom reads the months
    monthly_at_refit = False

    def __init__(self, criterion: str = "revenue", vip_share: float = 0.2, good_share: float = 0.2,
                 inactive_p_alive: float = INACTIVE_P_ALIVE, time_unit_days: float = 7.0):
        if not 0 < inactive_p_alive < 1:
            raise ParameterError(f"inactive_p_alive must lie in (0, 1), got {inactive_p_alive!r}",
                                 where="PotentialTiers", fix="use e.g. 0.5")
        self.criterion, self.vip_share, self.good_share = criterion, vip_share, good_share
        self.inactive_p_alive, self.time_unit_days = inactive_p_alive, time_unit_days

    @classmethod
    def from_params(cls, params: "RunParams") -> "PotentialTiers":
        return cls(criterion=params.criterion, vip_share=params.vip_share, good_share=params.good_share)

    def features_at_refit(self) -> tuple[str, ...]:
        """The ids only: the model learns from the purchase summary, and a refit leaves headroom out."""
        return ("customer_id",)

    def fit(self, inputs: "SchemeInputs") -> "PotentialTiers":
        """Fit the models on ``inputs.potential`` (the purchase summary) and place every customer."""
        summary = inputs.potential
        if summary is None:
            raise ParameterError("the potential scheme needs the purchase summary (SchemeInputs.potential)",
                                 where="PotentialTiers.fit", fix="build the inputs with segkit.pipeline")
        split = inputs.split
        self.horizon_days = (split.holdout_end - split.as_of).days
        ids = inputs.features["customer_id"].astype(str)
        known = isin(summary["customer_id"], ids)
        summary = summary if known.all() else summary[known]  # (a mask of all True copies every column)
        # each row's position rides along: the engine's join returns rows in any order, and put back in
        # the summary's (the features' when every customer has a summary row) the lookup below is one
        # comparison of the ids instead of an Arrow hash of millions of them
        table = ibis.memtable(summary[["customer_id", "x", "span_days", "age_days", "repeat_value"]]
                              .assign(_row=np.arange(len(summary), dtype=np.int64)))
        reference = inputs.reference if isinstance(inputs.reference, PotentialTiers) else None
        warm = reference.model_ if reference is not None and reference.criterion == self.criterion else None
        self.model_ = fit_summary(table, split.as_of, criterion=self.criterion, time_unit_days=self.time_unit_days,
                                  warm=warm)
        predicted = predict_summary(table, self.model_, self.horizon_days).drop("customer_id", *_SUMMARY_COLUMNS)
        fetched = to_pandas(predicted)
        drop_memtables(predicted)  # the engine would keep the summary's columns to the end of the run
        pred = _in_summary_order(fetched, summary, summary["customer_id"].astype(str))
        del fetched
        # every evaluated customer, in the features' order (a customer without a summary row: empty);
        # when every one has a row, in that order already, no copy of the predictions (3.37M customers:
        # ~0.25 GB at the run's peak, the earlier cut-offs' refits)
        if same_text(pred["customer_id"], ids):
            pred["customer_id"] = ids.reset_index(drop=True)
        else:
            pred = pd.DataFrame({"customer_id": ids.reset_index(drop=True),
                                 **lookup(pred.set_index("customer_id"), ids, np.nan)})
        # A refit against the main fit (earlier cut-offs, stability) is read for its tiers only, which
        # do not depend on headroom: its peer comparison is left out (peer_headroom empty).
        self.headroom_ = _headroom(inputs) if inputs.reference is None else _headroom(None)
        pred["peer_headroom"] = (pred["customer_id"].map(self.headroom_.set_index("customer_id")["peer_headroom"])
                                 if len(self.headroom_) else np.nan)
        for col in PREDICTION_COLUMNS + ("expected_value",):
            pred[col] = pd.to_numeric(pred[col], errors="coerce").astype("float64").round(6)
        self.predictions_ = pred if text_sorted(pred["customer_id"]) else \
            pred.sort_values("customer_id", kind="stable").reset_index(drop=True)
        self.labels_ = self.labels_from(self.predictions_, self.vip_share, self.good_share, self.inactive_p_alive)
        self.segments_ = list(TIERS)
        return self

    def reshared(self, vip_share: float, good_share: float) -> "PotentialTiers":
        """The same fit tiered with other shares: the predictions do not depend on them, so no refit.

        Equal to a fit with those shares (the settings table reuses it); ``self`` is left unchanged.
        """
        self._check_fitted()
        other = copy.copy(self)
        other.vip_share, other.good_share = vip_share, good_share
        other.labels_ = self.labels_from(self.predictions_, vip_share, good_share, self.inactive_p_alive)
        return other

    @staticmethod
    def labels_from(pred: pd.DataFrame, vip_share: float, good_share: float,
                    inactive_p_alive: float = INACTIVE_P_ALIVE) -> pd.Series:
        """Tier per customer (index customer_id) from ``p_alive`` and ``predicted_value``.

        ``predicted_value`` all empty: ranks by ``expected_purchases``; ``p_alive`` all empty (model
        not fitted): everyone REGULAR.
        """
        ids = pd.Index(pred["customer_id"].astype(str), name="customer_id")  # text, no Python object per id
        ascending = text_sorted(ids, strict=True)  # predictions come sorted by customer_id
        labels = pd.Series("REGULAR", index=ids, dtype=object)
        alive = pred["p_alive"].to_numpy(float) if "p_alive" in pred else np.full(len(ids), np.nan)
        if np.isnan(alive).all():
            labels = pd.Series(text_categories(labels), index=ids)
            return labels if ascending else labels.sort_index()
        key = "predicted_value" if pred["predicted_value"].notna().any() else "expected_purchases"
        score = pred[key].fillna(0.0).to_numpy(float)
        n = len(ids)
        inactive = alive < inactive_p_alive
        # value descending, ties by customer_id (ids ascending: their positions order the ties alike)
        order = np.argsort(-score, kind="stable") if ascending else np.lexsort((ids.to_numpy(), -score))
        order = order[~inactive[order]]
        vip = min(exact_ceil(vip_share, n), len(order))
        good = min(exact_ceil(good_share, n - exact_ceil(vip_share, n)), len(order) - vip)
        values = labels.to_numpy().copy()
        values[order[:vip]] = "VIP"
        values[order[vip:vip + good]] = "GOOD"
        values[inactive] = "INACTIVE"
        out = pd.Series(text_categories(values), index=labels.index)  # one byte per customer
        return out if ascending else out.sort_index()

    #: a customer without a purchase up to the cut-off is not modelled: INACTIVE, predictions empty
    no_purchase = {"segment": "INACTIVE"}

    def segment_table(self) -> pd.DataFrame:
        """``customer_id, segment, rank`` plus the prediction columns it exports (built once per fit)."""
        self._check_fitted()
        return self._cached("potential_table", (self.labels_, self.predictions_, tuple(self.segments_)),
                            self._potential_table)

    def _potential_table(self) -> pd.DataFrame:
        out = super().segment_table()
        pred = self.predictions_
        if out["customer_id"].reset_index(drop=True).equals(pred["customer_id"].astype(str).reset_index(drop=True)):
            # the same customers in the same order (both sorted by customer_id): no lookup by text id, and
            # the columns shared with predictions_ (copy-on-write; a numpy array would be copied: 108 MB
            # at 3.37M customers)
            for col in PREDICTION_COLUMNS:
                out[col] = pred[col] if pred.index.equals(out.index) else pred[col].to_numpy()
            return out
        cols = pred.set_index("customer_id")
        for col in PREDICTION_COLUMNS:
            out[col] = out["customer_id"].map(cols[col]).to_numpy()
        return out

    def profile(self) -> pd.DataFrame:
        """Per tier: customers, share and the mean predictions."""
        self._check_fitted()
        return self._profile(self.predictions_, ["p_alive", "expected_purchases", "predicted_value"])

    def describe(self) -> list[str]:
        """The model's parameters, or why it was not fitted."""
        m: "PotentialModel" = self.model_
        if not m.fitted:
            return [f"potential: model not fitted ({m.reason}); every customer REGULAR"]
        p = m.purchases
        line = (f"potential: BG/NBD r={p.r:.3f} alpha={p.alpha:.3f} a={p.a:.3f} b={p.b:.3f} "
                f"({m.repeat_buyers:,} repeat buyers of {m.customers:,}); horizon {self.horizon_days} days")
        if m.value_fitted:
            v = m.value
            line += f"; Gamma-Gamma p={v.p:.2f} q={v.q:.2f} gamma={v.gamma:.2f}"
        else:
            line += f"; value model not fitted ({m.value_reason}), ranked by expected purchases"
        return [line]


def window_values(monthly: pd.DataFrame, window: Any, criterion: str, ids: pd.Series) -> pd.Series:
    """Each customer's criterion total over the window months (0 when it bought nothing there).

    >>> m = pd.DataFrame({"customer_id": ["a", "a", "b"], "month": pd.to_datetime(["2024-01-01", "2024-02-01",
    ...                   "2023-12-01"]), "revenue": [1.0, 2.0, 5.0]})
    >>> window_values(m, [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01")], "revenue",
    ...               pd.Series(["a", "b"])).tolist()
    [3.0, 0.0]
    """
    months = pd.to_datetime(pd.Series(list(window)))
    inside = monthly[pd.to_datetime(monthly["month"]).isin(months)]
    totals = inside.groupby(inside["customer_id"].astype(str))[criterion].sum()
    return pd.Series(ids.astype(str).values, name="customer_id").map(totals).fillna(0.0).rename(criterion)


def _headroom(inputs: "SchemeInputs | None") -> pd.DataFrame:
    """Peer headroom on the window's criterion value; empty without attribute columns (or inputs)."""
    features = inputs.features if inputs is not None else pd.DataFrame(columns=["customer_id"])
    attrs = [c for c in features.columns if c not in ("customer_id", *FEATURE_COLUMNS)]
    if not attrs:
        return pd.DataFrame(columns=["customer_id", "peer_group", "peer_size", "peer_upper_quartile",
                                     "window_value", "peer_headroom"])
    criterion = inputs.params.criterion
    values = window_values(inputs.monthly, inputs.split.window_months, criterion, features["customer_id"])
    frame = features[["customer_id", *attrs]].assign(customer_id=features["customer_id"].astype(str),
                                                     window_value=values.to_numpy())
    expr = peer_headroom(ibis.memtable(frame), "window_value", attrs)
    out = to_pandas(expr)
    drop_memtables(expr)
    out["customer_id"] = out["customer_id"].astype(str)
    out["peer_headroom"] = out["peer_headroom"].astype(float).round(6)
    return out[["customer_id", *attrs, "peer_group", "peer_size", "peer_upper_quartile", "window_value",
                "peer_headroom"]].sort_values("customer_id", kind="stable").reset_index(drop=True)
