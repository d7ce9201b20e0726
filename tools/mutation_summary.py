"""Summarise mutmut's results: one line ``killed K of M mutants (S%)`` and the survivors by file.

Reads the ``.meta`` files mutmut 3 writes beside each mutated module under ``mutants/`` and maps
exit codes to outcomes with mutmut's own table. A mutant whose tests ran too long (timeout) counts
as killed; one that no test reaches ("no tests") counts as surviving; mutants not checked yet
(``make mutate MUTANTS=...`` ran a subset) are left out of M and counted separately.

Usage: python tools/mutation_summary.py [MUTANTS_DIR]
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

from mutmut.stats import status_by_exit_code

KILLED = {"killed", "timeout", "caught by type check"}
NOT_RUN = {"not checked", "skipped", "check was interrupted by user"}


def summarise(root: Path) -> tuple[int, int, int, int, dict[str, list[str]]]:
    """Killed (of which by timeout), checked and unchecked mutant counts, and the survivors per file."""
    killed = checked = unchecked = timeouts = 0
    survivors: dict[str, list[str]] = defaultdict(list)
    for meta in sorted(root.rglob("*.py.meta")):
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        source = str(meta.relative_to(root).with_suffix(""))
        for name, code in sorted(codes.items()):
            status = status_by_exit_code[code]
            if status in NOT_RUN:
                unchecked += 1
                continue
            checked += 1
            if status in KILLED:
                killed += 1
                timeouts += status == "timeout"
            else:
                survivors[source].append(f"{name} ({status})")
    return killed, timeouts, checked, unchecked, survivors


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "mutants")
    if not root.is_dir():
        print(f"error: no mutmut results in {root}/; run `make mutate` first", file=sys.stderr)
        return 2
    killed, timeouts, checked, unchecked, survivors = summarise(root)
    share = 100 * killed / checked if checked else 0.0
    print(f"killed {killed} of {checked} mutants ({share:.1f}%)")
    if timeouts:
        print(f"  ({timeouts} of the killed by timeout: the tests ran far longer than without the mutant)")
    if unchecked:
        print(f"  ({unchecked} mutants not checked in this run)")
    for source, names in survivors.items():
        print(f"\nsurviving in {source}:")
        for name in names:
            print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
