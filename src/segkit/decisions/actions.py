"""This cut-off's contact list (``actions.csv``) and each customer's ``tier_change``.

Actions, in priority order (a customer that qualifies for several gets the first; ``reason`` names
the others), with ``due_by`` = the cut-off date plus :data:`DUE_DAYS` days:

1. ``win_back_call`` — a VIP or GOOD customer in the dissolution stage (7 days);
   value_at_stake = its window value;
2. ``margin_review`` — a VIP flagged for margin erosion (14 days); value_at_stake = the erosion's
   value_at_risk;
3. ``promotion_talk`` — a GOOD customer near the VIP target (14 days); value_at_stake = the gap;
4. ``key_account_approach`` — peer headroom of at least :data:`KEY_ACCOUNT_HEADROOM_SHARE` of its
   window value (30 days); value_at_stake = the headroom;
5. ``satisfaction_check`` — its second payment fell in the cut-off's month (7 days);
6. ``thank_you`` — its first payment fell in the cut-off's month (3 days).

For 5 and 6 value_at_stake is the window value. ``tier_change`` compares the tiers with the previous
cut-off's: ``entered VIP``, ``left VIP``, ``new`` (not among the previous cut-off's customers) or
``unchanged`` (VIP status unchanged; moves between GOOD, REGULAR and INACTIVE count as unchanged).

Example
-------
>>> import pandas as pd
>>> now = pd.DataFrame({"customer_id": ["a", "b", "c"], "tier": ["VIP", "GOOD", "VIP"]})
>>> before = pd.DataFrame({"customer_id": ["a", "b"], "tier": ["GOOD", "VIP"]})
>>> tier_change(now, before)["tier_change"].tolist()
['entered VIP', 'left VIP', 'new']
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

__all__ = ["contact_list", "tier_change", "ACTIONS", "DUE_DAYS", "KEY_ACCOUNT_HEADROOM_SHARE", "ACTION_COLUMNS"]

ACTIONS = ["win_back_call", "margin_review", "promotion_talk", "key_account_approach", "satisfaction_check",
           "thank_you"]
DUE_DAYS = {"win_back_call": 7, "margin_review": 14, "promotion_talk": 14, "key_account_approach": 30,
            "satisfaction_check": 7, "thank_you": 3}
#: headroom this large against the customer's own window value is worth a key-account approach
KEY_ACCOUNT_HEADROOM_SHARE = 0.5
ACTION_COLUMNS = ["customer_id", "action", "reason", "due_by", "tier", "stage", "value_at_stake"]

_REASONS = {"win_back_call": "{tier} customer in dissolution (declining or gone quiet)",
            "margin_review": "VIP margin fell over the window",
            "promotion_talk": "GOOD customer near the VIP target",
            "key_account_approach": "buys well below similar customers (peer headroom)",
            "satisfaction_check": "second purchase this month",
            "thank_you": "first purchase this month"}


def tier_change(tiers: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    """``customer_id, tier_change`` against the previous cut-off's ``customer_id, tier`` (None: all empty)."""
    out = tiers[["customer_id"]].astype(str)
    if previous is None:
        return out.assign(tier_change="")
    before = previous.assign(customer_id=previous["customer_id"].astype(str)).set_index("customer_id")["tier"]
    was = out["customer_id"].map(before)
    vip_now, vip_before = tiers["tier"].to_numpy() == "VIP", (was == "VIP").to_numpy()
    change = np.select([was.isna().to_numpy(), vip_now & ~vip_before, vip_before & ~vip_now],
                       ["new", "entered VIP", "left VIP"], default="unchanged")
    return out.assign(tier_change=change).reset_index(drop=True)


def _payment_counts(monthly: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    cut = pd.Timestamp(as_of)
    m = monthly[pd.to_datetime(monthly["month"]) <= cut]
    m = m[m["payments"] > 0].assign(customer_id=lambda d: d["customer_id"].astype(str))
    in_month = pd.to_datetime(m["month"]) == pd.Timestamp(cut.year, cut.month, 1)
    return pd.DataFrame({"total": m.groupby("customer_id")["payments"].sum(),
                         "this_month": m[in_month].groupby("customer_id")["payments"].sum()}).fillna(0)


def _candidates(base: pd.DataFrame, monthly: pd.DataFrame, as_of: dt.date, erosion: pd.DataFrame | None,
                targets: pd.DataFrame | None, peer_headroom: pd.Series | None) -> dict[str, pd.Series]:
    """action -> value_at_stake for the customers it applies to (index customer_id)."""
    value = base["window_value"]
    found = {"win_back_call": value[base["tier"].isin(["VIP", "GOOD"]) & (base["stage"] == "dissolution")]}
    if erosion is not None and not erosion.empty:
        found["margin_review"] = erosion.set_index(erosion["customer_id"].astype(str))["value_at_risk"]
    if targets is not None and not targets.empty:
        near = targets[targets["near_target"].astype(bool)]
        found["promotion_talk"] = near.set_index(near["customer_id"].astype(str))["gap"]
    if peer_headroom is not None:
        h = peer_headroom.copy()
        h.index = h.index.astype(str)
        h = h.reindex(base.index)
        found["key_account_approach"] = h[(h > 0) & (h >= KEY_ACCOUNT_HEADROOM_SHARE * value.clip(lower=0))]
    counts = _payment_counts(monthly, as_of).reindex(base.index).fillna(0)
    second = (counts["total"] == 2) & (counts["this_month"] >= 1)
    first = (counts["total"] == 1) & (counts["this_month"] == 1)
    found["satisfaction_check"], found["thank_you"] = value[second], value[first]
    return found


def contact_list(as_of: dt.date | str, tiers: pd.DataFrame, stages: pd.DataFrame, monthly: pd.DataFrame, *,
                 window_value: pd.Series, erosion: pd.DataFrame | None = None, targets: pd.DataFrame | None = None,
                 peer_headroom: pd.Series | None = None) -> pd.DataFrame:
    """One row per customer needing a contact: ``customer_id, action, reason, due_by, tier, stage, value_at_stake``.

    Parameters
    ----------
    as_of : the cut-off (last day of calibration).
    tiers : ``customer_id, tier``; stages : ``customer_id, stage`` (:func:`relationship_stages`).
    monthly : the customer x month table up to as_of (``payments`` counts purchases).
    window_value : customer_id -> the criterion over the window.
    erosion, targets : :func:`margin_erosion` and :func:`good_targets` results (optional).
    peer_headroom : customer_id -> peer headroom (optional; from the potential work).

    Sorted by the action's priority, then value_at_stake (largest first), then customer_id.
    """
    as_of = pd.Timestamp(as_of).date()
    base = tiers.assign(customer_id=tiers["customer_id"].astype(str)).set_index("customer_id")[["tier"]]
    base["stage"] = stages.set_index(stages["customer_id"].astype(str))["stage"].reindex(base.index)
    wv = window_value.copy()
    wv.index = wv.index.astype(str)
    base["window_value"] = wv.reindex(base.index).fillna(0.0).astype(float)
    found = _candidates(base, monthly, as_of, erosion, targets, peer_headroom)
    rows = []
    for cid in base.index[np.isin(base.index, np.concatenate([s.index.to_numpy() for s in found.values()]))]:
        applies = [a for a in ACTIONS if a in found and cid in found[a].index]
        action = applies[0]
        reason = _REASONS[action].format(tier=base.at[cid, "tier"])
        if len(applies) > 1:
            reason += "; also: " + ", ".join(applies[1:])
        rows.append((cid, action, reason, (as_of + dt.timedelta(days=DUE_DAYS[action])).isoformat(),
                     base.at[cid, "tier"], base.at[cid, "stage"], round(float(found[action][cid]), 6)))
    out = pd.DataFrame(rows, columns=ACTION_COLUMNS)
    out["_p"] = out["action"].map({a: i for i, a in enumerate(ACTIONS)})
    out = out.sort_values(["_p", "value_at_stake", "customer_id"], ascending=[True, False, True], kind="stable")
    return out.drop(columns="_p").reset_index(drop=True)
