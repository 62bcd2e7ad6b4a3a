"""The selection ILPs, written once as a solver-neutral sparse model.

Only the assertion variables ``x`` are integer. The per-response indicators are continuous in
[0, 1] and still exact at integer ``x``: ``u_i <= sum of x failing bad row i`` lets ``u_i`` reach 1
only when row ``i`` is caught, and ``z_i >= x_j`` forces ``z_i = 1`` whenever good row ``i`` is failed
(``sub`` adds ``z_i <= sum x`` so that ``z`` is exactly "failed", which its exemption reads).

Minimal sets are found lexicographically, in two solves: first the fewest assertions (an integral
objective, which solvers prune on well), then, with the count fixed, the most preferred set of that
size (objective: the preference ranks). One objective with weights ``1 + eps * rank`` says the same
in theory, but proving its tie-break took 20-60x longer than proving the count on synthetic
``cov`` instances (bench/select_scale.py), so the second solve is bounded separately.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from llmassert.select.presolve import Reduced

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
INF = float("inf")


@dataclass
class Model:
    """Minimize ``cost @ v`` subject to ``lo <= A v <= hi`` and bounds; ``integer`` marks ints.

    Rows are stored in CSR blocks so that thousands of them can be added in one numpy call.
    """

    cost: list[float] = field(default_factory=list)
    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    integer: list[bool] = field(default_factory=list)
    blocks: list[tuple[IntArray, IntArray, FloatArray, FloatArray, FloatArray]] = field(
        default_factory=list
    )
    n_select: int = 0  # the first n_select variables are the assertions' x

    @property
    def n_vars(self) -> int:
        return len(self.cost)

    @property
    def n_rows(self) -> int:
        return sum(len(b[3]) for b in self.blocks)

    def add_vars(
        self, count: int, *, cost: Sequence[float] | float = 0.0, lo: float = 0.0,
        hi: float = 1.0, integer: bool = False,
    ) -> IntArray:
        start = len(self.cost)
        costs = [float(cost)] * count if isinstance(cost, int | float) else [float(c) for c in cost]
        self.cost += costs
        self.lower += [lo] * count
        self.upper += [hi] * count
        self.integer += [integer] * count
        return np.arange(start, start + count, dtype=np.int64)

    def add_row(
        self, cols: IntArray, vals: FloatArray | float, lo: float = -INF, hi: float = INF
    ) -> None:
        cols = np.asarray(cols, dtype=np.int64)
        values = np.broadcast_to(np.asarray(vals, dtype=np.float64), cols.shape).copy()
        starts = np.array([0, len(cols)], dtype=np.int64)
        self.blocks.append((starts, cols, values, np.array([lo]), np.array([hi])))

    def add_pair_rows(self, first: IntArray, second: IntArray, lo: float) -> None:
        """Rows ``v[first[k]] - v[second[k]] >= lo``, all at once."""
        count = len(first)
        if count == 0:
            return
        cols = np.stack([first, second], axis=1).reshape(-1).astype(np.int64)
        vals = np.tile(np.array([1.0, -1.0]), count)
        starts = np.arange(0, 2 * count + 1, 2, dtype=np.int64)
        self.blocks.append(
            (starts, cols, vals, np.full(count, lo), np.full(count, INF))
        )

    def csr(self) -> tuple[IntArray, IntArray, FloatArray, FloatArray, FloatArray]:
        """Row starts, column indices, values, row lower and upper bounds."""
        if not self.blocks:
            empty = np.zeros(0, np.float64)
            return np.zeros(1, np.int64), np.zeros(0, np.int64), empty, empty, empty
        starts, offset = [np.zeros(1, np.int64)], 0
        for block_starts, *_ in self.blocks:
            starts.append(block_starts[1:] + offset)
            offset += int(block_starts[-1])
        return (
            np.concatenate(starts),
            np.concatenate([b[1] for b in self.blocks]),
            np.concatenate([b[2] for b in self.blocks]),
            np.concatenate([b[3] for b in self.blocks]).astype(np.float64),
            np.concatenate([b[4] for b in self.blocks]).astype(np.float64),
        )

    def ranked(self, rank: IntArray, count: int) -> Model:
        """The tie-break stage: exactly ``count`` assertions, the lowest total rank among them."""
        x = np.arange(self.n_select, dtype=np.int64)
        cost = [0.0] * self.n_vars
        cost[: self.n_select] = [float(r) for r in rank]
        out = Model(list(cost), list(self.lower), list(self.upper), list(self.integer),
                    list(self.blocks), self.n_select)
        out.add_row(x, 1.0, lo=float(count), hi=float(count))
        return out


def _selection_vars(model: Model, count: int, *, minimize_count: bool) -> IntArray:
    model.n_select = count
    return model.add_vars(count, cost=1.0 if minimize_count else 0.0, integer=True)


def _indicators(
    model: Model, x: IntArray, rows: np.ndarray, *, caught: bool
) -> IntArray:
    """One continuous indicator per row: ``caught`` (bad rows) or ``failed`` (good rows)."""
    ind = model.add_vars(len(rows))
    if caught:
        _at_most_sum(model, ind, x, rows)
    else:  # z_i - x_j >= 0 for each failing j: the strong form, a tight LP bound
        i, j = np.nonzero(rows)
        model.add_pair_rows(ind[i], x[j], lo=0.0)
    return ind


def _at_most_sum(model: Model, ind: IntArray, x: IntArray, rows: np.ndarray) -> None:
    """Rows ``ind_i - sum of x_j over the columns failing row i <= 0``, as one block."""
    if len(rows) == 0:
        return
    lengths = rows.sum(axis=1).astype(np.int64) + 1
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    cols = np.empty(int(starts[-1]), dtype=np.int64)
    vals = np.full(int(starts[-1]), -1.0)
    cols[starts[:-1]] = ind
    vals[starts[:-1]] = 1.0
    _, j = np.nonzero(rows)  # row-major: each row's columns come together, in order
    slots = np.ones(int(starts[-1]), dtype=bool)
    slots[starts[:-1]] = False
    cols[slots] = x[j]
    count = len(rows)
    model.blocks.append((starts, cols, vals, np.full(count, -INF), np.zeros(count)))


def build_cover_model(problem: Reduced, *, sub: bool, maximize_coverage: bool = False) -> Model:
    """``cov`` / ``sub``; with ``maximize_coverage`` the largest catch under the same side
    constraints (used to find the nearest feasible targets)."""
    model = Model()
    x = _selection_vars(model, problem.nc, minimize_count=not maximize_coverage)
    u = _indicators(model, x, problem.bad, caught=True)
    w_bad = problem.bad_w.astype(np.float64)
    if maximize_coverage:
        for k, var in enumerate(u):
            model.cost[var] = -w_bad[k]
    else:
        model.add_row(u, w_bad, lo=float(problem.need))
    if problem.budget is None:
        if sub:
            _requirements(model, x, problem, z=None, total=None)
        return model
    z = _indicators(model, x, problem.good, caught=False)
    w_good = problem.good_w.astype(np.float64)
    if not sub:
        model.add_row(z, w_good, hi=float(problem.budget))
        return model
    _at_most_sum(model, z, x, problem.good)  # z exact: z_i <= sum of x failing it
    (total,) = model.add_vars(1, hi=float(problem.budget))  # weighted failed good rows
    model.add_row(np.concatenate([[total], z]), np.concatenate([[1.0], -w_good]), lo=0.0, hi=0.0)
    _requirements(model, x, problem, z=z, total=int(total))
    return model


def _requirements(
    model: Model, x: IntArray, problem: Reduced, *, z: IntArray | None, total: int | None
) -> None:
    """x_b + sum of x subsuming b + e_b >= 1, where e_b = 1 needs adding b to break the ceiling."""
    for req in problem.requirements:
        if req.room is not None and req.room <= 0:
            continue  # b alone breaks the ceiling: always exempt
        cols = [int(x[a]) for a in req.by]
        if req.own >= 0:
            cols.append(int(x[req.own]))
        if req.room is not None and z is not None and total is not None:
            (e,) = model.add_vars(1)
            cols.append(int(e))
            # failures of (selection + b) = total - (z on b's rows) + W_b >= budget + 1
            rows = z[req.good_rows]
            model.add_row(
                np.concatenate([[total], rows, [e]]).astype(np.int64),
                np.concatenate([[1.0], -problem.good_w[req.good_rows].astype(float), [-req.room]]),
                lo=0.0,
            )
        model.add_row(np.array(sorted(set(cols)), dtype=np.int64), 1.0, lo=1.0)


def build_criteria_model(covers: np.ndarray) -> Model:
    """Smallest set covering every criterion: ``covers[g, j]`` = assertion j covers group g."""
    model = Model()
    x = _selection_vars(model, covers.shape[1], minimize_count=True)
    for row in covers:
        model.add_row(x[np.flatnonzero(row)], 1.0, lo=1.0)
    return model


__all__ = ["Model", "build_cover_model", "build_criteria_model"]
