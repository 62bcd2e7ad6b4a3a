"""Concurrency bound and per-minute rate limits that work across event loops.

``LLMClient.complete`` may run each call in a fresh event loop, and a client is shared between
threads; ``asyncio.Semaphore`` binds itself to the first loop that waits on it and then fails in
any other.  These primitives keep their state under a ``threading.Lock`` and park waiters on
futures of the waiter's own loop, woken with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from typing import Protocol


class ConcurrencyLimiter:
    """At most ``limit`` holders at once, across all loops and threads (FIFO hand-over)."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        self.limit = limit
        self._active = 0
        self._lock = threading.Lock()
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()

    @property
    def active(self) -> int:
        return self._active

    @property
    def waiting(self) -> int:
        """Callers queued for a slot (what a producer of work watches to keep the bound busy
        without running far ahead of it)."""
        return len(self._waiters)

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._active < self.limit and not self._waiters:
                self._active += 1
                return
            fut: asyncio.Future[None] = loop.create_future()
            entry = (loop, fut)
            self._waiters.append(entry)
        try:
            await fut
        except asyncio.CancelledError:
            with self._lock:
                if entry in self._waiters:
                    self._waiters.remove(entry)
                    raise
            if fut.done() and not fut.cancelled():
                # Handed the slot, then cancelled before this task took it: pass it on.
                self.release()
            # Else the hand-over is in flight: _grant sees the cancellation and passes it on.
            raise

    def release(self) -> None:
        here = asyncio._get_running_loop()
        with self._lock:
            while self._waiters:
                loop, fut = self._waiters.popleft()
                try:
                    # The slot moves to the waiter without ever being free (no barging).  A
                    # waiter on this thread's loop needs no self-pipe wake-up (a syscall).
                    if loop is here:
                        loop.call_soon(self._grant, fut)
                    else:
                        loop.call_soon_threadsafe(self._grant, fut)
                except RuntimeError:  # the waiter's loop is closed: it will never take it
                    continue
                return
            self._active -= 1

    def _grant(self, fut: asyncio.Future[None]) -> None:
        if fut.done():  # cancelled while the hand-over was in flight
            self.release()
        else:
            fut.set_result(None)

    def slot(self) -> _Slot:
        """``async with limiter.slot():`` holds one slot for the block."""
        return _Slot(self)


class _Slot:
    # A class, not @asynccontextmanager: this is entered once per HTTP attempt, and the
    # generator-based manager costs a few µs more each time.
    __slots__ = ("_limiter",)

    def __init__(self, limiter: ConcurrencyLimiter) -> None:
        self._limiter = limiter

    async def __aenter__(self) -> None:
        await self._limiter.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self._limiter.release()


class RateBucket:
    """Token bucket refilled at ``per_minute`` / 60 per second, capacity ``per_minute``.

    :meth:`reserve` takes the amount at once (the level may go negative) and returns how long the
    caller must wait before sending, so callers are served in reservation order without a lock
    held across awaits.
    """

    def __init__(self, per_minute: int) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be >= 1")
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._level = self.capacity
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self._level = min(self.capacity, self._level + (now - self._stamp) * self.rate)
        self._stamp = now

    def reserve(self, amount: float) -> float:
        """Take ``amount`` (capped at capacity) and return the seconds to wait before using it."""
        with self._lock:
            self._refill()
            self._level -= min(amount, self.capacity)
            return max(0.0, -self._level / self.rate)

    def adjust(self, delta: float) -> None:
        """Correct an earlier reservation by ``delta`` (actual minus estimated)."""
        with self._lock:
            self._refill()
            self._level = min(self.capacity, self._level - delta)

    async def wait(self, amount: float) -> None:
        delay = self.reserve(amount)
        if delay > 0:
            await asyncio.sleep(delay)


class RateLimiter(Protocol):
    """The client's per-attempt rate-limit hook (the process's buckets, or a cluster-wide one).

    The client calls :meth:`acquire` while holding its concurrency slot, right before each HTTP
    attempt (so a granted send time is used at once), and :meth:`settle` with actual minus
    estimated tokens once the attempt's usage is known (``-estimate`` if it failed).
    """

    async def acquire(self, tokens: int) -> None: ...

    def settle(self, delta_tokens: int) -> None: ...


class LocalRateLimiter:
    """``rpm`` and ``tpm`` buckets of this process (the default :class:`RateLimiter`)."""

    def __init__(self, rpm: int | None, tpm: int | None) -> None:
        self.rpm = RateBucket(rpm) if rpm else None
        self.tpm = RateBucket(tpm) if tpm else None

    async def acquire(self, tokens: int) -> None:
        if self.rpm:
            await self.rpm.wait(1)
        if self.tpm:
            await self.tpm.wait(tokens)

    def settle(self, delta_tokens: int) -> None:
        if self.tpm:
            self.tpm.adjust(delta_tokens)
