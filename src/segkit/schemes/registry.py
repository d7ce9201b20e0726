"""The scheme registry: the one place that names the segmentation schemes.

Each scheme is a :class:`SchemeSpec`: its name (the key in ``scorecard.json``), its class, the
label and colour the report shows, its rank in the tie-break (simplest first: when no scheme is
clearly better, the lowest rank among the best wins) and its columns in ``assignments.csv``.
The pipeline fits, scores and exports every registered scheme; the evaluation, the figures and
the notebooks iterate over the registry. None of them names a scheme.

Every scheme class follows one protocol, :class:`Scheme`: ``from_params(params)`` builds it from
the run parameters, ``fit(inputs)`` learns it from one :class:`SchemeInputs`, ``segment_table()``
returns ``customer_id, segment, rank`` (rank 1 = most valuable; extra columns allowed, e.g. the
ones it exports) and ``profile()`` describes its segments. A scheme never sees the customers
without a purchase (returns only); assignments.csv lists them with its optional class attribute
``no_purchase`` (segment-table column -> value; default ``{"segment": "No purchase"}``, other
columns empty).

Adding a scheme
---------------
*Inside segkit*: one module in ``src/segkit/schemes/`` with the class, and one :class:`SchemeSpec`
line in :data:`BUILTIN` below.

*As a plug-in* (your own package, no change to segkit): declare the spec under the entry-point
group ``segkit.schemes`` in your package metadata, e.g. in ``pyproject.toml``::

    [project.entry-points."segkit.schemes"]
    halves = "my_package.halves:SPEC"

where ``SPEC = SchemeSpec(name="halves", cls=Halves, label="Spend halves", color="#8d6e63", rank=5,
columns={"halves_segment": "segment"})``. Once the package is installed (``pip install -e .``),
every run, the CLI and the notebook kernels find it. Columns of schemes beyond the original three
(:data:`ORIGINAL`) are appended after ``recommended_segment``, so files read by position keep working.

Example
-------
>>> [s.name for s in schemes()]
['percentile_tiers', 'rfm', 'kmeans', 'potential']
>>> get("rfm").label, get("rfm").columns["rfm_segment"]
('RFM', 'segment')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import pandas as pd

from ..errors import SegkitError
from .kmeans import KMeansSegmenter
from .potential import PotentialTiers
from .rfm import RFMSegmenter
from .tiers import PercentileTiers

if TYPE_CHECKING:  # only for annotations: the registry sits below config and calendar in the flow
    from ..calendar import Split
    from ..config import RunParams

__all__ = ["Scheme", "SchemeInputs", "SchemeSpec", "BUILTIN", "ORIGINAL", "ENTRY_POINT_GROUP", "schemes", "get", "names",
           "register", "unregister", "reload", "RESERVED_COLUMNS", "LiveSequence", "LiveMapping"]

ENTRY_POINT_GROUP = "segkit.schemes"

#: columns of assignments.csv that belong to no scheme
RESERVED_COLUMNS = ("customer_id", "lifecycle_stage", "override_tier", "override_reason", "recommended_segment")


@dataclasses.dataclass(frozen=True)
class SchemeInputs:
    """What a scheme may learn from: everything is computed once per cut-off by the pipeline.

    Attributes
    ----------
    features : one row per customer with a purchase in calibration (:func:`segkit.features.customer_features`)
    monthly : customer x month table up to the cut-off (:func:`segkit.features.customer_month`);
        None at an earlier backtest cut-off for a scheme whose class says ``monthly_at_refit = False``
        when the customer months stayed in the engine (:mod:`segkit.backtest_engine`)
    split : the calibration / holdout periods; ``split.as_of`` is the cut-off
    params : the run's validated parameters
    reference : for the stability refit one month earlier, the same scheme fitted at the main
        cut-off (so k-means can keep its k and its cluster numbers); None for the main fit
    potential : one row per customer of ``features`` with the purchase model's summary
        (``customer_id, x, span_days, age_days, repeat_value`` of
        :func:`segkit.potential.purchase_summary` for the run's criterion), computed while the
        transactions are open; None when not computed (the potential scheme then refuses to fit)
    segments_only : the caller reads the fit's ``segment_table()`` and nothing else (the refits at
        earlier cut-offs, one month earlier and on resamples): a scheme may leave out what only its
        reports read (the percentile tiers: monthly tiers, alerts, movements, boundaries)
    refitted : for the refit one month earlier, scheme name -> ``customer_id, segment, rank`` of the
        schemes the pipeline already refitted in the engine (a scheme's ``refit_table``); those are
        not fitted again
    """

    features: pd.DataFrame
    monthly: pd.DataFrame | None
    split: "Split"
    params: "RunParams"
    reference: Any = None
    potential: pd.DataFrame | None = None
    segments_only: bool = False
    refitted: dict[str, pd.DataFrame] = dataclasses.field(default_factory=dict)


@runtime_checkable
class Scheme(Protocol):
    """The protocol every registered scheme class follows (same signatures for all).

    After ``fit`` a scheme also has ``segments_``: its labels in rank order (rank 1 first).
    """

    @classmethod
    def from_params(cls, params: "RunParams") -> "Scheme": ...

    def fit(self, inputs: SchemeInputs) -> "Scheme": ...

    def segment_table(self) -> pd.DataFrame: ...

    def profile(self) -> pd.DataFrame: ...


@dataclasses.dataclass(frozen=True)
class SchemeSpec:
    """One registry entry.

    ``columns`` maps each column the scheme adds to ``assignments.csv`` to the column of its
    ``segment_table()`` that fills it. ``prose`` is the name inside a sentence ("percentile
    tiers"); it defaults to ``label``.
    """

    name: str
    cls: type
    label: str
    color: str
    rank: int
    columns: Mapping[str, str]
    prose: str | None = None

    @property
    def noun(self) -> str:
        return self.prose or self.label


#: the schemes shipped with segkit
BUILTIN: tuple[SchemeSpec, ...] = (
    SchemeSpec("percentile_tiers", PercentileTiers, "Percentile tiers", "#0b4f6c", 1,
               {"percentile_tier": "segment"}, prose="percentile tiers"),
    SchemeSpec("rfm", RFMSegmenter, "RFM", "#e76f51", 2,
               {"rfm_r": "rfm_r", "rfm_f": "rfm_f", "rfm_m": "rfm_m", "rfm_segment": "segment"}),
    SchemeSpec("kmeans", KMeansSegmenter, "k-means", "#7b5ea7", 3,
               {"kmeans_cluster": "cluster", "kmeans_name": "name"}),
    SchemeSpec("potential", PotentialTiers, "Potential (predicted value)", "#2a9d8f", 4,
               {"potential_tier": "segment", "p_alive": "p_alive", "expected_purchases": "expected_purchases",
                "predicted_value": "predicted_value", "peer_headroom": "peer_headroom"},
               prose="potential tiers"),
)
#: the schemes of the original contract: their columns come before the shared columns of
#: assignments.csv; every later scheme's columns (``potential`` included) come after them
ORIGINAL = ("percentile_tiers", "rfm", "kmeans")

_state: dict[str, Any] = {"specs": None, "added": {}}


def _load_plugins() -> list[SchemeSpec]:
    found = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            spec = ep.load()
        except Exception as exc:  # a broken plug-in must say which one, not crash somewhere below
            raise SegkitError(f"the scheme plug-in {ep.name!r} ({ep.value}) cannot be loaded: {exc}",
                              where=f"entry point group {ENTRY_POINT_GROUP!r}",
                              fix="fix or uninstall the package that declares it") from exc
        if not isinstance(spec, SchemeSpec):
            raise SegkitError(f"the scheme plug-in {ep.name!r} ({ep.value}) is not a SchemeSpec",
                              where=f"entry point group {ENTRY_POINT_GROUP!r}",
                              fix="point the entry point at a segkit.schemes.registry.SchemeSpec object")
        found.append(spec)
    return found


def _check(specs: list[SchemeSpec]) -> None:
    names, columns = set(), set(RESERVED_COLUMNS)
    for spec in specs:
        if spec.name in names:
            raise SegkitError(f"two schemes are registered as {spec.name!r}", where="the scheme registry",
                              fix="give the plug-in scheme another name")
        clash = sorted(set(spec.columns) & columns)
        if clash:
            raise SegkitError(f"scheme {spec.name!r} exports column(s) {', '.join(clash)} that another scheme or "
                              "assignments.csv already uses", where="the scheme registry",
                              fix="prefix the scheme's columns with its name")
        names.add(spec.name)
        columns.update(spec.columns)


def schemes() -> tuple[SchemeSpec, ...]:
    """Every registered scheme, in tie-break order (rank, then name)."""
    if _state["specs"] is None:
        specs = [*BUILTIN, *_load_plugins(), *_state["added"].values()]
        _check(specs)
        _state["specs"] = tuple(sorted(specs, key=lambda s: (s.rank, s.name)))
    return _state["specs"]


def get(name: str) -> SchemeSpec:
    """The registry entry of ``name`` (KeyError when no such scheme is registered)."""
    for spec in schemes():
        if spec.name == name:
            return spec
    raise KeyError(name)


def names() -> tuple[str, ...]:
    """Registered scheme names in tie-break order."""
    return tuple(s.name for s in schemes())


def register(spec: SchemeSpec) -> SchemeSpec:
    """Add a scheme in this process (plug-ins that other processes must see use the entry point)."""
    _state["added"][spec.name] = spec
    _state["specs"] = None
    try:
        schemes()
    except SegkitError:
        del _state["added"][spec.name]
        _state["specs"] = None
        raise
    return spec


def unregister(name: str) -> None:
    """Remove a scheme added with :func:`register`."""
    _state["added"].pop(name, None)
    _state["specs"] = None


def reload() -> None:
    """Look for plug-ins again (after installing one in a running process)."""
    _state["specs"] = None


class LiveSequence(Sequence):
    """A read-only sequence recomputed from the registry on every use.

    Lets modules keep their constants (``SCHEMES``, ``SIMPLICITY``, ...) while a scheme registered
    later still shows up in them.

    >>> names_now = LiveSequence(names)
    >>> list(names_now)[:1], "rfm" in names_now
    (['percentile_tiers'], True)
    """

    def __init__(self, compute: Callable[[], Sequence[Any]]):
        self._compute = compute

    def __getitem__(self, index):
        return tuple(self._compute())[index]

    def __len__(self) -> int:
        return len(tuple(self._compute()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    def __repr__(self) -> str:
        return repr(list(self))


class LiveMapping(Mapping):
    """A read-only mapping recomputed from the registry on every use (see :class:`LiveSequence`)."""

    def __init__(self, compute: Callable[[], Mapping[str, Any]]):
        self._compute = compute

    def __getitem__(self, key: str) -> Any:
        return self._compute()[key]

    def __iter__(self):
        return iter(self._compute())

    def __len__(self) -> int:
        return len(self._compute())

    def __repr__(self) -> str:
        return repr(dict(self))
