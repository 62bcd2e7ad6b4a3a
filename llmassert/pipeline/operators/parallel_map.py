"""``parallel_map``: several independent prompts per row, run concurrently, merged into one row.

DocETL's semantics: each entry of ``prompts`` fills its ``output_keys`` (a subset of
``output.schema``); the row gets every prompt's fields (1 row in, 1 row out).  Each prompt is a
checked LLM step of its own (its ``model`` and ``gleaning``, the operation's ``validate`` and
``assertions`` do not apply per prompt).  If one prompt's answer fails its checks or errors, the
row goes to the quarantine / error report under that prompt's name: never a half-filled row.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import Field, model_validator

from llmassert.pipeline.context import OpContext, PipelineEnv
from llmassert.pipeline.operators.base import (
    UNKNOWN,
    CallEstimate,
    GleaningSpec,
    OperationSpec,
    Outcome,
    OutputSpec,
    Row,
    RowOperator,
    StrictModel,
    register,
)
from llmassert.pipeline.operators.common import LLMStep, render_or_error
from llmassert.pipeline.operators.map import MapSpec, drop_keys
from llmassert.pipeline.templates import KeySet


class SubPrompt(StrictModel):
    """One entry of ``prompts``."""

    name: str | None = None
    prompt: str = Field(min_length=1)
    output_keys: list[str] = Field(min_length=1)
    model: str | None = None
    gleaning: GleaningSpec | None = None


class ParallelMapSpec(OperationSpec):
    """DocETL's parallel_map."""

    type: Literal["parallel_map"] = "parallel_map"
    prompts: list[SubPrompt] = Field(min_length=1)
    output: OutputSpec
    model: str | None = None
    drop_keys: list[str] | None = None
    timeout: float | None = Field(None, description="DocETL per-call timeout (accepted).")
    max_retries_per_timeout: int | None = Field(None, description="DocETL (accepted, ignored).")
    litellm_completion_kwargs: dict[str, Any] = Field(default_factory=dict)
    bypass_cache: bool | None = None
    enable_observability: bool = False

    @model_validator(mode="after")
    def _keys_in_schema(self) -> ParallelMapSpec:
        fields = set(self.output.schema_)
        seen: set[str] = set()
        for i, p in enumerate(self.prompts):
            for k in p.output_keys:
                if k not in fields:
                    raise ValueError(f"prompts[{i}].output_keys: {k!r} is not in output.schema")
                if k in seen:
                    raise ValueError(f"prompts[{i}].output_keys: {k!r} is filled by two prompts")
                seen.add(k)
        return self


@register(ParallelMapSpec)
class ParallelMapOperator(RowOperator[ParallelMapSpec]):
    uses_llm = True

    def __init__(self, spec: ParallelMapSpec, env: PipelineEnv) -> None:
        super().__init__(spec, env)
        self.steps: list[LLMStep] = []
        for i, p in enumerate(spec.prompts):
            sub = MapSpec.model_validate(
                {
                    "name": f"{spec.name}.{p.name or i}",
                    "type": "map",
                    "prompt": p.prompt,
                    "output": {"schema": {k: spec.output.schema_[k] for k in p.output_keys}},
                    "model": p.model or spec.model,
                    "gleaning": p.gleaning,
                    "litellm_completion_kwargs": dict(spec.litellm_completion_kwargs),
                    "bypass_cache": spec.bypass_cache,
                }
            )
            self.steps.append(LLMStep(sub, env))

    def output_keys(self, keys: KeySet) -> KeySet:
        for step in self.steps:
            step.prompt.check({"input": keys})
        extra = [f"_observability_{self.name}"] if self.spec.enable_observability else []
        # DocETL drops `drop_keys` from the finished rows: the prompts still see them.
        return (keys | list(self.spec.output.schema_) | extra).without(self.spec.drop_keys or [])

    def _drop(self, row: Row) -> Row:
        return drop_keys(row, self.spec.drop_keys)

    def estimate_calls(self, rows: list[Row]) -> CallEstimate:
        unknown = dict.fromkeys(self.spec.output.schema_, UNKNOWN)
        return CallEstimate(
            calls=len(rows) * len(self.steps), rows=[self._drop({**r, **unknown}) for r in rows]
        )

    async def process_row(self, row: Row, ctx: OpContext) -> Outcome:
        texts: list[str] = []
        for step in self.steps:
            text, failed = render_or_error(ctx, step, row, input=row)
            if failed is not None:
                return failed
            assert text is not None
            texts.append(text)
        results = await asyncio.gather(
            *(
                step.run(ctx, text, example=row, variables={"input": row})
                for step, text in zip(self.steps, texts, strict=True)
            )
        )
        merged: dict[str, Any] = {}
        for step, result in zip(self.steps, results, strict=True):
            part = step.finish(ctx, result, row, lambda out: Outcome(rows=[out]))
            if not part.rows:
                return part  # quarantined or errored under this prompt's name
            merged.update(part.rows[0])
        if self.spec.enable_observability:
            merged[f"_observability_{self.name}"] = {"prompts": texts}
        return Outcome(rows=[self._drop({**row, **merged})])
