"""A run-wide client, and how library code gets one.

``with session(settings, name) as client:`` (what CLI commands run in) builds a client, activates
record/replay under cassette ``name`` and makes the client current (:mod:`llmassert.llm.scope`).
Inside it, :func:`get_client` with the same settings (or none) returns that client, so library
code that asks for a client shares the run's limits, budget and usage report.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from llmassert.config import Settings
from llmassert.llm import recording
from llmassert.llm.client import LLMClient
from llmassert.llm.managed_client import build_client
from llmassert.llm.scope import current, use_client

if TYPE_CHECKING:
    from llmassert.llm.limits import RateLimiter


@contextmanager
def session(settings: Settings, name: str) -> Iterator[LLMClient]:
    """Build a client for ``settings`` and activate record/replay under cassette ``name``."""
    client = build_client(settings)
    with recording.cassette(settings, name), use_client(client):
        yield client


def get_client(
    settings: Settings | None = None, *, rate_limiter: RateLimiter | None = None
) -> LLMClient:
    """The current client for ``settings`` (see the module doc), else a new one.

    ``rate_limiter`` (a shared, e.g. cluster-wide, limiter in place of the per-process rpm/tpm
    buckets) always builds a new client.
    """
    found = current(settings) if rate_limiter is None else None
    if found is not None:
        return found
    return build_client(settings or Settings.from_env(), rate_limiter=rate_limiter)
