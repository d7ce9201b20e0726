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

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..engines import lookup, lookup_text, to_pandas

__all__ = ["contact_list", "payment_counts", "tier_change", "ACTIONS", "DUE_DAYS", "KEY_ACCOUNT_HEADROOM_SHARE", "ACTION_COLUMNS"]

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
    # each customer's previous tier as 1 (VIP), 0 (another) or -1 (not there, or no tier), looked up
    # by Arrow positions: no hash of the text ids nor a Python object per tier
    tier = previous["tier"]
    was = lookup(pd.Series(np.select([tier.isna().to_numpy(), (tier == "VIP").to_numpy()], [-1, 1], 0).astype(np.int8),
                           index=pd.Index(previous["customer_id"].astype(str))), out["customer_id"], -1)
    vip_now, vip_before = (tiers["tier"] == "VIP").to_numpy(), was == 1
    # each customer's change as a code, then its label (one shared text object per label, not a
    # fixed-width numpy string of every customer's: 148 MB at 3.37M customers)
    code = np.select([was < 0, vip_now & ~vip_before, vip_before & ~vip_now], [0, 1, 2], default=3)
    change = pd.array(np.array(["new", "entered VIP", "left VIP", "unchanged"], dtype=object)[code], dtype="str")
    return out.assign(tier_change=change).reset_index(drop=True)


def _payment_counts(monthly: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """``total`` payments up to ``as_of`` and ``this_month``'s (the cut-off's month) of the customers
    who paid in the cut-off's month: the only ones the first- and second-purchase rules can pick
    (both need a payment this month). The same sums as over every customer, without grouping the
    whole customer-month table by text id (at 3.37M customers the contact list's peak)."""
    cut = pd.Timestamp(as_of)
    month = pd.to_datetime(monthly["month"])
    paid = ((month <= cut) & (monthly["payments"] > 0)).to_numpy()
    in_month = paid & (month == pd.Timestamp(cut.year, cut.month, 1)).to_numpy()
    this_month = monthly["payments"][in_month].groupby(monthly["customer_id"][in_month].astype(str)).sum()
    rows = np.flatnonzero(paid)
    ids = monthly["customer_id"].iloc[rows].astype(str)
    theirs = _isin(pd.Index(ids), this_month.index)  # those customers' rows
    total = monthly["payments"].iloc[rows[theirs]].groupby(ids[theirs]).sum()  # the same row labels: aligned
    return pd.DataFrame({"total": total, "this_month": lookup(this_month, total.index, 0.0)}, index=total.index)


def payment_counts(monthly: ir.Table, as_of: dt.date) -> pd.DataFrame:
    """:func:`_payment_counts` counted in the engine: ``total`` and ``this_month`` payments of the
    customers who paid in the cut-off's month, from :func:`segkit.features.customer_month_table` (or
    any table with ``customer_id``, ``month``, ``payments``); only those customers come back. Indexed
    by customer_id (sorted). The same integers as the pandas count of the same months."""
    cut = ibis.literal(dt.date(as_of.year, as_of.month, 1), type="date")
    rows = monthly.select(customer_id=monthly.customer_id.cast("string"), month=monthly.month.cast("date"),
                          payments=monthly.payments.cast("int64"))
    rows = rows.filter(rows.month <= cut, rows.payments > 0, rows.customer_id.notnull())
    per = rows.group_by("customer_id").aggregate(total=rows.payments.sum(),
                                                 this_month=rows.payments.sum(where=rows.month == cut))
    frame = to_pandas(per.filter(per.this_month > 0).order_by("customer_id"))
    return pd.DataFrame({"total": frame["total"].to_numpy(np.int64), "this_month": frame["this_month"].to_numpy(np.int64)},
                        index=pd.Index(frame["customer_id"].astype(str), name="customer_id"))


def _candidates(base: pd.DataFrame, monthly: pd.DataFrame, as_of: dt.date, erosion: pd.DataFrame | None,
                targets: pd.DataFrame | None, peer_headroom: pd.Series | None,
                counted: pd.DataFrame | None = None) -> dict[str, pd.Series]:
    """action -> value_at_stake for the customers it applies to (index customer_id)."""
    value = base["window_value"]
    # masks as numpy: a boolean Series as the key makes pandas look a name up in the index of text ids,
    # which builds its hash table of one Python string per customer (0.25 GB at 3.37M, twice: the
    # contact list's peak); the masks are made on the same index, so nothing needs aligning
    lapsed = (base["tier"].isin(["VIP", "GOOD"]) & (base["stage"] == "dissolution")).to_numpy()
    found = {"win_back_call": value[lapsed]}
    if erosion is not None and not erosion.empty:
        found["margin_review"] = erosion.set_index(erosion["customer_id"].astype(str))["value_at_risk"]
    if targets is not None and not targets.empty:
        near = targets[targets["near_target"].astype(bool)]
        found["promotion_talk"] = near.set_index(near["customer_id"].astype(str))["gap"]
    if peer_headroom is not None:
        h = peer_headroom.copy()
        h.index = h.index.astype(str)
        h = pd.Series(lookup(h, base.index, np.nan), index=base.index, dtype=float)
        keyed = (h > 0) & (h >= KEY_ACCOUNT_HEADROOM_SHARE * value.clip(lower=0))
        found["key_account_approach"] = h[keyed.to_numpy()]
    counts = counted if counted is not None else _payment_counts(monthly, as_of)
    # both rules pick among the few customers who paid in the cut-off's month: their ids are chosen
    # there and found among every customer in Arrow, not every customer's counts looked up (two
    # columns of 3.37M customers at the contact list's peak); a customer without counts has none
    second = counts.index[((counts["total"] == 2) & (counts["this_month"] >= 1)).to_numpy()]
    first = counts.index[((counts["total"] == 1) & (counts["this_month"] == 1)).to_numpy()]
    found["satisfaction_check"], found["thank_you"] = value[_isin(base.index, second)], value[_isin(base.index, first)]
    return found


def _isin(ids: pd.Index, members: pd.Index) -> np.ndarray:
    """Which ``ids`` are among ``members``, decided in Arrow (numpy's ``isin`` on text compares every
    id with every member; pandas' builds a Python object per id)."""
    def text(values: pd.Index) -> pa.Array:
        return pa.array(values.astype(str), type=pa.large_string())  # Arrow-backed text: no copy

    found = pc.is_in(text(ids), value_set=text(members), skip_nulls=True)  # a missing id or member matches nothing
    return pc.fill_null(found, False).to_numpy(zero_copy_only=False)


def _first_actions(base: pd.DataFrame, found: dict[str, pd.Series], as_of: dt.date) -> pd.DataFrame:
    """One row per customer of ``base`` (index customer_id) that some action applies to: the first
    applicable action in :data:`ACTIONS` order, the others named in ``reason``.

    Membership is decided once per action over all customers (in Arrow, :func:`_isin`)
    and each distinct combination of actions and tier is worded once: a loop over customers with
    numpy's ``isin`` on text ids compared every candidate with every customer (hours at 3M customers).
    """
    names = [a for a in ACTIONS if a in found]
    if not names:
        return pd.DataFrame(columns=ACTION_COLUMNS)
    applies = np.column_stack([_isin(base.index, found[a].index) for a in names])
    rows = applies.any(axis=1)
    applies, chosen = applies[rows], base[rows]
    first = applies.argmax(axis=1)
    action = np.array(names, dtype=object)[first]
    stake = np.empty(len(chosen), dtype=float)
    for i, a in enumerate(names):  # each customer's stake under its first action
        at = first == i
        stake[at] = lookup(found[a], chosen.index[at], np.nan).astype(float)
    tiers = chosen["tier"].to_numpy(object)
    # a key per combination of applicable actions and tier: each combination is worded once
    tier_codes, tier_names = pd.factorize(pd.Series(tiers, dtype=object), use_na_sentinel=False)
    bits = applies.astype(np.int64) @ (np.int64(1) << np.arange(len(names), dtype=np.int64))
    keys, where = np.unique(bits * (len(tier_names) + 1) + tier_codes, return_inverse=True)
    worded = []
    for k in keys:  # at most a few dozen combinations
        row = [bool(int(k) // (len(tier_names) + 1) >> i & 1) for i in range(len(names))]
        a = names[row.index(True)]
        also = [n for n, on in zip(names, row) if on and n != a]
        worded.append(_REASONS[a].format(tier=tier_names[int(k) % (len(tier_names) + 1)])
                      + ("; also: " + ", ".join(also) if also else ""))
    due = {a: (as_of + dt.timedelta(days=DUE_DAYS[a])).isoformat() for a in names}
    return pd.DataFrame({"customer_id": chosen.index.to_numpy(object), "action": action,
                         "reason": np.array(worded, dtype=object)[where.ravel()] if len(chosen) else [],
                         "due_by": [due[a] for a in action],
                         "tier": tiers, "stage": chosen["stage"].to_numpy(object),
                         # Python's round, as the published files always had it (numpy's can differ by an ulp)
                         "value_at_stake": [round(float(v), 6) for v in stake]}, columns=ACTION_COLUMNS)


def contact_list(as_of: dt.date | str, tiers: pd.DataFrame, stages: pd.DataFrame, monthly: pd.DataFrame | None, *,
                 window_value: pd.Series, erosion: pd.DataFrame | None = None, targets: pd.DataFrame | None = None,
                 peer_headroom: pd.Series | None = None, payments: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per customer needing a contact: ``customer_id, action, reason, due_by, tier, stage, value_at_stake``.

    Parameters
    ----------
    as_of : the cut-off (last day of calibration).
    tiers : ``customer_id, tier``; stages : ``customer_id, stage`` (:func:`relationship_stages`).
    monthly : the customer x month table up to as_of (``payments`` counts purchases).
    window_value : customer_id -> the criterion over the window.
    erosion, targets : :func:`margin_erosion` and :func:`good_targets` results (optional).
    peer_headroom : customer_id -> peer headroom (optional; from the potential work).
    payments : :func:`payment_counts` of ``monthly`` (counted in the engine); then ``monthly`` is not read.

    Sorted by the action's priority, then value_at_stake (largest first), then customer_id.
    """
    as_of = pd.Timestamp(as_of).date()
    base = tiers.assign(customer_id=tiers["customer_id"].astype(str)).set_index("customer_id")[["tier"]]
    # looked up by Arrow positions (pandas' reindex hashes one Python object per text id), kept as Arrow
    # text (a numpy answer holds one Python string per customer: 0.2 GB at 3.37M, then converted again)
    base["stage"] = lookup_text(stages.set_index(stages["customer_id"].astype(str))["stage"], base.index, None)
    wv = window_value.copy()
    wv.index = wv.index.astype(str)
    base["window_value"] = np.nan_to_num(lookup(wv, base.index, np.nan).astype(float), nan=0.0, posinf=np.inf,
                                         neginf=-np.inf)
    found = _candidates(base, monthly, as_of, erosion, targets, peer_headroom, payments)
    out = _first_actions(base, found, as_of)
    out["_p"] = out["action"].map({a: i for i, a in enumerate(ACTIONS)})
    out = out.sort_values(["_p", "value_at_stake", "customer_id"], ascending=[True, False, True], kind="stable")
    return out.drop(columns="_p").reset_index(drop=True)
