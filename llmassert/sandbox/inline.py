"""Bounds for assertion code that runs in this process (``load_inline``).

In-process code is either reviewed, or passed :func:`llmassert.sandbox.check_inline_safe`
(statically polynomial in the response size). On top of that, every call here:

- receives a deep-frozen example (``_frozen.freeze``; already-frozen examples are passed as they
  are, so a caller running many checks freezes once);
- runs under a ``timeout_s`` deadline when the caller is on the main thread and SIGALRM is free
  (no other handler installed; llmassert's own handler, once installed, stays in place and does
  nothing unless a call is running): an uncatchable ``BaseException`` raised at the deadline (and
  every 50 ms after, until the call returns) stops Python loops and the ``re`` engine alike,
  and becomes :class:`~llmassert.errors.SandboxTimeoutError`. Off the main thread no signal can
  be delivered, and only the static bound holds;
- turns MemoryError and RecursionError into a one-line :class:`~llmassert.errors.SandboxError`.
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
from llmassert.sandbox._frozen import FrozenDict, freeze, thaw

REFIRE_S = 0.05
# signal.getsignal wraps its answer in an enum (~10 us); the C function it wraps does not.
_raw_getsignal = _signal.getsignal
_SIGALRM = int(signal.SIGALRM)
_SIG_DFL, _SIG_IGN = int(signal.SIG_DFL), int(signal.SIG_IGN)


class _InlineTimeout(BaseException):
    """Raised by the deadline; not an ``Exception``, so assertion code cannot catch it."""


class _Deadline:
    """The SIGALRM deadline of the main thread: at most one call is timed at a time.

    ``armed`` is True only while a bounded function runs; the handler then raises once the
    call has run ``timeout`` seconds since ``started`` (re-arming itself for the rest of the
    time if it fired early, as it does inside a :func:`scope` shared by several calls).
    """

    def __init__(self) -> None:
        self.armed = False
        self.scoped = False
        self.started = 0.0
        self.timeout = 0.0
        self.installed: Any = None  # our bound handler, once installed

    def handler(self, _signum: int, _frame: Any) -> None:
        if not self.armed:
            return
        left = self.started + self.timeout - time.monotonic()
        if left > 0.001:
            signal.setitimer(signal.ITIMER_REAL, left, REFIRE_S)
            return
        raise _InlineTimeout

    def usable(self) -> bool:
        if self.armed or self.scoped or threading.current_thread() is not threading.main_thread():
            return False
        current = _raw_getsignal(_SIGALRM)
        if current is self.installed:
            return True
        # Never take over a handler the application installed.
        return current in (_SIG_DFL, _SIG_IGN, None)

    def start(self, timeout_s: float) -> None:
        # Installed once and then left in place (inactive unless a call is armed): installing
        # a handler costs tens of microseconds, more than a typical check.
        if self.installed is None:
            self.installed = self.handler
            signal.signal(signal.SIGALRM, self.installed)
        elif _raw_getsignal(_SIGALRM) is not self.installed:
            signal.signal(signal.SIGALRM, self.installed)
        signal.setitimer(signal.ITIMER_REAL, timeout_s, REFIRE_S)

    def release(self) -> None:
        # An alarm may land before `armed = False` runs: catch it and try again, so no
        # _InlineTimeout ever escapes the call it was meant for.
        while True:
            try:
                self.armed = False
                return
            except _InlineTimeout:
                continue

    def stop(self) -> None:
        while True:
            try:
                self.armed = False
                signal.setitimer(signal.ITIMER_REAL, 0)
                return
            except _InlineTimeout:
                continue


_DEADLINE = _Deadline()


@contextlib.contextmanager
def scope(timeout_s: float) -> Iterator[None]:
    """Time every bounded call inside with one installed timer instead of one per call.

    Several checks on one response pay for the handler and the timer once; each call is still
    held to its own ``timeout_s`` from its own start. A no-op off the main thread (or when the
    application owns SIGALRM, or inside another scope).
    """
    deadline = _DEADLINE
    if not deadline.usable():
        yield
        return
    deadline.start(timeout_s)
    deadline.scoped = True
    try:
        yield
    finally:
        deadline.scoped = False
        deadline.stop()


def frozen_example(example: Any) -> Any:
    """``example`` deep-frozen (itself if it already is)."""
    return example if type(example) is FrozenDict else freeze(example)


def bounded(fn: Callable[..., Any], *, timeout_s: float, name: str) -> Callable[..., Any]:
    """``fn(*args)`` with frozen arguments, a deadline, plain return values, one-line failures."""

    @functools.wraps(fn)
    def call(*args: Any) -> Any:
        # Checks take (example, response); code operations take (doc) or (items): every
        # argument is frozen (strings pass through as they are).
        args = tuple(frozen_example(a) for a in args)
        result = _timed(fn, args, timeout_s, name)
        # Returned containers may hold frozen parts of the inputs: hand back plain copies.
        return result if type(result) is bool else thaw(result)

    call.__dict__["llmassert_bounded"] = True
    call.__dict__["llmassert_timeout"] = timeout_s
    return call


def _timed(fn: Callable[..., Any], args: tuple[Any, ...], timeout_s: float, name: str) -> Any:
    deadline = _DEADLINE
    try:
        if deadline.scoped and not deadline.armed:
            try:
                deadline.timeout = timeout_s
                deadline.started = time.monotonic()
                deadline.armed = True
                return fn(*args)
            finally:
                deadline.release()
        if not deadline.usable():
            return fn(*args)
        deadline.start(timeout_s)
        try:
            deadline.timeout = timeout_s
            deadline.started = time.monotonic()
            deadline.armed = True
            return fn(*args)
        finally:
            deadline.stop()
    except _InlineTimeout:
        raise SandboxTimeoutError(f"{name}: timed out after {timeout_s:g} s") from None
    except MemoryError:
        raise SandboxError(f"{name}: MemoryError (out of memory)") from None
    except RecursionError:
        raise SandboxError(f"{name}: RecursionError (nested too deeply)") from None


def is_bounded(fn: Any) -> bool:
    """True for functions wrapped by :func:`bounded` (they take frozen examples)."""
    return bool(getattr(fn, "llmassert_bounded", False))


def bounded_timeout(fn: Any) -> float:
    """The timeout of a :func:`bounded` function (a large value for any other callable)."""
    return float(getattr(fn, "llmassert_timeout", 3600.0))
