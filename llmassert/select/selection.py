"""The result of a selection: which assertions, how well they do, and how sure the solver is."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Method = Literal["cov", "sub", "base", "criteria"]
Status = Literal["optimal", "feasible", "infeasible"]
SubRule = Literal["lexicographic", "exemption"]


class PresolveStats(BaseModel):
    """Problem size before and after presolve (assertions = columns, responses = rows)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    assertions: int
    responses: int
    assertions_after: int  # assertions left as decisions for the solver
    responses_after: int
    fixed: int = 0  # assertions every feasible selection contains (selected by presolve)


class Selection(BaseModel):
    """A chosen assertion set with its coverage and false-failure rate on the matrix it came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Method  # the method that produced this selection (criteria after a no-label fallback)
    requested_method: Method  # what the caller asked for
    alpha: float
    tau: float
    selected: list[str]  # assertion names, in matrix order
    indices: list[int]
    count: int
    coverage: float | None  # None: the matrix has no labels
    ffr: float | None
    objective: (
        float  # the count: minimized (criteria, cov, sub after its first objective) or kept (base)
    )
    status: Status
    proven_optimal: bool
    seconds: float
    solver: str  # "cbc", "highs", or "none" when no ILP was needed
    # Infeasible targets raise InfeasibleError (its .nearest); select() never returns an
    # "infeasible" Selection. Kept for callers that relax targets and record where they landed.
    nearest: tuple[float, float] | None = None
    notes: list[str] = []
    presolve: PresolveStats | None = None
    sub_rule: SubRule | None = None  # what sub optimized (None for the other methods)
    # Assertions neither selected nor subsumed by a selected one (K[a][b] = 1); lexicographic
    # sub minimizes this first. None when unknown.
    unsubsumed: int | None = None
    # Proven lower bound on the count (cov, criteria, sub with the exemption rule): the count
    # itself when proven optimal; below it when the time limit stopped the solver (None: unknown).
    bound: float | None = None


__all__ = ["Method", "PresolveStats", "Selection", "Status", "SubRule"]
