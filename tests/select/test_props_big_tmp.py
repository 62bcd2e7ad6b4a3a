from hypothesis import given, settings, HealthCheck, strategies as st
from select_reference import violations
from test_properties import matrices, rank_sum, TARGETS
from llmassert.errors import InfeasibleError
from llmassert.select import select

@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(m=matrices(max_assertions=14), method=st.sampled_from(["cov","sub"]), alpha=st.sampled_from(TARGETS), tau=st.sampled_from(TARGETS), solver=st.sampled_from(["highs","cbc"]))
def test_big(m, method, alpha, tau, solver):
    try:
        s = select(m, method, alpha, tau, solver=solver)
    except InfeasibleError:
        try:
            select(m, method, alpha, tau, solver=solver, presolve=False, find_nearest=False)
        except InfeasibleError:
            return
        raise AssertionError("presolve made it infeasible")
    assert violations(m.M, m.y, m.K, s.indices, method, alpha, tau) == []
    p = select(m, method, alpha, tau, solver=solver, presolve=False)
    assert violations(m.M, m.y, m.K, p.indices, method, alpha, tau) == []
    assert (p.count, rank_sum(m, p.indices)) == (s.count, rank_sum(m, s.indices))
