"""Per-customer and customer x month tables, computed where the data lives.

Every function takes :class:`~segkit.data.Transactions` (an Ibis table in an engine) and returns
small pandas frames: one row per customer, or one row per customer and active month. The
aggregation runs in the engine (DuckDB by default), so a file far larger than memory never comes
back to Python whole.

Conventions (DESIGN.md, "Definitions")
- a *purchase* is a row with amount > 0; a *return* (amount < 0) lowers net revenue, net units and
  net margin but is not a purchase;
- ``revenue`` = net revenue; ``payments`` = purchases (distinct ``order_id`` when the data has
  one, else purchase rows); ``units`` = net quantity; ``margin`` = net revenue - net cost. A
  return's quantity and cost count negatively whatever their sign in the file;
- money is rounded to 6 decimals after summing so results do not depend on summation order.

Example
-------
>>> from segkit.config import CDNOW_PATH
>>> from segkit.data import load_transactions
>>> from segkit.features import split_periods, customer_features
>>> tx = load_transactions(CDNOW_PATH)
>>> split = split_periods(tx, holdout_months=6)
>>> split.as_of
datetime.date(1997, 12, 31)
>>> f = customer_features(tx, split.as_of)
>>> len(f), int(f["frequency"].max())
(23502, 110)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from .config import CRITERIA
from .data import Transactions
from .errors import ParameterError

__all__ = [
    "Split",
    "split_periods",
    "month_start",
    "add_months",
    "month_end",
    "shift_date",
    "gini",
    "customer_month",
    "customer_features",
    "holdout_outcomes",
    "criterion_available",
    "FEATURE_COLUMNS",
]

_ROUND = 6

#: columns of :func:`customer_features`, in order (after ``customer_id``)
FEATURE_COLUMNS = (
    "first_purchase",
    "last_purchase",
    "recency_days",
    "frequency",
    "monetary",
    "gross_revenue",
    "returns_value",
    "units",
    "margin",
    "tenure_days",
    "active_months",
    "avg_order_value",
    "purchases_per_active_month",
)


# ================================================================== calendar helpers
def month_start(day: dt.date) -> dt.date:
    return dt.date(day.year, day.month, 1)


def add_months(day: dt.date, months: int) -> dt.date:
    """The first day of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + (day.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


def month_end(day: dt.date) -> dt.date:
    return add_months(day, 1) - dt.timedelta(days=1)


@dataclasses.dataclass(frozen=True)
class Split:
    """Calibration and holdout periods (inclusive dates) and the tier window's months."""

    calibration_start: dt.date
    as_of: dt.date
    holdout_start: dt.date
    holdout_end: dt.date
    window_months: tuple[dt.date, ...]
    previous_window_months: tuple[dt.date, ...]

    @property
    def calibration_end(self) -> dt.date:
        return self.as_of

    @property
    def holdout_month_starts(self) -> tuple[dt.date, ...]:
        months, m = [], month_start(self.holdout_start)
        while m <= self.holdout_end:
            months.append(m)
            m = add_months(m, 1)
        return tuple(months)

    def to_dict(self) -> dict[str, Any]:
        return {
            "calibration": {"start": self.calibration_start.isoformat(), "end": self.as_of.isoformat()},
            "holdout": {"start": self.holdout_start.isoformat(), "end": self.holdout_end.isoformat()},
            "window": [m.strftime("%Y-%m") for m in self.window_months],
        }

    def shifted(self, months: int) -> "Split":
        """The same layout with ``as_of`` moved by ``months`` (negative: earlier), e.g. for stability."""
        return _make_split(self.calibration_start, shift_date(self.as_of, months),
                           len(self.holdout_month_starts), len(self.window_months))


def shift_date(day: dt.date, months: int) -> dt.date:
    """``day`` moved by whole months; a month's last day stays a month's last day."""
    target = add_months(day, months)
    if day == month_end(day):
        return month_end(target)
    return min(target.replace(day=day.day) if day.day <= month_end(target).day else month_end(target),
               month_end(target))


def _make_split(first: dt.date, as_of: dt.date, holdout_months: int, window_months: int) -> Split:
    last_cal_month = month_start(as_of)
    window = tuple(add_months(last_cal_month, -i) for i in range(window_months - 1, -1, -1))
    previous = tuple(add_months(m, -window_months) for m in window)
    return Split(first, as_of, as_of + dt.timedelta(days=1), shift_date(as_of, holdout_months), window, previous)


def split_periods(
    tx: Transactions, *, as_of: dt.date | str | None = None, holdout_months: int = 6, window_months: int = 6,
    require_holdout: bool = True,
) -> Split:
    """Calibration = data up to ``as_of``; holdout = the ``holdout_months`` after it.

    Without ``as_of`` the holdout ends with the last complete month of data (a month is complete
    when the data reaches its last day). Raises :class:`ParameterError` when the data cannot hold
    the requested periods.
    """
    first, last = tx.first_date, tx.last_date
    if as_of is None:
        last_complete = month_start(last) if last == month_end(last) else add_months(last, -1)
        as_of = add_months(last_complete, -(holdout_months - 1)) - dt.timedelta(days=1)
        if as_of < first:
            months = (last.year - first.year) * 12 + last.month - first.month + 1
            raise ParameterError(
                f"the data covers {months} month(s) ({first} .. {last}); a {holdout_months}-month holdout "
                "leaves no calibration data",
                where="holdout_months",
                fix=f"lower holdout_months (at most {max(months - 2, 1)} here) or load more history",
            )
    elif isinstance(as_of, str):
        as_of = dt.date.fromisoformat(as_of)
    if as_of < first:
        raise ParameterError(f"as_of {as_of} is before the first transaction ({first})", where="as_of",
                             fix=f"choose a date between {first} and {last}")
    if as_of >= last:
        raise ParameterError(f"as_of {as_of} leaves no data after it (the data ends {last})", where="as_of",
                             fix=f"choose an earlier as_of (the holdout needs {holdout_months} months after it)")
    split = _make_split(first, as_of, holdout_months, window_months)
    if require_holdout and split.holdout_end > last:
        raise ParameterError(
            f"the holdout {split.holdout_start} .. {split.holdout_end} runs past the end of the data ({last})",
            where="as_of / holdout_months",
            fix="choose an earlier as_of or fewer holdout_months, or leave as_of empty to use the latest "
                "complete months",
        )
    return split


# ================================================================== expressions
def _period(t: ir.Table, start: dt.date | None, end: dt.date | None) -> ir.Table:
    if start is not None:
        t = t.filter(t.date >= ibis.literal(start))
    if end is not None:
        t = t.filter(t.date <= ibis.literal(end))
    return t


def _signed(col: ir.NumericValue, amount: ir.NumericValue) -> ir.NumericValue:
    """Quantity or cost counted with the sign of the amount (a return takes units back)."""
    return ibis.cases((amount < 0, -col.abs()), else_=col.abs())


def _distinct(col: ir.Value, where: ir.BooleanValue) -> ir.IntegerValue:
    """Distinct non-NULL values of ``col`` on rows where ``where`` holds.

    NULLs are excluded explicitly: SQL engines skip them in COUNT(DISTINCT), but Ibis' Polars
    backend counts NULL as a value.
    """
    return col.nunique(where=where & col.notnull())


def _measures(t: ir.Table, has: frozenset[str]) -> dict[str, ir.Value]:
    purchase = t.amount > 0
    if "order_id" in has:
        payments = _distinct(t.order_id, purchase)
    else:
        payments = purchase.cast("int64").sum()
    units = _signed(t.quantity.fill_null(0), t.amount).sum() if "quantity" in has else ibis.literal(0.0)
    cost = _signed(t.cost.fill_null(0), t.amount).sum() if "cost" in has else ibis.literal(0.0)
    return {
        "revenue": t.amount.sum().round(_ROUND),
        "payments": payments,
        "units": units.round(_ROUND),
        "margin": (t.amount.sum() - cost).round(_ROUND),
    }


def criterion_available(tx: Transactions, criterion: str) -> None:
    """Raise :class:`ParameterError` when the data lacks the column a criterion needs."""
    if criterion not in CRITERIA:
        raise ParameterError(f"unknown criterion {criterion!r}", where="criterion", fix=f"use one of {CRITERIA}")
    need = {"units": "quantity", "margin": "cost"}.get(criterion)
    if need and need not in tx.has:
        raise ParameterError(
            f"the criterion {criterion!r} needs a {need!r} column, which {tx.path} does not have",
            where="criterion / columns",
            fix=f"map the {need} column with `columns: {{{need}: <column>}}`, or choose revenue or payments",
        )


# ================================================================== tables
def customer_month(tx: Transactions, start: dt.date | None = None, end: dt.date | None = None) -> pd.DataFrame:
    """One row per customer and calendar month with any transaction in [start, end].

    Columns: ``customer_id``, ``month`` (first day, datetime64), ``revenue``, ``payments``,
    ``units``, ``margin``, ``purchases`` (purchase rows). Sorted by month, then customer_id.
    """
    t = _period(tx.table, start, end)
    t = t.mutate(month=t.date.truncate("M"))
    agg = t.group_by(["customer_id", "month"]).aggregate(
        **_measures(t, tx.has), purchases=(t.amount > 0).cast("int64").sum())
    frame = tx.con.execute(agg)
    frame["month"] = pd.to_datetime(frame["month"]).astype("datetime64[ns]")
    for col in ("payments", "purchases"):
        frame[col] = frame[col].astype("int64")
    for col in ("revenue", "units", "margin"):
        frame[col] = frame[col].astype("float64")
    frame["customer_id"] = frame["customer_id"].astype(str)
    return frame.sort_values(["month", "customer_id"], kind="stable").reset_index(drop=True)


def customer_features(tx: Transactions, as_of: dt.date, start: dt.date | None = None) -> pd.DataFrame:
    """RFM and behaviour features at ``as_of`` for customers with a purchase in [start, as_of].

    ``recency_days`` = days from the last purchase to ``as_of``; ``frequency`` = distinct orders
    (``order_id``) or distinct purchase days; ``monetary`` = net revenue in the period (returns
    included); ``tenure_days`` = days from the first purchase to ``as_of``. Attribute columns
    (region, industry, ...) carry the customer's most recent value. Sorted by customer_id.
    """
    t = _period(tx.table, start, as_of)
    purchase = t.amount > 0
    pdate = ibis.cases((purchase, t.date), else_=ibis.null("date"))
    if "order_id" in tx.has:
        frequency = _distinct(t.order_id, purchase)
    else:
        frequency = _distinct(t.date, purchase)
    m = _measures(t, tx.has)
    agg = dict(
        first_purchase=pdate.min(),
        last_purchase=pdate.max(),
        frequency=frequency,
        monetary=m["revenue"],
        gross_revenue=ibis.cases((purchase, t.amount), else_=0.0).sum().round(_ROUND),
        returns_value=ibis.cases((purchase, 0.0), else_=-t.amount).sum().round(_ROUND),
        units=m["units"],
        margin=m["margin"],
        active_months=_distinct(t.date.truncate("M"), purchase),
    )
    for attr in tx.attributes:
        agg[attr] = t[attr].argmax(t.date)
    grouped = t.group_by("customer_id").aggregate(**agg).filter(ibis._.frequency > 0)
    frame = tx.con.execute(grouped)
    frame["customer_id"] = frame["customer_id"].astype(str)
    for col in ("first_purchase", "last_purchase"):
        frame[col] = pd.to_datetime(frame[col]).astype("datetime64[ns]")
    as_of_ts = pd.Timestamp(as_of)
    frame["recency_days"] = (as_of_ts - frame["last_purchase"]).dt.days.astype("int64")
    frame["tenure_days"] = (as_of_ts - frame["first_purchase"]).dt.days.astype("int64")
    frame["frequency"] = frame["frequency"].astype("int64")
    frame["active_months"] = frame["active_months"].astype("int64")
    for col in ("monetary", "gross_revenue", "returns_value", "units", "margin"):
        frame[col] = frame[col].astype("float64")
    frame["avg_order_value"] = (frame["gross_revenue"] / frame["frequency"]).round(_ROUND)
    frame["purchases_per_active_month"] = (frame["frequency"] / frame["active_months"]).round(_ROUND)
    cols = ["customer_id", *FEATURE_COLUMNS, *tx.attributes]
    return frame[cols].sort_values("customer_id", kind="stable").reset_index(drop=True)


def holdout_outcomes(tx: Transactions, split: Split, customers: pd.Series | None = None) -> pd.DataFrame:
    """What each customer did in the holdout: net revenue, purchases, bought (>= 1 purchase).

    With ``customers`` (the evaluated customers), every one of them gets a row (zeros when it did
    nothing in the holdout) and nobody else does. Sorted by customer_id.
    """
    t = _period(tx.table, split.holdout_start, split.holdout_end)
    agg = t.group_by("customer_id").aggregate(
        holdout_revenue=t.amount.sum().round(_ROUND),
        holdout_purchases=(t.amount > 0).cast("int64").sum(),
    )
    frame = tx.con.execute(agg)
    frame["customer_id"] = frame["customer_id"].astype(str)
    if customers is not None:
        base = pd.DataFrame({"customer_id": pd.Series(customers, dtype=str).values})
        frame = base.merge(frame, on="customer_id", how="left")
    frame["holdout_revenue"] = frame["holdout_revenue"].fillna(0.0).astype("float64")
    frame["holdout_purchases"] = frame["holdout_purchases"].fillna(0).astype("int64")
    frame["bought"] = frame["holdout_purchases"] > 0
    return frame.sort_values("customer_id", kind="stable").reset_index(drop=True)


def gini(values: np.ndarray | pd.Series) -> float:
    """Gini coefficient of non-negative values (0 = equal, 1 = one holds all)."""
    v = np.sort(np.clip(np.asarray(values, dtype=float), 0, None))
    n = v.size
    if n == 0 or v.sum() == 0:
        return 0.0
    cum = np.cumsum(v)
    return float((n + 1 - 2 * (cum / cum[-1]).sum()) / n)
