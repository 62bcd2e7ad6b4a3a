"""Selection vs SPADE: our ILP on SPADE's own matrices, beside SPADE's published selections.

    python bench/select_spade.py                      # data from ../shared/spade
    python bench/select_spade.py --data /path/to/spade

For each pipeline (``<p>/matrix.json``, ``<p>/spade_results.json``) and method (base, cov, sub at
SPADE's alpha = 0.6, tau = 0.25): SPADE's count / FFR / coverage, ours, whether ours is proven
minimal, solve seconds with CBC and HiGHS, and an independent check of every constraint.

``sub`` is checked against SPADE's own definition (its ``frac_non_subsumed_excluded_functions``
metric): an assertion left out must be subsumed by a selected one, or adding it must push the FFR
above tau. SPADE's released ``sub`` overwrote its objective (it minimized that metric instead of the
count), so it reports larger sets; ours minimizes the count under the same constraints.
The data carries no license: it is read from its path, never copied.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from llmassert.select import Matrix, select
from llmassert.select.solvers import highs_available

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "spade"
METHODS = ("base", "cov", "sub")


def failing(M: list[list[int]], rows: list[int], chosen: list[int]) -> int:
    return sum(1 for i in rows if any(M[i][j] == 0 for j in chosen))


def metrics(m: Matrix, chosen: list[int]) -> tuple[float, float]:
    assert m.y is not None
    good = [i for i, v in enumerate(m.y) if v == 1]
    bad = [i for i, v in enumerate(m.y) if v == 0]
    return failing(m.M, good, chosen) / len(good), failing(m.M, bad, chosen) / len(bad)


def broken(m: Matrix, chosen: list[int], method: str, alpha: float, tau: float) -> list[str]:
    """Constraints ``chosen`` breaks, from the definitions (independent of llmassert.select)."""
    assert m.y is not None
    good = [i for i, v in enumerate(m.y) if v == 1]
    bad = [i for i, v in enumerate(m.y) if v == 0]
    ceiling = math.floor(tau * len(good) + 1e-9)
    out = []
    if method == "base":
        own = [j for j in range(m.n_assertions) if failing(m.M, good, [j]) <= ceiling]
        return [] if sorted(chosen) == own else ["not the base set"]
    if failing(m.M, bad, chosen) < math.ceil(alpha * len(bad) - 1e-9):
        out.append("coverage")
    if failing(m.M, good, chosen) > ceiling:
        out.append("FFR")
    if method == "sub":
        K = m.K or [[0] * m.n_assertions for _ in m.assertions]
        loose = [
            b
            for b in range(m.n_assertions)
            if b not in chosen
            and not any(K[a][b] for a in chosen if a != b)
            and failing(m.M, good, [*chosen, b]) <= ceiling
        ]
        if loose:
            out.append(f"{len(loose)} excluded, not subsumed, addable")
    return out


def fmt(count: int, ffr: float, cov: float) -> str:
    return f"{count} / {ffr:.2f} / {cov:.2f}"


def run(data: Path, repeats: int) -> list[dict[str, Any]]:
    solvers = ["cbc", "highs"] if highs_available() else ["cbc"]
    rows = []
    for folder in sorted(p for p in data.iterdir() if (p / "matrix.json").exists()):
        m = Matrix.load(folder / "matrix.json")
        published = json.loads((folder / "spade_results.json").read_text())
        alpha, tau = published["alpha"], published["tau"]
        for method in METHODS:
            theirs = published[f"spade_{method}"]
            their_idx = [m.assertions.index(n) for n in theirs["selected_function_names"]]
            seconds: dict[str, float] = {}
            result = None
            for solver in solvers:
                best = math.inf
                for _ in range(repeats):
                    start = time.perf_counter()
                    result = select(m, method, alpha, tau, solver=solver)  # type: ignore[arg-type]
                    best = min(best, time.perf_counter() - start)
                seconds[solver] = best
            assert result is not None
            ffr_ours, cov_ours = metrics(m, result.indices)
            rows.append(
                {
                    "pipeline": folder.name,
                    "method": method,
                    "spade": fmt(theirs["n_selected"], theirs["ffr"], theirs["coverage"]),
                    "spade_count": theirs["n_selected"],
                    "spade_checks": broken(m, their_idx, method, alpha, tau),
                    "ours": fmt(result.count, ffr_ours, cov_ours),
                    "count": result.count,
                    "ffr": ffr_ours,
                    "proven": result.proven_optimal,
                    "seconds": seconds,
                    "checks": broken(m, result.indices, method, alpha, tau),
                }
            )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    solvers = list(rows[0]["seconds"]) if rows else []
    head = (
        "| pipeline | method | SPADE n / FFR / cov | ours n / FFR / cov | proven min | "
        + " | ".join(f"{s.upper()} s" for s in solvers)
        + " | our constraints | SPADE's set under the same check |"
    )
    lines = [head, "|" + "---|" * (7 + len(solvers))]
    for r in rows:
        mark = "yes" if r["proven"] else "no"
        if r["method"] == "base":
            mark = "n/a"
        times = " | ".join(f"{r['seconds'][s]:.3f}" for s in solvers)
        ok = "all met" if not r["checks"] else "; ".join(r["checks"])
        theirs = "all met" if not r["spade_checks"] else "; ".join(r["spade_checks"])
        lines.append(
            f"| {r['pipeline']} | {r['method']} | {r['spade']} | {r['ours']} | {mark} | "
            f"{times} | {ok} | {theirs} |"
        )
    return "\n".join(lines)


def summary(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    by = {(r["pipeline"], r["method"]): r for r in rows}
    pipelines = sorted({r["pipeline"] for r in rows})
    for method in ("cov", "sub"):
        ours = [by[p, method]["count"] for p in pipelines]
        spade = [by[p, method]["spade_count"] for p in pipelines]
        met = all(not by[p, method]["checks"] for p in pipelines)
        out.append(
            f"- {method}: {sum(ours)} assertions in total vs SPADE's {sum(spade)}; "
            f"never more than SPADE on any pipeline: {all(o <= s for o, s in zip(ours, spade, strict=True))}; "
            f"all constraints met: {met}"
        )
    sub = [by[p, "sub"] for p in pipelines]
    base = [by[p, "base"] for p in pipelines]
    fewer = [1 - s["count"] / b["count"] for s, b in zip(sub, base, strict=True)]
    out.append(
        f"- our sub vs base: {100 * sum(fewer) / len(fewer):.0f}% fewer assertions on "
        f"average (SPADE's paper: about 14%)"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help="folder with <pipeline>/matrix.json and spade_results.json",
    )
    parser.add_argument("--repeats", type=int, default=3, help="best-of-N timing")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"skipped: no SPADE data at {args.data} (pass --data)")
        return 0
    rows = run(args.data, args.repeats)
    if not rows:
        print(f"skipped: no <pipeline>/matrix.json under {args.data}")
        return 0
    print(table(rows))
    print()
    print("\n".join(summary(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
