"""Tiers by customer type: the tier mix and revenue per tier for each value of an attribute.

So an offer can fit the kind of customer (a small shop cannot take a truckload): for each value of
an attribute column (region, industry, size, ...), the customers and revenue of each tier, the
tier's share of that value's customers and of its revenue. Missing attribute values form their own
group ``(missing)``.

Example
-------
>>> import pandas as pd
>>> t = pd.DataFrame({"customer_id": list("abc"), "tier": ["VIP", "REGULAR", "VIP"],
...                   "revenue": [100.0, 10.0, 50.0], "size": ["large", "small", "small"]})
>>> tier_mix(t, "size")[["size", "tier", "customers", "customer_share"]].values.tolist()
[['large', 'VIP', 1, 1.0], ['small', 'VIP', 1, 0.5], ['small', 'REGULAR', 1, 0.5]]
"""

from __future__ import annotations

import pandas as pd

from ..errors import ParameterError

__all__ = ["tier_mix"]

_ORDER = ["VIP", "GOOD", "REGULAR", "INACTIVE"]


def tier_mix(table: pd.DataFrame, attribute: str) -> pd.DataFrame:
    """``attribute, tier, customers, customer_share, revenue, revenue_share`` per attribute value and tier.

    ``table``: one row per customer with ``customer_id, tier, revenue`` and the attribute column.
    """
    missing = {"customer_id", "tier", "revenue", attribute} - set(table.columns)
    if missing:
        raise ParameterError(f"the customer table lacks {sorted(missing)}", where="tier_mix",
                             fix="map the attribute column (`columns: {region: ...}`) and pass tier and revenue")
    t = table.assign(**{attribute: table[attribute].astype(object).where(table[attribute].notna(), "(missing)")
                        .astype(str)})
    out = t.groupby([attribute, "tier"]).agg(customers=("customer_id", "size"),
                                             revenue=("revenue", "sum")).reset_index()
    by_value = out.groupby(attribute)
    out["customer_share"] = (out["customers"] / by_value["customers"].transform("sum")).round(6)
    total = by_value["revenue"].transform("sum")
    out["revenue_share"] = (out["revenue"] / total.where(total != 0)).round(6)
    out["_rank"] = out["tier"].map({k: i for i, k in enumerate(_ORDER)}).fillna(len(_ORDER))
    out = out.sort_values([attribute, "_rank", "tier"], kind="stable")
    return out[[attribute, "tier", "customers", "customer_share", "revenue", "revenue_share"]].reset_index(drop=True)
