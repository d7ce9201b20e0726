"""The scheme registry: one entry per scheme, one protocol, and a scheme added without touching segkit.

The end-to-end test installs a toy scheme the way a plug-in author would (a module plus a
``*.dist-info`` with an ``entry_points.txt`` for the group ``segkit.schemes``, found on
PYTHONPATH), runs ``segkit run`` and finds the scheme in ``scorecard.json``, ``assignments.csv``
and the rendered report, whose notebooks run in kernel subprocesses.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from segkit import evaluate, pipeline, plots
from segkit.config import CRITERIA, RunParams
from segkit.errors import SegkitError
from segkit.features import CRITERION_COLUMN
from segkit.schemes import KMeansSegmenter, PercentileTiers, PotentialTiers, RFMSegmenter, Scheme, registry

CONTRACT = ["customer_id", "percentile_tier", "rfm_r", "rfm_f", "rfm_m", "rfm_segment", "kmeans_cluster",
            "kmeans_name", "lifecycle_stage", "override_tier", "override_reason", "recommended_segment",
            "potential_tier", "p_alive", "expected_purchases", "predicted_value", "peer_headroom", "tier_change"]

# The toy plug-in: every customer in the upper or lower half of calibration net revenue.
TOY_MODULE = '''
import numpy as np
import pandas as pd

from segkit.schemes.registry import SchemeSpec


class Halves:
    """Upper half of customers by calibration net revenue (ties at the median go up), then the rest."""

    @classmethod
    def from_params(cls, params):
        return cls()

    def fit(self, inputs):
        f = inputs.features.sort_values("customer_id")
        upper = f["monetary"].to_numpy() >= f["monetary"].median()
        self.segments_ = ["upper half", "lower half"]
        self._table = pd.DataFrame({"customer_id": f["customer_id"].astype(str).to_numpy(),
                                    "segment": np.where(upper, "upper half", "lower half"),
                                    "rank": np.where(upper, 1, 2)})
        return self

    def segment_table(self):
        return self._table.copy()

    def profile(self):
        g = self._table.groupby(["rank", "segment"]).size().rename("customers").reset_index()
        return g.assign(share=g["customers"] / g["customers"].sum())[["segment", "rank", "customers", "share"]]


SPEC = SchemeSpec(name="halves", cls=Halves, label="Spend halves", color="#8d6e63", rank=5,
                  columns={"halves_segment": "segment"})
'''


def toy_spec():
    namespace: dict = {}
    exec(compile(TOY_MODULE, "toy_halves", "exec"), namespace)  # noqa: S102 - the test's own source
    return namespace["SPEC"]


def small_data(tmp_path: Path) -> Path:
    from segkit.datasets import make_transactions

    tx, _ = make_transactions(n_customers=400, months=18, seed=3)
    path = tmp_path / "tx.csv"
    tx[["customer_id", "date", "amount", "quantity", "cost", "order_id"]].to_csv(path, index=False)
    return path


def expected_halves(assignments: pd.DataFrame, features: pd.DataFrame) -> pd.Series:
    m = features.set_index("customer_id")["monetary"].reindex(assignments["customer_id"])
    return pd.Series(np.where(m >= m.median(), "upper half", "lower half"), index=assignments.index)


# ---------------------------------------------------------------- the registry itself
def test_registry_names_every_scheme_once_in_tie_break_order():
    specs = registry.schemes()
    assert [s.name for s in specs] == ["percentile_tiers", "rfm", "kmeans", "potential"]
    assert [s.rank for s in specs] == [1, 2, 3, 4]
    assert [s.cls for s in specs] == [PercentileTiers, RFMSegmenter, KMeansSegmenter, PotentialTiers]
    assert all(issubclass(s.cls, Scheme) for s in specs)  # the protocol's methods are all there
    # the historical constants are views of the registry
    assert list(pipeline.SCHEMES) == list(evaluate.SIMPLICITY) == [s.name for s in specs]
    assert dict(evaluate.SCHEME_NAMES) == {"percentile_tiers": "percentile tiers", "rfm": "RFM", "kmeans": "k-means",
                                           "potential": "potential tiers"}
    assert dict(plots.SCHEME_LABELS) == {"percentile_tiers": "Percentile tiers", "rfm": "RFM", "kmeans": "k-means",
                                         "potential": "Potential (predicted value)"}
    assert plots.SCHEME_COLORS["rfm"] == "#e76f51" and "oracle" in plots.SCHEME_COLORS


def test_assignment_columns_keep_the_contract_and_a_new_scheme_appends():
    assert pipeline.assignment_columns() == CONTRACT == list(pipeline.ASSIGNMENT_COLUMNS)
    registry.register(toy_spec())
    try:
        # a new scheme's columns come after the built-in ones, before the decisions' tier_change (always last)
        assert pipeline.assignment_columns() == [*CONTRACT[:-1], "halves_segment", "tier_change"]
        assert list(evaluate.SIMPLICITY)[-1] == "halves" and plots.SCHEME_LABELS["halves"] == "Spend halves"
    finally:
        registry.unregister("halves")
    assert "halves" not in registry.names()


def test_registry_refuses_a_second_scheme_of_the_same_name_or_a_taken_column():
    spec = toy_spec()
    with pytest.raises(SegkitError, match="two schemes are registered as 'rfm'"):
        registry.register(registry.SchemeSpec("rfm", spec.cls, "x", "#000000", 9, {"x_segment": "segment"}))
    with pytest.raises(SegkitError, match="rfm_segment"):
        registry.register(registry.SchemeSpec("x", spec.cls, "x", "#000000", 9, {"rfm_segment": "segment"}))
    assert registry.names() == ("percentile_tiers", "rfm", "kmeans", "potential")


def test_a_broken_plug_in_names_itself(tmp_path, monkeypatch):
    dist = tmp_path / "broken_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[segkit.schemes]\nbroken = no_such_module_here:SPEC\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.reload()
    try:
        with pytest.raises(SegkitError, match="'broken'.*cannot be loaded"):
            registry.schemes()
    finally:
        monkeypatch.undo()
        registry.reload()
    assert registry.names() == ("percentile_tiers", "rfm", "kmeans", "potential")


def test_criteria_and_their_columns_are_written_once():
    assert tuple(CRITERION_COLUMN) == CRITERIA


# ---------------------------------------------------------------- a scheme registered in the process
def test_a_registered_scheme_is_fitted_scored_and_exported(tmp_path):
    data = small_data(tmp_path)
    params = RunParams.from_mapping({"name": "toy", "data": str(data), "holdout_months": 3})
    registry.register(toy_spec())
    try:
        a = pipeline.analyze(params, n_boot=50)
        files = pipeline.write_run_files(a, tmp_path / "out")
    finally:
        registry.unregister("halves")
    sc = json.loads((tmp_path / "out" / "scorecard.json").read_text())
    assert list(sc["schemes"]) == ["percentile_tiers", "rfm", "kmeans", "potential", "halves"]
    out = pd.read_csv(tmp_path / "out" / "assignments.csv", dtype={"customer_id": str})
    assert list(out.columns) == [*CONTRACT[:-1], "halves_segment", "tier_change"]
    assert (out["halves_segment"] == expected_halves(out, a.features)).all()
    upper = (out["halves_segment"] == "upper half").mean()
    assert sc["schemes"]["halves"]["metrics"]["top_segment_share"] == pytest.approx(upper, abs=1e-6)
    assert "halves: upper half" in pipeline.segment_summary(a)
    assert len(files) == 6  # assignments, tiers_monthly, alerts, actions, scorecard, run


# ---------------------------------------------------------------- a plug-in, end to end
def install_toy_plugin(root: Path) -> Path:
    """What `pip install` of a package declaring the entry point leaves on the path."""
    root.mkdir(parents=True)
    (root / "toy_halves.py").write_text(textwrap.dedent(TOY_MODULE))
    dist = root / "toy_halves-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-halves\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[segkit.schemes]\nhalves = toy_halves:SPEC\n")
    return root


@pytest.mark.slow
def test_a_plug_in_scheme_reaches_the_scorecard_and_the_rendered_report(tmp_path, monkeypatch):
    from segkit.cli import main

    plugin = install_toy_plugin(tmp_path / "site")
    monkeypatch.syspath_prepend(str(plugin))  # this process
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(plugin), os.environ.get("PYTHONPATH")])))
    registry.reload()
    try:
        assert registry.names()[-1] == "halves"
        data = small_data(tmp_path)
        (tmp_path / "reports.yml").write_text(f"out: out\nruns:\n  - name: toy\n    data: {data}\n"
                                              "    holdout_months: 3\n")
        assert main(["run", str(tmp_path / "reports.yml")]) == 0
    finally:
        monkeypatch.undo()
        registry.reload()
    assert "halves" not in registry.names()
    run = tmp_path / "out" / "toy"
    sc = json.loads((run / "scorecard.json").read_text())
    assert list(sc["schemes"]) == ["percentile_tiers", "rfm", "kmeans", "potential", "halves"]
    out = pd.read_csv(run / "assignments.csv", dtype={"customer_id": str})
    assert list(out.columns) == [*CONTRACT[:-1], "halves_segment", "tier_change"]
    upper = (out["halves_segment"] == "upper half").mean()
    assert sc["schemes"]["halves"]["metrics"]["top_segment_share"] == pytest.approx(upper, abs=1e-6)
    html = (run / "report.html").read_text()
    assert html.count("Spend halves") >= 2  # its row in the scorecard table and its segments section
    assert "upper half" in html and "lower half" in html
    executed = nbformat.read(str(run / "notebooks" / "05_compare.ipynb"), as_version=4)
    assert not [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
