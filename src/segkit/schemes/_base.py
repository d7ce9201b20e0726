"""What every scheme shares: the segment table and fitted-state checks."""

from __future__ import annotations

import pandas as pd

from ..errors import SegkitError


class NotFittedError(SegkitError, AttributeError):
    """A scheme was used before ``fit``."""


class SchemeMixin:
    """``segment_table`` built from ``labels_`` (Series customer_id -> label) and ``segments_``."""

    segments_: list[str]
    labels_: pd.Series

    def _check_fitted(self) -> None:
        if not hasattr(self, "labels_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet", fix="call fit(...) first")

    def segment_table(self) -> pd.DataFrame:
        """``customer_id, segment, rank`` (rank 1 = most valuable), one row per customer, sorted."""
        self._check_fitted()
        rank = {label: i + 1 for i, label in enumerate(self.segments_)}
        out = pd.DataFrame({"customer_id": self.labels_.index.astype(str), "segment": self.labels_.astype(str).values})
        out["rank"] = out["segment"].map(rank).astype("int64")
        return out.sort_values("customer_id", kind="stable").reset_index(drop=True)

    def _profile(self, features: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        table = self.segment_table().merge(features, on="customer_id", how="left")
        agg = {c: (c, "mean") for c in columns if c in table}
        prof = table.groupby("segment", observed=True).agg(customers=("customer_id", "size"), **agg)
        prof = prof.reindex(self.segments_)
        prof["customers"] = prof["customers"].fillna(0).astype("int64")
        prof.insert(1, "share", prof["customers"] / max(len(table), 1))
        prof.insert(0, "rank", range(1, len(self.segments_) + 1))
        return prof.reset_index().rename(columns={"index": "segment"})
