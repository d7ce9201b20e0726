"""The architecture the maintainer docs promise (docs/architecture.md), checked on the source.

- Data flows one way: a module imports only from layers below its own (``LAYERS``), so there is
  no cycle and nothing imports the runner or the CLI. A new top-level module must be placed here.
- No function over 60 lines, no module over 15% of the package's lines.
- The repository stands on its own: no file cites a spec outside it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from segkit.config import PROJECT_ROOT

SRC = PROJECT_ROOT / "src" / "segkit"

#: bottom to top; a module may import only from strictly lower layers
LAYERS: list[set[str]] = [
    {"errors", "atomic", "__init__"},
    {"policy", "i18n"},
    {"config", "calendar", "reproducible", "datasets", "formats", "display_names", "csvfiles"},
    {"engines"},
    {"data"},
    {"features"},
    {"potential"},
    {"schemes", "decisions"},
    {"evaluate"},
    {"compare"},
    {"narrative", "backtest"},
    {"backtest_engine"},
    {"pipeline"},
    {"plots"},
    {"notebook_decisions"},
    {"notebook", "report", "publish"},
    {"runner"},
    {"scaffold", "catalogues"},
    {"cli"},
    {"__main__"},
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _module(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, src: Path = SRC) -> set[str]:
    """Fully qualified segkit modules (or names) that ``path`` imports."""
    module = _module(path, src)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                full = ".".join(base + ([node.module] if node.module else []))
            else:
                full = node.module or ""
            if full == "segkit":
                found.update(f"segkit.{alias.name}" for alias in node.names)
            elif full.startswith("segkit."):
                found.add(full)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("segkit."))
    return found


def _sources() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_every_module_has_a_layer():
    missing = sorted({_top(_module(p)) for p in _sources()} - set(LAYER))
    assert not missing, f"place these modules in tests/test_architecture.py LAYERS and docs/architecture.md: {missing}"


def _against_the_flow(src: Path) -> list[str]:
    wrong = []
    for path in sorted(src.rglob("*.py")):
        here = _top(_module(path, src))
        for target in _imports(path, src):
            there = _top(target)
            if there == "__version__" or there == here:
                continue
            if LAYER.get(there, len(LAYERS)) >= LAYER.get(here, -1):
                wrong.append(f"{path.relative_to(src.parent)} imports {target}")
    return wrong


def test_imports_follow_the_flow():
    wrong = _against_the_flow(SRC)
    assert not wrong, "imports against the flow:\n" + "\n".join(wrong)


def test_the_flow_check_can_fail(tmp_path):
    pkg = tmp_path / "segkit"
    (pkg / "schemes").mkdir(parents=True)
    (pkg / "evaluate.py").write_text("from .pipeline import analyze\nfrom .schemes import registry\n")
    (pkg / "schemes" / "rfm.py").write_text("from ..features import customer_features\n"
                                            "from segkit.notebook import money\n")
    assert _against_the_flow(pkg) == ["segkit/evaluate.py imports segkit.pipeline",
                                      "segkit/schemes/rfm.py imports segkit.notebook"]


def _functions(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node.lineno, node.end_lineno - node.lineno + 1


def test_no_function_over_60_lines():
    long = [f"{p.relative_to(PROJECT_ROOT)}:{line} {name} ({n} lines)"
            for p in _sources() for name, line, n in _functions(p) if n > 60]
    assert not long, "\n".join(long)


def test_no_module_over_15_percent_of_the_package():
    sizes = {p: len(p.read_text(encoding="utf-8").splitlines()) for p in _sources()}
    total = sum(sizes.values())
    big = [f"{p.relative_to(PROJECT_ROOT)}: {n} of {total} lines" for p, n in sizes.items() if n > 0.15 * total]
    assert not big, "\n".join(big)


@pytest.mark.parametrize("folder", ["src", "tests", "notebooks", "docs", "benchmarks", "tools"])
def test_no_file_cites_a_spec_outside_the_repository(folder):
    root = PROJECT_ROOT / folder
    if not root.exists():
        pytest.skip(f"no {folder}/")
    needles = ("DESIGN" + ".md", "../" + "shared")  # spelled apart so this file does not match itself
    hits = [str(p.relative_to(PROJECT_ROOT)) for p in root.rglob("*")
            if p.is_file() and p.suffix in (".py", ".md", ".ipynb", ".yml", ".toml", ".txt")
            and any(n in p.read_text(encoding="utf-8", errors="replace") for n in needles)]
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    if folder == "src":
        hits += ["README.md"] if any(n in readme for n in needles) else []
    assert not hits, f"these files cite a document that is not in the repository: {hits}"
