"""Fit the predicted-value models on a calibration period and predict per customer.

:func:`fit_potential` runs the engine's group-by for the sufficient statistics, fits BG/NBD
(purchases) and Gamma-Gamma (value per purchase) on them and returns a :class:`PotentialModel`
that says whether each part could be fitted, with the counts and a reason when not.
:func:`predict_potential` returns an engine expression with ``p_alive``, ``expected_purchases``
and ``predicted_value`` per customer: the purchase predictions are computed per distinct
``(x, span_days, age_days)`` in numpy batches and joined back in the engine; the value part is a
closed-form expression, so no per-customer table is ever built in Python.

``predicted_value`` = expected purchases in the horizon x expected criterion value of one
purchase (Gamma-Gamma's conditional mean). For ``revenue`` a purchase's value is its amount, for
``margin`` amount minus cost, for ``units`` its quantity, for ``payments`` its payment rows (1 per
order when orders are given); see :mod:`segkit.potential.summary`.

Example
-------
>>> import datetime as dt
>>> from segkit.data import load_transactions
>>> tx = load_transactions("data/cdnow/CDNOW_sample.csv.gz")  # doctest: +SKIP
>>> model = fit_potential(tx, dt.date(1997, 9, 30))  # doctest: +SKIP
>>> predict_potential(tx, model, horizon_days=273).to_pandas()  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from ..data import Transactions
from ..errors import ParameterError
from ..reproducible import one_thread
from . import bgnbd, gamma_gamma
from .summary import grouped_counts, grouped_values, purchase_summary

__all__ = ["PotentialModel", "fit_potential", "fit_summary", "predict_potential", "predict_summary",
           "predict_grouped",
           "MIN_REPEAT_BUYERS", "MIN_REPEAT_SHARE"]

#: Below this many repeat buyers (or this share of customers) the dropout process is identified by
#: too few customers: on a marketplace where 99% buy once the fit runs to its bounds.
MIN_REPEAT_BUYERS = 30
MIN_REPEAT_SHARE = 0.02
#: rows per numpy batch when predicting (bounds the memory of the hypergeometric evaluation)
BATCH_ROWS = 1_000_000


@dataclasses.dataclass
class PotentialModel:
    """Fitted (or not fitted) predicted-value models and the counts they rest on.

    ``fitted`` is False when the purchase model could not be fitted; ``reason`` says why with the
    counts. ``value_fitted``/``value_reason`` do the same for the value-per-purchase model (the
    purchase predictions stand without it; ``predicted_value`` is then empty).
    """

    criterion: str
    as_of: dt.date
    time_unit_days: float
    customers: int
    repeat_buyers: int
    start: dt.date | None = None
    value_buyers: int = 0
    fitted: bool = False
    reason: str = ""
    purchases: bgnbd.BGNBDParams | None = None
    value_fitted: bool = False
    value_reason: str = ""
    value: gamma_gamma.GammaGammaParams | None = None
    diagnostics: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: parameters, counts, reasons and fit diagnostics."""
        out = dataclasses.asdict(self)
        out["as_of"] = self.as_of.isoformat()
        out["start"] = self.start.isoformat() if self.start else None
        for key in ("purchases", "value"):
            if out[key] is not None:
                out[key] = {k: float(v) for k, v in out[key].items()}
        return out


def _check(criterion: str, time_unit_days: float) -> None:
    if not time_unit_days > 0:
        raise ParameterError(f"time_unit_days must be positive, got {time_unit_days!r}",
                             where="time_unit_days", fix="use 7 (weeks, as in the literature) or 1 (days)")


def _fit_purchases(model: PotentialModel, counts: pd.DataFrame, min_buyers: int, min_share: float,
                   init: bgnbd.BGNBDParams | None = None) -> None:
    share = model.repeat_buyers / model.customers if model.customers else 0.0
    if model.repeat_buyers < min_buyers or share < min_share:
        model.reason = (f"too few repeat buyers to fit the purchase model: {model.repeat_buyers} of "
                        f"{model.customers} customers ({share:.1%}) bought again in calibration; "
                        f"it needs at least {min_buyers} and {min_share:.0%}")
        return
    unit = model.time_unit_days
    start = time.perf_counter()
    fit = bgnbd.fit_bgnbd(counts.x.to_numpy(), counts.span_days.to_numpy() / unit,
                          counts.age_days.to_numpy() / unit, counts.n.to_numpy(), start=init)
    model.diagnostics["purchases"] = {"log_likelihood": fit.log_likelihood, "converged": fit.converged,
                                      "iterations": fit.iterations, "message": fit.message,
                                      "groups": int(len(counts)), "seconds": time.perf_counter() - start}
    if not fit.converged:
        model.reason = f"the purchase model's optimiser did not converge ({fit.message})"
    elif fit.at_bound:
        model.reason = (f"the purchase model's parameter(s) {', '.join(fit.at_bound)} ran to their bounds: "
                        "the data do not identify repeat-buying and dropout")
    else:
        model.fitted, model.purchases = True, fit.params


def _fit_value(model: PotentialModel, values: pd.DataFrame, min_buyers: int,
               init: gamma_gamma.GammaGammaParams | None = None) -> None:
    model.value_buyers = int(values.n.sum())
    if model.value_buyers < min_buyers:
        model.value_reason = (f"too few repeat buyers with a positive {model.criterion} per purchase to fit "
                              f"the value model: {model.value_buyers}; it needs at least {min_buyers}")
        return
    start = time.perf_counter()
    fit = gamma_gamma.fit_gamma_gamma(values.x.to_numpy(), values.m.to_numpy(), values.n.to_numpy(), start=init)
    model.diagnostics["value"] = {"log_likelihood": fit.log_likelihood, "converged": fit.converged,
                                  "message": fit.message, "groups": int(len(values)),
                                  "seconds": time.perf_counter() - start}
    if not fit.converged:
        model.value_reason = f"the value model's optimiser did not converge ({fit.message})"
    elif fit.at_bound or fit.params.q <= 1:
        model.value_reason = ("the value model's estimates are degenerate (parameters at their bounds or "
                              "q <= 1, an infinite mean value): values per purchase do not fit a gamma mixture")
    else:
        model.value_fitted, model.value = True, fit.params


def fit_potential(tx: Transactions, as_of: dt.date, *, criterion: str = "revenue", start: dt.date | None = None,
                  time_unit_days: float = 7.0, min_repeat_buyers: int = MIN_REPEAT_BUYERS,
                  min_repeat_share: float = MIN_REPEAT_SHARE) -> PotentialModel:
    """Fit BG/NBD and Gamma-Gamma on the calibration period [start, as_of]; never raises on the data.

    Parameters
    ----------
    tx
        Loaded transactions (:func:`segkit.data.load_transactions`).
    as_of
        Last day of calibration; ``start`` its first day (default: the first transaction).
    criterion
        ``revenue``, ``margin``, ``units`` or ``payments``: what the value model predicts per purchase.
    time_unit_days
        The unit of time of ``alpha`` (7 = weeks, as in the published tables). Predictions do not
        depend on it beyond the optimiser's tolerance.
    min_repeat_buyers, min_repeat_share
        Below these the model is not fitted (see :data:`MIN_REPEAT_BUYERS`).

    Returns
    -------
    PotentialModel
        ``fitted``/``reason`` and ``value_fitted``/``value_reason`` say what could be fitted.

    Raises
    ------
    ParameterError
        Unknown criterion, a criterion the data lack a column for, or a non-positive time unit.
    """
    _check(criterion, time_unit_days)
    summary = purchase_summary(tx, as_of, criterion=criterion, start=start)
    return fit_summary(summary, as_of, criterion=criterion, start=start, time_unit_days=time_unit_days,
                       min_repeat_buyers=min_repeat_buyers, min_repeat_share=min_repeat_share)


@one_thread  # the optimisers' BLAS calls: same parameters on any core count, no thread contention
def fit_summary(summary: ir.Table, as_of: dt.date, *, criterion: str = "revenue", start: dt.date | None = None,
                time_unit_days: float = 7.0, min_repeat_buyers: int = MIN_REPEAT_BUYERS,
                min_repeat_share: float = MIN_REPEAT_SHARE, warm: PotentialModel | None = None) -> PotentialModel:
    """:func:`fit_potential` on a summary already computed (:func:`purchase_summary`'s columns).

    ``warm``: a model fitted on similar data (the run's own fit, for a refit on resampled customers
    or at another cut-off) whose parameters start the optimisers: the same optimum in fewer steps.

    The pipeline computes the summary while the transactions are open and fits later on it (as an
    in-memory table, ``ibis.memtable(frame)``); the arguments mean what they mean in :func:`fit_potential`.

    Examples
    --------
    >>> import ibis
    >>> s = ibis.memtable({"x": [0, 1], "span_days": [0, 7], "age_days": [30, 30], "repeat_value": [None, 5.0]})
    >>> m = fit_summary(s, dt.date(2024, 1, 31))
    >>> m.fitted, m.customers, m.repeat_buyers
    (False, 2, 1)
    """
    _check(criterion, time_unit_days)
    counts = grouped_counts(summary)
    model = PotentialModel(criterion=criterion, as_of=as_of, time_unit_days=float(time_unit_days), start=start,
                           customers=int(counts.n.sum()), repeat_buyers=int(counts.n[counts.x > 0].sum()))
    if model.customers == 0:
        model.reason = f"no customer made a purchase up to {as_of}"
        return model
    same_unit = warm is not None and warm.time_unit_days == model.time_unit_days  # alpha is per time unit
    _fit_purchases(model, counts, min_repeat_buyers, min_repeat_share,
                   init=warm.purchases if same_unit and warm.fitted else None)
    if model.fitted:
        _fit_value(model, grouped_values(summary), min_repeat_buyers,
                   init=warm.value if same_unit and warm.value_fitted else None)
    return model


def predict_grouped(params: bgnbd.BGNBDParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
                    horizon: float, batch_rows: int = BATCH_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """``p_alive`` and ``expected_purchases`` for arrays of summaries, in batches of ``batch_rows``.

    Examples
    --------
    >>> p = bgnbd.BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> alive, buys = predict_grouped(p, np.array([0, 2]), np.array([0.0, 30.43]), np.array([38.86] * 2), 39.0)
    >>> np.round(buys, 3)
    array([0.195, 1.226])
    """
    alive, buys = np.empty(len(x)), np.empty(len(x))
    for lo in range(0, len(x), batch_rows):
        part = slice(lo, lo + batch_rows)
        alive[part] = bgnbd.p_alive(params, x[part], t_x[part], T[part])
        buys[part] = bgnbd.expected_purchases(params, x[part], t_x[part], T[part], horizon)
    return alive, buys


def predict_potential(tx: Transactions, model: PotentialModel, horizon_days: int) -> ir.Table:
    """Per customer: summary columns plus ``p_alive, expected_purchases, expected_value, predicted_value``.

    Parameters
    ----------
    tx
        The transactions the model was fitted on (the same calibration period is summarised).
    model
        From :func:`fit_potential`.
    horizon_days
        Length of the forecast period after ``model.as_of`` (e.g. the holdout's days).

    Returns
    -------
    ibis.expr.types.Table
        One row per calibration customer, in ``tx``'s engine; ``expected_value`` is the expected
        criterion value of one purchase. Columns a model part could not give are NULL.
    """
    summary = purchase_summary(tx, model.as_of, criterion=model.criterion, start=model.start)
    return predict_summary(summary, model, horizon_days)


def predict_summary(summary: ir.Table, model: PotentialModel, horizon_days: int) -> ir.Table:
    """:func:`predict_potential` on a summary already computed (see :func:`fit_summary`).

    Examples
    --------
    >>> import ibis
    >>> s = ibis.memtable({"x": [0], "span_days": [0], "age_days": [30], "repeat_value": [None]})
    >>> m = fit_summary(s, dt.date(2024, 1, 31))
    >>> predict_summary(s, m, 30).to_pandas()["p_alive"].isna().all()
    np.True_
    """
    if not model.fitted:
        null = ibis.null("float64")
        return summary.mutate(p_alive=null, expected_purchases=null, expected_value=null, predicted_value=null)
    counts = grouped_counts(summary)
    unit = model.time_unit_days
    alive, buys = predict_grouped(model.purchases, counts.x.to_numpy(), counts.span_days.to_numpy() / unit,
                                  counts.age_days.to_numpy() / unit, horizon_days / unit)
    lookup = ibis.memtable(counts[["x", "span_days", "age_days"]].assign(p_alive=alive, expected_purchases=buys))
    joined = summary.join(lookup, ["x", "span_days", "age_days"])
    if not model.value_fitted:
        return joined.mutate(expected_value=ibis.null("float64"), predicted_value=ibis.null("float64"))
    p, q, g = model.value.p, model.value.q, model.value.gamma
    # Gamma-Gamma's conditional mean; a customer's non-positive mean (margin) counts as 0.
    m = ibis.greatest(joined.repeat_value.fill_null(0.0), 0.0)
    expected_value = p * (g + joined.x * m) / (p * joined.x + q - 1)
    return joined.mutate(expected_value=expected_value,
                         predicted_value=joined.expected_purchases * expected_value)
