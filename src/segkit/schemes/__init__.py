"""The segmentation schemes, all on the same customers and with the same interface.

:mod:`segkit.schemes.registry` names every scheme (class, label, colour, tie-break rank,
assignment columns) and defines the protocol they all follow: ``from_params(params)``,
``fit(inputs)``, ``segment_table()`` (``customer_id, segment, rank``, sorted by customer_id) and
``profile()``. Fitted schemes also expose ``segments_`` (labels in rank order, rank 1 = most
valuable). Lifecycle stages and overrides describe customers but are not compared as schemes.
"""

from .kmeans import KMeansSegmenter
from .lifecycle import LIFECYCLE_STAGES, lifecycle_stages
from .overrides import apply_overrides, load_overrides
from .potential import PotentialTiers
from .registry import Scheme, SchemeInputs, SchemeSpec
from .rfm import RFMSegmenter, load_segment_map
from .tiers import TIERS, PercentileTiers, exact_ceil

__all__ = [
    "Scheme",
    "SchemeInputs",
    "SchemeSpec",
    "PercentileTiers",
    "RFMSegmenter",
    "KMeansSegmenter",
    "PotentialTiers",
    "lifecycle_stages",
    "load_overrides",
    "apply_overrides",
    "load_segment_map",
    "exact_ceil",
    "TIERS",
    "LIFECYCLE_STAGES",
]
