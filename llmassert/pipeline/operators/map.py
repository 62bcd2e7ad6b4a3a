"""``map``: one LLM call per row (or per batch of rows); output fields are merged into the row."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import Field, model_validator

from llmassert.pipeline import documents
from llmassert.pipeline.context import OpContext, PipelineEnv
from llmassert.pipeline.operators.base import (
    UNKNOWN,
    CallEstimate,
    GlobalOperator,
    Issue,
    LLMOperationSpec,
    Operator,
    Outcome,
    Row,
    RowLimit,
    RowOperator,
    register,
    row_digest,
)
from llmassert.pipeline.operators.common import LLMStep, journaled, render_or_error
from llmassert.pipeline.pdf_input import PdfInputError, PdfMode, PdfPrompt, pdf_mode
from llmassert.pipeline.pdf_input import prepare as prepare_pdf
from llmassert.pipeline.retrievers import Retriever, context_key, prompt_with_context
from llmassert.pipeline.schema_types import object_schema
from llmassert.pipeline.templates import KeySet


def drop_keys(row: Row, keys: list[str] | None) -> Row:
    """``row`` without ``keys`` (DocETL applies ``drop_keys`` to finished rows)."""
    return {k: v for k, v in row.items() if k not in keys} if keys else row


class MapSpec(LLMOperationSpec):
    """DocETL's map."""

    type: Literal["map"] = "map"
    drop_keys: list[str] | None = Field(
        None,
        description="Keys removed from each output row (the prompt still sees them, as in DocETL).",
    )
    batch_prompt: str | None = Field(
        None, description="Prompt over `inputs` (a batch of rows) answered with one output per row."
    )
    max_batch_size: int | None = Field(None, ge=1, description="Rows per batch_prompt call.")
    input: list[str] | None = Field(
        None, description="DocETL: the only row keys the prompt sees (`input.<key>`)."
    )
    limit: RowLimit = None
    pdf_url_key: str | None = Field(
        None,
        description="DocETL: the row key (or dotted path) holding a PDF's URL or path, sent "
        "with the prompt: as a file where the model reads PDFs, else as extracted text.",
    )
    calibrate: bool = Field(
        False,
        description="DocETL: answer a sample first, derive reference anchors from it and "
        "append them to every row's prompt.",
    )
    num_calibration_docs: int = Field(10, gt=0, description="Rows in the calibration sample.")
    clustering_method: str | None = Field(
        None, description="DocETL accepts it and never reads it (accepted, no effect)."
    )
    flush_partial_results: bool = Field(
        False, description="DocETL: write batches as they finish (here every row is journaled)."
    )

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
        if self.pdf_url_key is not None and self.batch_prompt is not None:
            raise ValueError("pdf_url_key cannot be used with batch_prompt (one PDF per request)")
        return self


def batch_schema(item: dict[str, Any]) -> dict[str, Any]:
    """Schema of a batched answer: one item per input row, in order."""
    return object_schema({"results": {"type": "array", "items": item}})


@register(MapSpec)
class MapOperator(RowOperator[MapSpec]):
    one_row_per_row = True

    def __init__(self, spec: MapSpec, env: PipelineEnv) -> None:
        super().__init__(spec, env)
        # Calibration's reference anchors, appended to each rendered prompt (as data: a model's
        # text never becomes template source).
        self.prompt_suffix = ""
        self.step = LLMStep(spec, env, schema=self._schema()) if spec.prompt is not None else None
        self.uses_llm = self.step is not None
        self.batch_step = None
        if self.step is not None and spec.batch_prompt and (spec.max_batch_size or 1) > 1:
            self.batch_step = LLMStep(
                spec,
                env,
                prompt_field="batch_prompt",
                schema=batch_schema(self.step.schema),
            )

        self.retriever = retriever_for(self)
        self.pdf_mode: PdfMode | None = None
        if spec.pdf_url_key is not None and self.step is not None:
            self.pdf_mode = pdf_mode(self.step.model)
            if self.pdf_mode == "text":
                documents.require("pdf")  # before any call: a one-line error with the fix

    def _schema(self) -> dict[str, Any] | None:
        return None  # the spec's output.schema

    @classmethod
    def build(cls, spec: Any, env: PipelineEnv) -> Operator[Any]:
        if spec.calibrate and spec.prompt is not None:
            return CalibratedMapOperator(spec, env, super().build(spec, env))  # type: ignore[arg-type]
        return super().build(spec, env)

    @property
    def batch_size(self) -> int:
        if self.retriever is not None:
            return 1  # context is retrieved per row
        return (self.spec.max_batch_size or 1) if self.batch_step is not None else 1

    def output_fields(self) -> list[str]:
        return list(self.step.schema["properties"]) if self.step else []

    def output_keys(self, keys: KeySet) -> KeySet:
        # DocETL drops `drop_keys` from the finished rows: the prompt still sees them.
        out = KeySet.of(self.output_fields())
        seen = KeySet.of(self.spec.input) if self.spec.input else keys
        if self.spec.input:
            self.require_keys(keys, self.spec.input, "input")
        if self.retriever is not None:
            self.retriever.check_query({"input": keys})
        if self.spec.pdf_url_key is not None:
            root = self.spec.pdf_url_key.split(".")[0]
            if keys.missing([root]) and keys.missing([self.spec.pdf_url_key]):
                raise self.fail(f"{root!r} is not a key of the rows here", "pdf_url_key")
        if self.step is not None:
            extra = {"retrieval_context": None} if self.retriever is not None else {}
            self.step.prompt.check({"input": seen, **extra})
            if self.step.judge_prompt is not None:
                self.step.judge_prompt.check({"input": keys, "output": out})
        if self.batch_step is not None:
            self.batch_step.prompt.check({"inputs": keys})
        return (keys | out.keys | self.extra_keys()).without(self.spec.drop_keys or [])

    def extra_keys(self) -> list[str]:
        """Bookkeeping keys DocETL adds (observability, saved retrieval context)."""
        extra = []
        if self.spec.enable_observability:
            extra.append(f"_observability_{self.name}")
        if self.retriever is not None and self.spec.save_retriever_output:
            extra.append(context_key(self.name))
        return extra

    def prompt_row(self, row: Row) -> Row:
        """What the prompt sees as ``input`` (``input:`` restricts it to those keys)."""
        keys = self.spec.input
        return {k: row[k] for k in keys if k in row} if keys else row

    async def render_row(self, row: Row, ctx: OpContext) -> tuple[str | None, Outcome | None, Row]:
        """The prompt of one row, its error outcome, and the extra keys its output row gets."""
        assert self.step is not None
        text, failed, extra = await render_with_context(
            self, self.step, row, ctx, self.prompt_row(row)
        )
        if text is not None and self.prompt_suffix:
            text = f"{text}\n\n{self.prompt_suffix}"
        if text is not None and self.spec.enable_observability:
            extra[f"_observability_{self.name}"] = {"prompt": text}
        return text, failed, extra

    def estimate_calls(self, rows: list[Row]) -> CallEstimate:
        if self.step is None:
            return CallEstimate(calls=0, rows=[self._drop(r) for r in rows])
        unknown = dict.fromkeys(self.output_fields(), UNKNOWN)
        rows = [self._drop({**r, **unknown}) for r in rows]
        n = len(rows)
        calls = -(-n // self.batch_size) if self.batch_step else n
        calls *= (self.spec.output.n or 1) if self.spec.output else 1
        most = calls + n * (self.step.max_calls_per_unit() - 1)
        note = f"up to {most} with gleaning/retries" if most > calls else ""
        return CallEstimate(calls=calls, rows=rows, note=note)

    def _drop(self, row: Row) -> Row:
        return drop_keys(row, self.spec.drop_keys)

    def make(self, row: Row, output: dict[str, Any]) -> Outcome:
        """The outcome of a row given its (checked) output; filter overrides this."""
        return Outcome(rows=[self._drop({**row, **output})])

    async def process_row(self, row: Row, ctx: OpContext) -> Outcome:
        if self.step is None:
            return Outcome(rows=[self._drop(row)])
        text, failed, extra = await self.render_row(row, ctx)
        if failed is not None:
            return failed
        assert text is not None
        pdf = PdfPrompt(text)
        if self.pdf_mode is not None:
            assert self.spec.pdf_url_key is not None
            try:
                pdf = await prepare_pdf(
                    self.pdf_mode, row, self.spec.pdf_url_key, text, self.env.base_dir
                )
            except PdfInputError as e:
                return Outcome(errors=[Issue(self.name, row, f"pdf_url_key: {e}")], meta=pdf.meta)
            text = pdf.text
            observed = f"_observability_{self.name}"
            if observed in extra:
                extra[observed] = {"prompt": text, "pdf_input": pdf.meta["pdf"]}
        outcome = await self._answer(row, text, extra, ctx, pdf.attachments)
        outcome.meta = {**outcome.meta, **pdf.meta}
        return outcome

    async def _answer(
        self,
        row: Row,
        text: str,
        extra: Row,
        ctx: OpContext,
        attachments: tuple[dict[str, Any], ...],
    ) -> Outcome:
        assert self.step is not None
        n = self.spec.output.n if self.spec.output else None
        if n and n > 1:
            # DocETL's output.n: n answers per row, each its own checked request (cache salts
            # differ per answer), each a row of its own.
            import asyncio

            results = await asyncio.gather(
                *(
                    self.step.run(
                        ctx,
                        text,
                        example=row,
                        variables={"input": row},
                        unit=f"n{i}",
                        attachments=attachments,
                    )
                    for i in range(n)
                )
            )
            outcome = Outcome()
            for result in results:
                outcome.extend(
                    self.step.finish(ctx, result, row, lambda out: self.make(row, {**out, **extra}))
                )
            return outcome
        result = await self.step.run(
            ctx, text, example=row, variables={"input": row}, attachments=attachments
        )
        return self.step.finish(ctx, result, row, lambda out: self.make(row, {**out, **extra}))

    async def process_batch(self, rows: list[Row], ctx: OpContext) -> list[Outcome]:
        import asyncio

        if self.batch_step is None or len(rows) == 1:
            return await super().process_batch(rows, ctx)
        assert self.step is not None
        answers: list[Any] = []
        shown = [self.prompt_row(r) for r in rows]
        text, failed = render_or_error(ctx, self.batch_step, rows, inputs=shown)
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
            text, failed, extra = await self.render_row(row, ctx)
            if failed is not None:
                return failed
            assert text is not None
            result = await self.step.run(
                ctx, text, example=row, variables={"input": row}, first_answer=answer
            )
            return self.step.finish(ctx, result, row, lambda out: self.make(row, {**out, **extra}))

        return list(await asyncio.gather(*(one(r, a) for r, a in zip(rows, answers, strict=True))))


def retriever_for(op: Any) -> Retriever | None:
    """The operation's ``retriever`` (a top-level ``retrievers`` name), or None."""
    name = op.spec.retriever
    if name is None:
        return None
    spec = op.env.retrievers.get(name)
    if spec is None:
        known = ", ".join(sorted(op.env.retrievers)) or "none"
        raise op.fail(f"unknown retriever {name!r} (known: {known})", "retriever")
    return Retriever(name, spec, op.env)


async def render_with_context(
    op: Any, step: LLMStep, row: Row, ctx: OpContext, seen: Row
) -> tuple[str | None, Outcome | None, Row]:
    """``step``'s prompt for ``row`` (``seen`` is its ``input``) with the row's retrieval context.

    Returns the text (None if it does not render: then the row's error outcome) and the keys
    the output row gets (the saved context).  DocETL: a prompt that does not read
    ``retrieval_context`` gets it prepended.
    """
    variables: dict[str, Any] = {"input": seen}
    extra: Row = {}
    context = None
    if op.retriever is not None:
        context = await op.retriever.retrieve({"input": row}, ctx)
        variables["retrieval_context"] = context
        if op.spec.save_retriever_output:
            extra[context_key(op.name)] = context
    text, failed = render_or_error(ctx, step, row, **variables)
    if text is not None:
        text = prompt_with_context(step.prompt.source, text, context)
    return text, failed, extra


CALIBRATION_SEED = 42  # DocETL's: the same rows are sampled for the same input
CALIBRATION_SCHEMA: dict[str, Any] = object_schema({"calibration_context": {"type": "string"}})
CALIBRATION_TASK = """This prompt was applied to sample documents:

<prompt>
{prompt}
</prompt>

The sample inputs and the outputs they got:
{examples}

Write reference anchors to append to the prompt so that every document is judged on the same \
scale. Use concrete examples from the sample as calibration points, not generic advice, e.g.
- "For reference, '<input text>' -> <output> is the baseline for <level>"
- "Documents like '<input text>' should get <output>"
The outputs above may be wrong (the prompt was not calibrated yet): rely on the variety of the \
inputs more than on those outputs. Put the anchors in calibration_context."""


MapSpecT = TypeVar("MapSpecT", bound=MapSpec)
InnerT = TypeVar("InnerT", bound=MapOperator)


class WholeInputMapOperator(GlobalOperator[MapSpecT], Generic[MapSpecT, InnerT]):
    """A map-family operation that one spec key makes need its whole input (``calibrate``,
    a filter's ``limit`` or ``cascade``): it answers rows through ``inner``, the plain operator
    of its YAML type, and keeps that operator's type, spec model and output keys."""

    uses_llm = True

    def __init__(self, spec: MapSpecT, env: PipelineEnv, inner: InnerT) -> None:
        super().__init__(spec, env)
        self.inner = inner
        self.type_name = inner.type_name  # type: ignore[misc]
        self.spec_model = inner.spec_model  # type: ignore[misc]

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt on the worker by the same choice the runner made (the plain type's ``build``).
        return (type(self.inner).build, (self.spec, self.env))

    def output_keys(self, keys: KeySet) -> KeySet:
        return self.inner.output_keys(keys)


class CalibratedMapOperator(WholeInputMapOperator[MapSpec, MapOperator]):
    """A map (or filter) with ``calibrate: true``: needs its whole input for the sample.

    DocETL's steps: sample ``num_calibration_docs`` rows (seed 42), answer them with the
    prompt, ask the model for reference anchors, then answer every row (the sample included)
    with the anchors appended to its rendered prompt.  Every answer goes through the operation's
    checks; each unit and the anchors are journaled for resume.
    """

    def estimate_calls(self, rows: list[Row]) -> CallEstimate:
        est = self.inner.estimate_calls(rows)
        sample = min(self.spec.num_calibration_docs, len(rows))
        return est.noted(
            f"{sample} calibration answers + 1 anchors request", calls=est.calls + sample + 1
        )

    async def run(self, rows: list[Row], ctx: OpContext) -> Outcome:
        import asyncio
        import json
        import random

        step = self.inner.step
        assert step is not None and self.spec.prompt is not None
        k = min(self.spec.num_calibration_docs, len(rows))
        picked = (
            list(range(len(rows)))
            if k == len(rows)
            else sorted(random.Random(CALIBRATION_SEED).sample(range(len(rows)), k))
        )
        answers = await asyncio.gather(
            *(
                journaled(
                    ctx,
                    f"calib:{i}:{row_digest(rows[i])}",
                    lambda i=i: self.inner.process_row(rows[i], ctx),  # type: ignore[misc]
                )
                for i in picked
            )
        )
        examples = []
        for n, (i, answer) in enumerate(zip(picked, answers, strict=True), start=1):
            shown = answer.rows[0] if answer.rows else "(no answer passed its checks)"
            examples.append(
                f"\n--- Example {n} ---\nInput: {json.dumps(rows[i], default=str)}\n"
                f"Output: {json.dumps(shown, default=str)}"
            )
        task = CALIBRATION_TASK.format(prompt=self.spec.prompt, examples="\n".join(examples))

        async def anchors() -> dict[str, Any]:
            result = await step.request(
                ctx,
                [{"role": "user", "content": task}],
                salt="calibrate",
                schema=CALIBRATION_SCHEMA,
                tag=f"{self.name}:calibrate",
            )
            data = result.data if isinstance(result.data, dict) else {}
            return {"context": str(data.get("calibration_context") or "")}

        context = (await ctx.checkpointed("calibration", anchors))["context"]
        tuned = type(self.inner)(self.spec, self.env)
        tuned.prompt_suffix = context
        tag = row_digest(context)[:12]
        outcomes = await asyncio.gather(
            *(
                journaled(
                    ctx,
                    f"row:{tag}:{i}:{row_digest(r)}",
                    lambda r=r: tuned.process_row(r, ctx),  # type: ignore[misc]
                )
                for i, r in enumerate(rows)
            )
        )
        out = Outcome()
        for o in outcomes:
            out.extend(o)
        out.meta = {"calibration": {"sample": k, "anchors_chars": len(context)}}
        return out
