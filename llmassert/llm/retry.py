"""Retries for HTTP attempts: exponential backoff with jitter that honours ``Retry-After``.

Transports raise :class:`TransportFailure`; this module decides whether to try again (429, 5xx,
timeouts, connection errors: yes; other 4xx and cassette misses: never), how long to wait, and
turns the last failure into the public ``LLMTransportError`` / ``LLMRateLimitError`` /
``CassetteMissError``.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from llmassert.errors import CassetteMissError, LLMError, LLMRateLimitError, LLMTransportError

if TYPE_CHECKING:
    from tenacity import RetryCallState

log = logging.getLogger("llmassert.llm")

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 20.0
# Never sleep longer than this for one Retry-After, whatever the server says.
RETRY_AFTER_CAP_S = 300.0


class TransportFailure(Exception):
    """One failed HTTP attempt, as seen by a transport (internal; never escapes the client)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        retryable: bool | None = None,
        cassette_miss: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.cassette_miss = cassette_miss
        if retryable is None:
            retryable = status is None or status in RETRYABLE_STATUS
        self.retryable = retryable and not cassette_miss


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` (or ``retry-after-ms``-less) header: number or HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, min(float(value), RETRY_AFTER_CAP_S))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, min(when.timestamp() - time.time(), RETRY_AFTER_CAP_S))


def retry_after_from_headers(headers: object) -> float | None:
    """Retry-After from a headers mapping (``retry-after-ms`` wins when present)."""
    get = getattr(headers, "get", None)
    if get is None:
        return None
    ms = get("retry-after-ms")
    if ms:
        try:
            return max(0.0, min(float(ms) / 1000, RETRY_AFTER_CAP_S))
        except ValueError:
            pass
    value = get("retry-after")
    return parse_retry_after(value if isinstance(value, str) else None)


def _wait(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        # The server said when: wait that long, plus a little jitter so clients spread out.
        return float(retry_after) + random.uniform(0, min(1.0, 0.1 * retry_after + 0.05))
    backoff = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (state.attempt_number - 1))
    return random.uniform(backoff / 2, backoff)


async def with_retries(
    attempt: Callable[[], Awaitable[T]],
    *,
    model: str,
    max_retries: int,
    max_seconds: float,
    cassette: str | None = None,
    on_retry: Callable[[TransportFailure, float], None] | None = None,
) -> T:
    """Run ``attempt`` until it succeeds, retries are exhausted, or a failure is not retryable.

    Raises the public error for the last failure; ``on_retry(failure, sleep_s)`` is called before
    each sleep (for counting and logging).
    """

    started = time.monotonic()
    try:
        # The first attempt runs bare: most calls succeed at once, and building tenacity's
        # retry machinery costs ~0.15 ms of CPU per call.  It is built on the first failure.
        return await attempt()
    except TransportFailure as failure:
        if not failure.retryable or max_retries < 1:
            raise public_error(
                failure,
                model=model,
                attempts=1,
                elapsed=time.monotonic() - started,
                cassette=cassette,
            ) from None
        first = failure
    # Imported on the first failure: a run whose calls succeed never needs it (~20 ms of
    # start-up before the first request).
    from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, stop_before_delay

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        sleep = state.upcoming_sleep
        if isinstance(exc, TransportFailure):
            log.info("%s: %s; retry %d in %.2fs", model, exc.message, state.attempt_number, sleep)
            if on_retry:
                on_retry(exc, sleep)

    retrying = AsyncRetrying(
        stop=stop_after_attempt(max_retries + 1)
        | stop_before_delay(max(0.0, max_seconds - (time.monotonic() - started))),
        wait=_wait,
        retry=retry_if_exception(lambda e: isinstance(e, TransportFailure) and e.retryable),
        before_sleep=before_sleep,
        reraise=True,
    )
    attempts = 0
    try:
        async for try_ in retrying:
            with try_:
                attempts += 1
                if attempts == 1:
                    raise first  # the failure of the bare attempt, as tenacity's attempt 1
                return await attempt()
    except TransportFailure as failure:
        raise public_error(
            failure,
            model=model,
            attempts=attempts,
            elapsed=time.monotonic() - started,
            cassette=cassette,
        ) from None
    raise AssertionError("unreachable")  # pragma: no cover - tenacity either returns or raises


def public_error(
    failure: TransportFailure,
    *,
    model: str,
    attempts: int,
    elapsed: float,
    cassette: str | None = None,
) -> LLMError:
    """The user-facing error for the final failure of a call."""
    if failure.cassette_miss:
        return CassetteMissError(
            f"request not in cassette {cassette or '(none)'}: {failure.message}",
            hint="re-record with --record DIR, or check that the prompt, model or schema did not "
            "change",
        )
    tries = f"after {attempts} attempt{'s' if attempts != 1 else ''} in {elapsed:.1f}s"
    if failure.status == 429:
        return LLMRateLimitError(
            f"{model}: rate limited (HTTP 429) {tries}: {failure.message}", status=429
        )
    where = f"HTTP {failure.status}" if failure.status else "transport error"
    hint = None
    if failure.status in (401, 403):
        hint = "check the API key for this provider"
    elif failure.status == 404:
        hint = "check the model name and api_base"
    return LLMTransportError(
        f"{model}: {where} {tries}: {failure.message}", status=failure.status, hint=hint
    )
