"""High-maintenance customers: little revenue, many returns.

The practice's "problem" group brings little revenue but asks for the most attention. With the
data segkit reads, attention shows as returns (rows with amount < 0). :func:`customer_returns`
counts per customer, in the engine, the purchase and return lines and their values;
:func:`high_maintenance` lists the customers that are both

- **low revenue** — net revenue at or below the :data:`LOW_REVENUE_QUANTILE` quantile (the median)
  of the customers with any purchase in the period, and
- **return-heavy** — at least :data:`MIN_RETURN_LINES` return lines and returns worth at least
  :data:`MIN_RETURN_SHARE` of their gross revenue.

Deep discounts would be a second sign; the transaction data carries no discount column, so they are
not computed.

Example
-------
>>> import pandas as pd
>>> r = pd.DataFrame({"customer_id": list("abcd"), "purchase_lines": [10, 3, 4, 2],
...                   "return_lines": [0, 2, 0, 2], "gross_revenue": [1000.0, 100.0, 80.0, 60.0],
...                   "returns_value": [0.0, 50.0, 0.0, 6.0]})
>>> high_maintenance(r)["customer_id"].tolist()
['b']
"""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd

from ..data import Transactions
from ..engines import count_true, fetch
from ..features import by_customer

__all__ = ["customer_returns", "high_maintenance", "LOW_REVENUE_QUANTILE", "MIN_RETURN_SHARE", "MIN_RETURN_LINES"]

LOW_REVENUE_QUANTILE = 0.5
MIN_RETURN_SHARE = 0.2
MIN_RETURN_LINES = 2


def customer_returns(tx: Transactions, start: dt.date | None = None, end: dt.date | None = None, *,
                     returns_only: bool = False) -> pd.DataFrame:
    """Per customer with any row in [start, end]: ``purchase_lines, return_lines, gross_revenue, returns_value``.

    ``returns_value`` is positive (the value given back). Aggregated in the engine; sorted by customer_id.
    ``returns_only``: only the customers without a purchase line (selected in the engine, so a book of
    millions of buyers does not come back to Python to find the few without a purchase).
    """
    t = tx.table
    if start is not None:
        t = t.filter(t.date >= ibis.literal(start))
    if end is not None:
        t = t.filter(t.date <= ibis.literal(end))
    purchase, ret = t.amount > 0, t.amount < 0
    agg = t.group_by("customer_id").aggregate(
        purchase_lines=count_true(purchase),
        return_lines=count_true(ret),
        gross_revenue=ibis.cases((purchase, t.amount), else_=0.0).sum().round(6),
        returns_value=ibis.cases((ret, -t.amount), else_=0.0).sum().round(6),
    )
    if returns_only:
        agg = agg.filter(agg.purchase_lines == 0)
    # sorted by the engine first: by_customer then finds the rows in order and leaves them (a pandas
    # sort of the text ids otherwise); the result is the same whatever order the engine returns
    frame = fetch(tx.con, agg.order_by("customer_id"))
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame = frame.astype({"purchase_lines": "int64", "return_lines": "int64", "gross_revenue": "float64",
                          "returns_value": "float64"})
    return by_customer(frame)


def high_maintenance(returns: pd.DataFrame, *, low_revenue_quantile: float = LOW_REVENUE_QUANTILE,
                     min_return_share: float = MIN_RETURN_SHARE,
                     min_return_lines: int = MIN_RETURN_LINES) -> pd.DataFrame:
    """The low-revenue, return-heavy customers with their figures, most returns first.

    ``returns``: :func:`customer_returns`. Adds ``net_revenue`` and ``return_share`` (returns_value /
    gross_revenue).
    """
    r = returns[returns["purchase_lines"] > 0].copy()
    r["net_revenue"] = (r["gross_revenue"] - r["returns_value"]).round(6)
    r["return_share"] = (r["returns_value"] / r["gross_revenue"]).round(6)
    if r.empty:
        return r.reset_index(drop=True)
    cut = r["net_revenue"].quantile(low_revenue_quantile)
    flagged = r[(r["net_revenue"] <= cut) & (r["return_lines"] >= min_return_lines)
                & (r["return_share"] >= min_return_share)]
    flagged = flagged.sort_values("customer_id", kind="stable").sort_values("return_share", ascending=False,
                                                                             kind="stable")
    return flagged.reset_index(drop=True)
