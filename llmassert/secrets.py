"""The one secret scrubber: nothing llmassert writes or prints carries a credential.

Two strengths, because the cost of a false positive differs:

- :func:`scrub` (error lines, error/quarantine files, logs, reports, cassettes, stderr): the known
  secret values, credentials in URLs (``user:password@`` and ``?api_key=``-style query values),
  ``Authorization`` / ``api-key`` / ``x-api-key`` style header values and key-shaped strings
  (``sk-…``, ``AIza…``, bearer tokens).
- :func:`scrub_values` (every file the atomic writer writes, journals): only the exact known secret
  values.  Pipeline outputs are user data; a pattern could rewrite a legitimate string, an exact
  key value never is one.

The known values are the configured API keys (``register`` them; :class:`~llmassert.config.Settings`
does for ``api_key``), the provider key variables litellm reads (``*_API_KEY``), and other
environment variables named like secrets (``*KEY``/``*TOKEN``/``*SECRET``/``*PASSWORD``) whose
value looks like a token rather than a path or a flag.
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "<redacted>"
SECRET_QUERY_PARAMS = frozenset(
    {
        "key",
        "api_key",
        "api-key",
        "apikey",
        "token",
        "access_token",
        "sig",
        "signature",
        "password",
        "secret",
        "client_secret",
    }
)
# Provider key shapes (OpenAI/Anthropic sk-…, Google AIza…, bearer tokens in text).
KEY_PATTERNS = re.compile(
    r"\bsk-[A-Za-z0-9_\-]{12,}|\bAIza[0-9A-Za-z_\-]{20,}|(?i:bearer)\s+[A-Za-z0-9._\-~+/=]{12,}"
)
# `Authorization: Basic xyz`, `"api-key": "xyz"`, `x-api-key=xyz`, `'Authorization': 'Bearer xyz'`.
HEADER_VALUES = re.compile(
    r"""(?ix)
    (\b(?:proxy-)?authorization|\bx-api-key|\bapi[-_]?key|\bx-goog-api-key|\bcookie)
    (["']?\s*[:=]\s*["']?)
    (?:(bearer|basic|token)\s+)?
    ([^\s"',;&}\]]+)
    """
)
URLS = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s\"'<>`]+")
SECRET_ENV = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)$", re.IGNORECASE)
MIN_SECRET = 8

_registered: set[str] = set()
_lock = threading.Lock()


def register(value: str | None) -> None:
    """Treat ``value`` (a key given by flag or config rather than the environment) as secret."""
    if value and len(value) >= MIN_SECRET:
        with _lock:
            _registered.add(value)


def _looks_like_token(value: str) -> bool:
    # A path, a URL without credentials or a sentence in a *_KEY variable is not a credential;
    # scrubbing it from every file would corrupt outputs.
    return (
        len(value) >= MIN_SECRET
        and not any(c.isspace() for c in value)
        and "/" not in value
        and value.lower() not in ("true", "false", "enabled", "disabled")
    )


_env_cache: tuple[Any, frozenset[str], list[str]] | None = None


def _env_secrets() -> list[str]:
    """Secret-looking environment values, recomputed only when the environment changed.

    Decoding and matching every variable costs far more than comparing a snapshot, and this
    runs for every error, journal line and written file.
    """
    global _env_cache
    raw = getattr(os.environ, "_data", None)  # CPython: the bytes mapping behind os.environ
    snapshot = tuple(raw.items()) if isinstance(raw, dict) else None
    with _lock:
        registered = frozenset(_registered)
        cached = _env_cache
    if (
        cached is not None
        and snapshot is not None
        and cached[0] == snapshot
        and cached[1] == registered
    ):
        return cached[2]
    values = {v for k, v in os.environ.items() if SECRET_ENV.search(k) and _looks_like_token(v)}
    result = sorted(values | registered, key=len, reverse=True)
    with _lock:
        _env_cache = (snapshot, registered, result)
    return result


def secret_values(extra: tuple[str, ...] = ()) -> list[str]:
    """Every known secret value, longest first (so a key containing another is replaced whole)."""
    values = _env_secrets()
    more = [v for v in extra if v and len(v) >= MIN_SECRET and v not in values]
    return sorted([*values, *more], key=len, reverse=True) if more else values


def scrub_values(text: str, secrets: list[str] | None = None) -> str:
    """``text`` with every known secret value replaced by ``<redacted>``."""
    for secret in secret_values() if secrets is None else secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def scrub_bytes(data: bytes, secrets: list[str] | None = None) -> bytes:
    """:func:`scrub_values` for UTF-8 bytes.  UTF-8 is self-synchronising (a secret's encoding
    occurs in the bytes exactly where the secret occurs in the text), so the common case — no
    secret in ``data`` — is a byte search, without the decode / replace / encode round trip
    (most of the cost of writing large outputs and journals)."""
    found = secret_values() if secrets is None else secrets
    if not any(s.encode() in data for s in found):
        return data
    return scrub_values(data.decode("utf-8"), found).encode("utf-8")


def scrub_url(uri: str) -> str:
    """A URL without its password, user and secret query values (``?api_key=`` ...)."""
    try:
        parts = urlsplit(uri)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(k.lower() in SECRET_QUERY_PARAMS for k, _ in pairs):
                query = urlencode(
                    [(k, REDACTED if k.lower() in SECRET_QUERY_PARAMS else v) for k, v in pairs]
                )
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:  # not parseable as a URL: drop it rather than risk its credentials
        return REDACTED


def _header(match: re.Match[str]) -> str:
    scheme = f"{match.group(3)} " if match.group(3) else ""
    return f"{match.group(1)}{match.group(2)}{scheme}{REDACTED}"


def scrub(text: str, secrets: list[str] | None = None) -> str:
    """``text`` safe for an error line, a log or a report (see the module docstring)."""
    text = scrub_values(text, secrets)
    if "://" in text:
        text = URLS.sub(lambda m: scrub_url(m.group(0)), text)
    text = HEADER_VALUES.sub(_header, text)
    return KEY_PATTERNS.sub(REDACTED, text)


def scrub_data(value: Any, secrets: list[str] | None = None) -> Any:
    """:func:`scrub` applied to every string in a JSON-like value (keys included)."""
    if secrets is None:
        secrets = secret_values()
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, list | tuple):
        return [scrub_data(v, secrets) for v in value]
    if isinstance(value, dict):
        return {
            (scrub(k, secrets) if isinstance(k, str) else k): scrub_data(v, secrets)
            for k, v in value.items()
        }
    return value


class Scrubber:
    """A scrubber bound to a fixed list of secret values (record/replay builds one per cassette)."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        self.secrets = secret_values() if secrets is None else secrets

    def text(self, value: str) -> str:
        return scrub(value, self.secrets)

    def data(self, value: Any) -> Any:
        return scrub_data(value, self.secrets)

    def url(self, uri: str) -> str:
        return self.text(scrub_url(uri))
