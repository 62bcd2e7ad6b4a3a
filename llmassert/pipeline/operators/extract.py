"""``extract``: pull passages out of a row's text verbatim (DocETL's extract operator).

For each of ``document_keys`` the text is shown to the model and the model answers with *where*
the passages are, never with the passages themselves (no paraphrase can slip in):

* ``line_number`` (default) — the text is re-flowed into numbered lines of at most 80
  characters; the model names line ranges; the lines are joined back with spaces.
* ``regex`` — the model writes patterns, which run on the original text.  Model-written
  patterns are untrusted: each runs with a deadline (``regex`` module, ``REGEX_TIMEOUT_S``), and
  an invalid or runaway pattern is skipped and counted, never run to exhaustion.

Passages are de-duplicated in order; ``<key><extraction_key_suffix>`` (default
``_extracted_<name>``) gets them joined by blank lines (``format_extraction: true``) or as a
list.  ``prompt`` is the extraction instructions (Jinja over ``input``).  ``validate``,
``assertions`` and ``gleaning`` apply to the model's answer (``output.line_ranges`` /
``output.patterns``).  A row whose document key is missing or not a string goes to the errors
file (DocETL keeps it without the key).
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import regex
from pydantic import Field, model_validator

from llmassert.pipeline.context import OpContext, PipelineEnv
from llmassert.pipeline.operators.base import (
    UNKNOWN,
    CallEstimate,
    Issue,
    LLMOperationSpec,
    Outcome,
    Row,
    RowLimit,
    RowOperator,
    register,
)
from llmassert.pipeline.operators.common import LLMStep
from llmassert.pipeline.operators.map import render_with_context, retriever_for
from llmassert.pipeline.retrievers import context_key
from llmassert.pipeline.schema_types import object_schema
from llmassert.pipeline.templates import KeySet

LINE_WIDTH = 80
REGEX_TIMEOUT_S = 1.0

LINE_SCHEMA: dict[str, Any] = object_schema(
    {
        "line_ranges": {
            "type": "array",
            "items": object_schema(
                {
                    "start_line": {"type": "integer"},
                    "end_line": {"type": "integer"},
                }
            ),
        }
    }
)
REGEX_SCHEMA: dict[str, Any] = object_schema(
    {"patterns": {"type": "array", "items": {"type": "string"}}}
)

LINE_TASK = """Extract passages from the text below, following these instructions:

{instructions}

The text is shown with a number before each line:

{text}

Answer with the line ranges (start_line, end_line; inclusive, 1-based) that hold the requested \
passages, as precisely as you can; several ranges if several parts match, none if nothing does."""

REGEX_TASK = """Write regular expressions (Python syntax) that extract passages from the text \
below, following these instructions:

{instructions}

The text:

{text}

Answer with the patterns; use capture groups to isolate exactly the text wanted."""


class ExtractSpec(LLMOperationSpec):
    """DocETL's extract."""

    type: Literal["extract"] = "extract"
    prompt: str = Field(description="What to extract (Jinja over `input`).")
    document_keys: list[str] = Field(min_length=1, description="Text fields to extract from.")
    format_extraction: bool = Field(
        True, description="Join the passages with blank lines (true) or keep a list (false)."
    )
    extraction_key_suffix: str | None = Field(
        None, description="Output key suffix (default `_extracted_<name>`)."
    )
    extraction_method: Literal["line_number", "regex"] = "line_number"
    limit: RowLimit = None

    @model_validator(mode="after")
    def _no_output(self) -> ExtractSpec:
        if self.output is not None:
            raise ValueError("extract has no `output` (its output keys are the extractions)")
        return self


def numbered_lines(text: str, width: int = LINE_WIDTH) -> list[str]:
    """The text re-flowed into lines of at most ``width`` characters (long words cut)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        while len(word) > width:
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:width])
            word = word[width:]
        if not word:
            continue
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return lines


@register(ExtractSpec)
class ExtractOperator(RowOperator[ExtractSpec]):
    one_row_per_row = True
    uses_llm = True

    def __init__(self, spec: ExtractSpec, env: PipelineEnv) -> None:
        super().__init__(spec, env)
        schema = LINE_SCHEMA if spec.extraction_method == "line_number" else REGEX_SCHEMA
        self.step = LLMStep(spec, env, schema=schema)
        self.suffix = spec.extraction_key_suffix or f"_extracted_{spec.name}"
        self.retriever = retriever_for(self)

    def out_key(self, key: str) -> str:
        return f"{key}{self.suffix}"

    def output_keys(self, keys: KeySet) -> KeySet:
        missing = keys.missing(self.spec.document_keys)
        if missing:
            raise self.fail(f"{missing[0]!r} is not a key of the rows here", "document_keys")
        extra: dict[str, KeySet | None] = {}
        if self.retriever is not None:
            self.retriever.check_query({"input": keys})
            extra["retrieval_context"] = None
        self.step.prompt.check({"input": keys, **extra})
        added = [self.out_key(k) for k in self.spec.document_keys]
        if self.retriever is not None and self.spec.save_retriever_output:
            added.append(context_key(self.name))
        return keys | added

    def estimate_calls(self, rows: list[Row]) -> CallEstimate:
        calls = len(rows) * len(self.spec.document_keys)
        unknown = {self.out_key(k): UNKNOWN for k in self.spec.document_keys}
        most = calls * self.step.max_calls_per_unit()
        note = f"up to {most} with gleaning/retries" if most > calls else ""
        return CallEstimate(calls=calls, rows=[{**r, **unknown} for r in rows], note=note)

    async def process_row(self, row: Row, ctx: OpContext) -> Outcome:
        for key in self.spec.document_keys:
            if not isinstance(row.get(key), str):
                return Outcome(
                    errors=[Issue(self.name, row, f"document key {key!r} is missing or not text")]
                )
        instructions, failed, extra = await render_with_context(self, self.step, row, ctx, row)
        if failed is not None:
            return failed
        assert instructions is not None
        parts = await asyncio.gather(
            *(self._one(ctx, row, key, instructions) for key in self.spec.document_keys)
        )
        out = Outcome()
        fields: Row = {}
        meta: dict[str, Any] = {}
        for key, (value, outcome) in zip(self.spec.document_keys, parts, strict=True):
            if value is None:
                return outcome  # quarantined / errored: the whole row goes there once
            fields[self.out_key(key)] = value
            for k, v in outcome.meta.items():
                meta[k] = meta.get(k, 0) + v if isinstance(v, int) else v
        out.rows = [{**row, **fields, **extra}]
        out.meta = meta
        return out

    async def _one(
        self, ctx: OpContext, row: Row, key: str, instructions: str
    ) -> tuple[Any, Outcome]:
        text: str = row[key]
        lines = numbered_lines(text)
        if self.spec.extraction_method == "line_number":
            shown = "\n".join(f"{i:4d}: {line}" for i, line in enumerate(lines, start=1))
            prompt = LINE_TASK.format(instructions=instructions, text=shown)
        else:
            prompt = REGEX_TASK.format(instructions=instructions, text=text)
        result = await self.step.run(
            ctx, prompt, example=row, variables={"input": row}, unit=f"k:{key}"
        )
        skipped = 0
        passages: list[str] = []

        def make(output: dict[str, Any]) -> Outcome:
            nonlocal skipped
            if self.spec.extraction_method == "line_number":
                found, skipped = _from_ranges(lines, output.get("line_ranges") or [])
            else:
                found, skipped = _from_patterns(text, output.get("patterns") or [])
            passages.extend(dict.fromkeys(p for p in found if p))
            return Outcome(rows=[row])

        outcome = self.step.finish(ctx, result, row, make)
        if not outcome.rows:
            return None, outcome
        if skipped:
            outcome.meta = {**outcome.meta, "skipped_answers": skipped}
        value: Any = "\n\n".join(passages) if self.spec.format_extraction else passages
        return value, outcome


def _from_ranges(lines: list[str], ranges: list[dict[str, int]]) -> tuple[list[str], int]:
    """The passages of valid ranges, and how many ranges were out of bounds (skipped)."""
    found: list[str] = []
    skipped = 0
    for r in ranges:
        start, end = r.get("start_line", 0), r.get("end_line", 0)
        if start < 1 or end < start or end > len(lines):
            skipped += 1
            continue
        found.append(" ".join(lines[start - 1 : end]))
    return found, skipped


def _from_patterns(text: str, patterns: list[str]) -> tuple[list[str], int]:
    """Matches of each pattern (groups joined), and how many patterns were skipped."""
    found: list[str] = []
    skipped = 0
    for pattern in patterns:
        try:
            matches = regex.findall(pattern, text, regex.DOTALL, timeout=REGEX_TIMEOUT_S)
        except (regex.error, TimeoutError):
            skipped += 1
            continue
        for m in matches:
            found.append(" ".join(g for g in m if g) if isinstance(m, tuple) else str(m))
    return found, skipped
