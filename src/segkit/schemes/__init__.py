"""The segmentation schemes, all on the same customers and with the same interface.

Every fitted scheme exposes ``segments_`` (labels in rank order, rank 1 = most valuable),
``segment_table()`` (``customer_id, segment, rank``, sorted by customer_id) and ``profile()``.
"""

from .kmeans import KMeansSegmenter
from .lifecycle import LIFECYCLE_STAGES, lifecycle_stages
from .overrides import apply_overrides, load_overrides
from .rfm import RFMSegmenter, load_segment_map
from .tiers import TIERS, PercentileTiers, exact_ceil

__all__ = [
    "PercentileTiers",
    "RFMSegmenter",
    "KMeansSegmenter",
    "lifecycle_stages",
    "load_overrides",
    "apply_overrides",
    "load_segment_map",
    "exact_ceil",
    "TIERS",
    "LIFECYCLE_STAGES",
]
