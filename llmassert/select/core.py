"""``select()``: from a matrix and targets to a :class:`Selection` (pure: no I/O, no LLM).

Methods (SPADE, Shankar et al. 2024; docs/selection.md has the full formulations):

- ``base``: every assertion whose own FFR is at most tau.
- ``cov``: the fewest assertions with coverage >= alpha and FFR <= tau.
- ``sub`` (``sub_rule="lexicographic"``, the default): under the ``cov`` constraints, first the
  fewest assertions left out and not subsumed by a selected one (SPADE's released objective),
  then the fewest assertions (the paper's intent).
- ``sub`` with ``sub_rule="exemption"``: the fewest assertions such that every assertion is
  selected, subsumed by a selected one, or could not be added without pushing the FFR above tau
  (this project's earlier reading; it lets a selection near tau exempt almost everything).
- ``criteria``: without labels, the fewest assertions such that every criterion (``groups``) has
  a selected assertion or one subsuming an assertion of it. ``cov``/``sub`` fall back to it when
  the matrix has no labels, and the Selection says so.

Every method ends with the same tie-break stage (:mod:`llmassert.select.lexicographic`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np

from llmassert.errors import InfeasibleError, SelectionError
from llmassert.select.arrays import Arrays, BoolArray, IntArray
from llmassert.select.check import violations
from llmassert.select.heuristic import best_cov, greedy, greedy_lexicographic
from llmassert.select.lexicographic import solve_in_order, stages
from llmassert.select.matrix import Matrix
from llmassert.select.metrics import allowed_false
from llmassert.select.milp import (
    FfrRows,
    Model,
    build_cover_model,
    build_criteria_model,
    objectives,
)
from llmassert.select.presolve import reduce
from llmassert.select.selection import Method, PresolveStats, Selection, Status, SubRule
from llmassert.select.solvers import Solution, SolverName, resolve_solver, solve

METHODS: tuple[Method, ...] = ("cov", "sub", "base", "criteria")
SUB_RULES: tuple[SubRule, ...] = ("lexicographic", "exemption")
GRID_STEP = 0.05  # tau grid for the nearest feasible targets


def select(
    matrix: Matrix,
    method: Method = "cov",
    alpha: float = 0.6,
    tau: float = 0.25,
    *,
    time_limit_s: float = 60.0,
    presolve: bool = True,
    solver: SolverName = "auto",
    find_nearest: bool = True,
    sub_rule: SubRule = "lexicographic",
) -> Selection:
    """Choose assertions from ``matrix``.

    Raises :class:`InfeasibleError` when the targets cannot be met; its ``nearest`` holds the
    closest feasible ``(alpha, tau)`` — a few more solves, which ``find_nearest=False`` skips
    (for callers that search the targets themselves). ``solver="auto"`` is HiGHS when highspy
    is installed, else CBC. ``sub_rule`` says what ``sub`` optimizes (module docstring).
    """
    start = time.perf_counter()
    return run_arrays(
        Arrays.from_matrix(matrix),
        matrix.assertions,
        method,
        alpha,
        tau,
        time_limit_s=time_limit_s,
        presolve=presolve,
        solver=solver,
        start=start,
        find_nearest=find_nearest,
        sub_rule=sub_rule,
    )


def run_arrays(
    arrays: Arrays,
    names: list[str],
    method: Method,
    alpha: float,
    tau: float,
    *,
    time_limit_s: float = 60.0,
    presolve: bool = True,
    solver: SolverName = "auto",
    start: float | None = None,
    find_nearest: bool = True,
    sub_rule: SubRule = "lexicographic",
) -> Selection:
    """:func:`select` on a matrix already in array form (benchmarks skip the list-of-lists)."""
    _check_targets(method, alpha, tau, time_limit_s, sub_rule)
    resolve_solver(solver)  # fail fast on an unknown or missing solver
    start = time.perf_counter() if start is None else start
    used: Method = method
    notes: list[str] = []
    if arrays.good is None and method != "criteria":
        used = "criteria"
        notes.append(f"no labels: selected by criteria coverage instead of {method}")
    rule = sub_rule if used == "sub" else None
    ctx = _Context(names, used, method, alpha, tau, start, notes, rule)
    if used == "base":
        return _finish(arrays, _base(arrays, tau), ctx)
    if used == "criteria":
        if arrays.groups is None:
            notes.append("no criterion groups: every assertion counts as its own criterion")
        model = _criteria_model(arrays)
        sol = _lexicographic(model, arrays.rank, solver, _left(start, time_limit_s), notes)
        return _finish(arrays, _chosen(sol, np.arange(arrays.n)), ctx, sol=sol)
    reduced = reduce(
        arrays, method=used, tau=tau, alpha=alpha, presolve=presolve, sub_rule=sub_rule
    )
    # Lexicographic sub: the pairs form's tight LP is its optimum on bench/select_scale.py
    # (HiGHS proves 1,000 x 5,000 at the root); aggregated rows suit cov and the exemption rule.
    form: FfrRows = "pairs" if reduced.targets is not None else "aggregated"
    model = build_cover_model(reduced, sub=used == "sub", ffr_rows=form)
    if reduced.targets is not None:
        initial = greedy_lexicographic(reduced)
    elif used == "cov":
        initial = best_cov(reduced, seconds=min(2.0, 0.05 * time_limit_s))
    else:
        initial = greedy(reduced, sub=True)
    # the time limit is the whole call's: presolve and the greedy start came out of it
    sol = _lexicographic(model, reduced.rank, solver, _left(start, time_limit_s), notes, initial)
    if sol.outcome == "infeasible":
        problem = _Targets(arrays, used, alpha, tau, solver, time_limit_s, sub_rule)
        raise _infeasible(problem, find_nearest)
    chosen = _chosen(sol, reduced.cols, reduced.forced, time_limit_s=time_limit_s)
    indices = [int(j) for j in chosen]
    problems = violations(arrays, indices, used, alpha, tau, sub_rule=sub_rule)
    if used == "sub" and sub_rule == "lexicographic" and sol.outcome == "optimal":
        # A proven optimum of the first objective leaves out, unsubsumed, only assertions
        # whose addition would break the FFR ceiling (else adding one would do better).
        problems += [
            f"{p} although proven optimal"
            for p in violations(arrays, indices, used, alpha, tau, sub_rule="exemption")
        ]
    if problems:
        raise SelectionError(
            f"the solver's answer breaks its constraints ({'; '.join(problems)}); "
            "this is a bug in llmassert, please report it"
        )
    return _finish(arrays, chosen, ctx, sol=sol, presolve=reduced.stats)


def nearest_feasible(
    matrix: Matrix,
    method: Method,
    alpha: float,
    tau: float,
    *,
    solver: SolverName = "auto",
    time_limit_s: float = 60.0,
    sub_rule: SubRule = "lexicographic",
) -> tuple[float, float] | None:
    """The feasible ``(alpha, tau)`` closest to the given one: tau on a 0.05 grid at or above
    ``tau``, alpha the best coverage reachable there (rounded down to 0.01). ``None`` without
    labels or when nothing is feasible even at alpha = 0."""
    arrays = Arrays.from_matrix(matrix)
    if arrays.good is None or method not in ("cov", "sub"):
        return None
    return _nearest(_Targets(arrays, method, alpha, tau, solver, time_limit_s, sub_rule))[0]


# -- methods -------------------------------------------------------------------------------------


def _base(arrays: Arrays, tau: float) -> IntArray:
    assert arrays.good is not None
    fail_good = arrays.fail[arrays.good]
    return np.flatnonzero(fail_good.sum(axis=0) <= allowed_false(tau, len(fail_good)))


def _criteria_model(arrays: Arrays) -> Model:
    n = arrays.n
    groups = arrays.groups if arrays.groups is not None else [str(j) for j in range(n)]
    names = sorted(set(groups))
    member = np.array([[g == name for g in groups] for name in names], dtype=bool).reshape(-1, n)
    covers = member.copy()
    if arrays.subsumes is not None:
        # j covers group g when it subsumes some member of g
        covers |= (member.astype(np.int64) @ arrays.subsumes.T.astype(np.int64)) > 0
    return build_criteria_model(covers)


def _lexicographic(
    model: Model,
    rank: IntArray,
    solver: SolverName,
    time_limit_s: float,
    notes: list[str],
    initial: BoolArray | None = None,
) -> Solution:
    """The model's objectives in order, then the tie-break stage (see lexicographic.py)."""
    plan = stages(objectives(model), rank, model.n_select)
    out = solve_in_order(model, plan, solver=solver, time_limit_s=time_limit_s, initial=initial)
    notes.extend(out.notes)
    if out.bound is not None:
        return replace(out.solution, bound=out.bound)
    return out.solution


def _left(start: float, time_limit_s: float) -> float:
    """Seconds left of the call's time limit (a sliver at least: the greedy start is kept)."""
    return max(0.1, time_limit_s - (time.perf_counter() - start))


def _chosen(
    sol: Solution,
    cols: IntArray,
    forced: IntArray | None = None,
    *,
    time_limit_s: float | None = None,
) -> IntArray:
    """Original column indices of the answer, presolve's forced columns included."""
    if sol.values is None:
        limit = f" of {time_limit_s:g} s" if time_limit_s is not None else ""
        raise SelectionError(
            f"no feasible selection found within the time limit{limit}",
            hint="raise --time-limit or try --solver highs",
        )
    picked = cols[sol.values[: len(cols)] > 0.5]
    return np.sort(picked if forced is None else np.concatenate([forced, picked]))


# -- infeasibility ------------------------------------------------------------------------------


def _max_coverage(
    arrays: Arrays,
    method: Method,
    tau: float,
    solver: SolverName,
    time_limit_s: float,
    sub_rule: SubRule,
) -> float | None:
    """Best coverage reachable at FFR <= tau (a lower bound if the solver ran out of time)."""
    assert arrays.good is not None
    if method == "sub" and sub_rule == "lexicographic":
        method = "cov"  # lexicographic sub is feasible exactly where cov is
    reduced = reduce(arrays, method=method, tau=tau, alpha=None)
    sol = solve(
        build_cover_model(reduced, sub=method == "sub", maximize_coverage=True),
        solver=solver,
        time_limit_s=time_limit_s,
    )
    if sol.values is None:
        return None
    n_bad = int((~arrays.good).sum())
    if n_bad == 0:
        return 1.0
    chosen = np.concatenate([reduced.forced, reduced.cols[sol.values[: reduced.nc] > 0.5]])
    caught = arrays.fail[~arrays.good][:, chosen].any(axis=1).sum()
    return float(caught) / n_bad


@dataclass(frozen=True)
class _Targets:
    """A labeled selection problem whose targets may be out of reach (see :func:`_nearest`)."""

    arrays: Arrays
    method: Method
    alpha: float
    tau: float
    solver: SolverName
    time_limit_s: float
    sub_rule: SubRule


def _nearest(problem: _Targets) -> tuple[tuple[float, float] | None, float | None]:
    """Nearest feasible targets and the best coverage at the requested tau."""
    arrays, method, alpha, tau = problem.arrays, problem.method, problem.alpha, problem.tau
    solver, time_limit_s, sub_rule = problem.solver, problem.time_limit_s, problem.sub_rule
    probe_limit = max(1.0, time_limit_s / 5)
    grid = [round(k * GRID_STEP, 2) for k in range(round(1 / GRID_STEP) + 1)]
    taus = [tau] + [t for t in grid if t > tau + 1e-9]
    best: tuple[float, float] | None = None
    best_distance = math.inf
    at_tau: float | None = None
    for t in taus:
        if t - tau >= best_distance:
            break
        cap = _max_coverage(arrays, method, t, solver, probe_limit, sub_rule)
        if t == tau:
            at_tau = cap
        if cap is None:
            continue
        a = min(alpha, math.floor(cap * 100 + 1e-9) / 100)
        distance = math.hypot(alpha - a, t - tau)
        if distance < best_distance:
            best, best_distance = (a, t), distance
    return best, at_tau


def _infeasible(problem: _Targets, find_nearest: bool) -> InfeasibleError:
    method, alpha, tau = problem.method, problem.alpha, problem.tau
    if not find_nearest:
        return InfeasibleError(f"{method}: cannot reach coverage >= {alpha:g} with FFR <= {tau:g}")
    nearest, cap = _nearest(problem)
    reach = f"; the best coverage at FFR <= {tau:g} is {cap:.2f}" if cap is not None else ""
    if nearest is None:
        tail = "; no feasible targets found"
    else:
        tail = f"; nearest feasible: --alpha {nearest[0]:g} --tau {nearest[1]:g}"
    return InfeasibleError(
        f"{method}: cannot reach coverage >= {alpha:g} with FFR <= {tau:g}{reach}{tail}",
        nearest=nearest,
    )


# -- result ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    names: list[str]
    used: Method
    requested: Method
    alpha: float
    tau: float
    start: float
    notes: list[str]
    sub_rule: SubRule | None = None


def _finish(
    arrays: Arrays,
    chosen: IntArray,
    ctx: _Context,
    *,
    sol: Solution | None = None,
    presolve: PresolveStats | None = None,
) -> Selection:
    indices = [int(j) for j in chosen]
    cov_value: float | None = None
    ffr_value: float | None = None
    if arrays.good is not None:
        fails = arrays.fail[:, indices].any(axis=1)
        n_bad, n_good = int((~arrays.good).sum()), int(arrays.good.sum())
        cov_value = float((fails & ~arrays.good).sum()) / n_bad if n_bad else 1.0
        ffr_value = float((fails & arrays.good).sum()) / n_good if n_good else 0.0
        if ctx.used == "base" and cov_value < ctx.alpha:
            ctx.notes.append(
                f"base ignores alpha: its coverage {cov_value:.2f} is below {ctx.alpha:g}"
            )
    selected = np.zeros(arrays.n, dtype=bool)
    selected[indices] = True
    subsumed = (
        arrays.subsumes[selected].any(axis=0)
        if arrays.subsumes is not None
        else np.zeros(arrays.n, dtype=bool)
    )
    status: Status = "optimal" if sol is None or sol.outcome == "optimal" else "feasible"
    bound: float | None = None
    count_first = ctx.used in ("cov", "criteria") or ctx.sub_rule == "exemption"
    if status == "optimal" and count_first:
        bound = float(len(indices))
    if status == "feasible":
        # the tie-break cannot have run to a proof either: one note says it all
        ctx.notes[:] = [n for n in ctx.notes if not n.startswith("tie-break")]
        ctx.notes.append("time limit reached: the best selection found, not proven optimal")
        if sol is not None and sol.bound is not None and math.isfinite(sol.bound) and count_first:
            # the solver's bound on the reduced count, plus presolve's forced columns
            forced = presolve.fixed if presolve is not None else 0
            bound = float(math.ceil(sol.bound - 1e-6) + forced)
            gap = (len(indices) - bound) / len(indices) if indices else 0.0
            # Counts are integers, so the solver's bound (its LP relaxation tightened by its cuts
            # and branch-and-bound) rounds up; the note names who proved it.
            who = {"highs": "HiGHS", "cbc": "CBC"}.get(sol.solver, sol.solver)
            extra = f" + {forced} fixed by presolve" if forced else ""
            ctx.notes.append(
                f"{who} proved at least {bound:g} assertions are needed (its best bound "
                f"{sol.bound:.2f}{extra}, rounded up; gap {100 * gap:.1f}%)"
            )
    return Selection(
        method=ctx.used,
        requested_method=ctx.requested,
        alpha=ctx.alpha,
        tau=ctx.tau,
        selected=[ctx.names[j] for j in indices],
        indices=indices,
        count=len(indices),
        coverage=cov_value,
        ffr=ffr_value,
        objective=float(len(indices)),
        status=status,
        proven_optimal=status == "optimal",
        seconds=round(time.perf_counter() - ctx.start, 4),
        solver=sol.solver if sol is not None else "none",
        notes=ctx.notes,
        presolve=presolve,
        sub_rule=ctx.sub_rule,
        unsubsumed=int((~selected & ~subsumed).sum()),
        bound=bound,
    )


def _check_targets(
    method: str, alpha: float, tau: float, time_limit_s: float, sub_rule: str
) -> None:
    if method not in METHODS:
        raise SelectionError(
            f"unknown method {method!r} (expected {', '.join(METHODS)})", field="method"
        )
    if sub_rule not in SUB_RULES:
        raise SelectionError(
            f"unknown rule {sub_rule!r} (expected {', '.join(SUB_RULES)})", field="sub_rule"
        )
    for name, value in (("alpha", alpha), ("tau", tau)):
        if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
            raise SelectionError(f"must be between 0 and 1, got {value!r}", field=name)
    if not time_limit_s > 0:
        raise SelectionError(f"must be positive, got {time_limit_s!r}", field="time_limit_s")


__all__ = ["METHODS", "SUB_RULES", "nearest_feasible", "run_arrays", "select"]
