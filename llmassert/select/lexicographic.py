"""Solve one model for several objectives in order: each optimum is fixed before the next.

Every selection method is a sequence of objectives over the same constraints (docs/selection.md):

- ``sub`` (lexicographic): fewest assertions left out and not subsumed, then the count;
- ``cov`` and ``sub`` with the exemption rule: the count;
- ``criteria``: the count;

followed by the one **tie-break stage**: fewest good responses failed (when there are labels),
then the smallest sum of preference ranks (deterministic before ``llm_judge``, then cheaper, then
by name). ``llmassert synth`` and ``llmassert select`` both end here, so re-selecting a manifest
at the targets synth used gives synth's selection back.

Each objective is integral at integral points, so its optimum ``v`` is fixed as the row
``cost @ v <= v + 0.5``. The main objectives decide ``proven``; tie-break solves are bounded
(by nodes, deterministic, and by a share of the main solves' time) and an unfinished one only
adds a note — the set it keeps is still optimal for every main objective.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from llmassert.select.arrays import BoolArray, IntArray
from llmassert.select.milp import FloatArray, Model
from llmassert.select.solvers import Solution, SolverName, solve

# The tie-break solves are bounded: by nodes (deterministic), and in time by a quarter of the main
# solves' time (at least 1 s): a preference among equally good sets must stay cheap.
TIE_BREAK_NODES = 2000
TIE_BREAK_SHARE = 0.25
TIE_BREAK_MIN_S = 1.0

TIE_BREAK = ("false_failures", "preference")


@dataclass(frozen=True)
class Stage:
    name: str  # unrepresented, count, false_failures or preference
    cost: FloatArray

    @property
    def tie_break(self) -> bool:
        return self.name in TIE_BREAK


@dataclass
class Outcome:
    solution: Solution  # outcome "optimal" when every main stage was proven
    values: dict[str, float] = field(default_factory=dict)  # each objective at the answer
    notes: list[str] = field(default_factory=list)


def stages(objectives: dict[str, FloatArray], rank: IntArray, n_select: int) -> list[Stage]:
    """The objectives of a model in order, the tie-break stage last."""
    order = [name for name in ("unrepresented", "count", "false_failures") if name in objectives]
    out = [Stage(name, objectives[name]) for name in order]
    preference = np.zeros(len(objectives["count"]))
    preference[:n_select] = rank
    out.append(Stage("preference", preference))
    return out


def solve_in_order(
    model: Model,
    plan: list[Stage],
    *,
    solver: SolverName,
    time_limit_s: float,
    initial: BoolArray | None = None,
) -> Outcome:
    """Solve ``model`` for each stage in turn. ``initial`` (a feasible selection) warm-starts the
    first solve and is kept when the solver finds nothing better within the time limit."""
    began = time.perf_counter()
    current = model.start_from(initial) if initial is not None else None
    proven = True
    main_seconds = 0.0
    notes: list[str] = []
    values: dict[str, float] = {}
    used = ""
    step = model
    fixed: tuple[FloatArray, float] | None = None
    for k, stage in enumerate(plan):
        step = step.with_cost(stage.cost, at_most=fixed)
        remaining = time_limit_s - (time.perf_counter() - began)
        if stage.tie_break:
            budget = min(remaining, max(TIE_BREAK_MIN_S, TIE_BREAK_SHARE * main_seconds))
            nodes: int | None = TIE_BREAK_NODES
        else:
            budget, nodes = remaining, None
        if budget < 0.05 and current is not None:
            sol = Solution("no_solution", None, None, 0.0, "none")
        else:
            sol = solve(
                step,
                solver=solver,
                time_limit_s=max(budget, 0.1),
                warm_start=current,
                node_limit=nodes,
            )
        used = sol.solver
        if not stage.tie_break:
            main_seconds += sol.seconds
        if sol.outcome == "infeasible" and k == 0:
            return Outcome(sol, values, notes)
        chosen, optimal = current, False
        if sol.values is not None:
            found = model.start_from(sol.values[: model.n_select] > 0.5)
            if current is None or _value(stage, found) <= _value(stage, current) + 0.5:
                chosen = found
            # the solver's optimum proves whatever is kept when it is no worse
            optimal = sol.outcome == "optimal" and (
                _value(stage, chosen) <= _value(stage, found) + 0.5
            )
        if chosen is None:  # nothing feasible within the time limit
            return Outcome(Solution("no_solution", None, None, _since(began), used), values, notes)
        if not optimal:
            if stage.tie_break:
                notes.append(
                    f"tie-break ({stage.name.replace('_', ' ')}) among equally good sets not "
                    "proven: the best found is kept"
                )
            else:
                proven = False
        current = chosen
        value = round(_value(stage, current))
        values[stage.name] = float(value)
        fixed = (stage.cost, value + 0.5)
    assert current is not None
    outcome = "optimal" if proven else "feasible"
    return Outcome(
        Solution(outcome, current, values.get("count"), _since(began), used), values, notes
    )


def _value(stage: Stage, values: FloatArray) -> float:
    return float(np.dot(stage.cost, values))


def _since(began: float) -> float:
    return time.perf_counter() - began


__all__ = ["TIE_BREAK", "Outcome", "Stage", "solve_in_order", "stages"]
