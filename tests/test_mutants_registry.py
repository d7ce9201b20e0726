"""Registry behaviour that mutation testing found unchecked: the cache is rebuilt after register,
unregister and reload; plug-ins are loaded in name order; the tie-break order; the live views.

Plug-ins are faked by replacing the registry's ``entry_points`` (an installed package is what
tests/test_registry.py uses end to end); every test leaves the registry as it found it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from segkit.errors import SegkitError
from segkit.schemes import registry
from segkit.schemes.registry import LiveMapping, LiveSequence, SchemeSpec

BUILTIN_NAMES = ("percentile_tiers", "rfm", "kmeans", "potential")


class Toy:
    """Stands in for a scheme class: the registry never calls it."""


def spec(name: str, rank: int, column: str | None = None) -> SchemeSpec:
    return SchemeSpec(name, Toy, name.title(), "#000000", rank, {column or f"{name}_segment": "segment"})


@dataclass
class FakeEntryPoint:
    name: str
    loaded: object
    value: str = "toy_module:SPEC"

    def load(self):
        return self.loaded


@pytest.fixture()
def clean_registry():
    registry.reload()
    yield
    for name in list(registry._state["added"]):
        registry.unregister(name)
    registry.reload()


def test_builtin_order_and_lookup(clean_registry):
    assert registry.names() == BUILTIN_NAMES
    assert [s.rank for s in registry.schemes()] == [1, 2, 3, 4]
    assert registry.get("kmeans").columns == {"kmeans_cluster": "cluster", "kmeans_name": "name"}


def test_register_and_unregister_rebuild_the_cache(clean_registry):
    assert registry.names() == BUILTIN_NAMES  # the cache is filled
    registry.register(spec("alpha", rank=2))
    # same rank as rfm: the name breaks the tie ("alpha" < "rfm")
    assert registry.names() == ("percentile_tiers", "alpha", "rfm", "kmeans", "potential")
    registry.unregister("alpha")
    assert registry.names() == BUILTIN_NAMES
    registry.unregister("never_registered")  # nothing to remove: no error
    assert registry.names() == BUILTIN_NAMES


def test_a_refused_registration_leaves_the_registry_as_it_was(clean_registry):
    with pytest.raises(SegkitError, match="rfm_r"):
        registry.register(spec("clash", rank=9, column="rfm_r"))
    with pytest.raises(SegkitError, match="customer_id"):
        registry.register(spec("reserved", rank=9, column="customer_id"))
    assert registry.names() == BUILTIN_NAMES and registry._state["added"] == {}


def test_plug_ins_load_in_name_order_after_reload(clean_registry, monkeypatch):
    assert registry.names() == BUILTIN_NAMES
    eps = [FakeEntryPoint("zeta", spec("zeta", rank=7)), FakeEntryPoint("eta", spec("eta", rank=7))]
    monkeypatch.setattr(registry, "entry_points", lambda group: eps if group == "segkit.schemes" else [])
    assert registry.names() == BUILTIN_NAMES  # cached until reload
    assert [s.name for s in registry._load_plugins()] == ["eta", "zeta"]
    registry.reload()
    assert registry.names() == (*BUILTIN_NAMES, "eta", "zeta")
    assert registry.get("zeta").columns == {"zeta_segment": "segment"}


def test_a_plug_in_that_is_no_spec_is_refused(clean_registry, monkeypatch):
    monkeypatch.setattr(registry, "entry_points", lambda group: [FakeEntryPoint("odd", object())])
    registry.reload()
    with pytest.raises(SegkitError, match="'odd'.*is not a SchemeSpec"):
        registry.schemes()


def test_live_views_follow_the_registry(clean_registry):
    live = LiveSequence(registry.names)
    assert live[0] == "percentile_tiers" and live[-1] == "potential" and live[1:3] == ("rfm", "kmeans")
    assert len(live) == 4 and live == list(BUILTIN_NAMES) and live != ["rfm"] and live != "rfm"
    assert repr(live) == repr(list(BUILTIN_NAMES))
    ranks = LiveMapping(lambda: {s.name: s.rank for s in registry.schemes()})
    registry.register(spec("omega", rank=5))
    assert live[-1] == "omega" and len(live) == 5 and ranks["omega"] == 5 and len(ranks) == 5
    assert list(ranks) == [*BUILTIN_NAMES, "omega"]
    assert repr(ranks) == repr({**dict(zip(BUILTIN_NAMES, [1, 2, 3, 4])), "omega": 5})


def test_a_second_scheme_with_a_built_in_name_is_refused_and_not_kept():
    with pytest.raises(SegkitError, match="two schemes are registered as 'rfm'"):
        registry.register(spec("rfm", 9, column="other_segment"))
    assert registry.names() == BUILTIN_NAMES
