"""A fast feasible selection to warm-start the ILP, and the feasibility test it relies on.

On large ``cov``/``sub`` problems the solvers can spend their whole time limit without an incumbent;
handing them a greedy solution means a time-limited run always returns something sound, and
gives branch-and-bound an upper bound to prune with from the first node.
"""

from __future__ import annotations

import time
from itertools import combinations

import numpy as np

from llmassert.select.arrays import BoolArray, rows_hit
from llmassert.select.presolve import Reduced


class Checker:
    """Constraint checks of a reduced problem for a candidate selection (a mask over columns)."""

    def __init__(self, problem: Reduced, *, sub: bool) -> None:
        self.p = problem
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

    def feasible(self, sel: BoolArray) -> bool:
        if self.caught(sel) < self.p.need:
            return False
        if self.p.budget is not None and self.count(sel) > self.p.budget:
            return False
        if len(self.req_own) == 0:
            return True
        return _requirements_met(self, sel, self.failed(sel), self.req_by[:, sel].sum(axis=1))


def greedy(problem: Reduced, *, sub: bool, penalty: float = 1.0) -> BoolArray | None:
    """A feasible selection, or None when the greedy rules cannot find one.

    Coverage first (most new bad catches per ``1 + penalty * new good failures``, within the FFR
    ceiling); for ``sub``, unmet requirements are then fixed one by one (each fix keeps the FFR
    within tau, since an unmet assertion is by definition one whose addition does not break the
    ceiling); last, selected assertions are dropped again, least preferred first, while the set
    stays feasible.
    """
    p = problem
    budget = p.budget
    sel = np.zeros(p.nc, dtype=bool)
    caught = np.zeros(len(p.bad_w), dtype=bool)
    failed = np.zeros(len(p.good_w), dtype=bool)
    # new catches and new false failures per column, kept up to date (sparse updates)
    gain = p.bad_w @ p.bad.astype(np.int64)
    cost = p.good_w @ p.good.astype(np.int64)
    while int(p.bad_w[caught].sum()) < p.need:
        ok = ~sel & (gain > 0)
        if budget is not None:
            ok &= int(p.good_w[failed].sum()) + cost <= budget
        if not ok.any():
            return None
        j = int(np.argmax(np.where(ok, gain / (1.0 + penalty * cost), -1.0)))
        sel[j] = True
        rows = p.bad[:, j] & ~caught
        gain = gain - p.bad_w[rows] @ p.bad[rows].astype(np.int64)
        caught |= rows
        rows = p.good[:, j] & ~failed
        cost = cost - p.good_w[rows] @ p.good[rows].astype(np.int64)
        failed |= rows
    if sub:
        # One pass suffices: a met requirement stays met as the selection grows (it only gains
        # members, and its failures only grow, which makes exemptions easier).
        count = int(p.good_w[failed].sum())
        for req in p.requirements:
            if (req.own >= 0 and sel[req.own]) or sel[req.by].any():
                continue
            if req.room is not None and budget is not None:
                fresh = int(p.good_w[req.good_rows][~failed[req.good_rows]].sum())
                if count + fresh >= budget + 1:
                    continue
            options = ([req.own] if req.own >= 0 else []) + [int(a) for a in req.by]
            fix = next((a for a in options if _fits(p, failed, a)), None)
            if fix is None:
                return None
            sel[fix] = True
            failed |= p.good[:, fix]
            count = int(p.good_w[failed].sum())
    _prune(Checker(problem, sub=sub), sel)
    return sel


def best_cov(problem: Reduced, *, seconds: float) -> BoolArray | None:
    """``cov``: the best of a few greedy runs, improved by exchanges within ``seconds``.

    Greedy by catches per false failure keeps the FFR low but can need more assertions than
    greedy by catches alone (bench/select_scale.py, 1,000 x 5,000: 16 against 15); both run, and
    the smaller set is then improved by "two out, one in" exchanges while time allows.
    """
    runs = [
        sel
        for sel in (greedy(problem, sub=False, penalty=w) for w in (1.0, 0.0))
        if sel is not None
    ]
    if not runs:
        return None
    sel = min(runs, key=lambda s: (int(s.sum()), Checker(problem, sub=False).count(s)))
    return _exchange(problem, sel.copy(), time.perf_counter() + seconds)


def _exchange(p: Reduced, sel: BoolArray, deadline: float) -> BoolArray:
    """Replace two selected columns by one while the selection stays feasible."""
    bad = p.bad.astype(np.int64)
    improved = True
    while improved and time.perf_counter() < deadline:
        improved = False
        chosen = np.flatnonzero(sel)
        hits = bad[:, sel].sum(axis=1)
        for x, y in combinations(chosen.tolist(), 2):
            if time.perf_counter() >= deadline:
                break
            left = hits - bad[:, x] - bad[:, y]
            base = int(p.bad_w[left > 0].sum())
            open_rows = left == 0
            gain = p.bad_w[open_rows] @ bad[open_rows]
            for c in np.flatnonzero(base + gain >= p.need):
                if sel[c]:
                    continue
                trial = sel.copy()
                trial[[x, y]] = False
                trial[c] = True
                if Checker(p, sub=False).feasible(trial):
                    sel = trial
                    improved = True
                    break
            if improved:
                break
    return sel


def _prune(check: Checker, sel: BoolArray) -> None:
    """Drop selected columns, least preferred first, while the selection stays feasible.

    Hit counts per row are kept up to date instead of recomputing ``any`` over the selection.
    Removing a column never raises the FFR, so only coverage and requirements are rechecked.
    """
    p = check.p
    bad_hits = p.bad[:, sel].sum(axis=1)
    good_hits = p.good[:, sel].sum(axis=1)
    by_hits = check.req_by[:, sel].sum(axis=1)
    for j in sorted(np.flatnonzero(sel).tolist(), key=lambda j: -int(p.rank[j])):
        bad_after = bad_hits - p.bad[:, j]
        if int(p.bad_w[bad_after > 0].sum()) < p.need:
            continue
        good_after = good_hits - p.good[:, j]
        by_after = by_hits - check.req_by[:, j]
        sel[j] = False
        if len(check.req_own) and not _requirements_met(check, sel, good_after > 0, by_after):
            sel[j] = True
            continue
        bad_hits, good_hits, by_hits = bad_after, good_after, by_after


def _requirements_met(
    check: Checker, sel: BoolArray, failed: BoolArray, by_hits: np.ndarray
) -> bool:
    p = check.p
    met = ((check.req_own >= 0) & sel[np.maximum(check.req_own, 0)]) | (by_hits > 0)
    if p.budget is not None and not met.all():
        count = int(p.good_w[failed].sum())
        fresh = check.req_good.astype(np.int64) @ (p.good_w * ~failed)
        met |= check.req_exemptable & (count + fresh >= p.budget + 1)
    return bool(met.all())


def _fits(problem: Reduced, failed: BoolArray, j: int) -> bool:
    if problem.budget is None:
        return True
    return int(problem.good_w[failed | problem.good[:, j]].sum()) <= problem.budget


def greedy_lexicographic(problem: Reduced) -> BoolArray | None:
    """A feasible selection for lexicographic ``sub``, or None when the greedy rules find none.

    Hard rows first (each by its member failing the fewest new good responses), then coverage
    (as :func:`greedy`), then representation: the column representing the most unrepresented
    weight per new good failure, while the FFR allows. Last, selected columns are dropped again,
    least preferred first, when coverage, the hard rows and the represented weight all hold.
    """
    p, t = problem, problem.targets
    assert t is not None
    sel = np.zeros(p.nc, dtype=bool)
    failed = np.zeros(len(p.good_w), dtype=bool)
    soft = np.zeros((len(t.soft), p.nc), dtype=bool)
    for k, members in enumerate(t.soft):
        soft[k, members] = True

    # weighted good rows each column would newly fail; kept up to date as rows get failed
    fresh = p.good_w @ p.good.astype(np.int64)

    def add(j: int) -> None:
        nonlocal fresh
        rows = p.good[:, j] & ~failed
        if rows.any():
            fresh = fresh - p.good_w[rows] @ p.good[rows].astype(np.int64)
            failed[rows] = True
        sel[j] = True

    def room() -> float:
        return np.inf if p.budget is None else p.budget - int(p.good_w[failed].sum())

    for members in t.hard:
        if sel[members].any():
            continue
        cost = fresh[members]
        best = int(np.argmin(cost * (p.nc + 1) + p.rank[members]))
        if cost[best] > room():
            return None
        add(int(members[best]))
    caught = rows_hit(p.bad, sel)
    while int(p.bad_w[caught].sum()) < p.need:
        gain = p.bad_w[~caught] @ p.bad[~caught].astype(np.int64)
        ok = ~sel & (gain > 0) & (fresh <= room())
        if not ok.any():
            return None
        j = int(np.argmax(np.where(ok, gain / (1.0 + fresh), -1.0)))
        add(j)
        caught |= p.bad[:, j]
    if len(t.soft):
        open_rows = ~(soft[:, sel].any(axis=1))
        while True:
            gain = t.weight[open_rows] @ soft[open_rows].astype(np.int64)
            ok = ~sel & (gain > 0) & (fresh <= room())
            if not ok.any():
                break
            j = int(np.argmax(np.where(ok, gain / (1.0 + fresh), -1.0)))
            add(j)
            open_rows &= ~soft[:, j]
    _prune_lexicographic(p, soft, sel)
    return sel


def _prune_lexicographic(p: Reduced, soft: BoolArray, sel: BoolArray) -> None:
    t = p.targets
    assert t is not None
    bad_hits = p.bad[:, sel].sum(axis=1)
    soft_hits = soft[:, sel].sum(axis=1)
    hard = np.zeros((len(t.hard), p.nc), dtype=bool)
    for k, members in enumerate(t.hard):
        hard[k, members] = True
    hard_hits = hard[:, sel].sum(axis=1)
    for j in sorted(np.flatnonzero(sel).tolist(), key=lambda j: -int(p.rank[j])):
        bad_after = bad_hits - p.bad[:, j]
        soft_after = soft_hits - soft[:, j]
        hard_after = hard_hits - hard[:, j]
        if (
            int(p.bad_w[bad_after > 0].sum()) < p.need
            or (hard_after == 0).any()
            or ((soft_after == 0) & (soft_hits > 0)).any()
        ):
            continue
        sel[j] = False
        bad_hits, soft_hits, hard_hits = bad_after, soft_after, hard_after


__all__ = ["Checker", "best_cov", "greedy", "greedy_lexicographic"]
