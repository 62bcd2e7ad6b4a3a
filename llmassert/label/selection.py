"""The selection a set of labels implies, computed as ``synth`` computes it.

Same targets, same FFR-confidence tightening (:func:`~llmassert.synth.engine.conservative_tau`),
same relaxation when the targets are out of reach (best coverage at tau, then the solver's
nearest feasible pair), so the live status shows what the next ``synth`` would select.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llmassert.errors import InfeasibleError, MatrixError
from llmassert.select import Matrix, select
from llmassert.select.metrics import coverage, ffr
from llmassert.select.selection import Method
from llmassert.select.tradeoff import best_coverage
from llmassert.synth.engine import conservative_tau


@dataclass(frozen=True)
class Targets:
    alpha: float = 0.6
    tau: float = 0.25
    method: Method = "sub"
    ffr_confidence: float | None = 0.9
    # The live status re-solves after every grade: a short limit keeps the loop interactive;
    # the answer then is the best found, which the status says (proven=False).
    time_limit_s: float = 5.0


@dataclass(frozen=True)
class Chosen:
    """A selection on the labeled rows: column indices, and its in-sample metrics."""

    indices: tuple[int, ...]
    coverage: float | None  # None: no bad labels yet
    ffr: float | None  # None: no good labels yet
    tau_used: float  # tau after the FFR-confidence tightening (and any relaxation)
    alpha_used: float
    relaxed: bool = False
    proven: bool = True


EMPTY = Chosen((), None, None, 0.0, 0.0)


def choose(
    M: Sequence[Sequence[int]],
    y: Sequence[int],
    names: Sequence[str],
    groups: Sequence[str] | None,
    targets: Targets,
) -> Chosen:
    """The selection for the labeled rows ``M`` / ``y`` (``y`` 1 good, 0 bad)."""
    if not M or not names:
        return EMPTY
    good = sum(y)
    tau = targets.tau
    if targets.ffr_confidence is not None and good:
        tau = conservative_tau(targets.tau, good, targets.ffr_confidence)
    try:
        matrix = Matrix(
            assertions=list(names),
            M=[list(r) for r in M],
            y=list(y),
            groups=list(groups) if groups is not None else None,
        )
    except MatrixError:
        return EMPTY
    alpha, relaxed = targets.alpha, False
    try:
        sel = select(matrix, targets.method, alpha, tau, time_limit_s=targets.time_limit_s)
    except InfeasibleError as e:
        relaxed = True
        found = best_coverage(matrix, targets.method, alpha, tau)
        if found is not None:
            alpha, sel = found
        elif e.nearest is not None:
            alpha, tau = e.nearest
            try:
                sel = select(matrix, targets.method, alpha, tau, time_limit_s=targets.time_limit_s)
            except InfeasibleError:
                return Chosen((), _cov(M, y, ()), _ffr(M, y, ()), tau, alpha, relaxed=True)
        else:
            return Chosen((), _cov(M, y, ()), _ffr(M, y, ()), tau, alpha, relaxed=True)
    idx = tuple(sel.indices)
    return Chosen(idx, _cov(M, y, idx), _ffr(M, y, idx), tau, alpha, relaxed, sel.proven_optimal)


def _cov(M: Sequence[Sequence[int]], y: Sequence[int], idx: Sequence[int]) -> float | None:
    return coverage(M, y, idx) if any(v == 0 for v in y) else None


def _ffr(M: Sequence[Sequence[int]], y: Sequence[int], idx: Sequence[int]) -> float | None:
    return ffr(M, y, idx) if any(v == 1 for v in y) else None


__all__ = ["EMPTY", "Chosen", "Targets", "choose"]
