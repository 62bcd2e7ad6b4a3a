"""What containment costs a code operation: per-row time of ``transform`` in-process (inline-safe
code), in the process sandbox (everything else), and the old unbounded call, on one machine.

    python bench/codeops_overhead.py [--rows 2000] [--repeats 3]

Three transforms over the same rows: an inline-safe ``code_map`` (word count), the same with a
``from typing import ...`` line (which sends it to the process sandbox), and the first one called
directly as plain Python with a deep copy per row (what code operations did before: no bounds).
Prints load time and median µs per row over ``--repeats`` runs of all rows.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from typing import Any

from llmassert.sandbox.code import CodeRunner

INLINE = """
def transform(doc):
    words = doc["text"].split()
    return {"n_words": len(words), "first": words[0] if words else ""}
"""
BOXED = "from typing import Any, Dict\n" + INLINE


def _rows(n: int) -> list[dict[str, Any]]:
    return [{"id": i, "text": f"row {i} " + "lorem ipsum dolor sit amet " * 20} for i in range(n)]


def _plain(rows: list[dict[str, Any]]) -> None:
    namespace: dict[str, Any] = {}
    exec(INLINE, namespace)  # the bench's own constant source, for the unbounded baseline
    fn = namespace["transform"]
    for row in rows:
        fn(copy.deepcopy(row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = _rows(args.rows)
    print(f"{args.rows} rows, {args.repeats} repeats (median µs per row)\n")
    print("| transform | where | load ms | µs per row |")
    print("|---|---|---:|---:|")
    for label, source in (("word count", INLINE), ("word count + typing import", BOXED)):
        start = time.perf_counter()
        runner = CodeRunner(source, filename=f"{label}.code")
        load_ms = (time.perf_counter() - start) * 1e3
        runner.apply([(rows[0],)])  # warm (the sandbox worker starts lazily)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            out = runner.apply([(r,) for r in rows])
            times.append((time.perf_counter() - start) / len(rows) * 1e6)
            assert all(err is None for _v, err in out)
        where = "in-process" if runner.inline else "process sandbox"
        runner.close()
        print(f"| {label} | {where} | {load_ms:.1f} | {statistics.median(times):.1f} |")
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        _plain(rows)
        times.append((time.perf_counter() - start) / len(rows) * 1e6)
    print(f"| word count, unbounded (before) | in-process | - | {statistics.median(times):.1f} |")


if __name__ == "__main__":
    main()
