"""Summarise mutmut's results: one line ``killed K of M mutants (S%)``, the score per module and the
survivors by file.

Reads the ``.meta`` files mutmut 3 writes beside each mutated module under ``mutants/`` and maps
exit codes to outcomes with mutmut's own table. A mutant whose tests ran too long (timeout) counts
as killed; one that no test reaches ("no tests") counts as surviving; mutants not checked yet
(``make mutate MUTANTS=...`` ran a subset) are left out of M and counted separately.

Equivalent mutants (they change the code but no input can tell them from the original) are listed
in ``docs/mutation.md``, each with its reason, as a line starting with ``- `NAME` (FINGERPRINT)``.
They are left out of M, as the usual mutation score does, and counted on a line of their own.

mutmut numbers a function's mutants afresh when the function changes, so a name can come to mean
another mutant. The fingerprint (8 hex digits of the SHA-256 of the mutant function's code, as
``ast.unparse`` prints it, under a neutral name) ties each entry to the code it was judged on: an
entry whose fingerprint no longer matches is *stale*, counts as an ordinary mutant, and is listed
for a new look. ``--fingerprint NAME ...`` prints the fingerprints to write down.

Usage: python tools/mutation_summary.py [MUTANTS_DIR] [EQUIVALENTS_DOC]
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

from mutmut.stats import status_by_exit_code

KILLED = {"killed", "timeout", "caught by type check"}
NOT_RUN = {"not checked", "skipped", "check was interrupted by user"}
# "- `segkit.schemes.tiers.xǁPercentileTiersǁ_abc__mutmut_24` (1a2b3c4d): reason"
_EQUIVALENT = re.compile(r"^\s*[-*]\s+`([\w.ǁ]+__mutmut_\d+)`(?:\s+\(([0-9a-f]{8})\))?")


def equivalent_names(doc: Path) -> dict[str, str | None]:
    """The mutant names listed as equivalent in ``doc`` -> their fingerprint (None when not given)."""
    if not doc.is_file():
        return {}
    return {m.group(1): m.group(2) for line in doc.read_text(encoding="utf-8").splitlines()
            if (m := _EQUIVALENT.match(line))}


def fingerprints(root: Path) -> dict[str, str]:
    """Mutant name -> fingerprint of its code, for every mutant function in the sources under ``root``."""
    out: dict[str, str] = {}
    src = root / "src"
    for path in sorted(src.rglob("*.py")) if src.is_dir() else []:
        module = ".".join(path.relative_to(src).with_suffix("").parts)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and "__mutmut_" in node.name \
                    and not node.name.endswith("__mutmut_orig"):
                name, node.name = node.name, "mutant"
                out[f"{module}.{name}"] = hashlib.sha256(ast.unparse(node).encode()).hexdigest()[:8]
                node.name = name
    return out


class Tally:
    """Counts per module: killed (of which by timeout), checked, unchecked, equivalent, survivors."""

    def __init__(self) -> None:
        self.killed = self.timeouts = self.checked = self.unchecked = self.equivalent = 0
        self.survivors: list[str] = []

    def add(self, name: str, status: str, equivalent: bool) -> None:
        if status in NOT_RUN:
            self.unchecked += 1
        elif status in KILLED:
            self.checked += 1
            self.killed += 1
            self.timeouts += status == "timeout"
        elif equivalent:
            self.equivalent += 1
        else:
            self.checked += 1
            self.survivors.append(f"{name} ({status})")

    def line(self) -> str:
        share = 100 * self.killed / self.checked if self.checked else 0.0
        return f"killed {self.killed} of {self.checked} mutants ({share:.1f}%)"


def current_equivalents(listed: dict[str, str | None], prints: dict[str, str]) -> tuple[set[str], list[str]]:
    """The listed equivalents whose fingerprint matches today's mutant, and the stale ones."""
    ok = {name for name, fp in listed.items() if fp is not None and prints.get(name) == fp}
    return ok, sorted(set(listed) - ok)


def summarise(root: Path, equivalents: set[str]) -> dict[str, Tally]:
    """One :class:`Tally` per mutated source file (path relative to ``root``)."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    for meta in sorted(root.rglob("*.py.meta")):
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        source = str(meta.relative_to(root).with_suffix(""))
        for name, code in sorted(codes.items()):
            tallies[source].add(name, status_by_exit_code[code], name in equivalents)
    return tallies


def main(argv: list[str]) -> int:
    if argv[:1] == ["--fingerprint"]:
        prints = fingerprints(Path("mutants"))
        for name in argv[1:]:
            print(f"{name} {prints.get(name, '(no such mutant)')}")
        return 0
    root = Path(argv[0] if argv else "mutants")
    doc = Path(argv[1] if len(argv) > 1 else "docs/mutation.md")
    if not root.is_dir():
        print(f"error: no mutmut results in {root}/; run `make mutate` first", file=sys.stderr)
        return 2
    equivalents, stale = current_equivalents(equivalent_names(doc), fingerprints(root))
    tallies = summarise(root, equivalents)
    total = Tally()
    for t in tallies.values():
        for field in ("killed", "timeouts", "checked", "unchecked", "equivalent"):
            setattr(total, field, getattr(total, field) + getattr(t, field))
    print(total.line())
    if total.equivalent:
        print(f"  ({total.equivalent} equivalent mutants left out of M: {doc} says why)")
    if total.timeouts:
        print(f"  ({total.timeouts} of the killed by timeout: the tests ran far longer than without the mutant)")
    if total.unchecked:
        print(f"  ({total.unchecked} mutants not checked in this run)")
    print("\nper module:")
    for source, t in tallies.items():
        if t.checked or t.equivalent:
            extra = f", {t.equivalent} equivalent" if t.equivalent else ""
            print(f"  {source}: {t.line()}{extra}")
    if stale:
        print(f"\nstale entries in {doc} (the mutant's code is not the one judged; counted as ordinary mutants):")
        for name in stale:
            print(f"  {name}")
    for source, t in tallies.items():
        if t.survivors:
            print(f"\nsurviving in {source}:")
            for name in t.survivors:
                print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
