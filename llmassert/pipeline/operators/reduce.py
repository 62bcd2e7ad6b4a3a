"""``reduce``: group rows by ``reduce_key`` (or ``_all``) and aggregate each group with the LLM.

Groups larger than ``fold_batch_size`` are folded: the first batch goes through ``prompt``, each
next batch through ``fold_prompt`` with the accumulator as ``{{ output }}``.  With
``merge_prompt`` (and ``associative``, the default) batches are reduced concurrently and their
outputs merged (``{{ outputs }}``) ``merge_batch_size`` at a time — fewer sequential rounds.
Every fold/merge step is journaled, so a killed run resumes inside a large group.  Checks,
gleaning and the on-fail policy apply to the group's final answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from typing import Any, Literal

from pydantic import Field, model_validator

from llmassert.errors import TemplateError
from llmassert.pipeline.blocking import embed_all
from llmassert.pipeline.clustering import embedding_text, kmeans_representatives
from llmassert.pipeline.context import OpContext, PipelineEnv
from llmassert.pipeline.operators.base import (
    UNKNOWN,
    CallEstimate,
    GroupOperator,
    Issue,
    LLMOperationSpec,
    Outcome,
    OutputSpec,
    Row,
    StrictModel,
    register,
    row_digest,
)
from llmassert.pipeline.operators.common import (
    LLMStep,
    StepResult,
    failure_from_json,
    failure_json,
)
from llmassert.pipeline.operators.map import retriever_for
from llmassert.pipeline.retrievers import context_key, prompt_with_context
from llmassert.pipeline.similarity import cosine
from llmassert.pipeline.templates import KeySet

ALL = "_all"


class ReduceInputSpec(StrictModel):
    """DocETL's reduce ``input``: only these keys of each row reach the prompt."""

    schema_: dict[str, Any] = Field(alias="schema")


class ValueSamplingSpec(StrictModel):
    """DocETL's reduce ``value_sampling``: reduce a representative subset of large groups."""

    enabled: bool = True
    method: Literal["random", "first_n", "cluster", "sem_sim"]
    sample_size: int = Field(gt=0, description="Rows per group given to the prompt.")
    embedding_model: str | None = Field(None, description="cluster / sem_sim embeddings.")
    embedding_keys: list[str] | None = Field(
        None, description="Keys embedded (default: all keys of the row)."
    )
    query_text: str | None = Field(None, description="sem_sim: Jinja over `reduce_key`.")

    @model_validator(mode="after")
    def _query(self) -> ValueSamplingSpec:
        if self.enabled and self.method == "sem_sim" and not self.query_text:
            raise ValueError("method sem_sim needs `query_text`")
        return self


class ReduceSpec(LLMOperationSpec):
    """DocETL's reduce."""

    type: Literal["reduce"] = "reduce"
    reduce_key: str | list[str] = Field(description="Key(s) to group by; `_all`: one group.")
    prompt: str = Field(description="Jinja prompt over `inputs` (the group's rows).")
    output: OutputSpec
    fold_prompt: str | None = Field(
        None, description="Folds the next batch (`inputs`) into the accumulator (`output`)."
    )
    fold_batch_size: int | None = Field(None, ge=1)
    merge_prompt: str | None = Field(None, description="Merges batch outputs (`outputs`).")
    merge_batch_size: int | None = Field(None, ge=2)
    pass_through: bool = Field(False, description="Keep the first row's other keys.")
    associative: bool = True
    input: ReduceInputSpec | None = None
    persist_intermediates: bool = Field(
        False, description="Keep fold/merge outputs under `_<name>_intermediates`."
    )
    synthesize_resolve: bool | None = Field(None, description="DocETL optimizer (ignored).")
    value_sampling: ValueSamplingSpec | None = None
    limit: int | None = Field(
        None, gt=0, description="DocETL: reduce only the N smallest groups (the rest: filtered)."
    )

    @model_validator(mode="after")
    def _fold_keys(self) -> ReduceSpec:
        if self.fold_prompt and not self.fold_batch_size:
            raise ValueError("fold_prompt needs fold_batch_size")
        if self.merge_prompt and not self.fold_batch_size:
            raise ValueError("merge_prompt needs fold_batch_size")
        if isinstance(self.reduce_key, list) and not self.reduce_key:
            raise ValueError("reduce_key needs at least one key")
        return self

    @property
    def keys(self) -> list[str]:
        return [self.reduce_key] if isinstance(self.reduce_key, str) else list(self.reduce_key)


@register(ReduceSpec)
class ReduceOperator(GroupOperator[ReduceSpec]):
    uses_llm = True

    def __init__(self, spec: ReduceSpec, env: PipelineEnv) -> None:
        super().__init__(spec, env)
        self.keys = [k for k in spec.keys if k != ALL]
        self.step = LLMStep(spec, env)
        self.fold = LLMStep(spec, env, prompt_field="fold_prompt") if spec.fold_prompt else None
        self.merge = LLMStep(spec, env, prompt_field="merge_prompt") if spec.merge_prompt else None
        self.subselect = list(spec.input.schema_) if spec.input else None
        self.retriever = retriever_for(self)
        vs = spec.value_sampling
        self.sampling = vs if vs is not None and vs.enabled else None
        self.query = (
            self.template(self.sampling.query_text, "value_sampling.query_text")
            if self.sampling is not None and self.sampling.query_text
            else None
        )

    def group_key(self, row: Row) -> tuple[Any, ...]:
        return tuple(row.get(k) for k in self.keys)

    def admit(self, rows: list[Row]) -> list[int] | None:
        """``limit``: the rows of the N smallest groups (ties: first appearance), as DocETL."""
        if self.spec.limit is None:
            return None
        groups: dict[str, list[int]] = {}
        for i, row in enumerate(rows):
            groups.setdefault(json.dumps(self.group_key(row), default=str), []).append(i)
        chosen = sorted(groups.values(), key=len)[: self.spec.limit]
        return sorted(i for members in chosen for i in members)

    def output_keys(self, keys: KeySet) -> KeySet:
        self.require_keys(keys, self.keys, "reduce_key")
        rows = KeySet.of(self.subselect, keys.open) if self.subselect else keys
        out = KeySet.of(self.step.schema["properties"])
        common: dict[str, KeySet | None] = {"inputs": rows, "reduce_key": None}
        if self.retriever is not None:
            self.retriever.check_query(dict(common))
            common["retrieval_context"] = None
        if self.query is not None:
            self.query.check({"reduce_key": None})
        if self.sampling is not None and self.sampling.embedding_keys:
            missing = keys.missing(self.sampling.embedding_keys)
            if missing:
                raise self.fail(
                    f"{missing[0]!r} is not a key of the rows here", "value_sampling.embedding_keys"
                )
        self.step.prompt.check(common)
        if self.fold:
            self.fold.prompt.check({**common, "output": out})
        if self.merge:
            self.merge.prompt.check({**common, "outputs": out})
        if self.step.judge_prompt is not None:
            self.step.judge_prompt.check({**common, "output": out})
        result = KeySet.of([*self.keys, *out.keys], keys.open and self.spec.pass_through)
        if self.spec.pass_through:
            result = result | keys.keys
        if self.spec.output.lineage:
            result = result | [f"{self.name}_lineage"]
        if self.retriever is not None and self.spec.save_retriever_output:
            result = result | [context_key(self.name)]
        return result

    def estimate_calls(self, rows: list[Row]) -> CallEstimate:
        groups: dict[tuple[Any, ...], int] = {}
        unknown = 0
        for row in rows:
            key = self.group_key(row)
            if any(v is UNKNOWN for v in key):
                unknown += 1
            else:
                groups[key] = groups.get(key, 0) + 1
        sizes = list(groups.values()) + [1] * unknown
        calls = sum(self._calls_for(n) for n in sizes)
        out = [
            dict(zip(self.keys, k, strict=True))
            | {f: UNKNOWN for f in self.step.schema["properties"]}
            for k in groups
        ] + [{k: UNKNOWN for k in self.keys}] * unknown
        note = "groups unknown before the LLM runs: at most one per row" if unknown else ""
        est = CallEstimate(calls=calls, rows=out, note=note, upper_bound=bool(unknown))
        most = sum(self._calls_for(n) * self.step.max_calls_per_unit() for n in sizes)
        return est.noted(f"up to {most} with gleaning/retries") if most > calls else est

    def _calls_for(self, n: int) -> int:
        size = self.spec.fold_batch_size
        if not size or n <= size or not (self.fold or self.merge):
            return 1
        batches = -(-n // size)
        if self.merge and self.spec.associative:
            merges, level = 0, batches
            width = self.spec.merge_batch_size or level
            while level > 1:
                level = -(-level // width)
                merges += level
            return batches + merges
        return batches

    # -- running -------------------------------------------------------------------------------

    async def process_group(self, key: tuple[Any, ...], rows: list[Row], ctx: OpContext) -> Outcome:
        inputs = [{k: r.get(k) for k in self.subselect} for r in rows] if self.subselect else rows
        key_vals = dict(zip(self.keys, key, strict=True))
        gid = row_digest([list(key), rows])
        try:
            if self.sampling is not None:
                inputs = await self._sample(ctx, gid, inputs, key_vals)
            context = None
            if self.retriever is not None:
                context = await self.retriever.retrieve(
                    {"reduce_key": key_vals, "inputs": inputs}, ctx
                )
        except TemplateError as e:
            return Outcome(errors=[Issue(self.name, {**key_vals, "rows": len(rows)}, e.message)])
        example: Row = {**key_vals, "inputs": inputs}
        intermediates: list[dict[str, Any]] = []
        self_vars = {"retrieval_context": context} if context is not None else {}
        try:
            result = await self._reduce(
                ctx, gid, inputs, key_vals, example, intermediates, self_vars
            )
        except TemplateError as e:
            return Outcome(errors=[Issue(self.name, {**key_vals, "rows": len(rows)}, e.message)])

        def make(output: dict[str, Any]) -> Outcome:
            row: Row = (
                {k: v for k, v in rows[0].items() if k not in output}
                if self.spec.pass_through
                else {}
            )
            row.update(key_vals)
            row.update(output)
            if self.spec.output.lineage:
                row[f"{self.name}_lineage"] = [
                    {k: r.get(k) for k in self.spec.output.lineage} for r in rows
                ]
            if self.spec.persist_intermediates:
                row[f"_{self.name}_intermediates"] = intermediates
            if context is not None and self.spec.save_retriever_output:
                row[context_key(self.name)] = context
            meta = {"sampled": len(inputs)} if self.sampling is not None else {}
            return Outcome(rows=[row], meta=meta)

        group_row = {**key_vals, "group_size": len(rows)}
        return self.step.finish(ctx, result, group_row, make)

    async def _reduce(
        self,
        ctx: OpContext,
        gid: str,
        inputs: list[Row],
        key_vals: Row,
        example: Row,
        intermediates: list[dict[str, Any]],
        extra: dict[str, Any],
    ) -> StepResult:
        size = self.spec.fold_batch_size
        if not size or len(inputs) <= size or not (self.fold or self.merge):
            text = self._render(self.step, inputs=inputs, reduce_key=key_vals, **extra)
            return await self.step.run(
                ctx,
                text,
                example=example,
                variables={"inputs": inputs, "reduce_key": key_vals},
                unit=gid[:8],
            )
        batches = [inputs[i : i + size] for i in range(0, len(inputs), size)]
        if self.merge and self.spec.associative:
            return await self._merge_tree(
                ctx, gid, batches, key_vals, example, intermediates, extra
            )
        acc = await self._sub(
            ctx, self.step, f"{gid}:b0", example, inputs=batches[0], reduce_key=key_vals, **extra
        )
        for i, batch in enumerate(batches[1:], start=1):
            if acc.output is None or acc.error or acc.failures:
                return acc
            intermediates.append(acc.output)
            assert self.fold is not None
            acc = await self._sub(
                ctx,
                self.fold,
                f"{gid}:f{i}",
                example,
                final=i == len(batches) - 1,
                inputs=batch,
                output=acc.output,
                reduce_key=key_vals,
                **extra,
            )
        return acc

    async def _merge_tree(
        self,
        ctx: OpContext,
        gid: str,
        batches: list[list[Row]],
        key_vals: Row,
        example: Row,
        intermediates: list[dict[str, Any]],
        extra: dict[str, Any],
    ) -> StepResult:
        assert self.merge is not None
        parts = await asyncio.gather(
            *(
                self._sub(
                    ctx, self.step, f"{gid}:b{i}", example, inputs=b, reduce_key=key_vals, **extra
                )
                for i, b in enumerate(batches)
            )
        )
        level = 0
        while True:
            bad = next((p for p in parts if p.output is None or p.error or p.failures), None)
            if bad is not None:
                return bad
            outputs = [p.output for p in parts if p.output is not None]
            intermediates.extend(outputs)
            width = self.spec.merge_batch_size or len(outputs)
            chunks = [outputs[i : i + width] for i in range(0, len(outputs), width)]
            final = len(chunks) == 1
            level += 1
            parts = list(
                await asyncio.gather(
                    *(
                        self._sub(
                            ctx,
                            self.merge,
                            f"{gid}:m{level}.{i}",
                            example,
                            final=final,
                            outputs=c,
                            reduce_key=key_vals,
                            **extra,
                        )
                        for i, c in enumerate(chunks)
                    )
                )
            )
            if final:
                return parts[0]

    async def _sub(
        self,
        ctx: OpContext,
        step: LLMStep,
        unit: str,
        example: Row,
        *,
        final: bool = False,
        **variables: Any,
    ) -> StepResult:
        """One fold/merge call, journaled so a resumed run does not repeat it."""
        text = self._render(step, **variables)
        variables.pop("retrieval_context", None)
        if final:
            return await step.run(ctx, text, example=example, variables=variables, unit=unit)

        async def call() -> dict[str, Any]:
            r = await step.run(
                ctx, text, example=example, variables=variables, unit=unit, check=False
            )
            return {
                "output": r.output,
                "error": r.error,
                "meta": r.meta,
                "failures": [failure_json(f) for f in r.failures],
            }

        digest = hashlib.sha256(json.dumps([unit, text]).encode()).hexdigest()[:24]
        got = await ctx.checkpointed(digest, call)
        if got.get("failures"):
            return StepResult(
                output=got["output"],
                error=got["error"],
                meta=got["meta"],
                failures=[failure_from_json(f) for f in got["failures"]],
            )
        return StepResult(output=got["output"], error=got["error"], meta=got["meta"])

    def _render(self, step: LLMStep, **variables: Any) -> str:
        """A prompt; the first-batch prompt gets the retrieved context prepended when it does
        not reference ``retrieval_context`` (DocETL's rule)."""
        text = step.prompt.render(**variables)
        if step is self.step:
            text = prompt_with_context(step.prompt.source, text, variables.get("retrieval_context"))
        return text

    async def _sample(
        self, ctx: OpContext, gid: str, inputs: list[Row], key_vals: Row
    ) -> list[Row]:
        """``value_sampling``: the group's rows the prompt sees (in group order)."""
        vs = self.sampling
        assert vs is not None
        k = vs.sample_size
        if len(inputs) <= k:
            return inputs
        if vs.method == "first_n":
            return inputs[:k]
        seed = int(gid[:8], 16)
        if vs.method == "random":
            return [inputs[i] for i in sorted(random.Random(seed).sample(range(len(inputs)), k))]
        texts = [embedding_text(r, vs.embedding_keys) for r in inputs]
        model = vs.embedding_model
        vectors = await embed_all(ctx, texts, model)
        if vs.method == "cluster":
            return [inputs[i] for i in kmeans_representatives(vectors, k, seed)]
        assert self.query is not None
        query = (await ctx.embed([self.query.render(reduce_key=key_vals) or " "], model))[0]
        sims = [cosine(query, v) for v in vectors]
        top = sorted(range(len(inputs)), key=lambda i: (-sims[i], i))[:k]
        return [inputs[i] for i in sorted(top)]
