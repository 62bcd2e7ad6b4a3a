"""Coverage and false-failure rate of a set of assertions, and the integer targets they imply.

A response *fails* a set when at least one assertion in the set fails it (``M[i][j] == 0``).
Coverage is the share of bad responses that fail; FFR the share of good responses that fail.
Both are vacuous on an empty denominator: coverage 1.0 with no bad responses (nothing was missed),
FFR 0.0 with no good responses.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

# Targets are compared on counts, never on rounded floats: 0.6 * 5 must mean 3, not 3.0000000000000004.
_EPS = 1e-9


def _fails(row: Sequence[int], indices: Sequence[int]) -> bool:
    return any(row[j] == 0 for j in indices)


def _rate(
    M: Sequence[Sequence[int]], y: Sequence[int], indices: Iterable[int], label: int
) -> float:
    idx = list(indices)
    rows = [row for row, v in zip(M, y, strict=True) if v == label]
    if not rows:
        return 1.0 if label == 0 else 0.0
    return sum(1 for row in rows if _fails(row, idx)) / len(rows)


def coverage(M: Sequence[Sequence[int]], y: Sequence[int], indices: Iterable[int]) -> float:
    """Share of bad responses (``y == 0``) failed by at least one assertion in ``indices``."""
    return _rate(M, y, indices, 0)


def ffr(M: Sequence[Sequence[int]], y: Sequence[int], indices: Iterable[int]) -> float:
    """False-failure rate: share of good responses (``y == 1``) failed by at least one of ``indices``."""
    return _rate(M, y, indices, 1)


def required_caught(alpha: float, n_bad: int) -> int:
    """How many of ``n_bad`` bad responses must be caught for coverage >= alpha."""
    return max(0, math.ceil(alpha * n_bad - _EPS))


def allowed_false(tau: float, n_good: int) -> int:
    """How many of ``n_good`` good responses may be failed for FFR <= tau."""
    return max(0, math.floor(tau * n_good + _EPS))


__all__ = ["allowed_false", "coverage", "ffr", "required_caught"]
