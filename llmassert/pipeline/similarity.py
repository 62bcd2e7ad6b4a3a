"""Relevance of rows to a query, shared by the operators that order rows (rank, topk, sample).

Cosine similarity of embeddings, and BM25 for the full-text methods (no call).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmassert.pipeline.context import OpContext


def cosine(a: list[float], b: list[float]) -> float:
    """Cosine similarity of two vectors; a zero vector counts as norm 1 (similarity 0, no error)."""
    na = math.sqrt(sum(x * x for x in a)) or 1.0
    nb = math.sqrt(sum(x * x for x in b)) or 1.0
    return sum(x * y for x, y in zip(a, b, strict=False)) / (na * nb)


async def similarities(
    ctx: OpContext, texts: list[str], query: str, model: str, batch: int | None = None
) -> list[float]:
    """Cosine similarity of each text's embedding to the query's.

    The texts and the query are embedded together, ``batch`` texts a request (all in one
    request by default).
    """
    every = [*texts, query]
    step = batch or len(every)
    vecs: list[list[float]] = []
    for b in range(0, len(every), step):
        vecs.extend(await ctx.embed(every[b : b + step], model))
    q = vecs[-1]
    return [cosine(v, q) for v in vecs[:-1]]


_WORD = re.compile(r"\w+")


def bm25_scores(docs: list[str], query: str, k1: float = 1.5, b: float = 0.75) -> list[float]:
    """Okapi BM25 of ``query`` against each document (lower-cased word tokens)."""
    toks = [_WORD.findall(d.lower()) for d in docs]
    n = len(toks) or 1
    avg = sum(len(t) for t in toks) / n or 1.0
    df: Counter[str] = Counter(w for t in toks for w in set(t))
    q = _WORD.findall(query.lower())
    scores = []
    for t in toks:
        tf = Counter(t)
        s = 0.0
        for w in q:
            if w not in tf:
                continue
            idf = math.log(1 + (n - df[w] + 0.5) / (df[w] + 0.5))
            s += idf * tf[w] * (k1 + 1) / (tf[w] + k1 * (1 - b + b * len(t) / avg))
        scores.append(s)
    return scores
