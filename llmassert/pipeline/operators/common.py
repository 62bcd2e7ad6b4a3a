"""Shared machinery of LLM operations: one call with its checks, gleaning and on-fail policy.

An operator builds one :class:`LLMStep` per prompt in ``__init__`` (templates compiled, output
schema parsed, ``validate`` expressions allowlisted, assertion module loaded: every spec error
surfaces before any LLM call), then per unit::

    text = step.prompt.render(input=row)                     # or inputs=..., output=...
    result = await step.run(ctx, text, example=row, variables={"input": row})
    return step.finish(ctx, result, row, lambda out: Outcome(rows=[{**row, **out}]))

``run`` makes the call and then, in order: type-checks the output against the schema, runs
gleaning rounds (judge → refine, the generator sees its previous answer and the feedback),
evaluates ``validate`` expressions and ``assertions``; failed checks are fed back into a re-ask
(``num_retries_on_validate_failure`` / ``assertions.max_retries``).  Every request of a unit
gets its own cache salt, so retries and gleaning rounds never collide in the cache.  ``finish``
applies the policy to what still fails: quarantine (default), flag, or raise — never a silent drop.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, get_args

from pydantic import ValidationError

from llmassert.enforce import Decision, Enforcer, Failure, aenforce, feedback, parse_policy
from llmassert.errors import (
    AssertionsFailedError,
    BudgetExceededError,
    CassetteMissError,
    ConfigError,
    LLMError,
    OperationError,
    SpecError,
    TemplateError,
)
from llmassert.llm.client import LLMRequest, LLMResult
from llmassert.pipeline.operators.base import (
    FLAG_KEY,
    GlobalOperator,
    Issue,
    LLMOperationSpec,
    Operator,
    OpStats,
    Outcome,
    Row,
    StepOnFail,
    row_digest,
)
from llmassert.pipeline.schema_types import check_value, object_schema
from llmassert.pipeline.templates import Prompt
from llmassert.pipeline.validation import SafeExpr, UnsafeExpressionError

if TYPE_CHECKING:
    from llmassert.pipeline.context import OpContext, PipelineEnv

JUDGE_SCHEMA: dict[str, Any] = object_schema(
    {
        "should_refine": {"type": "boolean"},
        "improvements": {"type": "string"},
    }
)
_REQUEST_KEYS = {"temperature", "max_tokens"}


STEP_POLICIES = get_args(StepOnFail)


def failure_json(failure: Failure) -> dict[str, Any]:
    """A failure as quarantine files, flagged rows and journals store it."""
    return {"kind": failure.source, "check": failure.name, "message": failure.message}


def failure_from_json(d: dict[str, Any]) -> Failure:
    return Failure(d["check"], message=d.get("message", ""), source=d["kind"])


# Failures of `severity: warn` assertions, kept on the output row (never enforced).
WARN_KEY = "_llmassert_warnings"


LLMSpecT = TypeVar("LLMSpecT", bound=LLMOperationSpec)


@dataclass
class StepResult:
    """The last answer of a unit, what it still fails, or the error that stopped it."""

    output: dict[str, Any] | None = None
    failures: list[Failure] = field(default_factory=list)
    error: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class LLMStep:
    """One LLM prompt of an operation, with its schema, checks, gleaning and policy."""

    def __init__(
        self,
        spec: LLMOperationSpec,
        env: PipelineEnv,
        *,
        prompt_field: str = "prompt",
        schema: dict[str, Any] | None = None,
        model_field: str | None = None,
    ) -> None:
        self.spec = spec
        self.env = env
        self.op = spec.name
        self.op_type = op_type = spec.type
        self.where = env.where(spec.name)
        source: str | None = getattr(spec, prompt_field)  # the spec field this step asks
        if source is None:
            raise self._spec_error(f"{op_type} needs a `{prompt_field}`", prompt_field)
        self.prompt = Prompt(source, where=f"{self.where}.{prompt_field}", file=env.spec_file)
        if schema is None:
            if spec.output is None:
                raise self._spec_error("needs `output.schema`", "output")
            schema = spec.output.json_schema()
        self.schema = schema
        default_model = env.model_for(spec)  # no model at all: a SpecError, even if overridden
        override: str | None = getattr(spec, model_field) if model_field else None
        self.model = override or default_model
        # Tool names must match ^[A-Za-z0-9_-]{1,64}$; operation names are freer.
        self.schema_name = re.sub(r"[^A-Za-z0-9_-]", "_", self.op)[:64] or "output"
        self.system = env.system_message(op_type, spec.system_prompt)
        self.use_cache = env.use_cache(spec)
        kwargs = dict(spec.litellm_completion_kwargs)
        request_args = {k: kwargs.pop(k) for k in list(kwargs) if k in _REQUEST_KEYS}
        try:
            # Checked once here: requests are then built unvalidated (hot path, every call).
            probe = LLMRequest(model=self.model, messages=(), **request_args)
        except ValidationError as e:
            first = e.errors()[0]
            raise self._spec_error(
                f"{first['msg']}", "litellm_completion_kwargs." + str(first["loc"][0])
            ) from None
        self.request_args = {k: getattr(probe, k) for k in request_args}
        self.params = kwargs
        self._requests: dict[tuple[str, int, str | None], tuple[dict[str, Any], LLMRequest]] = {}
        self.validators = [
            self._compile(expr, f"validate[{i}]") for i, expr in enumerate(spec.validate_ or [])
        ]
        g = spec.gleaning
        self.judge_prompt = (
            Prompt(
                g.validation_prompt,
                where=f"{self.where}.gleaning.validation_prompt",
                file=env.spec_file,
            )
            if g
            else None
        )
        self.glean_if = self._compile(g.if_, "gleaning.if", ("output",)) if g and g.if_ else None
        self.judge_model = (g.model or self.model) if g else self.model
        self.assertions: Any = None
        if spec.assertions is not None:
            self.assertions = self._load_assertions()
        a = spec.assertions
        # The spec model has checked the spelling (StepOnFail).
        self.policy = parse_policy(
            a.on_fail if a else "quarantine",
            max_reasks=a.max_retries if a else 0,
            max_repairs=spec.num_retries_on_validate_failure,
            exhausted="quarantine",
            allowed=STEP_POLICIES,
        )
        # Severity is the enforcement core's: these assertions' failures never block.
        self.warn: frozenset[str] = (
            self.assertions.warn_names if self.assertions is not None else frozenset()
        )

    # -- construction helpers ------------------------------------------------------------------

    def _spec_error(self, message: str, fieldname: str) -> SpecError:
        return SpecError(message, file=self.env.spec_file, field=f"{self.where}.{fieldname}")

    def call_failed(self, what: str, e: Exception, hint: str) -> OperationError:
        """The run-stopping error for a failed call of this step (``hint``: how to go on)."""
        return OperationError(
            f"{what} failed: {e} ({hint})", file=self.env.spec_file, field=self.where
        )

    def _compile(
        self, expr: str, fieldname: str, variables: tuple[str, ...] = ("output", "input")
    ) -> SafeExpr:
        try:
            return SafeExpr(expr, variables)
        except UnsafeExpressionError as e:
            raise self._spec_error(f"{e}: {expr!r}", fieldname) from None

    def _load_assertions(self) -> Any:
        assert self.spec.assertions is not None
        path = self.env.path(self.spec.assertions.module)
        if not path.exists():
            raise self._spec_error(f"assertion module not found: {path}", "assertions.module")
        # Imported here: the assertion loader pulls in the sandbox (~0.2 s of start-up, its
        # allowlist tables) that a pipeline without ``assertions:`` should not pay.
        from llmassert.assertions import AssertionSet

        checks = AssertionSet.load(path)
        try:
            return checks.with_severity(self.spec.assertions.severity)
        except ConfigError as e:
            raise self._spec_error(e.message, "assertions.severity") from None

    @property
    def judged(self) -> bool:
        g = self.spec.gleaning
        return self.judge_prompt is not None and g is not None and g.num_rounds > 0

    def max_calls_per_unit(self) -> int:
        """Upper bound of requests per unit, for --dry-run."""
        g = self.spec.gleaning
        glean = 2 * g.num_rounds if g else 0
        return (1 + glean) * (1 + self.policy.max_repairs + self.policy.max_reasks)

    # -- running -------------------------------------------------------------------------------

    def messages(
        self, prompt_text: str, attachments: tuple[dict[str, Any], ...] = ()
    ) -> list[dict[str, Any]]:
        """System message and the prompt; ``attachments`` (content parts such as a PDF file
        part) go before the prompt's text in the same user message."""
        msgs: list[dict[str, Any]] = []
        if self.system:
            msgs.append({"role": "system", "content": self.system})
        content: Any = (
            [*attachments, {"type": "text", "text": prompt_text}] if attachments else prompt_text
        )
        msgs.append({"role": "user", "content": content})
        return msgs

    def _request(self, model: str, schema: dict[str, Any], tag: str | None) -> LLMRequest:
        """A validated request of this step for ``model`` and ``schema``, built once: each call
        copies it with its messages and salt (~10 µs instead of ~20 µs of validation), and
        keeps the schema object the client's compiled-validator cache knows."""
        key = (model, id(schema), tag)
        found = self._requests.get(key)
        if found is not None and found[0] is schema:
            return found[1]
        if len(self._requests) >= 64:  # callers passing a new schema per call
            self._requests.clear()
        req = LLMRequest(
            model=model,
            messages=(),
            output_schema=schema,
            schema_name=self.schema_name,
            tag=tag or self.op,
            use_cache=self.use_cache,
            params=self.params,
            **self.request_args,
        )
        self._requests[key] = (schema, req)
        return req

    async def request(
        self,
        ctx: OpContext,
        messages: list[dict[str, Any]],
        *,
        salt: str,
        schema: dict[str, Any] | None = None,
        model: str | None = None,
        tag: str | None = None,
        stats: OpStats | None = None,
    ) -> LLMResult:
        """One request (retries and caching inside the LLM layer), counted in ``stats`` (a
        unit's counters, see :meth:`run`), else in the operation's."""
        counted = stats if stats is not None else ctx.stats
        primary = model or self.model
        models = [primary, *(m for m in self.env.fallback_models if m != primary)]
        for i, chosen in enumerate(models):
            req = self._request(chosen, schema if schema is not None else self.schema, tag)
            req = req.model_copy(update={"messages": tuple(messages), "salt": salt})
            try:
                return await ctx.complete(req, counted)
            except (CassetteMissError, BudgetExceededError):
                raise
            except LLMError:
                # DocETL's fallback_models: the next model gets the same request.
                if i == len(models) - 1:
                    raise
                counted.fallbacks += 1
        raise AssertionError("unreachable")

    async def run(
        self,
        ctx: OpContext,
        prompt_text: str,
        *,
        example: Row,
        variables: dict[str, Any],
        unit: str = "",
        first_answer: dict[str, Any] | None = None,
        check: bool = True,
        attachments: tuple[dict[str, Any], ...] = (),
    ) -> StepResult:
        """Generate, type-check, glean, check, re-ask on failure.  See the module docstring.

        ``variables`` are what the gleaning prompt may read besides ``output``; ``unit`` makes
        cache salts unique per sub-unit (fold batch, ...); ``first_answer`` skips the first
        generation (batched map answers are checked and gleaned per row); ``check=False``
        skips gleaning and checks (intermediate fold steps: only the final answer is checked);
        ``attachments`` are content parts sent with the prompt (a PDF: ``pdf_url_key``).

        The unit's calls, gleaning rounds and check re-asks are counted once, in its own
        :class:`OpStats`: its lineage (``StepResult.meta``) is read from it, and it is added
        to the operation's counters when the run ends, however it ends.
        """
        base = self.messages(prompt_text, attachments)
        unit_stats = OpStats()
        try:
            return await self._run(
                ctx, base, unit_stats, example, variables, unit, first_answer, check
            )
        finally:
            ctx.stats.add(unit_stats)

    async def _run(
        self,
        ctx: OpContext,
        base: list[dict[str, Any]],
        stats: OpStats,
        example: Row,
        variables: dict[str, Any],
        unit: str,
        first_answer: dict[str, Any] | None,
        check: bool,
    ) -> StepResult:
        enforcer = Enforcer(self.policy, self.warn)
        current: dict[str, Any] = {}  # the latest answer (gleaning may replace it)
        Answer = tuple[dict[str, Any], list[Failure]]

        async def ask(reask: Decision | None) -> Answer:
            if reask is None and first_answer is not None:
                return self._typecheck(first_answer)
            messages = base
            if reask is not None:
                if reask.style == "refine":
                    stats.gleaning_rounds += 1
                else:
                    stats.check_retries += 1
                messages = [
                    *base,
                    _assistant(current["output"]),
                    {"role": "user", "content": feedback.render(reask.failures, reask.style)},
                ]
            result = await self.request(
                ctx, messages, salt=f"{unit}a{enforcer.attempt}", stats=stats
            )
            return self._typecheck(result.data)

        async def checked(answer: Answer) -> list[Failure]:
            output, failures = answer
            current["output"] = output
            if not check or failures:
                return failures
            if self.judged:
                output = current["output"] = await self._glean(
                    ctx, base, output, variables, unit, enforcer.attempt, stats
                )
            return await self._check(output, example)

        try:
            _, decision = await aenforce(enforcer, ask, checked)
            out_meta = _lineage(stats)
            if decision.warnings:
                out_meta["warnings"] = [failure_json(f) for f in decision.warnings]
            return StepResult(
                output=current["output"], failures=list(decision.failures), meta=out_meta
            )
        except (BudgetExceededError, CassetteMissError):
            raise
        except LLMError as e:
            if self.spec.skip_on_error:
                return StepResult(error=f"{type(e).__name__}: {e}", meta=_lineage(stats))
            hint = "set skip_on_error: true to send such rows to the errors file and go on"
            raise self.call_failed("LLM call", e, hint) from e

    def _typecheck(self, data: Any) -> tuple[dict[str, Any], list[Failure]]:
        value, problems = check_value(self.schema, data)
        if not isinstance(value, dict):
            return {"_raw": value}, [
                Failure("output", message="; ".join(problems), source="schema")
            ]
        return value, [
            Failure(p.split(":", 1)[0], message=p.split(":", 1)[-1].strip(), source="schema")
            for p in problems
        ]

    async def _glean(
        self,
        ctx: OpContext,
        base: list[dict[str, Any]],
        output: dict[str, Any],
        variables: dict[str, Any],
        unit: str,
        attempt: int,
        stats: OpStats,
    ) -> dict[str, Any]:
        assert self.judge_prompt is not None and self.spec.gleaning is not None
        for rnd in range(self.spec.gleaning.num_rounds):
            if self.glean_if is not None:
                ok, _ = self.glean_if.holds(output=output)
                if not ok:
                    break
            criteria = self.judge_prompt.render(**variables, output=output)
            judge_msgs = [
                *base,
                _assistant(output),
                {"role": "user", "content": feedback.judge(criteria)},
            ]
            verdict = await self.request(
                ctx,
                judge_msgs,
                salt=f"{unit}a{attempt}j{rnd}",
                schema=JUDGE_SCHEMA,
                model=self.judge_model,
                tag=f"{self.op}:judge",
                stats=stats,
            )
            data = verdict.data if isinstance(verdict.data, dict) else {}
            if not data.get("should_refine"):
                break
            refine_msgs = [
                *base,
                _assistant(output),
                {
                    "role": "user",
                    "content": feedback.judge_refine(str(data.get("improvements", ""))),
                },
            ]
            refined = await self.request(
                ctx, refine_msgs, salt=f"{unit}a{attempt}g{rnd}", stats=stats
            )
            stats.gleaning_rounds += 1
            new_output, problems = self._typecheck(refined.data)
            if problems:
                break  # keep the last well-typed answer
            output = new_output
        return output

    async def _check(self, output: dict[str, Any], example: Row) -> list[Failure]:
        """Every failure of this answer; the enforcement core sets those of ``warn`` assertions
        aside (``Decision.warnings``: kept on the row, never re-asked)."""
        failures: list[Failure] = []
        # DocETL: a map's (and filter's) `output` holds the input row's fields too.
        seen = {**example, **output} if self.op_type in ("map", "filter") else output
        for v in self.validators:
            ok, why = v.holds(output=seen, input=example)
            if not ok:
                failures.append(
                    Failure(v.source, message=why or "does not hold", source="validate")
                )
        if self.assertions is not None:
            response = self._response_text(output)
            check = await self.assertions.acheck(response, example)
            if not check.passed:
                # The pipeline's records carry one message: the reason, else the criterion.
                failures.extend(
                    replace(f, message=f.message or f.criterion) for f in check.failures
                )
        return failures

    def _response_text(self, output: dict[str, Any]) -> str:
        a = self.spec.assertions
        key = a.response_key if a else None
        if key is None:
            strings = [
                k
                for k, s in self.schema.get("properties", {}).items()
                if s.get("type") == "string" and "enum" not in s
            ]
            key = strings[0] if len(strings) == 1 else None
        if key is not None and key in output:
            value = output[key]
            return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return json.dumps(output, ensure_ascii=False)

    def finish(
        self,
        ctx: OpContext,
        result: StepResult,
        row: Any,
        make: Callable[[dict[str, Any]], Outcome],
    ) -> Outcome:
        """Turn a :class:`StepResult` into the unit's Outcome under the on-fail policy."""
        if result.error is not None:
            return Outcome(errors=[Issue(self.op, row, result.error)], meta=result.meta)
        assert result.output is not None
        warned = result.meta.get("warnings")
        if not result.failures:
            out = make(result.output)
            if warned:
                out.rows = [{**r, WARN_KEY: warned} for r in out.rows]
            out.meta = {**result.meta, **out.meta}
            return out
        policy = self.policy.action
        failures = [failure_json(f) for f in result.failures]
        checks = "; ".join(f.name for f in result.failures)
        if policy == "flag":
            out = make(result.output)
            extra = {WARN_KEY: warned} if warned else {}
            out.rows = [{**r, FLAG_KEY: failures, **extra} for r in out.rows]
            out.meta = {**result.meta, **out.meta}
            return out
        if policy == "raise":
            raise AssertionsFailedError(
                f"row {row_digest(row)[:12]} failed: {checks}",
                failures=failures,
                file=self.env.spec_file,
                field=self.where,
            )
        return Outcome(
            quarantined=[Issue(self.op, row, f"failed checks: {checks}", failures, result.output)],
            meta=result.meta,
        )


def render_or_error(
    ctx: OpContext, step: LLMStep, row: Any, **variables: Any
) -> tuple[str | None, Outcome | None]:
    """Render a prompt; a row that lacks a key becomes an errors-file entry, not a crash."""
    try:
        return step.prompt.render(**variables), None
    except TemplateError as e:
        return None, Outcome(errors=[Issue(step.op, row, e.message)])


def _assistant(output: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": json.dumps(output, ensure_ascii=False)}


# A unit's counters its lineage entry shows (when non-zero).
LINEAGE_COUNTS = ("calls", "gleaning_rounds", "check_retries")


def _lineage(stats: OpStats) -> dict[str, Any]:
    return {k: n for k in LINEAGE_COUNTS if (n := getattr(stats, k))}


async def journaled(ctx: OpContext, key: str, factory: Callable[[], Awaitable[Outcome]]) -> Outcome:
    """A unit's Outcome inside a whole-input operator, journaled unless it errored.

    Whole-input operators (filter ``cascade``, map ``calibrate``, cluster ...) run many units in
    one ``run``; each finished unit is journaled here so a resumed run does not call the LLM for
    it again, while an errored one is tried again (as the executor does for row operators).
    """

    async def make() -> dict[str, Any]:
        return (await factory()).to_json()

    data = await ctx.checkpointed(key, make, keep=lambda d: not d.get("errors"))
    return Outcome.from_json(data)


class OneStep(Operator[LLMSpecT], Generic[LLMSpecT]):
    """Base of an operator whose calls go through one :class:`LLMStep` (``self.step``).

    The step asks the spec field ``prompt_field``; ``model_field`` names the spec field that
    overrides the operation's model; :meth:`step_schema` is the answer's schema (default: the
    spec's ``output``).  Combined with the operator's kind: :class:`PromptOperator` (global),
    ``class EquijoinOperator(OneStep[EquijoinSpec], JoinOperator[EquijoinSpec])``.
    """

    uses_llm = True
    prompt_field: ClassVar[str] = "prompt"
    model_field: ClassVar[str | None] = None

    def __init__(self, spec: LLMSpecT, env: PipelineEnv) -> None:
        super().__init__(spec, env)
        self.step = LLMStep(
            spec,
            env,
            prompt_field=self.prompt_field,
            schema=self.step_schema(spec),
            model_field=self.model_field,
        )

    @classmethod
    def step_schema(cls, spec: LLMSpecT) -> dict[str, Any] | None:
        return None


class PromptOperator(OneStep[LLMSpecT], GlobalOperator[LLMSpecT]):
    """A global operation whose calls go through one :class:`LLMStep` (see :class:`OneStep`)."""
