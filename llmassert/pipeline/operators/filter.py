"""``filter``: a map with one boolean output field; rows answered false leave (and are counted).

``cascade`` (DocETL's model cascade): a cheap ``proxy_model`` answers every row with its
boolean and a confidence; the operation's own model (the *oracle*) answers a uniform sample of
``label_budget`` rows; ``llmassert.pipeline.cascade`` turns the sample into proxy thresholds
that keep the chosen ``guarantee`` (default: recall) at ``target`` with probability
``1 - delta``, and rows the thresholds cannot decide go to the oracle.  Oracle answers go
through the usual checks (validate, assertions, gleaning, on-fail policy); every proxy and oracle
answer is journaled, so a resumed run pays for none again.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import model_validator

from llmassert.errors import BudgetExceededError, CassetteMissError, LLMError
from llmassert.llm.usage import is_embedding_model
from llmassert.pipeline.blocking import embed_all
from llmassert.pipeline.cascade import CascadeSpec, Guarantee, run_binary, seed_of
from llmassert.pipeline.context import OpContext, PipelineEnv
from llmassert.pipeline.operators.base import (
    CallEstimate,
    Operator,
    Outcome,
    Row,
    register,
    row_digest,
)
from llmassert.pipeline.operators.common import journaled
from llmassert.pipeline.operators.map import MapOperator, MapSpec, WholeInputMapOperator
from llmassert.pipeline.schema_types import object_schema
from llmassert.pipeline.templates import KeySet


class FilterSpec(MapSpec):
    """DocETL's filter: ``output.schema`` has exactly one field, a boolean."""

    type: Literal["filter"] = "filter"  # type: ignore[assignment]
    cascade: CascadeSpec | None = None

    @model_validator(mode="after")
    def _one_bool(self) -> FilterSpec:
        schema = self.output.schema_ if self.output else {}
        if len(schema) != 1 or str(next(iter(schema.values()))).lower() not in ("bool", "boolean"):
            raise ValueError(
                "filter needs output.schema with exactly one boolean field, e.g. `keep: boolean`"
            )
        if self.cascade is not None and self.retriever is not None:
            raise ValueError(
                "cascade cannot be combined with retriever (the proxy would not see the "
                "retrieved context; DocETL refuses it too)"
            )
        return self


@register(FilterSpec)
class FilterOperator(MapOperator):
    @classmethod
    def build(cls, spec: Any, env: PipelineEnv) -> Operator[Any]:
        # DocETL runs a cascade instead of the plain path (calibration does not apply to it).
        if spec.cascade is not None:
            return CascadeFilterOperator(spec, env)
        if spec.limit is not None:
            return LimitedFilterOperator(spec, env)
        return super().build(spec, env)

    @property
    def flag_field(self) -> str:
        return self.output_fields()[0]

    def output_keys(self, keys: KeySet) -> KeySet:
        return super().output_keys(keys).without([self.flag_field])

    def estimate_calls(self, rows: list[Row]) -> CallEstimate:
        est = super().estimate_calls(rows)
        rows = [{k: v for k, v in r.items() if k != self.flag_field} for r in est.rows]
        return est.noted("rows out ≤ rows in", rows=rows, upper_bound=True)

    def make(self, row: Row, output: dict[str, Any]) -> Outcome:
        if output.get(self.flag_field) is True:
            rest = {k: v for k, v in output.items() if k != self.flag_field}
            return Outcome(rows=[self._drop({**row, **rest})])
        return Outcome(filtered=1)


class LimitedFilterOperator(WholeInputMapOperator[FilterSpec, FilterOperator]):
    """A filter with ``limit: N``: DocETL's semantics, N rows *kept*, not N rows read.

    Rows are answered in input order, a window of about N rows at a time (N / max_batch_size
    batches), and the operation stops once N rows passed: the output is the first N rows that
    pass, in input order.  Rows never asked, or answered after the N-th pass, are counted
    filtered (DocETL drops them); failures before that point go to quarantine / errors as usual.
    """

    def __init__(self, spec: FilterSpec, env: PipelineEnv) -> None:
        super().__init__(spec, env, FilterOperator(spec, env))
        assert spec.limit is not None
        self.limit = spec.limit

    def estimate_calls(self, rows: list[Row]) -> CallEstimate:
        est = self.inner.estimate_calls(rows)
        return est.noted(
            f"stops once {self.limit} rows passed", rows=est.rows[: self.limit], upper_bound=True
        )

    async def run(self, rows: list[Row], ctx: OpContext) -> Outcome:
        size = self.inner.batch_size
        window = max(1, -(-self.limit // size)) * size  # whole batches, >= limit rows
        out, kept, seen, asked = Outcome(), 0, 0, 0
        for start in range(0, len(rows), window):
            chunk = rows[start : start + window]
            batches = [(start + b, chunk[b : b + size]) for b in range(0, len(chunk), size)]
            answers = await asyncio.gather(*(self._batch(at, batch, ctx) for at, batch in batches))
            ctx.advance(len(chunk))
            asked += len(chunk)
            for outcome in (o for batch in answers for o in batch):  # one per row, input order
                seen += 1
                kept += len(outcome.rows)
                out.extend(outcome)
                if kept >= self.limit:
                    break
            if kept >= self.limit:
                break
        # DocETL stops at the N-th pass: rows answered later in the window, or never asked,
        # are dropped there; here they are counted.
        out.filtered += len(rows) - seen
        ctx.advance(len(rows) - asked)
        return out

    async def _batch(self, at: int, batch: list[Row], ctx: OpContext) -> list[Outcome]:
        """One batch's per-row outcomes, journaled (a resumed run asks none again)."""

        async def make() -> dict[str, Any]:
            done = await self.inner.process_batch(batch, ctx)
            return {"outcomes": [o.to_json() for o in done]}

        data = await ctx.checkpointed(
            f"limit:{at}:{row_digest(batch)}",
            make,
            keep=lambda d: not any(o.get("errors") for o in d["outcomes"]),
        )
        return [Outcome.from_json(o) for o in data["outcomes"]]


class CascadeFilterOperator(WholeInputMapOperator[FilterSpec, FilterOperator]):
    """A filter with ``cascade``: needs its whole input (the sample and the thresholds)."""

    def __init__(self, spec: FilterSpec, env: PipelineEnv) -> None:
        super().__init__(spec, env, FilterOperator(spec, env))
        assert spec.cascade is not None
        self.cascade = spec.cascade
        self.oracle = self.inner  # the operation's own model answers through the plain filter
        self.guarantee: Guarantee = self.cascade.guarantee or "recall"
        flag = self.oracle.flag_field
        self.proxy_schema: dict[str, Any] = object_schema(
            {
                flag: {"type": "boolean"},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            }
        )
        self.seed = seed_of(spec.name)

    def estimate_calls(self, rows: list[Row]) -> CallEstimate:
        est = self.oracle.estimate_calls(rows)
        n = len(rows)
        sample = min(self.cascade.label_budget, n)
        note = (
            f"{n} proxy ({self.cascade.proxy_model}) + {sample} oracle answers; "
            "rows the thresholds cannot decide go to the oracle too; rows out ≤ rows in"
        )
        return CallEstimate(calls=n + sample, rows=est.rows, note=note, upper_bound=True)

    async def _proxy(self, ctx: OpContext, i: int, row: Row) -> float | None:
        """P(keep) from the proxy: its answer and its stated confidence (None: it failed)."""
        step = self.oracle.step
        assert step is not None

        async def ask() -> dict[str, Any]:
            text, failed, _ = await self.oracle.render_row(row, ctx)
            if failed is not None or text is None:
                return {"score": None}
            try:
                result = await step.request(
                    ctx,
                    [
                        *step.messages(text),
                        {
                            "role": "user",
                            "content": "Also give your confidence in that answer, "
                            "from 0 to 1, as `confidence`.",
                        },
                    ],
                    salt="proxy",
                    schema=self.proxy_schema,
                    model=self.cascade.proxy_model,
                    tag=f"{self.name}:proxy",
                )
            except (BudgetExceededError, CassetteMissError):
                raise
            except LLMError:
                return {"score": None}
            data = result.data if isinstance(result.data, dict) else {}
            keep, conf = data.get(self.oracle.flag_field), data.get("confidence")
            if not isinstance(keep, bool) or not isinstance(conf, int | float):
                return {"score": None}
            conf = min(1.0, max(0.0, float(conf)))
            return {"score": conf if keep else 1.0 - conf}

        got = await ctx.checkpointed(f"proxy:{i}:{row_digest(row)}", ask)
        score = got.get("score")
        return float(score) if score is not None else None

    async def _oracle(self, ctx: OpContext, i: int, row: Row) -> Outcome:
        return await journaled(
            ctx, f"oracle:{i}:{row_digest(row)}", lambda: self.oracle.process_row(row, ctx)
        )

    async def run(self, rows: list[Row], ctx: OpContext) -> Outcome:
        if self.spec.limit is not None:
            ctx.warn("`limit` has no effect with `cascade` (as in DocETL): every row is decided")
        outcomes: dict[int, Outcome] = {}

        async def oracle(which: list[int]) -> dict[int, bool | None]:
            answers = await asyncio.gather(*(self._oracle(ctx, i, rows[i]) for i in which))
            outcomes.update(zip(which, answers, strict=True))
            # An answer that failed its checks (or errored) is no label: that row goes to the
            # quarantine / errors file and leaves the sample.
            return {
                i: (None if (o.quarantined or o.errors) else bool(o.rows))
                for i, o in zip(which, answers, strict=True)
            }

        async def embed() -> list[list[float]]:
            return await self._embed(ctx, rows)

        async def proxy(i: int) -> float | None:
            return await self._proxy(ctx, i, rows[i])

        c = self.cascade
        by_embedding = is_embedding_model(c.proxy_model)
        run = await run_binary(
            len(rows),
            guarantee=self.guarantee,
            target=c.target,
            delta=c.delta,
            label_budget=c.label_budget,
            seed=self.seed,
            oracle=oracle,
            proxy=None if by_embedding else proxy,
            embed=embed if by_embedding else None,
        )
        out = Outcome()
        for i, row in enumerate(rows):
            if i in outcomes:
                out.extend(outcomes[i])
            elif run.proxy_verdicts[i]:
                out.rows.append(self.oracle._drop(row))
            else:
                out.filtered += 1
        out.meta = {"cascade": run.meta(self.guarantee, c.target, c.delta, c.proxy_model)}
        return out

    async def _embed(self, ctx: OpContext, rows: list[Row]) -> list[list[float]]:
        """The embedding proxy's input: each row's rendered prompt."""
        texts = []
        for row in rows:
            text, _, _ = await self.oracle.render_row(row, ctx)
            texts.append(text or " ")
        return await embed_all(ctx, texts, self.cascade.proxy_model)
