"""``map``: one LLM call per row (or per batch of rows); output fields are merged into the row."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from llmassert.pipeline.context import OpContext, PipelineEnv
from llmassert.pipeline.operators.base import (
    UNKNOWN,
    CallEstimate,
    LLMOperationSpec,
    Outcome,
    Row,
    RowOperator,
    register,
)
from llmassert.pipeline.operators.common import LLMStep, render_or_error
from llmassert.pipeline.templates import KeySet


class MapSpec(LLMOperationSpec):
    """DocETL's map."""

    type: Literal["map"] = "map"
    drop_keys: list[str] | None = Field(
        None,
        description="Keys removed from each row before the prompt sees it (and from the output).",
    )
    batch_prompt: str | None = Field(
        None, description="Prompt over `inputs` (a batch of rows) answered with one output per row."
    )
    max_batch_size: int | None = Field(None, ge=1, description="Rows per batch_prompt call.")

    @model_validator(mode="after")
    def _prompt_or_drop(self) -> MapSpec:
        if self.prompt is None and not self.drop_keys:
            raise ValueError("needs a `prompt` (or only `drop_keys`)")
        if self.prompt is not None and self.output is None:
            raise ValueError("a prompt needs `output.schema`")
        if self.batch_prompt is not None and self.prompt is None:
            raise ValueError(
                "batch_prompt needs `prompt` too (used when a batch answer cannot be split per row)"
            )
        return self


def batch_schema(item: dict[str, Any]) -> dict[str, Any]:
    """Schema of a batched answer: one item per input row, in order."""
    return {
        "type": "object",
        "properties": {"results": {"type": "array", "items": item}},
        "required": ["results"],
        "additionalProperties": False,
    }


@register
class MapOperator(RowOperator[MapSpec]):
    type_name = "map"
    one_row_per_row = True
    spec_model = MapSpec

    def __init__(self, spec: MapSpec, env: PipelineEnv) -> None:
        super().__init__(spec, env)
        self.step = (
            LLMStep(spec, env, op_type=self.type_name, schema=self._schema())
            if spec.prompt is not None
            else None
        )
        self.batch_step = None
        if self.step is not None and spec.batch_prompt and (spec.max_batch_size or 1) > 1:
            self.batch_step = LLMStep(
                spec,
                env,
                op_type=self.type_name,
                prompt=spec.batch_prompt,
                prompt_field="batch_prompt",
                schema=batch_schema(self.step.schema),
            )

    def _schema(self) -> dict[str, Any] | None:
        return None  # the spec's output.schema

    @property
    def uses_llm(self) -> bool:
        return self.step is not None

    @property
    def batch_size(self) -> int:
        return (self.spec.max_batch_size or 1) if self.batch_step is not None else 1

    def output_fields(self) -> list[str]:
        return list(self.step.schema["properties"]) if self.step else []

    def output_keys(self, keys: KeySet) -> KeySet:
        keys = keys.without(self.spec.drop_keys or [])
        out = KeySet.of(self.output_fields())
        if self.step is not None:
            self.step.prompt.check({"input": keys})
            if self.step.judge_prompt is not None:
                self.step.judge_prompt.check({"input": keys, "output": out})
        if self.batch_step is not None:
            self.batch_step.prompt.check({"inputs": keys})
        return keys | out.keys

    def estimate_calls(self, rows: list[Row]) -> CallEstimate:
        rows = [self._drop(r) for r in rows]
        if self.step is None:
            return CallEstimate(calls=0, rows=rows)
        unknown = dict.fromkeys(self.output_fields(), UNKNOWN)
        rows = [{**r, **unknown} for r in rows]
        n = len(rows)
        calls = -(-n // self.batch_size) if self.batch_step else n
        most = calls + n * (self.step.max_calls_per_unit() - 1)
        note = f"up to {most} with gleaning/retries" if most > calls else ""
        return CallEstimate(calls=calls, rows=rows, note=note)

    def _drop(self, row: Row) -> Row:
        drop = self.spec.drop_keys
        return {k: v for k, v in row.items() if k not in drop} if drop else row

    def make(self, row: Row, output: dict[str, Any]) -> Outcome:
        """The outcome of a row given its (checked) output; filter overrides this."""
        return Outcome(rows=[{**row, **output}])

    async def process_row(self, row: Row, ctx: OpContext) -> Outcome:
        row = self._drop(row)
        if self.step is None:
            return Outcome(rows=[row])
        text, failed = render_or_error(ctx, self.step, row, input=row)
        if failed is not None:
            return failed
        assert text is not None
        result = await self.step.run(ctx, text, example=row, variables={"input": row})
        return self.step.finish(ctx, result, row, lambda out: self.make(row, out))

    async def process_batch(self, rows: list[Row], ctx: OpContext) -> list[Outcome]:
        import asyncio

        if self.batch_step is None or len(rows) == 1:
            return await super().process_batch(rows, ctx)
        assert self.step is not None
        rows = [self._drop(r) for r in rows]
        answers: list[Any] = []
        text, failed = render_or_error(ctx, self.batch_step, rows, inputs=rows)
        if failed is None and text is not None:
            result = await self.batch_step.run(
                ctx, text, example={"inputs": rows}, variables={"inputs": rows}, unit="batch"
            )
            if result.output is not None and not result.failures:
                answers = result.output.get("results") or []
        if len(answers) != len(rows):
            # The batch answer cannot be split per row: fall back to one prompt per row.
            return await super().process_batch(rows, ctx)

        async def one(row: Row, answer: Any) -> Outcome:
            assert self.step is not None
            text, failed = render_or_error(ctx, self.step, row, input=row)
            if failed is not None:
                return failed
            assert text is not None
            result = await self.step.run(
                ctx, text, example=row, variables={"input": row}, first_answer=answer
            )
            return self.step.finish(ctx, result, row, lambda out: self.make(row, out))

        return list(await asyncio.gather(*(one(r, a) for r, a in zip(rows, answers, strict=True))))
