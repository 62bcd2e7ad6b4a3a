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
import hashlib
from typing import Any, Literal

from pydantic import Field, model_validator

from llmassert.errors import BudgetExceededError, CassetteMissError, LLMError
from llmassert.llm.usage import is_embedding_model
from llmassert.pipeline.cascade import (
    Guarantee,
    decide,
    fit_logistic,
    logistic_scores,
    sample_indices,
)
from llmassert.pipeline.context import OpContext, PipelineEnv
from llmassert.pipeline.operators.base import (
    CallEstimate,
    GlobalOperator,
    Operator,
    Outcome,
    Row,
    StrictModel,
    register,
    row_digest,
)
from llmassert.pipeline.operators.common import journaled
from llmassert.pipeline.operators.map import MapOperator, MapSpec
from llmassert.pipeline.templates import KeySet

EMBED_BATCH = 256


class CascadeSpec(StrictModel):
    """DocETL's ``cascade:`` block."""

    proxy_model: str = Field(min_length=1, description="The cheap model that scores every row.")
    guarantee: Literal["accuracy", "precision", "recall", "precision+recall"] | None = Field(
        None, description="What the cascade guarantees (default for filter: recall)."
    )
    target: float = Field(gt=0, lt=1, description="Target value of the guarantee metric.")
    delta: float = Field(0.05, gt=0, lt=1, description="The guarantee holds w.p. 1 - delta.")
    label_budget: int = Field(400, gt=0, description="Oracle answers spent on the sample.")


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


@register
class FilterOperator(MapOperator):
    type_name = "filter"
    spec_model = FilterSpec  # type: ignore[assignment]

    @classmethod
    def build(cls, spec: Any, env: PipelineEnv) -> Operator[Any]:
        # DocETL runs a cascade instead of the plain path (calibration does not apply to it).
        if spec.cascade is not None:
            return CascadeFilterOperator(spec, env)
        return super().build(spec, env)

    @property
    def flag_field(self) -> str:
        return self.output_fields()[0]

    def output_keys(self, keys: KeySet) -> KeySet:
        return super().output_keys(keys).without([self.flag_field])

    def estimate_calls(self, rows: list[Row]) -> CallEstimate:
        est = super().estimate_calls(rows)
        note = "; ".join(filter(None, [est.note, "rows out ≤ rows in"]))
        rows = [{k: v for k, v in r.items() if k != self.flag_field} for r in est.rows]
        return CallEstimate(calls=est.calls, rows=rows, note=note, upper_bound=True)

    def make(self, row: Row, output: dict[str, Any]) -> Outcome:
        if output.get(self.flag_field) is True:
            rest = {k: v for k, v in output.items() if k != self.flag_field}
            return Outcome(rows=[{**row, **rest}])
        return Outcome(filtered=1)


class CascadeFilterOperator(GlobalOperator[FilterSpec]):
    """A filter with ``cascade``: needs its whole input (the sample and the thresholds)."""

    type_name = "filter"
    spec_model = FilterSpec

    def __init__(self, spec: FilterSpec, env: PipelineEnv) -> None:
        super().__init__(spec, env)
        assert spec.cascade is not None
        self.cascade = spec.cascade
        self.oracle = FilterOperator(spec, env)
        self.guarantee: Guarantee = self.cascade.guarantee or "recall"
        flag = self.oracle.flag_field
        self.proxy_schema: dict[str, Any] = {
            "type": "object",
            "properties": {
                flag: {"type": "boolean"},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            },
            "required": [flag, "confidence"],
            "additionalProperties": False,
        }
        # The sample is drawn from a seed of the operation's name: the same rows every run.
        self.seed = int(hashlib.sha256(spec.name.encode()).hexdigest()[:8], 16)

    @property
    def uses_llm(self) -> bool:
        return True

    def output_keys(self, keys: KeySet) -> KeySet:
        return self.oracle.output_keys(keys)

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
            text, failed, _ = await self.oracle.render_row(self.oracle._drop(row), ctx)
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
        n = len(rows)
        budget = self.cascade.label_budget
        oracle: dict[int, Outcome] = {}
        fixed: dict[int, bool] = {}
        if is_embedding_model(self.cascade.proxy_model):
            # DocETL: an embedding proxy is a logistic head fitted on an oracle-labeled slice
            # of the budget; the threshold search gets the rest, on other rows.
            train = sample_indices(n, min(max(budget // 2, 1), 200, n), self.seed)
            oracle.update(await self._ask_oracle(ctx, rows, train))
            fixed = _labels(oracle)
            if len(set(fixed.values())) < 2:
                # One class only: no head can be fitted; every row goes to the oracle.
                rest = [i for i in range(n) if i not in oracle]
                oracle.update(await self._ask_oracle(ctx, rows, rest))
                return self._assemble(
                    rows, oracle, ["escalate"] * n, [None] * n, {}, n - len(train)
                )
            vectors = await self._embed(ctx, rows)
            labeled = sorted(fixed)
            weights = fit_logistic([vectors[i] for i in labeled], [fixed[i] for i in labeled])
            scores: list[float | None] = list(logistic_scores(vectors, weights))
            others = [i for i in range(n) if i not in oracle]
            picks = sample_indices(len(others), max(budget - len(train), 10), self.seed + 1)
            sample = [others[j] for j in picks]
        else:
            scores = list(
                await asyncio.gather(*(self._proxy(ctx, i, r) for i, r in enumerate(rows)))
            )
            sample = sample_indices(n, budget, self.seed)
        oracle.update(await self._ask_oracle(ctx, rows, sample))
        # A sampled row whose oracle answer failed its checks (or errored) has no label: it
        # leaves the sample and goes to the quarantine / errors file.
        labels = {i: v for i, v in _labels(oracle).items() if i not in fixed}
        plan = decide(
            scores, labels, self.guarantee, self.cascade.target, self.cascade.delta, fixed
        )
        escalated = [i for i, d in enumerate(plan.decisions) if d == "escalate" and i not in oracle]
        oracle.update(await self._ask_oracle(ctx, rows, escalated))
        return self._assemble(rows, oracle, plan.decisions, scores, plan.thresholds, len(escalated))

    async def _ask_oracle(
        self, ctx: OpContext, rows: list[Row], which: list[int]
    ) -> dict[int, Outcome]:
        answers = await asyncio.gather(*(self._oracle(ctx, i, rows[i]) for i in which))
        return dict(zip(which, answers, strict=True))

    async def _embed(self, ctx: OpContext, rows: list[Row]) -> list[list[float]]:
        """The embedding proxy's input: each row's rendered prompt."""
        texts = []
        for row in rows:
            text, _, _ = await self.oracle.render_row(self.oracle._drop(row), ctx)
            texts.append(text or " ")
        vectors: list[list[float]] = []
        for i in range(0, len(texts), EMBED_BATCH):
            vectors.extend(await ctx.embed(texts[i : i + EMBED_BATCH], self.cascade.proxy_model))
        return vectors

    def _assemble(
        self,
        rows: list[Row],
        oracle: dict[int, Outcome],
        decisions: list[Any],
        scores: list[float | None],
        thresholds: dict[str, float],
        escalated: int,
    ) -> Outcome:
        out = Outcome()
        for i, row in enumerate(rows):
            if i in oracle:
                out.extend(oracle[i])
            elif decisions[i] == "positive":
                out.rows.append(self.oracle._drop(row))
            else:
                out.filtered += 1
        out.meta = {
            "cascade": {
                "guarantee": self.guarantee,
                "target": self.cascade.target,
                "delta": self.cascade.delta,
                "proxy_model": self.cascade.proxy_model,
                "proxy_scored": sum(s is not None for s in scores),
                "oracle_calls": len(oracle),
                "oracle_escalated": escalated,
                "served_by_proxy": len(rows) - len(oracle),
                "thresholds": {k: _finite(v) for k, v in thresholds.items()},
            }
        }
        return out


def _labels(oracle: dict[int, Outcome]) -> dict[int, bool]:
    """The oracle's verdicts (kept or not) of the rows whose answer passed its checks."""
    return {i: bool(o.rows) for i, o in oracle.items() if not (o.quarantined or o.errors)}


def _finite(v: float) -> float | None:
    """Thresholds as JSON (±inf: none certified / keep everything → null)."""
    return v if v not in (float("inf"), float("-inf")) else None
