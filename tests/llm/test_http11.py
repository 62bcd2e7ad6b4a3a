"""The minimal HTTP/1.1 client against real sockets: framings, keep-alive, a server that closes
idle connections, malformed answers, timeouts; and the transport using it inside a run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from llmassert.config import Settings
from llmassert.llm import http11
from llmassert.llm.retry import TransportFailure
from llmassert.llm.transport import HttpTransport, direct_session
from llmassert.testing.fake_server import FakeLLMServer

Responder = Callable[[int], bytes]  # request number -> raw response bytes (b"" = close)


async def serve(respond: Responder) -> tuple[asyncio.Server, int, list[int]]:
    """A raw server: answers each request on a connection with ``respond(n)``; counts
    connections (the list gets one entry per accepted connection)."""
    count = [0]
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                await reader.readexactly(length)
                count[0] += 1
                answer = respond(count[0])
                if not answer:
                    break
                close = answer.endswith(b"\x00CLOSE")  # drop the connection after answering
                writer.write(answer.removesuffix(b"\x00CLOSE"))
                await writer.drain()
                if close or b"Connection: close" in answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, port, connections


def fixed(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def chunked(parts: list[bytes]) -> bytes:
    out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    for p in parts:
        out += b"%x\r\n%s\r\n" % (len(p), p)
    return out + b"0\r\n\r\n"


async def post(pool: http11.Pool, timeout: float = 5) -> tuple[int, bytes]:
    status, _, body = await pool.post(
        "/x", b"{}", {"Content-Type": "application/json"}, timeout_s=timeout, connect_timeout_s=2
    )
    return status, body


def test_content_length_chunked_and_close_delimited_bodies() -> None:
    async def main() -> None:
        answers = [
            fixed(b'{"a":1}'),
            chunked([b'{"b":', b"2}"]),
            b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b'{"c":3}',
        ]
        server, port, connections = await serve(lambda n: answers[n - 1])
        pool = http11.Pool("127.0.0.1", port)
        assert await post(pool) == (200, b'{"a":1}')
        assert await post(pool) == (200, b'{"b":2}')  # same connection, chunked
        assert len(connections) == 1
        assert await post(pool) == (200, b'{"c":3}')  # body runs to the close
        pool.close()
        server.close()

    asyncio.run(main())


def test_a_server_closing_an_idle_connection_costs_a_fresh_one_not_an_error() -> None:
    async def main() -> None:
        # Each connection answers once, then the server drops it without saying so (as an
        # idle timeout does): the client retries on a fresh connection, whether it sees the
        # close before sending (sleep) or only after (no sleep).
        server, port, connections = await serve(lambda n: fixed(b"%d" % n) + b"\x00CLOSE")
        pool = http11.Pool("127.0.0.1", port)
        assert await post(pool) == (200, b"1")
        assert await post(pool) == (200, b"2")
        await asyncio.sleep(0.1)
        assert await post(pool) == (200, b"3")
        assert len(connections) == 3
        pool.close()
        server.close()

    asyncio.run(main())


def test_malformed_responses_and_early_close_are_connection_errors() -> None:
    async def main() -> None:
        for answer in (b"garbage\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort"):
            server, port, _ = await serve(lambda n, a=answer: a)
            pool = http11.Pool("127.0.0.1", port)

            async def closing(pool: http11.Pool = pool) -> None:
                await post(pool, timeout=2)

            # the server answers, then the handler loop waits; close it to end the short body
            task = asyncio.ensure_future(closing())
            await asyncio.sleep(0.2)
            server.close()
            for conn in pool._idle:
                conn.close()
            with pytest.raises((OSError, TimeoutError)):
                await task
            pool.close()

    asyncio.run(main())


def test_timeout_drops_the_connection() -> None:
    async def main() -> None:
        server, port, _ = await serve(lambda n: b"")  # reads the request, never answers
        pool = http11.Pool("127.0.0.1", port)
        with pytest.raises((TimeoutError, OSError)):
            await post(pool, timeout=0.3)
        assert not pool._idle
        server.close()

    asyncio.run(main())


def test_transport_uses_it_in_a_direct_session_and_maps_statuses(
    llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    from llmassert.testing.fake_server import Reply

    transport = HttpTransport(llm_settings)
    assert transport._raw_target is not None  # http:// in live mode

    async def main() -> None:
        async with direct_session():
            data = await transport.chat(
                "openai/fake-model", {"messages": [{"role": "user", "content": "hi"}]}
            )
            assert data["choices"][0]["message"]["content"]
            llm_server.script(Reply(status=429, headers={"Retry-After": "3"}, content="slow"))
            with pytest.raises(TransportFailure) as e:
                await transport.chat("openai/fake-model", {"messages": []})
            assert e.value.status == 429 and e.value.retry_after == 3.0

    asyncio.run(main())
    assert len(llm_server.requests) == 2
    record = HttpTransport(llm_settings.replace(mode="record", cassette_dir=llm_settings.cache_dir))
    assert record._raw_target is None  # vcrpy must see recorded requests: aiohttp
