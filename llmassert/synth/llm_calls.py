"""Fan out LLM requests for synthesis, isolating the failures that only spoil one answer.

A malformed answer (``LLMOutputError`` after the layer's re-asks) costs one candidate or one matrix
cell, never the run.  Everything else — transport failures left after retries, a cassette miss, a
spent budget, bad configuration — stops synthesis with its own one-line error, because silently
carrying on would write assertions from an LLM run that did not really happen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from llmassert.errors import LLMOutputError
from llmassert.llm.client import LLMClient, LLMRequest, LLMResult


async def gather_answers(
    client: LLMClient, requests: Sequence[LLMRequest]
) -> list[LLMResult | LLMOutputError]:
    """Results in request order; off-schema answers come back as their error, others raise."""
    if not requests:
        return []
    results = await asyncio.gather(*(client.acomplete(r) for r in requests), return_exceptions=True)
    out: list[LLMResult | LLMOutputError] = []
    for item in results:
        if isinstance(item, LLMOutputError | LLMResult):
            out.append(item)
        elif isinstance(item, BaseException):
            raise item
    return out


__all__ = ["gather_answers"]
