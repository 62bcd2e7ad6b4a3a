"""The LLM interface every other part of llmassert uses.

Nothing outside ``llmassert.llm`` imports litellm or talks HTTP to a model: it builds an
:class:`LLMRequest`, hands it to an :class:`LLMClient` from :func:`llmassert.llm.get_client`, and
gets an :class:`LLMResult` back (or an ``LLMError``).  Retries, re-asks, caching, rate limits,
usage accounting, budgets and record/replay all live behind this seam.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from llmassert.aio import run_sync
from llmassert.config import Settings


class LLMRequest(BaseModel):
    """One logical chat call (possibly several HTTP attempts)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    messages: tuple[dict[str, Any], ...]
    # JSON schema of the expected output object; enforced by tool calling (fallback
    # response_format), parsed, validated, and re-asked on failure.
    output_schema: dict[str, Any] | None = None
    schema_name: str = "output"
    temperature: float | None = 0.0
    max_tokens: int | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    # Part of the cache key: keeps retries-with-feedback and gleaning rounds apart.
    salt: str = ""
    # Accounting label (operation name, "judge", "synth", ...); not part of the cache key.
    tag: str = ""
    use_cache: bool = True


class Usage(BaseModel):
    """Tokens, cost and HTTP attempts; summed over a call's retries and over a run."""

    model_config = ConfigDict(extra="forbid")

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    requests: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost=self.cost + other.cost,
            requests=self.requests + other.requests,
        )


class LLMResult(BaseModel):
    """The answer to an :class:`LLMRequest`."""

    model_config = ConfigDict(extra="forbid")

    model: str
    text: str
    # The validated structured output when the request had an output_schema.
    data: Any = None
    usage: Usage = Field(default_factory=Usage)
    cached: bool = False
    attempts: int = 1
    reasks: int = 0


class EmbedResult(BaseModel):
    """The answer to one embedding call: a vector per text, in order, and what the call used."""

    model_config = ConfigDict(extra="forbid")

    vectors: list[list[float]]
    usage: Usage = Field(default_factory=Usage)
    cached: bool = False


class LLMClient(ABC):
    """Interface of the LLM layer. Implementations must be safe to share across tasks."""

    settings: Settings

    @abstractmethod
    async def acomplete(self, request: LLMRequest) -> LLMResult:
        """Run one request under the client's concurrency bound and rate limits."""

    @abstractmethod
    async def aembed_result(self, texts: Sequence[str], model: str | None = None) -> EmbedResult:
        """Embed texts (cached like completions), with this call's own usage: the client's
        running total cannot tell it apart from concurrent calls'."""

    async def aembed(self, texts: Sequence[str], model: str | None = None) -> list[list[float]]:
        """Embed texts (cached like completions): a vector per text, in order."""
        return (await self.aembed_result(texts, model)).vectors

    @property
    @abstractmethod
    def usage(self) -> Usage:
        """Usage summed over every call made through this client, retries included."""

    def backlog(self) -> tuple[int, int] | None:
        """Requests held beyond the bound now: (in flight + queued, the concurrency bound), or
        None when this client cannot tell.  Executors start new work only while it is short
        of about twice the bound (one round in flight, one queued behind it), so the first
        request leaves at once and what waits stays bounded (see ``pipeline/executor.py``)."""
        return None

    def complete(self, request: LLMRequest) -> LLMResult:
        """Synchronous :meth:`acomplete` for code that is not async."""
        return run_sync(self.acomplete(request))

    def embed(self, texts: Sequence[str], model: str | None = None) -> list[list[float]]:
        return run_sync(self.aembed(texts, model))

    async def agather(self, requests: Sequence[LLMRequest]) -> list[LLMResult]:
        """Fan out; the client's own bound limits how many run at once."""
        return list(await asyncio.gather(*(self.acomplete(r) for r in requests)))

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
