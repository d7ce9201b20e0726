"""Capacity and targets: can the policy serve all VIPs, and what would lift a GOOD customer to VIP.

**Capacity.** A tier's capacity comes from the policy (account managers x customers each, or a
maximum). The customers of the tier are ranked by their value of the criterion over the window
(descending, ties by customer_id). When they outnumber the capacity, the first ``capacity`` are
served and the rest are *over capacity* (the waiting list, best first). When there are free places,
the best customers of the tier below (GOOD for VIP) are *next in line* to fill them.

**Targets.** A GOOD customer becomes VIP next month if its value that month reaches the VIP
threshold: the lowest value that was still VIP in the latest window month (the same figure as the
``VIP/GOOD`` threshold of the tiers' boundary table; ties at the threshold go by customer_id). The
*gap* is that threshold (or the policy's fixed ``target_threshold`` when given) minus the
customer's value in the latest window month (at least 0). A customer is *near* the target when the
gap is at most :data:`NEAR_TARGET_SHARE` of the threshold.

Example
-------
>>> import pandas as pd
>>> values = pd.DataFrame({"customer_id": list("abcd"), "tier": ["VIP", "VIP", "VIP", "GOOD"],
...                        "value": [30.0, 20.0, 10.0, 5.0]})
>>> c = capacity_check(values, capacity=2)
>>> c.overflow, c.queue["customer_id"].tolist()
(1, ['c'])
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from ..errors import ParameterError

__all__ = ["CapacityCheck", "capacity_check", "good_targets", "NEAR_TARGET_SHARE"]

#: a GOOD customer within this share of the VIP threshold is "near" the target (a promotion talk)
NEAR_TARGET_SHARE = 0.25

_BELOW = {"VIP": "GOOD", "GOOD": "REGULAR"}


@dataclasses.dataclass(frozen=True)
class CapacityCheck:
    """Result of :func:`capacity_check`. ``queue``: customer_id, tier, value, rank, status."""

    tier: str
    customers: int
    capacity: int | None
    overflow: int
    free: int | None
    queue: pd.DataFrame


def _ranked(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.sort_values("customer_id", kind="stable").sort_values("value", ascending=False, kind="stable")
    return out.assign(rank=np.arange(1, len(out) + 1)).reset_index(drop=True)


def capacity_check(values: pd.DataFrame, capacity: int | None, *, tier: str = "VIP",
                   fill_free: int | None = None) -> CapacityCheck:
    """Compare the tier's customers with its capacity.

    Parameters
    ----------
    values : DataFrame ``customer_id, tier, value`` (value: the criterion over the window).
    capacity : the policy's capacity for ``tier`` (None: no limit, nothing to report).
    fill_free : list at most this many next-in-line customers when places are free (default: all free places).
    """
    missing = {"customer_id", "tier", "value"} - set(values.columns)
    if missing:
        raise ParameterError(f"the value table lacks {sorted(missing)}", where="capacity_check",
                             fix="pass customer_id, tier and value (the criterion over the window)")
    cols = ["customer_id", "tier", "value", "rank", "status"]
    members = _ranked(values.loc[values["tier"] == tier, ["customer_id", "tier", "value"]])
    n = len(members)
    if capacity is None:
        return CapacityCheck(tier, n, None, 0, None, pd.DataFrame(columns=cols))
    overflow, free = max(n - capacity, 0), max(capacity - n, 0)
    if overflow:
        queue = members.iloc[capacity:].assign(status="over capacity")
    else:
        below = _ranked(values.loc[values["tier"] == _BELOW.get(tier, ""), ["customer_id", "tier", "value"]])
        queue = below.head(free if fill_free is None else min(free, fill_free)).assign(status="next in line")
    return CapacityCheck(tier, n, capacity, overflow, free, queue[cols].reset_index(drop=True))


def good_targets(monthly_tiers: pd.DataFrame, tiers: pd.DataFrame, *, threshold: float | None = None,
                 near_share: float = NEAR_TARGET_SHARE) -> pd.DataFrame:
    """For every GOOD customer: the value it needs next month to become VIP, and the gap.

    Parameters
    ----------
    monthly_tiers : DataFrame ``customer_id, month, value, monthly_tier`` (the tiers' monthly table).
    tiers : DataFrame ``customer_id, tier`` (window tiers).
    threshold : a fixed VIP target (the policy's ``target_threshold``) instead of the latest month's.

    Returns
    -------
    DataFrame ``customer_id, month, last_value, vip_threshold, gap, near_target`` sorted by gap,
    then customer_id. Empty when the latest month has no VIP.

    >>> import pandas as pd
    >>> mt = pd.DataFrame({"customer_id": list("abc"), "month": ["2024-06"] * 3,
    ...                    "value": [100.0, 80.0, 10.0], "monthly_tier": ["VIP", "GOOD", "REGULAR"]})
    >>> tiers = pd.DataFrame({"customer_id": list("abc"), "tier": ["VIP", "GOOD", "REGULAR"]})
    >>> good_targets(mt, tiers)[["customer_id", "gap", "near_target"]].values.tolist()
    [['b', 20.0, True]]
    """
    cols = ["customer_id", "month", "last_value", "vip_threshold", "gap", "near_target"]
    if monthly_tiers.empty:
        return pd.DataFrame(columns=cols)
    month = str(monthly_tiers["month"].max())
    latest = monthly_tiers[monthly_tiers["month"].astype(str) == month]
    if threshold is None:
        vip_values = latest.loc[latest["monthly_tier"] == "VIP", "value"]
        if vip_values.empty:
            return pd.DataFrame(columns=cols)
        threshold = float(vip_values.min())
    good = tiers.loc[tiers["tier"] == "GOOD", ["customer_id"]].astype(str)
    last = latest.assign(customer_id=latest["customer_id"].astype(str)).set_index("customer_id")["value"]
    out = good.assign(month=month, last_value=good["customer_id"].map(last).fillna(0.0).astype(float),
                      vip_threshold=threshold)
    out["gap"] = (threshold - out["last_value"]).clip(lower=0.0).round(6)
    out["near_target"] = out["gap"] <= near_share * threshold
    out = out.sort_values("customer_id", kind="stable").sort_values("gap", kind="stable")
    return out[cols].reset_index(drop=True)
