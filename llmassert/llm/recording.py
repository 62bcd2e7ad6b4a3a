"""Record / replay of LLM HTTP traffic with vcrpy cassettes.

``with cassette(settings, "name"):`` patches HTTP (aiohttp, httpx) for its duration:

- ``mode="record"``: every successful exchange is written to ``<cassette_dir>/<name>.yaml`` when
  the block ends, also when it ends with an error (a fresh recording that replaces the old one;
  429/5xx answers are not kept, so replays do not sleep).  Other processes of the same run (Ray
  workers) record into cassettes of their own, which :func:`absorb` merges into this one.
- ``mode="replay"``: answers come from the cassette only.  A request that is not in it never
  reaches the network: it is answered with a synthetic ``HTTP 404`` carrying the header
  ``x-llmassert-cassette-miss`` and a one-line message, and noted on the active cassette.  An
  HTTP error, not a connection failure, because every client would *retry* a connection failure
  (the OpenAI SDK twice, with back-off) and litellm would report it as ``InternalServerError:
  Connection error``; no client retries a 404.  Our transports and the guards turn it into
  :class:`~llmassert.errors.CassetteMissError` (:func:`replay_miss`); the pytest plugin fails the
  test with it even when the code under test swallowed the error.

Requests match on method, URL *path* (host and port change between runs: test servers bind random
ports) and the canonical JSON body, so a changed prompt, model or schema is a miss, never a stale
answer.  Secrets are removed before anything is stored: only a whitelist of request headers is kept
(no ``authorization``/``api-key``/``x-api-key``/``openai-organization``/cookies), ``set-cookie``
is dropped from responses, and key-like strings (the configured key, the values of environment
variables named ``*KEY``/``*TOKEN``/``*SECRET``/``*PASSWORD``, ``sk-…``/``AIza…``/bearer tokens,
``?key=`` query values) are replaced in URLs and bodies, identically when matching.  Bodies are
stored as YAML structures, so cassettes read and diff well.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from llmassert.config import Settings
from llmassert.errors import CassetteMissError, ConfigError, InputError
from llmassert.fileio import atomic_write_text, check_output_dir, decode_text, read_bytes
from llmassert.llm.cache import canonical_json
from llmassert.secrets import REDACTED
from llmassert.secrets import Scrubber as _Scrubber
from llmassert.secrets import secret_values as _secret_values

__all__ = ["REDACTED", "Scrubber", "absorb", "cassette", "secret_values"]
KEEP_REQUEST_HEADERS = frozenset({"content-type", "accept"})
DROP_RESPONSE_HEADERS = frozenset(
    {
        "set-cookie",
        "content-length",
        "content-encoding",
        "transfer-encoding",
        "connection",
        "date",
        "keep-alive",
        "openai-organization",
        "x-request-id",
        "cf-ray",
        "server",
    }
)
# Status codes worth retrying are not recorded: a replay should not wait out a rate limit again.
NOT_RECORDED = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})


MISS_HEADER = "x-llmassert-cassette-miss"
MISS_MARKER = "llmassert: request not in cassette"
MISS_HINT = "re-record the cassette, or check that the prompt, model or schema did not change"


@dataclass(frozen=True)
class ActiveCassette:
    name: str
    path: Path
    mode: str
    # Replay misses, one line each, in order (appended to from HTTP client threads).
    misses: list[str] = field(default_factory=list, compare=False)
    # The vcrpy cassette being played or recorded (absorb() appends to it).
    vcr: Any = field(default=None, compare=False, repr=False)

    def miss_error(self, since: int = 0) -> CassetteMissError | None:
        """The error for the first miss after the first ``since`` ones, if any."""
        if len(self.misses) <= since:
            return None
        return CassetteMissError(
            f"request not in cassette {self.path}: {self.misses[since]}",
            hint=MISS_HINT,
        )


def miss_detail(text: str) -> str | None:
    """The one-line description in a synthetic miss answer (or error text quoting it)."""
    if MISS_MARKER not in text:
        return None
    tail = text.split(MISS_MARKER, 1)[1].split("(replay mode):", 1)[-1]
    # Quoted inside JSON or a repr, the detail ends at the closing quote.
    return " ".join(re.split(r"[\"']", tail, maxsplit=1)[0].split())


def replay_miss(
    exc: BaseException | None = None, *, since: int | None = None
) -> CassetteMissError | None:
    """A :class:`CassetteMissError` when ``exc`` comes from a replay miss, or (with ``since``)
    when the active replay cassette missed a request after its first ``since`` misses.

    For code that calls a client we do not own (litellm, the OpenAI SDK) inside a cassette::

        before = replay_miss_count()
        try: litellm.completion(...)
        except Exception as e:
            if (miss := replay_miss(e, since=before)) is not None: raise miss from e
            raise
    """
    info = active()
    if exc is not None:
        detail = miss_detail(str(exc))
        if detail is not None:
            where = info.path if info is not None else "(cassette)"
            return CassetteMissError(f"request not in cassette {where}: {detail}", hint=MISS_HINT)
    if since is not None and info is not None and info.mode == "replay":
        return info.miss_error(since)
    return None


def replay_miss_count() -> int:
    """How many misses the active cassette has seen (0 outside a replay)."""
    info = active()
    return len(info.misses) if info is not None else 0


_active: list[ActiveCassette] = []
_active_lock = threading.Lock()


def active() -> ActiveCassette | None:
    """The innermost active cassette, if any."""
    with _active_lock:
        return _active[-1] if _active else None


def cassette_path(settings: Settings, name: str) -> Path:
    if settings.cassette_dir is None:
        raise ConfigError(
            f"mode {settings.mode!r} needs a cassette folder",
            field="cassette_dir",
            hint="pass --record DIR or --replay DIR",
        )
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "cassette"
    return Path(settings.cassette_dir) / f"{safe}.yaml"


# -- scrubbing ---------------------------------------------------------------------------------


def secret_values(settings: Settings | None = None) -> list[str]:
    """Strings that must never be stored: the configured key and every known secret value."""
    extra = (settings.api_key.get_secret_value(),) if settings and settings.api_key else ()
    return _secret_values(extra)


class Scrubber(_Scrubber):
    """The shared scrubber, plus canonical JSON bodies (what the body matcher compares)."""

    def body(self, body: bytes | str | None) -> bytes | None:
        if body is None:
            return None
        raw = body.encode() if isinstance(body, str) else bytes(body)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw
        try:
            return canonical_json(self.data(json.loads(text))).encode()
        except ValueError:
            return self.text(text).encode()


def _before_record_request(scrub: Scrubber) -> Any:
    def hook(request: Any) -> Any:
        request.uri = scrub.url(request.uri)
        request.body = scrub.body(
            request.body_bytes if hasattr(request, "body_bytes") else request.body
        )
        for name in list(request.headers):
            if name.lower() not in KEEP_REQUEST_HEADERS:
                del request.headers[name]
        return request

    return hook


def _before_record_response(scrub: Scrubber) -> Any:
    def hook(response: dict[str, Any]) -> dict[str, Any] | None:
        if (response.get("status") or {}).get("code") in NOT_RECORDED:
            return None
        headers = response.get("headers") or {}
        response["headers"] = {
            k: [scrub.text(str(v)) for v in vs] if isinstance(vs, list) else scrub.text(str(vs))
            for k, vs in headers.items()
            if k.lower() not in DROP_RESPONSE_HEADERS
        }
        body = response.get("body") or {}
        if isinstance(body, dict) and body.get("string") is not None:
            body["string"] = scrub.body(body["string"])
        return response

    return hook


# -- matching ----------------------------------------------------------------------------------


def llm_path(r1: Any, r2: Any) -> None:
    p1, p2 = urlsplit(r1.uri).path.rstrip("/"), urlsplit(r2.uri).path.rstrip("/")
    assert p1 == p2, f"path {p1} != {p2}"


def llm_body(r1: Any, r2: Any) -> None:
    # Both sides went through the request hook, so JSON bodies are canonical bytes already.
    assert r1.body == r2.body, "body differs"


# -- readable YAML -----------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_presenter)


def _decode(body: Any) -> Any:
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(body).decode()}
    if isinstance(body, str):
        try:
            return {"json": json.loads(body)}
        except ValueError:
            return {"text": body}
    return {"text": None}


def _encode(stored: dict[str, Any]) -> bytes | None:
    if "json" in stored:
        return canonical_json(stored["json"]).encode()
    if "base64" in stored:
        return base64.b64decode(str(stored["base64"]))
    text = stored.get("text")
    return None if text is None else str(text).encode()


class ReadableYaml:
    """vcrpy serializer: bodies as YAML structures instead of escaped strings."""

    @staticmethod
    def serialize(data: dict[str, Any]) -> str:
        out = []
        for item in data.get("interactions", []):
            req, resp = dict(item["request"]), dict(item["response"])
            req["body"] = _decode(req.get("body"))
            body = resp.get("body") or {}
            resp["body"] = _decode(body.get("string") if isinstance(body, dict) else body)
            out.append({"request": req, "response": resp})
        doc = {"version": data.get("version", 1), "interactions": out}
        if data.get("metadata"):
            doc["metadata"] = data["metadata"]
        return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)

    @staticmethod
    def deserialize(text: str) -> dict[str, Any]:
        doc = yaml.safe_load(text) or {}
        if not isinstance(doc, dict):
            raise _Malformed("expected a mapping with `interactions:`", "cassette")
        items = doc.get("interactions") or []
        if not isinstance(items, list):
            raise _Malformed("expected a list", "interactions")
        interactions = []
        for i, item in enumerate(items):
            where = f"interactions[{i}]"
            if not isinstance(item, dict):
                raise _Malformed("expected a mapping with request and response", where)
            req, resp = item.get("request"), item.get("response")
            if not isinstance(req, dict) or not isinstance(resp, dict):
                raise _Malformed("expected request and response mappings", where)
            for key, kind in (("method", str), ("uri", str), ("headers", dict)):
                if not isinstance(req.get(key), kind):
                    raise _Malformed(f"missing or not a {kind.__name__}", f"{where}.request.{key}")
            status = resp.get("status")
            if not isinstance(status, dict) or not isinstance(status.get("code"), int):
                raise _Malformed("expected {code: int, message: str}", f"{where}.response.status")
            for side, body in (("request", req.get("body")), ("response", resp.get("body"))):
                if body is not None and not isinstance(body, dict):
                    raise _Malformed(
                        "expected {json: ...}, {text: ...} or {base64: ...}", f"{where}.{side}.body"
                    )
            req, resp = dict(req), dict(resp)
            req["body"] = _encode(req.get("body") or {})
            resp["body"] = {"string": _encode(resp.get("body") or {}) or b""}
            interactions.append({"request": req, "response": resp})
        return {**doc, "interactions": interactions}


class _Malformed(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class AtomicPersister:
    """vcrpy persister writing through a temp file + os.replace (never a half-written cassette)."""

    @classmethod
    def load_cassette(cls, cassette_path: Any, serializer: Any) -> Any:
        """The cassette's requests and responses; a malformed file is one InputError line."""
        from vcr.persisters.filesystem import CassetteNotFoundError
        from vcr.serialize import deserialize

        path = Path(cassette_path)
        if not path.is_file():
            raise CassetteNotFoundError()
        data = decode_text(read_bytes(path), path)
        if not data.strip():
            raise CassetteNotFoundError()
        try:
            return deserialize(data, serializer)
        except _Malformed as e:
            raise InputError(f"not a valid cassette: {e}", file=path, field=e.field) from None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f"line {mark.line + 1}" if mark is not None else None
            problem = getattr(e, "problem", None) or type(e).__name__
            raise InputError(f"not valid YAML: {problem}", file=path, field=where) from None
        except RecursionError:
            raise InputError("not a valid cassette: nested too deeply", file=path) from None
        except (ValueError, TypeError, KeyError, AttributeError, binascii.Error) as e:
            raise InputError(f"not a valid cassette: {e}", file=path) from None

    @staticmethod
    def save_cassette(cassette_path: Any, cassette_dict: Any, serializer: Any) -> None:
        from vcr.serialize import serialize

        atomic_write_text(Path(cassette_path), serialize(cassette_dict, serializer))


# -- replay misses ---------------------------------------------------------------------------


def _describe(request: Any, recorded: int) -> str:
    """One line naming a request that is not in the cassette (no secrets: bodies are scrubbed)."""
    what = f"{request.method} {urlsplit(request.uri).path}"
    try:
        body = json.loads(request.body or b"")
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("model"):
        what += f" (model {body['model']})"
    return f"{what}: no recorded request has this body ({recorded} recorded)"


def _answer_misses(recorded: Any, info: ActiveCassette) -> None:
    """Make a vcrpy cassette answer requests it does not hold with a synthetic 404 (see the
    module docstring) instead of raising inside the HTTP client.

    vcrpy's stubs ask ``can_play_response_for`` then ``play_response`` on the cassette object;
    both are wrapped on this instance only.
    """
    can_play, play = recorded.can_play_response_for, recorded.play_response

    def can_play_any(request: Any) -> bool:
        return True

    def play_or_miss(request: Any) -> dict[str, Any]:
        if can_play(request):
            return play(request)  # type: ignore[no-any-return]
        line = _describe(recorded._before_record_request(request), len(recorded.data))
        info.misses.append(line)
        message = f"{MISS_MARKER} {info.path} (replay mode): {line}"
        body = json.dumps({"error": {"message": message, "type": "cassette_miss"}}).encode()
        return {
            "status": {"code": 404, "message": "Not Found"},
            "headers": {"content-type": ["application/json"], MISS_HEADER: ["1"]},
            "body": {"string": body},
        }

    recorded.can_play_response_for = can_play_any
    recorded.play_response = play_or_miss


def absorb(path: Path) -> int:
    """Move the exchanges of a cassette another process recorded (a Ray worker's part of a
    ``--record`` run) into the active recording, and delete that file.  Returns how many."""
    from vcr.serialize import deserialize

    info = active()
    if info is None or info.mode != "record" or info.vcr is None:
        raise ConfigError("no recording is active to add a worker's cassette to", field="record")
    requests, responses = deserialize(decode_text(read_bytes(path), path), ReadableYaml)
    for request, response in zip(requests, responses, strict=True):
        info.vcr.append(request, response)  # scrubbed again: the hooks are idempotent
    path.unlink()
    return len(requests)


# -- the context manager -----------------------------------------------------------------------


@contextlib.contextmanager
def cassette(
    settings: Settings, name: str, *, record_hint: str = "record it first with --record DIR"
) -> Iterator[ActiveCassette | None]:
    """Activate record/replay for ``settings.mode`` (a no-op in live mode).

    ``record_hint`` is how the caller's user records (the CLI's ``--record DIR``, pytest's
    ``--llmassert-record``): the one hint a missing cassette prints.
    """
    if settings.mode == "live":
        yield None
        return
    path = cassette_path(settings, name)
    if settings.mode == "record":
        check_output_dir(path.parent, field="record")
    if settings.mode == "replay" and not path.is_file():
        raise CassetteMissError(f"cassette {path} not found", field="replay", hint=record_hint)
    import vcr  # lazy: only record/replay runs pay for it

    scrub = Scrubber(secret_values(settings))
    # Record into a fresh side file, then replace the cassette: the result holds exactly this
    # run's requests (also when it made none, or stopped on an error), never half a file.
    is_record = settings.mode == "record"
    target = path.with_name(f".{path.name}.recording") if is_record else path
    if is_record:
        target.unlink(missing_ok=True)
    recorder = vcr.VCR(
        record_mode="all" if is_record else "none",
        match_on=["method", "llm_path", "llm_body"],
        before_record_request=_before_record_request(scrub),
        before_record_response=_before_record_response(scrub),
        decode_compressed_response=True,
    )
    recorder.register_matcher("llm_path", llm_path)
    recorder.register_matcher("llm_body", llm_body)
    recorder.register_serializer("llmassert-yaml", ReadableYaml)
    recorder.register_persister(AtomicPersister)
    try:
        with recorder.use_cassette(
            str(target), serializer="llmassert-yaml", allow_playback_repeats=True
        ) as recorded:
            info = ActiveCassette(name=name, path=path, mode=settings.mode, vcr=recorded)
            if not is_record:
                _answer_misses(recorded, info)
            with _active_lock:
                _active.append(info)
            try:
                yield info
            finally:
                with _active_lock:
                    _active.remove(info)
    finally:
        if is_record:
            if target.is_file():
                os.replace(target, path)
            else:  # no calls: an empty cassette, so replaying this run works too
                AtomicPersister.save_cassette(path, {"requests": [], "responses": []}, ReadableYaml)
