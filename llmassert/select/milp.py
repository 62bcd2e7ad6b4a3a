"""The selection ILPs, written once as a solver-neutral sparse model.

Variables: ``x_j`` (assertion j selected, binary), ``u_i`` (bad row i caught, continuous: it can
only reach 1 when ``sum of x failing i >= 1``), ``z_i`` (good row i failed). ``z`` must be at least
"failed" for the FFR ceiling and, under ``sub``, at most "failed" too (``z_i <= sum x``), because
the exemption reads it. Two ways to force ``z_i >= x_j`` for every j failing row i:

- ``pairs``: one row per (i, j) with ``z`` continuous, the textbook strong form;
- ``aggregated``: ``|F_i| z_i >= sum of x over F_i`` with ``z`` binary, one row per good response.

``aggregated`` is the default: on bench/select_scale.py it has 4-14x fewer rows, HiGHS proves
large ``sub`` instances about 1.5x faster with it, and its weaker LP is made up by the cuts.

Lexicographic ``sub`` adds ``p_t`` (continuous in [0, 1], ``p_t <= sum of x over the
representers of target t``): maximizing ``sum w_t p_t`` minimizes the assertions left out and not
subsumed; hard rows ``sum of x over the representers >= 1`` come from presolve.

The model carries no fixed objective: :mod:`llmassert.select.lexicographic` solves it once per
objective (``Model.costs``), each optimum fixed as a row before the next. One weighted objective
says the same in theory, but proving a rank tie-break inside one objective took 20-60x longer
than proving the count on synthetic ``cov`` instances, so the later objectives are bounded solves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from llmassert.select.arrays import BoolArray, rows_hit
from llmassert.select.presolve import Reduced

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
INF = float("inf")
FfrRows = Literal["pairs", "aggregated"]


@dataclass
class Model:
    """Minimize ``cost @ v`` subject to ``lo <= A v <= hi`` and bounds; ``integer`` marks ints.

    Rows are stored in CSR blocks so that thousands of them can be added in one numpy call. The
    first ``n_select`` variables are the assertions' ``x``.
    """

    cost: list[float] = field(default_factory=list)
    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    integer: list[bool] = field(default_factory=list)
    blocks: list[tuple[IntArray, IntArray, FloatArray, FloatArray, FloatArray]] = field(
        default_factory=list
    )
    n_select: int = 0
    layout: CoverLayout | None = None

    @property
    def n_vars(self) -> int:
        return len(self.cost)

    def add_vars(
        self,
        count: int,
        *,
        cost: Sequence[float] | float = 0.0,
        lo: float = 0.0,
        hi: float = 1.0,
        integer: bool = False,
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

    def add_rows(
        self, lengths: IntArray, cols: IntArray, vals: FloatArray, lo: float, hi: float
    ) -> None:
        """Many rows at once: row k holds the next ``lengths[k]`` entries of ``cols``/``vals``."""
        if len(lengths) == 0:
            return
        starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        count = len(lengths)
        self.blocks.append(
            (
                starts,
                cols.astype(np.int64),
                vals.astype(np.float64),
                np.full(count, lo),
                np.full(count, hi),
            )
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

    def with_cost(
        self, cost: FloatArray, *, at_most: tuple[FloatArray, float] | None = None
    ) -> Model:
        """The same model with objective ``cost``; ``at_most=(c, v)`` adds the row ``c @ v <= v``
        (an earlier objective fixed at its optimum)."""
        out = Model(
            [float(c) for c in cost],
            list(self.lower),
            list(self.upper),
            list(self.integer),
            list(self.blocks),
            self.n_select,
            self.layout,
        )
        if at_most is not None:
            row, value = at_most
            cols = np.flatnonzero(row)
            out.add_row(cols, row[cols], hi=value)
        return out

    def start_from(self, selected: BoolArray) -> FloatArray:
        """A full start vector for a feasible selection (MIP starts must be consistent)."""
        values = np.zeros(self.n_vars)
        values[: self.n_select] = selected
        if self.layout is not None:
            self.layout.fill(values, selected)
        return values


@dataclass
class CoverLayout:
    """Where the indicator variables of a cover model live, to complete a start vector."""

    problem: Reduced
    u: IntArray
    z: IntArray | None = None
    total: int | None = None
    exempt: list[tuple[int, int]] = field(default_factory=list)  # (variable, requirement)
    p: IntArray | None = None  # lexicographic sub: one per soft target

    def fill(self, values: FloatArray, selected: BoolArray) -> None:
        p = self.problem
        values[self.u] = rows_hit(p.bad, selected)
        if self.p is not None and p.targets is not None:
            values[self.p] = [bool(selected[m].any()) for m in p.targets.soft]
        if self.z is None:
            return
        failed = rows_hit(p.good, selected)
        values[self.z] = failed
        count = int(p.good_w[failed].sum())
        if self.total is not None:
            values[self.total] = count
        for var, k in self.exempt:
            req = p.requirements[k]
            covered = bool(req.own >= 0 and selected[req.own]) or bool(selected[req.by].any())
            fresh = int(p.good_w[req.good_rows][~failed[req.good_rows]].sum())
            values[var] = 0.0 if covered else float(count + fresh >= (p.budget or 0) + 1)


def _selection_vars(model: Model, count: int, *, minimize_count: bool) -> IntArray:
    model.n_select = count
    return model.add_vars(count, cost=1.0 if minimize_count else 0.0, integer=True)


def _row_sums(
    model: Model,
    ind: IntArray,
    x: IntArray,
    rows: np.ndarray,
    *,
    coef: FloatArray,
    lo: float,
    hi: float,
) -> None:
    """Rows ``coef_i * ind_i - sum of x_j over the columns failing row i`` in [lo, hi]."""
    if len(rows) == 0:
        return
    lengths = rows.sum(axis=1).astype(np.int64) + 1
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    cols = np.empty(int(starts[-1]), dtype=np.int64)
    vals = np.full(int(starts[-1]), -1.0)
    cols[starts[:-1]] = ind
    vals[starts[:-1]] = coef
    _, j = np.nonzero(rows)  # row-major: each row's columns come together, in order
    slots = np.ones(int(starts[-1]), dtype=bool)
    slots[starts[:-1]] = False
    cols[slots] = x[j]
    model.add_rows(lengths, cols, vals, lo, hi)


def _failed_vars(model: Model, x: IntArray, rows: np.ndarray, form: FfrRows) -> IntArray:
    """``z_i`` >= "good row i is failed" (see the module docstring for the two forms)."""
    if form == "pairs":
        z = model.add_vars(len(rows))
        i, j = np.nonzero(rows)
        lengths = np.full(len(i), 2, dtype=np.int64)
        cols = np.stack([z[i], x[j]], axis=1).reshape(-1)
        model.add_rows(lengths, cols, np.tile([1.0, -1.0], len(i)), 0.0, INF)
        return z
    z = model.add_vars(len(rows), integer=True)
    _row_sums(model, z, x, rows, coef=rows.sum(axis=1).astype(np.float64), lo=0.0, hi=INF)
    return z


def build_cover_model(
    problem: Reduced,
    *,
    sub: bool,
    maximize_coverage: bool = False,
    ffr_rows: FfrRows = "aggregated",
) -> Model:
    """``cov`` / ``sub`` (the exemption rule, or lexicographic when ``problem.targets`` is set);
    with ``maximize_coverage`` the largest catch under the same side constraints (used to find
    the nearest feasible targets). The objective is the count; see :func:`objectives`."""
    model = Model()
    x = _selection_vars(model, problem.nc, minimize_count=not maximize_coverage)
    u = model.add_vars(len(problem.bad_w))
    _row_sums(model, u, x, problem.bad, coef=np.ones(len(u)), lo=-INF, hi=0.0)
    layout = model.layout = CoverLayout(problem, u)
    w_bad = problem.bad_w.astype(np.float64)
    if maximize_coverage:
        for k, var in enumerate(u):
            model.cost[var] = -w_bad[k]
    else:
        model.add_row(u, w_bad, lo=float(problem.need))
    if problem.targets is not None:
        _targets(model, x, problem)
    exemption = sub and problem.targets is None
    if len(problem.good_w):
        # z: the FFR ceiling when it can bind, and the false-failure tie-break either way
        z = layout.z = _failed_vars(model, x, problem.good, ffr_rows)
        w_good = problem.good_w.astype(np.float64)
        if problem.budget is not None and not exemption:
            model.add_row(z, w_good, hi=float(problem.budget))
        if problem.budget is not None and exemption:
            _row_sums(model, z, x, problem.good, coef=np.ones(len(z)), lo=-INF, hi=0.0)  # exact
            (total,) = model.add_vars(1, hi=float(problem.budget))  # weighted failed good rows
            layout.total = int(total)
            model.add_row(
                np.concatenate([[total], z]), np.concatenate([[1.0], -w_good]), lo=0.0, hi=0.0
            )
    if exemption:
        _requirements(model, x, problem)
    return model


def _targets(model: Model, x: IntArray, problem: Reduced) -> None:
    """Representation: ``p_t <= sum of x over t's representers``; hard rows ``sum >= 1``."""
    t = problem.targets
    assert t is not None and model.layout is not None
    p = model.layout.p = model.add_vars(len(t.soft))
    if len(t.soft):
        lengths = np.array([len(m) + 1 for m in t.soft], dtype=np.int64)
        cols = np.concatenate(
            [np.concatenate([[int(v)], x[m]]) for v, m in zip(p, t.soft, strict=True)]
        )
        vals = np.concatenate([np.concatenate([[1.0], -np.ones(len(m))]) for m in t.soft])
        model.add_rows(lengths, cols, vals, -INF, 0.0)
    for members in t.hard:
        model.add_row(x[members], 1.0, lo=1.0)


def objectives(model: Model) -> dict[str, FloatArray]:
    """The objectives a cover or criteria model is solved for, by name (all integral at integral
    points): ``unrepresented`` (lexicographic sub: minus the weight represented), ``count``,
    ``false_failures`` (weighted good rows failed) and ``preference`` (the sum of ranks)."""
    out: dict[str, FloatArray] = {}
    n = model.n_vars
    layout = model.layout
    if layout is not None and layout.p is not None and layout.problem.targets is not None:
        cost = np.zeros(n)
        cost[layout.p] = -layout.problem.targets.weight
        out["unrepresented"] = cost
    cost = np.zeros(n)
    cost[: model.n_select] = 1.0
    out["count"] = cost
    if layout is not None and layout.z is not None:
        cost = np.zeros(n)
        cost[layout.z] = layout.problem.good_w
        out["false_failures"] = cost
    return out


def _requirements(model: Model, x: IntArray, problem: Reduced) -> None:
    """x_b + sum of x subsuming b + e_b >= 1, where e_b = 1 needs adding b to break the ceiling."""
    layout = model.layout
    assert layout is not None
    for k, req in enumerate(problem.requirements):
        if req.room is not None and req.room <= 0:
            continue  # b alone breaks the ceiling: always exempt
        cols = [int(x[a]) for a in req.by]
        if req.own >= 0:
            cols.append(int(x[req.own]))
        if req.room is not None and layout.z is not None and layout.total is not None:
            (e,) = model.add_vars(1)
            layout.exempt.append((int(e), k))
            cols.append(int(e))
            # failures of (selection + b) = total - (z on b's rows) + W_b >= budget + 1
            model.add_row(
                np.concatenate([[layout.total], layout.z[req.good_rows], [e]]),
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


__all__ = [
    "CoverLayout",
    "FfrRows",
    "Model",
    "build_cover_model",
    "build_criteria_model",
    "objectives",
]
