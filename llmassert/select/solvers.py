"""Run a :class:`~llmassert.select.milp.Model` on CBC (PuLP's bundled binary) or HiGHS (highspy).

Both report honestly whether optimality was proven: after a time limit PuLP's ``LpStatus`` still
reads "Optimal", so CBC's answer is judged by ``prob.sol_status``; HiGHS by its model status.
Time limits are hard: CBC runs under a wall-clock timeout (see ``_run_cbc``).
Objectives are integral (see milp.py), so an absolute gap below 1 is a proof of optimality.
Both run single-threaded with fixed seeds: the same model gives the same answer every time.
"""

from __future__ import annotations

import ctypes
import importlib.util
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from llmassert.errors import SelectionError
from llmassert.select.milp import INF, Model

SolverName = Literal["cbc", "highs", "auto"]
SolveOutcome = Literal["optimal", "feasible", "infeasible", "no_solution"]

_GAP_ABS = 0.99  # integral objective: a gap below 1 proves optimality


@dataclass(frozen=True)
class Solution:
    outcome: SolveOutcome  # no_solution: the time limit passed before any feasible answer
    values: npt.NDArray[np.float64] | None
    objective: float | None
    seconds: float
    solver: str
    bound: float | None = None  # the solver's proven lower bound on the objective


def highs_available() -> bool:
    return importlib.util.find_spec("highspy") is not None


def resolve_solver(name: SolverName) -> Literal["cbc", "highs"]:
    """``auto`` picks HiGHS when highspy is installed (faster in bench/select_scale.py), else CBC."""
    if name == "auto":
        return "highs" if highs_available() else "cbc"
    if name == "highs" and not highs_available():
        raise SelectionError(
            "solver 'highs' needs highspy",
            hint="pip install 'llmassert[highs]' or use --solver cbc",
        )
    if name not in ("cbc", "highs"):
        raise SelectionError(f"unknown solver {name!r} (expected cbc, highs or auto)")
    return name


def solve(
    model: Model,
    *,
    solver: SolverName = "auto",
    time_limit_s: float = 60.0,
    warm_start: npt.NDArray[np.float64] | None = None,
    node_limit: int | None = None,
) -> Solution:
    """Solve ``model``. ``warm_start`` is a feasible point (``Model.start_from``);
    ``node_limit`` bounds the search deterministically, unlike a time limit."""
    chosen = resolve_solver(solver)
    began = time.perf_counter()
    if _trivially_infeasible(model):
        return Solution("infeasible", None, None, time.perf_counter() - began, chosen)
    if model.n_vars == 0:
        return Solution("optimal", np.zeros(0), 0.0, time.perf_counter() - began, chosen)
    run = _solve_highs if chosen == "highs" else _solve_cbc
    outcome, values, objective, bound = run(model, max(time_limit_s, 0.01), warm_start, node_limit)
    return Solution(outcome, values, objective, time.perf_counter() - began, chosen, bound)


def _trivially_infeasible(model: Model) -> bool:
    """Crossed variable bounds, or a row without variables that its bounds exclude (nothing can
    meet a requirement, presolve's forced selections alone break the FFR ceiling)."""
    if any(lo > hi for lo, hi in zip(model.lower, model.upper, strict=True)):
        return True
    for starts, _, _, lo, hi in model.blocks:
        empty = starts[1:] == starts[:-1]
        if np.any(empty & ((lo > 0) | (hi < 0))):
            return True
    return False


def _solve_cbc(
    model: Model, time_limit_s: float, start: np.ndarray | None, node_limit: int | None
) -> tuple[SolveOutcome, np.ndarray | None, float | None, float | None]:
    import pulp

    prob = pulp.LpProblem("llmassert_select", pulp.LpMinimize)
    variables = [
        pulp.LpVariable(
            f"v{k}",
            lowBound=model.lower[k],
            upBound=model.upper[k],
            cat=pulp.LpInteger if model.integer[k] else pulp.LpContinuous,
        )
        for k in range(model.n_vars)
    ]
    if start is not None:
        for var, value in zip(variables, start.tolist(), strict=True):
            var.setInitialValue(value)
    prob.setObjective(
        pulp.LpAffineExpression([(variables[k], c) for k, c in enumerate(model.cost) if c])
    )
    starts, cols, vals, lo, hi = model.csr()
    for r in range(len(lo)):
        s, e = int(starts[r]), int(starts[r + 1])
        if s == e:
            continue  # empty and satisfiable (infeasible ones were caught before)
        terms = [
            (variables[c], v) for c, v in zip(cols[s:e].tolist(), vals[s:e].tolist(), strict=True)
        ]
        if lo[r] == hi[r]:
            prob.addConstraint(
                pulp.LpConstraint(pulp.LpAffineExpression(terms), pulp.LpConstraintEQ, rhs=lo[r])
            )
            continue
        if lo[r] > -INF:
            prob.addConstraint(
                pulp.LpConstraint(pulp.LpAffineExpression(terms), pulp.LpConstraintGE, rhs=lo[r])
            )
        if hi[r] < INF:
            prob.addConstraint(
                pulp.LpConstraint(pulp.LpAffineExpression(terms), pulp.LpConstraintLE, rhs=hi[r])
            )
    ran, bound = _run_cbc(prob, time_limit_s, warm=start is not None, node_limit=node_limit)
    if not ran:
        return "no_solution", None, None, None
    sol_status = prob.sol_status
    if sol_status == pulp.LpSolutionInfeasible or prob.status == pulp.LpStatusInfeasible:
        return "infeasible", None, None, None
    if sol_status not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
        return "no_solution", None, None, None
    values = np.array([v.varValue or 0.0 for v in variables], dtype=np.float64)
    outcome: SolveOutcome = "optimal" if sol_status == pulp.LpSolutionOptimal else "feasible"
    objective = float(np.dot(model.cost, values))
    return outcome, values, objective, objective if outcome == "optimal" else bound


# CBC's closing line after a stopped search: "Partial search - best objective 15 (best possible
# 12.32096), took ..." — its proven lower bound, which PuLP does not read back.
_CBC_BOUND = re.compile(r"best possible (\S+?)\)")


def cbc_bound(log: str) -> float | None:
    """The last "best possible" bound in a CBC log (None when it printed none)."""
    found = _CBC_BOUND.findall(log)
    if not found:
        return None
    try:
        value = float(found[-1])
    except ValueError:
        return None
    return value if math.isfinite(value) and abs(value) < 1e49 else None  # 1e50: CBC's "none"


def _run_cbc(
    prob: Any, time_limit_s: float, *, warm: bool, node_limit: int | None
) -> tuple[bool, float | None]:
    """Run PuLP's bundled CBC on ``prob`` with a hard wall-clock bound: whether it finished (False
    when it was killed) and the lower bound it proved (read from its log; None if it gave none).

    CBC checks its ``-sec`` limit only between nodes and cut passes: on large models its root node
    ran for minutes past a 120 s limit (bench/select_scale.py, 5,000 x 20,000). So CBC is run
    here rather than through ``prob.solve`` — same command line as PuLP's, plus a timeout.
    """
    import pulp

    solver = pulp.PULP_CBC_CMD(msg=False)
    with tempfile.TemporaryDirectory(prefix="llmassert-cbc-") as tmp:
        mps, sol, mst, log = (
            os.path.join(tmp, f"model.{ext}") for ext in ("mps", "sol", "mst", "log")
        )
        variables, var_names, con_names, _ = prob.writeMPS(mps, rename=1)
        args = [solver.path, mps]
        if warm:
            solver.writesol(mst, prob, variables, var_names, con_names)
            args += ["-mips", mst]
        # CBC's own preprocessing (CglPreProcess) returned a worse tie-break while reporting
        # "Optimal" on SPADE's codereviews matrix; our presolve does the sound reductions.
        args += [
            "-sec",
            f"{time_limit_s:g}",
            "-timeMode",
            "elapsed",
            "-preprocess",
            "off",
            "-ratio",
            "0",
            "-allow",
            f"{_GAP_ABS:g}",
        ]
        if node_limit is not None:
            args += ["-maxNodes", str(node_limit)]
        args += ["-solve", "-printingOptions", "all", "-solution", sol]
        try:
            with open(log, "wb") as out:
                subprocess.run(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=_hard_limit(time_limit_s),
                    check=False,
                )
        except subprocess.TimeoutExpired:
            return False, None
        if not os.path.exists(sol):
            raise SelectionError("CBC wrote no solution file")
        status, values, _, _, _, sol_status = solver.readsol_MPS(
            sol, prob, variables, var_names, con_names
        )
        with open(log, encoding="utf-8", errors="replace") as f:
            bound = cbc_bound(f.read())
    prob.assignVarsVals(values)
    prob.assignStatus(status, sol_status)
    return True, bound


def _hard_limit(time_limit_s: float) -> float:
    """When a solver that overran its own limit is stopped: some grace, then a kill."""
    return time_limit_s * 1.25 + 5.0


_highs_banner_shown = False


def _new_highs() -> Any:
    """A Highs instance; the first one per process prints a banner on C stdout, which would
    corrupt ``--json`` output, so that construction runs with fd 1 pointed at /dev/null."""
    global _highs_banner_shown
    import highspy

    if _highs_banner_shown:
        return highspy.Highs()  # type: ignore[no-untyped-call]
    sys.stdout.flush()
    saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        h = highspy.Highs()  # type: ignore[no-untyped-call]
        ctypes.CDLL(None).fflush(None)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
    _highs_banner_shown = True
    return h


def _solve_highs(
    model: Model, time_limit_s: float, start: np.ndarray | None, node_limit: int | None
) -> tuple[SolveOutcome, np.ndarray | None, float | None, float | None]:
    import highspy

    h = _new_highs()
    for option, value in (
        ("output_flag", False),
        ("time_limit", float(time_limit_s)),
        ("mip_rel_gap", 0.0),
        ("mip_abs_gap", _GAP_ABS),
        ("random_seed", 0),
        ("threads", 1),
    ):
        h.setOptionValue(option, value)
    if node_limit is not None:
        h.setOptionValue("mip_max_nodes", int(node_limit))
    starts, cols, vals, lo, hi = model.csr()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = model.n_vars, len(lo)
    lp.col_cost_ = np.asarray(model.cost, dtype=np.float64)
    lp.col_lower_ = np.asarray(model.lower, dtype=np.float64)
    lp.col_upper_ = np.asarray(model.upper, dtype=np.float64)
    lp.row_lower_ = np.where(np.isinf(lo), -highspy.kHighsInf, lo)
    lp.row_upper_ = np.where(np.isinf(hi), highspy.kHighsInf, hi)
    matrix = lp.a_matrix_
    matrix.format_ = highspy.MatrixFormat.kRowwise
    matrix.num_col_, matrix.num_row_ = model.n_vars, len(lo)
    matrix.start_, matrix.index_, matrix.value_ = starts, cols, vals
    lp.integrality_ = [
        highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
        for i in model.integer
    ]
    if h.passModel(lp) == highspy.HighsStatus.kError:
        raise SelectionError("HiGHS rejected the model")
    if start is not None:
        warm = highspy.HighsSolution()
        warm.col_value = start.tolist()
        warm.value_valid = True
        h.setSolution(warm)
    h.run()
    status = h.getModelStatus()
    if status in (highspy.HighsModelStatus.kInfeasible,):
        return "infeasible", None, None, None
    has_solution = h.getInfo().primal_solution_status == 2  # kSolutionStatusFeasible
    if not has_solution:
        if status == highspy.HighsModelStatus.kOptimal:  # e.g. an empty model
            return "optimal", np.zeros(model.n_vars), 0.0, 0.0
        return "no_solution", None, None, None
    values = np.asarray(h.getSolution().col_value, dtype=np.float64)
    objective = float(np.dot(model.cost, values))
    bound = float(h.getInfo().mip_dual_bound)
    outcome: SolveOutcome = "optimal" if status == highspy.HighsModelStatus.kOptimal else "feasible"
    if abs(objective - h.getInfo().objective_function_value) > 0.5:
        # HiGHS 1.16 can map a MIP start through presolve, improve on it in the reduced space,
        # report the better objective and still return the start's values: those values are
        # feasible, the claim about them is not. Solve again from scratch when time is left.
        remaining = time_limit_s - h.getRunTime()
        if start is not None and remaining > 0.5:
            return _solve_highs(model, remaining, None, node_limit)
        outcome = "feasible"
    return outcome, values, objective, bound


__all__ = ["Solution", "SolverName", "cbc_bound", "highs_available", "resolve_solver", "solve"]
