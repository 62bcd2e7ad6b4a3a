"""`once`: a process-wide value built by the first caller, also when threads race for it."""

from __future__ import annotations

import threading
import time

import pytest

from llmassert.lazy import once


def test_threads_racing_the_first_call_share_one_build() -> None:
    builds: list[int] = []

    @once
    def value() -> object:
        time.sleep(0.05)  # long enough for every thread to arrive while the first builds
        builds.append(1)
        return object()

    start = threading.Barrier(8)
    got: list[object] = []

    def worker() -> None:
        start.wait()
        got.append(value())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert builds == [1]
    assert len(got) == 8 and all(g is got[0] for g in got)
    assert value() is got[0]


def test_a_failed_build_is_tried_again() -> None:
    calls: list[int] = []

    @once
    def flaky() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("not yet")
        return 7

    with pytest.raises(OSError, match="not yet"):
        flaky()
    assert flaky() == 7 and flaky() == 7
    assert len(calls) == 2
