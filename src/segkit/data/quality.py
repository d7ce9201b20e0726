"""The data-quality report: what loading and cleaning found and did, with rows, customers and money.

Example
-------
>>> q = QualityReport(source="tx.csv", rows_read=4, rows_used=3, dropped={"missing_customer_id": 1},
...                   detail={"missing_customer_id": {"customers": None, "net_amount": 25.0}},
...                   net_amount_read=100.0, net_amount_used=75.0)
>>> q.coverage()
0.75
>>> q.coverage_sentence()
'The analysis covers 75.0% of the net amount in the file; 25.0% was in rows without a customer id.'
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

__all__ = ["QualityReport", "LABELS"]

UNKNOWN = "unknown"
#: how each finding is named in the text, the frame and the HTML
LABELS = {
    "missing_customer_id": "Missing customer id",
    "missing_date": "Missing date",
    "unparseable_date": "Date that cannot be read",
    "unparseable_amount": "Amount that cannot be read (or empty)",
    "unparseable_quantity": "Quantity that cannot be read",
    "unparseable_cost": "Cost that cannot be read",
    "zero_amount": "Amount exactly 0",
    "duplicates_dropped": "Exact duplicate row (every column equal)",
    "filtered_out": "Outside the run's filter",
    "returns": "Return (amount < 0): lowers net revenue",
    "exact_duplicates": "Exact duplicate row (every column equal)",
    "same_customer_time_amount": "Same customer, time and amount (kept)",
    "future_dates": "Date after today",
}
#: where the money of dropped rows was, as the coverage sentence says it
_WHERE = {
    "missing_customer_id": "in rows without a customer id",
    "missing_date": "in rows without a date",
    "unparseable_date": "in rows whose date cannot be read",
    "unparseable_quantity": "in rows whose quantity cannot be read",
    "unparseable_cost": "in rows whose cost cannot be read",
    "duplicates_dropped": "in exact duplicate rows dropped",
    "filtered_out": "outside the run's filter",
}


@dataclasses.dataclass
class QualityReport:
    """What loading and cleaning found and did, with counts, money and examples.

    ``dropped`` counts rows removed per reason (each row counted once, for its first reason);
    ``kept`` counts things noticed but kept (returns, exact duplicates, rows equal only in the
    mapped columns, future dates); ``rows_read == rows_used + sum(dropped.values())`` always holds.
    ``detail`` gives, per finding where it is known, the ``customers`` concerned and the
    ``net_amount`` in those rows (``None``: unknown, the amount itself cannot be read or the rows
    have no customer id). ``net_amount_read`` sums every readable amount in the file,
    ``net_amount_used`` the rows the analysis uses.
    """

    source: str
    rows_read: int = 0
    rows_used: int = 0
    customers: int = 0
    dropped: dict[str, int] = dataclasses.field(default_factory=dict)
    kept: dict[str, int] = dataclasses.field(default_factory=dict)
    unparseable: dict[str, int] = dataclasses.field(default_factory=dict)
    customers_nonpositive_net: int = 0
    examples: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    detected: dict[str, str] = dataclasses.field(default_factory=dict)
    first_date: str | None = None
    last_date: str | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)
    detail: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    net_amount_read: float | None = None
    net_amount_used: float | None = None

    @property
    def rows_dropped(self) -> int:
        return int(sum(self.dropped.values()))

    def share_of_net(self, amount: float | None) -> float | None:
        """``amount`` as a share of the file's net amount (None when either is unknown or the total is 0)."""
        if amount is None or not self.net_amount_read:
            return None
        return round(amount / self.net_amount_read, 6)

    def coverage(self) -> float | None:
        """The share of the file's net amount (readable amounts) that the analysis covers."""
        return self.share_of_net(self.net_amount_used)

    def money(self, key: str) -> tuple[Any, Any, Any]:
        """(customers, net amount, share of the file's net amount) of a finding; ``"unknown"`` where not known.

        Findings without money (future dates, returns) give empty strings: the frame's cells then
        show nothing, in a notebook table as in the text.
        """
        if key not in self.detail:
            return "", "", ""
        d = self.detail[key]
        net = d.get("net_amount")
        share = self.share_of_net(net)
        return (UNKNOWN if d.get("customers") is None else d["customers"], UNKNOWN if net is None else net,
                UNKNOWN if share is None else share)

    def coverage_sentence(self) -> str:
        """One plain sentence for the management report: how much of the money the analysis covers."""
        covered = self.coverage()
        if covered is None:
            return "The share of the file's net amount the analysis covers is unknown (the amounts sum to 0)."
        parts = [f"{share:.1%} {_WHERE[key]}" for key in self.dropped if key in _WHERE
                 if self.dropped[key] and isinstance(share := self.money(key)[2], float) and round(share, 3)]
        text = f"The analysis covers {covered:.1%} of the net amount in the file"
        text += ("; " + ", ".join(parts).replace(" ", " was ", 1)) if parts else ""
        unread = self.dropped.get("unparseable_amount", 0)
        if unread:
            text += (f"; {unread:,} dropped row{'s' if unread != 1 else ''} whose amount cannot be read "
                     f"{'are' if unread != 1 else 'is'} not counted")
        return text + "."

    def to_dict(self) -> dict[str, Any]:
        """The ``issues`` block of ``run.json``."""
        def detail(keys: dict[str, int]) -> dict[str, dict[str, Any]]:
            out = {}
            for key, rows in keys.items():
                customers, net, share = self.money(key)
                if key in self.detail:
                    out[key] = {"rows": rows, "customers": customers, "net_amount": net, "share_of_net_amount": share}
            return out

        return {
            "rows_read": self.rows_read,
            "rows_used": self.rows_used,
            "rows_dropped": self.rows_dropped,
            "customers": self.customers,
            "dropped": dict(self.dropped),
            "kept": dict(self.kept),
            "unparseable": dict(self.unparseable),
            "customers_nonpositive_net": self.customers_nonpositive_net,
            "first_date": self.first_date,
            "last_date": self.last_date,
            "detected": dict(self.detected),
            "examples": {k: list(v) for k, v in self.examples.items()},
            "warnings": list(self.warnings),
            "net_amount_read": self.net_amount_read,
            "net_amount_used": self.net_amount_used,
            "coverage": self.coverage(),
            "dropped_detail": detail(self.dropped),
            "kept_detail": detail(self.kept),
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per finding: what, rows, share of rows read, customers, net amount and its share, action, examples."""
        rows = []
        n = max(self.rows_read, 1)
        for action, findings in (("dropped", self.dropped), ("kept", self.kept)):
            for key, count in findings.items():
                rows.append((LABELS.get(key, key), count, count / n, *self.money(key), action,
                             "; ".join(self.examples.get(key, []))))
        rows.append(("Customers whose net revenue is <= 0", self.customers_nonpositive_net, None, "", "", "",
                     "kept (customers)", "; ".join(self.examples.get("customers_nonpositive_net", []))))
        frame = pd.DataFrame(rows, columns=["finding", "count", "share_of_rows", "customers", "net_amount",
                                            "share_of_net_amount", "action", "examples"])
        # numbers, "unknown" and blanks side by side: object columns, so counts stay integers
        for col, i in (("customers", 3), ("net_amount", 4), ("share_of_net_amount", 5)):
            frame[col] = pd.Series([r[i] for r in rows], dtype=object)
        return frame

    def __str__(self) -> str:
        covered = self.coverage()
        lines = [
            f"Data-quality report for {self.source}",
            f"  rows read        {self.rows_read:>12,}",
            f"  rows used        {self.rows_used:>12,}",
            f"  rows dropped     {self.rows_dropped:>12,}",
            f"  customers        {self.customers:>12,}",
            f"  dates            {self.first_date} .. {self.last_date}",
            f"  net amount read  {_amount(self.net_amount_read):>12}",
            f"  net amount used  {_amount(self.net_amount_used):>12}"
            + ("" if covered is None else f"  ({covered:.1%} of the net amount read)"),
        ]
        if self.detected:
            lines.append("  read as          " + ", ".join(f"{k}={v}" for k, v in self.detected.items()))
        lines.append("")
        frame = self.to_frame()
        width = max(len(s) for s in frame["finding"])
        lines.append(f"  {'finding':<{width}}  {'rows':>10}  {'% rows':>8}  {'customers':>9}  {'net amount':>14}  "
                     f"{'% amount':>8}  action")
        for row in frame.itertuples(index=False):
            share = "" if row.share_of_rows is None or pd.isna(row.share_of_rows) else f"{row.share_of_rows:8.3%}"
            lines.append(f"  {row.finding:<{width}}  {row.count:>10,}  {share:>8}  {_cell(row.customers):>9}  "
                         f"{_cell(row.net_amount, money=True):>14}  {_cell(row.share_of_net_amount, share=True):>8}  "
                         f"{row.action}")
            if row.count and row.examples:
                lines.append(f"  {'':<{width}}    e.g. {row.examples}")
        for w in self.warnings:
            lines.append(f"  warning: {w}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:  # pragma: no cover - notebook display
        return self.to_frame().to_html(index=False, na_rep="")


def _amount(value: float | None) -> str:
    return UNKNOWN if value is None else f"{value:,.2f}"


def _cell(value: Any, money: bool = False, share: bool = False) -> str:
    """A customers / amount / share cell of the text report: blank when not applicable."""
    if value is None or isinstance(value, str):
        return value or ""
    if share:
        return f"{value:.3%}"
    return f"{value:,.2f}" if money else f"{value:,}"
