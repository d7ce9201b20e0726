"""What a run publishes from the potential scheme: alerts.csv rows, the report's and notebook's tables.

Everything here works on small per-customer pandas frames the pipeline already holds (the
potential scheme's ``predictions_`` and ``headroom_``, the percentile tiers, the holdout).

**Which customers the model's alert rule covers.** The seed rule (``vip_dropout``) flags VIPs of
the percentile tiers who paid nothing in the last ``dropout_months``. The model's rule
(``p_alive``) looks at the customers the tiers call **VIP or GOOD** (the customers worth a call)
and flags those whose ``p_alive`` is below :data:`segkit.potential.ALERT_P_ALIVE` or whose silence
exceeds :data:`segkit.potential.ALERT_GAP_FACTOR` times their usual gap between purchases
(:func:`segkit.potential.dropout_alerts`). REGULAR customers are left out so the list stays short
enough to act on. ``value_at_risk`` is, for both rules, the customer's criterion value in the tier
window. A customer flagged by both rules has one row per rule.

Example
-------
>>> alerts = pd.DataFrame({"customer_id": ["a", "b", "c"], "rule": ["vip_dropout", "p_alive", "p_alive"],
...                        "value_at_risk": [10.0, 5.0, 7.0]})
>>> outcomes = pd.DataFrame({"customer_id": ["a", "b", "c"], "bought": [False, True, False],
...                          "holdout_revenue": [0.0, 3.0, 0.0]})
>>> alert_comparison(alerts, outcomes)[["rule", "flagged", "bought_nothing", "value_at_risk"]].to_dict("records")
[{'rule': 'vip_dropout', 'flagged': 1, 'bought_nothing': 1, 'value_at_risk': 10.0}, \
{'rule': 'p_alive', 'flagged': 2, 'bought_nothing': 1, 'value_at_risk': 12.0}]
"""

from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..engines import drop_memtables, lookup, to_pandas
from .alerts import dropout_alerts

__all__ = ["ALERT_COLUMNS", "RULES", "seed_alert_rows", "model_alert_rows", "alert_comparison",
           "holdout_by_frequency", "p_alive_matrix", "headroom_by_group", "key_account_candidates",
           "forecast_totals", "combine_alerts", "FREQUENCY_GROUPS"]

#: the columns of alerts.csv, in order
ALERT_COLUMNS = ["customer_id", "last_vip_month", "last_payment", "value_at_risk", "rule", "p_alive"]
#: rule names in the order alerts.csv lists them
RULES = ("vip_dropout", "p_alive", "margin_erosion")
#: repeat purchases in calibration, grouped for the calibration-vs-holdout table (last: "7+")
FREQUENCY_GROUPS = 7


def _isin(ids: pd.Series, members: pd.Index) -> np.ndarray:
    """Which text ``ids`` are among ``members``, decided in Arrow (pandas' ``isin`` on text and a
    Python set of millions of ids build a Python object per id)."""
    def text(values: pd.Series | pd.Index) -> pa.Array:
        return pa.array(values.astype(str), type=pa.large_string())  # Arrow-backed text: no copy

    found = pc.is_in(text(ids), value_set=text(members), skip_nulls=True)  # a missing id or member matches nothing
    return pc.fill_null(found, False).to_numpy(zero_copy_only=False)


def seed_alert_rows(seed: pd.DataFrame, predictions: pd.DataFrame | None) -> pd.DataFrame:
    """The tiers' VIP dropouts with ``rule = vip_dropout`` and the model's ``p_alive`` (empty without it)."""
    out = seed.assign(rule="vip_dropout")
    out["customer_id"] = out["customer_id"].astype(str)
    alive = predictions.set_index("customer_id")["p_alive"] if predictions is not None else pd.Series(dtype=float)
    # the flagged customers looked up among all of them in Arrow (pandas' map hashes every id)
    out["p_alive"] = np.asarray(lookup(alive, out["customer_id"], np.nan), dtype="float64")
    return out[ALERT_COLUMNS].reset_index(drop=True)


def model_alert_rows(predictions: pd.DataFrame, tier_labels: pd.Series, window_values: pd.Series,
                     monthly_tiers: pd.DataFrame, last_purchase: pd.Series) -> pd.DataFrame:
    """Rows of the model's rule (``p_alive``) for the tiers' VIP and GOOD customers (module docstring).

    ``tier_labels`` / ``window_values`` / ``last_purchase``: Series indexed by customer_id;
    ``monthly_tiers``: the tiers' ``customer_id, month, monthly_tier`` (for ``last_vip_month``).
    """
    # a numpy mask: a boolean Series as the key builds the labels' index engine, a hash table of one
    # Python string per customer kept with the tiers to the end of the run (0.27 GB at 3.4M customers)
    covered = tier_labels.index[tier_labels.isin(["VIP", "GOOD"]).to_numpy()].astype(str)
    pred = predictions[_isin(predictions["customer_id"], covered)]
    if pred.empty:
        return pd.DataFrame({c: pd.Series(dtype=float if c in ("value_at_risk", "p_alive") else object)
                             for c in ALERT_COLUMNS})
    t = ibis.memtable(pred[["customer_id", "x", "span_days", "age_days", "p_alive"]].astype({"p_alive": "float64"}))
    expr = dropout_alerts(t, flagged_only=True)
    flagged = to_pandas(expr)
    drop_memtables(expr)
    ids = flagged["customer_id"].astype(str)
    vip_months = monthly_tiers[monthly_tiers["monthly_tier"] == "VIP"].groupby("customer_id")["month"].max()
    # a few flagged customers looked up among all of them: Arrow hashes, not pandas' index engine
    last = pd.to_datetime(pd.Series(lookup(last_purchase, ids, pd.NaT), index=ids.index))
    vip = pd.Series(lookup(vip_months, ids, np.nan), index=ids.index, dtype=object)
    value = pd.Series(lookup(window_values, ids, np.nan), index=ids.index)
    out = pd.DataFrame({"customer_id": ids.values, "last_vip_month": vip.fillna("").values,
                        "last_payment": last.dt.strftime("%Y-%m-%d").fillna("").values,
                        "value_at_risk": value.fillna(0.0).astype(float).round(6).values,
                        "rule": "p_alive", "p_alive": flagged["p_alive"].astype("float64").values})
    return out[ALERT_COLUMNS]


def combine_alerts(*parts: pd.DataFrame) -> pd.DataFrame:
    """All rules' rows: rule order, then value at risk descending, then customer_id."""
    frames = [p for p in parts if p is not None and len(p)]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=float if c in ("value_at_risk", "p_alive") else object)
                             for c in ALERT_COLUMNS})
    out = pd.concat(frames, ignore_index=True)[ALERT_COLUMNS]
    order = out["rule"].map({r: i for i, r in enumerate(RULES)}).fillna(len(RULES))
    out = out.assign(_o=order).sort_values(["_o", "value_at_risk", "customer_id"], ascending=[True, False, True],
                                          kind="stable")
    return out.drop(columns="_o").reset_index(drop=True)


def alert_comparison(alerts: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """Per rule: customers flagged, how many bought nothing in the holdout, the value they held.

    ``value_at_risk`` is the flagged customers' window value; ``holdout_revenue`` what they still
    bought in the holdout; ``precision`` = bought_nothing / flagged.
    """
    o = outcomes.assign(customer_id=outcomes["customer_id"].astype(str)).set_index("customer_id")
    rows = []
    for rule in [r for r in RULES if r in set(alerts["rule"])] + sorted(set(alerts["rule"]) - set(RULES)):
        part = alerts[alerts["rule"] == rule]
        ids = part["customer_id"].astype(str)
        bought = ids.map(o["bought"]).fillna(False).astype(bool)
        rows.append({"rule": rule, "flagged": len(part), "bought_nothing": int((~bought).sum()),
                     "precision": float((~bought).mean()) if len(part) else float("nan"),
                     "value_at_risk": float(part["value_at_risk"].sum()),
                     "holdout_revenue": float(ids.map(o["holdout_revenue"]).fillna(0.0).sum())})
    return pd.DataFrame(rows, columns=["rule", "flagged", "bought_nothing", "precision", "value_at_risk",
                                       "holdout_revenue"])


def holdout_by_frequency(predictions: pd.DataFrame, holdout: pd.DataFrame,
                         groups: int = FREQUENCY_GROUPS) -> pd.DataFrame:
    """Mean predicted vs actual holdout purchases per repeat-purchase count in calibration.

    ``holdout``: ``customer_id, purchases`` (:func:`segkit.potential.summary.holdout_purchases`);
    customers without a row bought nothing. The last group collects ``groups``+ repeat purchases.

    >>> p = pd.DataFrame({"customer_id": ["a", "b"], "x": [0, 9], "expected_purchases": [0.5, 3.0]})
    >>> holdout_by_frequency(p, pd.DataFrame({"customer_id": ["b"], "purchases": [4]}))["group"].tolist()
    ['0', '7+']
    """
    actual = predictions["customer_id"].map(holdout.set_index("customer_id")["purchases"]).fillna(0)
    x = predictions["x"].clip(upper=groups)
    frame = pd.DataFrame({"x": x, "predicted": predictions["expected_purchases"], "actual": actual})
    out = frame.groupby("x").agg(customers=("x", "size"), predicted=("predicted", "mean"), actual=("actual", "mean"))
    out = out.reset_index()
    out.insert(0, "group", [f"{v}+" if v == groups else str(v) for v in out["x"]])
    return out.drop(columns="x")


def forecast_totals(predictions: pd.DataFrame, holdout: pd.DataFrame, holdout_monthly: pd.DataFrame,
                    criterion: str) -> dict[str, Any]:
    """Predicted vs actual holdout totals of the customers evaluated: purchases, and criterion value.

    ``holdout_monthly``: customer x month table of the holdout (the criterion's column summed).

    >>> p = pd.DataFrame({"customer_id": ["a", "b"], "expected_purchases": [1.5, 0.5], "predicted_value": [30.0, 5.0]})
    >>> h = pd.DataFrame({"customer_id": ["a", "z"], "purchases": [2, 7]})
    >>> m = pd.DataFrame({"customer_id": ["a", "z"], "revenue": [25.0, 99.0]})
    >>> forecast_totals(p, h, m, "revenue")
    {'predicted_purchases': 2.0, 'actual_purchases': 2.0, 'predicted_value': 35.0, 'actual_value': 25.0}
    """
    ids = predictions["customer_id"]
    actual = float(ids.map(holdout.set_index("customer_id")["purchases"]).fillna(0).sum())
    evaluated = holdout_monthly[holdout_monthly["customer_id"].isin(set(ids))]
    predicted, value = predictions["expected_purchases"], predictions["predicted_value"]
    return {"predicted_purchases": float(predicted.sum()) if predicted.notna().any() else None,
            "actual_purchases": actual,
            "predicted_value": float(value.sum()) if value.notna().any() else None,
            "actual_value": float(evaluated[criterion].sum())}


def p_alive_matrix(predictions: pd.DataFrame, max_x: int = 10, bins: int = 10) -> pd.DataFrame:
    """Mean P(alive) by repeat purchases (rows, capped at ``max_x``) x weeks since the last purchase.

    Columns are equal-width bins of ``age_days - span_days`` (the days of silence), in weeks.
    """
    silence = (predictions["age_days"] - predictions["span_days"]) / 7
    edges = np.linspace(0, max(float(silence.max()), 1.0), bins + 1)
    labels = [f"{edges[i]:.0f}-{edges[i + 1]:.0f}" for i in range(bins)]
    frame = pd.DataFrame({"x": predictions["x"].clip(upper=max_x), "p_alive": predictions["p_alive"],
                          "silence": pd.cut(silence, edges, labels=labels, include_lowest=True)})
    table = frame.pivot_table(index="x", columns="silence", values="p_alive", aggfunc="mean", observed=False)
    table.index = [f"{v}+" if v == max_x else str(v) for v in table.index]
    table.index.name, table.columns.name = "repeat purchases", "weeks since last purchase"
    return table


def headroom_by_group(headroom: pd.DataFrame) -> pd.DataFrame:
    """Per peer group: customers, upper quartile, total and largest headroom, largest first."""
    if headroom.empty:
        return pd.DataFrame(columns=["peer_group", "customers", "upper_quartile", "total_headroom", "max_headroom"])
    out = headroom.groupby("peer_group").agg(customers=("customer_id", "size"),
                                             upper_quartile=("peer_upper_quartile", "first"),
                                             total_headroom=("peer_headroom", "sum"),
                                             max_headroom=("peer_headroom", "max"))
    return out.sort_values("total_headroom", ascending=False).reset_index()


def key_account_candidates(predictions: pd.DataFrame, headroom: pd.DataFrame, overrides: pd.DataFrame,
                           n: int = 10) -> pd.DataFrame:
    """The report's key-account list: largest peer headroom (or, without attributes, largest
    predicted value) first, then every prospect placed by hand (``override_tier`` set, no purchase).

    Columns: ``customer_id, kind, peer_group, window_value, peer_headroom, predicted_value, p_alive,
    override_tier, override_reason``.
    """
    pred = predictions.set_index("customer_id")
    if len(headroom):
        top = headroom.sort_values(["peer_headroom", "customer_id"], ascending=[False, True]).head(n)
        rows = top[["customer_id", "peer_group", "window_value", "peer_headroom"]].assign(kind="peer headroom")
    else:
        top = predictions.dropna(subset=["predicted_value"]).sort_values(
            ["predicted_value", "customer_id"], ascending=[False, True]).head(n)
        rows = pd.DataFrame({"customer_id": top["customer_id"], "kind": "predicted value"})
    rows = rows.assign(predicted_value=rows["customer_id"].map(pred["predicted_value"]),
                       p_alive=rows["customer_id"].map(pred["p_alive"]))
    prospects = overrides[overrides.get("prospect", pd.Series(False, index=overrides.index)).astype(bool)]
    extra = pd.DataFrame({"customer_id": prospects["customer_id"], "kind": "prospect (no purchase yet)"})
    out = pd.concat([rows, extra], ignore_index=True)
    manual = overrides.set_index("customer_id")
    for col in ("override_tier", "override_reason"):
        out[col] = out["customer_id"].map(manual[col]) if col in manual else None
    cols = ["customer_id", "kind", "peer_group", "window_value", "peer_headroom", "predicted_value", "p_alive",
            "override_tier", "override_reason"]
    return out.reindex(columns=cols).reset_index(drop=True)
