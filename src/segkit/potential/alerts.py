"""Dropout alerts that respect each customer's own buying rhythm.

Two views, either of which raises an alert:

- ``p_alive`` — the purchase model's probability that the customer is still active is below
  ``p_alive_threshold`` (default 0.5: the model thinks it more likely gone than active);
- ``gap`` — the days since the last purchase exceed ``gap_factor`` times the customer's usual
  gap (days from first to last purchase / repeat purchases; default factor 3: for a customer
  buying at a steady random rate a silence that long happens by chance about e⁻³ ≈ 5% of the time).
  The usual gap needs at least ``min_gaps`` observed gaps (default 2) and is at least one day.

``rule`` is ``"p_alive"``, ``"gap"`` or ``"p_alive+gap"`` (NULL when no alert).

Example
-------
>>> import ibis
>>> t = ibis.memtable({"customer_id": ["a", "b", "c"], "x": [4, 4, 0], "span_days": [40, 200, 0],
...                    "age_days": [300, 210, 100], "p_alive": [0.2, 0.9, 1.0]})
>>> dropout_alerts(t).to_pandas().sort_values("customer_id")["rule"].fillna("-").tolist()
['p_alive+gap', '-', '-']
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from ..errors import ParameterError

__all__ = ["dropout_alerts", "ALERT_P_ALIVE", "ALERT_GAP_FACTOR", "ALERT_MIN_GAPS"]

ALERT_P_ALIVE = 0.5
ALERT_GAP_FACTOR = 3.0
ALERT_MIN_GAPS = 2


def dropout_alerts(predictions: ir.Table, *, p_alive_threshold: float = ALERT_P_ALIVE,
                   gap_factor: float = ALERT_GAP_FACTOR, min_gaps: int = ALERT_MIN_GAPS,
                   flagged_only: bool = False) -> ir.Table:
    """Add ``days_since_last, usual_gap_days, alert, rule`` to a table with ``x, span_days, age_days, p_alive``.

    ``p_alive`` may be NULL (model not fitted): then only the gap rule can fire.
    """
    need = [c for c in ("x", "span_days", "age_days", "p_alive") if c not in predictions.columns]
    if need:
        raise ParameterError(f"dropout alerts need the column(s) {need}", where="dropout_alerts",
                             fix="pass the table from predict_potential")
    if not 0 < p_alive_threshold < 1 or gap_factor <= 0 or min_gaps < 1:
        raise ParameterError(
            f"p_alive_threshold {p_alive_threshold}, gap_factor {gap_factor}, min_gaps {min_gaps} out of range",
            where="dropout_alerts", fix="use 0 < p_alive_threshold < 1, gap_factor > 0 and min_gaps >= 1")
    t = predictions
    usual = ibis.cases((t.x >= min_gaps, ibis.greatest(t.span_days.cast("float64") / t.x, 1.0)),
                       else_=ibis.null("float64"))
    t = t.mutate(days_since_last=(t.age_days - t.span_days).cast("int64"), usual_gap_days=usual)
    low = (t.p_alive < p_alive_threshold).fill_null(False)
    late = (t.days_since_last > gap_factor * t.usual_gap_days).fill_null(False)
    rule = ibis.cases((low & late, "p_alive+gap"), (low, "p_alive"), (late, "gap"), else_=ibis.null("string"))
    t = t.mutate(alert=low | late, rule=rule)
    return t.filter(t.alert) if flagged_only else t
