"""Bounds for assertion code that runs in this process (``load_inline``).

In-process code is either reviewed, or passed :func:`llmassert.sandbox.check_inline_safe`
(statically polynomial in the response size). On top of that, every call here:

- receives a deep-frozen example (``_frozen.freeze``; already-frozen examples are passed as they
  are, so a caller running many checks freezes once);
- runs under a ``timeout_s`` deadline when the caller is on the main thread and SIGALRM is free
  (no other handler installed): an uncatchable ``BaseException`` raised at the deadline (and
  every 50 ms after, until the call returns) stops Python loops and the ``re`` engine alike,
  and becomes :class:`~llmassert.errors.SandboxTimeoutError`. Off the main thread no signal can
  be delivered, and only the static bound holds;
- turns MemoryError and RecursionError into a one-line :class:`~llmassert.errors.SandboxError`.
"""

from __future__ import annotations

import functools
import signal
import threading
from collections.abc import Callable
from typing import Any

from llmassert.errors import SandboxError, SandboxTimeoutError
from llmassert.sandbox._frozen import FrozenDict, freeze

REFIRE_S = 0.05


class _InlineTimeout(BaseException):
    """Raised by the deadline; not an ``Exception``, so assertion code cannot catch it."""


class _Deadline:
    """One SIGALRM deadline at a time, for the main thread only."""

    def __init__(self) -> None:
        self.armed = False

    def handler(self, _signum: int, _frame: Any) -> None:
        if self.armed:
            raise _InlineTimeout

    def usable(self) -> bool:
        if threading.current_thread() is not threading.main_thread() or self.armed:
            return False
        current = signal.getsignal(signal.SIGALRM)
        # Never take over a handler the application installed.
        return current in (signal.SIG_DFL, signal.SIG_IGN, None) or current == self.handler


_DEADLINE = _Deadline()


def frozen_example(example: Any) -> Any:
    """``example`` deep-frozen (itself if it already is)."""
    return example if type(example) is FrozenDict else freeze(example)


def _disarm(deadline: _Deadline, previous: Any) -> None:
    # A last alarm may land before `armed = False` runs: catch it and try again, so no
    # _InlineTimeout ever escapes and the host's SIGALRM disposition is always restored.
    while True:
        try:
            deadline.armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)
            return
        except _InlineTimeout:
            continue


def bounded(fn: Callable[..., Any], *, timeout_s: float, name: str) -> Callable[[Any, str], Any]:
    """``fn(example, response)`` with a frozen example, a deadline, and one-line failures."""

    @functools.wraps(fn)
    def call(example: Any, response: str) -> Any:
        example = frozen_example(example)
        if type(response) is not str:
            response = str(response)
        deadline = _DEADLINE
        timed = deadline.usable()
        try:
            if not timed:
                return fn(example, response)
            previous = signal.signal(signal.SIGALRM, deadline.handler)
            try:
                deadline.armed = True
                signal.setitimer(signal.ITIMER_REAL, timeout_s, REFIRE_S)
                return fn(example, response)
            finally:
                _disarm(deadline, previous)
        except _InlineTimeout:
            raise SandboxTimeoutError(f"{name}: timed out after {timeout_s:g} s") from None
        except MemoryError:
            raise SandboxError(f"{name}: MemoryError (out of memory)") from None
        except RecursionError:
            raise SandboxError(f"{name}: RecursionError (nested too deeply)") from None

    call.__dict__["llmassert_bounded"] = True
    return call


def is_bounded(fn: Any) -> bool:
    """True for functions wrapped by :func:`bounded` (they take frozen examples)."""
    return bool(getattr(fn, "llmassert_bounded", False))
