"""Margin erosion among VIPs: the customers who squeeze terms until the profit goes.

Needs a cost column (margin = net revenue - net cost). For every customer that was VIP in any
window month:

- the window's months are split in halves: the first ``n // 2`` months and the last ``n // 2``
  (the middle month of an odd window is left out);
- margin % of a half = net margin / net revenue of that half x 100 (needs revenue > 0 in both);
- ``drop_pp`` = first-half margin % - second-half margin %, in percentage points; the customer is
  flagged when ``drop_pp`` exceeds :data:`EROSION_THRESHOLD_PP` (5 points);
- ``trend_pp_per_month`` — the least-squares slope of the monthly margin % over the window months
  with revenue > 0 (shown with the alert; it does not decide it);
- ``value_at_risk`` — the margin lost in the second half against the first half's rate:
  ``drop_pp / 100 x second-half revenue``.

:func:`erosion_alerts` shapes the flagged rows like ``alerts.csv``
(``customer_id, last_vip_month, last_payment, value_at_risk, rule, p_alive``) with
``rule = "margin_erosion"``.

Example
-------
>>> import pandas as pd
>>> m = pd.DataFrame({"customer_id": ["a"] * 4, "month": pd.to_datetime(["2024-03-01", "2024-04-01",
...     "2024-05-01", "2024-06-01"]), "revenue": [100.0] * 4, "margin": [30.0, 30.0, 20.0, 20.0],
...     "purchases": [1] * 4})
>>> mt = pd.DataFrame({"customer_id": ["a"], "month": ["2024-06"], "monthly_tier": ["VIP"]})
>>> e = margin_erosion(m, mt, window=["2024-03", "2024-04", "2024-05", "2024-06"])
>>> e[["drop_pp", "value_at_risk"]].values.tolist()
[[10.0, 20.0]]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ParameterError

__all__ = ["margin_erosion", "erosion_alerts", "EROSION_THRESHOLD_PP", "ALERT_COLUMNS"]

#: flag a VIP whose margin % fell by more than this many percentage points (first vs second half)
EROSION_THRESHOLD_PP = 5.0

ALERT_COLUMNS = ["customer_id", "last_vip_month", "last_payment", "value_at_risk", "rule", "p_alive"]
_COLUMNS = ["customer_id", "last_vip_month", "last_payment", "margin_pct_first", "margin_pct_second",
            "drop_pp", "trend_pp_per_month", "value_at_risk"]


def _slopes(monthly_pct: pd.DataFrame, customers: pd.Index) -> list[float]:
    """Least-squares slope of margin % against the month's position (percentage points per month) of
    each of ``customers``, rounded to 6 decimals; NaN with fewer than 2 months.

    One pass groups the rows (a scan per customer was quadratic in the flagged VIPs: 48 s of a
    100M-row run); each customer's months keep their order, so every fit sees the same numbers.
    """
    rows = monthly_pct[monthly_pct["customer_id"].isin(customers)]
    where = rows.groupby("customer_id", sort=False).indices
    pos, pct = rows["_pos"].to_numpy(float), rows["_pct"].to_numpy(float)
    nan = float("nan")
    return [round(float(np.polyfit(pos[i], pct[i], 1)[0]), 6) if len(i := where.get(c, ())) >= 2 else nan
            for c in customers]


def margin_erosion(monthly: pd.DataFrame, monthly_tiers: pd.DataFrame, window: list[str], *,
                   threshold_pp: float = EROSION_THRESHOLD_PP) -> pd.DataFrame:
    """VIPs whose margin % fell by more than ``threshold_pp`` points over the window.

    Parameters
    ----------
    monthly : customer x month table with ``customer_id, month, revenue, margin`` (and ``purchases``).
    monthly_tiers : ``customer_id, month ('YYYY-MM'), monthly_tier`` of the window months.
    window : the window's months as 'YYYY-MM', oldest first (at least 2).

    Returns the flagged customers with the columns of the module docstring, by value_at_risk.
    """
    if len(window) < 2:
        raise ParameterError("margin erosion needs a window of at least 2 months", where="window_months",
                             fix="use window_months of 2 or more")
    vips = monthly_tiers[monthly_tiers["monthly_tier"] == "VIP"]
    last_vip = vips.assign(customer_id=vips["customer_id"].astype(str)).groupby("customer_id")["month"].max()
    # the window's rows first, found by year and month as numbers: the text of every month of the
    # whole table (37M rows at 100M transactions) is not needed, only that of the rows kept
    month = pd.to_datetime(monthly["month"])
    in_window = (month.dt.year * 100 + month.dt.month).isin([int(y) * 100 + int(mo) for y, mo in
                                                              (w.rsplit("-", 1) for w in window)])
    keep = [c for c in ("customer_id", "month", "revenue", "margin", "purchases") if c in monthly.columns]
    m = monthly.loc[in_window.to_numpy(), keep]
    m = m.assign(customer_id=m["customer_id"].astype(str), _month=pd.to_datetime(m["month"]).dt.strftime("%Y-%m"))
    m = m[m["customer_id"].isin(last_vip.index) & m["_month"].isin(window)]
    pos = {month: i for i, month in enumerate(window)}
    half = len(window) // 2
    m = m.assign(_pos=m["_month"].map(pos))
    m["_half"] = np.where(m["_pos"] < half, "first", np.where(m["_pos"] >= len(window) - half, "second", "middle"))
    halves = m.pivot_table(index="customer_id", columns="_half", values=["revenue", "margin"], aggfunc="sum")
    out = pd.DataFrame(index=last_vip.index)
    for h in ("first", "second"):
        rev = halves.get(("revenue", h), pd.Series(dtype=float)).reindex(out.index)
        mar = halves.get(("margin", h), pd.Series(dtype=float)).reindex(out.index)
        out[f"margin_pct_{h}"] = (mar / rev.where(rev > 0) * 100).round(6)
        out[f"_rev_{h}"] = rev
    out["drop_pp"] = (out["margin_pct_first"] - out["margin_pct_second"]).round(6)
    out = out[out["drop_pp"] > threshold_pp]
    monthly_pct = m[m["revenue"] > 0].assign(_pct=lambda d: d["margin"] / d["revenue"] * 100)
    out["trend_pp_per_month"] = _slopes(monthly_pct, out.index)
    out["value_at_risk"] = (out["drop_pp"] / 100 * out["_rev_second"]).round(6)
    out["last_vip_month"] = last_vip.reindex(out.index)
    paid = m[m["purchases"] > 0] if "purchases" in m else m[m["revenue"] > 0]
    out["last_payment"] = paid.groupby("customer_id")["_month"].max().reindex(out.index)
    out = out.rename_axis("customer_id").reset_index()
    out = out.sort_values("customer_id", kind="stable").sort_values("value_at_risk", ascending=False, kind="stable")
    return out[_COLUMNS].reset_index(drop=True)


def erosion_alerts(erosion: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`margin_erosion` shaped like ``alerts.csv`` (``p_alive`` empty)."""
    out = erosion.reindex(columns=["customer_id", "last_vip_month", "last_payment", "value_at_risk"])
    return out.assign(rule="margin_erosion", p_alive=np.nan)[ALERT_COLUMNS]
