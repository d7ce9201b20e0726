"""The segmentation schemes, all on the same customers and with the same interface.

:mod:`segkit.schemes.registry` names every scheme (class, label, colour, tie-break rank,
assignment columns) and defines the protocol they all follow: ``from_params(params)``,
``fit(inputs)``, ``segment_table()`` (``customer_id, segment, rank``, sorted by customer_id) and
``profile()``. Fitted schemes also expose ``segments_`` (labels in rank order, rank 1 = most
valuable). Overrides place customers by hand; they are not compared as a scheme (relationship stages
live in :mod:`segkit.decisions.stages`).
"""

from .kmeans import KMeansSegmenter
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
    "load_overrides",
    "apply_overrides",
    "load_segment_map",
    "exact_ceil",
    "TIERS",
]
