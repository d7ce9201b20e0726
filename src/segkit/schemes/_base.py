"""What every scheme shares: the segment table and fitted-state checks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..engines import _index_in, _is_arrow, _is_categorical, _text, left_join, text_categories, text_sorted
from ..errors import SegkitError


def isin(ids: pd.Index | pd.Series, members: Iterable[str] | pd.Series | pd.Index) -> np.ndarray:
    """Boolean mask: which of the string ``ids`` are among ``members`` (missing ids: False).

    pandas' Arrow-backed strings build one Python object per value for ``isin`` and ``set()``
    (16 s for 800k customers); this stays in Arrow and takes milliseconds. Missing values (None, NaN)
    on either side match nothing.
    """
    if _is_categorical(members):  # only the categories that occur
        cat = members.array if isinstance(members, (pd.Series, pd.Index)) else members
        codes = np.asarray(cat.codes)
        members = cat.categories[np.unique(codes[codes >= 0])]
    if _is_categorical(ids):  # decide per category, then look up each row's code
        cat = ids.array if isinstance(ids, (pd.Series, pd.Index)) else ids
        codes = np.asarray(cat.codes)
        return np.append(isin(cat.categories, members), False)[codes]  # code -1 (missing) -> False
    if not isinstance(members, (pd.Series, pd.Index, np.ndarray, list, tuple)):  # a set, dict keys, a generator
        members = list(members)
    text, among = _text(ids), _text(members)
    if _is_arrow(ids) and _is_arrow(members) and not text.null_count and _same_text(text, among):
        return np.ones(len(text), dtype=bool)  # the same ids (two tables of one run's customers): no hash
    # skip_nulls: a missing member matches nothing, so a missing id stays False
    return pc.fill_null(pc.is_in(text, value_set=among, skip_nulls=True), False).to_numpy(zero_copy_only=False)


def _same_text(a: pa.Array | pa.ChunkedArray, b: pa.Array | pa.ChunkedArray) -> bool:
    """Whether two Arrow text columns hold the same values in the same order (one pass, no hash)."""
    chunked = [x if isinstance(x, pa.ChunkedArray) else pa.chunked_array([x]) for x in (a, b)]
    return len(a) == len(b) and chunked[0].equals(chunked[1])


def positions(ids: pd.Index | pd.Series | np.ndarray, members: pd.Index | pd.Series | np.ndarray) -> np.ndarray:
    """Each of the string ``ids``' position in ``members`` (unique), -1 where it is not among them.

    The lookup of :func:`isin`, in Arrow: one hash of ``members``, no Python object per id.

    >>> positions(pd.Index(["b", "x", None]), pd.Index(["a", "b"])).tolist()
    [1, -1, -1]
    """
    return _index_in(_text(ids), _text(members))


#: the segment of a customer seen up to the cut-off without a purchase (only returns) in a scheme
#: without an INACTIVE tier: such customers are listed in assignments.csv but never segmented,
#: clustered or scored (README, "Customers without a purchase")
NO_PURCHASE = "No purchase"


def no_purchase_values(scheme: type | object) -> Mapping[str, Any]:
    """What a scheme's segment-table columns say for a customer without a purchase.

    The scheme's ``no_purchase`` mapping (column -> value; columns it leaves out stay empty), else
    ``{"segment": NO_PURCHASE}`` (a plug-in scheme that says nothing).

    >>> no_purchase_values(object)
    {'segment': 'No purchase'}
    """
    return dict(getattr(scheme, "no_purchase", None) or {"segment": NO_PURCHASE})


class NotFittedError(SegkitError, AttributeError):
    """A scheme was used before ``fit``."""


class SegmentLabelError(SegkitError, ValueError):
    """A fitted scheme gives a customer a label that its ``segments_`` do not list (no rank for it)."""


class SchemeMixin:
    """``segment_table`` built from ``labels_`` (Series customer_id -> label) and ``segments_``."""

    segments_: list[str]
    labels_: pd.Series
    #: segment-table columns -> value for a customer without a purchase up to the cut-off (not fitted
    #: on, not scored); columns left out (scores, cluster numbers, predictions) stay empty
    no_purchase: ClassVar[Mapping[str, Any]] = {"segment": NO_PURCHASE}
    #: whether ``fit`` reads ``inputs.monthly`` when refitted against a reference (an earlier backtest
    #: cut-off): a scheme that does not, or that ranks in the engine (``rank_table``), lets the run
    #: keep an earlier cut-off's customer-month table in the engine (a plug-in is assumed to read it)
    monthly_at_refit: ClassVar[bool] = True

    def features_at_refit(self) -> tuple[str, ...] | None:
        """The feature columns ``fit`` reads when refitted against a reference (an earlier backtest
        cut-off, the refit one month earlier; ``customer_id`` among them), or None for all of them (the
        default: a plug-in may read any). The run keeps only the columns its schemes name for those
        refits (~0.1 KB per customer and column while they wait for their turn)."""
        return None

    def _check_fitted(self) -> None:
        if not hasattr(self, "labels_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet", fix="call fit(...) first")

    def segment_table(self) -> pd.DataFrame:
        """``customer_id, segment, rank`` (rank 1 = most valuable, int32), one row per customer, sorted.

        Built once per fit (:meth:`_cached`): a run asks for the same table several times.
        """
        self._check_fitted()
        return self._cached("segment_table", (self.labels_, tuple(self.segments_)), self._build_segment_table)

    def _build_segment_table(self) -> pd.DataFrame:
        # the labels as categories (one byte per customer; a scheme's own labels_ usually are already)
        segment = text_categories(self.labels_)
        out = pd.DataFrame({"customer_id": self.labels_.index.astype(str), "segment": segment})
        # each label's rank looked up once per category, not per customer
        where = np.append(positions(segment.categories, pd.Index(self.segments_, dtype=object)), -1)[segment.codes]
        if (where < 0).any():  # a label outside segments_ has no rank: say which, and whose
            odd = pd.unique(out["segment"][where < 0])
            raise SegmentLabelError(
                f"{type(self).__name__} labels {int((where < 0).sum())} customer(s) with segment(s) not among its "
                f"segments_ {list(self.segments_)}: {[str(x) for x in odd[:5]]}",
                where=f"{type(self).__name__}.labels_ / segments_",
                fix="list every label the scheme gives in segments_ (best first), or label customers only with those")
        out["rank"] = (where + 1).astype(np.int32)  # 4 bytes per customer in every table a run keeps
        if text_sorted(out["customer_id"]):  # usually built sorted: a stable sort changes nothing
            return out
        return out.sort_values("customer_id", kind="stable").reset_index(drop=True)

    def _cached(self, name: str, key: tuple[Any, ...], build: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """``build()``'s frame, built once while ``key`` holds, handed out as a copy.

        Building a per-customer table (text ids sorted, labels cast to text) costs seconds per million
        customers. ``key``: the fitted objects (compared by identity: a refit or renumbering replaces
        them) and plain values (compared by equality) the table is made from. The copy is shallow:
        under pandas' copy-on-write a caller adding or changing a column changes only its own copy.
        """
        cache = self.__dict__.get("_table_cache") or {}
        hit = cache.get(name)
        fitted = (pd.Series, pd.DataFrame, np.ndarray)  # compared by identity
        if hit is not None and len(hit[0]) == len(key) and all(
                a is b if isinstance(b, fitted) else a == b for a, b in zip(hit[0], key)):
            return hit[1].copy(deep=False)
        out = build()
        # a new dict, never changed in place: a shallow copy of the scheme (``reshared``) keeps its own
        self._table_cache = {**cache, name: (key, out)}
        return out.copy(deep=False)

    def __getstate__(self) -> dict[str, Any]:
        """The fitted state without the cached segment table (rebuilt on demand after unpickling)."""
        state = dict(self.__dict__)
        state.pop("_table_cache", None)
        return state

    def describe(self) -> list[str]:
        """Lines for ``segkit segment``'s summary beyond the segment sizes (cut points, k, ...)."""
        return []

    def _profile(self, features: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        table = self.segment_table()
        # columns the segment table already holds stay its own (a merge would rename both to _x/_y,
        # and the potential scheme's profile lost its mean predictions that way)
        extra = ["customer_id", *(c for c in columns if c in features.columns and c not in table.columns)]
        features = features[extra]
        if not pd.api.types.is_string_dtype(features["customer_id"]):  # the segment table's ids are text
            features = features.assign(customer_id=features["customer_id"].astype(str))
        table = left_join(table, features)  # Arrow lookups, not pandas' hash of every customer's text
        agg = {c: (c, "mean") for c in columns if c in table}
        prof = table.groupby("segment", observed=True).agg(customers=("customer_id", "size"), **agg)
        prof = prof.reindex(self.segments_)
        prof["customers"] = prof["customers"].fillna(0).astype("int64")
        prof.insert(1, "share", prof["customers"] / max(len(table), 1))
        prof.insert(0, "rank", range(1, len(self.segments_) + 1))
        return prof.reset_index().rename(columns={"index": "segment"})


def number_text(x: float | None) -> str:
    """A number with at most two decimals and no trailing zeros ('-' when missing).

    >>> number_text(1234.5), number_text(2.0), number_text(None)
    ('1,234.5', '2', '-')
    """
    if x is None or pd.isna(x):
        return "-"
    return f"{x:,.2f}".rstrip("0").rstrip(".")


def ranked_segments(segment: Any, segments: list[str]) -> Any:
    """An engine expression's segment labels as ranks: the position in ``segments`` (best first) + 1,
    as :meth:`SchemeMixin.segment_table` numbers them; NULL for a label outside ``segments``."""
    import ibis

    return ibis.cases(*((segment == name, i + 1) for i, name in enumerate(segments)), else_=ibis.null("int64"))
