"""What the operators that keep a subset of the rows share (sample, topk).

A size given as a count or a fraction of the rows, and ``stratify_key`` groups (the subset is
taken in each group).
"""

from __future__ import annotations

from pydantic import Field

from llmassert.pipeline.operators.base import OperationSpec, Row


class StratifiedSpec(OperationSpec):
    """An operation whose subset may be taken per ``stratify_key`` group."""

    stratify_key: str | list[str] | None = Field(
        None, description="Row key(s) whose values form the groups the subset is taken in."
    )

    @property
    def strata(self) -> list[str]:
        s = self.stratify_key
        return [] if s is None else [s] if isinstance(s, str) else list(s)


def portion(size: int | float, n: int) -> int:
    """How many of ``n`` rows ``size`` keeps: a fraction of them if a float <= 1, else a count."""
    if isinstance(size, float) and size <= 1.0:
        return min(n, int(size * n))
    return min(n, int(size))


def strata_groups(rows: list[Row], keys: list[str]) -> list[list[int]]:
    """Row indices grouped by their values of ``keys`` (groups in order of first appearance)."""
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(repr([r.get(k) for k in keys]), []).append(i)
    return list(groups.values())
