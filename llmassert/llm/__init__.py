"""The LLM layer: the only package that imports litellm (lazily, on first call)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmassert.config import Settings
from llmassert.llm.client import LLMClient, LLMRequest, LLMResult, Usage

if TYPE_CHECKING:
    from llmassert.llm.limits import RateLimiter

__all__ = ["LLMClient", "LLMRequest", "LLMResult", "Usage", "get_client"]


def get_client(
    settings: Settings | None = None, *, rate_limiter: RateLimiter | None = None
) -> LLMClient:
    """The configured client (cache, retries, rate limits, record/replay).

    Inside :func:`llmassert.llm.session.session` (what CLI commands run in) this is the session's
    client when ``settings`` is None or equal to the session's, so the run shares one budget.
    ``rate_limiter`` (a new client with a shared, e.g. cluster-wide, limiter in place of the
    per-process rpm/tpm buckets) always builds a new client.
    """
    from llmassert.llm.session import current

    found = current(settings) if rate_limiter is None else None
    if found is not None:
        return found
    from llmassert.llm.litellm_client import build_client

    return build_client(settings or Settings.from_env(), rate_limiter=rate_limiter)
