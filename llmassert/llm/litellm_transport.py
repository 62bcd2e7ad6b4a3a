"""The litellm transport: any provider litellm knows, imported on first use only.

litellm's own retries (and the OpenAI SDK's underneath) are switched off: the client retries, so
that every attempt is counted, rate-limited and bounded in one place.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

from llmassert.aio import background
from llmassert.config import Settings
from llmassert.lazy import once
from llmassert.llm.recording import miss_detail, replay_miss
from llmassert.llm.retry import TransportFailure, retry_after_from_headers
from llmassert.llm.transport import is_cassette_miss


@once
def import_litellm() -> ModuleType:
    """Import and configure litellm once (quiet, no retries, no telemetry)."""
    import litellm  # lazy: about a second of start-up that http-transport runs never pay

    litellm.num_retries = 0
    litellm.suppress_debug_info = True  # no "Give Feedback" banners on stdout
    litellm.telemetry = False
    litellm.drop_params = True
    # litellm logs provider errors itself at WARNING; ours are reported once, clearly.
    logging.getLogger("LiteLLM").setLevel(logging.ERROR)
    return litellm


class LiteLLMTransport:
    name = "litellm"

    def __init__(self, settings: Settings, *, replaying: bool = False) -> None:
        self.settings = settings
        self.replaying = replaying
        self._common: dict[str, Any] = {
            "timeout": settings.timeout_s,
            "max_retries": 0,
            "num_retries": 0,
        }
        if settings.api_base:
            self._common["api_base"] = settings.api_base
        if settings.api_key is not None:
            self._common["api_key"] = settings.api_key.get_secret_value()
        elif replaying:
            # Providers' SDKs refuse to build a request without a key; replays need none.
            self._common["api_key"] = "llmassert-replay"

    def _failure(self, exc: Exception) -> TransportFailure:
        miss = replay_miss(exc)
        if miss is not None or is_cassette_miss(exc):
            # A replay miss is answered with a synthetic 404 (llm/recording.py), so litellm
            # reports it as NotFoundError carrying our message; never retried.
            detail = miss_detail(str(exc)) or "request not in the cassette"
            return TransportFailure(detail, cassette_miss=True)
        litellm = import_litellm()
        status = getattr(exc, "status_code", None)
        status = status if isinstance(status, int) else None
        headers = getattr(exc, "litellm_response_headers", None)
        if headers is None:
            headers = getattr(getattr(exc, "response", None), "headers", None)
        message = " ".join(str(getattr(exc, "message", exc)).split())[:300]
        if isinstance(exc, litellm.Timeout):
            return TransportFailure(f"timed out: {message}")
        if isinstance(exc, litellm.APIConnectionError) and status in (None, 500):
            return TransportFailure(f"connection error: {message}")
        if isinstance(exc, (litellm.RateLimitError,)):
            status = 429
        if status is None and isinstance(
            exc, (litellm.BadRequestError, litellm.UnsupportedParamsError)
        ):
            status = 400
        retryable = None if status is not None else False
        return TransportFailure(
            message,
            status=status,
            retryable=retryable,
            retry_after=retry_after_from_headers(headers),
        )

    async def chat(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        litellm = import_litellm()
        try:
            response = await background().await_(
                litellm.acompletion(model=model, **body, **self._common)
            )
        except Exception as e:
            raise self._failure(e) from None
        data: dict[str, Any] = response.model_dump()
        return data

    async def embed(self, model: str, texts: list[str]) -> tuple[list[list[float]], int]:
        litellm = import_litellm()
        try:
            response = await background().await_(
                litellm.aembedding(model=model, input=texts, **self._common)
            )
        except Exception as e:
            raise self._failure(e) from None
        rows = sorted(response.data, key=lambda r: r["index"] if isinstance(r, dict) else r.index)
        vectors = [list(r["embedding"] if isinstance(r, dict) else r.embedding) for r in rows]
        usage = getattr(response, "usage", None)
        return vectors, int(getattr(usage, "prompt_tokens", 0) or 0)

    async def aclose(self) -> None:
        return None
