"""From segments to decisions: the tier policy, what each tier pays back, and who to contact.

One module per concern, each a set of pure functions on the per-customer and customer x month
tables (:mod:`segkit.features`) and the percentile tiers' outputs:

- :mod:`.policy` — :class:`Policy` / :class:`TierPolicy`: investment, discount, terms, cost to
  serve, relationship type, capacity and target per tier (the ``policy`` key of a run);
- :mod:`.payback` — customers, revenue, margin, policy cost and net contribution per tier;
- :mod:`.capacity` — VIPs beyond what the policy can serve, and GOOD customers' gap to the VIP target;
- :mod:`.erosion` — VIPs whose margin % fell over the window (``rule = "margin_erosion"`` alerts);
- :mod:`.maintenance` — low-revenue customers with many returns;
- :mod:`.stages` — relationship stages (exploration ... dissolution), transitions and their check;
- :mod:`.actions` — the contact list (``actions.csv``) and ``tier_change``;
- :mod:`.mix` — tier mix and revenue by customer attribute.
"""

from .actions import ACTION_COLUMNS, ACTIONS, DUE_DAYS, contact_list, tier_change
from .capacity import CapacityCheck, capacity_check, good_targets
from .erosion import ALERT_COLUMNS, EROSION_THRESHOLD_PP, erosion_alerts, margin_erosion
from .maintenance import customer_returns, high_maintenance
from .mix import tier_mix
from .payback import PAYBACK_COLUMNS, payback
from ..policy import DEFAULT_POLICY_YAML, RELATIONSHIP_TYPES, Policy, TierPolicy, default_policy
from .stages import STAGE_ORDER, STAGES, relationship_stages, stage_check, stage_transitions

__all__ = [
    "ACTION_COLUMNS", "ACTIONS", "DUE_DAYS", "contact_list", "tier_change",
    "CapacityCheck", "capacity_check", "good_targets",
    "ALERT_COLUMNS", "EROSION_THRESHOLD_PP", "erosion_alerts", "margin_erosion",
    "customer_returns", "high_maintenance", "tier_mix", "PAYBACK_COLUMNS", "payback",
    "DEFAULT_POLICY_YAML", "RELATIONSHIP_TYPES", "Policy", "TierPolicy", "default_policy",
    "STAGE_ORDER", "STAGES", "relationship_stages", "stage_check", "stage_transitions",
]
