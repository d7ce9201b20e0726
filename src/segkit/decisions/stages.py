"""Relationship stages: exploration, awareness, expansion, commitment, dissolution.

Computed at a cut-off (``as_of``) from the customer x month table; months are counted back from
as_of's month (as_of's month is 0). For each customer: ``first`` and ``last`` — months since the
first and the last purchase month; ``active`` — months with a purchase; ``usual_gap`` — its own
rhythm, (first - last) / (active - 1) months between purchase months; ``recent`` and ``before`` —
net revenue of the last :data:`COMPARE_MONTHS` months and of the ones before those. Rules, in order:

1. **exploration** — one purchase month so far, less than :data:`EXPLORATION_MONTHS` ago;
2. **dissolution** — one purchase month, longer ago (it never came back); or gone quiet relative
   to its own rhythm: ``last >= max(QUIET_MIN_MONTHS, QUIET_FACTOR x usual_gap)``; or declining:
   ``recent <= DECLINE_RATIO x before``;
3. **expansion** — spend growing: ``recent >= GROWTH_RATIO x before``, or frequency growing: more
   purchase months in the recent span than in the one before;
4. **commitment** — steady with a long tenure and a regular rhythm: ``first + 1 >=
   COMMITMENT_TENURE_MONTHS`` and ``active >= COMMITMENT_MIN_ACTIVE``;
5. **awareness** — everyone else: repeat purchases have started, the relationship is still young.

The spend comparisons (declining, expansion) apply only when ``before > 0`` and the customer buys
more often than the span (``usual_gap < COMPARE_MONTHS``): for a quarterly buyer three quiet months
are its rhythm, not a decline, and only "gone quiet" can end its relationship.

A customer passed in ``customers`` with no purchase up to as_of is in **dissolution**.

These stages replace the earlier lifecycle labels (new, growing, steady, declining, lapsed, lost):
``lifecycle_stage`` in ``assignments.csv`` carries these names.
:data:`LIFECYCLE_TO_STAGE` maps old labels for reading old outputs (roughly: new -> exploration,
growing -> expansion, steady -> commitment, declining/lapsed/lost -> dissolution).

Example
-------
>>> import pandas as pd
>>> m = pd.DataFrame({"customer_id": ["a", "b", "b"], "month": pd.to_datetime(["2024-06-01", "2024-01-01",
...     "2024-02-01"]), "revenue": [10.0, 5.0, 5.0], "purchases": [1, 1, 1]})
>>> relationship_stages(m, "2024-06-30")["stage"].tolist()
['exploration', 'dissolution']
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..engines import compensated_sum, count_true, kahan_rows, lookup, ordered_sums, text_categories, text_sorted, to_pandas
from ..errors import ParameterError
from ..features import _round_half_even


__all__ = ["relationship_stages", "stages_of", "per_customer_frame", "per_customer_frames", "stages_table", "stage_transitions", "stage_check", "STAGES", "STAGE_ORDER",
           "LIFECYCLE_TO_STAGE", "CHECK_MIN_CUSTOMERS", "EXPLORATION_MONTHS", "QUIET_MIN_MONTHS", "QUIET_FACTOR",
           "COMPARE_MONTHS",
           "DECLINE_RATIO", "GROWTH_RATIO", "COMMITMENT_TENURE_MONTHS", "COMMITMENT_MIN_ACTIVE"]

STAGES = ["exploration", "awareness", "expansion", "commitment", "dissolution"]
#: expected order of the holdout purchase rate, highest first (growing before steady: measured so on
#: CDNOW and the synthetic b2b data)
STAGE_ORDER = ["expansion", "commitment", "awareness", "exploration", "dissolution"]
#: stages with fewer customers than this are shown but left out of the order check (too few to rank)
CHECK_MIN_CUSTOMERS = 30
LIFECYCLE_TO_STAGE = {"new": "exploration", "growing": "expansion", "steady": "commitment",
                      "declining": "dissolution", "lapsed": "dissolution", "lost": "dissolution"}

EXPLORATION_MONTHS = 3       # a first purchase this recent is still a trial
QUIET_MIN_MONTHS = 3         # never call a silence shorter than this "gone quiet"
QUIET_FACTOR = 3.0           # quiet = silent for three times its own usual gap (by chance ~5% for a steady buyer)
COMPARE_MONTHS = 3           # spans compared for growth and decline
DECLINE_RATIO = 1 / 3        # recent spend at most a third of the span before: declining
GROWTH_RATIO = 1.25          # recent spend at least 1.25x the span before: expanding
COMMITMENT_TENURE_MONTHS = 6  # months from the first purchase month to as_of's, inclusive
COMMITMENT_MIN_ACTIVE = 4    # purchase months needed for a regular rhythm


def _per_customer(monthly: pd.DataFrame, as_of: dt.date | str) -> pd.DataFrame:
    cut = pd.Timestamp(as_of)
    cut_m = pd.Timestamp(cut.year, cut.month, 1)
    month = pd.to_datetime(monthly["month"])
    # only the columns used: every copy below is of all the rows up to the cut-off
    keep = [c for c in ("customer_id", "month", "revenue", "purchases") if c in monthly.columns]
    m = monthly.loc[month <= cut_m, keep].assign(customer_id=lambda d: d["customer_id"].astype(str))
    month = pd.to_datetime(m["month"])
    m = m.assign(_age=(cut_m.year - month.dt.year) * 12 + cut_m.month - month.dt.month)
    # the text ids hashed once: every group-by and lookup below works on their codes, whose order is
    # the ids' order (factorize sorts), so groups, sums and the index come out as with the text
    codes, ids = pd.factorize(m["customer_id"], sort=True)
    if (codes < 0).any():  # a missing id: the text's own group-bys leave it out
        m, codes = m[codes >= 0], codes[codes >= 0]
    # the text ids are coded: no copy below carries them (nor a column it does not read)
    m = m.assign(_code=codes)[["_code", "_age", *[c for c in ("revenue", "purchases") if c in m]]]
    code, age = m["_code"].to_numpy(), m["_age"].to_numpy()
    paid = (m["purchases" if "purchases" in m else "revenue"] > 0).to_numpy()
    # per-customer maxima, minima and counts over the codes with numpy's unbuffered ufuncs and bincount:
    # the same integers as pandas' group-bys, which hash the codes once more per aggregate (6.56M rows: 3.6 -> 0.2 s)
    k, paid_code, paid_age = len(ids), code[paid], age[paid]
    has = np.bincount(paid_code, minlength=k) > 0  # the customers with a purchase month: the rows of the result
    first, last = np.full(k, age.min() if len(age) else 0, dtype=age.dtype), np.full(k, age.max() if len(age) else 0,
                                                                                    dtype=age.dtype)
    np.maximum.at(first, paid_code, paid_age)
    np.minimum.at(last, paid_code, paid_age)
    months = _months_per_customer(paid_code, paid_age, k)
    out = pd.DataFrame({"first": first[has], "last": last[has], "active": months(np.ones(len(paid_code), bool))[has]})
    recent_span, before_span = age < COMPARE_MONTHS, (age >= COMPARE_MONTHS) & (age <= 2 * COMPARE_MONTHS - 1)
    revenue = m["revenue"].to_numpy()
    for name, span in (("recent", recent_span), ("before", before_span)):  # oldest month first, as the engine
        sums = ordered_sums(code[span], -age[span], revenue[span])  # indexed by the codes that have rows
        total = np.zeros(k)
        total[sums.index.to_numpy()] = sums.to_numpy()
        out[name] = np.where(np.isnan(total), 0.0, total)[has]
    # months with a purchase per span; 0.0 where none, and then floats (as a count per customer with
    # such months, reindexed to every customer and filled with 0)
    for name, span in (("recent_active", paid_age < COMPARE_MONTHS),
                       ("before_active", (paid_age >= COMPARE_MONTHS) & (paid_age <= 2 * COMPARE_MONTHS - 1))):
        counts = months(span)[has]
        out[name] = counts if (counts > 0).all() else counts.astype(float)
    out.index = pd.Index(ids[np.flatnonzero(has)], name="customer_id")
    return out


def _months_per_customer(code: np.ndarray, age: np.ndarray, k: int) -> Callable[[np.ndarray], np.ndarray]:
    """``count(rows)``: each of the ``k`` customers' distinct months among ``rows`` (a mask of the rows).

    A customer-month table has one row per customer and month: a count of rows is then the count of
    months. The tables segkit builds are sorted by month, then customer, which one comparison of
    neighbours confirms; any other table counts each (customer, month) pair once."""
    key = -age.astype(np.int64) * k + code  # the oldest month first, its customers in order
    if len(key) < 2 or bool((key[1:] > key[:-1]).all()):
        return lambda rows: np.bincount(code[rows], minlength=k)
    width = int(age.max()) + 1  # ages are months back from the cut-off: 0 or more

    def count(rows: np.ndarray) -> np.ndarray:
        pairs = np.unique(code[rows].astype(np.int64) * width + age[rows])
        return np.bincount(pairs // width, minlength=k)
    return count


def relationship_stages(monthly: pd.DataFrame, as_of: dt.date | str,
                        customers: pd.Series | None = None) -> pd.DataFrame:
    """Stage of every customer at ``as_of``; ``customers`` limits the rows (default: all buyers so far).

    Returns ``customer_id, stage, first, last, active, usual_gap, recent, before`` sorted by customer_id;
    ``stage`` is pandas categories of the stages that occur, sorted as text (``.astype(str)``: the text).
    """
    return stages_of(_per_customer(monthly, as_of), customers)


def stages_of(per_customer: pd.DataFrame, customers: pd.Series | None = None) -> pd.DataFrame:
    """:func:`relationship_stages` from each customer's months already counted: ``per_customer`` is
    :func:`per_customer_frame` (computed in the engine) or the same columns computed in pandas."""
    f = per_customer
    ids = pd.Index(pd.Series(customers, dtype=str) if customers is not None else f.index, name="customer_id")
    if not text_sorted(ids, strict=True):  # the features' ids come sorted and unique
        ids = pd.Index(pd.unique(ids), name="customer_id").sort_values()
    # a plain row index: numpy's calls on the columns below would otherwise hash the text ids (0.35 s at 3.37M)
    f = pd.DataFrame(lookup(f, ids, np.nan))
    usual_gap = (f["first"] - f["last"]) / (f["active"] - 1).where(f["active"] > 1)
    one = f["active"] == 1
    quiet = f["last"] >= np.maximum(QUIET_MIN_MONTHS, QUIET_FACTOR * usual_gap.fillna(0))
    # spans shorter than the customer's own rhythm would call every pause a decline
    comparable = (f["before"] > 0) & (usual_gap < COMPARE_MONTHS)
    declining = comparable & (f["recent"] <= DECLINE_RATIO * f["before"])
    growing = comparable & ((f["recent"] >= GROWTH_RATIO * f["before"]) | (f["recent_active"] > f["before_active"]))
    committed = (f["first"] + 1 >= COMMITMENT_TENURE_MONTHS) & (f["active"] >= COMMITMENT_MIN_ACTIVE)
    # a code per customer, then its stage as categories of the stages that occur, sorted as text (one
    # byte per customer, not its text: about 60 MB at 3.4M customers)
    code = np.select(
        [f["active"].isna(), one & (f["first"] < EXPLORATION_MONTHS), one | quiet | declining, growing, committed],
        [0, 1, 0, 2, 3], default=4)
    stage = text_categories(pd.Categorical.from_codes(
        code, categories=pd.Index(["dissolution", "exploration", "expansion", "commitment", "awareness"], dtype="str")))
    out = f.assign(customer_id=ids.array, stage=stage, usual_gap=usual_gap.round(6))
    return out[["customer_id", "stage", "first", "last", "active", "usual_gap", "recent", "before"]]


def per_customer_frame(monthly: ir.Table, as_of: dt.date | str, *, one_row_per_month: bool = False) -> pd.DataFrame:
    """Each customer's months before the stage rules, counted in the engine: the frame
    :func:`relationship_stages` builds from a pandas customer-month table, here from
    :func:`segkit.features.customer_month_table` (or any table with ``customer_id``, ``month``,
    ``revenue`` and, optionally, ``purchases``), so only one row per customer comes back.

    Indexed by ``customer_id`` (sorted), columns ``first, last`` (months back from ``as_of``'s
    month to the first and the last purchase month), ``active``, ``recent``, ``before``,
    ``recent_active``, ``before_active``: the same values and types as the pandas frame
    (``tests/test_stages_engine.py``). :func:`stages_of` applies the rules. ``one_row_per_month``:
    the table is known to hold one row per customer and month (a customer-month table segkit
    built): months are counted as rows, much faster than as distinct values.
    """
    return per_customer_frames(monthly, [as_of], one_row_per_month=one_row_per_month)[0]


def per_customer_frames(monthly: ir.Table, cut_offs: list[dt.date | str], *,
                        one_row_per_month: bool = False) -> list[pd.DataFrame]:
    """:func:`per_customer_frame` at each of ``cut_offs``, counted in one query (one grouping of the
    customer months, one fetch of the ids: the run's cut-off and the one a month earlier)."""
    last = max(pd.Timestamp(c) for c in cut_offs)
    m = _months_before(monthly, last)
    counts = {}
    for i, cut in enumerate(pd.Timestamp(c) for c in cut_offs):  # months back from this cut-off's month
        age = m._age - ((last.year - cut.year) * 12 + last.month - cut.month)
        counts.update(_month_counts(m, age, one_row_per_month, f"_{i}"))
    per = m.group_by("customer_id").aggregate(**counts)
    per = per.filter(per.customer_id.notnull(), ibis.or_(*(per[f"active_{i}"] > 0 for i in range(len(cut_offs)))))
    frame = to_pandas(per.order_by("customer_id"))
    ids = pd.Index(frame["customer_id"].astype(str), name="customer_id")
    return [_counted_frame(frame, ids, f"_{i}") for i in range(len(cut_offs))]


def _counted_frame(frame: pd.DataFrame, ids: pd.Index, suffix: str) -> pd.DataFrame:
    """One cut-off's columns of :func:`per_customer_frames`' fetched ``frame``: its customers with a
    purchase month by then, with the pandas frame's types."""
    rows = (frame[f"active{suffix}"] > 0).to_numpy()
    part = frame[rows] if not rows.all() else frame

    def col(name: str) -> np.ndarray:
        return part[f"{name}{suffix}"].to_numpy()

    out = pd.DataFrame({"first": col("first").astype(_AGE_DTYPE), "last": col("last").astype(_AGE_DTYPE),
                        "active": col("active").astype(np.int64)}, index=ids[rows] if not rows.all() else ids)
    for name, span in _SPANS.items():  # oldest month first, the engine's Kahan steps (0.0 without a month)
        out[name] = kahan_rows([part[f"_a{a}{suffix}"].to_numpy(float) for a in span])
    for name in ("recent_active", "before_active"):  # integers when every customer has such a month, as in pandas
        counts = col(name).astype(np.int64)
        out[name] = counts if (counts > 0).all() else counts.astype(float)
    return out


def _months_before(monthly: ir.Table, as_of: pd.Timestamp) -> ir.Table:
    """``customer_id, month, revenue, paid, _age`` (months back from ``as_of``'s month) of the months up to it."""
    m = monthly.select(customer_id=monthly.customer_id.cast("string"), month=monthly.month.cast("date"),
                       revenue=monthly.revenue.cast("float64"),
                       paid=monthly["purchases" if "purchases" in monthly.columns else "revenue"] > 0)
    m = m.filter(m.month <= ibis.literal(dt.date(as_of.year, as_of.month, 1), type="date"))
    return m.mutate(_age=((as_of.year - m.month.year()) * 12 + (as_of.month - m.month.month())).cast("int64"))


def _month_counts(m: ir.Table, age: ir.IntegerValue, one_row_per_month: bool, suffix: str = "") -> dict[str, ir.Value]:
    """The per-customer aggregates of the stage rules over the rows of ``m`` with ``age`` >= 0 (months
    back from a cut-off's month): first and last purchase month, months with a purchase (all, in the
    recent span, in the one before) and each span month's revenue (``_a<age>``)."""
    paid = m.paid & (age >= 0)

    def months(where: ir.BooleanValue) -> ir.IntegerValue:
        return count_true(where) if one_row_per_month else age.nunique(where=where)

    return {f"first{suffix}": age.max(where=paid), f"last{suffix}": age.min(where=paid),
            f"active{suffix}": months(paid), f"recent_active{suffix}": months(paid & (age < COMPARE_MONTHS)),
            f"before_active{suffix}": months(paid & age.between(COMPARE_MONTHS, 2 * COMPARE_MONTHS - 1)),
            **{f"_a{a}{suffix}": m.revenue.sum(where=age == a) for a in _SPAN_AGES}}


#: the months (back from the cut-off's) of each compared span, oldest first
_SPANS = {"recent": range(COMPARE_MONTHS - 1, -1, -1), "before": range(2 * COMPARE_MONTHS - 1, COMPARE_MONTHS - 1, -1)}
_SPAN_AGES = [age for ages in _SPANS.values() for age in ages]
#: months back from the cut-off, as pandas computes them from a month's calendar year (int32 in pandas 3)
_AGE_DTYPE = pd.Series(pd.to_datetime(["2024-01-01"])).dt.year.dtype


def stages_table(monthly: ir.Table, as_of: dt.date | str, customers: ir.Table | None = None) -> ir.Table:
    """:func:`relationship_stages` as an engine expression: the same rows and values, nothing fetched.

    ``monthly``: :func:`segkit.features.customer_month_table` (one row per customer and month with
    ``revenue`` and, optionally, ``purchases``). ``customers``: a table with ``customer_id`` (e.g.
    :func:`segkit.features.customer_features_table`): exactly its customers get a row, those without
    a purchase up to ``as_of`` in **dissolution** with NULL counts; without it, every customer with a
    purchase month. Returns ``customer_id, stage, first, last, active, usual_gap, recent, before`` in
    no particular order. The spans' revenue is summed month by month, oldest first, with the Kahan
    steps :func:`relationship_stages` uses (:func:`segkit.engines.compensated_sum`) and
    ``usual_gap`` is rounded as numpy rounds, so the stages and figures equal the pandas ones. Group-bys
    and joins only: DuckDB, Polars, PySpark and SQL databases.

    Example
    -------
    >>> m = ibis.memtable({"customer_id": ["a", "b", "b"], "month": pd.to_datetime(["2024-06-01", "2024-01-01",
    ...     "2024-02-01"]), "revenue": [10.0, 5.0, 5.0], "purchases": [1, 1, 1]})
    >>> stages_table(m, "2024-06-30").order_by("customer_id").to_pandas()["stage"].tolist()
    ['exploration', 'dissolution']
    """
    if customers is not None and "customer_id" not in customers.columns:
        raise ParameterError("the customers table lacks 'customer_id'", where="stages_table",
                             fix="pass segkit.features.customer_features_table(...) or a table of ids")
    per = _per_customer_table(monthly, as_of)
    if customers is not None:
        ids = customers.select(customer_id=customers.customer_id.cast("string")).distinct()
        per = ids.filter(ids.customer_id.notnull()).left_join(per, "customer_id").drop("customer_id_right")
    return per.select("customer_id", stage=_stage(per), first=per["first"], last=per["last"], active=per.active,
                      usual_gap=_round_half_even(_usual_gap(per)), recent=per.recent, before=per.before)


def _per_customer_table(monthly: ir.Table, as_of: dt.date | str, *, one_row_per_month: bool = False,
                        sums: bool = True) -> ir.Table:
    """One row per customer with a purchase month up to ``as_of``'s month: ``first, last, active,
    recent_active, before_active, recent, before`` (the spans' revenue Kahan-summed oldest month first).

    ``one_row_per_month``: the table has one row per customer and month (as
    :func:`segkit.features.customer_month_table` builds it), so the months with a purchase are
    counted as rows, not as distinct months (three ``COUNT(DISTINCT)`` took 4.4 of 5.9 s over
    6.5M customer-months). ``sums=False``: each span month's revenue as ``_a<age>`` instead of the sums.
    """
    m = _months_before(monthly, pd.Timestamp(as_of))
    per = m.group_by("customer_id").aggregate(**_month_counts(m, m._age, one_row_per_month))
    per = per.filter(per.active > 0)
    if not sums:
        return per
    for name, ages in _SPANS.items():
        per = compensated_sum(per, "customer_id", [f"_a{a}" for a in ages]).rename({name: "_sum"})
    return per


def _usual_gap(f: ir.Table) -> ir.FloatingValue:
    """(first - last) / (active - 1) months between purchase months; NULL for one purchase month."""
    return ibis.cases((f.active > 1, (f["first"] - f["last"]).cast("float64") / (f.active - 1).cast("float64")),
                      else_=ibis.null("float64"))


def _stage(f: ir.Table) -> ir.StringValue:
    """:func:`relationship_stages`' rules, in order, on :func:`stages_table`'s per-customer columns."""
    def const(x: float) -> ir.FloatingScalar:
        return ibis.literal(float(x), type="float64")

    gap = _usual_gap(f)
    one = f.active == 1
    quiet = f["last"].cast("float64") >= ibis.greatest(const(QUIET_MIN_MONTHS), const(QUIET_FACTOR) * gap.fill_null(0.0))
    comparable = (f.before > 0) & (gap < COMPARE_MONTHS).fill_null(False)
    declining = comparable & (f.recent <= const(DECLINE_RATIO) * f.before)
    growing = comparable & ((f.recent >= const(GROWTH_RATIO) * f.before) | (f.recent_active > f.before_active))
    committed = (f["first"] + 1 >= COMMITMENT_TENURE_MONTHS) & (f.active >= COMMITMENT_MIN_ACTIVE)
    return ibis.cases((f.active.isnull(), "dissolution"), (one & (f["first"] < EXPLORATION_MONTHS), "exploration"),
                      (one | quiet | declining, "dissolution"), (growing, "expansion"), (committed, "commitment"),
                      else_="awareness")


def stage_transitions(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Customers moving between stages from one cut-off (rows) to a later one (columns).

    Customers absent at the earlier cut-off are counted in the row ``(new)``.

    >>> import pandas as pd
    >>> a = pd.DataFrame({"customer_id": ["x"], "stage": ["exploration"]})
    >>> b = pd.DataFrame({"customer_id": ["x", "y"], "stage": ["awareness", "exploration"]})
    >>> stage_transitions(a, b).loc["exploration", "awareness"], stage_transitions(a, b).loc["(new)", "exploration"]
    (np.int64(1), np.int64(1))
    """
    n = len(STAGES)
    now = _stage_codes(after["stage"], unknown=-1)  # not a stage (or missing) now: not counted
    then = _stage_codes(before["stage"], unknown=n + 1, missing=n)  # missing earlier: "(new)"
    ids = before["customer_id"]
    # each customer's earlier stage by position (one Arrow hash of the ids), not a merge of text ids
    # and a crosstab of text (3.37M customers: the run's peak memory sat here)
    earlier = lookup(pd.Series(then, index=pd.Index(ids, dtype=ids.dtype)), after["customer_id"], n)
    earlier = np.asarray(earlier, dtype=np.int64)
    counted = (now >= 0) & (earlier <= n)
    counts = np.bincount(earlier[counted] * n + now[counted], minlength=(n + 1) * n).reshape(n + 1, n)
    return pd.DataFrame(counts, index=pd.Index([*STAGES, "(new)"]), columns=pd.Index(STAGES)).rename_axis(
        index="stage at the earlier cut-off", columns="stage at the later cut-off")


def _stage_codes(stage: pd.Series, *, unknown: int, missing: int | None = None) -> np.ndarray:
    """Each stage's position in :data:`STAGES` (int64); ``unknown`` for other text, ``missing`` (default
    ``unknown``) for a missing value."""
    if isinstance(stage.dtype, pd.CategoricalDtype):  # each category looked up once, then every row's code
        per_category = _stage_codes(pd.Series(stage.cat.categories.astype(str)), unknown=-1)
        codes = np.append(per_category, -1)[np.asarray(stage.cat.codes)]
    else:
        # found in Arrow: pandas' Categorical made one Python string per customer to hash them (0.2 GB
        # at 3.37M customers, left behind as scattered free memory before the contact list)
        text = stage if isinstance(stage.dtype, pd.StringDtype) else stage.astype("str")
        found = pc.index_in(pa.array(text.array, from_pandas=True), value_set=pa.array(STAGES))
        codes = pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    codes[codes < 0] = unknown
    if missing is not None:
        codes[stage.isna().to_numpy()] = missing
    return codes


def _with_bought(stages: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """``stages.merge(outcomes, on="customer_id", how="left")``: each customer's ``bought`` looked up in
    Arrow when the outcomes hold each id once in order (as holdout_outcomes gives them); pandas' merge
    of text ids builds its hash table of one Python string per customer on both sides (0.47 GB at
    3.37M customers, the decisions' peak)."""
    ids = outcomes["customer_id"].astype(str)
    if not text_sorted(ids, strict=True):
        return stages.merge(outcomes, on="customer_id", how="left")
    have = pd.Series(outcomes["bought"].to_numpy(), index=pd.Index(ids))
    found = lookup(have, stages["customer_id"].astype(str), np.nan)
    return stages.reset_index(drop=True).assign(bought=found)


def stage_check(stages: pd.DataFrame, outcomes: pd.DataFrame, *,
                min_customers: int = CHECK_MIN_CUSTOMERS) -> tuple[pd.DataFrame, bool]:
    """Holdout purchase rate by stage and whether it falls along :data:`STAGE_ORDER`.

    ``outcomes``: ``customer_id, bought`` (segkit.features.holdout_outcomes). Stages with fewer
    than ``min_customers`` customers are shown (``checked`` False) but left out of the order
    check. Returns (table, ordered).

    >>> import pandas as pd
    >>> s = pd.DataFrame({"customer_id": list("abc"), "stage": ["commitment", "awareness", "dissolution"]})
    >>> o = pd.DataFrame({"customer_id": list("abc"), "bought": [True, True, False]})
    >>> stage_check(s, o, min_customers=1)[1]
    True
    """
    joined = _with_bought(stages[["customer_id", "stage"]], outcomes[["customer_id", "bought"]])
    joined["bought"] = joined["bought"].fillna(False).astype(bool)
    table = joined.groupby("stage").agg(customers=("customer_id", "size"), bought=("bought", "sum"))
    table = table.reindex(STAGE_ORDER).dropna()
    table = table.astype({"customers": "int64", "bought": "int64"})
    table["purchase_rate"] = (table["bought"] / table["customers"]).round(6)
    table["checked"] = table["customers"] >= min_customers
    rates = table.loc[table["checked"], "purchase_rate"].to_numpy()
    return table.rename_axis("stage").reset_index(), bool(np.all(np.diff(rates) <= 0))
