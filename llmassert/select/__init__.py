"""Selection: the smallest assertion set that meets coverage and false-failure targets (an ILP).

Pure and LLM-free: :func:`select` maps a :class:`Matrix` (verdicts M, labels y, subsumption K)
and targets (alpha, tau) to a :class:`Selection`. See docs/selection.md.
"""

from llmassert.errors import InfeasibleError, MatrixError, SelectionError
from llmassert.select.core import METHODS, nearest_feasible, select
from llmassert.select.matrix import Matrix
from llmassert.select.metrics import coverage, ffr
from llmassert.select.selection import PresolveStats, Selection
from llmassert.select.solvers import highs_available

__all__ = [
    "METHODS",
    "InfeasibleError",
    "Matrix",
    "MatrixError",
    "PresolveStats",
    "Selection",
    "SelectionError",
    "coverage",
    "ffr",
    "highs_available",
    "nearest_feasible",
    "select",
]
