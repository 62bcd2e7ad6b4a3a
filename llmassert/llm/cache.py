"""Content-addressed disk cache for LLM results.

The key is the sha256 of the canonical JSON of everything that determines an answer (model,
messages, output schema and name, temperature, max_tokens, params, salt).  ``tag`` is an
accounting label and deliberately not part of the key.  Only successful, validated results are
stored: errors never reach :meth:`DiskCache.put`, so a failed call is retried next run instead of
being replayed from disk.

Layout: ``<dir>/ab/abcdef….json`` (two-character shards keep folders small); writes go to a
temporary file and ``os.replace`` so a crash never leaves half a file behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from llmassert.llm.client import LLMRequest

# Bump when the stored format or key recipe changes: old entries simply stop matching.
KEY_VERSION = 1


def canonical_json(value: Any) -> str:
    """Stable JSON: sorted keys, no whitespace, non-ASCII kept (hash input and body matching)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def request_key(request: LLMRequest) -> str:
    """The cache key of a chat request (``tag`` and ``use_cache`` excluded)."""
    blob = {
        "v": KEY_VERSION,
        "kind": "chat",
        "model": request.model,
        "messages": list(request.messages),
        "output_schema": request.output_schema,
        "schema_name": request.schema_name if request.output_schema is not None else None,
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "params": request.params,
        "salt": request.salt,
    }
    return hashlib.sha256(canonical_json(blob).encode()).hexdigest()


def embedding_key(model: str, text: str) -> str:
    """The cache key of one embedded text."""
    blob = {"v": KEY_VERSION, "kind": "embed", "model": model, "text": text}
    return hashlib.sha256(canonical_json(blob).encode()).hexdigest()


class DiskCache:
    """A folder of JSON files addressed by key. Safe to share between processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._shards: set[Path] = set()

    def _file(self, key: str) -> Path:
        return self.path / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored value, or None (missing or unreadable entries are misses)."""
        try:
            with open(self._file(key), encoding="utf-8") as f:
                value = json.load(f)
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Store ``value`` atomically (last writer wins; equal keys mean equal answers)."""
        data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        target = self._file(key)
        if target.parent not in self._shards:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._shards.add(target.parent)
        try:
            self._write(target, data)
        except FileNotFoundError:  # the folder was cleared meanwhile
            target.parent.mkdir(parents=True, exist_ok=True)
            self._write(target, data)

    @staticmethod
    def _write(target: Path, data: bytes) -> None:
        # Unique per process and thread: concurrent writers never share a temp file.
        tmp = target.with_name(f".tmp-{target.stem[:16]}-{os.getpid()}-{threading.get_ident()}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _entries(self) -> list[Path]:
        if not self.path.is_dir():
            return []
        return [p for p in self.path.glob("??/*.json") if not p.name.startswith(".tmp-")]

    def clear(self) -> int:
        """Delete every entry (and leftover temp files); return how many entries were removed."""
        removed = 0
        for p in self._entries():
            with contextlib.suppress(OSError):
                p.unlink()
                removed += 1
        if self.path.is_dir():
            for shard in self.path.glob("??"):
                for tmp in shard.glob(".tmp-*"):
                    with contextlib.suppress(OSError):
                        tmp.unlink()
                with contextlib.suppress(OSError):
                    shard.rmdir()
        self._shards.clear()
        return removed

    def stats(self) -> tuple[int, int]:
        """(number of entries, total bytes)."""
        count = size = 0
        for p in self._entries():
            with contextlib.suppress(OSError):
                size += p.stat().st_size
                count += 1
        return count, size
