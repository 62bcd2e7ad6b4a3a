"""The cluster-wide rate schedule, without Ray: the envelope holds for any arrival pattern."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from llmassert.pipeline.ray_ratelimit import (
    BucketSpec,
    RateSchedule,
    SharedRateLimiter,
    max_window_excess,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("per_minute", [2, 120, 600, 10_000, 2_000_000])
def test_spec_never_exceeds_the_limit_in_any_minute(per_minute: int) -> None:
    spec = BucketSpec.for_limit(per_minute)
    assert spec.envelope(60) == pytest.approx(per_minute)
    assert spec.capacity >= 1  # a single request always fits
    assert spec.rate <= per_minute / 60
    if per_minute >= 120:
        # The price of the hard guarantee: a sustained rate a few percent under per_minute / 60.
        assert spec.rate > 0.97 * per_minute / 60


def test_one_request_at_a_time_is_paced_at_the_rate() -> None:
    clock = FakeClock()
    sched = RateSchedule(rpm=600, tpm=None, clock=clock)
    spec = sched.specs()["requests"]
    delays = sched.reserve([0.0] * 40)
    # The first `capacity` go at once, then one every 1/rate seconds.
    burst = int(spec.capacity)
    assert delays[:burst] == [0.0] * burst
    gaps = [b - a for a, b in zip(delays[burst:], delays[burst + 1 :], strict=False)]
    assert all(g == pytest.approx(1 / spec.rate) for g in gaps)


def test_random_workers_never_break_the_envelope() -> None:
    """Many workers reserving batches at random moments: the schedule fits capacity + rate × w."""
    rng = random.Random(7)
    clock = FakeClock()
    sched = RateSchedule(rpm=1200, tpm=60_000, clock=clock)
    req_spec, tok_spec = sched.specs()["requests"], sched.specs()["tokens"]
    sends: list[float] = []
    token_sends: list[tuple[float, float]] = []
    for _ in range(300):
        clock.now += rng.expovariate(8.0)
        estimates = [rng.choice([50.0, 200.0, 900.0]) for _ in range(rng.randint(0, 6))]
        for est, delay in zip(estimates, sched.reserve(estimates), strict=True):
            sends.append(clock.now + delay)
            token_sends.append((clock.now + delay, est))
    # The raw schedule (no lag) fits the bucket exactly.
    strict = BucketSpec(req_spec.per_minute, req_spec.rate, req_spec.capacity, lag_s=0.0)
    assert max_window_excess(sends, strict) <= 1e-9
    # Tokens: the same envelope, weighted by the estimates.
    token_sends.sort()
    for i in range(len(token_sends)):
        total = 0.0
        for j in range(i, len(token_sends)):
            total += token_sends[j][1]
            window = token_sends[j][0] - token_sends[i][0]
            assert total <= tok_spec.capacity + tok_spec.rate * window + 1e-6
    # FIFO: slots never go backwards.
    assert sends == sorted(sends)


def test_token_overruns_delay_the_next_requests() -> None:
    clock = FakeClock()
    sched = RateSchedule(rpm=None, tpm=6_000, clock=clock)
    spec = sched.specs()["tokens"]
    assert sched.reserve([spec.capacity]) == [0.0]
    # The call used 500 more tokens than estimated: the next one waits for them too.
    (delay,) = sched.reserve([10.0], token_correction=500.0)
    assert delay == pytest.approx((500.0 + 10.0) / spec.rate)
    assert sched.stats.tokens_corrected == 500.0


def test_a_request_larger_than_the_bucket_is_capped_not_stuck() -> None:
    clock = FakeClock()
    sched = RateSchedule(rpm=None, tpm=1_000, clock=clock)
    (delay,) = sched.reserve([10**9])
    assert delay == 0.0


def test_shared_limiter_batches_waiting_requests_into_one_call() -> None:
    """Concurrent acquirers share round trips; slots are honoured; stale slots are re-asked."""
    sched = RateSchedule(rpm=3000, tpm=None)
    calls: list[int] = []

    async def reserve(estimates: list[float], correction: float) -> list[float]:
        calls.append(len(estimates))
        await asyncio.sleep(0.01)  # a round trip to the actor
        return sched.reserve(estimates, correction)

    limiter = SharedRateLimiter(reserve, lag_s=0.5)
    sent: list[float] = []

    async def one() -> None:
        await limiter.acquire(0.0)
        sent.append(time.monotonic())

    async def main() -> None:
        await asyncio.gather(*(one() for _ in range(120)))

    asyncio.run(main())
    assert len(sent) == 120
    assert sum(calls) == 120
    assert len(calls) < 10  # 120 acquirers, a handful of round trips
    spec = sched.specs()["requests"]
    # Local timing noise (event loop wake-ups) is within the lag the spec allows.
    assert max_window_excess(sent, spec) <= 0


def test_shared_limiter_piggybacks_token_corrections() -> None:
    seen: list[float] = []

    async def reserve(estimates: list[float], correction: float) -> list[float]:
        seen.append(correction)
        return [0.0] * len(estimates)

    limiter = SharedRateLimiter(reserve)

    async def main() -> None:
        await limiter.acquire(100)
        limiter.settle(40)
        limiter.settle(-15)
        await limiter.acquire(100)
        limiter.settle(7)
        await limiter.aflush_corrections()

    asyncio.run(main())
    assert seen == [0.0, 25.0, 7.0]


def test_shared_limiter_surfaces_actor_failures_to_every_waiter() -> None:
    async def reserve(estimates: list[float], correction: float) -> list[float]:
        raise ConnectionError("actor died")

    limiter = SharedRateLimiter(reserve)

    async def main() -> list[BaseException | None]:
        return list(
            await asyncio.gather(*(limiter.acquire(1) for _ in range(3)), return_exceptions=True)
        )

    results = asyncio.run(main())
    assert all(isinstance(r, ConnectionError) for r in results)
