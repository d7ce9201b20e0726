"""Percentile tiers as engine expressions: :meth:`PercentileTiers.fit_monthly`'s rules in Ibis.

Built by :meth:`segkit.schemes.PercentileTiers.tiers_table` over a customer x month table
(:func:`segkit.features.customer_month_table`), so the ranking runs where the data lives and only
what the caller fetches comes back. The pieces, each the pandas step it stands for:

- **Monthly ranks**: ``row_number()`` over each month ordered by value descending, then
  customer_id ascending, and ``count()`` over the month; the rows with value <= 0 are numbered in a
  partition of their own and hold no tier.
- **Shares in integers**: ceil(p * n / q) = (p * n + q - 1) // q with the share as the fraction p / q
  it was written as (:func:`share_ceil`), so 20% of 15 is 3 as in :func:`~segkit.schemes.tiers.exact_ceil`.
- **Window totals** (``period_total``, ``abc``, the alerts' value at risk): the customer's window
  months as columns, summed month by month, oldest first, with Kahan steps (:func:`window_totals`),
  the steps the pandas fit takes (:func:`segkit.engines.ordered_sums`), so a total such as
  0.1 + 0.2 + 0.3 is the float pandas gets (0.6), not SQL's plain sum (0.6000000000000001), and ties
  at a cut break as in pandas.

Customer ids are ordered by the engine's string order: bytewise on DuckDB and Spark, the column's
collation on a SQL database (``C`` orders as Python and pandas do; a locale collation such as
``en_US`` can break a tie at a cut the other way).
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import NamedTuple

import ibis
import ibis.expr.types as ir

from ..engines import kahan_sum
from ..features import _round_half_even

__all__ = ["TierTables", "share_ceil", "window_totals"]

_LEVELS = ("INACTIVE", "REGULAR", "GOOD", "VIP")  # a customer's best rule wins: the highest level


class TierTables(NamedTuple):
    """The expressions of :meth:`segkit.schemes.PercentileTiers.tiers_table` (nothing runs until fetched).

    ``labels``: ``customer_id``, ``percentile_tier`` (:attr:`labels_`); ``monthly``: ``customer_id``,
    ``month`` ('YYYY-MM'), ``value``, ``monthly_tier`` (:attr:`monthly_tiers_`); ``alerts``:
    ``customer_id``, ``last_vip_month``, ``last_payment``, ``value_at_risk`` (:attr:`alerts_`).
    """

    labels: ir.Table
    monthly: ir.Table
    alerts: ir.Table


def share_ceil(share: float, n: ir.IntegerValue) -> ir.IntegerValue:
    """ceil(share * n) in integer arithmetic: :func:`segkit.schemes.tiers.exact_ceil` as an expression.

    The share is the fraction p / q it was written as; ceil(p * n / q) = (p * n + q - 1) // q. Ibis
    divides in floating point on some backends before the floor, so the numerator is first made a
    multiple of q (``x - x % q``): the quotient is then a whole number, exact while p * n stays
    below 2**53 (n below 9 million for a share written with 9 decimals; n below 2**53 for 0.2 = 1/5).

    >>> t = ibis.memtable({"n": [15, 16, 0, 1, 10]})
    >>> t.select(v=share_ceil(0.2, t.n), w=share_ceil(0.1 + 0.2, t.n)).to_pandas().to_numpy().tolist()
    [[3, 5], [4, 5], [0, 0], [1, 1], [2, 3]]
    """
    f = Fraction(str(share)).limit_denominator(10**9)
    x = n.cast("int64") * f.numerator + (f.denominator - 1)
    return ((x - x % f.denominator) // f.denominator).cast("int64")


def rows_of(monthly: ir.Table, criterion: str, months: list[dt.date], customers: ir.Table | None) -> ir.Table:
    """``customer_id``, ``month`` (date), ``value`` (the criterion as float64), ``paid`` of the rows in ``months``.

    ``paid``: a purchase that month (``purchases`` > 0; without that column, value > 0). With
    ``customers``, only their rows (a customer seen with returns only holds no tier).
    """
    paid_col = "purchases" if "purchases" in monthly.columns else criterion
    rows = monthly.select(customer_id=monthly.customer_id.cast("string"), month=monthly.month.cast("date"),
                          value=monthly[criterion].cast("float64"), paid=monthly[paid_col] > 0)
    rows = rows.filter(rows.month.isin([ibis.literal(m, type="date") for m in months]))
    if customers is not None:
        rows = rows.semi_join(customer_ids(customers), "customer_id")
    return rows


def customer_ids(table: ir.Table) -> ir.Table:
    """The distinct customer ids of ``table`` as text (one column, ``customer_id``; no NULL)."""
    ids = table.select(customer_id=table.customer_id.cast("string")).distinct()
    return ids.filter(ids.customer_id.notnull())


def ranked(rows: ir.Table, value: str, by: list[str], vip_share: float, good_share: float) -> ir.Table:
    """``rows`` with ``tier``: VIP / GOOD / REGULAR within each group of ``by`` for value > 0, else NULL.

    Order: ``value`` descending, then customer_id ascending; the first ceil(vip_share * n) are VIP,
    of the rest the first ceil(good_share * rest) are GOOD.
    """
    rows = rows.mutate(_ranked=rows[value] > 0)
    group = [*by, "_ranked"]
    rows = rows.mutate(
        _pos=ibis.row_number().over(ibis.window(group_by=group, order_by=[rows[value].desc(), rows.customer_id])),
        _n=rows[value].count().over(ibis.window(group_by=group)).cast("int64"))
    vip = share_ceil(vip_share, rows._n)
    good = share_ceil(good_share, rows._n - vip)
    tier = ibis.cases((~rows._ranked, ibis.null("string")), (rows._pos < vip, "VIP"),
                      (rows._pos < vip + good, "GOOD"), else_="REGULAR")
    return rows.mutate(tier=tier).drop("_ranked", "_pos", "_n")


def window_totals(rows: ir.Table, window: list[dt.date], recent: list[dt.date]) -> ir.Table:
    """Per customer with rows in the window: ``total`` (the values summed month by month, Kahan-compensated
    as :func:`segkit.engines.ordered_sums` sums them in the pandas fit), ``paid`` (a purchase in the window: 1 or 0), ``paid_recent`` (one in the
    ``recent`` months) and ``last_paid`` (the last month with a purchase).

    The months become columns (one row per customer and month, so a month's value is its maximum);
    a month without a row is skipped, not added as 0 (adding 0 would fold the compensation in).
    """
    def month_of(m: dt.date) -> ir.BooleanValue:
        return rows.month == ibis.literal(m, type="date")

    recent_rows = rows.month.isin([ibis.literal(m, type="date") for m in recent])
    t = rows.group_by("customer_id").aggregate(
        paid=ibis.cases((rows.paid, 1), else_=0).max(),
        paid_recent=ibis.cases((rows.paid & recent_rows, 1), else_=0).max(),
        last_paid=rows.month.max(where=rows.paid),
        **{f"_m{i}": rows.value.max(where=month_of(m)) for i, m in enumerate(window)})
    fast = kahan_sum(t, [f"_m{i}" for i in range(len(window))])
    if fast is not None:  # DuckDB: the same steps as one expression per customer
        return t.select("customer_id", "paid", "paid_recent", "last_paid", total=fast)
    t = t.mutate(_s=ibis.literal(0.0, type="float64"), _c=ibis.literal(0.0, type="float64"))
    for i in range(len(window)):  # Kahan: y = v - c; t = s + y; c = (t - s) - y; s = t
        v = t[f"_m{i}"]
        y = v - t._c
        new_s = t._s + y
        new_c = (new_s - t._s) - y
        # one GROUP BY (one row per customer already) per month: a step PostgreSQL cannot merge into the
        # next. Merged, each step's expressions repeat the previous ones (s and c are used twice): 6 months
        # made a 121 kB plan and took 12 s for 6,421 customers.
        t = t.group_by("customer_id").aggregate(
            **{col: t[col].max() for col in t.columns if col not in ("customer_id", "_s", "_c")},
            _s=ibis.cases((v.isnull(), t._s), else_=new_s).max(),
            _c=ibis.cases((v.isnull(), t._c), else_=new_c).max())
    return t.select("customer_id", "paid", "paid_recent", "last_paid", total=t._s)


def _level_label(level: ir.IntegerValue) -> ir.StringValue:
    return ibis.cases(*((level == i, name) for i, name in enumerate(_LEVELS)), else_="INACTIVE")


def union_levels(r: ir.Table, window: list[dt.date]) -> ir.Table:
    """``monthly_union``: per customer, 3 if VIP in a window month, 2 if GOOD in one or VIP in a month of
    the previous window (``r``: the :func:`ranked` rows of both windows), 1 if it paid in the window, else 0."""
    in_window = r.month.isin([ibis.literal(m, type="date") for m in window])
    level = ibis.cases((in_window & (r.tier == "VIP"), 3), (in_window & (r.tier == "GOOD"), 2),
                       (~in_window & (r.tier == "VIP"), 2), (in_window & r.paid, 1), else_=0)
    return r.group_by("customer_id").aggregate(level=level.max())


def total_levels(totals: ir.Table, shares: tuple[float, float]) -> ir.Table:
    """``period_total``: the window totals > 0 ranked once as one month; else 1 if it paid, else 0."""
    r = ranked(totals, "total", [], *shares)
    level = ibis.cases((r.tier == "VIP", 3), (r.tier == "GOOD", 2), (r.tier == "REGULAR", 1),
                       (r.paid == 1, 1), else_=0)
    return r.select("customer_id", level=level)


def abc_levels(totals: ir.Table, abc_shares: tuple[float, float, float]) -> ir.Table:
    """``abc``: the totals > 0 by value descending (ties: customer_id); the share of value held by the
    customers before one decides: below A VIP, below A + B GOOD, else REGULAR (1e-9 slack, as in pandas)."""
    a, b, _ = abc_shares
    positive = totals.filter(totals.total > 0)
    order = [positive.total.desc(), positive.customer_id]
    running = positive.total.sum().over(ibis.window(order_by=order, preceding=None, following=0))
    before = (running - positive.total) / positive.total.sum().over(ibis.window())
    eps = 1e-9
    level = positive.select("customer_id", level=ibis.cases((before < a - eps, 3), (before < a + b - eps, 2),
                                                            else_=1))
    joined = totals.left_join(level, "customer_id")
    return joined.select(customer_id=joined.customer_id,
                         level=ibis.coalesce(joined.level, ibis.cases((joined.paid == 1, 1), else_=0)))


def labels_of(ids: ir.Table, levels: ir.Table) -> ir.Table:
    """Every id of ``ids`` with its window tier (INACTIVE where ``levels`` has no row)."""
    joined = ids.left_join(levels, "customer_id")
    return joined.select(customer_id=joined.customer_id,
                         percentile_tier=_level_label(ibis.coalesce(joined.level, 0)))


def alerts_of(ranked_rows: ir.Table, totals: ir.Table, customers: ir.Table | None) -> ir.Table:
    """VIP dropouts: VIP in a window month and no purchase in the recent months (``totals.paid_recent``).

    ``last_payment``: the customer's ``last_purchase`` ('YYYY-MM-DD') when ``customers`` has it, else
    the last window month with a purchase ('YYYY-MM'); ``value_at_risk``: the window total rounded
    to 6 decimals as pandas rounds.
    """
    vips = ranked_rows.filter(ranked_rows.tier == "VIP")
    vips = vips.group_by("customer_id").aggregate(last_vip=vips.month.max())
    dropped = vips.join(totals, "customer_id")
    dropped = dropped.filter(dropped.paid_recent == 0)
    last_payment = dropped.last_paid.strftime("%Y-%m")
    if customers is not None and "last_purchase" in customers.columns:
        known = customers.select(customer_id=customers.customer_id.cast("string"),
                                 _last_purchase=customers.last_purchase.cast("date"))
        dropped = dropped.left_join(known, "customer_id")
        last_payment = dropped._last_purchase.strftime("%Y-%m-%d")
    return dropped.select(customer_id=dropped.customer_id, last_vip_month=dropped.last_vip.strftime("%Y-%m"),
                          last_payment=last_payment, value_at_risk=_round_half_even(dropped.total))
