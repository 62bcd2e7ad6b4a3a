"""A fast feasible selection to warm-start the ILP, and the feasibility test it relies on.

On large ``cov``/``sub`` problems the solvers can spend their whole time limit without an incumbent;
handing them a greedy solution means a time-limited run always returns something sound, and
gives branch-and-bound an upper bound to prune with from the first node.
"""

from __future__ import annotations

import numpy as np

from llmassert.select.arrays import BoolArray, rows_hit
from llmassert.select.presolve import Reduced


class Checker:
    """Constraint checks of a reduced problem for a candidate selection (a mask over columns)."""

    def __init__(self, problem: Reduced, *, sub: bool) -> None:
        self.p = problem
        self.sub = sub
        reqs = problem.requirements if sub else []
        nc, ng = problem.nc, len(problem.good_w)
        self.req_own = np.array([r.own for r in reqs], dtype=np.int64)
        self.req_by = np.zeros((len(reqs), nc), dtype=bool)
        self.req_good = np.zeros((len(reqs), ng), dtype=bool)
        self.req_exemptable = np.array([r.room is not None for r in reqs], dtype=bool)
        for k, r in enumerate(reqs):
            self.req_by[k, r.by] = True
            self.req_good[k, r.good_rows] = True

    def caught(self, sel: BoolArray) -> int:
        return int(self.p.bad_w[rows_hit(self.p.bad, sel)].sum())

    def failed(self, sel: BoolArray) -> BoolArray:
        return rows_hit(self.p.good, sel)

    def count(self, sel: BoolArray) -> int:
        """Weighted good rows the selection fails."""
        return int(self.p.good_w[self.failed(sel)].sum())

    def unmet(self, sel: BoolArray) -> BoolArray:
        """Requirements (sub) that the selection leaves unmet."""
        if len(self.req_own) == 0:
            return np.zeros(0, dtype=bool)
        own: BoolArray = (self.req_own >= 0) & sel[np.maximum(self.req_own, 0)]
        subsumed = (self.req_by & sel[None, :]).any(axis=1)
        met = own | subsumed
        if self.p.budget is not None:
            failed = self.failed(sel)
            count = int(self.p.good_w[failed].sum())
            fresh = self.req_good.astype(np.int64) @ (self.p.good_w * ~failed)
            met |= self.req_exemptable & (count + fresh >= self.p.budget + 1)
        out: BoolArray = ~met
        return out

    def feasible(self, sel: BoolArray) -> bool:
        if self.caught(sel) < self.p.need:
            return False
        if self.p.budget is not None and self.count(sel) > self.p.budget:
            return False
        return not self.unmet(sel).any()


def greedy(problem: Reduced, *, sub: bool) -> BoolArray | None:
    """A feasible selection, or None when the greedy rules cannot find one.

    Coverage first (most new bad catches per new good failure, within the FFR ceiling); for
    ``sub``, unmet requirements are then fixed one by one (each fix keeps the FFR within tau, since
    an unmet assertion is by definition one whose addition does not break the ceiling); last,
    selected assertions are dropped again, least preferred first, while the set stays feasible.
    """
    check = Checker(problem, sub=sub)
    p = problem
    budget = p.budget
    sel = np.zeros(p.nc, dtype=bool)
    caught = np.zeros(len(p.bad_w), dtype=bool)
    failed = np.zeros(len(p.good_w), dtype=bool)
    while int(p.bad_w[caught].sum()) < p.need:
        gain = p.bad_w[~caught] @ p.bad[~caught].astype(np.int64)
        cost = p.good_w[~failed] @ p.good[~failed].astype(np.int64)
        ok = ~sel & (gain > 0)
        if budget is not None:
            ok &= int(p.good_w[failed].sum()) + cost <= budget
        if not ok.any():
            return None
        j = int(np.argmax(np.where(ok, gain / (1.0 + cost), -1.0)))
        sel[j] = True
        caught |= p.bad[:, j]
        failed |= p.good[:, j]
    if sub:
        while True:
            unmet = np.flatnonzero(check.unmet(sel))
            if len(unmet) == 0:
                break
            req = p.requirements[int(unmet[0])]
            options = ([req.own] if req.own >= 0 else []) + [int(a) for a in req.by]
            fix = next((a for a in options if _fits(p, failed, a)), None)
            if fix is None:
                return None
            sel[fix] = True
            failed |= p.good[:, fix]
    for j in sorted(np.flatnonzero(sel).tolist(), key=lambda j: -int(p.rank[j])):
        sel[j] = False
        if not check.feasible(sel):
            sel[j] = True
    return sel


def _fits(problem: Reduced, failed: BoolArray, j: int) -> bool:
    if problem.budget is None:
        return True
    return int(problem.good_w[failed | problem.good[:, j]].sum()) <= problem.budget


__all__ = ["Checker", "greedy"]
