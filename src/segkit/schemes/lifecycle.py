"""The earlier relationship labels from the customer x month table: new, growing, steady, declining, lapsed, lost.

Runs no longer use these labels: ``lifecycle_stage`` in ``assignments.csv`` and the report carry
the relationship stages of :mod:`segkit.decisions.stages` (exploration ... dissolution;
``LIFECYCLE_TO_STAGE`` there maps these labels for reading older files). The module stays as a
library function for analysts who relied on it.

Rules, checked in this order at ``as_of`` (all parameters in months):
1. **new** — the first purchase falls in the last ``new_months`` months;
2. **lost** — no purchase in the last ``lost_months`` months;
3. **lapsed** — no purchase in the last ``lapsed_months`` months (but one within ``lost_months``);
4. **growing** / **declining** — net revenue of the last ``compare_months`` months against the
   ``compare_months`` before: at least ``growth_ratio`` times as much is growing, at most
   ``1 / growth_ratio`` times is declining;
5. **steady** — everything else.

Example
-------
>>> import pandas as pd
>>> m = pd.DataFrame({"customer_id": ["a", "a", "b"], "month": pd.to_datetime(["2024-01-01", "2024-06-01",
...     "2024-06-01"]), "revenue": [10.0, 30.0, 5.0], "purchases": [1, 1, 1]})
>>> lifecycle_stages(m, "2024-06-30")["lifecycle_stage"].tolist()
['growing', 'new']
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ..calendar import month_index, month_start
from ..errors import ParameterError

__all__ = ["lifecycle_stages", "LIFECYCLE_STAGES", "NEW_MONTHS", "LAPSED_MONTHS", "LOST_MONTHS", "COMPARE_MONTHS",
           "GROWTH_RATIO"]

LIFECYCLE_STAGES = ["new", "growing", "steady", "declining", "lapsed", "lost"]
#: the default thresholds (the report's explanation of the stages is built from these)
NEW_MONTHS = 3
LAPSED_MONTHS = 3
LOST_MONTHS = 6
COMPARE_MONTHS = 3
GROWTH_RATIO = 1.25


def lifecycle_stages(monthly: pd.DataFrame, as_of: dt.date | str, customers: pd.Series | None = None, *,
                     new_months: int = NEW_MONTHS, lapsed_months: int = LAPSED_MONTHS, lost_months: int = LOST_MONTHS,
                     compare_months: int = COMPARE_MONTHS, growth_ratio: float = GROWTH_RATIO) -> pd.DataFrame:
    """Stage of every customer at ``as_of``; ``customers`` limits and orders the rows."""
    if not 1 <= lapsed_months < lost_months:
        raise ParameterError("lapsed_months must be at least 1 and below lost_months", where="lifecycle",
                             fix="e.g. lapsed_months=3, lost_months=6")
    if growth_ratio <= 1:
        raise ParameterError("growth_ratio must be above 1", where="lifecycle", fix="e.g. 1.25")
    as_of_m = pd.Timestamp(month_start(pd.Timestamp(as_of).date()))
    paid_col = "purchases" if "purchases" in monthly else "revenue"
    # each column once: without a purchases column, revenue is both the amount and the "paid" test
    columns = list(dict.fromkeys(["customer_id", "month", "revenue", paid_col]))
    m = monthly.loc[pd.to_datetime(monthly["month"]) <= as_of_m, columns]
    age = (month_index(as_of_m) - month_index(m["month"])).to_numpy()  # months before as_of's month
    # one factorization of the ids; every per-customer figure is a group-by on its integer codes
    codes, uniques = pd.factorize(m["customer_id"])
    revenue = m["revenue"].to_numpy(float)
    paid = m[paid_col].to_numpy() > 0
    k = len(uniques)

    def per_customer(values: np.ndarray, where: np.ndarray, how: str, fill: float) -> np.ndarray:
        g = pd.Series(values[where]).groupby(codes[where]).agg(how)
        out = np.full(k, fill, dtype=float)
        out[g.index.to_numpy()] = g.to_numpy()
        return out

    first = per_customer(age, paid, "max", np.nan)     # months since the first purchase month
    last = per_customer(age, paid, "min", np.nan)      # months since the last purchase month
    recent = per_customer(revenue, age < compare_months, "sum", 0.0)
    before = per_customer(revenue, (age >= compare_months) & (age < 2 * compare_months), "sum", 0.0)
    known = pd.Index(uniques).astype(str)
    if customers is not None:
        ids = pd.Index(pd.unique(customers.astype(str))).sort_values()
    else:
        ids = known[~np.isnan(first)].sort_values()
    at = known.get_indexer(ids)

    def take(values: np.ndarray, fill: float) -> pd.Series:  # position -1 (no transactions) -> fill
        return pd.Series(np.append(values, fill)[at], index=ids)

    first, last = take(first, np.nan), take(last, np.nan)
    recent, before = take(recent, 0.0), take(before, 0.0)
    stage = np.select(
        [first < new_months, last.isna() | (last >= lost_months), last >= lapsed_months,
         recent >= growth_ratio * before.clip(lower=0) + (before <= 0) * 1e-12,
         recent <= before / growth_ratio],
        ["new", "lost", "lapsed", "growing", "declining"], default="steady")
    return pd.DataFrame({"customer_id": ids.astype(str), "lifecycle_stage": stage})
