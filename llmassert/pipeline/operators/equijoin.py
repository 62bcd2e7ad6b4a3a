"""``equijoin``: join two inputs on an LLM-judged condition (DocETL's experimental operator).

A step names the inputs: ``- join_op: {left: dataset_or_step, right: ...}``.  Each candidate
pair is judged by ``comparison_prompt`` (``{{ left }}``, ``{{ right }}``; the model answers
``is_match``); every matching pair becomes one output row holding both rows' fields, a key
present on both sides suffixed ``_left`` / ``_right`` (DocETL's naming).  ``validate``
expressions (over ``output``, the joined row) send failing pairs to the quarantine file.

Blocking is resolve's: ``blocking_conditions`` (over ``left`` and ``right``) or an embedding
cosine ``blocking_threshold`` over ``blocking_keys: {left: [...], right: [...]}`` make a pair a
candidate; with neither, every pair is compared (DocETL would first tune a threshold on a sample;
``blocking_target_recall`` is accepted and ignored).  Candidates go most similar first;
``limits: {left: n, right: m}`` caps matches per row (pairs of a row at its cap are not
compared), ``limit_comparisons`` caps comparisons.  Rows of either side that match nothing are
counted as filtered.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import Field, model_validator

from llmassert.errors import TemplateError
from llmassert.pipeline.blocking import candidate_pairs, cosine_matrix, embed_all
from llmassert.pipeline.cascade import CascadeSpec
from llmassert.pipeline.context import OpContext, PipelineEnv
from llmassert.pipeline.operators.base import (
    UNKNOWN,
    CallEstimate,
    Issue,
    JoinOperator,
    LLMOperationSpec,
    Outcome,
    Row,
    StrictModel,
    register,
)
from llmassert.pipeline.operators.common import OneStep
from llmassert.pipeline.operators.resolve import (
    COMPARE_BATCH,
    MATCH_SCHEMA,
    PAIR_NAMES,
    PairConditions,
    PairJudge,
    cascade_matches,
)
from llmassert.pipeline.templates import KeySet
from llmassert.pipeline.validation import SafeExpr


class SideKeys(StrictModel):
    left: list[str] | None = None
    right: list[str] | None = None


class SideLimits(StrictModel):
    left: int | None = Field(default=None, ge=1)
    right: int | None = Field(default=None, ge=1)


class EquijoinSpec(LLMOperationSpec):
    """``type: equijoin``."""

    type: Literal["equijoin"] = "equijoin"
    comparison_prompt: str = Field(description="Jinja2 over left and right: do they match?")
    comparison_model: str | None = None
    embedding_model: str | None = None
    blocking_keys: SideKeys | None = Field(
        None, description="Keys embedded per side (default: all keys)."
    )
    blocking_threshold: float | None = Field(None, ge=0, le=1)
    blocking_conditions: PairConditions = Field(
        None, description="Expressions over left and right; any true makes a candidate pair."
    )
    blocking_target_recall: float | None = Field(
        None, ge=0, le=1, description="DocETL's threshold tuning (accepted, not used)."
    )
    limits: SideLimits | None = Field(None, description="Most matches per left / right row.")
    limit_comparisons: int | None = Field(None, ge=1)
    compare_batch_size: int | None = Field(None, ge=1)
    embedding_batch_size: int | None = Field(None, ge=1)
    cascade: CascadeSpec | None = Field(
        None, description="DocETL's model cascade over the candidate pairs (default: precision)."
    )

    @model_validator(mode="after")
    def _join_keys(self) -> EquijoinSpec:
        for key in ("prompt", "output", "gleaning", "assertions"):
            if getattr(self, key) is not None:
                raise ValueError(f"equijoin has no {key} (it only asks comparison_prompt)")
        return self


@register(EquijoinSpec)
class EquijoinOperator(OneStep[EquijoinSpec], JoinOperator[EquijoinSpec]):
    """Pairs of (left, right) rows the model says match, merged into one row each."""

    prompt_field = "comparison_prompt"

    @classmethod
    def step_schema(cls, spec: EquijoinSpec) -> dict[str, Any]:
        return MATCH_SCHEMA

    def __init__(self, spec: EquijoinSpec, env: PipelineEnv) -> None:
        super().__init__(spec, env)
        self.judge = PairJudge(
            self.step,
            self.step.prompt,
            spec.comparison_model or self.step.model,
            ("left", "right"),
            skip_on_error=spec.skip_on_error,
        )
        self.conditions = [SafeExpr(c, PAIR_NAMES) for c in spec.blocking_conditions or []]

    def output_keys(self, keys: KeySet) -> KeySet:
        self.step.prompt.check({"left": keys, "right": keys})
        # Keys on both sides are renamed <key>_left / <key>_right: only the data knows which.
        return KeySet(keys.keys, open=True)

    def estimate_calls(self, rows: list[Row]) -> CallEstimate:
        return CallEstimate(
            calls=len(rows),
            rows=[{k: UNKNOWN for k in r} for r in rows],
            note="equijoin: up to one comparison per candidate pair",
            upper_bound=True,
        )

    # -- running -------------------------------------------------------------------------------

    async def _candidates(
        self, left: list[Row], right: list[Row], ctx: OpContext
    ) -> list[tuple[int, int]]:
        spec = self.spec
        sim = None
        if spec.blocking_threshold is not None:
            keys = spec.blocking_keys or SideKeys()

            def texts(rows: list[Row], chosen: list[str] | None) -> list[str]:
                return [" ".join(str(r[k]) for k in (chosen or list(r)) if k in r) for r in rows]

            model, batch = spec.embedding_model, spec.embedding_batch_size or 1000
            lv = await embed_all(ctx, texts(left, keys.left), model, batch=batch, where=self.name)
            rv = await embed_all(ctx, texts(right, keys.right), model, batch=batch, where=self.name)
            sim = cosine_matrix(lv, rv)
        elif not self.conditions and len(left) * len(right) > 1000:
            ctx.warn(f"no blocking: comparing all {len(left) * len(right)} pairs")
        every = ((i, j) for i in range(len(left)) for j in range(len(right)))
        pairs = candidate_pairs(every, left, right, self.conditions, sim, spec.blocking_threshold)
        return pairs[: spec.limit_comparisons] if spec.limit_comparisons else pairs

    def _readable(
        self, left: list[Row], right: list[Row]
    ) -> tuple[list[Row], list[Row], list[Issue]]:
        """Rows the comparison prompt can read; the others become errors (not a crash)."""
        prompt, errors = self.step.prompt, []

        def ok(a: Row, b: Row) -> bool:
            try:
                prompt.render(left=a, right=b)
            except TemplateError:
                return False
            return True

        # A readable pair to test each row against (looking at the first rows is enough).
        first = next(((a, b) for a in left[:20] for b in right[:20] if ok(a, b)), None)
        if first is None:
            if left and right:
                prompt.render(left=left[0], right=right[0])  # raises the TemplateError
            return left, right, []
        kept_l = [a for a in left if ok(a, first[1])]
        kept_r = [b for b in right if ok(first[0], b)]
        for side, rows, kept in (("left", left, kept_l), ("right", right, kept_r)):
            ids = {id(k) for k in kept}
            errors += [
                Issue(self.name, r, f"comparison_prompt cannot read this {side} row")
                for r in rows
                if id(r) not in ids
            ]
        return kept_l, kept_r, errors

    async def run_join(self, left: list[Row], right: list[Row], ctx: OpContext) -> Outcome:
        left, right, errors = self._readable(left, right)
        pairs = await self._candidates(left, right, ctx)
        caps = self.spec.limits or SideLimits()
        # With limits, later waves skip rows already at their limit; without, one wave.
        wave = self.spec.compare_batch_size or (
            COMPARE_BATCH if caps.left or caps.right else max(1, len(pairs))
        )
        hits_l: dict[int, int] = {}
        hits_r: dict[int, int] = {}
        matches: list[tuple[int, int]] = []
        counts = {
            "candidate_pairs": len(pairs),
            "comparisons": 0,
            "skipped_at_limit": 0,
            "comparison_errors": 0,
        }

        def full(i: int, j: int) -> bool:
            """True if the left or the right row already has its most matches."""
            return bool(caps.left and hits_l.get(i, 0) >= caps.left) or bool(
                caps.right and hits_r.get(j, 0) >= caps.right
            )

        def match(i: int, j: int) -> None:
            if not full(i, j):
                matches.append((i, j))
                hits_l[i] = hits_l.get(i, 0) + 1
                hits_r[j] = hits_r.get(j, 0) + 1

        if self.spec.cascade is not None:
            counts |= await cascade_matches(
                self.judge, ctx, self.spec.cascade, self.name, pairs, left, right, match
            )
            pairs = []
        ctx.progress.add_total(self.name, len(pairs))
        pending = pairs
        while pending:
            batch: list[tuple[int, int]] = []
            later: list[tuple[int, int]] = []
            for i, j in pending:
                if full(i, j):
                    counts["skipped_at_limit"] += 1
                    ctx.advance()
                else:
                    (batch if len(batch) < wave else later).append((i, j))
            results = await asyncio.gather(*(self.judge(ctx, left[i], right[j]) for i, j in batch))
            for (i, j), verdict in zip(batch, results, strict=True):
                counts["comparisons"] += 1
                counts["comparison_errors"] += verdict is None
                if verdict:
                    match(i, j)
            ctx.advance(len(batch))
            pending = later
        out = self._emit(left, right, matches)
        out.errors = errors
        out.filtered = (len(left) - len(hits_l)) + (len(right) - len(hits_r))
        out.meta = {k: v for k, v in counts.items() if v or k == "comparisons"}
        return out

    def _emit(self, left: list[Row], right: list[Row], matches: list[tuple[int, int]]) -> Outcome:
        out = Outcome()
        for i, j in sorted(matches):
            joined = join_rows(left[i], right[j])
            failed = [
                v.source
                for v in self.step.validators
                if not v.holds(output=joined, input=joined)[0]
            ]
            if failed:
                out.quarantined.append(
                    Issue(self.name, joined, "failed checks: " + "; ".join(failed))
                )
            else:
                out.rows.append(joined)
        return out


def join_rows(left: Row, right: Row) -> dict[str, Any]:
    """One row from a matching pair; keys on both sides become ``<key>_left`` / ``_right``."""
    joined = {(f"{k}_left" if k in right else k): v for k, v in left.items()}
    joined.update({(f"{k}_right" if k in left else k): v for k, v in right.items()})
    return joined
