"""Who will be worth more: predicted value, P(alive), headroom against peers and dropout alerts.

- :mod:`.summary` — per-customer purchase summaries and their grouped sufficient statistics
  (engine expressions);
- :mod:`.bgnbd` — BG/NBD model of repeat purchases; :mod:`.gamma_gamma` — value per purchase;
- :mod:`.model` — fit both on a calibration period and predict per customer;
- :mod:`.headroom` — what a customer's peers at their upper quartile buy beyond what it buys;
- :mod:`.alerts` — dropout alerts that respect each customer's own buying rhythm;
- :mod:`.bench` — fit and prediction times on millions of synthetic customers.
"""

from .alerts import ALERT_GAP_FACTOR, ALERT_P_ALIVE, dropout_alerts
from .bgnbd import BGNBDParams, fit_bgnbd
from .gamma_gamma import GammaGammaParams, fit_gamma_gamma
from .headroom import MIN_PEERS, peer_headroom
from .model import PotentialModel, fit_potential, fit_summary, predict_grouped, predict_potential, predict_summary
from .summary import grouped_counts, grouped_values, purchase_summary

__all__ = [
    "BGNBDParams",
    "GammaGammaParams",
    "PotentialModel",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "fit_potential",
    "fit_summary",
    "predict_summary",
    "predict_potential",
    "predict_grouped",
    "purchase_summary",
    "grouped_counts",
    "grouped_values",
    "peer_headroom",
    "MIN_PEERS",
    "dropout_alerts",
    "ALERT_P_ALIVE",
    "ALERT_GAP_FACTOR",
]
