"""Vector similarity shared by the operators that order rows by an embedding (rank, topk, sample)."""

from __future__ import annotations

import math


def cosine(a: list[float], b: list[float]) -> float:
    """Cosine similarity of two vectors; a zero vector counts as norm 1 (similarity 0, no error)."""
    na = math.sqrt(sum(x * x for x in a)) or 1.0
    nb = math.sqrt(sum(x * x for x in b)) or 1.0
    return sum(x * y for x, y in zip(a, b, strict=False)) / (na * nb)
