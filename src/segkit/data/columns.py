"""Column mapping: canonical and attribute names to the source's columns, with suggestions.

Example
-------
>>> suggest("CustID", ["CustomerID", "date", "amount"], "customer_id")
'map it with --columns customer_id=CustomerID (or `columns: {customer_id: CustomerID}` in reports.yml)'
"""

from __future__ import annotations

import difflib
from typing import Any

import ibis.expr.types as ir

from ..config import CANONICAL_COLUMNS
from ..errors import DataError

__all__ = ["map_columns", "suggest"]


def map_columns(raw: ir.Table, columns: dict[str, str], filter: dict[str, Any], label: str) -> dict[str, str]:
    """canonical/attribute name -> raw column name, checked against the source's columns.

    Mapped names are matched exactly, then case-insensitively; unmapped canonical names and filter
    keys are looked up by their own name (case-insensitively).
    """
    available = list(raw.columns)
    by_lower = {c.strip().lower(): c for c in available}

    def missing(what: str, col: str, key: str) -> DataError:
        return DataError(what, where=f"{label}; its columns are {', '.join(map(repr, available[:30]))}",
                         fix=suggest(col, available, key))

    mapping: dict[str, str] = {}
    for key, col in columns.items():
        if col not in available:
            alt = by_lower.get(col.strip().lower())
            if alt is None and _joined_pairs(col):
                raise DataError(f"column {col!r} (mapped to {key!r}) is not in the file: it reads as several "
                                "KEY=COLUMN pairs joined by commas", where=label,
                                fix=f"separate the pairs with spaces: --columns {key}={' '.join(col.split(','))}")
            if alt is None:
                raise missing(f"column {col!r} (mapped to {key!r}) is not in the file", col, key)
            col = alt
        mapping[key] = col
    for key, required in CANONICAL_COLUMNS.items():
        if key in mapping:
            continue
        found = by_lower.get(key)
        if found is not None:
            mapping[key] = found
        elif required and len(available) == 1:
            raise DataError(
                f"the file was read as one column ({available[0][:60]!r}): its delimiter is not one segkit "
                "recognises (comma, semicolon, tab or pipe)",
                where=label, fix="export it with commas, semicolons or tabs between the columns",
            )
        elif required:
            raise missing(f"the file has no {key!r} column", key, key)
    for key in filter:
        if key not in mapping:
            found = by_lower.get(key.lower())
            if found is None:
                raise missing(f"the filter uses the column {key!r}, which is not in the file", key, key)
            mapping[key] = found
    return mapping


def _joined_pairs(col: str) -> bool:
    """Whether a mapped column name is really ``COLUMN,KEY=COLUMN,...`` (pairs given with commas)."""
    rest = col.split(",")[1:]
    return bool(rest) and all("=" in part and part.split("=", 1)[0].strip() for part in rest)


def suggest(col: str, available: list[str], key: str) -> str:
    """How to map ``key``: to the closest of ``available`` to ``col``, or to a placeholder."""
    close = difflib.get_close_matches(col.lower(), [a.lower() for a in available], n=1, cutoff=0.5)
    if close:
        actual = next(a for a in available if a.lower() == close[0])
        return f"map it with --columns {key}={actual} (or `columns: {{{key}: {actual}}}` in reports.yml)"
    return f"map it with --columns {key}=<column> (or `columns: {{{key}: <column>}}` in reports.yml)"
