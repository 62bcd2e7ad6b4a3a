"""``sample``: keep a subset of the rows (DocETL's debugging operator).

Methods, as DocETL defines them:

- ``first``: the first N rows; ``uniform``: N rows at random (``random_state`` seeds it);
- ``custom``: the rows matching each listed ``{key: value}`` (in the listed order);
- ``outliers``: distance of each row's embedding (``method_kwargs.embedding_keys``) from the
  centre (their mean, or the embedding of ``center``); cut-off ``std`` x the spread, or the
  distance of the ``samples``-th nearest; ``keep: false`` (default) keeps the inliers;
- ``top_embedding``: the N rows most cosine-similar to ``query``; ``top_fts``: the N best by
  BM25 over ``keys``.  A templated ``query`` is rendered with the first row as ``input``.

``samples`` is a count (int) or a fraction (float) of the rows.  ``stratify_key`` samples each
group proportionally, or N per group with ``samples_per_group``.  Rows not sampled are counted as
filtered (reported, not silently gone).
"""

from __future__ import annotations

import math
import random
from typing import Any, Literal

from pydantic import Field, model_validator

from llmassert.pipeline.context import DEFAULT_EMBEDDING_MODEL, OpContext, PipelineEnv
from llmassert.pipeline.operators.base import CallEstimate, GlobalOperator, Outcome, Row, register
from llmassert.pipeline.operators.subset import StratifiedSpec, portion, strata_groups
from llmassert.pipeline.similarity import bm25_scores, similarities
from llmassert.pipeline.templates import KeySet


class SampleSpec(StratifiedSpec):
    """DocETL's sample."""

    type: Literal["sample"] = "sample"
    method: Literal["uniform", "first", "outliers", "custom", "top_embedding", "top_fts"]
    samples: int | float | list[dict[str, Any]] | None = Field(
        None, description="A count, a fraction, or (custom) a list of {key: value}."
    )
    random_state: int | None = None
    samples_per_group: bool = False
    method_kwargs: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _method_needs(self) -> SampleSpec:
        kw = self.method_kwargs
        m = self.method
        if isinstance(self.samples, (int, float)) and self.samples <= 0:
            raise ValueError("samples must be positive")
        if m in ("uniform", "first", "top_embedding", "top_fts", "custom") and self.samples is None:
            raise ValueError(f"method {m} needs `samples`")
        if m == "custom":
            if not isinstance(self.samples, list) or not self.samples:
                raise ValueError("method custom needs `samples` as a list of {key: value}")
            if self.stratify_key is not None:
                raise ValueError("stratify_key is not supported with method custom")
        elif isinstance(self.samples, list):
            raise ValueError(f"method {m} needs `samples` as a count or a fraction")
        if m == "outliers":
            if ("std" in kw) == ("samples" in kw):
                raise ValueError(
                    "method outliers needs exactly one of method_kwargs.std / .samples"
                )
            keys = kw.get("embedding_keys")
            if not isinstance(keys, list) or not keys:
                raise ValueError("method outliers needs method_kwargs.embedding_keys (a list)")
            if "std" in kw and (not isinstance(kw["std"], (int, float)) or kw["std"] <= 0):
                raise ValueError("method_kwargs.std must be a positive number")
            if "center" in kw and not isinstance(kw["center"], dict):
                raise ValueError("method_kwargs.center must be a mapping")
        if m in ("top_embedding", "top_fts"):
            if not isinstance(kw.get("keys"), list) or not kw["keys"]:
                raise ValueError(f"method {m} needs method_kwargs.keys (a list)")
            if not isinstance(kw.get("query"), str):
                raise ValueError(f"method {m} needs method_kwargs.query")
        allowed = {
            "outliers": {"embedding_keys", "std", "samples", "keep", "center", "embedding_model"},
            "top_embedding": {"keys", "query", "embedding_model"},
            "top_fts": {"keys", "query"},
        }.get(m, set())
        unknown = sorted(set(kw) - allowed)
        if unknown:
            raise ValueError(f"method_kwargs: unknown key {unknown[0]!r} for method {m}")
        return self


def _text(row: Row, keys: list[str]) -> str:
    return " ".join(f"{k}: {row.get(k, '')}" for k in keys)


@register(SampleSpec)
class SampleOperator(GlobalOperator[SampleSpec]):
    def __init__(self, spec: SampleSpec, env: PipelineEnv) -> None:
        super().__init__(spec, env)
        q = spec.method_kwargs.get("query")
        templated = isinstance(q, str) and "{" in q
        self.query = self.template(str(q), "method_kwargs.query") if templated else None
        self.uses_llm = spec.method in ("outliers", "top_embedding")

    def output_keys(self, keys: KeySet) -> KeySet:
        self.require_keys(keys, self.spec.strata, "stratify_key")
        return keys

    def estimate_calls(self, rows: list[Row]) -> CallEstimate:
        return CallEstimate(calls=1 if rows else 0, rows=rows, upper_bound=True)

    async def run(self, rows: list[Row], ctx: OpContext) -> Outcome:
        if not rows:
            return Outcome()
        strata = self.spec.strata
        if not strata:
            kept = await self._sample(rows, ctx, self.spec.samples)
        else:
            kept_idx: list[int] = []
            for idx in strata_groups(rows, strata):
                samples = self.spec.samples
                if not self.spec.samples_per_group and isinstance(samples, (int, float)):
                    # Proportional: this group's share of the overall sample size.
                    total = portion(samples, len(rows))
                    samples = max(1, round(total * len(idx) / len(rows))) if total else 0
                group_rows = [rows[i] for i in idx]
                picked = await self._sample(group_rows, ctx, samples) if samples else []
                kept_idx.extend(idx[j] for j in picked)
            kept = sorted(kept_idx) if self.spec.method in ("first", "uniform") else kept_idx
        out = [rows[i] for i in kept]
        ctx.advance(len(rows))
        return Outcome(rows=out, filtered=len(rows) - len(out))

    async def _sample(self, rows: list[Row], ctx: OpContext, samples: Any) -> list[int]:
        m = self.spec.method
        n = len(rows)
        kw = self.spec.method_kwargs
        if m == "first":
            return list(range(portion(samples, n)))
        if m == "uniform":
            rng = random.Random(self.spec.random_state)
            return sorted(rng.sample(range(n), portion(samples, n)))
        if m == "custom":
            keys = list(samples[0])
            index = {repr([r.get(k) for k in keys]): i for i, r in enumerate(rows)}
            hits = (index.get(repr([s.get(k) for k in keys])) for s in samples)
            return [i for i in hits if i is not None]
        if m == "top_fts":
            query = self._query(rows)
            scores = bm25_scores([_text(r, kw["keys"]) for r in rows], query)
            order = sorted(range(n), key=lambda i: -scores[i])
            return order[: portion(samples, n)]
        model = kw.get("embedding_model") or self.env.embedding_model or DEFAULT_EMBEDDING_MODEL
        if m == "top_embedding":
            texts = [_text(r, kw["keys"]) for r in rows]
            sims = await similarities(ctx, texts, self._query(rows), model)
            order = sorted(range(n), key=lambda i: -sims[i])
            return order[: portion(samples, n)]
        # outliers
        keys = kw["embedding_keys"]
        texts = [_text(r, keys) for r in rows]
        if "center" in kw:
            texts.append(_text(kw["center"], keys))
        vecs = await ctx.embed(texts, model)
        if "center" in kw:
            center, vecs = vecs[-1], vecs[:-1]
        else:
            center = [sum(col) / n for col in zip(*vecs, strict=True)]
        dist = [math.dist(v, center) for v in vecs]
        if "std" in kw:
            dims = list(zip(*vecs, strict=True))
            spread = math.sqrt(sum(_var(d) for d in dims))
            cutoff = spread * float(kw["std"])
        else:
            ranked = sorted(dist)
            k = kw["samples"]
            k = int(k * n) if isinstance(k, float) else int(k)
            cutoff = ranked[min(k, n - 1)]
        keep_outliers = bool(kw.get("keep", False))
        return [i for i in range(n) if (dist[i] > cutoff) == keep_outliers]

    def _query(self, rows: list[Row]) -> str:
        if self.query is None:
            return str(self.spec.method_kwargs["query"])
        return self.query.render(input=rows[0])


def _var(xs: tuple[float, ...]) -> float:
    mean = sum(xs) / len(xs)
    return sum((x - mean) ** 2 for x in xs) / len(xs)
