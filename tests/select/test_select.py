"""Hand-made matrices whose optima are known, solved for real with CBC and HiGHS."""

from __future__ import annotations

import numpy as np
import pytest
from select_reference import optimum, violations

from llmassert.errors import InfeasibleError, SelectionError
from llmassert.select import Matrix, nearest_feasible, select
from llmassert.select.arrays import Arrays
from llmassert.select.check import violations as check_violations

SOLVERS = ["cbc", "highs"]

# Four bad responses (rows 0-3), four good ones (rows 4-7); 1 = the assertion passed.
#            a  b  c  d
COV_M = [
    [0, 1, 0, 1],  # bad: a, c catch it
    [0, 1, 0, 1],  # bad: a, c
    [1, 0, 0, 0],  # bad: b, c, d
    [1, 0, 0, 1],  # bad: b, c
    [1, 0, 0, 1],  # good: b and c fail it
    [1, 1, 0, 1],  # good: c fails it
    [1, 1, 0, 1],  # good: c fails it
    [1, 1, 1, 1],  # good
]
COV_Y = [0, 0, 0, 0, 1, 1, 1, 1]
COV = Matrix(assertions=["a", "b", "c", "d"], M=COV_M, y=COV_Y)


@pytest.mark.parametrize("solver", SOLVERS)
def test_cov_finds_the_known_optimum(solver: str) -> None:
    # c catches everything but fails 3 of 4 good responses; {a, b} catches all, fails one.
    s = select(COV, "cov", alpha=1.0, tau=0.25, solver=solver)  # type: ignore[arg-type]
    assert s.selected == ["a", "b"] and s.indices == [0, 1]
    assert (s.count, s.coverage, s.ffr) == (2, 1.0, 0.25)
    assert s.status == "optimal" and s.proven_optimal
    assert s.method == s.requested_method == "cov" and s.solver == solver
    # a alone reaches 0.5 without failing anything
    assert select(COV, "cov", alpha=0.5, tau=0.0, solver=solver).selected == ["a"]  # type: ignore[arg-type]


@pytest.mark.parametrize("solver", SOLVERS)
def test_infeasible_targets_name_the_nearest_feasible_ones(solver: str) -> None:
    # FFR 0 forbids b and c; a + d catch 3 of 4 bad responses at most.
    with pytest.raises(InfeasibleError) as info:
        select(COV, "cov", alpha=1.0, tau=0.0, solver=solver)  # type: ignore[arg-type]
    error = info.value
    assert error.nearest == (0.75, 0.0)
    message = str(error)
    assert "\n" not in message
    assert "best coverage at FFR <= 0 is 0.75" in message
    assert "nearest feasible: --alpha 0.75 --tau 0" in message
    assert error.exit_code == 2
    # the nearest targets are feasible, and the helper agrees
    assert select(COV, "cov", *error.nearest, solver=solver).coverage == 0.75  # type: ignore[arg-type]
    assert nearest_feasible(COV, "cov", 1.0, 0.0, solver=solver) == (0.75, 0.0)  # type: ignore[arg-type]


def test_nearest_can_be_skipped_for_callers_that_search_themselves() -> None:
    with pytest.raises(InfeasibleError) as info:
        select(COV, "cov", alpha=1.0, tau=0.0, find_nearest=False)
    assert info.value.nearest is None
    assert "nearest" not in str(info.value)


def test_a_looser_tau_can_be_the_nearest_point() -> None:
    # Only c catches row 0 and it fails half of the good responses.
    m = Matrix(assertions=["c", "d"], M=[[0, 1], [1, 0], [0, 1], [1, 1]], y=[0, 0, 1, 1])
    with pytest.raises(InfeasibleError) as info:
        select(m, "cov", alpha=1.0, tau=0.0)
    # at tau 0 the best is 0.5 (distance 0.5); tau 0.5 allows c: distance 0.5, not nearer;
    # ties keep the first found, the one that keeps tau
    assert info.value.nearest == (0.5, 0.0)
    assert select(m, "cov", alpha=1.0, tau=0.5).selected == ["c", "d"]


# sub: four bad rows, four good rows, tau = 0.25 allows one false failure.
#   a catches b0 b1; s catches b0 and a subsumes it; t catches b2 and fails no good row;
#   u catches b3 and fails g0; v fails g1 g2 (alone above tau); w catches nothing, fails g3.
SUB_NAMES = ["a", "s", "t", "u", "v", "w"]
SUB_M = [
    [0, 0, 1, 1, 1, 1],  # b0
    [0, 1, 1, 1, 1, 1],  # b1
    [1, 1, 0, 1, 1, 1],  # b2
    [1, 1, 1, 0, 1, 1],  # b3
    [1, 1, 1, 0, 1, 1],  # g0
    [1, 1, 1, 1, 0, 1],  # g1
    [1, 1, 1, 1, 0, 1],  # g2
    [1, 1, 1, 1, 1, 0],  # g3
]
SUB_Y = [0, 0, 0, 0, 1, 1, 1, 1]
SUB_K = [[0] * 6 for _ in range(6)]
SUB_K[0][1] = 1  # a subsumes s
SUB = Matrix(assertions=SUB_NAMES, M=SUB_M, y=SUB_Y, K=SUB_K)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("presolve", [True, False])
@pytest.mark.parametrize("rule", ["lexicographic", "exemption"])
def test_sub_covers_subsumes_or_exempts_every_assertion(
    solver: str, presolve: bool, rule: str
) -> None:
    cov = select(SUB, "cov", 0.5, 0.25, solver=solver, presolve=presolve)  # type: ignore[arg-type]
    assert cov.selected == ["a"]
    s = select(SUB, "sub", 0.5, 0.25, solver=solver, presolve=presolve, sub_rule=rule)  # type: ignore[arg-type]
    # s is subsumed by a; t fails no good response: selected (lexicographic: free to add;
    # exemption: never exempt); only one of u, w fits the one allowed false failure, and then
    # the other cannot be added (exempt); v alone is above tau. {a,t,u} and {a,t,w} tie: by name.
    assert s.selected == ["a", "t", "u"]
    assert (s.unsubsumed, s.sub_rule) == (2, rule)  # v and w
    reference = "sub" if rule == "lexicographic" else "sub-exemption"
    assert violations(SUB_M, SUB_Y, SUB_K, s.indices, reference, 0.5, 0.25) == []
    assert optimum(SUB_M, SUB_Y, SUB_K, "sub-exemption", 0.5, 0.25) == 3
    assert s.status == "optimal"


def test_sub_without_subsumption_selects_what_nothing_else_represents() -> None:
    m = SUB.model_copy(update={"K": None})
    for rule in ("lexicographic", "exemption"):
        s = select(m, "sub", 0.5, 0.25, sub_rule=rule)  # type: ignore[arg-type]
        assert s.selected == ["a", "s", "t", "u"]


# One bad response every assertion catches; eight good ones, tau = 0.25 allows two failures.
# x fails two good responses, y1, y2, y3 one distinct good response each.
NEAR_TAU = Matrix(
    assertions=["x", "y1", "y2", "y3"],
    M=[[0, 0, 0, 0], [0, 1, 1, 1], [0, 1, 1, 1], [1, 0, 1, 1], [1, 1, 0, 1], [1, 1, 1, 0]]
    + [[1, 1, 1, 1]] * 3,
    y=[0] + [1] * 8,
)


@pytest.mark.parametrize("solver", SOLVERS)
def test_lexicographic_sub_keeps_checks_the_exemption_rule_gives_away(solver: str) -> None:
    # Exemption: {x} alone sits at tau, so adding any y would break it: all three are exempt.
    old = select(NEAR_TAU, "sub", 1.0, 0.25, solver=solver, sub_rule="exemption")  # type: ignore[arg-type]
    assert (old.selected, old.unsubsumed) == (["x"], 3)
    # Lexicographic: two of the y checks fit the same budget and leave only x and one y out.
    new = select(NEAR_TAU, "sub", 1.0, 0.25, solver=solver)  # type: ignore[arg-type]
    assert (new.selected, new.unsubsumed, new.ffr) == (["y1", "y2"], 2, 0.25)
    assert new.sub_rule == "lexicographic" and new.proven_optimal


@pytest.mark.parametrize("solver", SOLVERS)
def test_the_tie_break_fails_the_fewest_good_responses_first(solver: str) -> None:
    # a and b each catch the one bad response; a fails a good one, b does not. a is preferred
    # by name, but the tie-break counts false failures before preference.
    m = Matrix(assertions=["a", "b"], M=[[0, 0], [0, 1], [1, 1], [1, 1], [1, 1]], y=[0, 1, 1, 1, 1])
    assert select(m, "cov", 1.0, 0.25, solver=solver).selected == ["b"]  # type: ignore[arg-type]


def test_base_keeps_every_assertion_within_tau_and_notes_missed_alpha() -> None:
    s = select(COV, "base", alpha=0.6, tau=0.25)
    assert s.selected == ["a", "b", "d"]
    assert (s.coverage, s.ffr, s.solver, s.status) == (1.0, 0.25, "none", "optimal")
    strict = select(COV, "base", alpha=0.9, tau=0.0)
    assert strict.selected == ["a", "d"] and strict.coverage == 0.75
    assert any("base ignores alpha" in note for note in strict.notes)


@pytest.mark.parametrize("solver", SOLVERS)
def test_ties_prefer_deterministic_then_cheaper_then_name(solver: str) -> None:
    # Five identical columns: every one alone is optimal.
    names = ["judge", "zeta_cheap", "beta_dear", "alpha_dear", "mid"]
    m = Matrix(
        assertions=names,
        M=[[0] * 5, [1] * 5],
        y=[0, 1],
        kinds=["llm_judge", "deterministic", "deterministic", "deterministic", "deterministic"],
        costs=[0.1, 0.5, 3.0, 3.0, 1.0],
    )
    for presolve in (True, False):
        s = select(m, "cov", 1.0, 0.0, solver=solver, presolve=presolve)  # type: ignore[arg-type]
        assert s.selected == ["zeta_cheap"]
    by_name = m.model_copy(update={"costs": [0.1, 3.0, 3.0, 3.0, 3.0]})
    assert select(by_name, "cov", 1.0, 0.0, solver=solver).selected == ["alpha_dear"]  # type: ignore[arg-type]


@pytest.mark.parametrize("solver", SOLVERS)
def test_criteria_selection_without_labels(solver: str) -> None:
    m = Matrix(
        assertions=["j1", "d1", "d2", "d3"],
        M=[[1, 1, 1, 1]],
        groups=["g1", "g1", "g2", "g3"],
        kinds=["llm_judge", "deterministic", "deterministic", "deterministic"],
    )
    s = select(m, "criteria", solver=solver)  # type: ignore[arg-type]
    assert s.selected == ["d1", "d2", "d3"]  # one per criterion, the deterministic one for g1
    assert (s.coverage, s.ffr) == (None, None)
    # d3 subsumes d2: selecting d3 covers g2 as well
    K = [[0] * 4 for _ in range(4)]
    K[3][2] = 1
    s = select(m.model_copy(update={"K": K}), "criteria", solver=solver)  # type: ignore[arg-type]
    assert s.selected == ["d1", "d3"]


def test_no_labels_falls_back_to_criteria_and_says_so() -> None:
    m = Matrix(assertions=["x", "y"], M=[[1, 0], [0, 1]], groups=["g", "g"])
    s = select(m, "sub", 0.6, 0.25)
    assert (s.method, s.requested_method, s.count) == ("criteria", "sub", 1)
    assert any("no labels" in note for note in s.notes)
    # without groups every assertion is its own criterion
    s = select(m.model_copy(update={"groups": None}), "cov")
    assert s.selected == ["x", "y"]
    assert any("own criterion" in note for note in s.notes)


def test_degenerate_matrices() -> None:
    empty = Matrix(assertions=[], M=[[], []], y=[0, 1])
    assert select(empty, "cov", 0.0, 0.25).selected == []
    with pytest.raises(InfeasibleError):
        select(empty, "cov", 0.5, 0.25)
    only_good = Matrix(assertions=["a"], M=[[0], [1]], y=[1, 1])
    s = select(only_good, "cov", 1.0, 0.0)
    assert (s.selected, s.coverage, s.ffr) == ([], 1.0, 0.0)
    assert select(Matrix(assertions=["a"], M=[[0]], y=[0]), "sub", 1.0, 0.0).selected == ["a"]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"method": "best"}, "method: unknown method 'best'"),
        ({"alpha": 1.5}, "alpha: must be between 0 and 1"),
        ({"tau": -0.1}, "tau: must be between 0 and 1"),
        ({"solver": "gurobi"}, "unknown solver 'gurobi'"),
        ({"time_limit_s": 0}, "time_limit_s: must be positive"),
        ({"sub_rule": "loose"}, "sub_rule: unknown rule 'loose'"),
    ],
)
def test_bad_arguments_are_selection_errors(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(SelectionError, match=words):
        select(COV, **kwargs)  # type: ignore[arg-type]


def test_a_time_limit_returns_a_sound_selection_marked_unproven() -> None:
    # Random partial set cover, 300 x 1500: far beyond a 0.2 s proof on any machine.
    rng = np.random.default_rng(7)
    passed = (rng.random((1500, 300)) >= 0.03).astype(int)
    y = (rng.random(1500) < 0.5).astype(int)
    m = Matrix(assertions=[f"a{j}" for j in range(300)], M=passed.tolist(), y=y.tolist())
    s = select(m, "cov", alpha=0.9, tau=1.0, time_limit_s=0.2)
    assert s.status == "feasible" and not s.proven_optimal
    assert any("not proven optimal" in note for note in s.notes)
    assert s.coverage is not None and s.coverage >= 0.9
    assert s.ffr is not None
    # CBC stops after its root node here and states the bound it proved, with the gap
    c = select(m, "cov", alpha=0.9, tau=1.0, time_limit_s=0.2, solver="cbc")
    assert c.status == "feasible" and c.bound is not None and 0 < c.bound < c.count
    gap = 100 * (c.count - c.bound) / c.count
    assert any(
        note.startswith(f"CBC proved at least {c.bound:g} assertions are needed")
        and f"gap {gap:.1f}%" in note
        for note in c.notes
    )


def test_the_final_check_flags_broken_selections() -> None:
    arrays = Arrays.from_matrix(SUB)
    assert check_violations(arrays, [0, 2, 3], "sub", 0.5, 0.25) == []
    assert check_violations(arrays, [0, 2], "sub", 0.5, 0.25, sub_rule="lexicographic") == []
    assert check_violations(arrays, [0, 2], "sub", 0.5, 0.25) == [
        "2 assertion(s) not selected, subsumed or exempt"  # u and w
    ]
    assert check_violations(arrays, [2], "cov", 0.5, 0.25) == ["coverage below 0.5"]
    assert check_violations(arrays, [0, 3, 5], "cov", 0.5, 0.25) == ["FFR above 0.25"]
