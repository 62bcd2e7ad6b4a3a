"""A scriptable OpenAI-compatible HTTP server for tests, examples and benchmarks (stdlib only).

It serves ``POST /v1/chat/completions`` (plain text, ``tools`` / ``tool_choice`` and
``response_format``) and ``POST /v1/embeddings`` on 127.0.0.1, over real HTTP, so that litellm and
our own transport are exercised exactly as against a provider.  Unscripted requests get a
deterministic answer derived from the request (structured requests get an object that fills the
requested JSON schema).  Tests script what they need::

    server = FakeLLMServer().start()
    server.script(Reply(status=429, headers={"Retry-After": "1"}))   # next request: a 429
    server.script(Reply(tool_args={"answer": "yes"}), match="Is it polite")
    server.handler = lambda body: Reply(content="...")                # rule for the rest
    ...
    server.stats.max_concurrency, server.requests[-1].body
    server.stop()

Scripted replies are consumed first-come: the first queued reply whose ``match`` occurs in the
request's messages (or that has no ``match``) answers the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import random
import re
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "report",
    "invoice",
    "contract",
    "summary",
    "claim",
    "risk",
    "revenue",
    "policy",
    "clause",
    "customer",
    "order",
    "product",
    "review",
    "issue",
    "fix",
    "date",
    "amount",
    "total",
    "name",
    "city",
    "status",
    "note",
    "topic",
]


@dataclass
class Reply:
    """One scripted answer. Leave fields unset for the deterministic default."""

    content: str | None = None
    tool_args: dict[str, Any] | str | None = None  # str: raw (possibly malformed) arguments
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    raw_body: bytes | None = None  # sent verbatim (malformed JSON, HTML error pages...)
    delay_s: float | None = None  # overrides the server latency (use > client timeout to time out)
    usage: tuple[int, int] | None = None  # (prompt_tokens, completion_tokens)
    # With "stream": true in the request: seconds between streamed chunks (one word each).
    chunk_delay_s: float = 0.0
    # Answer only once this is set (at most HOLD_MAX_S): a test decides when a call returns.
    hold: threading.Event | None = None


HOLD_MAX_S = 60.0


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    started: float
    finished: float = 0.0
    status: int = 0
    # Streamed requests: chunks written, and whether the client read to the end ([DONE]).
    chunks_sent: int = 0
    stream_completed: bool = False


@dataclass
class Stats:
    requests: int = 0
    max_concurrency: int = 0
    in_flight: int = 0
    first_start: float | None = None
    last_end: float | None = None

    @property
    def span_s(self) -> float:
        if self.first_start is None or self.last_end is None:
            return 0.0
        return self.last_end - self.first_start


def _seed(*parts: Any) -> int:
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "big")


def _ntok(text: str) -> int:
    return max(1, len(text) // 4)


def fill_schema(schema: Any, key: str, seed: int, root: Any | None = None, depth: int = 0) -> Any:
    """A deterministic value valid against ``schema`` (local $refs, enums, nested types)."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > 12:
        return f"{key}-{seed % 1000}"
    if "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return fill_schema(node, key, seed, root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][seed % len(schema["enum"])]
    for comb in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(comb, []) if o.get("type") != "null"]
        if options:
            return fill_schema(options[0], key, seed, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if kind == "object":
        props = schema.get("properties") or {}
        return {p: fill_schema(s, p, _seed(seed, p), root, depth + 1) for p, s in props.items()}
    if kind == "array":
        lo, hi = schema.get("minItems", 1), schema.get("maxItems", 3)
        n = max(lo, min(hi, 1 + seed % 3))
        return [
            fill_schema(schema.get("items", {}), key, _seed(seed, i), root, depth + 1)
            for i in range(n)
        ]
    if kind == "integer":
        lo = int(schema.get("minimum", 0))
        return lo + seed % (int(schema.get("maximum", lo + 99)) - lo + 1)
    if kind == "number":
        lo, hi = schema.get("minimum", 0.0), schema.get("maximum", 1.0)
        return round(lo + (seed % 10000) / 10000 * (hi - lo), 3)
    if kind == "boolean":
        return seed % 2 == 0
    if kind == "null":
        return None
    return f"{key} {WORDS[seed % len(WORDS)]} {WORDS[(seed >> 8) % len(WORDS)]}"


class FakeLLMServer:
    """OpenAI-compatible server on 127.0.0.1 in a background thread."""

    def __init__(
        self,
        *,
        port: int = 0,
        latency_s: float = 0.0,
        error_rate: float = 0.0,
        seed: int = 0,
        embed_dim: int = 64,
        answers: str = "request",
    ) -> None:
        if answers not in ("request", "fields"):
            raise ValueError(f"answers must be 'request' or 'fields', got {answers!r}")
        # "request": generated answers vary with the whole request (prompt included);
        # "fields": they depend only on the names of the output's fields, so two tools sending
        # different prompts for the same schema get the same answer (bench/docetl_compat.py).
        self.answers = answers
        self.port = port
        self.latency_s = latency_s
        self.error_rate = error_rate
        self.embed_dim = embed_dim
        self.handler: Callable[[dict[str, Any]], Reply | None] | None = None
        self.requests: list[RecordedRequest] = []
        self.stats = Stats()
        self._random = random.Random(seed)
        self._queue: list[tuple[str | None, Reply]] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    # -- control -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *replies: Reply, match: str | None = None) -> FakeLLMServer:
        """Queue replies for the next requests (optionally only those containing ``match``)."""
        with self._lock:
            self._queue.extend((match, r) for r in replies)
        return self

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.stats = Stats()
        self.handler = None

    def start(self) -> FakeLLMServer:
        self._thread = threading.Thread(target=self._run, name="fake-llm-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake LLM server did not start")
        return self

    def stop(self) -> None:
        if self._loop and self._server:
            loop, server = self._loop, self._server

            async def _close() -> None:
                server.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(server.wait_closed(), 1)

            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(_close(), loop).result(3)
            loop.call_soon_threadsafe(loop.stop)
        if self._thread:
            self._thread.join(5)
        self._server = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving -------------------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._server = loop.run_until_complete(
            asyncio.start_server(
                self._serve_conn, "127.0.0.1", self.port, backlog=4096, limit=2**24
            )
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            with contextlib.suppress(BaseException):
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.close()

    async def _serve_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                method, path, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while (hl := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    k, _, v = hl.decode("latin-1").partition(":")
                    headers[k.strip().lower()] = v.strip()
                if headers.get("transfer-encoding", "").lower() == "chunked":
                    body = b""
                    while size := int((await reader.readline()).strip() or b"0", 16):
                        body += (await reader.readexactly(size + 2))[:-2]
                    await reader.readline()
                else:
                    body = await reader.readexactly(int(headers.get("content-length", 0)))
                await self._handle(method, path, headers, body, writer)
                if headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def _pick_reply(self, body: dict[str, Any]) -> Reply | None:
        text = json.dumps(body.get("messages", body.get("input", "")))
        with self._lock:
            for i, (match, reply) in enumerate(self._queue):
                if match is None or match in text:
                    del self._queue[i]
                    return reply
        if self.handler is not None:
            return self.handler(body)
        return None

    async def _handle(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        raw: bytes,
        writer: asyncio.StreamWriter,
    ) -> None:
        path = path.split("?")[0].rstrip("/")
        kind = {
            "/v1/chat/completions": "chat",
            "/chat/completions": "chat",
            "/v1/embeddings": "embed",
            "/embeddings": "embed",
        }.get(path)
        if method == "GET" and path in ("/v1/models", "/models"):
            return await self._respond(
                writer,
                200,
                {
                    "object": "list",
                    "data": [{"id": "fake-model", "object": "model", "owned_by": "llmassert"}],
                },
            )
        if method != "POST" or kind is None:
            return await self._respond(writer, 404, {"error": {"message": f"no route {path}"}})
        now = time.monotonic()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"_unparseable": raw.decode("utf-8", "replace")}
        rec = RecordedRequest(path=path, headers=headers, body=body, started=now)
        st = self.stats
        with self._lock:
            self.requests.append(rec)
            st.requests += 1
            st.in_flight += 1
            st.max_concurrency = max(st.max_concurrency, st.in_flight)
            st.first_start = now if st.first_start is None else st.first_start
        try:
            reply = self._pick_reply(body) or Reply()
            if reply.status == 200 and self.error_rate and self._random.random() < self.error_rate:
                code = self._random.choice((429, 500))
                reply = Reply(status=code, headers={"Retry-After": "0"} if code == 429 else {})
            delay = self.latency_s if reply.delay_s is None else reply.delay_s
            if delay:
                await asyncio.sleep(delay)
            if reply.hold is not None:
                held_until = time.monotonic() + HOLD_MAX_S
                while not reply.hold.is_set() and time.monotonic() < held_until:
                    await asyncio.sleep(0.02)
            rec.status = reply.status
            if reply.raw_body is not None:
                return await self._respond(writer, reply.status, reply.raw_body, reply.headers)
            if reply.status != 200:
                err = {
                    "error": {
                        "message": f"fake server error {reply.status}",
                        "type": "rate_limit_error" if reply.status == 429 else "server_error",
                        "code": reply.status,
                    }
                }
                return await self._respond(writer, reply.status, err, reply.headers)
            out = self._chat(body, reply) if kind == "chat" else self._embed(body)
            if kind == "chat" and body.get("stream"):
                await self._stream(writer, body, out, reply, rec)
                return
            await self._respond(writer, 200, out, reply.headers)
        finally:
            end = time.monotonic()
            rec.finished = end
            with self._lock:
                st.in_flight -= 1
                st.last_end = end

    def _chat(self, req: dict[str, Any], reply: Reply) -> dict[str, Any]:
        messages, tools = req.get("messages", []), req.get("tools") or []
        rf = req.get("response_format") or {}
        choice = req.get("tool_choice", "auto")
        seed = _seed(req.get("model"), messages, tools, rf)
        if self.answers == "fields":
            seed = _seed(_field_names(tools, rf))
        msg: dict[str, Any] = {"role": "assistant", "content": None}
        finish = "stop"
        if tools and choice != "none":
            fn = tools[0]["function"]
            if isinstance(choice, dict) and "function" in choice:
                fn = next(
                    (
                        t["function"]
                        for t in tools
                        if t["function"]["name"] == choice["function"]["name"]
                    ),
                    fn,
                )
            if reply.tool_args is not None:
                args = (
                    reply.tool_args
                    if isinstance(reply.tool_args, str)
                    else json.dumps(reply.tool_args)
                )
            elif reply.content is not None:
                args = reply.content
            else:
                params = fn.get("parameters") or {"type": "object", "properties": {}}
                args = json.dumps(fill_schema(params, fn["name"], seed))
            msg["tool_calls"] = [
                {
                    "id": f"call_{seed % 16**12:012x}",
                    "type": "function",
                    "function": {"name": fn["name"], "arguments": args},
                }
            ]
            finish, out = "tool_calls", args
        elif reply.content is not None or reply.tool_args is not None:
            content = (
                reply.content
                if reply.content is not None
                else (
                    reply.tool_args
                    if isinstance(reply.tool_args, str)
                    else json.dumps(reply.tool_args)
                )
            )
            msg["content"] = out = content or ""
        elif rf.get("type") == "json_schema":
            schema = rf.get("json_schema", {}).get("schema", {})
            msg["content"] = out = json.dumps(fill_schema(schema, "root", seed))
        elif rf.get("type") == "json_object":
            msg["content"] = out = json.dumps({"answer": WORDS[seed % len(WORDS)]})
        else:
            words = " ".join(WORDS[_seed(seed, i) % len(WORDS)] for i in range(12))
            msg["content"] = out = f"[fake {seed % 16**8:08x}] {words}"
        if reply.usage:
            pt, ct = reply.usage
        else:
            pt = sum(_ntok(json.dumps(m.get("content", ""))) for m in messages)
            ct = _ntok(out)
        return {
            "id": f"chatcmpl-{seed % 16**16:016x}",
            "object": "chat.completion",
            "created": 1700000000,
            "model": req.get("model", "fake-model"),
            # `n` completions (OpenAI's parameter; DocETL's output.n asks for them): copies.
            "choices": [
                {"index": i, "message": msg, "finish_reason": finish, "logprobs": None}
                for i in range(_choices(req.get("n")))
            ],
            "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct},
        }

    async def _stream(
        self,
        writer: asyncio.StreamWriter,
        req: dict[str, Any],
        out: dict[str, Any],
        reply: Reply,
        rec: RecordedRequest,
    ) -> None:
        """The answer as server-sent events (OpenAI's ``chat.completion.chunk``s), one word per
        chunk, ``reply.chunk_delay_s`` apart, in HTTP chunked encoding; then ``[DONE]``.  A
        client that closes the connection early leaves ``rec.stream_completed`` False."""
        choice = out["choices"][0]
        message = choice["message"]
        base = {k: out[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}

        def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
            data = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            text = f"data: {json.dumps(data)}\n\n".encode()
            return f"{len(text):x}\r\n".encode() + text + b"\r\n"

        head = [
            "HTTP/1.1 200 OK",
            "Content-Type: text/event-stream",
            "Cache-Control: no-cache",
            "Transfer-Encoding: chunked",
            "Connection: keep-alive",
            *(f"{k}: {v}" for k, v in reply.headers.items()),
        ]
        try:
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
            writer.write(event({"role": "assistant", "content": ""}))
            if message.get("tool_calls"):
                call = message["tool_calls"][0]
                writer.write(event({"tool_calls": [{"index": 0, **call}]}))
                rec.chunks_sent += 1
            for piece in re.findall(r"\S+\s*|\s+", message.get("content") or ""):
                if reply.chunk_delay_s:
                    await asyncio.sleep(reply.chunk_delay_s)
                writer.write(event({"content": piece}))
                await writer.drain()
                rec.chunks_sent += 1
            writer.write(event({}, choice["finish_reason"]))
            if (req.get("stream_options") or {}).get("include_usage"):
                data = {**base, "choices": [], "usage": out["usage"]}
                text = f"data: {json.dumps(data)}\n\n".encode()
                writer.write(f"{len(text):x}\r\n".encode() + text + b"\r\n")
            done = b"data: [DONE]\n\n"
            writer.write(f"{len(done):x}\r\n".encode() + done + b"\r\n0\r\n\r\n")
            await writer.drain()
            rec.stream_completed = True
        except (ConnectionError, RuntimeError):
            pass  # the client stopped reading: the stream ends here

    def _embed(self, req: dict[str, Any]) -> dict[str, Any]:
        inputs = req.get("input", "")
        inputs = [inputs] if isinstance(inputs, str) else inputs
        data, pt = [], 0
        for i, text in enumerate(inputs):
            vec = _embedding(str(text), self.embed_dim)
            data.append({"object": "embedding", "index": i, "embedding": vec})
            pt += _ntok(str(text))
        return {
            "object": "list",
            "data": data,
            "model": req.get("model", "fake-embed"),
            "usage": {"prompt_tokens": pt, "total_tokens": pt},
        }

    async def _respond(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        body: Any,
        extra: dict[str, str] | None = None,
    ) -> None:
        reasons = {
            200: "OK",
            400: "Bad Request",
            404: "Not Found",
            429: "Too Many Requests",
            500: "Internal Server Error",
            503: "Service Unavailable",
        }
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        head = [
            f"HTTP/1.1 {status} {reasons.get(status, 'Error')}",
            "Content-Type: application/json",
            f"Content-Length: {len(payload)}",
            "Connection: keep-alive",
            *(f"{k}: {v}" for k, v in (extra or {}).items()),
        ]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        await writer.drain()


def _field_names(tools: list[Any], rf: dict[str, Any]) -> list[str]:
    """The sorted top-level field names of the output a request asks for (tool or schema)."""
    schema: Any = (rf.get("json_schema") or {}).get("schema") or {}
    if tools and isinstance(tools[0], dict):
        schema = (tools[0].get("function") or {}).get("parameters") or {}
    props = schema.get("properties") if isinstance(schema, dict) else None
    return sorted(props) if isinstance(props, dict) else []


def _choices(n: Any) -> int:
    return min(max(n, 1), 128) if isinstance(n, int) and not isinstance(n, bool) else 1


def _embedding(text: str, dim: int) -> list[float]:
    """Deterministic unit vector; texts sharing words get similar vectors (bag of words)."""
    vec = [0.0] * dim
    for word in text.lower().split():
        raw = hashlib.sha256(word.encode()).digest()
        for k, v in enumerate(struct.unpack(">8i", raw)):
            vec[(k * 7 + raw[k]) % dim] += v / 2**31
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


class ServerProcess:
    """The server in its own process, for benchmarks: it must not share the client's GIL/CPU."""

    def __init__(
        self, latency_ms: float = 0.0, *, start_timeout_s: float = 20.0, answers: str = "request"
    ) -> None:
        import subprocess
        import sys
        import tempfile
        from pathlib import Path

        port_file = Path(tempfile.mkdtemp()) / "port"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llmassert.testing.fake_server",
                "--port",
                "0",
                "--latency-ms",
                str(latency_ms),
                "--port-file",
                str(port_file),
                "--answers",
                answers,
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.time() + start_timeout_s
        while not (port_file.exists() and port_file.read_text()):
            if time.time() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("fake LLM server process did not start")
            time.sleep(0.05)
        self.base_url = f"http://127.0.0.1:{port_file.read_text()}/v1"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def main() -> None:
    """``python -m llmassert.testing.fake_server --port 8765 --latency-ms 200``."""
    import argparse

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--error-rate", type=float, default=0.0)
    ap.add_argument("--port-file")
    ap.add_argument("--answers", choices=("request", "fields"), default="request")
    args = ap.parse_args()
    server = FakeLLMServer(
        port=args.port,
        latency_s=args.latency_ms / 1000,
        error_rate=args.error_rate,
        answers=args.answers,
    ).start()
    if args.port_file:
        with open(args.port_file, "w") as f:
            f.write(str(server.port))
    print(f"fake LLM server on {server.base_url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main()
