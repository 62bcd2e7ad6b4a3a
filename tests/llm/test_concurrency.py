"""Concurrency bound and rate limits, observed by the server."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from llmassert.config import Settings
from llmassert.llm import LLMRequest
from llmassert.llm.limits import ConcurrencyLimiter, RateBucket
from llmassert.llm.managed_client import build_client
from llmassert.testing.fake_server import FakeLLMServer

from .conftest import user


def test_200_concurrent_requests_respect_the_bound(
    llm_settings: Settings, llm_server: FakeLLMServer
) -> None:
    llm_server.latency_s = 0.02
    client = build_client(llm_settings.replace(max_concurrency=8))
    requests = [
        LLMRequest(model="openai/fake-model", messages=user(f"doc {i}")) for i in range(200)
    ]
    results = asyncio.run(client.agather(requests))
    assert len(results) == 200 and len({r.text for r in results}) == 200
    assert llm_server.stats.requests == 200
    assert 1 < llm_server.stats.max_concurrency <= 8


def test_client_survives_many_event_loops_and_threads(
    llm_settings: Settings, llm_server: FakeLLMServer
) -> None:
    # complete() and asyncio.run() per call, from several threads: no loop-bound state breaks.
    client = build_client(llm_settings.replace(max_concurrency=2, cache_dir=None))
    llm_server.latency_s = 0.01
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(5):
                req = LLMRequest(model="openai/fake-model", messages=user(f"t{n} {i}"))
                if i % 2:
                    client.complete(req)
                else:
                    asyncio.run(client.acomplete(req))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert llm_server.stats.requests == 20 and llm_server.stats.max_concurrency <= 2


def test_cancelled_waiters_do_not_leak_slots() -> None:
    async def scenario() -> int:
        limiter = ConcurrencyLimiter(1)
        await limiter.acquire()
        waiter = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0)
        waiter.cancel()
        limiter.release()
        await asyncio.gather(waiter, return_exceptions=True)
        await asyncio.sleep(0)
        async with limiter.slot():  # would hang if the slot leaked
            return limiter.active

    assert asyncio.run(asyncio.wait_for(scenario(), 5)) == 1


def test_a_waiter_cancelled_after_the_hand_over_passes_the_slot_on() -> None:
    async def scenario() -> int:
        limiter = ConcurrencyLimiter(1)
        await limiter.acquire()
        waiter = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0)  # the waiter parks on its future
        limiter.release()  # the slot goes to the waiter (its hand-over is scheduled)
        await asyncio.sleep(0)  # the hand-over runs: the waiter's future is done
        assert not waiter.done()
        waiter.cancel()  # ... and the waiter is cancelled before it resumes
        await asyncio.gather(waiter, return_exceptions=True)
        assert waiter.cancelled()
        async with limiter.slot():  # would hang if the slot leaked
            return limiter.active

    assert asyncio.run(asyncio.wait_for(scenario(), 5)) == 1


def test_rate_bucket_spaces_reservations_in_order() -> None:
    bucket = RateBucket(60)  # 1 per second, burst of 60
    assert bucket.reserve(60) == 0.0
    waits = [bucket.reserve(1) for _ in range(3)]
    assert waits == sorted(waits)
    assert 0.9 < waits[0] <= 1.0 and 2.9 < waits[2] <= 3.0
    bucket.adjust(-3)  # three reservations returned: the next one needs no extra wait
    assert bucket.reserve(1) <= 1.0


def test_rpm_limit_delays_requests_beyond_the_burst(
    llm_settings: Settings, llm_server: FakeLLMServer
) -> None:
    # 60/min allows a burst of 60, then one per second: the 61st request cannot start before a
    # second has passed since the bucket was made. Measured from before the client exists (the
    # server's clock is this process's monotonic clock), so a slow start of the burst under load
    # cannot shrink the gap the way "last start - first start" did.
    before = time.monotonic()
    client = build_client(llm_settings.replace(rpm=60, cache_dir=None))
    requests = [LLMRequest(model="openai/fake-model", messages=user(f"r{i}")) for i in range(61)]
    asyncio.run(client.agather(requests))
    starts = sorted(r.started for r in llm_server.requests)
    assert len(starts) == 61
    assert starts[-1] - before >= 0.95


def test_sync_call_from_the_llm_loop_is_refused_not_deadlocked(
    llm_settings: Settings, llm_server: FakeLLMServer
) -> None:
    from llmassert.aio import background

    client = build_client(llm_settings)

    async def nested() -> str:
        client.complete(LLMRequest(model="openai/fake-model", messages=user("x")))
        return "unreachable"

    future = asyncio.run_coroutine_threadsafe(nested(), background().loop)
    with pytest.raises(RuntimeError, match="acomplete"):
        future.result(10)
    assert llm_server.stats.requests == 0
