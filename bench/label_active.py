"""How many grades each labeling strategy needs to reach the all-labels selection (issue 14).

    python bench/label_active.py --data /work/shared/spade [--seeds 5] [--holdout 0.3]

For each SPADE pipeline (``<p>/matrix.json`` rows = ``<p>/prompts/<p>/labeled.jsonl`` lines), the
labeled responses are split by input (responses to one input stay on one side, as the data's
README asks; :func:`llmassert.synth.engine.split_by_input`). The training side is the pool a
simulated grader labels, one response at a time, in the order a strategy asks for, answering with
the known label. After every grade the selection is re-solved exactly as ``llmassert label``'s
status does (sub, alpha 0.6, tau 0.25, FFR confidence 0.9).

*Reached* at grade k: from k on, every selection either equals the all-labels selection, or is
within ``--tol`` (default 0.05) of its coverage AND its FFR, both measured on the whole pool with
all labels. The figure is k (the pool size when never reached). Random is run with several seeds
and reported as the median (and range). Held-out coverage / FFR of the selection after 10 and 20
grades are reported too. The data carries no license: read from its path, never copied.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from llmassert.history.labels import load_labels
from llmassert.label import strategy as strategy_module
from llmassert.label.selection import Chosen, Targets, choose
from llmassert.label.session import Check, Item, LabelSession
from llmassert.select.metrics import coverage, ffr
from llmassert.synth.engine import split_by_input

CHECKPOINTS = (10, 20)


def _metrics(M: list[list[int]], y: list[int], idx: tuple[int, ...]) -> tuple[float, float]:
    return coverage(M, y, idx), ffr(M, y, idx)


def run(
    strategy: str,
    seed: int,
    pool: list[Item],
    pool_y: dict[str, int],
    checks: list[Check],
    targets: Targets,
) -> list[tuple[int, ...]]:
    """Selected indices after each grade (index k: after k + 1 grades)."""
    session = LabelSession(pool, checks, targets)
    rng = random.Random(seed)
    trail = []
    while (key := session.next(strategy, rng)) is not None:
        session.grade(key, pool_y[key])
        trail.append(session.chosen().indices)
    return trail


def reached(
    trail: list[tuple[int, ...]],
    full: Chosen,
    M: list[list[int]],
    y: list[int],
    tol: float | None,
) -> int:
    full_cov, full_ffr = _metrics(M, y, full.indices)

    def close(idx: tuple[int, ...]) -> bool:
        if set(idx) == set(full.indices):
            return True
        if tol is None:
            return False
        cov, f = _metrics(M, y, idx)
        return abs(cov - full_cov) <= tol and abs(f - full_ffr) <= tol

    k = len(trail)
    while k > 0 and close(trail[k - 1]):
        k -= 1
    return k + 1 if k < len(trail) else len(trail) + 1  # +1: "never" is beyond the pool


def pipeline(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    name = folder.name
    matrix = json.loads((folder / "matrix.json").read_text())
    examples = load_labels(folder / "prompts" / name / "labeled.jsonl")
    # matrix.json rows are in another order than labeled.jsonl: align them on (response, label).
    unused: dict[tuple[str, int], list[int]] = {}
    for n, e in enumerate(examples):
        unused.setdefault((e.response, e.label), []).append(n)
    order = []
    for response, label in zip(matrix["responses"], matrix["y"], strict=True):
        spare = unused.get((response, label))
        if not spare:
            raise SystemExit(f"{folder}: a matrix.json row has no labeled.jsonl line")
        order.append(spare.pop(0))
    examples = tuple(examples[n] for n in order)
    M, y = matrix["M"], matrix["y"]
    train, test = split_by_input(list(examples), args.holdout, 0)
    items = {i: Item(dict(examples[i].input), examples[i].response, tuple(M[i])) for i in train}
    pool = list(items.values())
    pool_y = {items[i].key: y[i] for i in train}
    # Duplicated (input, response) rows collapse into one item: grade each once.
    keys = list(dict.fromkeys(it.key for it in pool))
    rows = [next(it for it in pool if it.key == k) for k in keys]
    Mp, yp = [list(r.passes) for r in rows], [pool_y[k] for k in keys]
    Mt, yt = [M[i] for i in test], [y[i] for i in test]
    checks = [Check(n) for n in matrix["assertions"]]
    targets = Targets()
    full = choose(Mp, yp, [c.name for c in checks], None, targets)
    out: dict[str, Any] = {
        "pipeline": name,
        "pool": len(rows),
        "test": len(test),
        "full": len(full.indices),
        "full_cov_ffr": _metrics(Mp, yp, full.indices),
    }
    runs: dict[str, list[tuple[int, dict[int, tuple[float, float]], int]]] = {}
    plan = [(s, 0) for s in args.extra] + [("active", 0), ("order", 0)]
    plan += [("random", s) for s in range(args.seeds)]
    for name_, seed in plan:
        start = time.perf_counter()
        trail = run(name_, seed, rows, pool_y, checks, targets)
        k = reached(trail, full, Mp, yp, args.tol)
        exact = reached(trail, full, Mp, yp, None)
        held = {c: _metrics(Mt, yt, trail[c - 1]) for c in CHECKPOINTS if c <= len(trail)}
        runs.setdefault(name_, []).append((k, held, exact))
        print(
            f"  {name} {name_} seed={seed}: reached at {k} (same set at {exact}) "
            f"({time.perf_counter() - start:.1f}s)",
            file=sys.stderr,
        )
    out["runs"] = runs
    return out


def _fmt_held(held: dict[int, tuple[float, float]], c: int) -> str:
    if c not in held:
        return "–"
    cov, f = held[c]
    return f"{cov:.2f} / {f:.2f}"


def table(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"| pipeline | pool (held out) | all-labels sel. (cov / FFR) | active | random median "
        f"[range, {args.seeds} seeds] | file order | same set: active · random median · "
        "order | held-out cov / FFR @10: active · random "
        "seed 0 · order | @20: active · random seed 0 · order |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    wins = 0
    for r in results:
        runs = r["runs"]
        a = runs["active"][0][0]
        rnd = [k for k, _, _ in runs["random"]]
        same = [runs["active"][0][2], statistics.median(r[2] for r in runs["random"])]
        same.append(runs["order"][0][2])
        med = statistics.median(rnd)
        wins += a < med
        o = runs["order"][0][0]
        cov, f = r["full_cov_ffr"]
        held = [
            " · ".join(_fmt_held(runs[s][0][1], c) for s in ("active", "random", "order"))
            for c in CHECKPOINTS
        ]
        lines.append(
            f"| {r['pipeline']} | {r['pool']} ({r['test']}) | {r['full']} ({cov:.2f} / {f:.2f}) "
            f"| {a} | {med:g} [{min(rnd)}–{max(rnd)}] | {o} | "
            + " · ".join(f"{v:g}" for v in same)
            + f" | {held[0]} | {held[1]} |"
        )
    lines.append("")
    lines.append(f"active below the random median on {wins} of {len(results)} pipelines")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the spade folder")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--holdout", type=float, default=0.3)
    parser.add_argument("--tol", type=float, default=0.05)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--extra", nargs="*", default=[], help="more strategies to run")
    parser.add_argument("--shortlist", type=int, default=None, help="override active's")
    args = parser.parse_args()
    if args.shortlist is not None:
        strategy_module.SHORTLIST = args.shortlist
    folders = sorted(p for p in args.data.iterdir() if (p / "matrix.json").is_file())
    if args.only:
        folders = [p for p in folders if p.name in args.only]
    results = [pipeline(p, args) for p in folders]
    print(table(results, args))


if __name__ == "__main__":
    main()
