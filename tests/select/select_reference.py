"""An independent, brute-force statement of the selection semantics, for checking the ILP.

Plain Python over the list-of-lists matrix, written from the definitions (docs/selection.md), not
from the library's code: a response fails a set when some member fails it (M[i][j] == 0).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from itertools import combinations

Matrix = Sequence[Sequence[int]]


def failed_rows(M: Matrix, selection: Iterable[int]) -> set[int]:
    chosen = list(selection)
    return {i for i, row in enumerate(M) if any(row[j] == 0 for j in chosen)}


def violations(
    M: Matrix,
    y: Sequence[int],
    K: Sequence[Sequence[int]] | None,
    selection: Sequence[int],
    method: str,
    alpha: float,
    tau: float,
) -> list[str]:
    """Every constraint of ``method`` that ``selection`` breaks (empty: feasible).

    ``sub`` (lexicographic) has the constraints of ``cov``: its subsumption is an objective
    (:func:`unsubsumed`); ``sub-exemption`` is the exemption rule."""
    n = len(M[0]) if M else 0
    good = [i for i, v in enumerate(y) if v == 1]
    bad = [i for i, v in enumerate(y) if v == 0]
    ceiling = math.floor(tau * len(good) + 1e-9)
    need = math.ceil(alpha * len(bad) - 1e-9)

    def false_failures(sel: Iterable[int]) -> int:
        return len(failed_rows(M, sel) & set(good))

    problems = []
    if method in ("cov", "sub", "sub-exemption"):
        if len(failed_rows(M, selection) & set(bad)) < need:
            problems.append("coverage")
        if false_failures(selection) > ceiling:
            problems.append("ffr")
    if method == "sub-exemption":
        for b in range(n):
            if b in selection:
                continue
            if K is not None and any(K[a][b] for a in selection if a != b):
                continue
            if false_failures([*selection, b]) > ceiling:
                continue  # exempt: adding b would break the FFR ceiling
            problems.append(f"requirement {b}")
    if method == "base":
        own = [j for j in range(n) if false_failures([j]) <= ceiling]
        if sorted(selection) != own:
            problems.append("base")
    return problems


def optimum(
    M: Matrix,
    y: Sequence[int],
    K: Sequence[Sequence[int]] | None,
    method: str,
    alpha: float,
    tau: float,
) -> int | None:
    """The smallest feasible count by enumeration (None: infeasible). Small matrices only."""
    n = len(M[0]) if M else 0
    for size in range(n + 1):
        for selection in combinations(range(n), size):
            if not violations(M, y, K, list(selection), method, alpha, tau):
                return size
    return None


def criteria_optimum(groups: Sequence[str], K: Sequence[Sequence[int]] | None) -> int:
    """Fewest assertions such that every group has a member selected or subsumed by one."""
    n = len(groups)
    names = set(groups)
    for size in range(n + 1):
        for selection in combinations(range(n), size):
            covered = {groups[j] for j in selection}
            if K is not None:
                covered |= {groups[b] for a in selection for b in range(n) if K[a][b]}
            if covered >= names:
                return size
    return n


def unsubsumed(K: Sequence[Sequence[int]] | None, n: int, selection: Sequence[int]) -> int:
    """Assertions neither selected nor subsumed by a selected one."""
    chosen = set(selection)
    return sum(
        1
        for b in range(n)
        if b not in chosen and not (K is not None and any(K[a][b] for a in chosen if a != b))
    )


def key(
    M: Matrix,
    y: Sequence[int],
    K: Sequence[Sequence[int]] | None,
    selection: Sequence[int],
    method: str,
    rank: Sequence[int],
) -> tuple[int, ...]:
    """What the method minimizes, in order: (unsubsumed for lexicographic sub,) count, false
    failures, sum of preference ranks."""
    n = len(M[0]) if M else 0
    good = {i for i, v in enumerate(y) if v == 1}
    tail = (len(selection), len(failed_rows(M, selection) & good), sum(rank[j] for j in selection))
    return ((unsubsumed(K, n, selection),) if method == "sub" else ()) + tail


def best_key(
    M: Matrix,
    y: Sequence[int],
    K: Sequence[Sequence[int]] | None,
    method: str,
    alpha: float,
    tau: float,
    rank: Sequence[int],
) -> tuple[int, ...] | None:
    """The smallest key over every feasible subset (None: infeasible). Small matrices only."""
    n = len(M[0]) if M else 0
    keys = [
        key(M, y, K, list(selection), method, rank)
        for size in range(n + 1)
        for selection in combinations(range(n), size)
        if not violations(M, y, K, list(selection), method, alpha, tau)
    ]
    return min(keys) if keys else None
