"""Content-addressed disk cache for LLM results.

The key is the sha256 of the canonical JSON of everything that determines an answer (model,
messages, output schema and name, temperature, max_tokens, params, salt).  ``tag`` is an
accounting label and deliberately not part of the key.  Only successful, validated results are
stored: errors never reach :meth:`DiskCache.put`, so a failed call is retried next run instead of
being replayed from disk.

Layout: ``<dir>/ab/abcdef….json`` (two-character shards keep folders small) beside a
``CACHEDIR.TAG``; writes go through :func:`llmassert.fileio.atomic_write_text`, so a crash never
leaves half a file behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from llmassert.errors import InputError
from llmassert.fileio import atomic_write_text
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


CACHEDIR_TAG = "CACHEDIR.TAG"
# The standard cache-folder marker (https://bford.info/cachedir/): backup tools skip the folder,
# and `llmassert cache clear` refuses a folder without it.
TAG_TEXT = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This folder is an llmassert LLM response cache (llmassert cache clear empties it).\n"
)
ENTRY_NAME = re.compile(r"^([0-9a-f]{2})[0-9a-f]{62}\.json$")


class CacheFolderError(InputError):
    """The folder given as a cache is not one llmassert made."""


class DiskCache:
    """A folder of JSON files addressed by key. Safe to share between processes.

    Each entry is ``{"llmassert_cache": KEY_VERSION, "key": <its key>, "value": ...}`` in
    ``<key[:2]>/<key>.json`` and the folder carries a ``CACHEDIR.TAG`` written by llmassert:
    :meth:`clear` deletes only files that have all three marks, so pointing ``--cache-dir`` at
    a project folder can never delete a user file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._shards: set[Path] = set()
        self._tagged = False

    def _file(self, key: str) -> Path:
        return self.path / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored value, or None (missing, unreadable or foreign entries are misses)."""
        try:
            with open(self._file(key), encoding="utf-8") as f:
                entry = json.load(f)
        except (OSError, ValueError, RecursionError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key:
            return None
        value = entry.get("value")
        return value if isinstance(value, dict) else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Store ``value`` atomically (last writer wins; equal keys mean equal answers)."""
        entry = {"llmassert_cache": KEY_VERSION, "key": key, "value": value}
        data = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
        target = self._file(key)
        if not self._tagged:
            self._tag()
        if target.parent not in self._shards:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._shards.add(target.parent)
        # A lost cache entry costs one call again: no fsync on this path.
        atomic_write_text(target, data, fsync=False)

    def _tag(self) -> None:
        tag = self.path / CACHEDIR_TAG
        if not tag.is_file():
            self.path.mkdir(parents=True, exist_ok=True)
            atomic_write_text(tag, TAG_TEXT)
        self._tagged = True

    def is_ours(self) -> bool:
        """True if llmassert made this folder (its CACHEDIR.TAG says so)."""
        try:
            return (self.path / CACHEDIR_TAG).read_text(encoding="utf-8") == TAG_TEXT
        except (OSError, UnicodeDecodeError):
            return False

    def _entries(self) -> list[Path]:
        """Files that are provably entries this class wrote (name, place and content)."""
        if not self.is_ours():
            return []
        found = []
        for shard in self.path.iterdir():
            if not (shard.is_dir() and not shard.is_symlink() and len(shard.name) == 2):
                continue
            for p in shard.iterdir():
                m = ENTRY_NAME.match(p.name)
                if m is None or m.group(1) != shard.name or not p.is_file() or p.is_symlink():
                    continue
                try:
                    with open(p, encoding="utf-8") as f:
                        entry = json.load(f)
                except (OSError, ValueError, RecursionError):
                    continue
                if isinstance(entry, dict) and entry.get("key") == p.stem and "value" in entry:
                    found.append(p)
        return found

    def clear(self) -> int:
        """Delete every entry this cache wrote; return how many were removed.

        Refuses (:class:`CacheFolderError`) a folder without llmassert's ``CACHEDIR.TAG``
        unless it is empty: nothing else in it is ever touched.
        """
        if not self.path.exists():
            return 0
        if not self.path.is_dir():
            raise CacheFolderError("is not a folder, so not an llmassert cache", file=self.path)
        if not self.is_ours():
            if any(self.path.iterdir()):
                raise CacheFolderError(
                    "not an llmassert cache (no CACHEDIR.TAG written by llmassert): nothing "
                    "removed",
                    file=self.path,
                )
            return 0
        removed = 0
        for p in self._entries():
            with contextlib.suppress(OSError):
                p.unlink()
                removed += 1
        for shard in {p for p in self.path.iterdir() if p.is_dir() and len(p.name) == 2}:
            for tmp in shard.glob(".*.json.*.tmp"):  # left by a killed atomic write
                with contextlib.suppress(OSError):
                    tmp.unlink()
            with contextlib.suppress(OSError):
                shard.rmdir()  # only when nothing else is left in it
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
