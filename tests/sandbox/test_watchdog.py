"""In-process bounds on any thread (sandbox/inline.py + watchdog.py): a timeout or the memory
bound stops the call with a one-line error, and no stop ever reaches code after the call."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from llmassert.errors import SandboxError, SandboxTimeoutError
from llmassert.sandbox import _regex, load_inline
from llmassert.sandbox.watchdog import WATCHDOG

LOOP = """
def spin(example, response):
    n = 0
    for i in range(len(response)):
        for j in range(len(response)):
            n += 1
    return n > 0


def short(example, response):
    n = 0
    for i in range(len(response)):
        n += 1
    return n > 0


def grow(example, response):
    parts = []
    for i in range(len(response)):
        for j in range(len(response)):
            parts.append(response + str(j))
    return len(parts) < 0


def redos(example, response):
    import re
    return re.search(r"(?=a*a*a*a*b)", response) is not None
"""


def _on_thread(fn: Callable[[], Any]) -> Any:
    box: list[Any] = []

    def target() -> None:
        try:
            box.append(("ok", fn()))
        except BaseException as e:
            box.append(("raised", e))

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(60)
    assert not thread.is_alive()
    return box[0]


def test_a_loop_on_a_worker_thread_times_out_with_one_line() -> None:
    spin = load_inline(LOOP, timeout_s=0.3)["spin"]
    start = time.monotonic()
    kind, value = _on_thread(lambda: spin({}, "a" * 5000))
    assert kind == "raised" and isinstance(value, SandboxTimeoutError)
    assert value.message == "spin: timed out after 0.3 s"
    assert time.monotonic() - start < 5
    assert not WATCHDOG.active and not _regex.RESTRICTED


def test_no_stop_reaches_the_caller_after_calls_that_end_near_their_deadline() -> None:
    # Calls that finish around their deadline race the watchdog; whatever it does, nothing
    # may be delivered after the call returned or raised its own error.
    fns = load_inline(LOOP, timeout_s=0.02)

    def many() -> int:
        outcomes = 0
        for n in range(400, 4000, 30):
            with contextlib.suppress(SandboxTimeoutError):
                fns["short"]({}, "a" * (n * 40))
            outcomes += 1
            total = 0
            for i in range(20000):  # plain Python after the call: a late stop would land here
                total += i
        return outcomes

    kind, value = _on_thread(many)
    assert kind == "ok", value
    assert not WATCHDOG.active


def test_memory_bound_on_a_worker_thread() -> None:
    grow = load_inline(LOOP, timeout_s=30, memory_mb=128)["grow"]
    kind, value = _on_thread(lambda: grow({}, "m" * 20000))
    assert kind == "raised" and isinstance(value, SandboxError)
    assert value.message == "grow: over the memory limit of 128 MB"


def test_memory_bound_on_the_main_thread() -> None:
    grow = load_inline(LOOP, timeout_s=30, memory_mb=128)["grow"]
    with pytest.raises(SandboxError, match="grow: over the memory limit of 128 MB"):
        grow({}, "m" * 20000)


def test_unbounded_regex_off_the_main_thread_re_runs_in_the_process_sandbox() -> None:
    with_fallback = load_inline(LOOP, timeout_s=0.5, process_fallback=True)["redos"]
    kind, value = _on_thread(lambda: with_fallback({}, "a" * 3000))
    # The worker runs stdlib under its own alarm: a timeout, not a hang.
    assert kind == "raised" and isinstance(value, SandboxTimeoutError), value
    without = load_inline(LOOP, timeout_s=0.5)["redos"]
    kind, value = _on_thread(lambda: without({}, "a" * 3000))
    assert kind == "raised" and isinstance(value, SandboxError)
    assert "has no exact linear-time equivalent" in value.message


def test_an_application_that_owns_sigalrm_keeps_it_and_still_gets_a_deadline() -> None:
    fired: list[int] = []

    def app_handler(signum: int, _frame: Any) -> None:
        fired.append(signum)

    previous = signal.signal(signal.SIGALRM, app_handler)
    try:
        spin = load_inline(LOOP, timeout_s=0.3)["spin"]
        start = time.monotonic()
        with pytest.raises(SandboxTimeoutError, match=r"timed out after 0\.3 s"):
            spin({}, "a" * 5000)  # main thread, SIGALRM taken: the watchdog stops it
        assert time.monotonic() - start < 5
        assert signal.getsignal(signal.SIGALRM) is app_handler
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert not fired
