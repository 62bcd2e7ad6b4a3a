"""Lower bounds from stopped searches: what a time-limited answer may claim about the optimum."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from llmassert.select.arrays import Arrays
from llmassert.select.milp import Model, build_cover_model
from llmassert.select.presolve import reduce
from llmassert.select.solvers import cbc_bound, solve


def test_cbc_bound_reads_the_last_best_possible() -> None:
    log = (
        "Cbc0010I After 0 nodes, 1 on tree, 15 best solution, best possible 12.2 (3.1 seconds)\n"
        "Cbc0005I Partial search - best objective 15 (best possible 12.32096), took 447 "
        "iterations and 2 nodes (21.41 seconds)\n"
    )
    assert cbc_bound(log) == 12.32096
    # CBC prints 1e+50 when it has no bound; a log without the line gives none either
    assert cbc_bound("Partial search - best objective 1e+50 (best possible 1e+50), took") is None
    assert cbc_bound("Result - Optimal solution found\n") is None
    assert cbc_bound("best possible nan)") is None


def _random_cover() -> Model:
    """A random partial set cover, 40 assertions x 200 bad responses: LP bound 6.8, optimum 8."""
    rng = np.random.default_rng(0)
    fail = rng.random((220, 40)) < 0.08
    fail[200:] = False  # 20 good responses nothing fails
    good = np.arange(220) >= 200
    arrays = Arrays(fail, good, None, np.arange(40, dtype=np.int64), None)
    return build_cover_model(reduce(arrays, method="cov", tau=0.25, alpha=0.6), sub=False)


def test_a_stopped_cbc_search_reports_a_bound_between_lp_and_optimum() -> None:
    model = _random_cover()
    optimum = solve(model, solver="cbc", time_limit_s=60)
    assert optimum.outcome == "optimal" and optimum.objective is not None
    assert optimum.bound == optimum.objective
    lp = solve(replace(model, integer=[False] * model.n_vars), solver="cbc", time_limit_s=60)
    assert lp.outcome == "optimal" and lp.objective is not None
    assert lp.objective < optimum.objective - 1  # the relaxation alone cannot prove it
    stopped = solve(model, solver="cbc", time_limit_s=60, node_limit=1)  # deterministic stop
    assert stopped.outcome == "feasible" and stopped.bound is not None
    assert lp.objective - 1e-6 <= stopped.bound <= optimum.objective
