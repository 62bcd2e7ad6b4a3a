"""Property tests: on random small matrices, every selection meets its constraints, no other
feasible set beats it on its objectives in order (brute force over all subsets, the tie-break
included), presolve changes nothing, and infeasibility is real."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from select_reference import best_key, criteria_optimum, key, optimum, violations

from llmassert.errors import InfeasibleError
from llmassert.select import Matrix, select

TARGETS = [0.0, 0.25, 0.5, 0.6, 0.75, 1.0]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def matrices(draw: Any, *, labels: bool = True, max_assertions: int = 6) -> Matrix:
    n = draw(st.integers(1, max_assertions))
    r = draw(st.integers(1, 10))
    bits = st.integers(0, 1)
    # Mostly passing, like real assertions; duplicates and dominated columns come for free.
    cell = st.sampled_from([1, 1, 1, 0])
    M = draw(st.lists(st.lists(cell, min_size=n, max_size=n), min_size=r, max_size=r))
    y = draw(st.lists(bits, min_size=r, max_size=r)) if labels else None
    K = None
    if draw(st.booleans()):
        sparse = st.sampled_from([0, 0, 0, 1])
        K = draw(st.lists(st.lists(sparse, min_size=n, max_size=n), min_size=n, max_size=n))
        for a in range(n):
            K[a][a] = 0
    kinds = draw(st.lists(st.sampled_from(["deterministic", "llm_judge"]), min_size=n, max_size=n))
    groups = draw(st.lists(st.sampled_from(["c1", "c2", "c3"]), min_size=n, max_size=n))
    return Matrix(assertions=[f"a{j}" for j in range(n)], M=M, y=y, K=K, kinds=kinds, groups=groups)


def check_method(m: Matrix, method: str, alpha: float, tau: float, solver: str) -> None:
    """``method``: cov, sub (lexicographic) or sub-exemption."""
    assert m.y is not None
    rank = ranks(m)
    best = best_key(m.M, m.y, m.K, method, alpha, tau, rank)
    name, rule = ("sub", "exemption") if method == "sub-exemption" else (method, "lexicographic")
    try:
        s = select(m, name, alpha, tau, solver=solver, sub_rule=rule)  # type: ignore[arg-type]
    except InfeasibleError as e:
        assert best is None, f"solver says infeasible, enumeration found {best}"
        if e.nearest is not None:  # the nearest targets really are feasible
            assert optimum(m.M, m.y, m.K, method, *e.nearest) is not None
        return
    assert violations(m.M, m.y, m.K, s.indices, method, alpha, tau) == []
    # never beaten: no feasible subset is better on the objectives in order, tie-break included
    assert key(m.M, m.y, m.K, s.indices, method, rank) == best
    assert s.status == "optimal" and s.proven_optimal
    assert not any("not proven" in note for note in s.notes)
    assert s.unsubsumed == key(m.M, m.y, m.K, s.indices, "sub", rank)[0]
    if method == "sub":
        # Theorem (docs/selection.md): an optimum of the first objective leaves out, unsubsumed,
        # only assertions whose addition would break the FFR ceiling.
        assert violations(m.M, m.y, m.K, s.indices, "sub-exemption", alpha, tau) == []
    # Presolve keeps every objective's optimum (distinct sets can share all of them).
    plain = select(m, name, alpha, tau, solver=solver, presolve=False, sub_rule=rule)  # type: ignore[arg-type]
    assert key(m.M, m.y, m.K, plain.indices, method, rank) == best


def ranks(m: Matrix) -> list[int]:
    kinds = m.kinds or ["deterministic"] * m.n_assertions
    costs = m.costs or [1.0] * m.n_assertions
    order = sorted(
        range(m.n_assertions),
        key=lambda j: (kinds[j] != "deterministic", costs[j], m.assertions[j]),
    )
    return [order.index(j) for j in range(m.n_assertions)]


@SETTINGS
@given(
    m=matrices(),
    method=st.sampled_from(["cov", "sub", "sub-exemption"]),
    alpha=st.sampled_from(TARGETS),
    tau=st.sampled_from(TARGETS),
)
def test_selections_are_feasible_and_minimal_highs(
    m: Matrix, method: str, alpha: float, tau: float
) -> None:
    check_method(m, method, alpha, tau, "highs")


@settings(max_examples=20, deadline=None)
@given(
    m=matrices(max_assertions=5),
    method=st.sampled_from(["cov", "sub", "sub-exemption"]),
    alpha=st.sampled_from(TARGETS),
    tau=st.sampled_from(TARGETS),
)
def test_selections_are_feasible_and_minimal_cbc(
    m: Matrix, method: str, alpha: float, tau: float
) -> None:
    check_method(m, method, alpha, tau, "cbc")


@SETTINGS
@given(m=matrices(), tau=st.sampled_from(TARGETS))
def test_base_is_every_assertion_within_tau(m: Matrix, tau: float) -> None:
    assert m.y is not None
    s = select(m, "base", 0.6, tau)
    assert violations(m.M, m.y, m.K, s.indices, "base", 0.6, tau) == []


@SETTINGS
@given(m=matrices(labels=False))
def test_criteria_cover_every_group_minimally(m: Matrix) -> None:
    assert m.groups is not None
    s = select(m, "criteria")
    covered = {m.groups[j] for j in s.indices}
    if m.K is not None:
        covered |= {m.groups[b] for a in s.indices for b in range(m.n_assertions) if m.K[a][b]}
    assert covered == set(m.groups)
    assert s.count == criteria_optimum(m.groups, m.K)
