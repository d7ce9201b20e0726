"""RFM: recency, frequency and monetary scores with named segments.

Scores: 1..bins, higher is better (a recent purchase gets a high R). A customer's score
is ``floor((r - 1) * bins / n) + 1`` where ``r`` is the rank of its value among the ``n`` customers
(1 = worst). Customers with equal values share one rank: the group holding the *worst* value takes
its lowest rank (so the many one-time buyers all get F = 1), the group holding the *best* value its
highest rank (so when most customers buy every month, they all get F = 5, not 1), and any other
group its middle (average) rank. So equal values always get equal scores, scores never decrease as
the value improves, and without ties every score holds n / bins customers (+-1). Ties make bins
uneven instead of silently merging them; ``bin_sizes_`` shows by how much, and ``cut_points_``
shows each score's actual value range.

Example
-------
>>> import pandas as pd
>>> f = pd.DataFrame({"customer_id": list("abcdefghij"), "recency_days": range(10),
...                   "frequency": [1] * 10, "monetary": range(10, 20)})
>>> RFMSegmenter(bins=5).fit_features(f).scores_["rfm_r"].tolist()
[5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import yaml

from ..engines import engine_name, same_text, text_sorted
from ..errors import ParameterError, SegkitError
from ._base import SchemeMixin, number_text, ranked_segments, text_categories

if TYPE_CHECKING:
    from ..config import RunParams
    from .registry import SchemeInputs

__all__ = ["RFMSegmenter", "cell_segments", "load_segment_map", "rfm_scores", "tie_aware_score", "score_columns",
           "segment_expression", "DEFAULT_MAP"]

DEFAULT_MAP = "rfm_segments.yml"
_DIMENSIONS = {"rfm_r": ("recency_days", -1), "rfm_f": ("frequency", 1), "rfm_m": ("monetary", 1)}


def rfm_scores(values: pd.Series | np.ndarray, bins: int, higher_is_better: bool = True) -> np.ndarray:
    """Tie-aware quantile scores 1..bins (see the module docstring).

    >>> rfm_scores(pd.Series([1, 2, 2, 3]), 2).tolist()
    [1, 1, 1, 2]
    """
    v = np.asarray(values, dtype=float)
    n = len(v)
    if n == 0:
        return np.array([], dtype=np.int64)
    x = v if higher_is_better else -v
    rank = np.full(n, np.nan)  # NaN where the value is missing: it scores 1
    valued = ~np.isnan(x)
    if valued.any():
        # one sort: a value held by c customers, with `low` customers below it, has the ranks
        # low+1 .. low+c; the lowest value takes its lowest rank, the highest its highest, the others
        # the average low + (c+1)/2 (exact: a whole or half number), as pandas' rank would give
        _, codes, counts = np.unique(x[valued], return_inverse=True, return_counts=True)
        low = np.cumsum(counts) - counts
        level_rank = low + (counts + 1) / 2
        if len(counts) > 1:
            level_rank[0], level_rank[-1] = 1.0, float(low[-1] + counts[-1])
        rank[valued] = level_rank[codes.ravel()]
    score = np.floor((rank - 1) * bins / n)
    return (np.nan_to_num(score, nan=0.0).astype(np.int64) + 1).clip(1, bins)


def tie_aware_score(low: ir.IntegerValue, ties: ir.IntegerValue, n: ir.IntegerValue, bins: int,
                    valued: ir.IntegerValue | None = None) -> ir.IntegerValue:
    """:func:`rfm_scores`' rule as an engine expression, in exact integer arithmetic.

    ``low`` = how many customers hold a worse value (``rank()`` - 1), ``ties`` = how many hold
    this value, ``n`` = customers, ``valued`` = those with a value (default ``n``; a missing value
    is ranked by no one and scores 1, as in :func:`rfm_scores`). The value's lowest rank is
    ``low + 1``, its highest ``low + ties``;
    twice the rank used (lowest, highest, or their sum for the average) keeps it whole, and
    ``floor((2r - 2) * bins / 2n) + 1`` is the score. Ibis divides in floating point on some
    backends before the floor; the quotient's error stays far below the gap to the next integer
    (at least 1/2n) until n passes 10^13 customers, so the floor is exact.

    >>> t = ibis.memtable({"low": [0, 1, 1, 3], "ties": [1, 2, 2, 1], "n": [4, 4, 4, 4]})
    >>> t.select(s=tie_aware_score(t.low, t.ties, t.n, 2)).to_pandas()["s"].tolist()
    [1, 1, 1, 2]
    """
    lowest, highest = low == 0, low + ties == (n if valued is None else valued)
    twice = ibis.cases((lowest & ~highest, 2 * (low + 1)), (highest & ~lowest, 2 * (low + ties)),
                       else_=2 * low + 1 + ties)
    return ((twice - 2) * bins // (2 * n) + 1).cast("int64")


def score_columns(table: ir.Table, bins: int, keep: Sequence[str] = ()) -> ir.Table:
    """``customer_id``, ``keep``, ``rfm_r``, ``rfm_f``, ``rfm_m`` of a feature table, computed in the engine.

    Per dimension, the distinct values with their customer counts (``ties``) and, by a running sum
    over them in order (worst first), how many customers hold a worse value (``low``, what
    ``rank()`` - 1 gives); joined back to the customers and scored by :func:`tie_aware_score`.
    Measured on 3.4M customers (DuckDB, 2 cores): 2-3 s, where ``rank()`` and a tie count as
    windows over all customers took 12-15 s (two sorts of every customer per dimension; here
    only the few distinct values are sorted). A float zero is made +0.0 first: engines may tell
    -0.0 from 0.0 when they group, where pandas' ranks do not. A missing value (NULL or NaN) scores
    1 and counts among the customers, as in :func:`rfm_scores`: the customer stays in the table.
    """
    values = {}
    for col, (source, _) in _DIMENSIONS.items():
        v = table[source]
        if v.type().is_floating():
            v = ibis.cases((v == 0, 0.0), (v.isnan(), ibis.null("float64")), else_=v)
        values[f"_{col}"] = v
    base = table.select(customer_id=table.customer_id.cast("string"), **{k: table[k] for k in keep}, **values)
    # the customers, and per dimension those with a value: one row, joined to every customer
    totals = base.aggregate(_n=base.count().cast("int64"),
                            **{f"_{col}_valued": base[f"_{col}"].count().cast("int64") for col in _DIMENSIONS})
    joined = base.cross_join(totals)
    for col, (_, sign) in _DIMENSIONS.items():
        key = f"_{col}"
        valued = base.filter(base[key].notnull())
        counts = valued.group_by(key).aggregate(ties=valued[key].count().cast("int64"))
        order = counts[key] if sign > 0 else counts[key].desc()
        running = counts.ties.sum().over(ibis.window(order_by=order, preceding=None, following=0))
        columns = {f"{key}_ties": counts.ties, f"{key}_low": (running - counts.ties).cast("int64")}
        joined = joined.left_join(counts.select(key, **columns), key).drop(f"{key}_right")
    scores = {col: ibis.cases((joined[f"_{col}"].isnull(), ibis.literal(1, type="int64")),
                              else_=tie_aware_score(joined[f"_{col}_low"], joined[f"_{col}_ties"], joined["_n"],
                                                    bins, joined[f"_{col}_valued"]))
              for col in _DIMENSIONS}
    return joined.select("customer_id", *keep, **scores)


def segment_expression(cells: pd.DataFrame, r: ir.IntegerValue, f: ir.IntegerValue,
                       m: ir.IntegerValue) -> ir.StringValue:
    """The segment of score columns ``r``, ``f``, ``m`` as one CASE expression over a cell table.

    A segment map places a cell by R and F + M only (:meth:`SegmentMap.cells`), so each R's
    segments cover runs of F + M: one branch per run (about a dozen for 5 bins), where a join
    with the cell table would need a table in the engine, and PostgreSQL planned that join as a
    nested loop over every customer and cell.

    >>> cells = pd.DataFrame({"rfm_r": [1, 1, 1, 1], "rfm_f": [1, 1, 2, 2], "rfm_m": [1, 2, 1, 2],
    ...                       "rfm_segment": ["low", "mid", "mid", "high"]})
    >>> t = ibis.memtable({"r": [1, 1, 1], "f": [1, 2, 2], "m": [2, 2, 1]})
    >>> t.select(s=segment_expression(cells, t.r, t.f, t.m)).to_pandas()["s"].tolist()
    ['mid', 'high', 'mid']
    """
    pairs = (cells.assign(fm=cells["rfm_f"] + cells["rfm_m"])[["rfm_r", "fm", "rfm_segment"]]
             .drop_duplicates().sort_values(["rfm_r", "fm"]))
    if pairs.duplicated(["rfm_r", "fm"]).any():  # not a map's cells: equal R and F + M, other segments
        raise SegkitError("the cell table gives one R and F + M several segments", where="RFM segment cells",
                          fix="build the cells with SegmentMap.cells")
    fm = f + m
    branches = []
    for (score, segment), g in pairs.groupby(["rfm_r", "rfm_segment"], sort=False):
        runs: list[list[int]] = []
        for value in g["fm"].astype(int):
            if runs and value == runs[-1][1] + 1:
                runs[-1][1] = value
            else:
                runs.append([value, value])
        branches += [((r == int(score)) & fm.between(lo, hi), str(segment)) for lo, hi in runs]
    return ibis.cases(*branches, else_=ibis.null("string"))


class SegmentMap:
    """Named regions of the (r, fm) square; see ``rfm_segments.yml``."""

    def __init__(self, segments: list[dict], source: str):
        self.segments = segments
        self.source = source

    @property
    def names(self) -> list[str]:
        return [s["name"] for s in self.segments]

    def cells(self, bins: int) -> pd.DataFrame:
        """Every (R, F, M) score cell with the segment it falls in; raises when coverage fails."""
        grid = np.array(np.meshgrid(*(np.arange(1, bins + 1),) * 3, indexing="ij")).reshape(3, -1).T
        rows, missing, twice = [], [], []
        for r_, f_, m_ in grid:
            r = Fraction(int(r_) - 1, bins - 1)
            fm = Fraction(int(f_) + int(m_) - 2, 2 * (bins - 1))
            hits = [s["name"] for s in self.segments if any(_inside(r, reg["r"]) and _inside(fm, reg["fm"])
                                                            for reg in s["regions"])]
            if not hits:
                missing.append((int(r_), int(f_), int(m_)))
            elif len(hits) > 1:
                twice.append(((int(r_), int(f_), int(m_)), hits))
            else:
                rows.append((int(r_), int(f_), int(m_), hits[0]))
        if missing or twice:
            parts = []
            if missing:
                parts.append(f"{len(missing)} score cell(s) (R, F, M) belong to no segment, e.g. {missing[:6]}")
            if twice:
                parts.append(f"{len(twice)} cell(s) belong to several segments, e.g. "
                             + "; ".join(f"{c}: {', '.join(h)}" for c, h in twice[:4]))
            raise SegkitError(" and ".join(parts), where=f"RFM segment map {self.source} with {bins} bins",
                              fix="adjust the regions so that they cover the (r, fm) square exactly once")
        return pd.DataFrame(rows, columns=["rfm_r", "rfm_f", "rfm_m", "rfm_segment"])


def _inside(x: Fraction, interval: list) -> bool:
    lo, hi = (Fraction(str(b)) for b in interval)
    return lo <= x < hi or (hi == 1 and x == 1)


def load_segment_map(path: str | Path | None = None) -> SegmentMap:
    """Read and check a segment map (default: the one shipped with segkit)."""
    if path is None:
        text = resources.files("segkit.schemes").joinpath(DEFAULT_MAP).read_text(encoding="utf-8")
        source = f"segkit default ({DEFAULT_MAP})"
    else:
        p = Path(path)
        if not p.is_file():
            raise SegkitError(f"the RFM segment map {str(p)!r} does not exist", where=str(p),
                              fix="check the path, or leave it out to use the default map")
        text, source = p.read_text(encoding="utf-8"), str(p)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SegkitError("the RFM segment map is not valid YAML", where=source,
                          fix="check indentation and brackets") from exc
    segments = raw.get("segments") if isinstance(raw, dict) else None
    if not isinstance(segments, list) or not segments:
        raise SegkitError("the RFM segment map has no `segments:` list", where=source,
                          fix="start from segkit's rfm_segments.yml")
    names = set()
    for i, seg in enumerate(segments, 1):
        ok = isinstance(seg, dict) and isinstance(seg.get("name"), str) and isinstance(seg.get("regions"), list)
        ok = ok and all(isinstance(r, dict) and {"r", "fm"} <= set(r) and all(
            isinstance(r[k], list) and len(r[k]) == 2 and 0 <= float(r[k][0]) < float(r[k][1]) <= 1
            for k in ("r", "fm")) for r in seg["regions"])
        if not ok:
            raise SegkitError(f"segment #{i} is malformed", where=source,
                              fix="write `- name: ...` with `regions: [{r: [low, high], fm: [low, high]}]`, "
                                  "bounds between 0 and 1")
        if seg["name"] in names:
            raise SegkitError(f"segment name {seg['name']!r} is used twice", where=source,
                              fix="give each segment a unique name")
        names.add(seg["name"])
    return SegmentMap(segments, source)


def _key(path: str | Path | None) -> tuple[str | None, tuple[int, int] | None]:
    """A map's cache key: its path and the file's modification time and size (an edit is read again)."""
    if path is None or not Path(path).is_file():
        return (None if path is None else str(path)), None
    st = Path(path).stat()
    return str(path), (st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=16)
def _segment_map(path: str | None, stamp: tuple[int, int] | None) -> SegmentMap:
    del stamp  # part of the cache key only
    return load_segment_map(path)


@functools.lru_cache(maxsize=16)
def _cells(path: str | None, stamp: tuple[int, int] | None, bins: int) -> pd.DataFrame:
    return _segment_map(path, stamp).cells(bins)


def segment_cells(path: str | Path | None, bins: int) -> pd.DataFrame:
    """:meth:`SegmentMap.cells` of the map at ``path`` (None: the default map), read once per file version.

    Every fit (earlier cut-offs, stability resamples) needs the same cell table; reading the YAML
    and checking coverage each time cost about 0.3 s a fit. Returns a copy.
    """
    return _cells(*_key(path), int(bins)).copy()


def cell_segments(cells: pd.DataFrame, bins: int, r: Any, f: Any, m: Any) -> pd.Categorical:
    """Each customer's segment from its three scores (1..``bins``) by the cell table ``cells``
    (:func:`segment_cells`): the ``rfm_segment`` a left merge on the scores gives, as categories of the
    segments that occur, sorted as text (:func:`~segkit.schemes._base.text_categories`); a cell the
    table lacks gives a missing segment.

    >>> cells = pd.DataFrame({"rfm_r": [1, 1, 2, 2], "rfm_f": [1, 2, 1, 2], "rfm_m": [1, 1, 1, 1],
    ...                       "rfm_segment": ["Lost", "Lost", "New", "Champions"]})
    >>> c = cell_segments(cells, 2, [2, 1, 2], [1, 1, 1], [1, 1, 2])
    >>> c.categories.tolist(), c.tolist()
    (['Lost', 'New'], ['New', 'Lost', nan])
    """
    names = text_categories(cells["rfm_segment"])
    lookup = np.full(bins ** 3, -1, dtype=np.int64)
    lookup[_cell_index(cells["rfm_r"], cells["rfm_f"], cells["rfm_m"], bins)] = names.codes
    codes = lookup[_cell_index(r, f, m, bins)]
    return text_categories(pd.Categorical.from_codes(codes, categories=names.categories))


def _cell_index(r: Any, f: Any, m: Any, bins: int) -> np.ndarray:
    """Each (r, f, m) cell's position among the bins³ cells."""
    r, f, m = (np.asarray(v, dtype=np.int64) - 1 for v in (r, f, m))
    return (r * bins + f) * bins + m


class RFMSegmenter(SchemeMixin):
    """RFM scores at as_of and named segments.

    Parameters
    ----------
    bins : int
        Scores run 1..bins (2..20; the default map needs at least 2).
    segment_map : path or None
        A YAML map like segkit's ``rfm_segments.yml``; None uses the default.

    Attributes (after fit)
    ----------------------
    scores_ : DataFrame customer_id, rfm_r, rfm_f, rfm_m (int8: 1..bins), rfm_segment
    cut_points_ : DataFrame dimension, score, customers, min, max (the value range of each score)
    bin_sizes_ : DataFrame dimension, score, customers, ideal, difference (how ties moved sizes)
    cells_ : DataFrame of every score cell and its segment
    """

    def __init__(self, bins: int = 5, segment_map: str | Path | None = None):
        self.bins = bins
        self.segment_map = segment_map

    @classmethod
    def from_params(cls, params: "RunParams") -> "RFMSegmenter":
        """RFM with the run's number of score bins and segkit's segment map."""
        return cls(bins=params.rfm_bins)

    def features_at_refit(self) -> tuple[str, ...]:
        """The ids and the three features scored."""
        return ("customer_id", "recency_days", "frequency", "monetary")

    def fit(self, inputs: "SchemeInputs") -> "RFMSegmenter":
        """Score the customers of ``inputs.features`` (recency, frequency, monetary at the cut-off)."""
        return self.fit_features(inputs.features)

    def _check(self, columns: Sequence[str], where: str) -> None:
        """The bins and the feature columns, with the same messages for pandas and engine input."""
        if not isinstance(self.bins, (int, np.integer)) or not 2 <= self.bins <= 20:
            raise ParameterError(f"rfm_bins must be a whole number from 2 to 20, got {self.bins!r}",
                                 where="rfm_bins", fix="use e.g. 5")
        missing = {"customer_id", "recency_days", "frequency", "monetary"} - set(columns)
        if missing:
            raise ParameterError(f"the features lack {sorted(missing)}", where=where,
                                 fix="pass segkit.features.customer_features(...)")

    def _use_map(self) -> SegmentMap:
        """Read the segment map: the cells, the segment names and their descriptions."""
        smap = _segment_map(*_key(self.segment_map))
        self.cells_ = segment_cells(self.segment_map, self.bins)
        self.segments_ = smap.names
        self.descriptions_ = {s["name"]: s.get("description", "") for s in smap.segments}
        return smap

    def fit_features(self, features: pd.DataFrame) -> "RFMSegmenter":
        """Score the customers of a :func:`segkit.features.customer_features` frame."""
        self._check(features.columns, "RFMSegmenter.fit")
        if features.empty:
            raise ParameterError("no customers to score", where="RFMSegmenter.fit", fix="check the calibration period")
        self._use_map()
        # the features come sorted by customer_id (checked in Arrow: no sort, no Python object per id)
        f = features if text_sorted(features["customer_id"]) else features.sort_values("customer_id", kind="stable")
        scores = pd.DataFrame({"customer_id": f["customer_id"].astype(str).reset_index(drop=True)})
        cuts, sizes = [], []
        n = len(f)
        for col, (source, sign) in _DIMENSIONS.items():
            values = f[source].to_numpy(dtype=float)
            scores[col] = rfm_scores(values, self.bins, higher_is_better=sign > 0).astype(np.int8)  # bins <= 20
            g = pd.DataFrame({"score": scores[col], "v": values}).groupby("score")["v"].agg(["size", "min", "max"])
            g = g.reindex(range(1, self.bins + 1))
            for s, row in g.iterrows():
                cuts.append({"dimension": col[-1].upper(), "feature": source, "score": s,
                             "customers": int(0 if pd.isna(row["size"]) else row["size"]),
                             "min": None if pd.isna(row["min"]) else float(row["min"]),
                             "max": None if pd.isna(row["max"]) else float(row["max"])})
                size = int(0 if pd.isna(row["size"]) else row["size"])
                sizes.append({"dimension": col[-1].upper(), "score": s, "customers": size,
                              "ideal": round(n / self.bins, 1), "difference": round(size - n / self.bins, 1)})
        # the labels as categories, shared by the scores and labels_ (one byte per customer, not its text),
        # looked up by cell: a merge with the cells would copy every customer's id
        scores["rfm_segment"] = cell_segments(self.cells_, self.bins, scores["rfm_r"], scores["rfm_f"], scores["rfm_m"])
        self.scores_ = scores
        self.cut_points_ = pd.DataFrame(cuts)
        self.bin_sizes_ = pd.DataFrame(sizes)
        self.labels_ = pd.Series(scores["rfm_segment"].array, index=pd.Index(scores["customer_id"]).rename(None))
        self._features = f
        return self

    monthly_at_refit = False  # scores the feature table only

    def rank_table(self, features: ir.Table, monthly: ir.Table, as_of: object = None) -> ir.Table:
        """``customer_id, rank`` of :meth:`segment_table` for the customers of ``features``, as an
        engine expression (:meth:`score_table`'s segments); ``monthly`` and ``as_of`` are not read."""
        scores = self.score_table(features)
        return scores.select("customer_id", rank=ranked_segments(scores.rfm_segment, list(self.segments_)))

    def score_table(self, table: ir.Table, keep: Sequence[str] = ()) -> ir.Table:
        """The scores of :attr:`scores_` as an engine expression over a feature table.

        ``table``: :func:`segkit.features.customer_features_table` (or any table with
        ``customer_id``, ``recency_days``, ``frequency``, ``monetary``). Returns ``customer_id``,
        ``rfm_r``, ``rfm_f``, ``rfm_m``, ``rfm_segment`` and the ``keep`` columns of ``table``, the
        same values as :meth:`fit_features` gives, in no particular order; nothing runs until the
        caller fetches it (``.to_pandas()``, ``.to_pyarrow()``) or writes it. Group-bys, joins and
        a running sum (a window function): it runs on DuckDB, PySpark and SQL databases such as
        PostgreSQL; Ibis' Polars backend has no window functions, so there it raises
        :class:`~segkit.errors.ParameterError`. Sets :attr:`cells_`, :attr:`segments_` and
        :attr:`descriptions_`; the per-score tables (:attr:`cut_points_`, :attr:`bin_sizes_`) and
        :meth:`profile` stay :meth:`fit_features`'.

        Example
        -------
        >>> t = ibis.memtable({"customer_id": list("abcd"), "recency_days": [3, 1, 2, 2],
        ...                    "frequency": [1, 1, 2, 5], "monetary": [10.0, 30.0, 20.0, 20.0]})
        >>> s = RFMSegmenter(bins=2).score_table(t).to_pandas().sort_values("customer_id")
        >>> s[["rfm_r", "rfm_f", "rfm_m"]].to_numpy().tolist()
        [[1, 1, 1], [2, 1, 2], [1, 2, 1], [1, 2, 1]]
        """
        self._check(table.columns, "RFMSegmenter.score_table")
        absent = [c for c in keep if c not in table.columns]
        if absent:
            raise ParameterError(f"the columns to keep {absent} are not in the feature table",
                                 where="RFMSegmenter.score_table", fix=f"keep some of {list(table.columns)}")
        if engine_name(table.get_backend()) == "polars":
            raise ParameterError("RFM scores in the engine need window functions, which Ibis' Polars backend lacks",
                                 where="RFMSegmenter.score_table",
                                 fix="load with engine duckdb or pyspark, or score customer_features(...) with "
                                     "fit_features")
        self._use_map()
        scores = score_columns(table, self.bins, keep)
        segment = segment_expression(self.cells_, scores.rfm_r, scores.rfm_f, scores.rfm_m)
        return scores.select("customer_id", "rfm_r", "rfm_f", "rfm_m", rfm_segment=segment,
                             **{k: scores[k] for k in keep})

    def segment_table(self) -> pd.DataFrame:
        """``customer_id, segment, rank`` plus the scores ``rfm_r``, ``rfm_f``, ``rfm_m``."""
        table = super().segment_table()
        scores = self.scores_
        if same_text(table["customer_id"], scores["customer_id"]) and scores.index.equals(table.index):
            # the same customers in the same order (both come sorted): the columns are shared with scores_
            # (copy-on-write), no lookup of the text ids nor a copy (81 MB at 3.37M customers)
            for col in ("rfm_r", "rfm_f", "rfm_m"):
                table[col] = scores[col]
            return table
        scores = scores.set_index("customer_id")[["rfm_r", "rfm_f", "rfm_m"]].reindex(table["customer_id"])
        for col in scores.columns:
            table[col] = scores[col].to_numpy()
        return table

    def describe(self) -> list[str]:
        """Each score's value range and customers, per dimension."""
        lines = []
        for dim, g in self.cut_points_.groupby("dimension", sort=False):
            lines.append(f"rfm {dim} ({g['feature'].iloc[0]}): " + ", ".join(
                f"{int(r.score)}: " + ("empty" if not r.customers else
                                       f"{number_text(r.min)}..{number_text(r.max)} ({r.customers:,})")
                for r in g.itertuples()))
        return lines

    def profile(self) -> pd.DataFrame:
        """Per segment: customers, share, mean recency, frequency, monetary and the description."""
        self._check_fitted()
        prof = self._profile(self._features, ["recency_days", "frequency", "monetary"])
        prof["description"] = prof["segment"].map(self.descriptions_)
        return prof
