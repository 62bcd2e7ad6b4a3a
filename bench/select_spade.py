"""Selection vs SPADE: our ILP on SPADE's own matrices, beside SPADE's published selections.

    python bench/select_spade.py                      # data from ../shared/spade
    python bench/select_spade.py --data /path/to/spade

For each pipeline (``<p>/matrix.json``, ``<p>/spade_results.json``) and method (base, cov, sub at
SPADE's alpha = 0.6, tau = 0.25): count / unsubsumed exclusions / FFR / coverage of SPADE's
published set and of ours, whether ours is proven optimal, solve seconds with CBC and HiGHS, and
an independent check of the constraints from the definitions.

"Unsubsumed" counts the assertions left out that no selected assertion subsumes: what SPADE's
released ``sub`` minimizes (its second ``problem +=`` replaced the count objective). Our ``sub``
is lexicographic: that number first, then the count. ``sub (exemption)`` is the rule llmassert
used before (``--sub-rule exemption``: the fewest assertions such that each one left out is
subsumed or would push the FFR above tau), shown for comparison. Every ``sub`` set is also scored
with SPADE's own metric (``frac_non_subsumed_excluded_functions``: left out, not subsumed, and
addable within tau). The data carries no license: it is read from its path, never copied.
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
# (label, method, sub rule)
VARIANTS = (
    ("base", "base", "lexicographic"),
    ("cov", "cov", "lexicographic"),
    ("sub", "sub", "lexicographic"),
    ("sub (exemption)", "sub", "exemption"),
)


def failing(M: list[list[int]], rows: list[int], chosen: list[int]) -> int:
    return sum(1 for i in rows if any(M[i][j] == 0 for j in chosen))


def metrics(m: Matrix, chosen: list[int]) -> tuple[float, float]:
    assert m.y is not None
    good = [i for i, v in enumerate(m.y) if v == 1]
    bad = [i for i, v in enumerate(m.y) if v == 0]
    return failing(m.M, good, chosen) / len(good), failing(m.M, bad, chosen) / len(bad)


def unsubsumed(m: Matrix, chosen: list[int]) -> int:
    """Assertions neither selected nor subsumed by a selected one."""
    K = m.K or [[0] * m.n_assertions for _ in m.assertions]
    picked = set(chosen)
    return sum(
        1
        for b in range(m.n_assertions)
        if b not in picked and not any(K[a][b] for a in picked if a != b)
    )


def spade_metric(m: Matrix, chosen: list[int], tau: float) -> int:
    """The numerator of SPADE's frac_non_subsumed_excluded_functions: left out, not subsumed,
    and addable without pushing the FFR above tau."""
    assert m.y is not None
    good = [i for i, v in enumerate(m.y) if v == 1]
    ceiling = math.floor(tau * len(good) + 1e-9)
    K = m.K or [[0] * m.n_assertions for _ in m.assertions]
    return sum(
        1
        for b in range(m.n_assertions)
        if b not in chosen
        and not any(K[a][b] for a in chosen if a != b)
        and failing(m.M, good, [*chosen, b]) <= ceiling
    )


def broken(m: Matrix, chosen: list[int], method: str, alpha: float, tau: float) -> list[str]:
    """Constraints ``chosen`` breaks, from the definitions (independent of llmassert.select)."""
    assert m.y is not None
    good = [i for i, v in enumerate(m.y) if v == 1]
    bad = [i for i, v in enumerate(m.y) if v == 0]
    ceiling = math.floor(tau * len(good) + 1e-9)
    if method == "base":
        own = [j for j in range(m.n_assertions) if failing(m.M, good, [j]) <= ceiling]
        return [] if sorted(chosen) == own else ["not the base set"]
    out = []
    if failing(m.M, bad, chosen) < math.ceil(alpha * len(bad) - 1e-9):
        out.append("coverage")
    if failing(m.M, good, chosen) > ceiling:
        out.append("FFR")
    return out


def fmt(count: int, unsub: int, ffr: float, cov: float) -> str:
    return f"{count} / {unsub} / {ffr:.2f} / {cov:.2f}"


def run(data: Path, repeats: int) -> list[dict[str, Any]]:
    solvers = ["cbc", "highs"] if highs_available() else ["cbc"]
    rows = []
    for folder in sorted(p for p in data.iterdir() if (p / "matrix.json").exists()):
        m = Matrix.load(folder / "matrix.json")
        published = json.loads((folder / "spade_results.json").read_text())
        alpha, tau = published["alpha"], published["tau"]
        for label, method, rule in VARIANTS:
            theirs = published[f"spade_{method}"]
            their_idx = [m.assertions.index(n) for n in theirs["selected_function_names"]]
            seconds: dict[str, float] = {}
            answers = {}
            for solver in solvers:
                best = math.inf
                for _ in range(repeats):
                    start = time.perf_counter()
                    result = select(m, method, alpha, tau, solver=solver, sub_rule=rule)  # type: ignore[arg-type]
                    best = min(best, time.perf_counter() - start)
                seconds[solver] = best
                answers[solver] = result
            result = answers[solvers[-1]]
            ffr_ours, cov_ours = metrics(m, result.indices)
            ffr_theirs, cov_theirs = metrics(m, their_idx)
            rows.append(
                {
                    "pipeline": folder.name,
                    "method": label,
                    "spade": fmt(len(their_idx), unsubsumed(m, their_idx), ffr_theirs, cov_theirs),
                    "spade_count": len(their_idx),
                    "spade_unsub": unsubsumed(m, their_idx),
                    "spade_checks": broken(m, their_idx, method, alpha, tau),
                    "ours": fmt(result.count, unsubsumed(m, result.indices), ffr_ours, cov_ours),
                    "count": result.count,
                    "unsub": unsubsumed(m, result.indices),
                    "proven": all(a.proven_optimal for a in answers.values()),
                    "same": len({tuple(a.selected) for a in answers.values()}) == 1,
                    "seconds": seconds,
                    "checks": broken(m, result.indices, method, alpha, tau),
                    "metric": spade_metric(m, result.indices, tau) if method == "sub" else None,
                }
            )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    solvers = list(rows[0]["seconds"]) if rows else []
    head = (
        "| pipeline | method | SPADE n / unsub / FFR / cov | ours n / unsub / FFR / cov | "
        "proven | "
        + " | ".join(f"{s.upper()} s" for s in solvers)
        + " | constraints: ours / SPADE's | SPADE's metric on ours |"
    )
    lines = [head, "|" + "---|" * (7 + len(solvers))]
    for r in rows:
        mark = "n/a" if r["method"] == "base" else ("yes" if r["proven"] else "no")
        if not r["same"]:
            mark += " (solvers differ)"
        times = " | ".join(f"{r['seconds'][s]:.3f}" for s in solvers)
        ok = "met" if not r["checks"] else ", ".join(r["checks"])
        theirs = "met" if not r["spade_checks"] else ", ".join(r["spade_checks"])
        metric = "" if r["metric"] is None else str(r["metric"])
        lines.append(
            f"| {r['pipeline']} | {r['method']} | {r['spade']} | {r['ours']} | {mark} | "
            f"{times} | {ok} / {theirs} | {metric} |"
        )
    return "\n".join(lines)


def summary(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    by = {(r["pipeline"], r["method"]): r for r in rows}
    pipelines = sorted({r["pipeline"] for r in rows})
    for method in ("cov", "sub", "sub (exemption)"):
        ours = [by[p, method] for p in pipelines]
        out.append(
            f"- {method}: {sum(r['count'] for r in ours)} assertions in total vs SPADE's "
            f"{sum(r['spade_count'] for r in ours)}, {sum(r['unsub'] for r in ours)} unsubsumed "
            f"exclusions vs {sum(r['spade_unsub'] for r in ours)}; never more assertions: "
            f"{all(r['count'] <= r['spade_count'] for r in ours)}; never more unsubsumed: "
            f"{all(r['unsub'] <= r['spade_unsub'] for r in ours)}; constraints met: "
            f"{all(not r['checks'] for r in ours)}; proven: {all(r['proven'] for r in ours)}"
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
