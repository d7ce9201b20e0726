"""Percentile tiers: VIP / GOOD / REGULAR by one criterion, month by month.

The practitioners' rule (README, "How the schemes assign customers"): each calendar month of the window, rank
the customers whose criterion value that month is > 0 (value descending, ties by customer_id);
the first ceil(vip_share * n) are VIP; of the rest the first ceil(good_share * rest) are GOOD;
the others REGULAR. The *window tier* merges the months: VIP if VIP in any window month; else GOOD
if GOOD in any window month or VIP in any month of the previous window (a former VIP is demoted,
not dropped); else REGULAR if it paid in the window; else INACTIVE. A VIP with no payment in the
last ``dropout_months`` of calibration is a *dropout*: someone should call them.

Variants: ``period_total`` ranks the window total once (simpler; misses the one-month big buyer
who then leaves, and never flags dropouts); ``abc`` is the classic Pareto split on the cumulative
share of the window total (A = first 80% of the value, B = next 15%, C = the rest).

Example
-------
>>> import pandas as pd
>>> monthly = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "e"],
...                         "month": pd.to_datetime(["2024-06-01"] * 5),
...                         "revenue": [50.0, 40, 30, 20, 10], "purchases": [1] * 5})
>>> t = PercentileTiers(as_of="2024-06-30", window_months=1, dropout_months=1).fit_monthly(monthly)
>>> t.segment_table()["segment"].tolist()
['VIP', 'GOOD', 'REGULAR', 'REGULAR', 'REGULAR']
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import ibis
import ibis.expr.types as ir

from ..calendar import add_months, month_end, window_month_starts
from ..engines import engine_name, lookup, ordered_sums
from ..errors import ParameterError
from . import tiers_engine as engine
from ._base import NotFittedError, SchemeMixin, isin, number_text, positions, ranked_segments, text_categories
from .tiers_engine import TierTables

if TYPE_CHECKING:
    from ..config import RunParams
    from .registry import SchemeInputs

__all__ = ["PercentileTiers", "TIERS", "TierTables", "exact_ceil"]

TIERS = ["VIP", "GOOD", "REGULAR", "INACTIVE"]
_VARIANTS = ("monthly_union", "period_total", "abc")


def exact_ceil(share: float, n: int | np.ndarray) -> int | np.ndarray:
    """ceil(share * n) computed exactly: the share is taken as the decimal it was written as.

    Floating point gives ceil(0.2 * 15) = ceil(3.0000000000000004) = 4; this gives 3.

    >>> exact_ceil(0.2, 15), exact_ceil(0.2, 16), exact_ceil(0.2, 0)
    (3, 4, 0)
    """
    f = Fraction(str(share)).limit_denominator(10**9)
    n = np.asarray(n, dtype=np.int64)
    out = -((-f.numerator * n) // f.denominator)
    return int(out) if out.ndim == 0 else out


def _sorted_ids(source: pd.Series) -> pd.Index:
    """The distinct ids of ``source``, sorted; without hashing them when they come sorted and distinct
    (the features' ids do): each id is then only compared with the next, in Arrow.

    >>> _sorted_ids(pd.Series(["b", "a", "b", None])).tolist(), _sorted_ids(pd.Series(["a", "b"])).tolist()
    (['a', 'b'], ['a', 'b'])
    """
    text = _text_ids(source)
    if text is not None and text.null_count == 0 and (
            len(text) < 2 or pc.all(pc.less(text[:-1], text[1:])).as_py()):
        return pd.Index(source, name="customer_id")
    return pd.Index(pd.unique(source.dropna()), name="customer_id").sort_values()


def _text_ids(source: pd.Series) -> "pa.Array | None":
    """``source`` as an Arrow text array when it holds text (else None: compared the pandas way)."""
    try:
        return pa.array(source.array if isinstance(source.dtype, pd.StringDtype) else
                        np.asarray(source, dtype=object), type=pa.large_string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None


def _coded(data: pd.DataFrame, ids: pd.Index, *, drop_unknown: bool) -> tuple[pd.DataFrame, np.ndarray]:
    """``data`` with its customer ids as codes of their sorted values, and each code's position in ``ids``.

    Sorting, grouping and membership then work on integers instead of hashing millions of text ids
    in every step, and code order is id order (``ids`` is sorted), so ties still break by
    customer_id; outputs carry the ids as text again. The categories are the ids that occur, as
    ``pd.factorize(sort=True)`` gives them. ``drop_unknown``: rows of customers outside ``ids`` (seen
    with returns only) are left out; otherwise ``ids`` must be the distinct ids of ``data``.
    """
    if not drop_unknown:  # ``ids`` are the distinct ids of ``data``, sorted: the codes are their positions
        codes, uniques = pd.factorize(data["customer_id"], sort=True)
        return data.assign(customer_id=pd.Categorical.from_codes(codes, categories=uniques)), np.arange(len(uniques))
    pos = positions(data["customer_id"], ids)  # one Arrow lookup gives both the filter and the codes
    data, pos = data[pos >= 0], pos[pos >= 0]
    seen = np.zeros(len(ids), dtype=bool)  # positions are small integers: mark them instead of sorting
    seen[pos] = True
    at = np.flatnonzero(seen)
    codes = (np.cumsum(seen) - 1)[pos]
    return data.assign(customer_id=pd.Categorical.from_codes(codes, categories=ids[at])), at


def _coded_rows(monthly: pd.DataFrame, rows: np.ndarray, ids: pd.Index) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`_coded` ``(monthly[rows], ids, drop_unknown=True)`` with one copy of the rows: the other
    columns are taken once, and the ids are never copied as text (their codes are built from the
    positions of all of ``monthly``'s ids). The same frame, and the same positions."""
    pos = positions(monthly["customer_id"], ids)
    taken = np.flatnonzero(rows & (pos >= 0))
    pos = pos[taken]
    seen = np.zeros(len(ids), dtype=bool)
    seen[pos] = True
    at = np.flatnonzero(seen)
    codes = (np.cumsum(seen) - 1)[pos]
    data = monthly.drop(columns="customer_id").take(taken)
    data.insert(0, "customer_id", pd.Categorical.from_codes(codes, categories=ids[at]))
    return data[list(monthly.columns)], at


def _rows_in(data: pd.DataFrame, months: list[pd.Timestamp]) -> pd.DataFrame:
    """``data``'s rows whose month is one of ``months``: a slice sharing its columns when they are one
    run of rows (a table sorted by month), a copy otherwise."""
    keep = data["month"].isin(months).to_numpy()
    where = np.flatnonzero(keep)
    if len(where) and where[-1] - where[0] + 1 == len(where):
        return data.iloc[where[0]:where[-1] + 1]
    return data[keep]


def _totals(rows: pd.DataFrame) -> pd.Series:
    """Each customer's sum of ``value`` (index: the ids as text, sorted), grouped on the id codes.

    The months are added oldest first with the Kahan steps of the engine's window totals
    (:func:`segkit.engines.ordered_sums`), not with pandas' group sum, whose float depends on the
    row order and the pandas version; grouping on the codes spares pandas re-coding millions of text
    categories to the observed ones first.
    """
    codes = np.asarray(rows["customer_id"].cat.codes)
    sums = ordered_sums(codes, rows["month"], rows["value"])
    categories = rows["customer_id"].cat.categories
    return pd.Series(sums.to_numpy(), index=pd.Index(categories[sums.index.to_numpy()].astype(str),
                                                      name="customer_id"), name="value")


def _marked(n: int, at: np.ndarray, members: pd.Series) -> np.ndarray:
    """Which of ``n`` ids (positions ``at[code]``, see :func:`_coded`) occur in the coded column ``members``."""
    codes = np.asarray(members.cat.codes)
    mask = np.zeros(n, dtype=bool)
    mask[at[codes[codes >= 0]]] = True
    return mask


def _same_ids(rows: pd.Series, members: pd.Series) -> np.ndarray:
    """:func:`isin` for two coded id columns cut from the same :func:`_coded` frame: on the codes."""
    codes = np.asarray(rows.cat.codes)
    return np.isin(codes, np.asarray(members.cat.codes)) & (codes >= 0)


_TIER_TEXT = pa.array(["REGULAR", "GOOD", "VIP"])


def _rank_order(frame: pd.DataFrame) -> np.ndarray | None:
    """Row order by month, value (highest first), customer: :meth:`PercentileTiers._rank_months`' sort
    as one ``np.lexsort`` of numbers, when the ids are codes (:func:`_coded`: code order is id order,
    as pandas sorts a categorical) and no key is missing; None otherwise (pandas sorts the frame).
    ``lexsort`` is stable, as pandas' sort was asked to be."""
    ids = frame["customer_id"]
    if not isinstance(ids.dtype, pd.CategoricalDtype) or not len(frame):
        return None
    codes, month = np.asarray(ids.cat.codes), frame["month"].to_numpy()
    value = frame["value"].to_numpy(dtype=float)
    if (codes < 0).any() or not np.issubdtype(month.dtype, np.datetime64) or np.isnat(month).any() \
            or np.isnan(value).any():
        return None
    return _by_value_within_months(codes, -value, month)


def _by_value_within_months(codes: np.ndarray, key: np.ndarray, month: np.ndarray) -> np.ndarray:
    """``np.lexsort((codes, key, month))``. Rows that come by month, then code (the customer-month
    table's own order) are already in (month, code) order: a stable sort of ``key`` within each
    month's run of rows gives the same order, with one key sorted instead of three (6.5M rows:
    2.3 -> 1.1 s)."""
    same = month[1:] == month[:-1]
    if not (month[1:] >= month[:-1]).all() or not (codes[1:][same] > codes[:-1][same]).all():
        return np.lexsort((codes, key, month))
    return _sorted_within_months(month, key)


def _sorted_within_months(month: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Row order sorting ``key`` (stable) within each run of equal months (``month`` non-decreasing)."""
    if not len(month):
        return np.zeros(0, dtype=np.intp)
    starts = np.flatnonzero(np.concatenate([[True], month[1:] != month[:-1]]))
    ends = np.append(starts[1:], len(month))
    return np.concatenate([start + np.argsort(key[start:end], kind="stable")
                           for start, end in zip(starts, ends)]).astype(np.intp, copy=False)


def _month_key(m: pd.Series) -> pd.Series:
    """'YYYY-MM' text of month starts (formatted once per distinct month, not once per row)."""
    months = pd.to_datetime(m)
    return months.map({t: t.strftime("%Y-%m") for t in months.unique()}).astype(str)


def _monthly_tiers_table(ranked: pd.DataFrame) -> pd.DataFrame:
    """``customer_id, month ('YYYY-MM'), value, monthly_tier`` of the ranked rows, by month, then customer.

    Ranked rows with coded ids (:func:`_coded`) come month by month: each month's rows are put in
    code order (code order is id order) and the ids taken as text in Arrow, instead of pandas' sort
    on the month text and the codes and a text copy of the categories (the same table). Months
    outside the years 1000-9999, whose text would not sort as their dates, go pandas' way.
    """
    cols = ["customer_id", "month", "value", "monthly_tier"]
    ids, month = ranked["customer_id"], ranked["month"].to_numpy()
    order = None
    if isinstance(ids.dtype, pd.CategoricalDtype) and np.issubdtype(month.dtype, np.datetime64) and len(ranked) \
            and not np.isnat(month).any() and (np.diff(month) >= np.timedelta64(0)).all():
        years = month.astype("datetime64[Y]").astype(np.int64) + 1970
        codes = np.asarray(ids.cat.codes)
        if years.min() >= 1000 and years.max() <= 9999 and (codes >= 0).all():
            order = _sorted_within_months(month, codes)
    if order is None:
        mt = (ranked.assign(month=_month_key(ranked["month"]))[cols]
              .sort_values(["month", "customer_id"], kind="stable").reset_index(drop=True))
        return mt.assign(customer_id=mt["customer_id"].astype(str))
    mt = ranked.take(order)[cols].reset_index(drop=True)
    categories = ids.cat.categories
    if not isinstance(categories.dtype, pd.StringDtype):  # ids that are not text (e.g. numbers): pandas' text
        return mt.assign(customer_id=mt["customer_id"].astype(str), month=_month_key(mt["month"]))
    taken = np.asarray(mt["customer_id"].cat.codes)
    text = pa.array(categories, type=pa.large_string()).take(pa.array(taken))
    return mt.assign(customer_id=pd.array(text, dtype="str"), month=_month_key(mt["month"]))


@dataclass(eq=False)
class PercentileTiers(SchemeMixin):
    """Monthly percentile tiers merged over a window, with dropout alerts.

    Parameters
    ----------
    criterion : {"revenue", "payments", "units", "margin"}
        The column of the customer x month table to rank by.
    as_of : date or "YYYY-MM-DD"
        Last day of calibration; the window is the ``window_months`` calendar months ending with
        as_of's month. Default: the last month in the data.
    window_months, vip_share, good_share, dropout_months
        The run parameters of the same names (checked by :class:`segkit.config.RunParams`).
    variant : {"monthly_union", "period_total", "abc"}
    abc_shares : (A, B, C) shares of the value for the ``abc`` variant.

    Attributes (after fit)
    ----------------------
    labels_ : Series customer_id -> window tier
    monthly_tiers_ : DataFrame customer_id, month (YYYY-MM), value, monthly_tier (window months)
    alerts_ : DataFrame customer_id, last_vip_month, last_payment, value_at_risk
    movements_ : DataFrame per window month: vip, entered, left (VIP list changes)
    boundary_ : DataFrame per window month and cut: threshold value, ties across the cut, customers
        within 5% of the threshold
    """

    #: a customer seen up to the cut-off without a purchase (only returns) did not pay in the window
    no_purchase = {"segment": "INACTIVE"}

    # the constructor only stores its parameters (the estimator convention): a dataclass writes it
    criterion: str = "revenue"
    as_of: dt.date | str | None = None
    window_months: int = 6
    vip_share: float = 0.2
    good_share: float = 0.2
    dropout_months: int = 2
    variant: str = "monthly_union"
    abc_shares: tuple[float, float, float] = (0.8, 0.15, 0.05)

    @classmethod
    def from_params(cls, params: "RunParams") -> "PercentileTiers":
        """The run's tiers (its criterion, window, shares and dropout months)."""
        return cls(criterion=params.criterion, window_months=params.window_months, vip_share=params.vip_share,
                   good_share=params.good_share, dropout_months=params.dropout_months)

    # ------------------------------------------------------------------ fit
    def _validate_columns(self, columns: "list[str] | tuple[str, ...] | pd.Index", where: str) -> None:
        """The variant, and the customer x month table's columns (the same messages for pandas and engines)."""
        if self.variant not in _VARIANTS:
            raise ParameterError(f"unknown variant {self.variant!r}", where="variant",
                                 fix=f"use one of {', '.join(_VARIANTS)}")
        missing = {"customer_id", "month", self.criterion} - set(columns)
        if missing:
            raise ParameterError(f"the customer x month table lacks {sorted(missing)}", where=where,
                                 fix="pass segkit.features.customer_month(...) and a criterion it has "
                                     "(revenue, payments, units or margin)")

    def _validate(self, monthly: pd.DataFrame, as_of: dt.date | str | None) -> dt.date:
        self._validate_columns(monthly.columns, "PercentileTiers.fit")
        if as_of is not None:
            return pd.Timestamp(as_of).date()
        if monthly.empty:
            raise ParameterError("no transactions to rank", where="PercentileTiers.fit",
                                 fix="check the calibration period")
        return month_end(pd.Timestamp(monthly["month"].max()).date())

    def _rank_months(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Monthly tiers for the rows of ``frame`` (value > 0), with exact integer arithmetic for the shares."""
        frame = frame[frame["value"] > 0]
        order = _rank_order(frame)
        frame = frame.take(order) if order is not None else frame.sort_values(
            ["month", "value", "customer_id"], ascending=[True, False, True], kind="stable")
        # position within the month and the month's size: the months are now runs of rows
        month = frame["month"].to_numpy()
        starts = np.flatnonzero(np.concatenate([[True], month[1:] != month[:-1]])) if len(month) else \
            np.zeros(0, dtype=np.int64)
        sizes = np.diff(np.append(starts, len(month)))
        pos, n = np.arange(len(month)) - np.repeat(starts, sizes), np.repeat(sizes, sizes)
        vip = exact_ceil(self.vip_share, n)
        good = exact_ceil(self.good_share, n - vip)
        level = (pos < vip).astype(np.int8) + (pos < vip + good)  # 0 REGULAR, 1 GOOD, 2 VIP
        tier = pd.array(_TIER_TEXT.take(pa.array(level)), dtype="str")  # text built in Arrow, not per row
        return frame.assign(monthly_tier=tier, _pos=pos, _n=n, _vip=vip, _good=good)

    def fit(self, inputs: "SchemeInputs") -> "PercentileTiers":
        """Learn the tiers at the cut-off ``inputs.split.as_of`` for the customers of ``inputs.features``."""
        return self.fit_monthly(inputs.monthly, customers=inputs.features, as_of=inputs.split.as_of,
                                segments_only=inputs.segments_only)

    def fit_monthly(self, monthly: pd.DataFrame,
                    customers: pd.Series | pd.DataFrame | None = None, *,
                    as_of: dt.date | None = None, segments_only: bool = False) -> "PercentileTiers":
        """Learn the tiers from a customer x month table (segkit.features.customer_month).

        ``customers``: the customers to label (a Series of ids, or the per-customer features frame,
        whose ``last_purchase`` then fills the alerts' ``last_payment``); only their months are
        ranked, so a customer outside it (seen with returns only: a return sold at a loss has a
        positive margin) holds no monthly tier. Default: every customer in ``monthly`` up to as_of. ``as_of``: the cut-off, when not given to the constructor.
        ``segments_only``: only the labels (:meth:`segment_table`) are read, as of a refit;
        :attr:`monthly_tiers_`, :attr:`boundary_`, :attr:`alerts_` and :attr:`movements_` stay None
        (about a fifth of a fit at 3.4M customers).
        """
        as_of = self._validate(monthly, as_of if as_of is not None else self.as_of)
        self.as_of_ = as_of
        window = [pd.Timestamp(m) for m in window_month_starts(as_of, self.window_months)]
        previous = [pd.Timestamp(add_months(m, -self.window_months)) for m in window]
        self.window_ = [m.strftime("%Y-%m") for m in window]
        paid_col = "purchases" if "purchases" in monthly else self.criterion
        # only the columns and months used: with millions of customer-months every copy below counts
        keep = list(dict.fromkeys(["customer_id", "month", self.criterion, paid_col]))
        month = pd.to_datetime(monthly["month"])
        upto = month <= pd.Timestamp(as_of)
        last_purchase = None
        self._features = customers if isinstance(customers, pd.DataFrame) else None
        if isinstance(customers, pd.DataFrame):
            if "last_purchase" in customers:
                last_purchase = customers.set_index("customer_id")["last_purchase"]
            customers = customers["customer_id"]
        # the window's months, and the window before it where the former VIPs are found
        read = window + previous if self.variant == "monthly_union" else window
        if customers is not None:
            ids = _sorted_ids(customers.astype(str))
            data, at = _coded_rows(monthly[keep], (upto & month.isin(read)).to_numpy(), ids)
        else:  # every customer up to as_of is labelled, those without a month in the window too
            data = monthly.loc[upto, keep]
            ids = _sorted_ids(data["customer_id"])
            data, at = _coded(data, ids, drop_unknown=False)
            data = data[pd.to_datetime(data["month"]).isin(read)]
        data = data.assign(month=pd.to_datetime(data["month"]), value=data[self.criterion].astype(float))

        in_window = _rows_in(data, window)
        ranked = self._rank_months(in_window[["customer_id", "month", "value"]])
        self.monthly_tiers_ = self.boundary_ = self.alerts_ = self.movements_ = None
        if not segments_only:
            self.monthly_tiers_ = _monthly_tiers_table(ranked)
            self.boundary_ = self._boundaries(ranked)
        paid = in_window.loc[in_window[paid_col] > 0, "customer_id"]
        totals = _totals(in_window)

        labels = self._window_labels(ranked, data, previous, window, (ids, at), paid, totals)
        self.labels_ = pd.Series(text_categories(labels), index=labels.index)  # one byte per customer
        self.segments_ = list(TIERS)
        if not segments_only:
            self.alerts_ = self._alerts(ranked, in_window, window, last_purchase) \
                if self.variant == "monthly_union" else \
                pd.DataFrame(columns=["customer_id", "last_vip_month", "last_payment", "value_at_risk"])
            self.movements_ = self._movements(ranked, window)
        self.window_totals_ = totals
        return self

    # ------------------------------------------------------------------ in the engine
    def rank_table(self, features: ir.Table, monthly: ir.Table, as_of: dt.date) -> ir.Table:
        """``customer_id, rank`` of :meth:`segment_table` for the customers of ``features``, as an engine
        expression (:meth:`tiers_table`'s labels): how a backtest refit at an earlier cut-off ranks
        in the engine, with no customer-month table in pandas."""
        return self.refit_table(features, monthly, as_of).select("customer_id", "rank")

    def refit_table(self, features: ir.Table, monthly: ir.Table, as_of: dt.date) -> ir.Table:
        """``customer_id, segment, rank``: :meth:`segment_table` of a fit with ``segments_only`` for the
        customers of ``features``, as an engine expression (:meth:`tiers_table`'s labels). The run's
        refit one month earlier (stability, the tier changes) reads nothing else, so it fits there."""
        labels = self.tiers_table(monthly, features, as_of=as_of).labels
        return labels.select("customer_id", segment=labels.percentile_tier,
                             rank=ranked_segments(labels.percentile_tier, TIERS))

    def tiers_table(self, monthly: ir.Table, customers: ir.Table | None = None, *,
                    as_of: dt.date | str | None = None) -> TierTables:
        """:meth:`fit_monthly`'s window tiers, monthly tiers and alerts as engine expressions.

        ``monthly``: :func:`segkit.features.customer_month_table` (or any table with ``customer_id``,
        ``month`` and the criterion's column; ``purchases`` marks the months paid in, else value > 0).
        ``customers``: e.g. :func:`segkit.features.customer_features_table`; only its customers are
        ranked and labelled, and its ``last_purchase`` fills the alerts' ``last_payment``, as in
        :meth:`fit_monthly`. ``as_of``: the cut-off (or the constructor's); it is required here, since
        finding the last month of the data would run a query.

        Returns :class:`TierTables` ``(labels, monthly, alerts)`` holding the values of :attr:`labels_`
        (column ``percentile_tier``), :attr:`monthly_tiers_` and :attr:`alerts_`, in no particular order;
        nothing runs until the caller fetches them (``.to_pandas()``, ``.to_pyarrow()``). Ranks are
        window functions (``row_number()`` and ``count()`` over each month), the shares integer
        arithmetic (:func:`~segkit.schemes.tiers_engine.share_ceil`), the window totals a month-by-month
        compensated sum as pandas'. It runs on DuckDB, PySpark and SQL databases such as PostgreSQL;
        Ibis' Polars backend has no window functions, so there it raises
        :class:`~segkit.errors.ParameterError`. The fitted attributes stay :meth:`fit_monthly`'s.

        Example
        -------
        >>> import ibis
        >>> monthly = ibis.memtable({"customer_id": ["a", "b", "c", "d", "e", "a"],
        ...                          "month": pd.to_datetime(["2024-06-01"] * 5 + ["2024-05-01"]),
        ...                          "revenue": [50.0, 40, 30, 20, 10, 5], "purchases": [1] * 6})
        >>> t = PercentileTiers(window_months=1, dropout_months=1).tiers_table(monthly, as_of="2024-06-30")
        >>> t.labels.order_by("customer_id").to_pandas()["percentile_tier"].tolist()
        ['VIP', 'GOOD', 'REGULAR', 'REGULAR', 'REGULAR']
        >>> t.monthly.order_by("customer_id").to_pandas()[["month", "monthly_tier"]].to_numpy()[:2].tolist()
        [['2024-06', 'VIP'], ['2024-06', 'GOOD']]
        """
        as_of = self._check_tables(monthly, customers, as_of)
        window = window_month_starts(as_of, self.window_months)
        previous = [add_months(m, -self.window_months) for m in window]
        rows = engine.rows_of(monthly, self.criterion, [*previous, *window], customers)
        ranked = engine.ranked(rows, "value", ["month"], self.vip_share, self.good_share)
        in_window = ranked.filter(ranked.month.isin([ibis.literal(m, type="date") for m in window]))
        totals = engine.window_totals(in_window, window, window[-self.dropout_months:])
        if self.variant == "monthly_union":
            levels = engine.union_levels(ranked, window)
        elif self.variant == "period_total":
            levels = engine.total_levels(totals, (self.vip_share, self.good_share))
        else:
            levels = engine.abc_levels(totals, self.abc_shares)
        if customers is None:
            seen = monthly.filter(monthly.month.cast("date") <= ibis.literal(as_of, type="date"))
            ids = engine.customer_ids(seen)
        else:
            ids = engine.customer_ids(customers)
        months = in_window.filter(in_window.tier.notnull())
        months = months.select("customer_id", month=months.month.strftime("%Y-%m"), value=months.value,
                               monthly_tier=months.tier)
        alerts = engine.alerts_of(in_window, totals, customers)
        if self.variant != "monthly_union":  # only the monthly ranks flag dropouts
            alerts = alerts.filter(ibis.literal(False))
        return TierTables(engine.labels_of(ids, levels), months, alerts)

    def _check_tables(self, monthly: ir.Table, customers: ir.Table | None, as_of: dt.date | str | None) -> dt.date:
        """The variant, the columns and the engine of :meth:`tiers_table`'s tables; returns the cut-off."""
        where = "PercentileTiers.tiers_table"
        self._validate_columns(monthly.columns, where)
        if customers is not None and "customer_id" not in customers.columns:
            raise ParameterError("the customers table lacks 'customer_id'", where=where,
                                 fix="pass segkit.features.customer_features_table(...) or a table of ids")
        for table in (monthly, customers):
            if table is not None and engine_name(table.get_backend()) == "polars":
                raise ParameterError("tiers in the engine need window functions, which Ibis' Polars backend lacks",
                                     where=where, fix="load with engine duckdb or pyspark, or fit "
                                                      "customer_month(...) with fit_monthly")
        as_of = as_of if as_of is not None else self.as_of
        if as_of is None:
            raise ParameterError("the tiers in the engine need the cut-off", where=where,
                                 fix="pass as_of=... (e.g. split_periods(tx).as_of) or set it on PercentileTiers")
        return pd.Timestamp(as_of).date()

    def _window_labels(self, ranked: pd.DataFrame, data: pd.DataFrame, previous: list[pd.Timestamp],
                       window: list[pd.Timestamp], coded: tuple[pd.Index, np.ndarray], paid: pd.Series,
                       totals: pd.Series) -> pd.Series:
        """The window tier of every customer in ``ids`` (``coded``: ids and the :func:`_coded` positions)."""
        ids, at = coded
        if self.variant == "monthly_union":
            vip = ranked.loc[ranked["monthly_tier"] == "VIP", "customer_id"]
            good = ranked.loc[ranked["monthly_tier"] == "GOOD", "customer_id"]
            prev = self._rank_months(_rows_in(data, previous)[["customer_id", "month", "value"]])
            former_vip = prev.loc[prev["monthly_tier"] == "VIP", "customer_id"]
            tier = np.zeros(len(ids), dtype=np.int8)  # 0 INACTIVE, 1 REGULAR, 2 GOOD, 3 VIP: the best rule wins
            for level, members in ((1, paid), (2, good), (2, former_vip), (3, vip)):
                tier[_marked(len(ids), at, members)] = level
            labels = pd.Series(np.array(["INACTIVE", "REGULAR", "GOOD", "VIP"], dtype=object)[tier], index=ids)
        elif self.variant == "period_total":
            total = totals[totals > 0].rename("value").reset_index().assign(month=pd.Timestamp(window[-1]))
            one = self._rank_months(total).set_index("customer_id")["monthly_tier"]
            labels = pd.Series("INACTIVE", index=ids, dtype=object)
            labels[isin(ids, paid)] = "REGULAR"
            common = one.index.intersection(ids)
            labels[common] = one[common]
        else:
            labels = self._abc(totals, ids, paid)
        return labels

    def _abc(self, totals: pd.Series, ids: pd.Index, paid: pd.Series) -> pd.Series:
        a, b, _ = self.abc_shares
        pos = totals[totals > 0].sort_index().sort_values(ascending=False, kind="stable")
        before = (pos.cumsum() - pos) / pos.sum()  # share of value held by customers ranked above
        eps = 1e-9  # shares are decimals: 0.8 + 0.15 must equal 0.95
        cls = np.where(before < a - eps, "VIP", np.where(before < a + b - eps, "GOOD", "REGULAR"))
        labels = pd.Series("INACTIVE", index=ids, dtype=object)
        labels[isin(ids, paid)] = "REGULAR"
        s = pd.Series(cls, index=pos.index)
        common = s.index.intersection(ids)
        labels[common] = s[common]
        return labels

    def _alerts(self, ranked: pd.DataFrame, in_window: pd.DataFrame, window: list[pd.Timestamp],
                last_purchase: pd.Series | None) -> pd.DataFrame:
        recent = window[-self.dropout_months:]
        paid_col = "purchases" if "purchases" in in_window else "value"
        paid_recent = in_window.loc[in_window["month"].isin(recent) & (in_window[paid_col] > 0), "customer_id"]
        vips = ranked[ranked["monthly_tier"] == "VIP"]
        dropped = vips[~_same_ids(vips["customer_id"], paid_recent)]
        if dropped.empty:
            return pd.DataFrame({"customer_id": pd.Series(dtype=str), "last_vip_month": pd.Series(dtype=str),
                                 "last_payment": pd.Series(dtype=str), "value_at_risk": pd.Series(dtype=float)})
        # from here on only the flagged customers' rows, with their ids as text
        in_window = in_window[_same_ids(in_window["customer_id"], dropped["customer_id"])]
        in_window = in_window.assign(customer_id=in_window["customer_id"].astype(str))
        dropped = dropped.assign(customer_id=dropped["customer_id"].astype(str))
        last_vip = dropped.groupby("customer_id")["month"].max()
        paid_rows = in_window[in_window[paid_col] > 0]
        last_paid_month = paid_rows.groupby("customer_id")["month"].max()
        out = pd.DataFrame({"last_vip_month": last_vip.dt.strftime("%Y-%m")})
        if last_purchase is not None:
            # a few flagged customers looked up among all of them: one Arrow hash, not pandas' index engine
            lp = pd.to_datetime(pd.Series(lookup(last_purchase, out.index, pd.NaT), index=out.index))
            out["last_payment"] = lp.dt.strftime("%Y-%m-%d")
        else:  # only months are known: the last month with a payment
            out["last_payment"] = last_paid_month.reindex(out.index).dt.strftime("%Y-%m")
        at_risk = ordered_sums(in_window["customer_id"], in_window["month"], in_window["value"])
        out["value_at_risk"] = at_risk.reindex(out.index).round(6)
        out = out.reset_index().rename(columns={"index": "customer_id"})
        return out[["customer_id", "last_vip_month", "last_payment", "value_at_risk"]].sort_values(
            ["value_at_risk", "customer_id"], ascending=[False, True], kind="stable").reset_index(drop=True)

    def _movements(self, ranked: pd.DataFrame, window: list[pd.Timestamp]) -> pd.DataFrame:
        rows, before = [], None
        for m in window:
            now = ranked.loc[(ranked["month"] == m) & (ranked["monthly_tier"] == "VIP"), "customer_id"]
            rows.append({"month": m.strftime("%Y-%m"), "vip": len(now),
                         "entered": int((~_same_ids(now, before)).sum()) if before is not None else None,
                         "left": int((~_same_ids(before, now)).sum()) if before is not None else None})
            before = now
        return pd.DataFrame(rows)

    def _boundaries(self, ranked: pd.DataFrame) -> pd.DataFrame:
        rows = []
        for month, g in ranked.groupby("month", sort=True):
            values = g["value"].to_numpy()
            vip, good = int(g["_vip"].iloc[0]), int(g["_good"].iloc[0])
            for cut, k in (("VIP/GOOD", vip), ("GOOD/REGULAR", vip + good)):
                if k == 0 or k >= len(values):
                    continue
                threshold = values[k - 1]
                ties = int((values == threshold).sum())
                near = int((np.abs(values - threshold) <= 0.05 * abs(threshold)).sum())
                rows.append({"month": month.strftime("%Y-%m"), "cut": cut, "customers": len(values),
                             "above_cut": k, "threshold": float(threshold), "tied_at_threshold": ties,
                             "ties_split_by_customer_id": bool(ties > 1 and values[k] == threshold),
                             "within_5pct": near})
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ outputs
    def vip_table(self) -> pd.DataFrame:
        """The half-year VIP table: customer x window month, monthly tier ('' when not paying)."""
        self._check_fitted()
        mt = self.monthly_tiers_
        if mt is None:
            raise NotFittedError("these tiers were fitted for their segment table only (segments_only=True): "
                                 "there is no monthly tier table", fix="fit again without segments_only")
        vip_ids = mt.loc[mt["monthly_tier"] == "VIP", "customer_id"].unique()
        table = mt[isin(mt["customer_id"], vip_ids)].pivot(index="customer_id", columns="month",
                                                          values="monthly_tier")
        # object first: a window month without payments comes in as a float column, which pandas
        # will no longer fill with text
        return table.reindex(columns=self.window_).astype(object).fillna("").sort_index()

    def profile(self) -> pd.DataFrame:
        """Per tier: customers, share, window value and, when fitted with features, average behaviour."""
        self._check_fitted()
        features = self._features
        table = self.segment_table()
        # looked up in Arrow (a map of the text ids hashed every customer's)
        value = np.asarray(lookup(self.window_totals_, table["customer_id"], np.nan), dtype="float64")
        table["window_value"] = np.where(np.isnan(value), 0.0, value)
        prof = table.groupby("segment").agg(customers=("customer_id", "size"),
                                            window_value=("window_value", "sum"))
        prof = prof.reindex(self.segments_).fillna(0)
        prof["customers"] = prof["customers"].astype("int64")
        prof["share"] = prof["customers"] / max(len(table), 1)
        prof["value_share"] = prof["window_value"] / max(prof["window_value"].sum(), 1e-12)
        prof["rank"] = range(1, len(self.segments_) + 1)
        prof = prof.reset_index().rename(columns={"index": "segment"})
        if features is not None:
            extra = self._profile(features, ["recency_days", "frequency", "monetary"])
            prof = prof.merge(extra.drop(columns=["rank", "customers", "share"]), on="segment", how="left")
        return prof[["segment", "rank", "customers", "share", "window_value", "value_share",
                     *[c for c in prof.columns if c in ("recency_days", "frequency", "monetary")]]]

    def describe(self) -> list[str]:
        """Each window month's VIP and GOOD thresholds (the value of the last customer above the cut)."""
        if self.boundary_ is None or self.boundary_.empty:  # fitted with segments_only, or no month ranked
            return []
        b = self.boundary_.pivot(index="month", columns="cut", values="threshold")
        return [f"percentile_tiers thresholds ({self.criterion}, value of the last customer above the cut): "
                + "; ".join(f"{m} VIP >= {number_text(row.get('VIP/GOOD'))}, "
                            f"GOOD >= {number_text(row.get('GOOD/REGULAR'))}" for m, row in b.iterrows())]
