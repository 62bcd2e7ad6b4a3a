"""AssertionSet: load an assertion module safely and check responses with it.

::

    checks = AssertionSet.load("assertions/summary.py")
    result = checks.check(response, example={"word_count": 50})
    if not result.passed:
        print(result.summary())

Loading validates the module with the sandbox's AST allowlist (unsafe code is refused with the
file and line).  Modules without loops or recursion run in-process (microseconds per check);
others run in a persistent sandbox worker process with a per-check time limit, so a module that
loops forever fails its check with a timeout instead of hanging the caller.  LLM-judge assertions
with a constant question are asked through the LLM layer directly (cached, concurrent in
:meth:`AssertionSet.acheck`), never inside the worker.

An exception inside an assertion is a failure carrying the exception's message, except errors
that mean the run itself is wrong (no model configured, a replay miss, the budget spent): those
propagate, because hiding them would turn a broken CI set-up into "the response failed".
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from llmassert.aio import run_sync
from llmassert.assertions.loader import Assertion, parse_module, read_source
from llmassert.assertions.results import CheckResult, Failure
from llmassert.errors import (
    AssertionModuleError,
    BudgetExceededError,
    CassetteMissError,
    ConfigError,
    LlmAssertError,
    SandboxError,
    SandboxTimeoutError,
)
from llmassert.sandbox import load_inline
from llmassert.sandbox.inline import bounded_timeout, frozen_example, is_bounded
from llmassert.sandbox.inline import scope as inline_scope

AssertionFn = Callable[[dict[str, Any], str], Any]
FixFn = Callable[[dict[str, Any], str], str]
Pair = tuple[dict[str, Any] | None, str]
# Errors about the run, not the response: never turned into a failed check.
PROPAGATE: tuple[type[BaseException], ...] = (ConfigError, CassetteMissError, BudgetExceededError)

DEFAULT_TIMEOUT_S = 2.0
DEFAULT_MEMORY_MB = 512


class AssertionSet:
    """An ordered, named collection of assertions over ``(example, response)``."""

    def __init__(
        self,
        assertions: Sequence[Assertion],
        *,
        functions: Mapping[str, AssertionFn] | None = None,
        fixes: Mapping[str, FixFn] | None = None,
        sandbox: _Sandboxed | None = None,
        path: str | None = None,
    ) -> None:
        self._assertions = tuple(assertions)
        self._functions = dict(functions or {})
        self._fixes = dict(fixes or {})
        self._sandbox = sandbox
        self.path = path
        # Partition once: the hot path of check() is a loop over plain tuples.
        self._judged = tuple(a for a in self._assertions if a.question is not None)
        self._local = tuple(
            (a, self._functions[a.name])
            for a in self._assertions
            if a.question is None and a.name in self._functions
        )
        self._frozen_inputs = any(is_bounded(fn) for _, fn in self._local)
        self._timeout_s = min((bounded_timeout(fn) for _, fn in self._local), default=1.0)
        self._remote = tuple(
            a for a in self._assertions if a.question is None and a.name not in self._functions
        )
        if self._remote and sandbox is None:
            missing = ", ".join(a.name for a in self._remote)
            raise AssertionModuleError(f"no implementation for {missing}", file=path)

    # -- construction ----------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        path_or_source: str | Path,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        memory_mb: int = DEFAULT_MEMORY_MB,
        trusted: bool = False,
    ) -> AssertionSet:
        """Load an assertion module from a file path (or from source text containing a newline).

        ``trusted=True`` imports the module as ordinary Python (no allowlist, no sandbox): for
        hand-written modules you own that need other imports.  Generated code never needs it.
        """
        text = str(path_or_source)
        if isinstance(path_or_source, str) and "\n" in path_or_source:
            return cls.from_source(text, timeout_s=timeout_s, memory_mb=memory_mb, trusted=trusted)
        source, filename = read_source(path_or_source)
        return cls.from_source(
            source, filename=filename, timeout_s=timeout_s, memory_mb=memory_mb, trusted=trusted
        )

    @classmethod
    def from_source(
        cls,
        source: str,
        *,
        filename: str = "<assertions>",
        timeout_s: float = DEFAULT_TIMEOUT_S,
        memory_mb: int = DEFAULT_MEMORY_MB,
        trusted: bool = False,
    ) -> AssertionSet:
        """Load assertions from module source (see :meth:`load`)."""
        from llmassert import sandbox as sb

        info = parse_module(source, filename)
        wanted = [a.name for a in info.assertions] + [f"fix_{n}" for n in info.fixes]
        if trusted:
            namespace = _import_trusted(source, filename)
            inline = True
        else:
            try:
                sb.validate_source(source, filename=filename)
            except SandboxError as e:
                raise AssertionModuleError(
                    f"refused: {e.message}", file=filename, field=e.field
                ) from None
            inline = sb.is_inline_safe(source)
            namespace = _load_inline(source, filename, timeout_s, memory_mb) if inline else {}
        if inline:
            functions = {n: namespace[n] for n in wanted if callable(namespace.get(n))}
            missing = [a.name for a in info.assertions if a.name not in functions]
            if missing:
                raise AssertionModuleError(
                    f"not defined after loading: {', '.join(missing)}", file=filename
                )
            return cls(
                info.assertions,
                functions={a.name: functions[a.name] for a in info.assertions},
                fixes={n: functions[f"fix_{n}"] for n in info.fixes},
                path=filename,
            )
        sandbox = _Sandboxed(source, filename, timeout_s=timeout_s, memory_mb=memory_mb)
        sandbox.start()
        return cls(info.assertions, fixes=sandbox.fixes(info.fixes), sandbox=sandbox, path=filename)

    @classmethod
    def from_functions(
        cls,
        functions: Iterable[AssertionFn] | Mapping[str, AssertionFn],
        *,
        fixes: Mapping[str, FixFn] | None = None,
    ) -> AssertionSet:
        """A set from plain callables you already trust (docstring first line = criterion)."""
        items = (
            list(functions.items())
            if isinstance(functions, Mapping)
            else [(getattr(f, "__name__", f"assertion_{i}"), f) for i, f in enumerate(functions)]
        )
        assertions = []
        for name, fn in items:
            doc = (getattr(fn, "__doc__", None) or "").strip()
            criterion = " ".join(doc.split("\n\n", 1)[0].split()) or name
            assertions.append(Assertion(name=name, criterion=criterion))
        return cls(assertions, functions=dict(items), fixes=fixes)

    # -- collection protocol ---------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return [a.name for a in self._assertions]

    @property
    def assertions(self) -> tuple[Assertion, ...]:
        return self._assertions

    def __len__(self) -> int:
        return len(self._assertions)

    def __iter__(self) -> Iterator[Assertion]:
        return iter(self._assertions)

    def __contains__(self, name: object) -> bool:
        return any(a.name == name for a in self._assertions)

    def __getitem__(self, name: str) -> Assertion:
        for a in self._assertions:
            if a.name == name:
                return a
        raise KeyError(name)

    def __repr__(self) -> str:
        where = f" from {self.path}" if self.path else ""
        return f"<AssertionSet{where}: {', '.join(self.names)}>"

    def select(self, names: Iterable[str]) -> AssertionSet:
        """A subset, in the given order. Unknown names raise KeyError listing what exists."""
        wanted = list(names)
        unknown = [n for n in wanted if n not in self]
        if unknown:
            raise KeyError(f"unknown assertions {unknown}; known: {self.names}")
        keep = set(wanted)
        return AssertionSet(
            [self[n] for n in dict.fromkeys(wanted)],
            functions={n: f for n, f in self._functions.items() if n in keep},
            fixes={n: f for n, f in self._fixes.items() if n in keep},
            sandbox=self._sandbox,
            path=self.path,
        )

    @property
    def warn_names(self) -> frozenset[str]:
        """Assertions of severity ``warn``: reported, never enforced (see ``loader``)."""
        return frozenset(a.name for a in self._assertions if a.severity == "warn")

    def with_severity(self, overrides: Mapping[str, str]) -> AssertionSet:
        """The same set with some severities changed (``{"name": "warn" | "block"}``); unknown
        names or levels raise ConfigError naming them (a pipeline's or guard's ``severity``)."""
        from dataclasses import replace

        unknown = [n for n in overrides if n not in self]
        if unknown:
            raise ConfigError(
                f"severity names {unknown[0]!r}, not an assertion of the module "
                f"(known: {', '.join(self.names)})",
                field="severity",
            )
        bad = [v for v in overrides.values() if v not in ("block", "warn")]
        if bad:
            raise ConfigError(f"severity must be block or warn, got {bad[0]!r}", field="severity")
        return AssertionSet(
            [replace(a, severity=overrides.get(a.name, a.severity)) for a in self._assertions],
            functions=self._functions,
            fixes=self._fixes,
            sandbox=self._sandbox,
            path=self.path,
        )

    def blocking(self, result: CheckResult) -> CheckResult:
        """``result`` without the failures of ``warn`` assertions: what policies and gates act
        on (the warnings stay in the full result for logs and reports)."""
        warn = self.warn_names
        if not warn or not any(f.name in warn for f in result.failures):
            return result
        kept = tuple(f for f in result.failures if f.name not in warn)
        return CheckResult(
            passed=not kept, failures=kept, timings=result.timings, results=result.results
        )

    @property
    def judge_names(self) -> list[str]:
        """LLM-judge assertions (the ones whose verdicts can be flaky)."""
        return [a.name for a in self._assertions if a.kind == "llm_judge"]

    def has_fix(self, name: str) -> bool:
        return name in self._fixes

    def fix(self, name: str, response: str, example: dict[str, Any] | None = None) -> str:
        """Apply ``fix_<name>`` to a response."""
        fixed = self._fixes[name](example or {}, response)
        if not isinstance(fixed, str):
            raise AssertionModuleError(
                f"fix_{name} returned {type(fixed).__name__}, expected str", file=self.path
            )
        return fixed

    def close(self) -> None:
        """Stop the sandbox worker, if any (also done at interpreter exit)."""
        if self._sandbox is not None:
            self._sandbox.close()

    def __enter__(self) -> AssertionSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- checking --------------------------------------------------------------------------------

    def check(self, response: str, example: dict[str, Any] | None = None) -> CheckResult:
        """Run every assertion on ``response``; never raises for a failing or broken check."""
        response, ex = _text(response), example if example is not None else {}
        outcomes = self._run_local(ex, response)
        if self._remote:
            outcomes.update(self._run_remote([(ex, response)])[0])
        if self._judged:
            outcomes.update(self._judge(ex, response))
        return self._result(outcomes)

    async def acheck(self, response: str, example: dict[str, Any] | None = None) -> CheckResult:
        """Async :meth:`check`: judge assertions are asked concurrently through the LLM layer."""
        response, ex = _text(response), example if example is not None else {}
        judged = asyncio.ensure_future(self._ajudge(ex, response)) if self._judged else None
        try:
            if any(a.kind == "llm_judge" for a, _ in self._local):
                # A judge inside arbitrary code calls the sync API: keep it off the event loop.
                outcomes = await asyncio.to_thread(self._run_local, ex, response)
            else:
                outcomes = self._run_local(ex, response)
            if self._remote:
                remote = await asyncio.to_thread(self._run_remote, [(ex, response)])
                outcomes.update(remote[0])
        except BaseException:
            if judged is not None:
                judged.cancel()
            raise
        if judged is not None:
            outcomes.update(await judged)
        return self._result(outcomes)

    def check_many(self, pairs: Sequence[Pair]) -> list[CheckResult]:
        """Check many ``(example, response)`` pairs; sandboxed assertions run in one batch."""
        return run_sync(self.acheck_many(pairs))

    async def acheck_many(
        self,
        pairs: Sequence[Pair],
        *,
        on_result: Callable[[int, CheckResult], None] | None = None,
    ) -> list[CheckResult]:
        """Async :meth:`check_many`; ``on_result(index, result)`` reports progress."""
        norm = [(ex if ex is not None else {}, _text(resp)) for ex, resp in pairs]
        remote: list[dict[str, _Checked]] = (
            await asyncio.to_thread(self._run_remote, norm) if self._remote else [{} for _ in norm]
        )

        # A judge inside arbitrary code calls the sync API: keep it off the event loop (which
        # is llmassert's own under check_many and `llmassert test`), as acheck does.
        judge_inside = any(a.kind == "llm_judge" for a, _ in self._local)

        async def one(i: int) -> CheckResult:
            ex, resp = norm[i]
            if judge_inside:
                outcomes = await asyncio.to_thread(self._run_local, ex, resp)
            else:
                outcomes = self._run_local(ex, resp)
            outcomes.update(remote[i])
            if self._judged:
                outcomes.update(await self._ajudge(ex, resp))
            result = self._result(outcomes)
            if on_result is not None:
                on_result(i, result)
            return result

        return list(await asyncio.gather(*(one(i) for i in range(len(norm)))))

    # -- internals -------------------------------------------------------------------------------

    def _run_local(self, example: dict[str, Any], response: str) -> dict[str, _Checked]:
        if self._local and self._frozen_inputs:
            # Once for all checks: sandboxed functions take the frozen value as it is, and
            # share one installed timer (each still held to its own timeout).
            with inline_scope(self._timeout_s):
                return self._run_checks(frozen_example(example), response)
        return self._run_checks(example, response)

    def _run_checks(self, example: dict[str, Any], response: str) -> dict[str, _Checked]:
        outcomes: dict[str, _Checked] = {}
        clock = time.perf_counter
        for assertion, fn in self._local:
            start = clock()
            try:
                value = fn(example, response)
            except PROPAGATE:
                raise
            except SandboxTimeoutError as e:
                outcomes[assertion.name] = (False, "timeout", e.message, clock() - start)
                continue
            except SandboxError as e:  # a bound (memory, an unbounded regex): its own line
                outcomes[assertion.name] = (False, "error", e.message, clock() - start)
                continue
            except Exception as e:
                outcomes[assertion.name] = (False, "error", _describe(e), clock() - start)
                continue
            elapsed = clock() - start
            if value is True:
                outcomes[assertion.name] = (True, "", "", elapsed)
            elif value is False:
                outcomes[assertion.name] = (False, "failed", "returned False", elapsed)
            elif value is None:
                outcomes[assertion.name] = (
                    False,
                    "error",
                    "returned None (expected a bool)",
                    elapsed,
                )
            else:
                ok = bool(value)
                outcomes[assertion.name] = (
                    ok,
                    "" if ok else "failed",
                    "" if ok else f"returned {value!r}",
                    elapsed,
                )
        return outcomes

    def _run_remote(self, items: list[tuple[dict[str, Any], str]]) -> list[dict[str, _Checked]]:
        assert self._sandbox is not None
        return self._sandbox.run([a.name for a in self._remote], items)

    async def _ajudge(self, example: dict[str, Any], response: str) -> dict[str, _Checked]:
        from llmassert.assertions.judge import ajudge_verdict

        async def ask(assertion: Assertion) -> tuple[str, _Checked]:
            assert assertion.question is not None
            start = time.perf_counter()
            try:
                verdict = await ajudge_verdict(assertion.question, example, response)
            except PROPAGATE:
                raise
            except Exception as e:
                return assertion.name, (False, "error", _describe(e), time.perf_counter() - start)
            return assertion.name, _verdict_outcome(verdict, time.perf_counter() - start)

        return dict(await asyncio.gather(*(ask(a) for a in self._judged)))

    def _judge(self, example: dict[str, Any], response: str) -> dict[str, _Checked]:
        """Sync judges: the client's sync API, on threads when there are several questions."""
        from llmassert.assertions.judge import judge_verdict

        def ask(assertion: Assertion) -> _Checked:
            assert assertion.question is not None
            start = time.perf_counter()
            try:
                verdict = judge_verdict(assertion.question, example, response)
            except PROPAGATE:
                raise
            except Exception as e:
                return (False, "error", _describe(e), time.perf_counter() - start)
            return _verdict_outcome(verdict, time.perf_counter() - start)

        if len(self._judged) == 1:
            return {self._judged[0].name: ask(self._judged[0])}
        pool = _judge_pool()
        futures = [pool.submit(contextvars.copy_context().run, ask, a) for a in self._judged]
        return {a.name: f.result() for a, f in zip(self._judged, futures, strict=True)}

    def _result(self, outcomes: dict[str, _Checked]) -> CheckResult:
        failures = []
        results: dict[str, bool] = {}
        timings: dict[str, float] = {}
        for a in self._assertions:
            ok, kind, message, seconds = outcomes[a.name]
            results[a.name] = ok
            timings[a.name] = seconds
            if not ok:
                failures.append(Failure(a.name, a.criterion, message, kind))
        return CheckResult(not failures, tuple(failures), timings, results)


# (passed, failure kind, message, seconds)
_Checked = tuple[bool, str, str, float]
_TIMEOUT = re.compile(r"timed out|killed after|CPU limit|SIGXCPU|SIGKILL")


def _verdict_outcome(verdict: Any, seconds: float) -> _Checked:
    if verdict.passed:
        return (True, "", "", seconds)
    why = f"judge answered no: {verdict.reason}" if verdict.reason else "judge answered no"
    return (False, "failed", why, seconds)


_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _judge_pool() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(16, thread_name_prefix="llmassert-judge")
        return _pool


def _text(response: Any) -> str:
    if isinstance(response, str):
        return response
    return "" if response is None else str(response)


def _describe(error: BaseException) -> str:
    text = str(error) if not isinstance(error, LlmAssertError) else error.message
    text = " ".join(text.split())
    return f"raised {type(error).__name__}: {text}" if text else f"raised {type(error).__name__}"


def _load_inline(source: str, filename: str, timeout_s: float, memory_mb: int) -> dict[str, Any]:
    try:
        return dict(
            load_inline(
                source,
                filename=filename,
                timeout_s=timeout_s,
                memory_mb=memory_mb,
                process_fallback=True,
            )
        )
    except SandboxError as e:
        raise AssertionModuleError(f"refused: {e.message}", file=filename) from None
    except Exception as e:
        raise AssertionModuleError(f"does not load: {_describe(e)}", file=filename) from None


def _import_trusted(source: str, filename: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": Path(filename).stem, "__file__": filename}
    try:
        exec(compile(source, filename, "exec"), namespace)
    except Exception as e:
        raise AssertionModuleError(f"does not load: {_describe(e)}", file=filename) from None
    return namespace


class _Sandboxed:
    """A module run in a ProcessSandbox worker (started on first use, shared by subsets)."""

    def __init__(self, source: str, filename: str, *, timeout_s: float, memory_mb: int) -> None:
        self.source = source
        self.filename = filename
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self._box: Any = None
        self._id: str | None = None
        self._lock = threading.Lock()

    def _sandbox(self) -> Any:
        if self._box is None:
            from llmassert.sandbox import ProcessSandbox

            self._box = ProcessSandbox(timeout_s=self.timeout_s, memory_mb=self.memory_mb)
        return self._box

    def start(self) -> None:
        """Start the worker and load the module now, so a broken module fails at load time."""
        try:
            self._loaded()
        except SandboxError as e:
            raise AssertionModuleError(e.message, file=self.filename, field=e.field) from None

    def _loaded(self) -> tuple[Any, str]:
        with self._lock:
            box = self._sandbox()
            if self._id is None:
                self._id = box.load(self.source, filename=self.filename)
            return box, self._id

    def run(
        self, names: list[str], items: list[tuple[dict[str, Any], str]]
    ) -> list[dict[str, _Checked]]:
        start = time.perf_counter()
        box, source_id = self._loaded()
        with self._lock:  # one worker: calls are serialized
            table = box.call_many_detailed(source_id, names, items)
        share = (time.perf_counter() - start) / max(1, len(names) * len(items))
        out: list[dict[str, _Checked]] = []
        for row in table:
            outcomes: dict[str, _Checked] = {}
            for name, call in zip(names, row, strict=True):
                if call.value is None:
                    error = call.error or "failed in the sandbox"
                    kind = "timeout" if _TIMEOUT.search(error) else "error"
                    outcomes[name] = (False, kind, self._explain(error, kind), share)
                elif call.value:
                    outcomes[name] = (True, "", "", share)
                else:
                    outcomes[name] = (False, "failed", "returned False", share)
            out.append(outcomes)
        return out

    def _explain(self, error: str, kind: str) -> str:
        if kind == "timeout":
            return (
                f"{error} (sandbox limits: {self.timeout_s:g} s per check, "
                f"{self.memory_mb} MB); the check was stopped"
            )
        return f"raised {error}" if ":" in error.split(" ", 1)[0] else error

    def fixes(self, names: Iterable[str]) -> dict[str, FixFn]:
        """Fixes of sandboxed modules are not supported: they would need text back."""
        return {}

    def close(self) -> None:
        with self._lock:
            if self._box is not None:
                close = getattr(self._box, "close", None)
                if close is not None:
                    close()
                self._box = None
                self._id = None
