"""Containment benchmark (issue 10): run every payload of tests/security/cases_*.py, tally outcomes.

    python bench/security.py                 # all cases files
    python bench/security.py --only code     # tests/security/cases_code.py only

Loads each ``tests/security/cases_<name>.py`` by path (with ``tests/`` on ``sys.path`` so they
find ``security._case``), runs every case in a fresh scratch folder, and prints per payload
class: tried / refused / contained / escaped / traceback, plus every case whose outcome differs
from the one it expects. The target is 0 escaped and 0 tracebacks. Exits 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
OUTCOMES = ("refused", "contained", "escaped", "traceback")


def load_cases(only: list[str] | None) -> list[Any]:
    sys.path.insert(0, str(TESTS))
    cases: list[Any] = []
    for path in sorted((TESTS / "security").glob("cases_*.py")):
        stem = path.stem.removeprefix("cases_")
        if only and stem not in only:
            continue
        spec = importlib.util.spec_from_file_location(f"security.{path.stem}", path)
        if spec is None or spec.loader is None:
            raise SystemExit(f"{path}: cannot load")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        cases.extend(module.CASES)
    return cases


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="cases files to run (code, files, ...)")
    args = ap.parse_args()
    cases = load_cases(args.only)
    tally: dict[str, Counter[str]] = defaultdict(Counter)
    unexpected: list[str] = []
    start = time.monotonic()
    for case in cases:
        with tempfile.TemporaryDirectory(prefix="llmassert-security-") as scratch:
            try:
                outcome = case.run(Path(scratch))
            except Exception as e:  # the case's own harness failed: count it as a traceback
                outcome = "traceback"
                unexpected.append(f"{case.cls}: {case.name}: harness raised {type(e).__name__}")
        tally[case.cls][outcome] += 1
        if outcome != case.expected:
            unexpected.append(f"{case.cls}: {case.name}: {outcome} (expected {case.expected})")
    elapsed = time.monotonic() - start
    print("| class | tried | refused | contained | escaped | traceback |")
    print("|---|---:|---:|---:|---:|---:|")
    total: Counter[str] = Counter()
    for cls in sorted(tally):
        counts = tally[cls]
        total.update(counts)
        cells = " | ".join(str(counts[o]) for o in OUTCOMES)
        print(f"| {cls} | {sum(counts.values())} | {cells} |")
    cells = " | ".join(f"**{total[o]}**" for o in OUTCOMES)
    print(f"| **all** | **{sum(total.values())}** | {cells} |")
    print(f"\n{len(cases)} payloads in {elapsed:.0f} s")
    for line in unexpected:
        print(f"- unexpected: {line}")
    return 1 if total["escaped"] or total["traceback"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
