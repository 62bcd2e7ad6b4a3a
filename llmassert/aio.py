"""The process's background event loop (the LLM layer and litellm run on it) and `run_sync`.

:func:`run_sync` is the one way sync code runs a coroutine (``Client.complete``,
``AssertionSet.check_many``, ``label``'s generation; with ``here=True``, CPU-bound work:
``synthesize``, ``evaluate``, ``offline_candidates``, ``llmassert test``): on this loop, with the
caller's context variables (the current client, the judge's repeat index), also when the caller
is itself inside an event loop (a notebook), where ``asyncio.run`` refuses to start.  Ctrl-C
cancels the coroutine and waits for its cleanup, as ``asyncio.run`` does.  The one other
``asyncio.run`` is ``pipeline/runner.py``'s ``Runner.run``: a pipeline run is a command's
top-level loop, owned by the run (its requests leave from it through ``direct_session``; its
Ctrl-C flushes checkpoints), and it calls back into sync code that may itself use
:func:`run_sync`, which on the shared background loop would be a refused re-entry.
The sync API runs calls here so connection pools stay warm between calls.
litellm caches HTTP sessions and starts a logging worker bound to the loop it first runs on; when
callers use ``asyncio.run`` per call, those go stale ("event loop changed", "Task was destroyed but
it is pending").  Running every litellm call on this one long-lived loop avoids all of that.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from llmassert.lazy import once

T = TypeVar("T")
P = ParamSpec("P")


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="llmassert-llm", daemon=True
        )
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` to completion from synchronous code.

        ``run_coroutine_threadsafe`` schedules the task in a copy of the caller's context, so
        ContextVars set by the caller are seen by the coroutine.
        """
        if _running_loop() is self.loop:
            # Blocking this loop while the call needs it to make progress would deadlock.
            coro.close()
            raise RuntimeError(
                "a synchronous LLM call was made from code running on llmassert's LLM loop "
                "(e.g. an async litellm callback); use `await client.acomplete(...)` there"
            )
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except KeyboardInterrupt:
            # Ctrl-C in the caller (a command's main thread): cancel the coroutine and wait
            # for its cleanup (``finally`` blocks, sandboxes closed, temporary folders
            # removed), as ``asyncio.run`` does; a second Ctrl-C stops waiting.
            future.cancel()
            asyncio.run_coroutine_threadsafe(_settled(coro), self.loop).result()
            raise

    async def await_(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on this loop from any loop (cancellation propagates)."""
        if _running_loop() is self.loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))


async def _settled(coro: Coroutine[Any, Any, Any]) -> None:
    """Return once the task running ``coro`` (cancelled by the caller) has finished."""
    for task in asyncio.all_tasks():
        if task.get_coro() is coro:
            await asyncio.wait([task])
            return


@once
def background() -> LoopThread:
    """The process-wide background loop (started on first use)."""
    return LoopThread()


def run_sync(coro: Coroutine[Any, Any, T], *, here: bool = False) -> T:
    """Run ``coro`` from sync code on the background loop (see the module doc).

    ``here``: for work that is mostly CPU (checks, synthesis), run it on the calling thread, in
    an event loop of its own, when that thread has none running: the main thread keeps its
    SIGALRM deadline for in-process checks (cheaper than the watchdog) and Ctrl-C is
    ``asyncio.run``'s; LLM calls inside still reach the background loop through the client.
    Inside a running loop (a notebook) it runs on the background loop like any other call.
    """
    if here and _running_loop() is None:
        return asyncio.run(coro)
    return background().run(coro)


def blocking(fn: Callable[P, Coroutine[Any, Any, T]], *, here: bool = False) -> Callable[P, T]:
    """The synchronous version of the coroutine function ``fn``: each call goes through
    :func:`run_sync` (``here`` as there). Name and docstring are ``fn``'s, without its "a"."""

    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        return run_sync(fn(*args, **kwargs), here=here)

    call.__name__ = call.__qualname__ = fn.__name__.removeprefix("a")
    return call


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
