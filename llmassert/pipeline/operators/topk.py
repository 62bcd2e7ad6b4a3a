"""``topk``: the ``k`` rows most relevant to ``query`` (DocETL's three methods).

- ``embedding``: cosine similarity of each row's ``keys`` to the query (one embedding request
  per 256 texts); ``fts``: BM25 over ``keys`` (no call); ``llm_compare``: the rank operator's
  algorithm (embedding initial order, then picky windows, ``batch_size`` rows a window) over
  ``query`` as the criterion, keeping the first ``k``.
- ``k``: a count, or a fraction of the rows when a float <= 1.  A templated ``query`` (embedding
  and fts only) is rendered with the first row as ``input``.  ``stratify_key`` (embedding, fts):
  the top ``k`` of each group.
- Kept rows get ``_rank`` (1 = most relevant); the others are counted as filtered.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, model_validator

from llmassert.pipeline.blocking import EMBED_BATCH
from llmassert.pipeline.context import DEFAULT_EMBEDDING_MODEL, OpContext, PipelineEnv
from llmassert.pipeline.operators.base import CallEstimate, GlobalOperator, Outcome, Row, register
from llmassert.pipeline.operators.rank import RANK_KEY, Ranker, row_text
from llmassert.pipeline.operators.subset import StratifiedSpec, portion, strata_groups
from llmassert.pipeline.similarity import bm25_scores, similarities
from llmassert.pipeline.templates import KeySet


class TopKSpec(StratifiedSpec):
    """DocETL's topk."""

    type: Literal["topk"] = "topk"
    method: Literal["embedding", "fts", "llm_compare"]
    k: int | float = Field(description="A count, or a fraction of the rows (float <= 1).")
    keys: list[str] = Field(min_length=1)
    query: str = Field(min_length=1)
    embedding_model: str | None = None
    model: str | None = None
    batch_size: int = Field(10, ge=2)
    litellm_completion_kwargs: dict[str, Any] = Field(default_factory=dict)
    bypass_cache: bool | None = None

    @model_validator(mode="after")
    def _checks(self) -> TopKSpec:
        if self.k <= 0:
            raise ValueError("k must be positive")
        if self.method == "llm_compare":
            if "{{" in self.query or "{%" in self.query:
                raise ValueError(
                    "llm_compare needs a plain query (no Jinja): one criterion for all"
                )
            if self.stratify_key is not None:
                raise ValueError("stratify_key is not supported with llm_compare")
        return self


@register(TopKSpec)
class TopKOperator(GlobalOperator[TopKSpec]):
    def __init__(self, spec: TopKSpec, env: PipelineEnv) -> None:
        super().__init__(spec, env)
        self.query = self.template(spec.query, "query")
        self.embedding_model = (
            spec.embedding_model or env.embedding_model or DEFAULT_EMBEDDING_MODEL
        )
        self.uses_llm = spec.method != "fts"
        self.ranker: Ranker | None = None
        if spec.method == "llm_compare":
            # The rank algorithm with an embedding initial order, DocETL's topk settings.
            self.ranker = Ranker(
                spec,
                env,
                criterion=spec.query,
                keys=spec.keys,
                model=env.model_for(spec),
                embedding_model=self.embedding_model,
                batch_size=spec.batch_size,
                calibration=0,
                initial="embedding",
                picks=min(3, spec.batch_size - 1),
            )

    def output_keys(self, keys: KeySet) -> KeySet:
        self.require_keys(keys, self.spec.strata, "stratify_key")
        self.query.check({"input": keys})
        return keys | [RANK_KEY]

    def estimate_calls(self, rows: list[Row]) -> CallEstimate:
        n = len(rows)
        calls = 0 if self.spec.method == "fts" else math.ceil((n + 1) / EMBED_BATCH)
        if self.ranker is not None:
            calls = self.ranker.estimate(n)
        return CallEstimate(calls=calls, rows=rows[: portion(self.spec.k, n)], upper_bound=True)

    async def run(self, rows: list[Row], ctx: OpContext) -> Outcome:
        if not rows:
            return Outcome()
        if self.ranker is not None:
            ranked = await self.ranker.rank(rows, ctx)
            kept = ranked[: portion(self.spec.k, len(rows))]
            ctx.advance(len(rows))
            return Outcome(rows=kept, filtered=len(rows) - len(kept))
        strata = self.spec.strata
        query = self.query.render(input=rows[0])
        scores = await self._scores(rows, query, ctx)
        out: list[Row] = []
        for idx in strata_groups(rows, strata):
            best = sorted(idx, key=lambda i: (-scores[i], i))[: portion(self.spec.k, len(idx))]
            out.extend({**rows[i], RANK_KEY: pos + 1} for pos, i in enumerate(best))
        ctx.advance(len(rows))
        return Outcome(rows=out, filtered=len(rows) - len(out))

    async def _scores(self, rows: list[Row], query: str, ctx: OpContext) -> list[float]:
        texts = [row_text(r, self.spec.keys) for r in rows]
        if self.spec.method == "fts":
            return bm25_scores(texts, query)
        return await similarities(ctx, texts, query, self.embedding_model, EMBED_BATCH)
