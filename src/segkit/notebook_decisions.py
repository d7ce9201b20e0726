"""The report's decisions section as text and tables (formatting only; the numbers come from
``Analysis.decisions``, :mod:`segkit.decisions.run`). Re-exported by :mod:`segkit.notebook`.

Every function takes the :class:`~segkit.pipeline.Analysis` and returns a Markdown string or a
DataFrame ready to display; when a table could not be computed the text says why.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .decisions import stages as st
from .decisions.capacity import NEAR_TARGET_SHARE
from .decisions.erosion import EROSION_THRESHOLD_PP
from . import formats
from .evaluate import SCHEME_NAMES

__all__ = ["STAGE_MEANING", "decisions_missing_markdown", "payback_table", "payback_markdown", "capacity_markdown",
           "capacity_queue_table", "targets_table", "erosion_table", "high_maintenance_table", "stage_table",
           "stages_by_tier", "stage_transitions_table", "stage_check_markdown", "actions_counts_table",
           "actions_table", "tier_mix_tables"]

_ACTION_NAMES = {"win_back_call": "Win-back call", "margin_review": "Margin review",
                 "promotion_talk": "Promotion talk", "key_account_approach": "Key-account approach",
                 "satisfaction_check": "Satisfaction check", "thank_you": "Thank-you"}


def _money(x: float, currency: str | None) -> str:
    """A whole amount in the reader's language (no short thousands: these are per-customer sums)."""
    return formats.money(x, currency, compact_from=float("inf"))


def _stage_meaning() -> dict[str, str]:
    """Each stage's rule in words, built from :mod:`segkit.decisions.stages`' thresholds."""
    return {
        "exploration": f"one purchase month so far, less than {st.EXPLORATION_MONTHS} months ago",
        "awareness": "repeat purchases have started; the relationship is still young",
        "expansion": f"spend of the last {st.COMPARE_MONTHS} months at least {st.GROWTH_RATIO:g}x the "
                     f"{st.COMPARE_MONTHS} before, or more purchase months than before",
        "commitment": f"steady, first purchase at least {st.COMMITMENT_TENURE_MONTHS} months ago, purchases in "
                      f"{st.COMMITMENT_MIN_ACTIVE}+ months",
        "dissolution": f"silent for {st.QUIET_FACTOR:g}x its usual gap (at least {st.QUIET_MIN_MONTHS} months), spend "
                       f"down to a third of before, or a single purchase that was never repeated",
    }


#: what each relationship stage means (the rules of segkit.decisions.stages)
STAGE_MEANING = _stage_meaning()


def decisions_missing_markdown(a: Any) -> str:
    """What this run could not compute, and how to get it (empty when everything was computed)."""
    missing = a.decisions.missing
    return "" if not missing else "**Not computed in this run:**\n\n" + "\n".join(f"- {m}" for m in missing)


def payback_table(a: Any, which: str = "tiers") -> pd.DataFrame | None:
    """The payback table for the tiers (``which="tiers"``) or the recommended scheme, formatted."""
    d, cur = a.decisions, a.params.currency
    pay = d.payback if which == "tiers" else d.payback_recommended
    if pay is None:
        return None
    out = pd.DataFrame({
        "Period": pay["period"].map({"window": "window (before the cut-off)", "holdout": "holdout (after)"}),
        "Tier": pay["tier"], "Relationship": pay["relationship"], "Customers": pay["customers"].map("{:,}".format),
        "Revenue": pay["revenue"].map(lambda x: _money(x, cur)), "Margin": pay["margin"].map(lambda x: _money(x, cur)),
        "Policy cost (discount + service)": pay["policy_cost"].map(lambda x: _money(x, cur)),
        "Net contribution": pay["net_contribution"].map(lambda x: _money(x, cur)),
        "Revenue after policy": pay["revenue_after_policy"].map(lambda x: _money(x, cur)),
    })
    return out.set_index(["Period", "Tier"])


def payback_markdown(a: Any) -> str:
    """Does the VIP treatment pay for itself? One plain answer per period (or why it cannot be said)."""
    d, cur = a.decisions, a.params.currency
    if d.payback is None:
        return "Without a `policy` segkit cannot say what the tiers cost: add one to the run (see the README)."
    lines = []
    for r in d.payback[d.payback["tier"] == "VIP"].itertuples():
        name = "the window" if r.period == "window" else "the holdout"
        if pd.isna(r.net_contribution):
            lines.append(f"- In {name} ({r.months} months) the {r.customers:,} VIPs brought {_money(r.revenue, cur)} "
                         f"of revenue for {_money(r.policy_cost, cur)} of policy cost; without costs in the data "
                         "the margin, and so whether the treatment pays, is unknown.")
            continue
        verdict = "pays for itself" if r.net_contribution > 0 else "does **not** pay for itself"
        lines.append(f"- In {name} ({r.months} months) the VIP treatment {verdict}: {r.customers:,} VIPs brought "
                     f"{_money(r.margin, cur)} of margin for {_money(r.policy_cost, cur)} of discount and service, "
                     f"a net contribution of **{_money(r.net_contribution, cur)}**.")
    if d.payback_recommended is not None:
        rec = SCHEME_NAMES.get(a.recommendation.get("recommended"), a.recommendation.get("recommended"))
        how = ("its segments are the tiers" if d.recommended_mapping == "by name" else
               "its segments are read as tiers by rank: the best is treated as VIP, the next as GOOD, the third as "
               "REGULAR, the rest as INACTIVE")
        lines.append(f"\nThe same policy applied to the recommended scheme ({rec}) is in the second table; {how}.")
    return "\n".join(lines)


def capacity_markdown(a: Any) -> str:
    """By how many the VIPs outnumber what the policy can serve, or how many places are free."""
    c = a.decisions.capacity
    if c is None:
        return "No policy, so no capacity to check."
    if c.capacity is None:
        return f"The policy sets no capacity for VIPs ({c.customers:,} VIPs)."
    if c.overflow:
        return (f"**{c.customers:,} VIPs** for **{c.capacity:,} places**: {c.overflow:,} more than the policy can "
                "serve. The VIPs beyond the capacity, best first (the next to be served when a place frees up):")
    return (f"{c.customers:,} VIPs for {c.capacity:,} places: {c.free:,} free. The best GOOD customers are next "
            "in line:")


def capacity_queue_table(a: Any, n: int = 10) -> pd.DataFrame | None:
    c = a.decisions.capacity
    if c is None or c.queue.empty:
        return None
    q = c.queue.head(n)
    return pd.DataFrame({"Customer": q["customer_id"], "Tier": q["tier"], "Rank": q["rank"],
                         f"Window value ({a.params.currency})": q["value"].map("{:,.0f}".format),
                         "Status": q["status"]}).set_index("Customer")


def targets_table(a: Any, n: int = 10) -> tuple[str, pd.DataFrame | None]:
    """GOOD customers nearest the VIP target: a sentence and the table."""
    t, cur = a.decisions.targets, a.params.currency
    if t.empty:
        return "No VIP threshold in the latest window month, so no target to set.", None
    near = int(t["near_target"].sum())
    text = (f"To be VIP next month a customer needs **{_money(t['vip_threshold'].iloc[0], cur)}** "
            f"({a.params.criterion}) in the month (the lowest VIP value of {t['month'].iloc[0]}). "
            f"**{near:,} GOOD customers** are within {NEAR_TARGET_SHARE:.0%} of it:")
    top = t.head(n)
    table = pd.DataFrame({"Customer": top["customer_id"], f"Value in {t['month'].iloc[0]}": top["last_value"].map(
        lambda x: _money(x, cur)), "Gap to VIP": top["gap"].map(lambda x: _money(x, cur))}).set_index("Customer")
    return text, table


def erosion_table(a: Any) -> tuple[str, pd.DataFrame | None]:
    e, cur = a.decisions.erosion, a.params.currency
    if e is None:
        return "The data has no cost column, so margin erosion cannot be measured (map `cost`).", None
    if e.empty:
        return (f"No VIP's margin fell by more than {EROSION_THRESHOLD_PP:g} points between the two halves of the "
                "window."), None
    text = (f"**{len(e):,} VIPs** whose margin fell by more than {EROSION_THRESHOLD_PP:g} percentage points between "
            "the first and the second half of the window (they are in `alerts.csv` with rule `margin_erosion`):")
    table = pd.DataFrame({"Customer": e["customer_id"],
                          "Margin, first half": e["margin_pct_first"].map("{:.1f}%".format),
                          "Margin, second half": e["margin_pct_second"].map("{:.1f}%".format),
                          "Trend (points/month)": e["trend_pp_per_month"].map("{:+.1f}".format),
                          "Margin lost": e["value_at_risk"].map(lambda x: _money(x, cur))})
    return text, table.set_index("Customer")


def high_maintenance_table(a: Any) -> tuple[str, pd.DataFrame | None]:
    h, cur = a.decisions.high_maintenance, a.params.currency
    if h.empty:
        return "No low-revenue customer returned a large share of what it bought in the window.", None
    text = (f"**{len(h):,} customers** bring little revenue (at most the median) but returned at least 20% of what "
            "they bought, in two or more return lines:")
    table = pd.DataFrame({"Customer": h["customer_id"], "Purchase lines": h["purchase_lines"],
                          "Return lines": h["return_lines"], "Bought": h["gross_revenue"].map(lambda x: _money(x, cur)),
                          "Returned": h["returns_value"].map(lambda x: _money(x, cur)),
                          "Share returned": h["return_share"].map("{:.0%}".format)})
    return text, table.set_index("Customer")


def stage_table(a: Any) -> pd.DataFrame:
    """Customers per relationship stage at the cut-off, with what the stage means."""
    counts = a.lifecycle["stage"].value_counts().reindex(st.STAGES, fill_value=0)
    out = pd.DataFrame({"Customers": counts, "Share": (counts / max(counts.sum(), 1)).map("{:.0%}".format),
                        "Meaning": [STAGE_MEANING[s] for s in st.STAGES]})
    out.index.name = "Stage"
    return out


def stages_by_tier(a: Any) -> pd.DataFrame:
    """Customers by percentile tier (rows) and relationship stage (columns)."""
    t = a.assignments
    out = pd.crosstab(t["percentile_tier"], t["lifecycle_stage"])
    tiers = [s for s in a.schemes["percentile_tiers"].segments_ if s in out.index]
    out = out.reindex(index=tiers, columns=st.STAGES, fill_value=0)
    out.index.name, out.columns.name = "Tier", None
    return out


def stage_transitions_table(a: Any) -> pd.DataFrame:
    out = a.decisions.transitions.copy()
    out.index.name, out.columns.name = "One month earlier ↓ / now →", None
    return out


def stage_check_markdown(a: Any) -> tuple[str, pd.DataFrame]:
    """Does the holdout purchase rate fall along the stages? Stated plainly, with the table."""
    d = a.decisions
    t = d.stage_check
    order = " > ".join(t.loc[t["checked"], "stage"])
    if d.stages_ordered:
        text = (f"The stages mean something: the share of customers buying after the cut-off falls in the expected "
                f"order ({order}).")
    else:
        ranked = t[t["checked"]].sort_values("purchase_rate", ascending=False)["stage"]
        text = (f"The stages are **not** fully ordered on this data: expected {order}, measured "
                f"{' > '.join(ranked)}. Read the stages as descriptions, not as a forecast.")
    table = pd.DataFrame({"Stage": t["stage"], "Customers": t["customers"].map("{:,}".format),
                          "Bought after the cut-off": t["bought"].map("{:,}".format),
                          "Purchase rate": t["purchase_rate"].map("{:.0%}".format),
                          "In the check": t["checked"].map({True: "yes", False: "too few"})}).set_index("Stage")
    small = f" Stages with fewer than {st.CHECK_MIN_CUSTOMERS} customers are shown but not checked."
    return text + small, table


def actions_counts_table(a: Any) -> pd.DataFrame:
    act, cur = a.decisions.actions, a.params.currency
    g = act.groupby("action", sort=False).agg(customers=("customer_id", "size"), due=("due_by", "first"),
                                              stake=("value_at_stake", "sum"))
    return pd.DataFrame({"Action": [_ACTION_NAMES.get(x, x) for x in g.index], "Customers": g["customers"].to_numpy(),
                         "Due by": g["due"].to_numpy(), "Value at stake": g["stake"].map(
                             lambda x: _money(x, cur)).to_numpy()}).set_index("Action")


def actions_table(a: Any, per_action: int = 3) -> pd.DataFrame:
    """The first rows of each action (the list is sorted by urgency, then value at stake)."""
    act = a.decisions.actions.groupby("action", sort=False).head(per_action)
    return pd.DataFrame({"Customer": act["customer_id"], "Action": act["action"].map(_ACTION_NAMES),
                         "Reason": act["reason"], "Due by": act["due_by"], "Tier": act["tier"], "Stage": act["stage"],
                         "Value at stake": act["value_at_stake"].map(lambda x: _money(x, a.params.currency))}
                        ).set_index("Customer")


def tier_mix_tables(a: Any) -> dict[str, pd.DataFrame]:
    """Per mapped attribute: customers and revenue share of each tier, one row per attribute value."""
    out = {}
    for attr, mix in a.decisions.tier_mix.items():
        cust = mix.pivot(index=attr, columns="tier", values="customer_share").fillna(0)
        rev = mix.pivot(index=attr, columns="tier", values="revenue_share").fillna(0)
        tiers = [t for t in ("VIP", "GOOD", "REGULAR", "INACTIVE") if t in cust.columns]
        table = pd.concat({"Share of customers": cust[tiers], "Share of revenue": rev[tiers]}, axis=1)
        out[attr] = table.map("{:.0%}".format)
    return out
