"""Selection at scale: solve time on synthetic, structured matrices, with and without presolve.

    python bench/select_scale.py                 # 100x500 and 1,000x5,000 (assertions x responses)
    python bench/select_scale.py --large --no-baseline   # adds 5,000x20,000 (minutes per run)
    python bench/select_scale.py --sizes 200x1000 --methods sub --solvers highs

The matrices imitate real candidate sets (SPADE's five pipelines were the reference): about a third
of the candidates are noisy (they fail many good responses and can never be selected), the rest
target one failure mode each and catch most bad responses of that mode while passing nearly all
good ones; some are exact duplicates (variants that behave identically) and some are weaker,
dominated variants; K links variants of the same check. Timings are wall-clock seconds of
``select()`` after the matrix is built; "not proven" marks a run stopped at the time limit (its
best count follows). Ratios compare runs that both proved the count.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass

import numpy as np

from llmassert.select.arrays import Arrays
from llmassert.select.core import run_arrays
from llmassert.select.solvers import highs_available


@dataclass(frozen=True)
class Synthetic:
    fail: np.ndarray  # (responses, assertions) bool
    good: np.ndarray  # (responses,) bool
    subsumes: np.ndarray  # (assertions, assertions) bool
    # what the generator knows and select() does not (for --structure): the failure modes each
    # bad response shows (bad responses, modes) and the mode each assertion targets
    modes: np.ndarray | None = None
    target: np.ndarray | None = None


def synthetic(
    n_assertions: int, n_responses: int, seed: int = 0, good_failures: str = "clustered"
) -> Synthetic:
    """A structured matrix; ``good_failures`` says how sound checks trip over good responses:
    "clustered" (each failure mode has its own borderline good responses, as a word limit trips
    over long-but-fine answers) or "random" (any of a shared pool: a harder stress case)."""
    rng = np.random.default_rng(seed)
    n, r = n_assertions, n_responses
    good = rng.random(r) >= 0.4
    g_idx, b_idx = np.flatnonzero(good), np.flatnonzero(~good)
    n_modes = max(5, n // 20)
    # each bad response shows one failure mode, sometimes two
    modes = np.zeros((len(b_idx), n_modes), dtype=bool)
    modes[np.arange(len(b_idx)), rng.integers(0, n_modes, len(b_idx))] = True
    second = rng.random(len(b_idx)) < 0.25
    modes[np.flatnonzero(second), rng.integers(0, n_modes, int(second.sum()))] = True
    pool = rng.choice(g_idx, size=max(1, len(g_idx) * 2 // 5), replace=False)
    # clustered: mode m's borderline good responses are a slice of the pool (slices overlap)
    width = max(1, 3 * len(pool) // n_modes)
    starts = rng.integers(0, len(pool), n_modes)
    borderline = [pool[(starts[m] + np.arange(width)) % len(pool)] for m in range(n_modes)]

    fail = np.zeros((r, n), dtype=bool)
    target = rng.integers(0, n_modes, n)
    noisy = rng.random(n) < 0.35
    for j in range(n):
        if noisy[j]:
            fail[g_idx, j] = rng.random(len(g_idx)) < rng.uniform(0.3, 0.9)
            fail[b_idx, j] = rng.random(len(b_idx)) < rng.uniform(0.3, 0.9)
            continue
        hit = rng.uniform(0.6, 1.0)
        stray = rng.uniform(0.0, 0.03)
        fail[b_idx, j] = np.where(
            modes[:, target[j]], rng.random(len(b_idx)) < hit, rng.random(len(b_idx)) < stray
        )
        if rng.random() < 0.5:  # half the sound checks trip over some borderline good responses
            near = borderline[target[j]] if good_failures == "clustered" else pool
            rate = rng.uniform(0.3, 1.0) if good_failures == "clustered" else rng.uniform(0.02, 0.3)
            fail[near, j] = rng.random(len(near)) < rate

    subsumes = np.zeros((n, n), dtype=bool)
    sound = np.flatnonzero(~noisy)
    for j in sound:
        u = rng.random()
        if u < 0.30:  # a variant of another sound check: identical or weaker
            o = int(rng.choice(sound))
            if o == j:
                continue
            fail[:, j] = fail[:, o]
            target[j] = target[o]
            if u >= 0.15:  # weaker: misses some bad responses, trips over a few more good ones
                caught = np.flatnonzero(fail[b_idx, j])
                fail[b_idx[caught[rng.random(len(caught)) < 0.3]], j] = False
                near = borderline[target[j]]
                fail[near[rng.random(len(near)) < 0.1], j] = True
            if rng.random() < 0.5:
                subsumes[o, j] = True
    # a few more subsumption links between checks of the same failure mode
    for _ in range(n):
        a, b = rng.choice(sound, 2)
        if a != b and target[a] == target[b]:
            subsumes[a, b] = True
    np.fill_diagonal(subsumes, False)
    return Synthetic(fail, good, subsumes, modes, target)


def as_arrays(s: Synthetic) -> Arrays:
    n = s.fail.shape[1]
    return Arrays(
        fail=s.fail,
        good=s.good,
        subsumes=s.subsumes,
        rank=np.arange(n, dtype=np.int64),
        groups=None,
    )


def timed(
    s: Synthetic,
    method: str,
    solver: str,
    presolve: bool,
    limit: float,
    sub_rule: str = "lexicographic",
) -> tuple[float, bool, int, float | None]:
    """Wall-clock seconds of select(), whether it was proven optimal, the count, and the
    solver's lower bound on the count when not proven (None: unknown or not a count)."""
    start = time.perf_counter()
    result = run_arrays(
        as_arrays(s),
        [f"a{j}" for j in range(s.fail.shape[1])],
        method,
        0.6,
        0.25,
        solver=solver,
        presolve=presolve,
        time_limit_s=limit,
        sub_rule=sub_rule,
    )
    return time.perf_counter() - start, result.proven_optimal, result.count, result.bound


def cell(seconds: float, proven: bool, count: int, bound: float | None = None) -> str:
    if proven:
        return f"{seconds:.2f}"
    gap = f", bound {bound:g}, gap {100 * (count - bound) / count:.1f}%" if bound else ""
    return f"{seconds:.0f} (not proven: {count}{gap})"


def spread(runs: list[tuple[float, bool, int, float | None]]) -> str:
    """Median (min-max) seconds over repeated runs, with the worst proof status and count."""
    seconds = sorted(r[0] for r in runs)
    proven = all(r[1] for r in runs)
    counts = sorted({r[2] for r in runs})
    bounds = [r[3] for r in runs if r[3] is not None]
    mid = statistics.median(seconds)
    text = f"{mid:.2f} ({seconds[0]:.2f}-{seconds[-1]:.2f}, n={len(runs)})"
    if not proven:
        gap = ""
        if bounds:
            # each run's own certificate: its count against the bound its solver proved
            gaps = sorted({f"{100 * (r[2] - r[3]) / r[2]:.1f}" for r in runs if r[3] is not None})
            gap = (
                f", bound {'/'.join(f'{b:g}' for b in sorted(set(bounds)))}, gap {'/'.join(gaps)}%"
            )
        text += f" not proven: {'/'.join(str(c) for c in counts)}{gap}"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100x500,1000x5000")
    parser.add_argument("--large", action="store_true", help="also 5000x20000")
    parser.add_argument("--methods", default="cov,sub")
    parser.add_argument("--solvers", default="highs,cbc" if highs_available() else "cbc")
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--no-baseline", action="store_true", help="skip the runs without presolve")
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="runs per configuration, interleaved; > 1 prints median (min-max) of the presolve "
        "runs (the machine may be shared: single runs are noisy)",
    )
    parser.add_argument(
        "--good-failures",
        choices=["clustered", "random"],
        default="clustered",
        help="how sound checks trip over good responses (random: a stress case)",
    )
    parser.add_argument(
        "--structure",
        type=float,
        metavar="SECONDS",
        help="instead of timing, describe each matrix for cov (what makes it hard), with a "
        "local search of SECONDS for the best coverage one assertion short of the greedy count",
    )
    args = parser.parse_args(argv)
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",") if s]
    if args.large:
        sizes.append((5000, 20000))
    if args.structure is not None:
        for n, r in sizes:
            s = synthetic(n, r, good_failures=args.good_failures)
            print(f"- {n:,} x {r:,}: {structure(s, args.structure)}", flush=True)
        return 0
    print(
        f"cores: {os.cpu_count()}, time limit {args.time_limit:g} s, alpha 0.6, tau 0.25, "
        f"good failures {args.good_failures}\n"
    )
    print(
        "| assertions x responses | method | solver | with presolve s | without s | ratio | "
        "count | after presolve: assertions x rows (+ fixed) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n, r in sizes:
        start = time.perf_counter()
        s = synthetic(n, r, good_failures=args.good_failures)
        print(
            f"<!-- {n}x{r}: generated in {time.perf_counter() - start:.1f} s -->", file=sys.stderr
        )
        for method in args.methods.split(","):
            stats = select_stats(s, method)
            configs = args.solvers.split(",")
            runs: dict[str, list[tuple[float, bool, int, float | None]]] = {c: [] for c in configs}
            for _ in range(args.repeats):  # interleaved: each round runs every solver once
                for solver in configs:
                    runs[solver].append(timed(s, method, solver, True, args.time_limit))
            for solver in configs:
                sec, proven, count, bound = runs[solver][-1]
                first = cell(sec, proven, count, bound)
                if args.repeats > 1:
                    first = spread(runs[solver])
                without, ratio = "skipped", ""
                if not args.no_baseline:
                    sec0, proven0, count0, bound0 = timed(s, method, solver, False, args.time_limit)
                    without = cell(sec0, proven0, count0, bound0)
                    if proven and proven0:
                        ratio = f"{sec0 / max(sec, 1e-3):.1f}x"
                    elif proven:
                        ratio = f"> {sec0 / max(sec, 1e-3):.0f}x"
                print(
                    f"| {n:,} x {r:,} | {method} | {solver} | {first} | "
                    f"{without} | {ratio} | {count} | {stats} |",
                    flush=True,
                )
    return 0


def structure(s: Synthetic, seconds: float, alpha: float = 0.6, tau: float = 0.25) -> str:
    """Why ``cov`` is hard on this matrix: its size after presolve, how connected it is, how much
    of what the assertions catch is stray (outside the failure mode they target), the LP bound,
    the greedy answer, and the best coverage a local search finds with one assertion fewer."""
    from dataclasses import replace

    from llmassert.select.heuristic import best_cov
    from llmassert.select.milp import build_cover_model
    from llmassert.select.presolve import reduce
    from llmassert.select.solvers import solve

    red = reduce(as_arrays(s), method="cov", tau=tau, alpha=alpha)
    bad, w = red.bad, red.bad_w
    parts = [
        f"after presolve {red.nc:,} assertions x {len(w):,} bad rows (need {red.need:,} "
        f"caught) + {len(red.good_w):,} good rows",
        f"{_components(bad)} connected component(s)",
    ]
    if s.modes is not None and s.target is not None:
        fail_bad = s.fail[~s.good][:, red.cols]
        own = s.modes[:, s.target[red.cols]]
        stray = (fail_bad & ~own).sum(axis=0)
        total = fail_bad.sum(axis=0)
        top = np.argsort(-total)[:20]
        parts.append(
            f"catches outside the assertion's own failure mode: "
            f"{100 * stray.sum() / total.sum():.0f}% (the 20 largest assertions: "
            f"{100 * stray[top].sum() / total[top].sum():.0f}%)"
        )
    model = build_cover_model(red, sub=False)
    lp = solve(replace(model, integer=[False] * model.n_vars), solver="highs", time_limit_s=600)
    parts.append(f"LP relaxation {lp.objective:.2f}")
    start = best_cov(red, seconds=2.0)
    if start is not None:
        k = int(start.sum())
        found = _best_coverage(bad, w, k - 1, seconds)
        parts.append(
            f"greedy + exchanges {k}; best coverage found with {k - 1} assertions "
            f"(swap local search, {seconds:g} s): {found:,} of {red.need:,} needed"
        )
    return "; ".join(parts)


def _components(bad: np.ndarray) -> int:
    """Connected components of the assertion/bad-row graph (min-label propagation)."""
    label = np.arange(bad.shape[1])
    big = bad.shape[1]
    while True:
        row = np.where(bad, label[None, :], big).min(axis=1)
        new = np.minimum(label, np.where(bad, row[:, None], big).min(axis=0))
        if (new == label).all():
            return len(np.unique(label[bad.any(axis=0)])) + int((~bad.any(axis=0)).sum())
        label = new


def _best_coverage(bad: np.ndarray, w: np.ndarray, k: int, seconds: float) -> int:
    """Largest weighted coverage found with ``k`` columns: randomized greedy starts, each improved
    by best single swaps until none helps (a lower bound on the true maximum, no proof)."""
    rng = np.random.default_rng(0)
    cols = bad.astype(np.int64)
    best, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        sel: list[int] = []
        hits = np.zeros(len(w), dtype=np.int64)
        for _ in range(k):
            gain = (w * (hits == 0)) @ cols
            gain[sel] = -1
            j = int(rng.choice(np.argsort(-gain)[:5]))
            sel.append(j)
            hits += cols[:, j]
        value, improved = int(w[hits > 0].sum()), True
        while improved and time.perf_counter() < deadline:
            improved = False
            for pos in rng.permutation(k):
                rest = hits - cols[:, sel[pos]]
                gain = (w * (rest == 0)) @ cols
                gain[sel] = -1
                j = int(np.argmax(gain))
                if int(w[rest > 0].sum()) + int(gain[j]) > value:
                    value = int(w[rest > 0].sum()) + int(gain[j])
                    sel[pos], hits, improved = j, rest + cols[:, j], True
        best = max(best, value)
    return best


def select_stats(s: Synthetic, method: str) -> str:
    from llmassert.select.presolve import reduce

    red = reduce(as_arrays(s), method=method, tau=0.25, alpha=0.6, sub_rule="lexicographic")
    fixed = f" (+ {red.stats.fixed:,})" if red.stats.fixed else ""
    return f"{red.stats.assertions_after:,} x {red.stats.responses_after:,}{fixed}"


if __name__ == "__main__":
    sys.exit(main())
