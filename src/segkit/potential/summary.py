"""Per-customer purchase summaries for the predicted-value models, as engine expressions.

A *purchase* is a distinct purchase day, or a distinct ``order_id`` when the data has one (rows
with amount > 0, as everywhere in segkit). For each customer with a purchase in calibration:

- ``x`` — repeat purchases (purchases after the first);
- ``span_days`` — days from the first to the last purchase (``t_x`` of the literature);
- ``age_days`` — days from the first purchase to ``as_of`` (``T``);
- ``repeat_value`` — mean criterion value of the repeat purchases (NULL when ``x`` = 0).

The value of one purchase for each criterion: ``revenue`` — the amount of its rows; ``margin`` —
amount minus cost of its rows; ``units`` — the quantity of its rows; ``payments`` — its rows, or 1
per order when orders are given. Returns (amount < 0) are not purchases and do not enter.

Everything stays an Ibis expression until :func:`grouped_counts` and :func:`grouped_values`
aggregate it to the few distinct combinations the fits need, so only those come back to Python.

Example
-------
>>> import datetime as dt, pandas as pd
>>> from segkit.data import load_transactions
>>> df = pd.DataFrame({"customer_id": ["a", "a", "a", "b"], "amount": [10.0, 5.0, 7.0, 3.0],
...                    "date": ["2024-01-01", "2024-01-08", "2024-01-08", "2024-01-15"]})
>>> tx = load_transactions(df, today=dt.date(2025, 1, 1))
>>> s = purchase_summary(tx, dt.date(2024, 1, 29)).to_pandas().sort_values("customer_id")
>>> s[["customer_id", "x", "span_days", "age_days", "repeat_value"]].to_dict("records")[0]
{'customer_id': 'a', 'x': 1, 'span_days': 7, 'age_days': 28, 'repeat_value': 12.0}
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pandas as pd

from ..data import Transactions
from ..engines import fetch
from ..features import by_customer, criterion_available

#: decimals of the summed purchase values (as the features' money: sums do not depend on row order)
_ROUND = 6

__all__ = ["purchase_summary", "grouped_counts", "grouped_values", "summary_frame", "holdout_purchases"]


def _row_value(t: ir.Table, criterion: str, has: frozenset[str]) -> ir.NumericValue:
    """What one purchase row contributes to its purchase's value under ``criterion``."""
    if criterion == "revenue":
        return t.amount
    if criterion == "margin":
        return t.amount - t.cost.fill_null(0).abs()
    if criterion == "units":
        return t.quantity.fill_null(0).abs()
    # payments: every purchase row is a payment (with orders, the purchase's value is fixed to 1 later).
    return ibis.literal(1.0)


def purchase_summary(tx: Transactions, as_of: dt.date, *, criterion: str = "revenue",
                     start: dt.date | None = None) -> ir.Table:
    """One row per customer with a purchase in [start, as_of]: ``x, span_days, age_days, repeat_value``.

    Parameters
    ----------
    tx
        Loaded transactions.
    as_of, start
        Last and first day of the period (``start`` None: from the first transaction).
    criterion
        Which value a purchase carries (see the module docstring).

    Returns
    -------
    ibis.expr.types.Table
        ``customer_id, x, first_purchase, last_purchase, repeat_value, span_days, age_days``; an
        Ibis expression, nothing runs yet.

    Raises
    ------
    ParameterError
        Unknown criterion, or one whose column the data lack (``margin`` without cost).
    """
    criterion_available(tx, criterion)
    t = tx.table.filter(tx.table.amount > 0, tx.table.date <= ibis.literal(as_of))
    if start is not None:
        t = t.filter(t.date >= ibis.literal(start))
    key = "order_id" if "order_id" in tx.has else "date"
    t = t.mutate(_value=_row_value(t, criterion, tx.has))
    # With orders, one order is one payment whatever its rows: max of the per-row 1.0, not the sum.
    one_payment = criterion == "payments" and key == "order_id"
    # Sums rounded to 6 decimals (as the features' money): an engine adds a customer's rows in any
    # order, and unrounded sums differed in the last bits from run to run on large files, enough to
    # move the value model's fit
    purchases = t.group_by(["customer_id", key]).aggregate(
        day=t.date.min(), value=t._value.max() if one_payment else t._value.sum().round(_ROUND))
    # The first purchase (earliest day; between orders of that day the smallest order id) is not a
    # repeat. Found with arg_min rather than a window: Ibis' Polars backend has no window functions.
    # by day (one row per day without orders: no text made of every purchase's date), else day then order id
    order_key = purchases.day
    if key == "order_id":
        order_key = purchases.day.cast("string").concat(ibis.literal(" "), purchases.order_id)
    per_customer = purchases.group_by("customer_id").aggregate(
        x=(purchases.count() - 1).cast("int64"),
        first_purchase=purchases.day.min(),
        last_purchase=purchases.day.max(),
        _total=purchases.value.sum().round(_ROUND),
        _first_value=purchases.value.argmin(order_key),
    )
    repeat_value = ibis.cases((per_customer.x > 0, (per_customer._total - per_customer._first_value) / per_customer.x),
                              else_=ibis.null("float64"))
    per_customer = per_customer.mutate(repeat_value=repeat_value).drop("_total", "_first_value")
    as_of_day = ibis.literal(as_of).epoch_days()
    return per_customer.mutate(
        span_days=(per_customer.last_purchase.epoch_days() - per_customer.first_purchase.epoch_days()).cast("int64"),
        age_days=(as_of_day - per_customer.first_purchase.epoch_days()).cast("int64"),
    )


def grouped_counts(summary: ir.Table) -> pd.DataFrame:
    """Distinct ``(x, span_days, age_days)`` with the number of customers (``n``) sharing each.

    These are the BG/NBD model's sufficient statistics: its likelihood depends on nothing else.
    Sorted by the keys: an engine returns groups in any order, and the likelihood summed in another
    order moves the fitted parameters in their last digits (and with them rankings on ties), so the
    same data must reach the optimizer in the same order.
    """
    grouped = summary.group_by(["x", "span_days", "age_days"]).aggregate(n=ibis._.count())
    frame = grouped.to_pandas().astype({"x": "int64", "span_days": "int64", "age_days": "int64", "n": "int64"})
    return frame.sort_values(["x", "span_days", "age_days"], kind="stable").reset_index(drop=True)


def grouped_values(summary: ir.Table) -> pd.DataFrame:
    """Distinct ``(x, repeat_value)`` of repeat buyers with a positive mean value, with counts ``n``.

    The Gamma-Gamma model's sufficient statistics (means rounded to 6 decimals, below any currency's
    precision, so equal means group together).
    """
    s = summary.filter(summary.x > 0, summary.repeat_value > 0)
    grouped = s.group_by(x=s.x, m=s.repeat_value.round(6)).aggregate(n=ibis._.count())
    frame = grouped.to_pandas().astype({"x": "int64", "m": "float64", "n": "int64"})
    return frame.sort_values(["x", "m"], kind="stable").reset_index(drop=True)  # same order, same fit


def summary_frame(tx: Transactions, as_of: dt.date, *, criterion: str = "revenue") -> pd.DataFrame:
    """:func:`purchase_summary` from the first transaction to ``as_of``, as pandas (one row per customer).

    The pipeline computes it in the features stage, while the transactions are open, and hands it
    to the potential scheme (``SchemeInputs.potential``). Sorted by customer_id.
    """
    s = purchase_summary(tx, as_of, criterion=criterion)
    # sorted by the engine first: by_customer then finds the rows in order and leaves them (a pandas
    # sort of the text ids otherwise); the result is the same whatever order the engine returns
    columns = s.select("customer_id", "x", "span_days", "age_days", "repeat_value")
    frame = fetch(tx.con, columns.order_by("customer_id"))
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame = frame.astype({"x": "int64", "span_days": "int64", "age_days": "int64", "repeat_value": "float64"})
    return by_customer(frame)


def holdout_purchases(tx: Transactions, start: dt.date, end: dt.date) -> pd.DataFrame:
    """``customer_id, purchases``: purchases (distinct days, or orders) per customer in [start, end].

    What the purchase model predicts (``expected_purchases``), counted the same way.
    """
    t = tx.table.filter(tx.table.amount > 0, tx.table.date >= ibis.literal(start), tx.table.date <= ibis.literal(end))
    key = "order_id" if "order_id" in tx.has else "date"
    grouped = t.group_by("customer_id").aggregate(purchases=t[key].nunique(where=t[key].notnull()))
    frame = fetch(tx.con, grouped.order_by("customer_id"))  # by_customer then finds it sorted
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["purchases"] = frame["purchases"].astype("int64")
    return by_customer(frame)
