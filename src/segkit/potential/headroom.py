"""Headroom against similar customers: the "big firm that buys little" case.

A customer's *peer group* is the customers with the same values of the attribute columns
(industry, size, region, ...). When that group has fewer than ``min_peers`` customers, the last
attribute is dropped and the coarser group is used, and so on down to everyone. ``peer_headroom``
is the group's upper quartile of the criterion minus the customer's own value, at least 0: what a
good peer buys beyond what this customer buys.

Quartiles are the engine's continuous quantile (linear interpolation, as numpy's default) on
DuckDB; other engines may approximate them. Missing attribute values form their own group
``(missing)``.

Example
-------
>>> import ibis
>>> t = ibis.memtable({"customer_id": list("abcdef"), "industry": ["x"] * 4 + ["y"] * 2,
...                    "value": [1.0, 2.0, 3.0, 4.0, 10.0, 20.0]})
>>> h = peer_headroom(t, "value", ["industry"], min_peers=3).to_pandas().sort_values("customer_id")
>>> h[["customer_id", "peer_group", "peer_upper_quartile", "peer_headroom"]].to_dict("list")["peer_group"]
['industry=x', 'industry=x', 'industry=x', 'industry=x', 'everyone', 'everyone']
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from ..errors import ParameterError

__all__ = ["peer_headroom", "MIN_PEERS", "MISSING"]

#: a peer group needs at least this many customers; smaller groups fall back to coarser ones
#: (below ~20 customers an upper quartile rests on 5 values or fewer)
MIN_PEERS = 20
MISSING = "(missing)"


def _label(t: ir.Table, cols: Sequence[str]) -> ir.StringValue:
    if not cols:
        return ibis.literal("everyone")
    parts: list[ir.StringValue] = []
    for i, col in enumerate(cols):
        parts.append(ibis.literal(("" if i == 0 else ", ") + f"{col}="))
        parts.append(t[col])
    label = parts[0]
    for part in parts[1:]:
        label = label.concat(part)
    return label


def peer_headroom(table: ir.Table, value: str, attributes: Sequence[str], *, min_peers: int = MIN_PEERS,
                  quantile: float = 0.75, id_column: str = "customer_id") -> ir.Table:
    """``id_column, value, attributes…, peer_level, peer_group, peer_size, peer_upper_quartile, peer_headroom``.

    ``peer_level`` = how many attributes (from the left) defined the group used (0 = everyone).
    An Ibis expression: group sizes and quartiles are group-by aggregates joined back in the engine.
    """
    missing = [c for c in (id_column, value, *attributes) if c not in table.columns]
    if missing:
        raise ParameterError(f"peer headroom needs the column(s) {missing}", where="peer_headroom",
                             fix=f"map them in `columns`; the table has {list(table.columns)}")
    if min_peers < 1 or not 0 < quantile < 1:
        raise ParameterError(f"min_peers {min_peers} / quantile {quantile} out of range",
                             where="peer_headroom", fix="use min_peers >= 1 and 0 < quantile < 1")
    attrs = list(attributes)
    t = table.select(id_column, value, *[table[a].cast("string").fill_null(MISSING).name(a) for a in attrs])
    base = t
    v = base[value].cast("float64")
    levels = range(len(attrs), -1, -1)
    # Group-by + join rather than window aggregates: portable to engines without windows (Polars).
    for k in levels:
        stats = {f"_n{k}": v.count(), f"_q{k}": v.quantile(quantile)}
        if k:
            t = t.join(base.group_by(attrs[:k]).aggregate(**stats), attrs[:k])
        else:
            t = t.cross_join(base.aggregate(**stats))
    sizes = {k: t[f"_n{k}"] for k in levels}
    # The finest level whose group is big enough; level 0 (everyone) always qualifies.
    level = ibis.cases(*[(sizes[k] >= min_peers, k) for k in levels if k], else_=0)
    t = t.mutate(peer_level=level)

    def pick(prefix: str) -> ir.Value:
        return ibis.cases(*[(t.peer_level == k, t[f"{prefix}{k}"]) for k in levels])

    t = t.mutate(peer_group=ibis.cases(*[(t.peer_level == k, _label(t, attrs[:k])) for k in levels]),
                 peer_size=pick("_n").cast("int64"), peer_upper_quartile=pick("_q"))
    t = t.mutate(peer_headroom=ibis.greatest(t.peer_upper_quartile - t[value], 0.0))
    return t.drop(*[f"_{p}{k}" for p in "nq" for k in levels])
