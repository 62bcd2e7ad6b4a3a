"""Guards: check what an LLM-calling function returns and apply an on-fail policy.

::

    @guard("assertions/summary.py", on_fail="reask", max_reasks=2, prompt_name="summary")
    def summarize(text: str, word_count: int, feedback: str | None = None) -> str:
        ...  # call the model; when `feedback` is set, add it to the prompt

Policies (named as in Guardrails):

- ``exception`` (alias ``raise``): raise :class:`~llmassert.errors.AssertionsFailedError`
  carrying the failures.
- ``reask``: call the function again with the failures as feedback, at most ``max_reasks`` times,
  then raise like ``exception``.  Feedback reaches the function through its ``feedback``
  parameter if it has one, else by appending the previous answer and a user message with the
  feedback to its ``messages`` argument (the shape of every chat API).
- ``fix``: apply the module's ``fix_<name>(example, response) -> str`` for each failed assertion,
  re-check, and return the fixed response; raise when an assertion has no fix or the fix fails.
- ``filter``: return ``None`` instead of the failing response.
- ``noop``: return the response unchanged; only log.

Every check is counted and every failure appended to the failure log (see
:mod:`llmassert.hooks.failure_log`) and logged through :mod:`logging` (logger
``llmassert.hooks``).  The example the assertions see is, by default, the call's arguments by
name, defaults included; pass ``example_from`` (an argument name, or a callable taking the same
arguments) to choose it.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn, TypedDict, TypeVar, Unpack, cast, get_args

from llmassert.assertions.assertion_set import AssertionSet
from llmassert.assertions.results import CheckResult
from llmassert.enforce import Decision, Enforcer, Failure, aenforce, enforce, feedback, parse_policy
from llmassert.enforce.feedback import with_previous
from llmassert.errors import AssertionsFailedError, ConfigError
from llmassert.hooks.failure_log import FailureLog
from llmassert.hooks.response import extract_text, extract_usage, replace_text
from llmassert.llm.client import Usage

OnFail = Literal["exception", "raise", "reask", "fix", "filter", "noop"]
POLICIES: tuple[str, ...] = get_args(OnFail)
log = logging.getLogger("llmassert.hooks")
# A library stays silent unless the app configures logging; the failure log is the record.
log.addHandler(logging.NullHandler())
F = TypeVar("F", bound=Callable[..., Any])

# An attempt: given feedback (None on the first call) and the previous response text, call the
# model again and return its raw response.  Feedback names the attempt, so each re-ask is a
# distinct request (a cache or a deterministic model would otherwise repeat the failed answer).
Attempt = Callable[[str | None, str | None], Any]
AsyncAttempt = Callable[[str | None, str | None], Awaitable[Any]]


@dataclass
class GuardStats:
    """What a guard did; ``usage`` sums tokens/cost of every response it saw, re-asks included."""

    calls: int = 0
    attempts: int = 0
    reasks: int = 0
    passed: int = 0
    failed: int = 0
    fixed: int = 0
    filtered: int = 0
    raised: int = 0
    usage: Usage = field(default_factory=Usage)


class GuardOptions(TypedDict, total=False):
    """The keyword arguments of :class:`Guard` after the assertions, shared by every way in
    (``@guard``, :class:`~llmassert.hooks.litellm_hooks.LiteLLMGuard`, ``install``...)."""

    on_fail: OnFail
    max_reasks: int
    prompt_name: str | None
    prompt_version: str | int | None
    failure_log: FailureLog | str | Path | Literal[False] | None
    log_raw: bool
    severity: Mapping[str, str] | None


class Guard:
    """Checks and policy for :func:`guard` and the litellm integration.

    The decisions are :mod:`llmassert.enforce`'s; this class is its driver for app calls:
    turning responses into text, the failure log, fixes, and counting.
    """

    def __init__(
        self,
        assertions: AssertionSet | str | Path,
        *,
        on_fail: OnFail = "exception",
        max_reasks: int = 2,
        prompt_name: str | None = None,
        prompt_version: str | int | None = None,
        failure_log: FailureLog | str | Path | Literal[False] | None = None,
        log_raw: bool = False,
        severity: Mapping[str, str] | None = None,
    ) -> None:
        if max_reasks < 0:
            raise ConfigError("max_reasks must be >= 0", field="max_reasks")
        self.policy = parse_policy(
            on_fail, max_reasks=max_reasks, exhausted="raise", allowed=POLICIES
        )
        self.assertions = (
            assertions if isinstance(assertions, AssertionSet) else AssertionSet.load(assertions)
        )
        if severity:  # per-assertion overrides of the module's severities
            self.assertions = self.assertions.with_severity(severity)
        self.on_fail = "exception" if on_fail == "raise" else on_fail
        self.max_reasks = max_reasks
        self.prompt_name = prompt_name
        self.prompt_version = None if prompt_version is None else str(prompt_version)
        self.log_raw = log_raw
        self.failure_log: FailureLog | None
        if failure_log is False:
            self.failure_log = None
        elif isinstance(failure_log, FailureLog):
            self.failure_log = failure_log
        else:
            self.failure_log = FailureLog.for_path(failure_log)
        if self.policy.action == "fix":
            missing = [n for n in self.assertions.names if not self.assertions.has_fix(n)]
            if missing:
                log.info(
                    "on_fail='fix': no fix_<name> for %s; their failures will raise",
                    ", ".join(missing),
                )
        self.stats = GuardStats()
        self._stats_lock = threading.Lock()

    def enforcer(self) -> Enforcer:
        """A fresh :class:`Enforcer` for one call: the policy, and which assertions only warn
        (severity is the core's decision; the drivers log the warnings it hands back)."""
        return Enforcer(self.policy, self.assertions.warn_names)

    # -- the loop (llmassert.enforce), sync and async ---------------------------------------------
    # Each call tallies locally and commits to `stats` once, under one lock: the guard sits on
    # every LLM call, and its own cost is measured against a cached call (bench/hook_overhead.py).

    def run(self, attempt: Attempt, example: dict[str, Any]) -> Any:
        call = _Call(self, example)
        check = self.assertions.check

        def ask(reask: Decision | None) -> Any:
            return attempt(None, None) if reask is None else attempt(*call.reask(reask))

        def checked(response: Any) -> tuple[Failure, ...]:
            result = check(call.text_of(response), example)
            self._record(result, call.text, example, call.attempts - 1)
            return result.failures

        try:
            response, decision = enforce(self.enforcer(), ask, checked)
            return self._finish(decision, response, call)
        finally:
            self._commit(call)

    async def arun(self, attempt: AsyncAttempt, example: dict[str, Any]) -> Any:
        call = _Call(self, example)

        async def check(response: Any) -> tuple[Failure, ...]:
            return call.checked(
                response, await self.assertions.acheck(call.text_of(response), example)
            )

        try:
            response, decision = await aenforce(
                self.enforcer(), lambda d: attempt(*call.reask(d)), check
            )
            return self._finish(decision, response, call)
        finally:
            self._commit(call)

    def observe(self, response: Any, example: dict[str, Any]) -> CheckResult:
        """Check and log a response without acting on it (callbacks, which cannot change it)."""
        call = _Call(self, example)
        result = self.assertions.check(call.text_of(response), example)
        return self._observed(call, response, result)

    async def aobserve(self, response: Any, example: dict[str, Any]) -> CheckResult:
        """Async :meth:`observe`."""
        call = _Call(self, example)
        result = await self.assertions.acheck(call.text_of(response), example)
        return self._observed(call, response, result)

    def settle(self, text: str, example: dict[str, Any], result: CheckResult) -> Decision:
        """The core's decision on a text that can no longer be re-asked, fixed or filtered (a
        stream whose chunks already reached the caller): ``result`` is logged and counted;
        applying the verdict (``raise``) is the caller's."""
        call = _Call(self, example)
        call.text_of(text)  # one attempt, its text
        failures = call.checked(text, result)
        decision = self.enforcer().decide(failures, can_reask=False)
        call.passed = decision.verdict == "accept"
        call.raised = int(decision.verdict == "raise")
        self._commit(call)
        return decision

    # -- steps -----------------------------------------------------------------------------------

    def _observed(self, call: _Call, response: Any, result: CheckResult) -> CheckResult:
        call.checked(response, result)
        call.passed = result.passed
        self._commit(call)
        return result

    def _finish(self, decision: Decision, response: Any, call: _Call) -> Any:
        verdict = decision.verdict
        call.passed = verdict == "accept"
        if verdict in ("accept", "flag"):
            return response
        if verdict == "filter":
            call.filtered = 1
            return None
        if verdict == "fix":
            fixed = self._fix(decision, response, call)
            call.fixed = 1
            return fixed
        why = f"after {decision.reasks} re-ask(s)" if decision.exhausted else None
        self._raise(decision.failures, why, call)

    def _fix(self, decision: Decision, response: Any, call: _Call) -> Any:
        failures, example = decision.failures, call.example
        unfixable = [f for f in failures if not self.assertions.has_fix(f.name)]
        if unfixable:
            self._raise(failures, "no fix_<name> for " + ", ".join(f.name for f in unfixable), call)
        fixed = call.text
        for failure in failures:
            try:
                fixed = self.assertions.fix(failure.name, fixed, example)
            except Exception as e:
                self._raise(failures, f"fix_{failure.name} raised {type(e).__name__}: {e}", call)
        recheck = self.assertions.check(fixed, example)
        if not recheck.passed:
            self._record(recheck, fixed, example, decision.attempt + 1)
            self._raise(recheck.failures, "still failing after fixes", call)
        return replace_text(response, fixed)

    def _raise(self, failures: tuple[Failure, ...], why: str | None, call: _Call) -> NoReturn:
        call.raised = 1
        where = f" ({self.prompt_name})" if self.prompt_name else ""
        names = ", ".join(f.name for f in failures)
        tail = f"; {why}" if why else ""
        raise AssertionsFailedError(
            f"{len(failures)} assertion(s) failed{where}: {names}{tail}", failures=list(failures)
        )

    def _commit(self, call: _Call) -> None:
        stats = self.stats
        with self._stats_lock:
            stats.calls += 1
            stats.attempts += call.attempts
            stats.reasks += call.reasks
            if call.usage is not None:
                stats.usage = stats.usage + call.usage
            if call.passed is not None:
                stats.passed += int(call.passed)
                stats.failed += int(not call.passed)
            stats.fixed += call.fixed
            stats.filtered += call.filtered
            stats.raised += call.raised

    def _record(
        self, result: CheckResult, text: str, example: dict[str, Any], attempt: int
    ) -> None:
        if not result.passed:
            log.warning(
                "llmassert guard%s (policy %s, attempt %d): %s",
                f" {self.prompt_name}" if self.prompt_name else "",
                self.on_fail,
                attempt,
                "; ".join(str(f) for f in result.failures),
            )
        if self.failure_log is not None:
            self.failure_log.record(
                result,
                example=example,
                response=text,
                prompt=self.prompt_name,
                prompt_version=self.prompt_version,
                module=self.assertions.path,
                policy=self.on_fail,
                attempt=attempt,
                log_raw=self.log_raw,
            )


class _Call:
    """One guarded call: the last answer's text, and counts committed to :class:`GuardStats`."""

    __slots__ = (
        "attempts",
        "example",
        "filtered",
        "fixed",
        "guard",
        "passed",
        "raised",
        "reasks",
        "text",
        "usage",
    )

    def __init__(self, guard: Guard, example: dict[str, Any]) -> None:
        self.guard = guard
        self.example = example
        self.text = ""
        self.attempts = self.reasks = self.fixed = self.filtered = self.raised = 0
        self.usage: Usage | None = None
        self.passed: bool | None = None  # None: the call raised before a verdict

    def text_of(self, response: Any) -> str:
        """Count an attempt and its usage; the response's text."""
        self.attempts += 1
        if not isinstance(response, str):
            usage = extract_usage(response)
            if usage is not None:
                self.usage = usage if self.usage is None else self.usage + usage
        self.text = extract_text(response)
        return self.text

    def checked(self, response: Any, result: CheckResult) -> tuple[Failure, ...]:
        self.guard._record(result, self.text, self.example, self.attempts - 1)
        return result.failures

    def reask(self, decision: Decision | None) -> tuple[str | None, str | None]:
        """The attempt's arguments: (feedback, previous text); (None, None) for the first."""
        if decision is None:
            return None, None
        self.reasks += 1
        return feedback.render(decision.failures, attempt=decision.attempt + 1), self.text


# -- the decorator ---------------------------------------------------------------------------


def guard(
    assertions: AssertionSet | str | Path,
    *,
    example_from: str | Callable[..., dict[str, Any]] | None = None,
    **options: Unpack[GuardOptions],
) -> Callable[[F], F]:
    """Decorate a sync or async function returning an LLM response (see the module doc).

    ``options`` are :class:`Guard`'s (``on_fail="exception"``, ``max_reasks=2``, ``prompt_name``,
    ``prompt_version``, ``failure_log``, ``log_raw``, ``severity``).  The wrapped function gains ``.guard``
    (the :class:`Guard`) and ``.stats`` (:class:`GuardStats`).
    """
    engine = Guard(assertions, **options)

    def decorate(fn: F) -> F:
        sig = inspect.signature(fn)
        feed = _feedback_channel(sig)
        if engine.policy.reask and feed is None:
            raise ConfigError(
                f"on_fail='reask' needs {fn.__qualname__} to take a `feedback` or a `messages` "
                "argument, so the failures can be passed back to the model",
                field="on_fail",
            )
        if engine.prompt_name is None:
            engine.prompt_name = fn.__qualname__
        make_example = _example_maker(sig, example_from)

        def again(
            args: tuple[Any, ...], kwargs: dict[str, Any], feedback: str, previous: str | None
        ) -> tuple[tuple[Any, ...], dict[str, Any]]:
            """The arguments of a re-ask (binding is left to this cold path)."""
            bound = sig.bind(*args, **kwargs)
            if feed == "feedback":  # the model does not see its answer otherwise: quote it
                bound.arguments["feedback"] = with_previous(previous, feedback)
            else:
                bound.arguments["messages"] = [
                    *(bound.arguments.get("messages") or []),
                    {"role": "assistant", "content": previous or ""},
                    {"role": "user", "content": feedback},
                ]
            return bound.args, bound.kwargs

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                async def attempt(feedback: str | None, previous: str | None) -> Any:
                    if feedback is None:
                        return await fn(*args, **kwargs)
                    a, kw = again(args, kwargs, feedback, previous)
                    return await fn(*a, **kw)

                return await engine.arun(attempt, make_example(args, kwargs))

            wrapper: Any = awrapper
        else:

            @functools.wraps(fn)
            def swrapper(*args: Any, **kwargs: Any) -> Any:
                def attempt(feedback: str | None, previous: str | None) -> Any:
                    if feedback is None:
                        return fn(*args, **kwargs)
                    a, kw = again(args, kwargs, feedback, previous)
                    return fn(*a, **kw)

                return engine.run(attempt, make_example(args, kwargs))

            wrapper = swrapper
        wrapper.guard = engine
        wrapper.stats = engine.stats
        return cast(F, wrapper)

    return decorate


def _feedback_channel(sig: inspect.Signature) -> str | None:
    if "feedback" in sig.parameters:
        return "feedback"
    if "messages" in sig.parameters:
        return "messages"
    return None


ExampleMaker = Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any]]
_NOT_EXAMPLE = frozenset({"self", "cls", "feedback"})


def _example_maker(
    sig: inspect.Signature, example_from: str | Callable[..., dict[str, Any]] | None
) -> ExampleMaker:
    """How a call's arguments become the assertions' example (on every call: keep it cheap)."""
    if callable(example_from):
        chooser = example_from
        return lambda args, kwargs: dict(chooser(*args, **kwargs))
    params = list(sig.parameters.values())
    if isinstance(example_from, str) and example_from not in sig.parameters:
        raise ConfigError(
            f"example_from={example_from!r} is not an argument of the function",
            field="example_from",
        )
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    defaults = {
        p.name: p.default for p in params if p.default is not p.empty and p.name not in _NOT_EXAMPLE
    }
    var_args = any(p.kind is p.VAR_POSITIONAL for p in params)

    def arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        # Arguments by name with defaults filled, **kwargs flattened in; `inspect.bind` only
        # for *args signatures (it costs more than the checks of a small set).
        if var_args:
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            found = dict(bound.arguments)
            for p in params:
                if p.kind is p.VAR_KEYWORD:
                    found.update(found.pop(p.name, None) or {})
        else:
            found = {**defaults, **dict(zip(positional, args, strict=False)), **kwargs}
        for name in _NOT_EXAMPLE.intersection(found):
            del found[name]
        return found

    if isinstance(example_from, str):
        name = example_from

        def from_argument(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
            value = arguments(args, kwargs).get(name)
            return dict(value) if isinstance(value, dict) else {name: value}

        return from_argument
    return arguments
