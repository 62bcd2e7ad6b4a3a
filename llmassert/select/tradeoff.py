"""The coverage/FFR trade-off: the best coverage reachable under an FFR ceiling.

Used by synthesis (the nearest feasible target when α is out of reach) and by its report (the
trade-off sweep).
"""

from __future__ import annotations

from llmassert.errors import InfeasibleError
from llmassert.select.core import select
from llmassert.select.matrix import Matrix
from llmassert.select.metrics import required_caught
from llmassert.select.selection import Method, Selection


def best_coverage(
    matrix: Matrix, method: Method, alpha: float, tau: float
) -> tuple[float, Selection] | None:
    """The highest alpha' = k / bad responses, up to ``alpha``, that is feasible at ``tau``
    (bisection on k: feasibility is monotone in k), with its selection; None when not even
    alpha' = 0 is feasible."""
    bad = sum(1 for v in matrix.y or [] if v == 0)
    if bad == 0:
        return None
    lo, hi = -1, required_caught(alpha, bad)  # lo: best feasible k so far
    best: tuple[float, Selection] | None = None
    while lo < hi:
        k = (lo + hi + 1) // 2
        try:
            sel = select(
                matrix,
                method,
                k / bad,
                tau,
                find_nearest=False,
            )
        except InfeasibleError:
            hi = k - 1
        else:
            lo, best = k, (k / bad, sel)
    return best
