"""``rank``: sort the rows along a criterion the prompt states (DocETL's algorithm, Qurk-style).

1. **Initial order**: ``likert`` (default) rates the rows 1-7 in batches of ``batch_size`` (one
   call per batch; each prompt shows ``num_calibration_docs`` sample rows for calibration),
   ``embedding`` (cosine similarity of each row to the criterion; one embedding request), or
   ``calibrated_embedding`` (in DocETL 0.3.0's operation schema, not in its docs): a sample of
   at most 20 rows (seed 42) is ordered by the model — random batches of ``batch_size``
   ordered whole, n(n-1) / (b(b-1)) of them (at least 1), a row's wins being the rows it is
   placed above — then every row takes the place of the sample row its embedding is closest
   to (ties: the closer first); two embedding requests.
2. **Picky windows**: from the bottom of the first ``k`` rows (all by default) upward, a window
   of rows is shown to the model, which names the ``num_top_items_per_window`` best; they move to
   the top of the window.  ``call_budget`` (alias ``rerank_call_budget``, default 10) windows at
   most; step = k / (budget - 1), window = step / (1 - ``overlap_fraction``) (at least the
   number of picks).
3. Every row gets ``_rank`` (1 = first) and the rows come out in that order (no row is dropped).

A batch whose ratings do not match its rows is rated again row by row; a window answer naming
unknown rows keeps the window as it was (counted in the operation's ``check_retries``).  Every
call is journaled (``ctx.checkpointed``), so a resumed run repeats none.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from llmassert.pipeline.context import DEFAULT_EMBEDDING_MODEL, OpContext, PipelineEnv
from llmassert.pipeline.operators.base import (
    CallEstimate,
    GlobalOperator,
    OperationSpec,
    Outcome,
    Row,
    register,
    row_digest,
)
from llmassert.pipeline.schema_types import object_schema
from llmassert.pipeline.similarity import cosine, similarities
from llmassert.pipeline.templates import KeySet

if TYPE_CHECKING:
    from llmassert.pipeline.operators.topk import TopKSpec

RANK_KEY = "_rank"
LIKERT_SCHEMA: dict[str, Any] = object_schema(
    {"ratings": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 7}}}
)
ONE_SCHEMA: dict[str, Any] = object_schema(
    {"rating": {"type": "integer", "minimum": 1, "maximum": 7}}
)
ORDER_SCHEMA: dict[str, Any] = object_schema(
    {"ranking": {"type": "array", "items": {"type": "integer"}}}
)
CALIBRATION_SAMPLE = 20  # DocETL's sample for calibrated_embedding
CALIBRATION_SEED = 42
PICK_SCHEMA: dict[str, Any] = object_schema(
    {"top_documents": {"type": "array", "items": {"type": "integer"}}}
)


class RankSpec(OperationSpec):
    """DocETL's rank."""

    type: Literal["rank"] = "rank"
    prompt: str = Field(min_length=1, description="The ranking criterion (plain text).")
    input_keys: list[str] = Field(min_length=1, description="Row keys shown to the model.")
    direction: Literal["asc", "desc"]
    model: str | None = None
    embedding_model: str | None = None
    batch_size: int = Field(10, ge=1)
    num_calibration_docs: int = Field(10, ge=0)
    initial_ordering_method: Literal["likert", "embedding", "calibrated_embedding"] = "likert"
    k: int | None = Field(None, ge=1)
    call_budget: int | None = Field(None, ge=1)
    rerank_call_budget: int | None = Field(None, ge=1)
    num_top_items_per_window: int = Field(3, ge=1)
    overlap_fraction: float = Field(0.5, ge=0.0, le=1.0)
    timeout: float | None = Field(None, description="DocETL per-call timeout (accepted).")
    litellm_completion_kwargs: dict[str, Any] = Field(default_factory=dict)
    bypass_cache: bool | None = None

    @model_validator(mode="after")
    def _one_budget(self) -> RankSpec:
        if self.call_budget and self.rerank_call_budget:
            raise ValueError("give call_budget or rerank_call_budget, not both")
        return self

    @property
    def budget(self) -> int:
        return self.rerank_call_budget or self.call_budget or 10


def row_text(row: Row, keys: list[str]) -> str:
    return "\n".join(f"{k}: {row.get(k, '')}" for k in keys if k in row) or "(empty)"


class Ranker:
    """The ranking algorithm; shared by rank and topk llm_compare (defaults: DocETL's rank)."""

    def __init__(
        self,
        op: RankSpec | TopKSpec,
        env: PipelineEnv,
        *,
        criterion: str,
        keys: list[str],
        model: str,
        direction: str = "desc",
        embedding_model: str | None = None,
        batch_size: int = 10,
        calibration: int = 10,
        initial: str = "likert",
        k: int | None = None,
        budget: int = 10,
        picks: int = 3,
        overlap: float = 0.5,
    ) -> None:
        self.name, self.env, self.criterion, self.keys = op.name, env, criterion, keys
        self.direction = direction
        self.model = model
        self.embedding_model = embedding_model or env.embedding_model or DEFAULT_EMBEDDING_MODEL
        self.batch_size, self.calibration, self.initial = batch_size, calibration, initial
        self.k, self.budget, self.picks, self.overlap = k, budget, picks, overlap
        self.params = dict(op.litellm_completion_kwargs)
        self.use_cache = env.use_cache(op)

    def windows(self, n: int) -> list[tuple[int, int]]:
        """The picky windows (start, end) over n rows, in the order they are run."""
        k = min(self.k or n, n)
        if k <= 1:
            return []
        step = max(1, int(k / (self.budget - 1 or 1)))
        size = min(
            k, max(self.picks, int(step / (1 - self.overlap))) if self.overlap < 1 else 2 * step
        )
        out: list[tuple[int, int]] = []
        for end in range(k - 1, 0, -step):
            start = max(0, end - size)
            if start == 0:
                end = size
            if end - start >= self.picks:
                out.append((start, end))
            if len(out) >= self.budget:
                break
        return out

    def order_batches(self, n: int) -> int:
        """calibrated_embedding: model calls ordering the sample (DocETL's count)."""
        s = min(CALIBRATION_SAMPLE, n)
        b = min(self.batch_size, s)
        return max(1, (s * (s - 1)) // max(1, b * (b - 1))) if s > 1 else 0

    def estimate(self, n: int) -> int:
        if self.initial == "likert":
            first = math.ceil(n / self.batch_size)
        elif self.initial == "calibrated_embedding":
            first = self.order_batches(n) + (2 if n > 1 else 0)
        else:
            first = 1 if n else 0
        return first + len(self.windows(n))

    async def _ask(
        self, ctx: OpContext, prompt: str, schema: dict[str, Any], salt: str
    ) -> dict[str, Any] | None:
        from llmassert.llm.client import LLMRequest

        async def call() -> dict[str, Any] | None:
            req = LLMRequest(
                model=self.model,
                messages=({"role": "user", "content": prompt},),
                output_schema=schema,
                schema_name="rank",
                salt=salt,
                tag=self.name,
                use_cache=self.use_cache,
                params=self.params,
            )
            result = await ctx.complete(req)
            out = result.data
            return out if isinstance(out, dict) else None

        value: dict[str, Any] | None = await ctx.checkpointed(f"rank:{salt}", call)
        return value

    async def _ask_about(
        self, ctx: OpContext, prompt: str, shown: list[Row], schema: dict[str, Any], key: Any
    ) -> dict[str, Any] | None:
        """:meth:`_ask` with ``shown`` appended to ``prompt`` as numbered documents (answers
        name them by number); the salt is ``key`` and the shown rows' digests."""
        salt = row_digest([key, [row_digest(r) for r in shown]])
        return await self._ask(ctx, prompt + self.numbered(shown, "Document"), schema, salt)

    def numbered(self, rows: list[Row], label: str) -> str:
        """``rows`` as the model sees them: ``<label> 1:`` and the row's keys, and so on."""
        return "\n\n".join(
            f"{label} {j + 1}:\n{row_text(r, self.keys)}" for j, r in enumerate(rows)
        )

    async def initial_order(self, rows: list[Row], ctx: OpContext) -> list[int]:
        n = len(rows)
        if self.initial == "calibrated_embedding":
            return await self._calibrated(rows, ctx)
        if self.initial == "embedding":
            texts = [row_text(r, self.keys) for r in rows]
            scores = await similarities(ctx, texts, self.criterion, self.embedding_model)
        else:
            scores = [float(s) for s in await self._likert(rows, ctx)]
        reverse = self.direction == "desc"
        return sorted(range(n), key=lambda i: (-scores[i] if reverse else scores[i], i))

    async def _likert(self, rows: list[Row], ctx: OpContext) -> list[int]:
        rng = random.Random(0)  # the calibration sample is reproducible (and so cacheable)
        calib = rng.sample(range(len(rows)), min(self.calibration, len(rows)))
        examples = self.numbered([rows[i] for i in calib], "Example")
        ratings: list[int] = []
        for b in range(0, len(rows), self.batch_size):
            batch = rows[b : b + self.batch_size]
            prompt = (
                f"Rate each document against this criterion:\n\n{self.criterion}\n\n"
                "Use a 7-point Likert scale: 1 = strongly disagree that the document matches "
                "the criterion, 4 = neutral, 7 = strongly agree.\n\n"
                f"For calibration, some documents from the same dataset:\n{examples}\n\n"
                f"Rate these {len(batch)} documents, one integer per document, in order:\n"
            )
            out = await self._ask_about(ctx, prompt, batch, LIKERT_SCHEMA, b)
            got = out.get("ratings") if out else None
            if (
                isinstance(got, list)
                and len(got) == len(batch)
                and all(isinstance(x, int) for x in got)
            ):
                ratings.extend(min(7, max(1, x)) for x in got)
                continue
            ctx.stats.check_retries += 1  # the batch answer cannot be split: one row at a time
            for r in batch:
                one = await self._ask(
                    ctx,
                    f"Rate this document against this criterion on a 1-7 Likert scale:\n\n"
                    f"{self.criterion}\n\nDocument:\n{row_text(r, self.keys)}",
                    ONE_SCHEMA,
                    row_digest(["one", r]),
                )
                v = one.get("rating") if one else None
                ratings.append(min(7, max(1, v)) if isinstance(v, int) else 4)
        return ratings

    async def _order_batch(self, rows: list[Row], which: list[int], ctx: OpContext) -> list[int]:
        """The model's order of a batch (positions into ``which``); an answer that names
        unknown rows counts as no order (DocETL), a partial one is completed in input order."""
        way = (
            "ascending (lowest first)" if self.direction == "asc" else "descending (highest first)"
        )
        prompt = (
            f"Order these documents by this criterion:\n\n{self.criterion}\n\nThe order is "
            f"{way}.  Give the document numbers, in order, as `ranking`.\n\n"
        )
        out = await self._ask_about(ctx, prompt, [rows[i] for i in which], ORDER_SCHEMA, "order")
        got = out.get("ranking") if out else None
        order: list[int] = []
        for p in got if isinstance(got, list) else []:
            if not isinstance(p, int) or not 1 <= p <= len(which):
                ctx.stats.check_retries += 1
                return []
            if p - 1 not in order:
                order.append(p - 1)
        if not order:
            ctx.stats.check_retries += 1
            return []
        return order + [j for j in range(len(which)) if j not in order]

    async def _calibrated(self, rows: list[Row], ctx: OpContext) -> list[int]:
        import asyncio

        n = len(rows)
        rng = random.Random(CALIBRATION_SEED)
        sample = rng.sample(range(n), min(CALIBRATION_SAMPLE, n))
        size = min(self.batch_size, len(sample))
        batches = [rng.sample(range(len(sample)), size) for _ in range(self.order_batches(n))]
        orders = await asyncio.gather(
            *(self._order_batch(rows, [sample[j] for j in b], ctx) for b in batches)
        )
        wins = [0] * len(sample)
        for batch, order in zip(batches, orders, strict=True):
            for at, j in enumerate(order):
                wins[batch[j]] += len(order) - at - 1
        ordered = sorted(range(len(sample)), key=lambda j: -wins[j])  # stable: ties keep order
        texts = [row_text(r, self.keys) for r in rows]
        anchors = await ctx.embed([texts[sample[j]] for j in ordered], self.embedding_model)
        vectors = await ctx.embed(texts, self.embedding_model)
        place: list[tuple[int, float]] = []
        for v in vectors:
            sims = [cosine(v, a) for a in anchors]
            best = max(range(len(sims)), key=lambda j: sims[j])
            place.append((best, sims[best]))
        return sorted(range(n), key=lambda i: (place[i][0], -place[i][1], i))

    async def refine(self, rows: list[Row], order: list[int], ctx: OpContext) -> list[int]:
        order = list(order)
        which = "best match" if self.direction == "desc" else "worst match"
        for start, end in self.windows(len(order)):
            window = order[start:end]
            prompt = (
                f"Criterion:\n\n{self.criterion}\n\nFrom the {len(window)} documents below, pick "
                f"the {self.picks} that {which} the criterion, best first, by their numbers.\n\n"
            )
            shown = [rows[i] for i in window]
            out = await self._ask_about(ctx, prompt, shown, PICK_SCHEMA, "window")
            picked = out.get("top_documents") if out else None
            chosen: list[int] = []
            if isinstance(picked, list):
                for p in picked:
                    if isinstance(p, int) and 1 <= p <= len(window) and window[p - 1] not in chosen:
                        chosen.append(window[p - 1])
            if not chosen:
                ctx.stats.check_retries += 1
                continue
            rest = [i for i in window if i not in chosen]
            order[start:end] = chosen[: self.picks] + [i for i in chosen[self.picks :]] + rest
        return order

    async def rank(self, rows: list[Row], ctx: OpContext) -> list[Row]:
        if len(rows) <= 1:
            return [{**r, RANK_KEY: i + 1} for i, r in enumerate(rows)]
        order = await self.initial_order(rows, ctx)
        order = await self.refine(rows, order, ctx)
        return [{**rows[i], RANK_KEY: pos + 1} for pos, i in enumerate(order)]


@register(RankSpec)
class RankOperator(GlobalOperator[RankSpec]):
    uses_llm = True

    def __init__(self, spec: RankSpec, env: PipelineEnv) -> None:
        super().__init__(spec, env)
        self.ranker = Ranker(
            spec,
            env,
            criterion=spec.prompt,
            keys=spec.input_keys,
            direction=spec.direction,
            model=env.model_for(spec),  # no model at all: a SpecError now, before any call
            embedding_model=spec.embedding_model,
            batch_size=spec.batch_size,
            calibration=spec.num_calibration_docs,
            initial=spec.initial_ordering_method,
            k=spec.k,
            budget=spec.budget,
            picks=spec.num_top_items_per_window,
            overlap=spec.overlap_fraction,
        )

    def output_keys(self, keys: KeySet) -> KeySet:
        return keys | [RANK_KEY]

    def estimate_calls(self, rows: list[Row]) -> CallEstimate:
        return CallEstimate(
            calls=self.ranker.estimate(len(rows)),
            rows=[{**r, RANK_KEY: i + 1} for i, r in enumerate(rows)],
        )

    async def run(self, rows: list[Row], ctx: OpContext) -> Outcome:
        ranked = await self.ranker.rank(rows, ctx)
        ctx.advance(len(rows))
        return Outcome(rows=ranked)
