"""An earlier backtest cut-off ranked where the data lives (DuckDB), its customer-month table never in pandas.

A refit at an earlier cut-off serves the comparison only: each scheme's rank per customer, the holdout
outcome and the simple rankings' keys (:func:`segkit.backtest.prepare_scoring`). The schemes that rank
in the engine (``rank_table``: the percentile tiers, RFM) do so on the cut-off's feature and
customer-month tables in the engine, and the "past value" ranking's window totals are summed there,
month by month with the pandas fit's compensated steps; only one row per customer and scheme comes
back. The other schemes (k-means, the predicted-value tiers) fit in pandas on the feature table and the
model's summary, as before. The same ranks and keys as the pandas refit (``tests/test_backtest_engine.py``).

Used when every registered scheme either ranks in the engine or does not read the customer-month table
at a refit (``monthly_at_refit = False``), on segkit's DuckDB: a plug-in scheme that may read it, or
another engine, keeps the pandas refit (:func:`engine_schemes` returns None).
"""

from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd

from . import backtest, compare
from .calendar import Split
from .config import RunParams
from .data import Transactions
from .engines import engine_name, lookup, to_pandas
from .features import CustomerMonths, customer_month_table
from .schemes import registry, tiers_engine

__all__ = ["engine_schemes", "ranked_in_engine", "refit_columns", "refit_features"]


def engine_schemes(tx: Transactions) -> list[registry.SchemeSpec] | None:
    """The registered schemes that rank in the engine at an earlier cut-off, or None when the refit
    must run in pandas (another engine than DuckDB, or a scheme that may read the customer months)."""
    if engine_name(tx.con) != "duckdb":
        return None
    specs = list(registry.schemes())
    ranked = [s for s in specs if callable(getattr(s.cls, "rank_table", None))]
    if any(getattr(s.cls, "monthly_at_refit", True) for s in specs if s not in ranked):
        return None
    return ranked


def ranked_in_engine(tx: Transactions, split: Split, params: RunParams, specs: list[registry.SchemeSpec],
                     features: pd.DataFrame, features_table: Any,
                     months: CustomerMonths | None = None) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """``(ranks, baselines)`` at the cut-off ``split``: ``customer_id, rank`` of each scheme of ``specs``
    and :func:`segkit.compare.baseline_orders` of ``features`` (``features_table``: the same, in the engine).
    ``months``: the run's customer months already in the engine, read where they cover a period."""
    month_rows = months.rows if months is not None else (lambda start, end: customer_month_table(tx, start, end))
    monthly = month_rows(backtest.history_start([split]), split.as_of)
    ranks = {}
    # every table comes back sorted by customer_id, as ``features`` is: the comparison then finds each
    # customer's rank and key by position (one comparison of equal id columns) instead of hashing
    # millions of text ids once more (a join of 3.37M ids: ~1 s and the backtest's memory peak)
    for spec in specs:
        table = to_pandas(spec.cls.from_params(params).rank_table(features_table, monthly, split.as_of)
                          .order_by("customer_id"))
        ranks[spec.name] = pd.DataFrame({"customer_id": table["customer_id"].astype(str),
                                         "rank": table["rank"].to_numpy()})
    window = list(split.window_months)
    # the window's months only: the engine reads the dates of those months, not the tiers' whole history
    in_window = month_rows(window[0], split.as_of)
    rows = tiers_engine.rows_of(in_window, params.criterion, window, features_table)
    totals = tiers_engine.window_totals(rows, window, window[-1:])
    totals = totals.select(_id=totals.customer_id, _total=totals.total)
    ids = features_table.select(customer_id=features_table.customer_id.cast("string"))
    every = ids.left_join(totals, ids.customer_id == totals._id)  # 0 for a customer without a row
    totals = to_pandas(every.select("customer_id", total=ibis.cases((every._id.isnull(), 0.0), else_=every._total))
                       .order_by("customer_id"))
    value = lookup(pd.Series(totals["total"].to_numpy(float), index=totals["customer_id"].astype(str)),
                   features["customer_id"].astype(str), 0.0)
    return ranks, compare.baseline_frame(features, np.asarray(value, dtype=float))


def refit_features(features: pd.DataFrame, params: RunParams, ranked: list[registry.SchemeSpec]) -> pd.DataFrame:
    """``features`` with only the columns the schemes refitted in pandas at this cut-off read (each
    scheme's ``features_at_refit()``; the schemes in ``ranked`` have their ranks already): all of them
    when one of those schemes does not say (a plug-in without the method, or one returning None).
    The cut-off's table waits for its turn on disk and in memory; k-means and the predicted-value
    tiers read 4 of its 15 columns."""
    wanted = refit_columns(params, ranked)
    return features if wanted is None else features[[c for c in features.columns if c in wanted]]


def refit_columns(params: RunParams, ranked: list[registry.SchemeSpec]) -> set[str] | None:
    """The feature columns :func:`refit_features` keeps (``customer_id`` among them), None for all."""
    done = {spec.name for spec in ranked}
    wanted = {"customer_id"}
    for spec in registry.schemes():
        if spec.name in done:
            continue
        columns = getattr(spec.cls.from_params(params), "features_at_refit", lambda: None)()
        if columns is None:
            return None
        wanted.update(columns)
    return wanted
