"""The decisions of one run: every table of this package computed from a finished analysis.

:func:`decide` is the one place a run calls (``segkit.pipeline.analyze`` stores its result as
``Analysis.decisions``); :func:`stage_labels` gives the relationship stage that
``assignments.csv`` carries in ``lifecycle_stage``, and :func:`alerts_file` and
:func:`with_tier_change` shape the exported files.

What a run computes without a policy or without a cost column:

- always: relationship stages (distribution, transitions from the previous cut-off one month
  earlier, the holdout check), ``tier_change``, GOOD customers' gap to the VIP target,
  high-maintenance customers, the contact list, the tier mix by attribute (when attributes are mapped);
- with a ``policy``: the payback table (tiers and recommended scheme) and the capacity check;
- with a ``cost`` column: margin, net contribution and margin erosion.

What was left out, and why, is listed in :attr:`Decisions.missing` (the report shows it).

The recommended scheme's segments are read as tiers when they are named like them (VIP, GOOD,
REGULAR, INACTIVE); otherwise by rank: the best segment is treated as VIP, the second as GOOD,
the third as REGULAR and every other as INACTIVE (:func:`segments_as_tiers`, said in the report).

Example
-------
>>> import pandas as pd
>>> t = pd.DataFrame({"customer_id": list("abc"), "segment": ["Champions", "Loyal", "Lost"], "rank": [1, 2, 3]})
>>> segments_as_tiers(t)[0]["tier"].tolist(), segments_as_tiers(t)[1]
(['VIP', 'GOOD', 'REGULAR'], 'by rank')
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from .actions import contact_list, tier_change
from .capacity import CapacityCheck, capacity_check, good_targets
from .erosion import ALERT_COLUMNS, erosion_alerts, margin_erosion
from .maintenance import high_maintenance
from .mix import tier_mix
from .payback import payback
from ..engines import lookup, lookup_text
from ..policy import POLICY_TIERS, Policy
from .stages import STAGES, relationship_stages, stage_check, stage_transitions, stages_of

__all__ = ["Decisions", "decide", "stage_labels", "earlier_stages", "alerts_file", "with_tier_change", "segments_as_tiers"]


@dataclasses.dataclass
class Decisions:
    """Every decision table of a run (None where it could not be computed; see ``missing``)."""

    policy: Policy | None
    stages: pd.DataFrame
    transitions: pd.DataFrame
    stage_check: pd.DataFrame
    stages_ordered: bool
    tier_change: pd.DataFrame
    payback: pd.DataFrame | None
    payback_recommended: pd.DataFrame | None
    recommended_mapping: str
    capacity: CapacityCheck | None
    targets: pd.DataFrame
    erosion: pd.DataFrame | None
    high_maintenance: pd.DataFrame
    actions: pd.DataFrame
    tier_mix: dict[str, pd.DataFrame]
    missing: list[str]


def stage_labels(monthly: pd.DataFrame | None, as_of: Any, customers: pd.Series, *,
                 per_customer: pd.DataFrame | None = None) -> pd.DataFrame:
    """Relationship stages with the stage also in ``lifecycle_stage`` (the assignments column).

    ``per_customer``: the customers' months already counted (:func:`segkit.decisions.stages.per_customer_frame`,
    in the engine); then ``monthly`` is not read."""
    stages = (stages_of(per_customer, customers) if per_customer is not None
              else relationship_stages(monthly, as_of, customers=customers))
    return stages.assign(lifecycle_stage=stages["stage"])


def earlier_stages(features: pd.DataFrame, earlier: Any, per_customer: pd.DataFrame) -> pd.DataFrame:
    """``customer_id, stage`` one month before the cut-off (``earlier``), from the customers' months
    counted at that date (:func:`segkit.decisions.stages.per_customer_frame`): the earlier side of
    the stage transitions. Every customer of ``features``, in its order and sharing its ids; the stage
    is categorical (one byte per customer) and missing for those who had not bought by then."""
    ids = features["customer_id"].reset_index(drop=True)
    known = (features["first_purchase"] <= pd.Timestamp(earlier)).to_numpy()
    codes = np.full(len(ids), -1, dtype=np.int8)
    # each stage's position in STAGES looked up in Arrow (a Categorical of the text hashed every customer's)
    codes[known] = lookup(pd.Series(np.arange(len(STAGES)), index=pd.Index(STAGES, dtype="str")),
                          stages_of(per_customer, ids[known])["stage"], -1)
    return pd.DataFrame({"customer_id": ids, "stage": pd.Categorical.from_codes(codes, categories=STAGES)})


def _known_by(features: pd.DataFrame, day: Any) -> pd.Series:
    """The customers who had bought by ``day`` (also before the loaded months: they are not new)."""
    return features["customer_id"][(features["first_purchase"] <= pd.Timestamp(day)).to_numpy()]


def segments_as_tiers(table: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """``customer_id, tier`` from a scheme's segment table, and how the segments were read.

    Named tiers are kept (``"by name"``); otherwise segments map by rank (``"by rank"``).
    """
    segment = table["segment"]
    if isinstance(segment.dtype, pd.CategoricalDtype):  # (a month-earlier refit's) read by its categories
        codes = segment.cat.codes.to_numpy()
        used = np.bincount(codes[codes >= 0], minlength=len(segment.cat.categories)) > 0
        present = {str(c) for c in segment.cat.categories[used]} | ({"nan"} if (codes < 0).any() else set())
        if present <= set(POLICY_TIERS):  # the tiers stay categories: no text of every customer's
            return pd.DataFrame({"customer_id": table["customer_id"].astype(str), "tier": segment.array}), "by name"
    labels = segment.astype(str)
    if set(pd.unique(labels)) <= set(POLICY_TIERS):  # the distinct labels (not a Python set of every row's)
        return pd.DataFrame({"customer_id": table["customer_id"].astype(str), "tier": labels}), "by name"
    ranks = sorted(table["rank"].unique())
    by_rank = {r: POLICY_TIERS[min(i, len(POLICY_TIERS) - 1)] for i, r in enumerate(ranks)}
    return pd.DataFrame({"customer_id": table["customer_id"].astype(str),
                         "tier": table["rank"].map(by_rank).to_numpy()}), "by rank"


def _payback_tables(a: Any, policy: Policy | None, has_cost: bool) -> tuple[Any, Any, str]:
    if policy is None:
        return None, None, ""
    months = len(a.split.window_months), len(a.split.holdout_month_starts)
    window = a.monthly[pd.to_datetime(a.monthly["month"]) >= pd.Timestamp(a.split.window_months[0])]

    def table(tiers: pd.DataFrame) -> pd.DataFrame:
        return payback(tiers, window, a.holdout_monthly, policy, window_months=months[0],
                       holdout_months=months[1], has_cost=has_cost)

    tiers, _ = segments_as_tiers(a.schemes["percentile_tiers"].segment_table())
    rec = a.recommendation.get("recommended")
    if rec is None or rec not in a.schemes:
        return table(tiers), None, ""
    rec_tiers, how = segments_as_tiers(a.schemes[rec].segment_table())
    return table(tiers), table(rec_tiers), how


def _first_purchase_actions_complete(actions: pd.DataFrame, features: pd.DataFrame,
                                     history_start: pd.Timestamp) -> pd.DataFrame:
    """Drop thank-you / satisfaction rows of customers whose first purchase predates the loaded months.

    The contact rules count payments in the loaded customer x month table; a customer who bought
    before it began is not on its first or second purchase.
    """
    first = pd.Series(features["first_purchase"].to_numpy(), index=pd.Index(features["customer_id"].astype(str)))
    old = pd.Series(lookup(first, actions["customer_id"].astype(str), pd.NaT), index=actions.index) < history_start
    return actions[~(actions["action"].isin(["thank_you", "satisfaction_check"]) & old)].reset_index(drop=True)


def _missing(policy: Policy | None, has_cost: bool, attributes: list[str]) -> list[str]:
    out = []
    if policy is None:
        out.append("no `policy` is set: what each tier gets and pays back, and the capacity check, "
                   "are not computed (add a `policy` to the run; see the README)")
    if not has_cost:
        out.append("the data has no cost column: margin, net contribution and margin erosion are not "
                   "computed (map `cost` in `columns`)")
    if not attributes:
        out.append("no customer attribute (region, industry, size) is mapped: tiers by customer type "
                   "are not shown")
    return out


def decide(a: Any, *, headroom: pd.DataFrame | None = None) -> Decisions:
    """Every decision table of the analysis ``a`` (a :class:`segkit.pipeline.Analysis`).

    ``headroom``: ``customer_id, peer_headroom`` rows to read the peer headroom from instead of
    ``a.assignments`` (the run decides before it makes its assignments); no ``peer_headroom`` column:
    none, as for assignments without it.
    """
    p, split = a.params, a.split
    policy = Policy.from_mapping(p.policy, where="policy") if p.policy is not None else None
    has_cost = "cost" in a.data.get("has", [])
    tiers_fit = a.schemes["percentile_tiers"]
    tiers, _ = segments_as_tiers(tiers_fit.segment_table())
    customers = a.features["customer_id"]
    stages = a.lifecycle[["customer_id", "stage"]]
    earlier = split.shifted(-1).as_of
    # computed with the per-customer tables (in the engine) when the run did; relationship_stages reads
    # the months up to `earlier` itself otherwise: no copy of the table's earlier rows here
    before = getattr(a, "stages_earlier", None)
    if before is None:
        before = relationship_stages(a.monthly, earlier, customers=_known_by(a.features, earlier))
    transitions = stage_transitions(before, stages)  # all they serve: let them go before the contact list
    del before
    check, ordered = stage_check(stages, a.outcomes.rename(columns={"holdout_bought": "bought"})
                                 if "bought" not in a.outcomes else a.outcomes)
    vip_target = policy["VIP"].target_threshold if policy is not None else None
    targets = good_targets(tiers_fit.monthly_tiers_, tiers, threshold=vip_target)
    erosion = margin_erosion(a.monthly, tiers_fit.monthly_tiers_, list(tiers_fit.window_)) if has_cost else None
    ids = customers.astype(str)  # each customer's window total looked up in Arrow (pandas' reindex hashes text)
    totals = tiers_fit.window_totals_
    window_value = pd.Series(lookup(totals, ids, np.nan), index=pd.Index(ids), name=totals.name).fillna(0.0)
    capacity = None
    if policy is not None:
        values = tiers.assign(value=tiers["customer_id"].map(window_value).fillna(0.0).to_numpy())
        capacity = capacity_check(values, policy["VIP"].capacity)
    headroom_of = _peer_headroom(a.assignments if headroom is None else headroom)
    actions = contact_list(split.as_of, tiers, stages, a.monthly, window_value=window_value, erosion=erosion,
                           targets=targets, peer_headroom=headroom_of, payments=getattr(a, "payment_counts", None))
    actions = _first_purchase_actions_complete(actions, a.features, pd.Timestamp(a.monthly["month"].min()))
    attributes = [c for c in p.columns if c in a.features.columns and c not in _NOT_ATTRIBUTES]
    mix = {}
    if attributes:  # the tier mix by attribute (a join of every customer's tier and revenue: only when shown)
        revenue = a.features[["customer_id", "monetary", *attributes]].rename(columns={"monetary": "revenue"})
        mix_input = tiers.merge(revenue.assign(customer_id=revenue["customer_id"].astype(str)), on="customer_id")
        mix = {c: tier_mix(mix_input, c) for c in attributes}
    pay, pay_rec, how = _payback_tables(a, policy, has_cost)
    previous, _ = segments_as_tiers(a.previous_tables["percentile_tiers"])  # read after the contact list's peak
    return Decisions(
        policy=policy, stages=a.lifecycle, transitions=transitions, stage_check=check,
        stages_ordered=ordered, tier_change=tier_change(tiers, previous), payback=pay, payback_recommended=pay_rec,
        recommended_mapping=how, capacity=capacity, targets=targets, erosion=erosion,
        high_maintenance=high_maintenance(a.returns) if getattr(a, "returns", None) is not None
        else pd.DataFrame(), actions=actions, tier_mix=mix,
        missing=_missing(policy, has_cost, attributes))


#: canonical column names, not customer attributes
_NOT_ATTRIBUTES = {"customer_id", "date", "amount", "quantity", "cost", "order_id"}


def _peer_headroom(rows: pd.DataFrame) -> pd.Series | None:
    """customer_id -> peer headroom when the rows (the assignments) carry it (the potential scheme), else None."""
    if "peer_headroom" not in rows:
        return None
    h = pd.to_numeric(rows["peer_headroom"], errors="coerce")
    # the missing values dropped by a numpy mask: Series.dropna looks a name up in the index of text ids,
    # which builds its hash table of one Python string per customer (0.27 GB at 3.37M customers)
    keep = h.notna().to_numpy()
    ids = rows["customer_id"].astype(str).array[keep]
    return pd.Series(h.to_numpy()[keep], index=pd.Index(ids, name="customer_id"))


def with_tier_change(assignments: pd.DataFrame, decisions: Decisions | None) -> pd.DataFrame:
    """``assignments`` with ``tier_change`` as the last column (empty without decisions)."""
    out = assignments.drop(columns="tier_change", errors="ignore")
    if decisions is None:
        return out.assign(tier_change="")
    change = decisions.tier_change.set_index("customer_id")["tier_change"]
    return out.assign(tier_change=lookup_text(change, out["customer_id"].astype(str), ""))

