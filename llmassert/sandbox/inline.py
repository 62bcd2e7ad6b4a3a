"""Bounds for assertion code that runs in this process (``load_inline``).

In-process code is either reviewed, or passed :func:`llmassert.sandbox.check_inline_safe`
(statically polynomial in the response size, no size-amplifying operation). On top of that,
every call here, on whatever thread it runs:

- receives a deep-frozen example (``_frozen.freeze``; already-frozen examples are passed as they
  are, so a caller running many checks freezes once);
- runs under a ``timeout_s`` deadline and a ``memory_mb`` bound on the growth of the process's
  resident memory, enforced by one of two drivers that raise an exception the code cannot catch
  (a ``BaseException``; the allowlist refuses catching those and ``return`` in ``finally:``),
  again every 10 ms until the call returns:

  * the main thread, when SIGALRM is free (no other handler installed; llmassert's own, once
    installed, stays in place and does nothing unless a call is running): an interval timer.
    The handler runs between bytecodes and inside the ``re`` engine, which polls for signals;
  * any other thread (and the main thread of an application that owns SIGALRM): the thread
    watchdog (``watchdog.py``). It stops Python-level work but not a C call;

  under either driver every regex call goes through ``_regex.py``, which runs only calls whose
  worst case is bounded and decides alike on every thread (so a verdict does not depend on the
  thread); a call it refuses re-runs in the process sandbox when the caller gave a ``fallback``
  (checks: pure functions of frozen inputs, so the re-run is the same call), or fails with a
  one-line reason;
- turns a timeout, the memory bound, MemoryError and RecursionError into
  :class:`~llmassert.errors.SandboxTimeoutError` / :class:`~llmassert.errors.SandboxError` with
  a one-line reason.
"""

from __future__ import annotations

import _signal
import contextlib
import functools
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from llmassert.errors import SandboxError, SandboxTimeoutError
from llmassert.sandbox import _guards, _regex
from llmassert.sandbox._frozen import FrozenDict, freeze, thaw
from llmassert.sandbox.watchdog import TICK_S, WATCHDOG, Watch, WatchdogStop, rss

DEFAULT_MEMORY_MB = 512
_MAIN: int = threading.main_thread().ident or 0
# signal.getsignal wraps its answer in an enum (~10 us); the C function it wraps does not.
_raw_getsignal = _signal.getsignal
_SIGALRM = int(signal.SIGALRM)
_SIG_DFL, _SIG_IGN = int(signal.SIG_DFL), int(signal.SIG_IGN)


class _InlineTimeout(BaseException):
    """Raised by the deadline; not an ``Exception``, so assertion code cannot catch it."""


class _Deadline:
    """The SIGALRM deadline of the main thread: at most one call is timed at a time.

    The timer fires every :data:`TICK_S` while installed; the handler does nothing unless a
    bounded call is ``armed``, and raises once that call has run ``timeout`` seconds since
    ``started`` or the process has grown by more than ``memory`` bytes since ``rss0`` (read at
    ``start``: the scope's or the call's).
    """

    def __init__(self) -> None:
        self.armed = False
        self.scoped = False
        self.started = 0.0
        self.timeout = 0.0
        self.rss0 = -1
        self.memory = 0
        self.reason = ""
        self.installed: Any = None  # our bound handler, once installed

    def handler(self, _signum: int, _frame: Any) -> None:
        if not self.armed:
            return
        if time.monotonic() - self.started >= self.timeout:
            self.reason = "time"
            raise _InlineTimeout
        if self.memory and rss() - self.rss0 > self.memory:
            self.reason = "memory"
            raise _InlineTimeout

    def usable(self) -> bool:
        if self.armed or self.scoped or threading.get_ident() != _MAIN:
            return False
        current = _raw_getsignal(_SIGALRM)
        if current is self.installed:
            return True
        # Never take over a handler the application installed.
        return current in (_SIG_DFL, _SIG_IGN, None)

    def start(self, memory_bytes: int) -> None:
        # Installed once and then left in place (inactive unless a call is armed): installing
        # a handler costs tens of microseconds, more than a typical check.
        if self.installed is None:
            self.installed = self.handler
            signal.signal(signal.SIGALRM, self.installed)
        elif _raw_getsignal(_SIGALRM) is not self.installed:
            signal.signal(signal.SIGALRM, self.installed)
        self.memory = memory_bytes
        self.rss0 = rss()  # once per scope (one response's checks), a few µs
        signal.setitimer(signal.ITIMER_REAL, TICK_S, TICK_S)


_DEADLINE = _Deadline()


@contextlib.contextmanager
def scope(timeout_s: float, memory_mb: int = DEFAULT_MEMORY_MB) -> Iterator[None]:
    """Time every bounded call inside with one installed timer instead of one per call.

    Several checks on one response pay for the handler, the timer and the memory baseline once;
    each call is still held to its own ``timeout_s`` from its own start. A no-op off the main
    thread (or when the application owns SIGALRM, or inside another scope): each call then
    arms the thread watchdog itself.
    """
    deadline = _DEADLINE
    if not deadline.usable():
        yield
        return
    deadline.start(memory_mb << 20)
    deadline.scoped = True
    try:
        yield
    finally:
        deadline.scoped = False
        while True:  # a late alarm must not escape: retry until the timer is off
            try:
                deadline.armed = False
                signal.setitimer(signal.ITIMER_REAL, 0)
                break
            except _InlineTimeout:
                continue


def frozen_example(example: Any) -> Any:
    """``example`` deep-frozen (itself if it already is)."""
    return example if type(example) is FrozenDict else freeze(example)


Fallback = Callable[[str, tuple[Any, ...]], Any]


def bounded(
    fn: Callable[..., Any],
    *,
    timeout_s: float,
    name: str,
    memory_mb: int = DEFAULT_MEMORY_MB,
    fallback: Fallback | None = None,
) -> Callable[..., Any]:
    """``fn(*args)`` with frozen arguments, time and memory bounds, plain return values,
    one-line failures. ``fallback(name, args)`` runs the call where a regex it makes cannot be
    bounded in this thread (the process sandbox); without one such a call fails."""
    # After one call needed the fallback, later calls off the signal deadline go straight to it.
    prefer_fallback = [False]

    @functools.wraps(fn)
    def call(*args: Any) -> Any:
        # Checks take (example, response); code operations take (doc) or (items): every
        # argument is frozen (strings pass through as they are).
        args = tuple(frozen_example(a) for a in args)
        result = _timed(fn, args, timeout_s, memory_mb << 20, name, fallback, prefer_fallback)
        # Returned containers may hold frozen parts of the inputs: hand back plain copies.
        return result if type(result) is bool else thaw(result)

    call.__dict__["llmassert_bounded"] = True
    call.__dict__["llmassert_timeout"] = timeout_s
    call.__dict__["llmassert_memory_mb"] = memory_mb
    return call


def _timed(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    timeout_s: float,
    memory: int,
    name: str,
    fallback: Fallback | None,
    prefer_fallback: list[bool],
) -> Any:
    deadline = _DEADLINE
    try:
        try:
            if fallback is not None and prefer_fallback[0]:
                return fallback(name, args)
            if threading.get_ident() == _MAIN:
                if deadline.scoped and not deadline.armed:
                    return _alarmed(fn, args, timeout_s, fallback is not None)
                if deadline.usable():
                    deadline.start(memory)
                    try:
                        return _alarmed(fn, args, timeout_s, fallback is not None)
                    finally:
                        while True:
                            try:
                                signal.setitimer(signal.ITIMER_REAL, 0)
                                break
                            except _InlineTimeout:
                                continue
            return _watched(fn, args, timeout_s, memory)
        except _regex.RegexUnbounded as e:
            # On every thread, a regex call whose worst case is not bounded re-runs in the
            # process sandbox (checks and code operations alike), or fails: the same verdict
            # whichever thread checks.
            if fallback is None:
                raise SandboxError(f"{name}: {e}") from None
            prefer_fallback[0] = True
            return fallback(name, args)
    except _InlineTimeout:
        if deadline.reason == "memory":
            raise SandboxError(f"{name}: over the memory limit of {memory >> 20} MB") from None
        raise SandboxTimeoutError(f"{name}: timed out after {timeout_s:g} s") from None
    except _Stopped as stop:
        if stop.kind == "memory":
            raise SandboxError(f"{name}: over the memory limit of {memory >> 20} MB") from None
        raise SandboxTimeoutError(f"{name}: timed out after {timeout_s:g} s") from None
    except _guards.SizeLimitError as e:  # a guarded operation refused to build the value
        raise SandboxError(f"{name}: {e}") from None
    except MemoryError:
        raise SandboxError(f"{name}: MemoryError (out of memory)") from None
    except RecursionError:
        raise SandboxError(f"{name}: RecursionError (nested too deeply)") from None


def _alarmed(fn: Callable[..., Any], args: tuple[Any, ...], timeout_s: float, re_runs: bool) -> Any:
    """``fn(*args)`` armed under the main thread's timer (installed by the caller).

    Regex calls are routed as on every other thread (``_regex.py``), so a check's verdict does
    not depend on the thread that runs it; ``re_runs``: a refused regex would re-run the call
    in the process sandbox (``_regex.ALARMED``). Both marks are set before the alarm is armed
    and cleared after it is disarmed: no alarm can strand them.
    """
    deadline = _DEADLINE
    _regex.RESTRICTED.add(_MAIN)
    if re_runs:
        _regex.ALARMED.add(_MAIN)
    try:
        deadline.timeout = timeout_s
        deadline.reason = ""
        deadline.started = time.monotonic()
        deadline.armed = True
        return fn(*args)
    finally:
        # An alarm may land before `armed = False` runs: catch it and try again, so no
        # _InlineTimeout ever escapes the call it was meant for.
        while True:
            try:
                deadline.armed = False
                break
            except _InlineTimeout:
                continue
        _regex.ALARMED.discard(_MAIN)
        _regex.RESTRICTED.discard(_MAIN)


class _Stopped(Exception):
    """A watched call was stopped (raised after its watch is disarmed); ``kind`` says why."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def _watched(fn: Callable[..., Any], args: tuple[Any, ...], timeout_s: float, memory: int) -> Any:
    """``fn(*args)`` under the thread watchdog, with regex calls restricted to bounded ones."""
    ident = threading.get_ident()
    if ident in WATCHDOG.active:  # already inside a watched call on this thread
        return fn(*args)
    # Inside a call under the main thread's alarm, the thread is restricted already: keep it so.
    routed = ident not in _regex.RESTRICTED
    watch = Watch(ident, timeout_s, memory)
    stopped = False
    result: Any = None
    try:
        _regex.RESTRICTED.add(ident)
        WATCHDOG.arm(watch)
        result = fn(*args)
    except WatchdogStop:
        stopped = True
    finally:
        # A stop may arrive at any bytecode until the watch is disarmed, including inside
        # disarm() itself: retry until it is gone; after that nothing more can be delivered.
        while True:
            try:
                WATCHDOG.disarm(watch)
                if routed:
                    _regex.RESTRICTED.discard(ident)
                break
            except WatchdogStop:
                stopped = True
    if stopped:
        raise _Stopped(watch.reason or "time")
    return result


def unwatched(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with the thread watchdog paused while it runs (for ``llm_judge`` inside checks:
    the LLM layer waits on locks a stop must not interrupt; it has its own request timeout).
    The time it takes still counts against the check's deadline once it returns."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        watch = WATCHDOG.active.get(threading.get_ident())
        if watch is None or watch.done:
            return fn(*args, **kwargs)
        WATCHDOG.pause(watch)
        try:
            return fn(*args, **kwargs)
        finally:
            watch.paused = False

    return call


def is_bounded(fn: Any) -> bool:
    """True for functions wrapped by :func:`bounded` (they take frozen examples)."""
    return bool(getattr(fn, "llmassert_bounded", False))


def bounded_timeout(fn: Any) -> float:
    """The timeout of a :func:`bounded` function (a large value for any other callable)."""
    return float(getattr(fn, "llmassert_timeout", 3600.0))
