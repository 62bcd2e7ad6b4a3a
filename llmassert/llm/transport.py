"""Transports: how one HTTP attempt reaches a model.

Both take an OpenAI-shaped chat body and return an OpenAI-shaped response dict, raising
:class:`~llmassert.llm.retry.TransportFailure` on failure (the client retries):

- :class:`HttpTransport` — plain aiohttp to an OpenAI-compatible ``api_base``: a fraction of
  litellm's client CPU per call, and no 3.5 s ``import litellm``; used for
  ``openai/<model>`` with an ``api_base`` (local servers, vLLM, proxies) unless told otherwise.
- :class:`~llmassert.llm.litellm_transport.LiteLLMTransport` — any litellm provider.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
from collections.abc import AsyncIterator
from typing import Any, Protocol
from urllib.parse import urlsplit

from llmassert import jsonx
from llmassert.aio import background
from llmassert.config import Settings
from llmassert.llm import http11, recording
from llmassert.llm.recording import MISS_HEADER, miss_detail
from llmassert.llm.retry import TransportFailure, retry_after_from_headers


class Transport(Protocol):
    name: str

    async def chat(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        """One chat completion attempt; ``body`` excludes ``model``."""
        ...

    async def embed(self, model: str, texts: list[str]) -> tuple[list[list[float]], int]:
        """One embeddings attempt: (vectors in input order, prompt tokens)."""
        ...

    async def aclose(self) -> None: ...


def is_cassette_miss(exc: BaseException) -> bool:
    """True when vcrpy refused a request that is not in the cassette (anywhere in the chain)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if type(cur).__name__ in (
            "CannotOverwriteExistingCassetteException",
            "UnhandledHTTPRequestError",
        ):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def error_message(payload: bytes | str) -> str:
    """The provider's error message from an error body, shortened to one line."""
    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
    try:
        data = json.loads(text)
        err = data.get("error", data) if isinstance(data, dict) else data
        msg = err.get("message", text) if isinstance(err, dict) else str(err)
    except ValueError:
        msg = text
    msg = " ".join(str(msg).split())
    return msg[:300] + ("…" if len(msg) > 300 else "")


def api_key_for(settings: Settings, env_var: str = "OPENAI_API_KEY") -> str | None:
    if settings.api_key is not None:
        return settings.api_key.get_secret_value()
    return os.environ.get(env_var) or None


_session: Any = None  # the process-wide aiohttp.ClientSession, owned by the background loop


class _LoopPools:
    """The connection pools of one loop inside ``direct_session``."""

    def __init__(self) -> None:
        self.session: Any = None  # aiohttp, made on first use
        self.raw: dict[tuple[str, int], http11.Pool] = {}
        self.users = 0  # direct_session blocks open on this loop

    async def close(self) -> None:
        for pool in self.raw.values():
            pool.close()
        if self.session is not None:
            await self.session.close()


# Loops that asked for their own pools (``direct_session``).
_direct: dict[asyncio.AbstractEventLoop, _LoopPools] = {}


def _new_session() -> Any:
    import aiohttp

    # No connection limit here: each client's ConcurrencyLimiter bounds what is in flight.
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
        json_serialize=json.dumps,
        raise_for_status=False,
    )


async def _shared_session() -> Any:
    """One keep-alive pool for every client (on the background loop; closed at exit)."""
    global _session
    if _session is None or _session.closed:
        _session = _new_session()
        atexit.register(_close_session, _session)
    return _session


@contextlib.asynccontextmanager
async def direct_session() -> AsyncIterator[None]:
    """Inside the block, HTTP requests made from the running loop use a pool of its own.

    For a long-lived loop that makes many requests (a pipeline run): each request otherwise
    hops to the background loop and back (``run_coroutine_threadsafe``, two self-pipe
    wake-ups, ~0.2 ms of CPU per request).  The pools close when the last open block on the
    loop ends.
    """
    loop = asyncio.get_running_loop()
    pools = _direct.get(loop)
    if pools is None:
        pools = _direct[loop] = _LoopPools()
    pools.users += 1  # blocks may overlap (a Ray worker's partitions): the last one closes
    try:
        yield
    finally:
        pools.users -= 1
        if pools.users == 0:
            del _direct[loop]
            await pools.close()


def _close_session(session: Any) -> None:
    loop = background().loop
    if not session.closed and loop.is_running():
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(session.close(), loop).result(2)


class HttpTransport:
    """aiohttp against ``{api_base}/chat/completions`` and ``/embeddings``.

    aiohttp rather than httpx: httpcore's pool costs ~4 ms of CPU per request at 32-64 requests in
    flight (its request/connection matching is quadratic), aiohttp ~0.2 ms.  Requests run on the
    process's background loop (:mod:`llmassert.aio`), so one warm pool serves every caller,
    including code that calls ``asyncio.run`` per call.
    """

    name = "http"

    def __init__(self, settings: Settings) -> None:
        self.base = (settings.api_base or "https://api.openai.com/v1").rstrip("/")
        key = api_key_for(settings)
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        self._timeout_s = settings.timeout_s
        self._timeout: Any = None  # aiohttp.ClientTimeout, made on first use (lazy import)
        # Plain http:// in live mode may use the minimal client (http11) inside a
        # direct_session; record/replay must go through aiohttp, which vcrpy patches.
        parts = urlsplit(self.base)
        self._raw_target: tuple[str, int, str] | None = None
        if parts.scheme == "http" and parts.hostname and settings.mode == "live":
            self._raw_target = (parts.hostname, parts.port or 80, parts.path)

    @staticmethod
    def wire_model(model: str) -> str:
        return model.split("/", 1)[1] if model.startswith("openai/") else model

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        pools = _direct.get(loop)
        if pools is None:
            return await background().await_(self._post_here(path, payload))
        if self._raw_target is not None and recording.active() is None:
            return await self._post_raw(pools, path, payload)
        if pools.session is None:
            pools.session = _new_session()
        return await self._post_here(path, payload, pools.session)

    async def _post_raw(
        self, pools: _LoopPools, path: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        assert self._raw_target is not None
        host, port, prefix = self._raw_target
        pool = pools.raw.get((host, port))
        if pool is None:
            pool = pools.raw[(host, port)] = http11.Pool(host, port)
        try:
            status, headers, content = await pool.post(
                prefix + path,
                jsonx.dumps(payload),
                self._headers,
                timeout_s=self._timeout_s,
                connect_timeout_s=min(10.0, self._timeout_s),
            )
        except TimeoutError:
            raise TransportFailure(f"timed out after {self._timeout_s:g}s") from None
        except OSError as e:
            raise TransportFailure(f"connection error: {type(e).__name__}: {e}") from None
        return self._answer(status, headers, content)

    async def _post_here(
        self, path: str, payload: dict[str, Any], session: Any = None
    ) -> dict[str, Any]:
        import aiohttp

        if session is None:
            session = await _shared_session()
        if self._timeout is None:
            self._timeout = aiohttp.ClientTimeout(
                total=self._timeout_s, connect=min(10.0, self._timeout_s)
            )
        try:
            async with session.post(
                self.base + path,
                data=jsonx.dumps(payload),
                headers=self._headers,
                timeout=self._timeout,
            ) as response:
                status, content = response.status, await response.read()
                headers = response.headers
        except TimeoutError:
            raise TransportFailure(f"timed out after {self._timeout_s:g}s") from None
        except Exception as e:
            if is_cassette_miss(e):
                raise TransportFailure(str(e).splitlines()[0], cassette_miss=True) from None
            if isinstance(e, (aiohttp.ClientError, OSError)):
                raise TransportFailure(f"connection error: {type(e).__name__}: {e}") from None
            raise
        return self._answer(status, headers, content)

    def _answer(self, status: int, headers: Any, content: bytes) -> dict[str, Any]:
        """The JSON object of a response, or the TransportFailure it amounts to."""
        if status != 200 and headers.get(MISS_HEADER):
            detail = miss_detail(error_message(content)) or error_message(content)
            raise TransportFailure(detail, cassette_miss=True)
        if status != 200:
            raise TransportFailure(
                error_message(content), status=status, retry_after=retry_after_from_headers(headers)
            )
        try:
            data = jsonx.loads(content)
        except ValueError:
            # A 200 with a broken body (proxy hiccup, truncated stream) is worth another try.
            raise TransportFailure(
                f"unparseable response body: {error_message(content)[:80]}",
                status=200,
                retryable=True,
            ) from None
        if not isinstance(data, dict):
            raise TransportFailure("response body is not a JSON object", status=200, retryable=True)
        return data

    async def chat(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._post("/chat/completions", {"model": self.wire_model(model), **body})

    async def embed(self, model: str, texts: list[str]) -> tuple[list[list[float]], int]:
        data = await self._post("/embeddings", {"model": self.wire_model(model), "input": texts})
        try:
            rows = sorted(data["data"], key=lambda r: r.get("index", 0))
            vectors = [list(map(float, r["embedding"])) for r in rows]
        except (KeyError, TypeError, ValueError) as e:
            raise TransportFailure(
                f"malformed embeddings response: {e}", status=200, retryable=False
            ) from None
        if len(vectors) != len(texts):
            raise TransportFailure(
                f"embeddings response has {len(vectors)} vectors for {len(texts)} inputs",
                status=200,
                retryable=False,
            )
        usage = data.get("usage") or {}
        return vectors, int(usage.get("prompt_tokens") or 0)

    async def aclose(self) -> None:
        return None  # the pool is shared and closed at exit
