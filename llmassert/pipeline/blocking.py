"""Embedding and blocking, shared by the operators that compare or group rows.

``embed_all`` is the one way an operator embeds many texts (cluster, link_resolve, resolve,
equijoin, reduce's value sampling, the filter / pair cascades, retrievers): batches of
``batch`` texts through ``ctx.embed`` (cached and rate-limited by the LLM layer), an empty text
sent as one space (embedding APIs reject empty input).  ``cosine_matrix`` and
``candidate_pairs`` are resolve's and equijoin's blocking: which pairs of rows are worth a
comparison call, most similar first.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from llmassert.errors import BudgetExceededError, CassetteMissError, LLMError, OperationError
from llmassert.pipeline.schema_types import object_schema
from llmassert.pipeline.types import Row
from llmassert.pipeline.validation import SafeExpr

if TYPE_CHECKING:
    from llmassert.pipeline.context import OpContext

EMBED_BATCH = 256  # texts per embedding request unless the spec says otherwise


def verdict_schema(key: str) -> dict[str, Any]:
    """The output schema of a yes/no comparison prompt: one required boolean ``key``."""
    return object_schema({key: {"type": "boolean"}})


async def embed_all(
    ctx: OpContext,
    texts: list[str],
    model: str | None,
    *,
    batch: int = EMBED_BATCH,
    where: str | None = None,
) -> list[list[float]]:
    """One vector per text, ``batch`` texts a request (the requests run concurrently).

    ``where`` (a spec field): an LLM error becomes an :class:`OperationError` located there;
    budget and cassette errors pass through as they are (they stop the run with their own text).
    """
    chunks = [[t or " " for t in texts[i : i + batch]] for i in range(0, len(texts), batch)]
    try:
        vectors = await asyncio.gather(*(ctx.embed(chunk, model) for chunk in chunks))
    except (BudgetExceededError, CassetteMissError):
        raise
    except LLMError as e:
        if where is None:
            raise
        raise OperationError(
            f"embedding for blocking_threshold failed: {e}", file=ctx.env.spec_file, field=where
        ) from e
    return [v for chunk in vectors for v in chunk]


def cosine_matrix(left: list[list[float]], right: list[list[float]]) -> Callable[[int, int], float]:
    """``sim(i, j)``: cosine similarity of ``left[i]`` and ``right[j]`` (numpy when installed)."""

    def units(vectors: list[list[float]]) -> list[list[float]]:
        out = []
        for v in vectors:
            norm = math.sqrt(sum(x * x for x in v)) or 1.0
            out.append([x / norm for x in v])
        return out

    a = units(left)
    b = a if right is left else units(right)
    try:
        import numpy as np  # optional: the pure-Python product below is the fallback
    except ImportError:  # pragma: no cover - numpy comes with the solver extras
        return lambda i, j: sum(x * y for x, y in zip(a[i], b[j], strict=True))
    sims = np.asarray(a, dtype=float) @ np.asarray(b, dtype=float).T
    return lambda i, j: float(sims[i, j])


def candidate_pairs(
    pairs: Iterable[tuple[int, int]],
    first: list[Row],
    second: list[Row],
    conditions: list[SafeExpr],
    sim: Callable[[int, int], float] | None,
    threshold: float | None,
) -> list[tuple[int, int]]:
    """The ``(i, j)`` of ``pairs`` worth comparing, most similar first (then in given order).

    Without blocking (no conditions, no threshold) every pair is kept; with it, a pair is kept
    when its similarity reaches ``threshold`` or a condition holds for ``first[i]``,
    ``second[j]`` (bound as input1/input2 and left/right).
    """
    blocking = bool(conditions) or threshold is not None
    scored: list[tuple[float, int, int]] = []
    for i, j in pairs:
        score = sim(i, j) if sim is not None else 0.0
        a, b = first[i], second[j]
        if (
            not blocking
            or (threshold is not None and sim is not None and score >= threshold)
            or any(c.holds(input1=a, input2=b, left=a, right=b)[0] for c in conditions)
        ):
            scored.append((-score, i, j))
    scored.sort()
    return [(i, j) for _, i, j in scored]
