"""What each tier pays back: revenue, margin, the policy's cost and the net contribution.

Per tier and period (``window``: the tier window of calibration; ``holdout``: the months after the
cut-off, customers keeping the tier they had at the cut-off):

- ``customers`` — customers holding the tier at the cut-off;
- ``revenue`` and ``margin`` — their net revenue and net margin in the period (margin only when
  the data has a cost column, else NaN);
- ``discount_given`` = discount_pct / 100 x revenue (the policy's discount on what they bought);
- ``cost_to_serve`` = cost_to_serve_per_month x customers x months of the period;
- ``policy_cost`` = discount_given + cost_to_serve;
- ``net_contribution`` = margin - policy_cost (NaN without cost);
- ``revenue_after_policy`` = revenue - policy_cost (always known).

Example
-------
>>> import pandas as pd
>>> from segkit.policy import Policy
>>> tiers = pd.DataFrame({"customer_id": ["a", "b"], "tier": ["VIP", "REGULAR"]})
>>> window = pd.DataFrame({"customer_id": ["a", "b"], "revenue": [1000.0, 50.0], "margin": [300.0, 10.0]})
>>> pol = Policy.from_mapping({"VIP": {"discount_pct": 5, "cost_to_serve_per_month": 10}})
>>> t = payback(tiers, window, None, pol, window_months=6, has_cost=True)
>>> t.loc[t["tier"] == "VIP", ["policy_cost", "net_contribution"]].values.tolist()
[[110.0, 190.0]]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ParameterError
from ..policy import Policy

__all__ = ["payback", "PAYBACK_COLUMNS"]

PAYBACK_COLUMNS = ["period", "tier", "relationship", "customers", "months", "revenue", "margin",
                   "discount_given", "cost_to_serve", "policy_cost", "net_contribution", "revenue_after_policy"]


def _per_tier(tiers: pd.DataFrame, activity: pd.DataFrame | None) -> pd.DataFrame:
    """Customers, revenue and margin per tier; ``activity`` may be customer-month or per customer."""
    if activity is None or activity.empty:
        money = pd.DataFrame(columns=["revenue", "margin"], dtype=float)
    else:
        money = activity.groupby(activity["customer_id"].astype(str))[["revenue", "margin"]].sum()
    joined = tiers.assign(customer_id=tiers["customer_id"].astype(str)).join(money, on="customer_id")
    return joined.fillna({"revenue": 0.0, "margin": 0.0}).groupby("tier").agg(
        customers=("customer_id", "size"), revenue=("revenue", "sum"), margin=("margin", "sum"))


def payback(tiers: pd.DataFrame, window: pd.DataFrame, holdout: pd.DataFrame | None, policy: Policy, *,
            window_months: int, holdout_months: int | None = None, has_cost: bool) -> pd.DataFrame:
    """The payback table, one row per period and tier (tiers in the policy's order).

    Parameters
    ----------
    tiers : DataFrame ``customer_id, tier`` — the tier of every customer at the cut-off.
    window, holdout : DataFrame with ``customer_id, revenue, margin`` (customer x month rows of the
        period, or one row per customer); ``holdout`` None leaves out the holdout rows.
    policy : the tier policy.
    window_months, holdout_months : months in each period (cost to serve is per month).
    has_cost : whether the data has a cost column; without it margin and net contribution are NaN.
    """
    missing = {"customer_id", "tier"} - set(tiers.columns)
    if missing:
        raise ParameterError(f"the tier table lacks {sorted(missing)}", where="payback",
                             fix="pass customer_id and tier columns")
    periods = [("window", window, window_months)]
    if holdout is not None:
        if not holdout_months:
            raise ParameterError("holdout_months is needed with a holdout table", where="payback",
                                 fix="pass holdout_months=<months of the holdout>")
        periods.append(("holdout", holdout, holdout_months))
    order = [t for t in policy.tiers if t in set(tiers["tier"])] + sorted(set(tiers["tier"]) - set(policy.tiers))
    frames = []
    for name, activity, months in periods:
        t = _per_tier(tiers, activity).reindex(order)
        p = [policy[tier] for tier in t.index]
        t["discount_given"] = t["revenue"] * np.array([x.discount_pct for x in p]) / 100.0
        t["cost_to_serve"] = np.array([x.cost_to_serve_per_month for x in p]) * t["customers"] * months
        t["policy_cost"] = t["discount_given"] + t["cost_to_serve"]
        if not has_cost:
            t["margin"] = np.nan
        t["net_contribution"] = t["margin"] - t["policy_cost"]
        t["revenue_after_policy"] = t["revenue"] - t["policy_cost"]
        t = t.assign(period=name, months=months, relationship=[x.relationship for x in p])
        frames.append(t.rename_axis("tier").reset_index())
    out = pd.concat(frames, ignore_index=True)[PAYBACK_COLUMNS]
    money = ["revenue", "margin", "discount_given", "cost_to_serve", "policy_cost", "net_contribution",
             "revenue_after_policy"]
    out[money] = out[money].astype(float).round(6)
    out["customers"] = out["customers"].astype("int64")
    return out
