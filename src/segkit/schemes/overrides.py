"""Human exceptions: strategic or reference customers placed in a tier by hand, with a reason.

The overrides file is a CSV with the columns ``customer_id, tier, reason``. Every placement must
name a customer and a known tier and give a reason; anything else is reported (never silently
ignored). The result keeps the computed tier next to the manual one.

A placement may name a customer who has not bought yet (no purchase in calibration): a *prospect*,
e.g. a market leader worth a reference. It is kept and marked (``prospect`` True): it appears in
``assignments.csv`` with empty scheme columns and the override as its recommended segment, and in
the report's key-account list. Because nothing else explains a prospect's place, its reason is
required like every other (an empty reason is refused, naming the line and that it is a prospect).

Example
-------
>>> import pandas as pd
>>> table = pd.DataFrame({"customer_id": ["a", "b"], "segment": ["GOOD", "REGULAR"], "rank": [2, 3]})
>>> ov = pd.DataFrame({"customer_id": ["b"], "tier": ["VIP"], "reason": ["market leader"]})
>>> apply_overrides(table, ov)["tier"].tolist()
['GOOD', 'VIP']
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..engines import text_categories, text_sorted
from ..errors import OverridesError
from .tiers import TIERS

__all__ = ["load_overrides", "apply_overrides", "OVERRIDE_COLUMNS", "PROSPECT_NOTE"]

OVERRIDE_COLUMNS = ("customer_id", "tier", "reason")
#: how reports mark a customer placed by hand who has not bought yet
PROSPECT_NOTE = "prospect (no purchase yet)"


def load_overrides(path: str | Path, known_customers: pd.Series | list[str] | None = None,
                   tiers: tuple[str, ...] | list[str] = tuple(TIERS), allow_prospects: bool = True) -> pd.DataFrame:
    """Read and check an overrides CSV; returns ``customer_id, tier, reason, prospect`` (tiers upper-case).

    ``prospect`` is True for ids not among ``known_customers`` (False for all when it is None);
    with ``allow_prospects=False`` such ids are refused instead.
    """
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise OverridesError(f"the overrides file {where!r} does not exist", where=where,
                             fix="check the `overrides:` path (relative to the config file)")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise OverridesError(f"the overrides file cannot be read ({str(exc).splitlines()[0]})", where=where,
                             fix="save it as a UTF-8 CSV with the header customer_id,tier,reason") from exc
    frame.columns = [c.strip().lower() for c in frame.columns]
    missing = [c for c in OVERRIDE_COLUMNS if c not in frame.columns]
    if missing:
        raise OverridesError(f"the overrides file lacks the column(s) {', '.join(missing)}",
                             where=f"{where}; its columns are {', '.join(frame.columns)}",
                             fix="use the header customer_id,tier,reason")
    frame = frame[list(OVERRIDE_COLUMNS)].apply(lambda s: s.str.strip())
    frame["tier"] = frame["tier"].str.upper()
    problems = []
    line = frame.index + 2  # header is line 1
    known = set(pd.Series(known_customers, dtype=str)) if known_customers is not None else None
    frame["prospect"] = (~frame["customer_id"].isin(known) & (frame["customer_id"] != "")) if known is not None \
        else False
    for col in OVERRIDE_COLUMNS:
        empty = frame[col] == ""
        if empty.any():
            lines = ", ".join(f"{n}" + (" (a prospect: a customer without purchases)" if p and col == "reason" else "")
                              for n, p in zip(line[empty][:10], frame.loc[empty, "prospect"][:10]))
            problems.append(f"empty {col} on line(s) {lines}")
    bad_tier = ~frame["tier"].isin(tiers) & (frame["tier"] != "")
    if bad_tier.any():
        problems.append("unknown tier(s) " + ", ".join(f"{t!r} (line {n})" for t, n in
                                                     zip(frame.loc[bad_tier, "tier"][:10], line[bad_tier][:10]))
                        + f"; allowed: {', '.join(tiers)}")
    dup = frame["customer_id"].duplicated(keep=False) & (frame["customer_id"] != "")
    if dup.any():
        problems.append("customer(s) listed twice: " + ", ".join(sorted(set(frame.loc[dup, "customer_id"]))[:10]))
    if known is not None and not allow_prospects:
        unknown = frame["prospect"]
        if unknown.any():
            problems.append("customer id(s) not among the customers with a purchase in calibration: "
                            + ", ".join(f"{c!r} (line {n})" for c, n in
                                        zip(frame.loc[unknown, "customer_id"][:10], line[unknown][:10])))
    if problems:
        raise OverridesError("the overrides file has " + "; ".join(problems), where=where,
                             fix="correct those lines (ids are compared as text: keep leading zeros)")
    return frame.sort_values("customer_id", kind="stable").reset_index(drop=True)


def apply_overrides(table: pd.DataFrame, overrides: pd.DataFrame) -> pd.DataFrame:
    """Computed and manual tier side by side.

    Columns ``customer_id, computed_tier, override_tier, override_reason, tier, prospect``: one row
    per customer of ``table``, plus one per prospect (an override for a customer not in ``table``;
    its computed tier is empty). ``tier`` (the override, else the computed tier) is pandas categories
    of the tiers' text (``.astype(str)``: the text).
    """
    out = table[["customer_id", "segment"]].rename(columns={"segment": "computed_tier"})
    if len(overrides) == 0 and text_sorted(out["customer_id"]):
        # nothing placed by hand (the usual run): the table's own columns, no outer join of every id
        # (which copied the ids and the tiers, and made the tier one Python string per customer)
        out = out.reset_index(drop=True)
        # both empty columns share one buffer (copy-on-write: a write to one copies it), 8 bytes per customer
        empty = pd.Series(np.full(len(out), np.nan, dtype=object), dtype=object)
        return out.assign(override_tier=empty, override_reason=empty, prospect=np.zeros(len(out), dtype=bool),
                          tier=text_categories(out["computed_tier"]))
    ov = overrides.rename(columns={"tier": "override_tier", "reason": "override_reason"})
    out = out.merge(ov[["customer_id", "override_tier", "override_reason"]], on="customer_id", how="outer")
    out["prospect"] = out["computed_tier"].isna()
    # categories of the tiers' text, as the computed tiers are (one byte per customer, not its text):
    # the computed tiers' codes, the overrides set over them
    tier = text_categories(out["computed_tier"])
    placed = out["override_tier"].notna().to_numpy()
    values = out.loc[placed, "override_tier"].astype(str).to_numpy(object)
    tier = tier.add_categories(sorted(set(values) - set(tier.categories)))
    tier[placed] = values
    out["tier"] = text_categories(tier)
    return out.sort_values("customer_id", kind="stable").reset_index(drop=True)
