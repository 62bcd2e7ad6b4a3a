"""Solve one model for several objectives in order: each optimum is fixed before the next.

Every selection method is a sequence of objectives over the same constraints (docs/selection.md):

- ``sub`` (lexicographic): fewest assertions left out and not subsumed, then the count;
- ``cov`` and ``sub`` with the exemption rule: the count;
- ``criteria``: the count;

followed by the one **tie-break stage**: fewest good responses failed (when there are labels),
then the smallest sum of preference ranks (deterministic before ``llm_judge``, then cheaper, then
by name). ``llmassert synth`` and ``llmassert select`` both end here, so re-selecting a manifest
at the targets synth used gives synth's selection back.

Each stage is one solve of a weighted objective proven equal to its objectives in order
(:class:`Stage`). Each objective is integral at integral points, so a stage's optimum ``v`` is
fixed as the row ``cost @ x <= v + 0.5`` before the next stage. The main stage decides
``proven``; the tie-break solve is bounded (by nodes, deterministic, and by a share of the main
solve's time) and an unfinished one only adds a note — the set it keeps is still optimal for
every main objective.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from llmassert.select.arrays import BoolArray, IntArray
from llmassert.select.milp import FloatArray, Model
from llmassert.select.solvers import Solution, SolveOutcome, SolverName, resolve_solver, solve

# The tie-break solves are bounded: by nodes (deterministic), and in time by a quarter of the main
# solves' time, at least 1 s with HiGHS and 3 s with CBC (a process start and a file round trip
# per solve: 1 s left SPADE's finance cov tie-break unproven, 3 s proves it in 1.7 s in all):
# a preference among equally good sets must stay cheap.
TIE_BREAK_NODES = 2000
TIE_BREAK_SHARE = 0.25
TIE_BREAK_MIN_S = {"highs": 1.0, "cbc": 3.0}
# Objectives of one stage are combined with exact integer weights (see Stage) while the combined
# objective stays below this; beyond it they are solved one after the other.
MAX_COMBINED = 1e9


@dataclass(frozen=True)
class Stage:
    """Objectives solved together, lexicographically: ``parts`` in order of priority.

    All costs are integral and every variable lies in [0, 1], so part k ranges over at most
    ``sum |cost_k|``; weighting part k by one more than the weighted range of the parts after it
    makes any improvement of part k outweigh every change of the later parts: the weighted
    optimum is the lexicographic optimum (one solve instead of one per part, the same answer).
    """

    parts: tuple[tuple[str, FloatArray], ...]
    tie_break: bool

    def weighted(self) -> list[tuple[tuple[str, ...], FloatArray]]:
        """(names, cost) per solve: one combined cost, or one per part when it would be huge."""
        weight, total = 1.0, 0.0
        cost = np.zeros(len(self.parts[0][1]))
        for _, part in reversed(self.parts):
            cost += weight * part
            total += weight * float(np.abs(part).sum())
            weight = total + 1.0
        if total <= MAX_COMBINED:
            return [(tuple(name for name, _ in self.parts), cost)]
        return [((name,), part) for name, part in self.parts]


@dataclass
class Outcome:
    solution: Solution  # outcome "optimal" when every main objective was proven
    values: dict[str, float] = field(default_factory=dict)  # each objective at the answer
    notes: list[str] = field(default_factory=list)
    bound: float | None = None  # the solver's lower bound on a lone first objective, if unproven


def stages(objectives: dict[str, FloatArray], rank: IntArray, n_select: int) -> list[Stage]:
    """The main objectives of a model, then the tie-break stage."""
    main = tuple(
        (name, objectives[name]) for name in ("unrepresented", "count") if name in objectives
    )
    preference = np.zeros(len(objectives["count"]))
    preference[:n_select] = rank
    tie: tuple[tuple[str, FloatArray], ...] = (("preference", preference),)
    if "false_failures" in objectives:
        tie = (("false_failures", objectives["false_failures"]), *tie)
    return [Stage(main, tie_break=False), Stage(tie, tie_break=True)]


def solve_in_order(
    model: Model,
    plan: list[Stage],
    *,
    solver: SolverName,
    time_limit_s: float,
    initial: BoolArray | None = None,
) -> Outcome:
    """Solve ``model`` for each stage in turn. ``initial`` (a feasible selection) is kept when the
    solver finds nothing better within the time limit, and warm-starts CBC's first solve."""
    began = time.perf_counter()
    current = model.start_from(initial) if initial is not None else None
    proven = True
    main_seconds = 0.0
    notes: list[str] = []
    values: dict[str, float] = {}
    bound: float | None = None
    used = ""
    step = model
    fixed: tuple[FloatArray, float] | None = None
    solves = [(stage, names, cost) for stage in plan for names, cost in stage.weighted()]
    # HiGHS 1.16 maps a MIP start through its presolve and then may claim an objective its
    # returned values do not have, which costs a second solve (solvers.py); its main solves run
    # without the start (1.2-1.8x faster on bench/select_scale.py), which stays the answer of
    # last resort and is kept whenever the solver returns nothing better.
    highs = resolve_solver(solver) == "highs"
    for k, (stage, names, cost) in enumerate(solves):
        step = step.with_cost(cost, at_most=fixed)
        remaining = time_limit_s - (time.perf_counter() - began)
        if stage.tie_break:
            floor = TIE_BREAK_MIN_S["highs" if highs else "cbc"]
            budget = min(remaining, max(floor, TIE_BREAK_SHARE * main_seconds))
            nodes: int | None = TIE_BREAK_NODES
        else:
            budget, nodes = remaining, None
        if budget < 0.05 and current is not None:
            sol = Solution("no_solution", None, None, 0.0, used)
        else:
            sol = solve(
                step,
                solver=solver,
                time_limit_s=max(budget, 0.1),
                warm_start=current if stage.tie_break or not highs else None,
                node_limit=nodes,
            )
        used = sol.solver or used
        if not stage.tie_break:
            main_seconds += sol.seconds
        if sol.outcome == "infeasible" and k == 0:
            return Outcome(sol, values, notes)
        chosen, optimal = current, False
        if sol.values is not None:
            found = model.start_from(sol.values[: model.n_select] > 0.5)
            if current is None or _value(cost, found) <= _value(cost, current) + 0.5:
                chosen = found
            # the solver's optimum proves whatever is kept when it is no worse
            optimal = (
                sol.outcome == "optimal"
                and chosen is not None
                and _value(cost, chosen) <= _value(cost, found) + 0.5
            )
        if chosen is None:  # nothing feasible within the time limit
            return Outcome(Solution("no_solution", None, None, _since(began), used), values, notes)
        if not optimal:
            if stage.tie_break:
                what = " and ".join(name.replace("_", " ") for name in names)
                notes.append(
                    f"tie-break ({what}) among equally good sets not proven: the best found is kept"
                )
            else:
                proven = False
                if k == 0 and len(names) == 1 and sol.bound is not None:
                    bound = sol.bound
        current = chosen
        for name, part in stage.parts:
            if name in names:
                values[name] = float(round(_value(part, current)))
        fixed = (cost, round(_value(cost, current)) + 0.5)
    assert current is not None
    outcome: SolveOutcome = "optimal" if proven else "feasible"
    solution = Solution(outcome, current, values.get("count"), _since(began), used)
    return Outcome(solution, values, notes, bound)


def _value(cost: FloatArray, values: FloatArray) -> float:
    return float(np.dot(cost, values))


def _since(began: float) -> float:
    return time.perf_counter() - began


__all__ = ["MAX_COMBINED", "Outcome", "Stage", "solve_in_order", "stages"]
