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
from . import display_names, formats
from .i18n import _, ngettext, segment_label
from .evaluate import SCHEME_NAMES

__all__ = ["STAGE_MEANING", "decisions_missing_markdown", "payback_table", "payback_markdown", "capacity_markdown",
           "capacity_queue_table", "targets_table", "erosion_table", "high_maintenance_table", "stage_table",
           "stages_by_tier", "stage_transitions_table", "stage_check_markdown", "actions_counts_table",
           "actions_table", "tier_mix_tables", "tier_mix_heading"]

_ACTION_NAMES = display_names.ACTIONS


def _money(x: float, currency: str | None) -> str:
    """A whole amount in the reader's language (no short thousands: these are per-customer sums)."""
    return formats.money(x, currency, compact_from=float("inf"))


def _n(x: Any, digits: int = 0) -> str:
    return formats.number(x, digits)


def _stage_meaning() -> dict[str, str]:
    """Each stage's rule in words, built from :mod:`segkit.decisions.stages`' thresholds."""
    return {
        "exploration": _("one purchase month so far, less than {months} months ago").format(
            months=st.EXPLORATION_MONTHS),
        "awareness": _("repeat purchases have started; the relationship is still young"),
        "expansion": _("spend of the last {months} months at least {ratio}x the {months} before, or more purchase "
                       "months than before").format(months=st.COMPARE_MONTHS, ratio=formats.factor(st.GROWTH_RATIO)),
        "commitment": _("steady, first purchase at least {tenure} months ago, purchases in {active}+ months").format(
            tenure=st.COMMITMENT_TENURE_MONTHS, active=st.COMMITMENT_MIN_ACTIVE),
        "dissolution": _("silent for {factor}x its usual gap (at least {months} months), spend down to a third of "
                         "before, or a single purchase that was never repeated").format(
            factor=formats.factor(st.QUIET_FACTOR), months=st.QUIET_MIN_MONTHS),
    }


class _StageMeaning(dict):
    """What each relationship stage means, in the active language (read when shown)."""

    def __getitem__(self, key: str) -> str:
        return _stage_meaning()[key]


#: what each relationship stage means (the rules of segkit.decisions.stages)
STAGE_MEANING = _StageMeaning(_stage_meaning())


def decisions_missing_markdown(a: Any) -> str:
    """What this run could not compute, and how to get it (empty when everything was computed)."""
    missing = a.decisions.missing
    return "" if not missing else _("**Not computed in this run:**") + "\n\n" + "\n".join(f"- {_(m)}"
                                                                                          for m in missing)


def payback_table(a: Any, which: str = "tiers") -> pd.DataFrame | None:
    """The payback table for the tiers (``which="tiers"``) or the recommended scheme, formatted."""
    d, cur = a.decisions, a.params.currency
    pay = d.payback if which == "tiers" else d.payback_recommended
    if pay is None:
        return None
    period, tier = _("Period"), _("Tier")
    out = pd.DataFrame({
        period: pay["period"].map({"window": _("window (before the cut-off)"), "holdout": _("holdout (after)")}),
        tier: pay["tier"].map(segment_label),
        _("Relationship"): pay["relationship"].map(lambda v: _(v) if isinstance(v, str) and v else v),
        _("Customers"): pay["customers"].map(_n),
        _("Revenue"): pay["revenue"].map(lambda x: _money(x, cur)),
        _("Margin"): pay["margin"].map(lambda x: _money(x, cur)),
        _("Policy cost (discount + service)"): pay["policy_cost"].map(lambda x: _money(x, cur)),
        _("Net contribution"): pay["net_contribution"].map(lambda x: _money(x, cur)),
        _("Revenue after policy"): pay["revenue_after_policy"].map(lambda x: _money(x, cur)),
    })
    return out.set_index([period, tier])


def payback_markdown(a: Any) -> str:
    """Does the VIP treatment pay for itself? One plain answer per period (or why it cannot be said)."""
    d, cur = a.decisions, a.params.currency
    if d.payback is None:
        return _("Without a `policy` segkit cannot say what the tiers cost: add one to the run (see the README).")
    lines = []
    for r in d.payback[d.payback["tier"] == "VIP"].itertuples():
        name = _("the window") if r.period == "window" else _("the holdout")
        if pd.isna(r.net_contribution):
            lines.append("- " + _("In {period} ({months} months) the {n} VIPs brought {revenue} of revenue for {cost} "
                                  "of policy cost; without costs in the data the margin, and so whether the treatment "
                                  "pays, is unknown.").format(period=name, months=r.months, n=_n(r.customers),
                                                              revenue=_money(r.revenue, cur),
                                                              cost=_money(r.policy_cost, cur)))
            continue
        verdict = _("pays for itself") if r.net_contribution > 0 else _("does **not** pay for itself")
        lines.append("- " + _("In {period} ({months} months) the VIP treatment {verdict}: {n} VIPs brought {margin} of "
                              "margin for {cost} of discount and service, a net contribution of **{net}**.").format(
            period=name, months=r.months, verdict=verdict, n=_n(r.customers), margin=_money(r.margin, cur),
            cost=_money(r.policy_cost, cur), net=_money(r.net_contribution, cur)))
    if d.payback_recommended is not None:
        rec = SCHEME_NAMES.get(a.recommendation.get("recommended"), a.recommendation.get("recommended"))
        how = (_("its segments are the tiers") if d.recommended_mapping == "by name" else
               _("its segments are read as tiers by rank: the best is treated as VIP, the next as GOOD, the third as "
                 "REGULAR, the rest as INACTIVE"))
        lines.append("\n" + _("The same policy applied to the recommended scheme ({name}) is in the second table; "
                              "{how}.").format(name=_(rec), how=how))
    return "\n".join(lines)


def capacity_markdown(a: Any) -> str:
    """By how many the VIPs outnumber what the policy can serve, or how many places are free."""
    c = a.decisions.capacity
    if c is None:
        return _("No policy, so no capacity to check.")
    if c.capacity is None:
        return _("The policy sets no capacity for VIPs ({n} VIPs).").format(n=_n(c.customers))
    if c.overflow:
        return _("**{n} VIPs** for **{places} places**: {over} more than the policy can serve. The VIPs beyond the "
                 "capacity, best first (the next to be served when a place frees up):").format(
            n=_n(c.customers), places=_n(c.capacity), over=_n(c.overflow))
    return _("{n} VIPs for {places} places: {free} free. The best GOOD customers are next in line:").format(
        n=_n(c.customers), places=_n(c.capacity), free=_n(c.free))


def capacity_queue_table(a: Any, n: int = 10) -> pd.DataFrame | None:
    c = a.decisions.capacity
    if c is None or c.queue.empty:
        return None
    q = c.queue.head(n)
    return pd.DataFrame({_("Customer"): q["customer_id"], _("Tier"): q["tier"].map(segment_label),
                         _("Rank"): q["rank"],
                         formats.unit(_("Window value"), a.params.currency): q["value"].map(_n),
                         _("Status"): q["status"].map(lambda v: _(v) if isinstance(v, str) else v)}
                        ).set_index(_("Customer"))


def targets_table(a: Any, n: int = 10) -> tuple[str, pd.DataFrame | None]:
    """GOOD customers nearest the VIP target: a sentence and the table."""
    t, cur = a.decisions.targets, a.params.currency
    if t.empty:
        return _("No VIP threshold in the latest window month, so no target to set."), None
    near = int(t["near_target"].sum())
    month = formats.month(t["month"].iloc[0])
    text = _("To be VIP next month a customer needs **{threshold}** ({criterion}) in the month (the lowest VIP value "
             "of {month}). ").format(threshold=_money(t["vip_threshold"].iloc[0], cur),
                                     criterion=_(a.params.criterion), month=month) + ngettext(
        "**{n} GOOD customer** is within {share} of it:", "**{n} GOOD customers** are within {share} of it:",
        near).format(n=_n(near), share=formats.pct(NEAR_TARGET_SHARE))
    top = t.head(n)
    table = pd.DataFrame({_("Customer"): top["customer_id"],
                          _("Value in {month}").format(month=month): top["last_value"].map(lambda x: _money(x, cur)),
                          _("Gap to VIP"): top["gap"].map(lambda x: _money(x, cur))}).set_index(_("Customer"))
    return text, table


def erosion_table(a: Any) -> tuple[str, pd.DataFrame | None]:
    e, cur = a.decisions.erosion, a.params.currency
    if e is None:
        return _("The data has no cost column, so margin erosion cannot be measured (map `cost`)."), None
    points = _n(EROSION_THRESHOLD_PP, 0)
    if e.empty:
        return _("No VIP's margin fell by more than {points} points between the two halves of the window.").format(
            points=points), None
    text = ngettext(
        "**{n} VIP** whose margin fell by more than {points} percentage points between the first and the second half "
        "of the window (in `alerts.csv` with rule `margin_erosion`):",
        "**{n} VIPs** whose margin fell by more than {points} percentage points between the first and the second half "
        "of the window (they are in `alerts.csv` with rule `margin_erosion`):", len(e)).format(n=_n(len(e)),
                                                                                              points=points)
    table = pd.DataFrame({_("Customer"): e["customer_id"],
                          _("Margin, first half"): e["margin_pct_first"].map(lambda v: formats.pct(v / 100, 1)),
                          _("Margin, second half"): e["margin_pct_second"].map(lambda v: formats.pct(v / 100, 1)),
                          _("Trend (points/month)"): e["trend_pp_per_month"].map(
                              lambda v: ("+" if v > 0 else "") + _n(v, 1)),
                          _("Margin lost"): e["value_at_risk"].map(lambda x: _money(x, cur))})
    return text, table.set_index(_("Customer"))


def high_maintenance_table(a: Any) -> tuple[str, pd.DataFrame | None]:
    h, cur = a.decisions.high_maintenance, a.params.currency
    if h.empty:
        return _("No low-revenue customer returned a large share of what it bought in the window."), None
    text = ngettext(
        "**{n} customer** brings little revenue (at most the median) but returned at least 20% of what it bought, in "
        "two or more return lines:",
        "**{n} customers** bring little revenue (at most the median) but returned at least 20% of what they bought, "
        "in two or more return lines:", len(h)).format(n=_n(len(h)))
    table = pd.DataFrame({_("Customer"): h["customer_id"], _("Purchase lines"): h["purchase_lines"],
                          _("Return lines"): h["return_lines"],
                          _("Bought"): h["gross_revenue"].map(lambda x: _money(x, cur)),
                          _("Returned"): h["returns_value"].map(lambda x: _money(x, cur)),
                          _("Share returned"): h["return_share"].map(formats.pct)})
    return text, table.set_index(_("Customer"))


def stage_table(a: Any) -> pd.DataFrame:
    """Customers per relationship stage at the cut-off, with what the stage means."""
    counts = a.lifecycle["stage"].value_counts().reindex(st.STAGES, fill_value=0)
    meaning = _stage_meaning()
    out = pd.DataFrame({_("Customers"): counts.map(_n).to_numpy(),
                        _("Share"): (counts / max(counts.sum(), 1)).map(formats.pct).to_numpy(),
                        _("Meaning"): [meaning[s] for s in st.STAGES]}, index=[segment_label(s) for s in st.STAGES])
    out.index.name = _("Stage")
    return out


def stages_by_tier(a: Any) -> pd.DataFrame:
    """Customers by percentile tier (rows) and relationship stage (columns)."""
    t = a.assignments
    out = pd.crosstab(t["percentile_tier"], t["lifecycle_stage"])
    tiers = [s for s in a.schemes["percentile_tiers"].segments_ if s in out.index]
    out = out.reindex(index=tiers, columns=st.STAGES, fill_value=0).rename(index=segment_label, columns=segment_label)
    out.index.name, out.columns.name = _("Tier"), None
    return out


def stage_transitions_table(a: Any) -> pd.DataFrame:
    out = a.decisions.transitions.copy().rename(index=segment_label, columns=segment_label)
    out = out.rename(index={"(new)": _("(new)")})
    out.index.name, out.columns.name = _("One month earlier ↓ / now →"), None
    return out


def stage_check_markdown(a: Any) -> tuple[str, pd.DataFrame]:
    """Does the holdout purchase rate fall along the stages? Stated plainly, with the table."""
    d = a.decisions
    t = d.stage_check
    order = " > ".join(segment_label(s) for s in t.loc[t["checked"], "stage"])
    if d.stages_ordered:
        text = _("The stages mean something: the share of customers buying after the cut-off falls in the expected "
                 "order ({order}).").format(order=order)
    else:
        ranked = t[t["checked"]].sort_values("purchase_rate", ascending=False)["stage"]
        text = _("The stages are **not** fully ordered on this data: expected {order}, measured {measured}. Read the "
                 "stages as descriptions, not as a forecast.").format(
            order=order, measured=" > ".join(segment_label(s) for s in ranked))
    table = pd.DataFrame({_("Stage"): t["stage"].map(segment_label), _("Customers"): t["customers"].map(_n),
                          _("Bought after the cut-off"): t["bought"].map(_n),
                          _("Purchase rate"): t["purchase_rate"].map(formats.pct),
                          _("In the check"): t["checked"].map({True: _("yes"), False: _("too few")})}
                         ).set_index(_("Stage"))
    small = " " + _("Stages with fewer than {n} customers are shown but not checked.").format(n=st.CHECK_MIN_CUSTOMERS)
    return text + small, table


def actions_counts_table(a: Any) -> pd.DataFrame:
    act, cur = a.decisions.actions, a.params.currency
    g = act.groupby("action", sort=False).agg(customers=("customer_id", "size"), due=("due_by", "first"),
                                              stake=("value_at_stake", "sum"))
    return pd.DataFrame({_("Action"): [_(_ACTION_NAMES[x]) if x in _ACTION_NAMES else x for x in g.index],
                         _("Customers"): g["customers"].to_numpy(),
                         _("Due by"): [formats.date(d) for d in g["due"]],
                         _("Value at stake"): g["stake"].map(lambda x: _money(x, cur)).to_numpy()}
                        ).set_index(_("Action"))


def _reason(text: str, tier: str) -> str:
    """actions.csv's English reason in the reader's language (the first reason, then "also: ...")."""
    first, _sep, also = str(text).partition("; also: ")
    generic = first.replace(str(tier), "{tier}", 1) if first.startswith(str(tier)) else first
    out = _(generic).format(tier=segment_label(tier)) if generic != first else _(first)
    if also:
        out += "; " + _("also") + ": " + ", ".join(_(_ACTION_NAMES[x]) if x in _ACTION_NAMES else x
                                                   for x in also.split(", "))
    return out


def actions_table(a: Any, per_action: int = 3) -> pd.DataFrame:
    """The first rows of each action (the list is sorted by urgency, then value at stake)."""
    act = a.decisions.actions.groupby("action", sort=False).head(per_action)
    return pd.DataFrame({_("Customer"): act["customer_id"],
                         _("Action"): act["action"].map(lambda x: _(_ACTION_NAMES[x]) if x in _ACTION_NAMES else x),
                         _("Reason"): [_reason(r, t) for r, t in zip(act["reason"], act["tier"])],
                         _("Due by"): act["due_by"].map(formats.date), _("Tier"): act["tier"].map(segment_label),
                         _("Stage"): act["stage"].map(segment_label),
                         _("Value at stake"): act["value_at_stake"].map(lambda x: _money(x, a.params.currency))}
                        ).set_index(_("Customer"))


def tier_mix_tables(a: Any) -> dict[str, pd.DataFrame]:
    """Per mapped attribute: customers and revenue share of each tier, one row per attribute value."""
    out = {}
    for attr, mix in a.decisions.tier_mix.items():
        cust = mix.pivot(index=attr, columns="tier", values="customer_share").fillna(0)
        rev = mix.pivot(index=attr, columns="tier", values="revenue_share").fillna(0)
        tiers = [t for t in ("VIP", "GOOD", "REGULAR", "INACTIVE") if t in cust.columns]
        table = pd.concat({_("Share of customers"): cust[tiers].rename(columns=segment_label),
                           _("Share of revenue"): rev[tiers].rename(columns=segment_label)}, axis=1)
        out[attr] = table.map(formats.pct)
    return out


def tier_mix_heading(attr: str) -> str:
    """The heading above one attribute's tier mix."""
    return "### " + _("By {attribute}").format(attribute=attr)
