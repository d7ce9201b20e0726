"""The project's own promises about packaging: environment.yml mirrors pyproject.toml, files exist."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from segkit.config import PROJECT_ROOT

# conda-forge spells a few packages differently from PyPI
CONDA_NAMES = {"duckdb": "python-duckdb"}


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    wanted = {CONDA_NAMES.get(_name(r), _name(r)) for r in pyproject["project"]["dependencies"]}
    env = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())
    conda = {_name(d) for d in env["dependencies"] if isinstance(d, str)} - {"python", "pip"}
    assert conda == wanted, f"only in environment.yml: {conda - wanted}; only in pyproject: {wanted - conda}"
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert any(line.startswith("-e") for line in pip_section), "environment.yml must pip-install segkit itself"


def test_project_layout_and_licence():
    for path in ("notebooks", "src/segkit", "data", "reports", "tests", "environment.yml", "README.md", "LICENSE",
                 "Makefile", ".ci/run", "data/README.md"):
        assert (PROJECT_ROOT / path).exists(), path
    assert "MIT License" in (PROJECT_ROOT / "LICENSE").read_text()
    assert "make test" in (PROJECT_ROOT / ".ci/run").read_text()


def test_generated_reports_are_not_tracked():
    ignore = (PROJECT_ROOT / ".gitignore").read_text()
    assert "/reports/*" in ignore and "!/reports/README.md" in ignore


def test_makefile_targets_exist():
    text = (PROJECT_ROOT / "Makefile").read_text()
    for target in ("help", "report", "test", "bench", "lab"):
        assert re.search(rf"^{target}:", text, re.M), target
    assert ".DEFAULT_GOAL := help" in text
