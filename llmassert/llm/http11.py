"""A minimal HTTP/1.1 keep-alive client on asyncio protocols, for plain-``http://`` endpoints.

For the pipeline runner's hot path (``transport.direct_session``): one JSON POST per call to a
local or in-cluster OpenAI-compatible server (vLLM, a proxy, the loopback test server).
aiohttp costs ~250 µs of CPU per request (header multidicts, timers, tracing hooks, payload
objects); this costs a fraction: one ``transport.write`` of the request, a parser that reads
the status line, the headers and a ``Content-Length`` or chunked body.  Anything it does not
handle (TLS, proxies, record/replay through vcrpy, which patches aiohttp) stays on aiohttp.

Errors are ``OSError`` (connection refused/reset/closed early, malformed response) or
``TimeoutError``; the transport maps them to retryable ``TransportFailure``s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 256 * 1024 * 1024


class Headers(dict[str, str]):
    """Response headers, keys lower-cased; ``get`` is case-insensitive."""

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


class _Response:
    __slots__ = ("body", "headers", "keep_alive", "status")

    def __init__(self, status: int, headers: Headers, body: bytes, keep_alive: bool) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.keep_alive = keep_alive


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._buf = bytearray()
        self._waiter: asyncio.Future[_Response] | None = None
        self._head: tuple[int, Headers, int, bool] | None = None  # status, headers, body at, ka
        self.received = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.received = True
        self._buf += data
        self._try_finish()

    def eof_received(self) -> bool | None:
        self.closed = True
        self._try_finish(eof=True)
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._try_finish(eof=True)
        w = self._waiter
        if w is not None and not w.done():
            w.set_exception(exc or ConnectionResetError("connection closed before the response"))

    def request(self, data: bytes) -> asyncio.Future[_Response]:
        if self.closed or self.transport is None or self.transport.is_closing():
            raise ConnectionResetError("connection closed")
        self._buf.clear()
        self._head = None
        self.received = False
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self._waiter

    def _fail(self, message: str) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_exception(ConnectionError(message))
        self.close()

    def _try_finish(self, eof: bool = False) -> None:
        w = self._waiter
        if w is None or w.done():
            return
        buf = self._buf
        if self._head is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEADER_BYTES:
                    self._fail("response headers too large")
                elif eof:
                    self._fail("connection closed before the response headers")
                return
            try:
                self._head = _parse_head(bytes(buf[:end]), end + 4)
            except ValueError as e:
                self._fail(f"malformed response: {e}")
                return
        status, headers, at, keep_alive = self._head
        length = headers.get("content-length")
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = _dechunk(buf, at)
            if body is None:
                if eof:
                    self._fail("connection closed inside a chunked body")
                elif len(buf) > MAX_BODY_BYTES:
                    self._fail("response body too large")
                return
        elif length is not None:
            try:
                n = int(length)
            except ValueError:
                self._fail("malformed Content-Length")
                return
            if len(buf) - at < n:
                if eof:
                    self._fail("connection closed inside the response body")
                elif n > MAX_BODY_BYTES:
                    self._fail("response body too large")
                return
            body = bytes(buf[at : at + n])
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:
            if not eof:  # the body runs to the end of the connection
                return
            body, keep_alive = bytes(buf[at:]), False
        w.set_result(_Response(status, headers, body, keep_alive and not self.closed))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _parse_head(head: bytes, body_at: int) -> tuple[int, Headers, int, bool]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise ValueError(f"status line {lines[0][:60]!r}")
    status = int(parts[1])
    headers = Headers()
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"header line {line[:60]!r}")
        key = name.strip().lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    connection = headers.get("connection", "").lower()
    keep_alive = "close" not in connection and (
        parts[0] == "HTTP/1.1" or "keep-alive" in connection
    )
    return status, headers, body_at, keep_alive


def _dechunk(buf: bytearray, at: int) -> bytes | None:
    """The body of a complete chunked message starting at ``at``, or None if incomplete."""
    out = bytearray()
    pos = at
    while True:
        end = buf.find(b"\r\n", pos)
        if end < 0:
            return None
        size_text = bytes(buf[pos:end]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ConnectionError("malformed chunk size") from None
        if size == 0:  # then optional trailer lines, then an empty line
            if buf[end + 2 : end + 4] == b"\r\n" or buf.find(b"\r\n\r\n", end + 2) >= 0:
                return bytes(out)
            return None
        start = end + 2
        if len(buf) < start + size + 2:
            return None
        out += buf[start : start + size]
        pos = start + size + 2


class Pool:
    """Keep-alive connections to one ``http://host:port`` (on one event loop)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._idle: list[_Connection] = []
        self._host_header = f"{host}:{port}".encode("latin-1")

    async def _connect(self, timeout_s: float) -> _Connection:
        loop = asyncio.get_running_loop()
        _, conn = await asyncio.wait_for(
            loop.create_connection(_Connection, self.host, self.port), timeout_s
        )
        return conn

    async def post(
        self,
        path: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        timeout_s: float,
        connect_timeout_s: float,
    ) -> tuple[int, Headers, bytes]:
        head = [b"POST ", path.encode("latin-1"), b" HTTP/1.1\r\nHost: ", self._host_header]
        for k, v in headers.items():
            head += [b"\r\n", k.encode("latin-1"), b": ", v.encode("latin-1")]
        head += [b"\r\nContent-Length: ", str(len(body)).encode(), b"\r\n\r\n", body]
        data = b"".join(head)
        async with asyncio.timeout(timeout_s):
            while True:
                reused = bool(self._idle)
                conn = self._idle.pop() if reused else await self._connect(connect_timeout_s)
                if reused and conn.closed:
                    continue
                try:
                    response = await conn.request(data)
                except OSError:
                    conn.close()
                    if reused and not conn.received:
                        continue  # the server closed an idle connection: one more, fresh
                    raise
                except BaseException:
                    conn.close()  # timed out or cancelled mid-request: never reuse it
                    raise
                if response.keep_alive:
                    self._idle.append(conn)
                else:
                    conn.close()
                return response.status, response.headers, response.body

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()
