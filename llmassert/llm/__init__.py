"""The LLM layer: the only package that talks to a model (litellm is imported on first call).

``get_client`` lives in :mod:`llmassert.llm.session` and is re-exported here on first use:
building a client pulls in aiohttp, vcrpy and the transports (~80 ms), which code that only
needs the request/result types (the hooks, the pipeline spec) should not pay for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmassert.llm.client import LLMClient, LLMRequest, LLMResult, Usage

if TYPE_CHECKING:
    from llmassert.llm.session import get_client

__all__ = ["LLMClient", "LLMRequest", "LLMResult", "Usage", "get_client"]


def __getattr__(name: str) -> Any:
    if name == "get_client":
        from llmassert.llm.session import get_client

        return get_client
    raise AttributeError(f"module 'llmassert.llm' has no attribute {name!r}")
