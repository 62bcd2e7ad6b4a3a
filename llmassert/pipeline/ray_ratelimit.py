"""One rate limit for a whole Ray cluster: requests and tokens per minute, shared by all workers.

Every worker process talks to the provider through its own LLM client; left alone, N workers
with a per-process limit of ``rpm`` would send up to N × ``rpm``.  Instead, one Ray actor owns a
schedule (:class:`RateSchedule`) and every worker asks it *when* each of its next requests may
be sent (:class:`SharedRateLimiter`).

The schedule is a two-resource token bucket in its reservation form (GCRA): each request
reserves 1 request and its estimated tokens, is given the earliest send time at which both
buckets hold enough, and both buckets are charged as of that time.  Requests are served in the
order their reservations reach the actor (FIFO across the cluster, no polling, no starvation).

Keeping the actor off the hot path: a worker sends one ``reserve`` call for *all* of its requests
waiting at that moment (and piggybacks the token corrections of finished calls on it), so the
actor sees at most one call per worker per round trip, whatever the worker's concurrency.

The guarantee, precisely (``spec = BucketSpec.for_limit(per_minute)``): the sends of any window
of ``w`` seconds number at most ``spec.envelope(w) = capacity + rate × (w + lag_s)``, and
``spec.envelope(60) == per_minute``, so no 60-second window ever exceeds the provider's limit.
``lag_s`` bounds how late a worker may use a send time: a worker that wakes up later than
``lag_s`` after its slot (a stalled event loop, a long GC pause) throws the slot away and
reserves again, so a late worker can never bunch up requests.  For tokens the same holds for the
*estimated* tokens (prompt estimate + ``max_tokens``); actual usage is known only after the call
and its difference is charged to the bucket afterwards, delaying later requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_BURST_S = 1.0
DEFAULT_LAG_S = 0.5


@dataclass(frozen=True)
class BucketSpec:
    """Rate and capacity of one bucket, derived so that every minute stays within the limit."""

    per_minute: float
    rate: float  # units refilled per second
    capacity: float  # the largest burst
    lag_s: float  # how late a slot may still be used

    @classmethod
    def for_limit(
        cls, per_minute: float, *, burst_s: float = DEFAULT_BURST_S, lag_s: float = DEFAULT_LAG_S
    ) -> BucketSpec:
        """Solve ``capacity + rate × (60 + lag_s) == per_minute`` with ``capacity = rate × burst_s``.

        The sustained rate is ``per_minute / (60 + burst_s + lag_s)`` per second: with the
        defaults 2.4 % below ``per_minute / 60``, the price of a hard per-minute guarantee.
        """
        if per_minute <= 0:
            raise ValueError("per_minute must be > 0")
        rate = per_minute / (60.0 + burst_s + lag_s)
        capacity = max(1.0, rate * burst_s)
        rate = (
            min(rate, (per_minute - capacity) / (60.0 + lag_s)) if per_minute > capacity else rate
        )
        return cls(per_minute=per_minute, rate=rate, capacity=capacity, lag_s=lag_s)

    def envelope(self, window_s: float) -> float:
        """The most units any window of ``window_s`` seconds can see."""
        return self.capacity + self.rate * (window_s + self.lag_s)


@dataclass
class _Bucket:
    spec: BucketSpec
    level: float
    stamp: float  # time at which ``level`` holds; the last slot handed out (may be in the future)

    def earliest(self, amount: float, now: float) -> float:
        """The first time >= now (and >= the last slot) at which ``amount`` is available."""
        start = max(now, self.stamp)
        level = min(self.spec.capacity, self.level + (start - self.stamp) * self.spec.rate)
        return start + max(0.0, (amount - level) / self.spec.rate)

    def take(self, amount: float, at: float) -> None:
        level = min(self.spec.capacity, self.level + (at - self.stamp) * self.spec.rate)
        self.level, self.stamp = level - amount, at

    def charge(self, delta: float, now: float) -> None:
        """Correct the level by ``delta`` units (positive = more was used than reserved)."""
        at = max(now, self.stamp)
        level = min(self.spec.capacity, self.level + (at - self.stamp) * self.spec.rate)
        self.level, self.stamp = min(self.spec.capacity, level - delta), at


@dataclass
class ScheduleStats:
    reserve_calls: int = 0
    requests: int = 0
    tokens_reserved: float = 0.0
    tokens_corrected: float = 0.0
    max_delay_s: float = 0.0


class RateSchedule:
    """The cluster's send schedule for requests (rpm) and estimated tokens (tpm). Pure logic.

    ``clock`` is injectable so the schedule can be tested without waiting.
    """

    def __init__(
        self,
        rpm: float | None,
        tpm: float | None,
        *,
        burst_s: float = DEFAULT_BURST_S,
        lag_s: float = DEFAULT_LAG_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.lag_s = lag_s
        now = clock()
        self.requests = (
            _new_bucket(BucketSpec.for_limit(rpm, burst_s=burst_s, lag_s=lag_s), now)
            if rpm
            else None
        )
        self.tokens = (
            _new_bucket(BucketSpec.for_limit(tpm, burst_s=burst_s, lag_s=lag_s), now)
            if tpm
            else None
        )
        self.stats = ScheduleStats()

    def reserve(self, token_estimates: list[float], token_correction: float = 0.0) -> list[float]:
        """Slots for requests with these token estimates, in order: seconds from now to each.

        ``token_correction`` (actual minus estimated tokens of calls finished since the caller's
        last reservation) is charged first, so overruns delay the requests that follow.
        """
        now = self.clock()
        st = self.stats
        st.reserve_calls += 1
        if self.tokens is not None and token_correction:
            self.tokens.charge(token_correction, now)
            st.tokens_corrected += token_correction
        delays: list[float] = []
        for estimate in token_estimates:
            # A request larger than the whole bucket could never be sent: cap it at one burst.
            tok = min(max(0.0, float(estimate)), self.tokens.spec.capacity) if self.tokens else 0.0
            at = now
            if self.requests is not None:
                at = max(at, self.requests.earliest(1.0, now))
            if self.tokens is not None:
                at = max(at, self.tokens.earliest(tok, now))
            if self.requests is not None:
                self.requests.take(1.0, at)
            if self.tokens is not None:
                self.tokens.take(tok, at)
            delays.append(at - now)
            st.requests += 1
            st.tokens_reserved += tok
            st.max_delay_s = max(st.max_delay_s, at - now)
        return delays

    def specs(self) -> dict[str, BucketSpec]:
        out: dict[str, BucketSpec] = {}
        if self.requests is not None:
            out["requests"] = self.requests.spec
        if self.tokens is not None:
            out["tokens"] = self.tokens.spec
        return out


def _new_bucket(spec: BucketSpec, now: float) -> _Bucket:
    return _Bucket(spec=spec, level=spec.capacity, stamp=now)


# -- the worker side ------------------------------------------------------------------------

ReserveFn = Callable[[list[float], float], Awaitable[list[float]]]


@dataclass
class _LoopQueue:
    """Requests of one event loop waiting for their slots, and the batch call in flight."""

    waiting: list[tuple[float, asyncio.Future[tuple[float, float]]]] = field(default_factory=list)
    flusher: asyncio.Task[None] | None = None


class SharedRateLimiter:
    """A worker's handle on the cluster schedule; plugs into the LLM client's rate-limit hook.

    ``acquire(tokens)`` returns when one request with that token estimate may be sent;
    ``settle(delta)`` reports actual minus estimated tokens once a call's usage is known.
    """

    def __init__(self, reserve: ReserveFn, *, lag_s: float = DEFAULT_LAG_S) -> None:
        self._reserve = reserve
        self.lag_s = lag_s
        self._lock = threading.Lock()
        self._correction = 0.0
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopQueue] = (
            weakref.WeakKeyDictionary()
        )
        self.reserve_calls = 0
        self.stale_slots = 0

    async def acquire(self, tokens: float = 0.0) -> None:
        loop = asyncio.get_running_loop()
        while True:
            fut: asyncio.Future[tuple[float, float]] = loop.create_future()
            queue = self._queues.setdefault(loop, _LoopQueue())
            queue.waiting.append((tokens, fut))
            if queue.flusher is None or queue.flusher.done():
                queue.flusher = loop.create_task(self._flush(queue))
            asked_at, delay = await fut
            if delay > 0:
                await asyncio.sleep(delay)
            # Used too late, the slot could bunch up with later ones: give it up, ask again.
            if time.monotonic() <= asked_at + delay + self.lag_s:
                return
            self.stale_slots += 1

    def settle(self, delta_tokens: float) -> None:
        if delta_tokens:
            with self._lock:
                self._correction += delta_tokens

    async def _flush(self, queue: _LoopQueue) -> None:
        # Everything that queued up while the previous call was in flight goes in one call.
        while queue.waiting:
            batch, queue.waiting = queue.waiting, []
            with self._lock:
                correction, self._correction = self._correction, 0.0
            asked_at = time.monotonic()
            try:
                delays = await self._reserve([t for t, _ in batch], correction)
            except BaseException as e:
                with self._lock:
                    self._correction += correction
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(e if isinstance(e, Exception) else RuntimeError(str(e)))
                if not isinstance(e, Exception):
                    raise
                continue
            self.reserve_calls += 1
            for (_, fut), delay in zip(batch, delays, strict=True):
                if not fut.done():
                    fut.set_result((asked_at, delay))

    async def aflush_corrections(self) -> None:
        """Send pending token corrections now (at the end of a worker's batch)."""
        with self._lock:
            correction, self._correction = self._correction, 0.0
        if correction:
            await self._reserve([], correction)


# -- the Ray actor --------------------------------------------------------------------------


class _RateLimitActorImpl:
    """Body of the Ray actor (kept plain so the logic stays importable without Ray)."""

    def __init__(self, rpm: float | None, tpm: float | None, burst_s: float, lag_s: float) -> None:
        self.schedule = RateSchedule(rpm, tpm, burst_s=burst_s, lag_s=lag_s)

    def reserve(self, token_estimates: list[float], token_correction: float) -> list[float]:
        return self.schedule.reserve(token_estimates, token_correction)

    def stats(self) -> dict[str, Any]:
        specs = {k: vars(v) for k, v in self.schedule.specs().items()}
        return {**asdict(self.schedule.stats), "specs": specs}


_actor_class: Any = None


def _remote_class() -> Any:
    global _actor_class
    if _actor_class is None:
        import ray

        # num_cpus=0: the actor is tiny and must never wait for a CPU held by the workers.
        # Restarted if its process dies (with a full bucket: at most one extra burst).
        _actor_class = ray.remote(num_cpus=0, max_restarts=3, max_task_retries=3)(
            _RateLimitActorImpl
        )
    return _actor_class


@dataclass(frozen=True)
class RateLimitHandle:
    """What the driver ships to workers: the actor handle and the lag it was built with."""

    actor: Any
    lag_s: float

    def limiter(self) -> SharedRateLimiter:
        actor = self.actor

        async def reserve(estimates: list[float], correction: float) -> list[float]:
            result: list[float] = await actor.reserve.remote(estimates, correction)
            return result

        return SharedRateLimiter(reserve, lag_s=self.lag_s)

    async def astats(self) -> dict[str, Any]:
        """Reservation calls, requests scheduled, tokens, the longest wait handed out."""
        result: dict[str, Any] = await self.actor.stats.remote()
        return result

    def kill(self) -> None:
        import ray

        with contextlib.suppress(Exception):
            ray.kill(self.actor)


def start_rate_limiter(
    rpm: int | None,
    tpm: int | None,
    *,
    burst_s: float = DEFAULT_BURST_S,
    lag_s: float = DEFAULT_LAG_S,
) -> RateLimitHandle | None:
    """Create the cluster's limiter actor (owned by the driver; dies with it). None if unlimited."""
    if not rpm and not tpm:
        return None
    actor = _remote_class().remote(rpm, tpm, burst_s, lag_s)
    return RateLimitHandle(actor=actor, lag_s=lag_s)


def max_window_excess(times: list[float], spec: BucketSpec) -> float:
    """max over all windows of (sends in the window − spec.envelope(window length)).

    ``times`` are send (or server-observed arrival) times; a value <= 0 means the envelope held
    for every window.  Windows that matter start and end on a send, so all pairs are checked.
    """
    ts = sorted(times)
    worst = -math.inf
    for i in range(len(ts)):
        for j in range(i, len(ts)):
            worst = max(worst, (j - i + 1) - spec.envelope(ts[j] - ts[i]))
    return worst
