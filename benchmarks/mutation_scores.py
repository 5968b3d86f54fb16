"""The mutation score per module, from what `make mutation` (mutmut) left in `mutants/`.

mutmut keeps each mutated file's verdicts in `mutants/<path>.meta` (mutant name -> the exit
status of the tests that judged it); its own `mutmut results` lists the survivors one by
one, but docs/contributing.md records a score per module, so this sums them: killed (the
tests failed, or ran past the per-mutant timeout) out of the mutants judged, survivors and
mutants no fast test reaches ("no tests") included.

    .venv/bin/python benchmarks/mutation_scores.py [PATTERN ...]

PATTERN (fnmatch, as `mutmut run` takes them) limits the modules shown, e.g.
`'crm_ports.policy.*'`; a module whose mutants were not run yet is left out.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from fnmatch import fnmatch
from pathlib import Path

from mutmut.stats import status_by_exit_code

KILLED = ("killed", "timeout")
UNJUDGED = ("not checked", "skipped", "check was interrupted by user")


def module_of(meta: Path, root: Path) -> str:
    """`mutants/crm_ports/verify/spans.py.meta` -> `crm_ports.verify.spans`."""
    return ".".join(meta.relative_to(root).with_suffix("").with_suffix("").parts)


def scores(root: Path) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = {}
    for meta in sorted(root.rglob("*.py.meta")):
        verdicts = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        out[module_of(meta, root)] = Counter(status_by_exit_code[c] for c in verdicts.values())
    return out


def main(argv: list[str]) -> int:
    root = Path("mutants")
    if not root.is_dir():
        print("mutation_scores: no mutants/ here; run `make mutation` first", file=sys.stderr)
        return 2
    print(
        f"{'module':<44} {'killed':>6} {'judged':>6} {'score':>5} {'survived':>8} {'no tests':>8}"
    )
    for module, counts in scores(root).items():
        judged = sum(n for status, n in counts.items() if status not in UNJUDGED)
        if not judged or (argv and not any(fnmatch(module + ".x", p) for p in argv)):
            continue
        killed = sum(counts[s] for s in KILLED)
        print(
            f"{module:<44} {killed:>6} {judged:>6} {killed / judged:>5.0%} "
            f"{counts['survived']:>8} {counts['no tests']:>8}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
