"""Presolve: what it removes, what it must keep, and that its answers map back."""

from __future__ import annotations

from llmassert.select import Matrix, select
from llmassert.select.arrays import Arrays
from llmassert.select.presolve import Reduced, reduce


def reduced(m: Matrix, method: str, alpha: float = 0.5, tau: float = 0.25) -> Reduced:
    return reduce(Arrays.from_matrix(m), method=method, tau=tau, alpha=alpha)


def kept(m: Matrix, r: Reduced) -> list[str]:
    return [m.assertions[int(j)] for j in r.cols]


# rows 0-3 bad, rows 4-7 good
Y = [0, 0, 0, 0, 1, 1, 1, 1]


def test_identical_columns_keep_the_preferred_copy() -> None:
    col = [0, 0, 1, 1, 1, 1, 1, 1]
    other = [1, 1, 0, 0, 1, 1, 1, 1]
    m = Matrix(
        assertions=["judge_copy", "det_copy", "other"],
        M=[list(row) for row in zip(col, col, other, strict=True)],
        y=Y,
        kinds=["llm_judge", "deterministic", "deterministic"],
    )
    r = reduced(m, "cov")
    assert kept(m, r) == ["det_copy", "other"]
    assert r.stats.assertions == 3 and r.stats.assertions_after == 2
    assert select(m, "cov", 1.0, 0.0).selected == ["det_copy", "other"]


def test_dominated_columns_go_only_when_the_dominator_is_preferred() -> None:
    strong = [0, 0, 0, 1, 1, 1, 1, 1]  # catches rows 0-2, fails no good row
    weak = [0, 1, 1, 1, 0, 1, 1, 1]  # catches row 0 only, and fails good row 4
    m = Matrix(
        assertions=["a_strong", "b_weak"], M=[list(r) for r in zip(strong, weak, strict=True)], y=Y
    )
    assert kept(m, reduced(m, "cov")) == ["a_strong"]
    # the tie-break prefers the weak one by name: it must stay (it could tie on count)
    m2 = m.model_copy(update={"assertions": ["z_strong", "b_weak"]})
    assert kept(m2, reduced(m2, "cov")) == ["z_strong", "b_weak"]


def test_columns_above_tau_and_columns_that_catch_nothing_go() -> None:
    noisy = [0, 0, 0, 0, 0, 0, 1, 1]  # fails half the good responses
    idle = [1, 1, 1, 1, 1, 1, 1, 1]  # catches nothing
    useful = [0, 1, 1, 1, 1, 1, 1, 1]
    m = Matrix(
        assertions=["noisy", "idle", "useful"],
        M=[list(r) for r in zip(noisy, idle, useful, strict=True)],
        y=Y,
    )
    assert kept(m, reduced(m, "cov")) == ["useful"]
    # under sub an idle assertion still has to be covered, so it stays (and is forced)
    r = reduced(m, "sub")
    assert sorted(kept(m, r) + [m.assertions[int(j)] for j in r.forced]) == ["idle", "useful"]


def test_sub_keeps_a_dominated_assertion_unless_its_dominator_subsumes_it() -> None:
    a = [0, 0, 1, 1, 1, 1, 1, 1]
    b = [0, 1, 1, 1, 1, 1, 1, 1]  # catches less, same good failures (none)
    M = [list(r) for r in zip(a, b, strict=True)]
    plain = Matrix(assertions=["a", "b"], M=M, y=Y)
    assert kept(plain, reduced(plain, "cov")) == ["a"]
    r = reduced(plain, "sub")
    assert sorted(m for m in kept(plain, r) + [plain.assertions[int(j)] for j in r.forced]) == [
        "a",
        "b",
    ]
    linked = plain.model_copy(update={"K": [[0, 1], [0, 0]]})  # a subsumes b
    r = reduced(linked, "sub")
    assert list(r.forced) == [0] and r.nc == 0  # a is forced; b is met through a
    assert select(linked, "sub", 0.5, 0.25).selected == ["a"]


def test_rows_nobody_can_separate_go_and_identical_rows_merge() -> None:
    # rows: 3 identical bad rows caught by a, 1 bad row nobody catches, 4 good rows
    M = [[0], [0], [0], [1], [1], [1], [1], [1]]
    m = Matrix(assertions=["a"], M=M, y=Y)
    r = reduced(m, "cov", alpha=0.75)
    assert r.bad.shape == (1, 1) and list(r.bad_w) == [3]
    assert r.need == 3  # still counted against all 4 bad responses
    assert r.budget is None  # nothing fails a good response: the ceiling cannot bind
    assert r.stats.responses_after == 1


def test_without_presolve_the_problem_is_whole() -> None:
    m = Matrix(assertions=["a", "b"], M=[[0, 0], [1, 1], [1, 0], [1, 1]], y=[0, 0, 1, 1])
    r = reduce(Arrays.from_matrix(m), method="sub", tau=0.25, alpha=0.5, presolve=False)
    assert r.nc == 2 and r.stats.responses_after == 4 and len(r.requirements) == 2
    on = select(m, "sub", 0.5, 0.0)
    off = select(m, "sub", 0.5, 0.0, presolve=False)
    assert on.selected == off.selected == ["a"]
    assert off.presolve is not None and off.presolve.assertions_after == 2


def test_lexicographic_sub_forces_free_assertions_and_merges_targets() -> None:
    # f fails no good response and nothing else represents it: every optimum selects it.
    # g and k each fail a different good response and tau allows one: they compete.
    # h behaves like g and g subsumes it. Rows 0-3 bad, 4-7 good.
    f = [0, 1, 1, 1, 1, 1, 1, 1]
    g = [1, 0, 1, 1, 0, 1, 1, 1]
    h = [1, 0, 1, 1, 0, 1, 1, 1]
    k = [1, 1, 0, 1, 1, 0, 1, 1]
    K = [[0] * 4 for _ in range(4)]
    K[1][2] = 1
    m = Matrix(
        assertions=["f", "g", "h", "k"],
        M=[list(r) for r in zip(f, g, h, k, strict=True)],
        y=Y,
        K=K,
    )
    r = reduce(Arrays.from_matrix(m), method="sub", tau=0.25, alpha=0.25, sub_rule="lexicographic")
    assert [m.assertions[int(j)] for j in r.forced] == ["f"]
    assert kept(m, r) == ["g", "k"]  # h is dominated by g, which subsumes it
    assert r.targets is not None and r.targets.represented == 1  # f
    # g and h share their only representer g: one target of weight 2; k its own
    assert sorted(
        (list(t), int(w)) for t, w in zip(r.targets.soft, r.targets.weight, strict=True)
    ) == [([0], 2), ([1], 1)]
    s = select(m, "sub", 0.25, 0.25)
    assert (s.selected, s.unsubsumed) == (["f", "g"], 1)  # k left out: it would break tau
