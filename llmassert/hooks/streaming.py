"""Validating streamed responses: chunks pass through, the assembled text is checked at the end,
and a stream can be stopped as soon as a check that is monotone on prefixes already fails.

Two layers, in the sans-IO style of the rest of ``hooks``:

- :class:`StreamCheck` holds no I/O: feed it text deltas; it says when the prefix seen so far
  already fails a *monotone* assertion (one declared ``Monotone: yes``: failing on a prefix
  means failing on every extension — excluded words and phrases; see
  :mod:`llmassert.assertions.loader`).  Only those are run on prefixes, and only on the prefix
  cut at its last whitespace, so a whole-word match is never judged on a half-written word.
  Every other assertion (a required greeting, a minimum length, an ending) is judged on the
  whole text only: a prefix says nothing about it.
- :class:`GuardedStream` / :class:`AsyncGuardedStream` drive it over litellm's stream objects
  (``CustomStreamWrapper``), yielding every chunk to the caller unchanged.

Policies on a stream: the caller has already received the chunks, so nothing can be re-asked,
fixed or filtered.  ``exception`` raises :class:`~llmassert.errors.AssertionsFailedError` —
early (and the HTTP stream is closed) when a monotone check fails on a prefix, else after the
last chunk; ``noop`` only checks and logs.  Other policies are refused with one line.  What to do
is the enforcement core's decision (:meth:`~llmassert.hooks.guard.Guard.settle`, which also logs
and counts): failures of ``warn`` assertions are logged, never raised.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from llmassert.assertions.assertion_set import AssertionSet
from llmassert.assertions.results import CheckResult
from llmassert.enforce import Decision
from llmassert.errors import AssertionsFailedError, ConfigError

STREAM_POLICIES = ("exception", "raise", "noop")


def check_stream_policy(on_fail: str) -> None:
    if on_fail not in STREAM_POLICIES:
        raise ConfigError(
            f"on_fail={on_fail!r} cannot apply to stream=True: the chunks already reached the "
            "caller (use 'exception' or 'noop', or stream=False)",
            field="on_fail",
        )


def chunk_text(chunk: Any) -> str:
    """The text delta of one streamed chat chunk ('' for role / finish / usage chunks)."""
    choices = getattr(chunk, "choices", None)
    if choices is None and isinstance(chunk, dict):
        choices = chunk.get("choices")
    if not choices:
        return ""
    first = choices[0]
    delta = getattr(first, "delta", None)
    if delta is None and isinstance(first, dict):
        delta = first.get("delta")
    content = getattr(delta, "content", None)
    if content is None and isinstance(delta, dict):
        content = delta.get("content")
    return content if isinstance(content, str) else ""


class StreamCheck:
    """Sans-IO: the text of one stream so far, and whether its monotone checks already fail."""

    def __init__(self, assertions: AssertionSet, example: dict[str, Any], *, stop_early: bool):
        self.example = example
        self.parts: list[str] = []
        self._checked_upto = 0
        monotone = [a.name for a in assertions if a.monotone and a.severity != "warn"]
        self._prefix = assertions.select(monotone) if stop_early and monotone else None
        self.early: CheckResult | None = None  # the failing prefix check, once found

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def feed(self, delta: str) -> CheckResult | None:
        """Add a delta; a failing :class:`CheckResult` when the stream should stop now."""
        if not delta:
            return None
        self.parts.append(delta)
        if self._prefix is None or self.early is not None:
            return None
        text = self.text
        cut = max(text.rfind(" "), text.rfind("\n"), text.rfind("\t"))
        if cut <= self._checked_upto:
            return None  # no new complete word since the last check
        self._checked_upto = cut
        result = self._prefix.check(text[:cut], self.example)
        if not result.passed:
            self.early = result
            return result
        return None


def _close(stream: Any) -> None:
    """Close litellm's stream (its provider stream holds the HTTP response open)."""
    inner = getattr(stream, "completion_stream", None)
    for target in (inner, stream):
        close = getattr(target, "close", None)
        if callable(close):
            # Already closed, or a provider whose close() fails: nothing left to free.
            with contextlib.suppress(Exception):
                close()
            return


async def _aclose(stream: Any) -> None:
    aclose = getattr(stream, "aclose", None)
    if callable(aclose):
        with contextlib.suppress(Exception):
            await aclose()
        return
    _close(stream)


class _Base:
    def __init__(
        self,
        stream: Any,
        assertions: AssertionSet,
        example: dict[str, Any],
        *,
        on_fail: str,
        settle: Callable[[str, dict[str, Any], CheckResult], Decision],
        name: str | None,
    ) -> None:
        check_stream_policy(on_fail)
        self._stream = stream
        self.assertions = assertions
        self.example = example
        self.raises = on_fail in ("exception", "raise")
        # The core's decision on a checked text (no re-ask possible); it logs and counts too.
        self._settle = settle
        self._name = name
        self.state = StreamCheck(assertions, example, stop_early=self.raises)
        self.result: CheckResult | None = None  # the whole-text result, once the stream ends
        self.stopped_early = False

    def _early(self, failing: CheckResult) -> AssertionsFailedError:
        self.stopped_early = True
        text = self.state.text
        self.result = failing
        decision = self._settle(text, self.example, failing)
        return self._error(decision, f"stream stopped early after {len(text)} characters")

    def _final(self, result: CheckResult) -> None:
        self.result = result
        decision = self._settle(self.state.text, self.example, result)
        if decision.verdict == "raise":
            raise self._error(decision, "checked on the assembled stream")

    def _error(self, decision: Decision, why: str) -> AssertionsFailedError:
        where = f" ({self._name})" if self._name else ""
        failures = decision.failures
        names = ", ".join(f.name for f in failures)
        return AssertionsFailedError(
            f"{len(failures)} assertion(s) failed{where}: {names}; {why}",
            failures=list(failures),
        )


class GuardedStream(_Base):
    """Iterate like litellm's stream; see the module docstring for what happens on failure."""

    def __iter__(self) -> Iterator[Any]:
        try:
            for chunk in self._stream:
                failing = self.state.feed(chunk_text(chunk))
                yield chunk
                if failing is not None:
                    _close(self._stream)
                    raise self._early(failing)
        except GeneratorExit:
            _close(self._stream)
            raise
        self._final(self.assertions.check(self.state.text, self.example))


class AsyncGuardedStream(_Base):
    """Async iteration over litellm's async stream (``acompletion(stream=True)``)."""

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._run()

    async def _run(self) -> AsyncIterator[Any]:
        try:
            async for chunk in self._stream:
                failing = self.state.feed(chunk_text(chunk))
                yield chunk
                if failing is not None:
                    await _aclose(self._stream)
                    raise self._early(failing)
        except GeneratorExit:
            await _aclose(self._stream)
            raise
        self._final(await self.assertions.acheck(self.state.text, self.example))
