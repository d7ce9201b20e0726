"""tools/mutation_summary.py: the score line, equivalents left out of M only while their
fingerprint matches the mutant's code, and stale entries counted as ordinary mutants."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("mutmut", reason="mutmut is in the dev extra: pip install -e '.[dev]'")

TOOL = Path(__file__).resolve().parents[1] / "tools" / "mutation_summary.py"
if not TOOL.is_file():  # mutmut's copy of the project (mutants/) holds src/ and tests/ only
    pytest.skip("tools/ is not beside tests/", allow_module_level=True)
spec = importlib.util.spec_from_file_location("mutation_summary", TOOL)
summary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(summary)

SOURCE = '''
def x_share__mutmut_orig(a, b):
    return a / max(b, 1)

def x_share__mutmut_1(a, b):
    return a / max(b, 2)

def x_share__mutmut_2(a, b):
    return a * max(b, 1)

def x_share__mutmut_3(a, b):
    return a / max(b, 1.0)
'''


def mutants(tmp_path: Path, source: str = SOURCE) -> Path:
    root = tmp_path / "mutants"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "mod.py").write_text(source)
    codes = {"pkg.mod.x_share__mutmut_1": 0, "pkg.mod.x_share__mutmut_2": 1, "pkg.mod.x_share__mutmut_3": 0}
    (root / "src" / "pkg" / "mod.py.meta").write_text(json.dumps({"exit_code_by_key": codes}))
    return root


def run(tmp_path: Path, root: Path, doc_text: str, capsys) -> str:
    doc = tmp_path / "mutation.md"
    doc.write_text(doc_text)
    assert summary.main([str(root), str(doc)]) == 0
    return capsys.readouterr().out


def test_fingerprints_name_each_mutant_not_the_original(tmp_path):
    prints = summary.fingerprints(mutants(tmp_path))
    assert sorted(prints) == ["pkg.mod.x_share__mutmut_1", "pkg.mod.x_share__mutmut_2", "pkg.mod.x_share__mutmut_3"]
    assert all(len(fp) == 8 and int(fp, 16) >= 0 for fp in prints.values())
    assert len(set(prints.values())) == 3
    # the fingerprint is of the code, not of the name: the same body under another number matches
    renamed = mutants(tmp_path / "b", SOURCE.replace("__mutmut_3(", "__mutmut_7("))
    assert summary.fingerprints(renamed)["pkg.mod.x_share__mutmut_7"] == prints["pkg.mod.x_share__mutmut_3"]


def test_an_equivalent_with_its_fingerprint_is_left_out_of_m(tmp_path, capsys):
    root = mutants(tmp_path)
    fp = summary.fingerprints(root)["pkg.mod.x_share__mutmut_3"]
    out = run(tmp_path, root, f"- `pkg.mod.x_share__mutmut_3` ({fp}): 1 and 1.0 divide alike\n", capsys)
    assert out.splitlines()[0] == "killed 1 of 2 mutants (50.0%)"
    assert "1 equivalent mutants left out of M" in out and "stale" not in out
    assert "pkg.mod.x_share__mutmut_1 (survived)" in out and "x_share__mutmut_3 (survived)" not in out


def test_a_stale_or_unfingerprinted_equivalent_counts_as_an_ordinary_mutant(tmp_path, capsys):
    root = mutants(tmp_path)
    # the entry was written for another mutant that now has number 3's name, or has no fingerprint
    for entry in ("- `pkg.mod.x_share__mutmut_3` (00000000): judged on older code\n",
                  "- `pkg.mod.x_share__mutmut_3`: no fingerprint\n"):
        out = run(tmp_path, root, entry, capsys)
        assert out.splitlines()[0] == "killed 1 of 3 mutants (33.3%)"
        assert "stale entries" in out and "  pkg.mod.x_share__mutmut_3\n" in out
        assert "pkg.mod.x_share__mutmut_3 (survived)" in out
