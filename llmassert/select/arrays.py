"""The matrix as numpy arrays, in the orientation the solver code wants (True = the assertion failed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from llmassert.select.matrix import Matrix

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Arrays:
    fail: BoolArray  # (responses, assertions): True where the assertion failed the response
    good: BoolArray | None  # (responses,): True for good responses; None without labels
    subsumes: BoolArray | None  # (assertions, assertions): [a, b] = a subsumes b; no diagonal
    rank: IntArray  # (assertions,): 0 = most preferred (deterministic, then cheaper, then name)
    groups: list[str] | None

    @property
    def n(self) -> int:
        return int(self.fail.shape[1])

    @classmethod
    def from_matrix(cls, matrix: Matrix) -> Arrays:
        n = matrix.n_assertions
        passed = np.asarray(matrix.M, dtype=np.uint8).reshape(len(matrix.M), n)
        good = None if matrix.y is None else np.asarray(matrix.y, dtype=np.uint8) == 1
        subsumes = None
        if matrix.K is not None:
            subsumes = np.asarray(matrix.K, dtype=np.uint8).reshape(n, n) == 1
            np.fill_diagonal(subsumes, False)
        return cls(
            fail=passed == 0,
            good=good,
            subsumes=subsumes,
            rank=preference_rank(matrix.assertions, matrix.kinds, matrix.costs),
            groups=matrix.groups,
        )


def rows_hit(fail: BoolArray, selected: BoolArray) -> BoolArray:
    """Rows failed by at least one selected column."""
    return np.asarray(fail[:, selected].any(axis=1), dtype=np.bool_)


def preference_rank(
    names: Sequence[str], kinds: Sequence[str] | None, costs: Sequence[float] | None
) -> IntArray:
    """Distinct ranks for tie-breaking: deterministic before llm_judge, then cheaper, then name."""

    def key(j: int) -> tuple[bool, float, str]:
        kind = kinds[j] if kinds is not None else "deterministic"
        cost = costs[j] if costs is not None else 1.0
        return (kind != "deterministic", cost, names[j])

    order = sorted(range(len(names)), key=key)
    rank = np.empty(len(names), dtype=np.int64)
    rank[order] = np.arange(len(names), dtype=np.int64)
    return rank


__all__ = ["Arrays", "BoolArray", "IntArray", "preference_rank", "rows_hit"]
