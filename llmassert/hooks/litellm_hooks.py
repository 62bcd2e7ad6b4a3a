"""Guards for apps that call litellm (or the OpenAI SDK through a litellm proxy).

Three ways in, from most to least control:

1. :class:`LiteLLMGuard` / :func:`guarded_completion`: call litellm through a guard.  Every
   policy works (``reask`` appends the failures to ``messages``; ``fix`` and ``filter`` change
   the return value).
2. :func:`install`: patch ``litellm.completion`` and ``litellm.acompletion`` so existing code that
   calls ``litellm.completion(...)`` is guarded without changes.  Code that did
   ``from litellm import completion`` *before* ``install`` keeps the unpatched function.
3. :func:`litellm_callback`: a litellm ``CustomLogger`` for ``litellm.callbacks`` (also usable from
   a litellm proxy config).  litellm runs callbacks after the call, often on another thread, and
   ignores what they return: a callback **cannot** change, block or retry a response.  It checks
   and logs (the ``noop`` policy) and is meant for monitoring failure rates.

Assertions see an example made of the call's ``messages`` plus, when given, the variables passed
as ``llmassert_example={...}`` (wrapper and install; the key is removed before litellm sees it)
or ``metadata={"llmassert_example": {...}}`` (all three).

This is the one place outside ``llmassert.llm`` that touches litellm, and only the app's own
litellm calls: llmassert's own model calls (judges) still go through the LLM layer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Unpack

from llmassert.assertions.assertion_set import AssertionSet
from llmassert.hooks.failure_log import FailureLog
from llmassert.hooks.guard import Guard, GuardOptions, OnFail
from llmassert.hooks.streaming import AsyncGuardedStream, GuardedStream, check_stream_policy
from llmassert.llm.recording import replay_miss, replay_miss_count

EXAMPLE_KEY = "llmassert_example"


def _example(kwargs: dict[str, Any], explicit: dict[str, Any] | None = None) -> dict[str, Any]:
    example: dict[str, Any] = {"messages": kwargs.get("messages") or []}
    # Call kwargs carry `metadata`; litellm hands callbacks the call's details, where the
    # caller's metadata sits under `litellm_params`.
    params = kwargs.get("litellm_params")
    for metadata in (
        kwargs.get("metadata"),
        params.get("metadata") if isinstance(params, dict) else None,
    ):
        if isinstance(metadata, dict) and isinstance(metadata.get(EXAMPLE_KEY), dict):
            example.update(metadata[EXAMPLE_KEY])
    if explicit:
        example.update(explicit)
    return example


def _with_feedback(
    kwargs: dict[str, Any], feedback: str | None, previous: str | None
) -> dict[str, Any]:
    if feedback is None:
        return kwargs
    messages = [
        *(kwargs.get("messages") or []),
        {"role": "assistant", "content": previous or ""},
        {"role": "user", "content": feedback},
    ]
    return {**kwargs, "messages": messages}


@contextmanager
def _replay_misses() -> Iterator[None]:
    """Inside a replay cassette, a request it does not hold reaches litellm as a 404
    (``llm/recording.py``): raise the :class:`CassetteMissError` it stands for."""
    before = replay_miss_count()
    try:
        yield
    except Exception as e:
        miss = replay_miss(e, since=before)
        if miss is not None:
            raise miss from e
        raise


def _litellm() -> Any:
    # The app's litellm, with the app's settings: not the LLM layer's configured import.
    import litellm

    return litellm


class LiteLLMGuard:
    """litellm's ``completion`` / ``acompletion`` behind a :class:`Guard`."""

    def __init__(
        self, assertions: AssertionSet | str | Path, **options: Unpack[GuardOptions]
    ) -> None:
        options["prompt_name"] = options.get("prompt_name") or "litellm"
        self.guard = Guard(assertions, **options)
        self._originals: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    @property
    def stats(self) -> Any:
        return self.guard.stats

    def _functions(self) -> tuple[Any, Any]:
        if self._originals is not None:
            return self._originals
        lib = _litellm()
        return lib.completion, lib.acompletion

    def completion(self, **kwargs: Any) -> Any:
        """``litellm.completion(**kwargs)``, checked; returns what the policy decides.

        With ``stream=True``: a :class:`~llmassert.hooks.streaming.GuardedStream` yielding
        litellm's chunks (see that module for what a failure does to a stream)."""
        explicit = kwargs.pop(EXAMPLE_KEY, None)
        complete = self._functions()[0]
        if kwargs.get("stream"):
            check_stream_policy(self.guard.on_fail)
            with _replay_misses():
                stream = complete(**kwargs)
            return GuardedStream(
                stream,
                self.guard.assertions,
                _example(kwargs, explicit),
                **self._stream_hooks(aio=False),
            )

        def attempt(feedback: str | None, previous: str | None) -> Any:
            with _replay_misses():
                return complete(**_with_feedback(kwargs, feedback, previous))

        return self.guard.run(attempt, _example(kwargs, explicit))

    async def acompletion(self, **kwargs: Any) -> Any:
        """``litellm.acompletion(**kwargs)``, checked (``stream=True``: an
        :class:`~llmassert.hooks.streaming.AsyncGuardedStream`)."""
        explicit = kwargs.pop(EXAMPLE_KEY, None)
        acomplete = self._functions()[1]
        if kwargs.get("stream"):
            check_stream_policy(self.guard.on_fail)
            with _replay_misses():
                stream = await acomplete(**kwargs)
            return AsyncGuardedStream(
                stream,
                self.guard.assertions,
                _example(kwargs, explicit),
                **self._stream_hooks(aio=True),
            )

        async def attempt(feedback: str | None, previous: str | None) -> Any:
            with _replay_misses():
                return await acomplete(**_with_feedback(kwargs, feedback, previous))

        return await self.guard.arun(attempt, _example(kwargs, explicit))

    def _stream_hooks(self, *, aio: bool) -> dict[str, Any]:
        """How a guarded stream reaches this guard: the core decides on what the stream
        assembled (:meth:`Guard.settle`), which also logs and counts it."""
        g = self.guard
        return {"on_fail": g.on_fail, "settle": g.settle, "name": g.prompt_name}

    # -- patching --------------------------------------------------------------------------------

    def install(self) -> LiteLLMGuard:
        """Route ``litellm.completion`` / ``litellm.acompletion`` through this guard."""
        lib = _litellm()
        with self._lock:
            if self._originals is not None:
                return self
            self._originals = (lib.completion, lib.acompletion)
            me = self

            def completion(*args: Any, **kwargs: Any) -> Any:
                if args:  # litellm.completion(model, messages, ...) positional form
                    kwargs.update(zip(("model", "messages"), args, strict=False))
                return me.completion(**kwargs)

            async def acompletion(*args: Any, **kwargs: Any) -> Any:
                if args:
                    kwargs.update(zip(("model", "messages"), args, strict=False))
                return await me.acompletion(**kwargs)

            lib.completion, lib.acompletion = completion, acompletion
        return self

    def uninstall(self) -> None:
        """Restore litellm's own functions."""
        with self._lock:
            if self._originals is None:
                return
            lib = _litellm()
            lib.completion, lib.acompletion = self._originals
            self._originals = None

    def __enter__(self) -> LiteLLMGuard:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()


_cached: dict[tuple[Any, ...], LiteLLMGuard] = {}
_cached_lock = threading.Lock()


def guarded_completion(
    assertions: AssertionSet | str | Path,
    *,
    on_fail: OnFail = "exception",
    max_reasks: int = 2,
    prompt_name: str | None = None,
    prompt_version: str | int | None = None,
    **kwargs: Any,  # litellm's
) -> Any:
    """One guarded ``litellm.completion`` call (the guard is built once per set and policy)."""
    key = (
        id(assertions) if isinstance(assertions, AssertionSet) else str(assertions),
        on_fail,
        max_reasks,
        prompt_name,
        prompt_version,
    )
    with _cached_lock:
        guarded = _cached.get(key)
        if guarded is None:
            guarded = _cached[key] = LiteLLMGuard(
                assertions,
                on_fail=on_fail,
                max_reasks=max_reasks,
                prompt_name=prompt_name,
                prompt_version=prompt_version,
            )
    return guarded.completion(**kwargs)


def install(assertions: AssertionSet | str | Path, **options: Unpack[GuardOptions]) -> LiteLLMGuard:
    """Guard every ``litellm.completion`` / ``acompletion`` call; returns the handle
    (``.uninstall()``, ``.stats``; also a context manager).  ``options``: :class:`Guard`'s."""
    return LiteLLMGuard(assertions, **options).install()


def litellm_callback(
    assertions: AssertionSet | str | Path,
    *,
    prompt_name: str | None = None,
    prompt_version: str | int | None = None,
    failure_log: FailureLog | str | Path | Literal[False] | None = None,
    log_raw: bool = False,
) -> Any:
    """A litellm ``CustomLogger`` that checks every successful completion and logs failures.

    ``litellm.callbacks = [litellm_callback("assertions/x.py")]``.  Log-only by nature (see the
    module doc); the returned object has ``.guard`` and ``.stats``.
    """
    from litellm.integrations.custom_logger import CustomLogger

    engine = Guard(
        assertions,
        on_fail="noop",
        prompt_name=prompt_name or "litellm",
        prompt_version=prompt_version,
        failure_log=failure_log,
        log_raw=log_raw,
    )

    class AssertionCallback(CustomLogger):
        guard = engine
        stats = engine.stats

        def log_success_event(
            self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
        ) -> None:
            if _is_chat(response_obj):
                engine.observe(response_obj, _example(kwargs))

        async def async_log_success_event(
            self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
        ) -> None:
            if _is_chat(response_obj):
                await engine.aobserve(response_obj, _example(kwargs))

    return AssertionCallback()


_CALLBACK_LISTS = (
    "callbacks",
    "success_callback",
    "failure_callback",
    "_async_success_callback",
    "_async_failure_callback",
    "input_callback",
    "service_callback",
)


def remove_litellm_callback(callback: Any) -> None:
    """Unregister a callback everywhere: litellm copies ``litellm.callbacks`` entries into its
    internal success/failure lists on the first call, so clearing ``callbacks`` is not enough."""
    lib = _litellm()
    for name in _CALLBACK_LISTS:
        entries = getattr(lib, name, None)
        if isinstance(entries, list):
            entries[:] = [e for e in entries if e is not callback]


def _is_chat(response: Any) -> bool:
    # Embeddings, images and streaming chunks also reach callbacks: only whole chat answers count.
    choices = getattr(response, "choices", None)
    return (
        isinstance(choices, list)
        and bool(choices)
        and (getattr(choices[0], "message", None) is not None)
    )
