"""``resolve``: entity resolution — find rows that name the same entity and give them one value.

DocETL's operator, made cheaper and deterministic:

1. **Identity.**  Rows whose ``blocking_keys`` values are equal (case and surrounding space
   ignored) are the same entity without asking the model.  ``blocking_keys`` defaults to every
   key, as in DocETL.
2. **Blocking.**  Among the remaining distinct rows, a pair is a candidate when any
   ``blocking_conditions`` expression holds (safe expressions over ``input1``/``input2``, also
   spelled ``left``/``right``) or the cosine similarity of their embeddings (``blocking_keys``
   values joined, embedded through the LLM layer with ``embedding_model``) reaches
   ``blocking_threshold``.  With neither, every pair is a candidate.  Candidates are taken most
   similar first, so likely matches merge early.
3. **Comparison.**  Union-find over the rows.  Candidates are compared in waves of
   ``compare_batch_size`` (default 100) concurrent ``comparison_prompt`` calls (``{{ input1 }}``,
   ``{{ input2 }}``; the model answers ``is_match``).  A pair is skipped when its rows are
   already in one cluster, or when their two clusters were already compared and neither has
   changed since: comparisons only ever happen between current cluster roots.  Results are
   applied in candidate order, so the clusters do not depend on response timing.
4. **Resolution.**  One ``resolution_prompt`` call (``{{ inputs }}``) per cluster of two or more
   rows; every member gets the ``output.schema`` fields (with ``validate``, ``assertions`` and
   ``gleaning`` as in map) and ``_kv_pairs_preresolve_<name>`` keeps the values it replaced.
   A single row keeps its own values (an output key it lacks is taken from the most similarly
   named field the comparison prompt reads, as DocETL does).  The row count never changes.

Counts (candidate pairs, comparisons made and skipped, clusters) go to the operation's meta.
"""

from __future__ import annotations

import asyncio
import difflib
import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from llmassert.errors import (
    BudgetExceededError,
    CassetteMissError,
    LLMError,
    TemplateError,
)
from llmassert.llm.client import LLMRequest
from llmassert.llm.usage import is_embedding_model
from llmassert.pipeline.blocking import (
    candidate_pairs,
    cosine_matrix,
    embed_all,
    verdict_schema,
)
from llmassert.pipeline.cascade import CascadeSpec, run_binary, seed_of
from llmassert.pipeline.context import OpContext, PipelineEnv
from llmassert.pipeline.operators.base import (
    UNKNOWN,
    CallEstimate,
    Issue,
    LLMOperationSpec,
    Outcome,
    Row,
    StrictModel,
    register,
    row_digest,
)
from llmassert.pipeline.operators.common import LLMStep, PromptOperator, render_or_error
from llmassert.pipeline.schema_types import object_schema
from llmassert.pipeline.templates import KeySet, Prompt
from llmassert.pipeline.validation import SafeExpr, UnsafeExpressionError

MATCH_SCHEMA = verdict_schema("is_match")
PAIR_NAMES = ("input1", "input2", "left", "right")
# Comparisons per wave (DocETL's default).  Fixed, not tied to --max-concurrency: which pairs
# get compared must not depend on how many requests may run at once (caches, cassettes).
COMPARE_BATCH = 100


class InputSchema(StrictModel):
    """``input:`` keys passed to the resolution prompt (the rest of each row is hidden)."""

    schema_: dict[str, Any] = Field(alias="schema")


def check_pair_conditions(conditions: list[str] | None) -> list[str] | None:
    """Validate ``blocking_conditions`` (safe expressions over input1/input2) at spec load."""
    for i, expr in enumerate(conditions or []):
        try:
            SafeExpr(expr, PAIR_NAMES)
        except UnsafeExpressionError as e:
            raise ValueError(f"[{i}] {e}: {expr!r}") from None
    return conditions


# ``blocking_conditions`` of resolve and equijoin, checked when the spec loads.
PairConditions = Annotated[list[str] | None, AfterValidator(check_pair_conditions)]


class ResolveSpec(LLMOperationSpec):
    """``type: resolve``."""

    type: Literal["resolve"] = "resolve"
    comparison_prompt: str = Field(description="Jinja2 over input1 and input2: same entity?")
    resolution_prompt: str = Field(description="Jinja2 over inputs (one cluster's rows).")
    comparison_model: str | None = None
    resolution_model: str | None = None
    embedding_model: str | None = Field(
        None, description="Model for blocking_threshold (default: the pipeline's embedding model)."
    )
    blocking_keys: list[str] | None = Field(
        None,
        description="Keys compared for identity and embedded for blocking (default: all keys).",
    )
    blocking_threshold: float | None = Field(
        None, ge=0, le=1, description="Cosine similarity making a pair a candidate."
    )
    blocking_conditions: PairConditions = Field(
        None, description="Expressions over input1 and input2; any true makes a candidate."
    )
    input: InputSchema | None = None
    embedding_batch_size: int | None = Field(
        None, ge=1, description="Texts per embedding request (default 1000)."
    )
    compare_batch_size: int | None = Field(
        None, ge=1, description=f"Comparisons per wave (default {COMPARE_BATCH})."
    )
    limit_comparisons: int | None = Field(
        None,
        ge=1,
        description="Stop comparing after this many comparisons (most similar pairs first).",
    )
    cascade: CascadeSpec | None = Field(
        None, description="DocETL's model cascade over the candidate pairs (default: precision)."
    )
    blocking_target_recall: float | None = Field(
        None, ge=0, le=1, description="DocETL's threshold tuning (accepted, not used)."
    )

    @model_validator(mode="after")
    def _resolve_keys(self) -> ResolveSpec:
        if self.prompt is not None:
            raise ValueError("resolve uses comparison_prompt and resolution_prompt, not prompt")
        if self.output is None:
            raise ValueError("resolve needs output.schema (the resolved fields)")
        return self


# -- pure parts ----------------------------------------------------------------------------------


class UnionFind:
    """Clusters of row indices; the smallest index is a cluster's root (deterministic)."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.version = [0] * n  # bumped whenever a root's cluster grows

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> int:
        a, b = sorted((self.find(i), self.find(j)))
        if a != b:
            self.parent[b] = a
            self.version[a] += 1
        return a

    def clusters(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for i in range(len(self.parent)):
            out.setdefault(self.find(i), []).append(i)
        return out


def identity(row: Row, keys: Sequence[str]) -> str | None:
    """What makes two rows the same entity without asking: equal blocking-key values (case and
    spacing ignored).  None when a value is missing or empty: such rows are never equal."""
    values = [row.get(k) for k in keys]
    if any(v is None or v == "" for v in values):
        return None
    return json.dumps(
        [" ".join(v.split()).casefold() if isinstance(v, str) else v for v in values],
        sort_keys=True,
        default=str,
    )


class PairJudge:
    """The comparison prompt: one cached, checkpointed yes/no call per pair of rows.

    ``step`` supplies the operation's system message, cache policy and request parameters;
    ``names`` are the template variables the two rows are bound to.
    """

    def __init__(
        self,
        step: LLMStep,
        prompt: Prompt,
        model: str,
        names: tuple[str, str],
        *,
        skip_on_error: bool,
    ) -> None:
        self.step, self.prompt, self.model, self.names = step, prompt, model, names
        self.skip_on_error = skip_on_error

    async def __call__(self, ctx: OpContext, a: Row, b: Row) -> bool | None:
        """Is the pair a match?  None when the call failed and ``skip_on_error`` is set."""
        text = self.prompt.render(**{self.names[0]: a, self.names[1]: b})
        step = self.step
        request = LLMRequest(
            model=self.model,
            messages=tuple(step.messages(text)),
            output_schema=MATCH_SCHEMA,
            schema_name="compare",
            tag=f"{ctx.op_name}:compare",
            use_cache=step.use_cache,
            params=step.params,
            **step.request_args,
        )

        async def call() -> bool:
            result = await ctx.complete(request)
            return isinstance(result.data, dict) and result.data.get("is_match") is True

        return await self._guarded(ctx, f"cmp:{row_digest([a, b])}", call)

    async def score(self, ctx: OpContext, a: Row, b: Row, model: str) -> float | None:
        """A cascade proxy's P(match): its answer and stated confidence (None: it failed)."""
        text = self.prompt.render(**{self.names[0]: a, self.names[1]: b})
        step = self.step
        messages = (
            *step.messages(text),
            {"role": "user", "content": CONFIDENCE_ASK},
        )
        request = LLMRequest(
            model=model,
            messages=messages,
            output_schema=PROXY_MATCH_SCHEMA,
            schema_name="compare",
            tag=f"{ctx.op_name}:proxy",
            use_cache=step.use_cache,
            params=step.params,
            **step.request_args,
        )

        async def call() -> float | None:
            try:
                result = await ctx.complete(request)
            except (BudgetExceededError, CassetteMissError):
                raise
            except LLMError:
                return None  # no score: the pair is escalated to the oracle
            data = result.data if isinstance(result.data, dict) else {}
            match, conf = data.get("is_match"), data.get("confidence")
            if not isinstance(match, bool) or not isinstance(conf, int | float):
                return None
            conf = min(1.0, max(0.0, float(conf)))
            return conf if match else 1.0 - conf

        score: float | None = await ctx.checkpointed(f"proxy:{row_digest([a, b])}", call)
        return score

    def text(self, a: Row, b: Row) -> str:
        return self.prompt.render(**{self.names[0]: a, self.names[1]: b})

    async def _guarded(self, ctx: OpContext, key: str, call: Callable[[], Any]) -> bool | None:
        step = self.step
        try:
            match: bool = await ctx.checkpointed(key, call)
        except (BudgetExceededError, CassetteMissError):
            raise
        except LLMError as e:
            if self.skip_on_error:
                return None
            hint = "set skip_on_error: true to count failed comparisons as no match"
            raise step.call_failed("comparison call", e, hint) from e
        return match


CONFIDENCE_ASK = "Also give your confidence in that answer, from 0 to 1, as `confidence`."
PROXY_MATCH_SCHEMA: dict[str, Any] = object_schema(
    {
        "is_match": {"type": "boolean"},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    }
)


async def cascade_matches(
    judge: PairJudge,
    ctx: OpContext,
    spec: CascadeSpec,
    name: str,
    candidates: list[tuple[int, int]],
    first: list[Row],
    second: list[Row],
    on_match: Callable[[int, int], object],
) -> dict[str, Any]:
    """DocETL's resolve / equijoin cascade: every candidate pair gets a verdict from the proxy
    or, for the sampled and undecided pairs, from the comparison model (see pipeline/cascade.py;
    default guarantee: precision, so as not to merge or join what differs).

    ``candidates`` index ``first`` and ``second``; ``on_match(i, j)`` is called for each pair
    judged a match, in candidate order.  Returns the cascade's counters for the meta.
    """
    pairs = [(first[i], second[j]) for i, j in candidates]
    judged: dict[int, bool | None] = {}

    async def oracle(which: list[int]) -> dict[int, bool | None]:
        got = await asyncio.gather(*(judge(ctx, *pairs[k]) for k in which))
        judged.update(zip(which, got, strict=True))
        return dict(zip(which, got, strict=True))

    async def proxy(k: int) -> float | None:
        return await judge.score(ctx, *pairs[k], spec.proxy_model)

    async def embed() -> list[list[float]]:
        return await embed_all(ctx, [judge.text(a, b) for a, b in pairs], spec.proxy_model)

    guarantee = spec.guarantee or "precision"
    by_embedding = is_embedding_model(spec.proxy_model)
    run = await run_binary(
        len(pairs),
        guarantee=guarantee,
        target=spec.target,
        delta=spec.delta,
        label_budget=spec.label_budget,
        seed=seed_of(name),
        oracle=oracle,
        proxy=None if by_embedding else proxy,
        embed=embed if by_embedding else None,
    )
    for k, (i, j) in enumerate(candidates):
        if bool(judged[k]) if k in judged else run.proxy_verdicts[k]:
            on_match(i, j)
    meta = run.meta(guarantee, spec.target, spec.delta, spec.proxy_model)
    meta["comparison_errors"] = sum(1 for v in judged.values() if v is None)
    return {"cascade": meta}


# -- the operator --------------------------------------------------------------------------------


@register(ResolveSpec)
class ResolveOperator(PromptOperator[ResolveSpec]):
    """Clusters rows naming the same entity and gives each cluster one resolved value."""

    prompt_field = "resolution_prompt"
    model_field = "resolution_model"

    def __init__(self, spec: ResolveSpec, env: PipelineEnv) -> None:
        super().__init__(spec, env)
        self.compare_prompt = self.template(spec.comparison_prompt, "comparison_prompt")
        self.judge = PairJudge(
            self.step,
            self.compare_prompt,
            spec.comparison_model or env.model_for(spec),
            ("input1", "input2"),
            skip_on_error=spec.skip_on_error,
        )
        self.conditions = [SafeExpr(c, PAIR_NAMES) for c in spec.blocking_conditions or []]

    @property
    def kv_key(self) -> str:
        return f"_kv_pairs_preresolve_{self.name}"

    def output_fields(self) -> list[str]:
        return list(self.step.schema["properties"])

    # -- static checks -------------------------------------------------------------------------

    def output_keys(self, keys: KeySet) -> KeySet:
        spec = self.spec
        self.require_keys(keys, spec.blocking_keys or [], "blocking_keys")
        self.compare_prompt.check({"input1": keys, "input2": keys})
        seen = KeySet.of(spec.input.schema_, keys.open) if spec.input else keys
        self.step.prompt.check({"inputs": seen})
        if self.step.judge_prompt is not None:
            self.step.judge_prompt.check(
                {"inputs": seen, "output": KeySet.of(self.output_fields())}
            )
        return keys | (*self.output_fields(), self.kv_key)

    def estimate_calls(self, rows: list[Row]) -> CallEstimate:
        n = len(rows)
        known = all(v is not UNKNOWN for r in rows for v in r.values())
        if known and self.spec.blocking_threshold is None:
            reps = self._representatives(rows, self._blocking_keys(rows))[0]
            pairs = len(self._candidates([rows[i] for i in reps], None, None))
        else:
            pairs = n * (n - 1) // 2
        out = [{**r, **{f: UNKNOWN for f in self.output_fields()}} for r in rows]
        return CallEstimate(
            calls=pairs + n // 2,
            rows=out,
            note=f"at most {pairs} comparisons and {n // 2} resolutions",
        )

    # -- running -------------------------------------------------------------------------------

    def _candidates(
        self, rows: list[Row], sim: Callable[[int, int], float] | None, threshold: float | None
    ) -> list[tuple[int, int]]:
        """Pairs (i < j) worth comparing, most similar first (then in index order)."""
        every = ((i, j) for i in range(len(rows)) for j in range(i + 1, len(rows)))
        return candidate_pairs(every, rows, rows, self.conditions, sim, threshold)

    def _blocking_keys(self, rows: list[Row]) -> list[str]:
        if self.spec.blocking_keys:
            return self.spec.blocking_keys
        return list(dict.fromkeys(k for r in rows for k in r))

    @staticmethod
    def _representatives(rows: list[Row], keys: list[str]) -> tuple[list[int], list[int]]:
        """Index of the first row of each identity, and each row's representative."""
        first: dict[str, int] = {}
        rep = []
        for i, row in enumerate(rows):
            ident = identity(row, keys)
            rep.append(i if ident is None else first.setdefault(ident, i))
        return sorted(set(rep)), rep

    async def run(self, rows: list[Row], ctx: OpContext) -> Outcome:
        errors: list[Issue] = []
        kept: list[Row] = []
        for row in rows:  # a row the comparison prompt cannot read is an error, not a crash
            try:
                self.compare_prompt.render(input1=row, input2=row)
            except TemplateError as e:
                errors.append(Issue(self.name, row, e.message))
            else:
                kept.append(row)
        out = await self._run(kept, ctx) if kept else Outcome()
        out.errors += errors
        return out

    async def _run(self, rows: list[Row], ctx: OpContext) -> Outcome:
        n = len(rows)
        keys = self._blocking_keys(rows)
        reps, rep_of = self._representatives(rows, keys)
        uf = UnionFind(n)
        for i, r in enumerate(rep_of):
            uf.union(r, i)
        sim = None
        if self.spec.blocking_threshold is not None and len(reps) > 1:
            texts = [" ".join(str(rows[i][k]) for k in keys if k in rows[i]) for i in reps]
            vectors = await embed_all(
                ctx,
                texts,
                self.spec.embedding_model,
                batch=self.spec.embedding_batch_size or 1000,
                where=self.name,
            )
            sim = cosine_matrix(vectors, vectors)
        elif not self.conditions and len(reps) > 50:
            ctx.warn(
                f"no blocking_threshold or blocking_conditions: up to "
                f"{len(reps) * (len(reps) - 1) // 2} comparisons"
            )
        local = self._candidates([rows[i] for i in reps], sim, self.spec.blocking_threshold)
        pairs = [(reps[a], reps[b]) for a, b in local]
        meta = {
            "rows": n,
            "distinct": len(reps),
            "possible_pairs": n * (n - 1) // 2,
            "candidate_pairs": len(pairs),
        }
        if self.spec.cascade is not None:
            meta |= await cascade_matches(
                self.judge, ctx, self.spec.cascade, self.name, pairs, rows, rows, uf.union
            )
        else:
            meta |= await self._compare_all(rows, pairs, uf, ctx)
        out = await self._resolve_clusters(rows, uf, ctx)
        meta["clusters"] = len(uf.clusters())
        meta["resolved_clusters"] = sum(1 for c in uf.clusters().values() if len(c) > 1)
        out.meta = {**meta, **out.meta}
        return out

    async def _compare_all(
        self, rows: list[Row], pairs: list[tuple[int, int]], uf: UnionFind, ctx: OpContext
    ) -> dict[str, int]:
        wave_size = self.spec.compare_batch_size or COMPARE_BATCH
        limit = self.spec.limit_comparisons
        done: set[tuple[int, int, int, int]] = set()  # cluster pairs judged different
        counts = {
            "comparisons": 0,
            "skipped_same_cluster": 0,
            "skipped_already_compared": 0,
            "comparison_errors": 0,
            "not_compared_limit": 0,
        }
        ctx.progress.add_total(self.name, len(pairs))
        pending = pairs
        while pending:
            wave: list[tuple[int, int, tuple[int, int, int, int]]] = []
            later: list[tuple[int, int]] = []
            in_wave: set[tuple[int, int]] = set()
            for i, j in pending:
                a, b = sorted((uf.find(i), uf.find(j)))
                state = (a, uf.version[a], b, uf.version[b])
                if a == b or state in done:
                    counts["skipped_same_cluster" if a == b else "skipped_already_compared"] += 1
                    ctx.advance()
                elif limit is not None and counts["comparisons"] + len(wave) >= limit:
                    counts["not_compared_limit"] += 1
                    ctx.advance()
                elif (a, b) in in_wave or len(wave) >= wave_size:
                    later.append((i, j))
                else:
                    in_wave.add((a, b))
                    wave.append((i, j, state))
            results = await asyncio.gather(*(self.judge(ctx, rows[i], rows[j]) for i, j, _ in wave))
            for (i, j, state), match in zip(wave, results, strict=True):
                counts["comparisons"] += 1
                counts["comparison_errors"] += match is None
                if match:
                    uf.union(i, j)
                else:
                    done.add(state)
            ctx.advance(len(wave))
            pending = later
        if counts["comparison_errors"]:
            ctx.warn(
                f"{counts['comparison_errors']} comparisons failed and counted as no "
                "match (skip_on_error)"
            )
        return {k: v for k, v in counts.items() if v or k == "comparisons"}

    async def _resolve_clusters(self, rows: list[Row], uf: UnionFind, ctx: OpContext) -> Outcome:
        clusters = sorted(uf.clusters().values())
        groups = [c for c in clusters if len(c) > 1]
        results = await asyncio.gather(*(self._resolve(rows, c, ctx) for c in groups))
        placed = {c[0]: self._single(rows[c[0]]) for c in clusters if len(c) == 1}
        out = Outcome()
        for members, result in zip(groups, results, strict=True):
            if result.rows:
                placed.update(zip(members, result.rows, strict=True))
            out.quarantined += _per_row(result.quarantined, rows, members)
            out.errors += _per_row(result.errors, rows, members)
        out.rows = [placed[i] for i in sorted(placed)]
        return out

    def _resolved(self, row: Row, output: dict[str, Any]) -> Row:
        return {**row, self.kv_key: {k: row[k] for k in output if k in row}, **output}

    def _single(self, row: Row) -> Row:
        fields = self.compare_prompt.refs.keys.get("input1", set())
        output: dict[str, Any] = {}
        for key in self.output_fields():
            if key in row:
                output[key] = row[key]
            else:
                close = difflib.get_close_matches(key, sorted(fields & set(row)), n=1, cutoff=0)
                output[key] = row[close[0]] if close else None
        return self._resolved(row, output)

    async def _resolve(self, rows: list[Row], members: list[int], ctx: OpContext) -> Outcome:
        cluster = [rows[i] for i in members]
        shown = self.spec.input.schema_ if self.spec.input else None
        inputs = [{k: r[k] for k in shown if k in r} if shown else r for r in cluster]

        async def call() -> dict[str, Any]:
            text, failed = render_or_error(ctx, self.step, cluster, inputs=inputs)
            if failed is not None:
                return failed.to_json()
            assert text is not None
            result = await self.step.run(
                ctx, text, example={"inputs": inputs}, variables={"inputs": inputs}
            )
            outcome = self.step.finish(
                ctx,
                result,
                cluster,
                lambda output: Outcome(rows=[self._resolved(r, output) for r in cluster]),
            )
            return outcome.to_json()

        key = hashlib.sha256("|".join(row_digest(r) for r in cluster).encode()).hexdigest()[:24]
        ctx.progress.add_total(self.name, 1)
        outcome = Outcome.from_json(await ctx.checkpointed(f"res:{key}", call))
        ctx.advance()
        return outcome


def _per_row(issues: list[Issue], rows: list[Row], members: list[int]) -> list[Issue]:
    """A cluster's issue becomes one issue per member row, so every row is accounted for."""
    return [Issue(i.op, rows[m], i.reason, i.failures, i.output) for i in issues for m in members]
