"""The tier policy: what the company invests in each tier, what it can serve, and what earns the tier.

A policy is optional in ``reports.yml`` (key ``policy``: a mapping tier -> settings). Each tier may
give:

``investment``
    Free text, e.g. "dedicated account manager, quarterly review".
``relationship``
    The kind of relationship the tier gets, one of :data:`RELATIONSHIP_TYPES`.
``discount_pct``
    Discount granted on the tier's revenue, in percent (0 to 100).
``payment_terms_days``
    Payment terms in days (a whole number, 0 or more).
``cost_to_serve_per_month``
    Cost of serving one customer of the tier for one month, in the run's currency (0 or more).
``customers_per_manager`` and ``managers``
    Capacity as account managers times customers each can serve (give both), or
``max_customers``
    the capacity as one number. Without either the tier has no capacity limit.
``target`` and ``target_threshold``
    The target that earns the tier, as text and as a value of the run's criterion per month.

Unknown tiers, unknown keys and out-of-range numbers raise :class:`~segkit.errors.ConfigError`.

Example
-------
>>> p = Policy.from_mapping({"VIP": {"discount_pct": 5, "cost_to_serve_per_month": 40,
...                                   "relationship": "dedicated account manager",
...                                   "customers_per_manager": 25, "managers": 2}})
>>> p["VIP"].capacity, p["GOOD"].discount_pct
(50, 0.0)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import yaml

from .errors import ConfigError

__all__ = ["TierPolicy", "Policy", "RELATIONSHIP_TYPES", "POLICY_TIERS", "DEFAULT_POLICY_YAML", "default_policy"]

#: tiers a policy may describe (the percentile tiers' labels)
POLICY_TIERS = ("VIP", "GOOD", "REGULAR", "INACTIVE")

#: relationship types, from the business-model literature's customer-relationship categories
RELATIONSHIP_TYPES = ("transactional", "self-service", "automated service", "personal assistance",
                      "dedicated personal assistance", "dedicated account manager", "community", "co-creation")

#: a documented example for the bundled runs (money in the run's currency per customer and month)
DEFAULT_POLICY_YAML = """\
policy:
  VIP:
    investment: dedicated account manager, priority delivery, quarterly business review
    relationship: dedicated account manager
    discount_pct: 5
    payment_terms_days: 60
    cost_to_serve_per_month: 40
    customers_per_manager: 40
    managers: 2
    target: top 20% of the month's paying customers by the criterion
  GOOD:
    investment: named contact in inside sales, volume discount
    relationship: personal assistance
    discount_pct: 2
    payment_terms_days: 30
    cost_to_serve_per_month: 8
    target: next 20% of the month's paying customers
  REGULAR:
    investment: web shop and newsletter
    relationship: self-service
    payment_terms_days: 14
    cost_to_serve_per_month: 1
  INACTIVE:
    investment: win-back mailing twice a year
    relationship: automated service
"""

_NUMBERS = ("discount_pct", "cost_to_serve_per_month", "target_threshold")
_COUNTS = ("payment_terms_days", "customers_per_manager", "managers", "max_customers")


@dataclasses.dataclass(frozen=True)
class TierPolicy:
    """What one tier gets and costs; see the module docstring for the keys."""

    tier: str
    investment: str = ""
    relationship: str = "transactional"
    discount_pct: float = 0.0
    payment_terms_days: int = 0
    cost_to_serve_per_month: float = 0.0
    customers_per_manager: int | None = None
    managers: int | None = None
    max_customers: int | None = None
    target: str = ""
    target_threshold: float | None = None

    @property
    def capacity(self) -> int | None:
        """Customers the tier's treatment can serve (None: no limit given)."""
        if self.max_customers is not None:
            return self.max_customers
        if self.customers_per_manager is not None and self.managers is not None:
            return self.customers_per_manager * self.managers
        return None


def _number(value: Any, key: str, where: str, *, hi: float | None = None) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (hi is not None and value > hi):
        span = f"from 0 to {hi:g}" if hi is not None else "0 or more"
        raise ConfigError(f"{key} must be a number {span}, got {value!r}", where=f"{where}, key {key!r}",
                          fix=f"write e.g. `{key}: 5`")
    return float(value)


def _count(value: Any, key: str, where: str) -> int:
    positive = key != "payment_terms_days"
    ok = isinstance(value, int) and not isinstance(value, bool) and (value > 0 if positive else value >= 0)
    if not ok:
        kind = "a positive whole number" if positive else "a whole number, 0 or more"
        raise ConfigError(f"{key} must be {kind}, got {value!r}", where=f"{where}, key {key!r}",
                          fix=f"write e.g. `{key}: {30 if positive else 0}`")
    return value


def _tier_policy(tier: str, raw: Any, where: str) -> TierPolicy:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"the policy of {tier} must be a mapping of settings", where=where,
                          fix="write e.g. `VIP: {discount_pct: 5, cost_to_serve_per_month: 40}`")
    keys = [f.name for f in dataclasses.fields(TierPolicy) if f.name != "tier"]
    unknown = sorted(set(map(str, raw)) - set(keys))
    if unknown:
        raise ConfigError(f"unknown policy key(s) {', '.join(map(repr, unknown))}", where=where,
                          fix=f"use only: {', '.join(keys)}")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None:
            continue
        if key in _NUMBERS:
            values[key] = _number(value, key, where, hi=100.0 if key == "discount_pct" else None)
        elif key in _COUNTS:
            values[key] = _count(value, key, where)
        elif not isinstance(value, str):
            raise ConfigError(f"{key} must be text, got {value!r}", where=f"{where}, key {key!r}",
                              fix="quote the text")
        else:
            values[key] = value.strip()
    if "relationship" in values and values["relationship"] not in RELATIONSHIP_TYPES:
        raise ConfigError(f"unknown relationship type {values['relationship']!r}", where=f"{where}, key 'relationship'",
                          fix=f"use one of: {', '.join(RELATIONSHIP_TYPES)}")
    if ("customers_per_manager" in values) != ("managers" in values):
        raise ConfigError("capacity needs both customers_per_manager and managers", where=where,
                          fix="give both (e.g. 40 and 2), or give max_customers instead")
    if "max_customers" in values and "managers" in values:
        raise ConfigError("give the capacity once: max_customers or customers_per_manager x managers",
                          where=where, fix="remove one of them")
    return TierPolicy(tier=tier, **values)


@dataclasses.dataclass(frozen=True)
class Policy:
    """Tier -> :class:`TierPolicy`; a tier the config leaves out gets no investment and no cost."""

    tiers: Mapping[str, TierPolicy]

    @classmethod
    def from_mapping(cls, mapping: Any, *, where: str = "policy") -> "Policy":
        """Validate ``mapping`` (the ``policy`` value of a run); raises :class:`ConfigError`.

        >>> Policy.from_mapping({"VIP": {"discount_pct": 120}})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        segkit.errors.ConfigError: discount_pct must be a number from 0 to 100, got 120. Where: policy, tier 'VIP', ...
        """
        if mapping is None:
            mapping = {}
        if not isinstance(mapping, Mapping):
            raise ConfigError("`policy` must map tiers to their settings", where=where,
                              fix="write `policy:` followed by `VIP: {...}`, `GOOD: {...}` (see README)")
        unknown = sorted(str(t) for t in mapping if t not in POLICY_TIERS)
        if unknown:
            raise ConfigError(f"unknown tier(s) {', '.join(map(repr, unknown))} in the policy", where=where,
                              fix=f"use the tiers {', '.join(POLICY_TIERS)}")
        tiers = {t: _tier_policy(t, mapping.get(t), f"{where}, tier {t!r}") if t in mapping else TierPolicy(t)
                 for t in POLICY_TIERS}
        return cls(tiers=tiers)

    def __getitem__(self, tier: str) -> TierPolicy:
        return self.tiers.get(tier) or TierPolicy(tier)

    def table(self) -> "Any":
        """One row per tier with every setting and the capacity (a pandas DataFrame)."""
        import pandas as pd

        rows = [{**dataclasses.asdict(p), "capacity": p.capacity} for p in self.tiers.values()]
        return pd.DataFrame(rows)


def default_policy() -> Policy:
    """The documented example policy (:data:`DEFAULT_POLICY_YAML`).

    >>> default_policy()["VIP"].capacity
    80
    """
    return Policy.from_mapping(yaml.safe_load(DEFAULT_POLICY_YAML)["policy"], where="default policy")
