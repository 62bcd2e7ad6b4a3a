"""Fast JSON for the hot paths (request bodies, responses, journals, digests, output files).

orjson encodes and decodes 5-10x faster than the stdlib; where it refuses a value the stdlib
takes (integers past 64 bits, non-string keys) the stdlib writes it instead, so every value
``json.dumps`` accepts is still accepted.  Output is compact UTF-8 (``ensure_ascii=False``,
no spaces); ``sort_keys`` gives the stable form digests hash.  Readers of user files keep
``fileio.parse_json`` (its errors name the file and line); this is for what llmassert wrote or
what a server answered.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_SORT = orjson.OPT_SORT_KEYS


def dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    """Compact UTF-8 JSON of ``value``; values JSON cannot hold are written with ``str``."""
    try:
        return orjson.dumps(value, default=str, option=_SORT if sort_keys else 0)
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(
            value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False, default=str
        ).encode()


def loads(data: bytes | str) -> Any:
    """Parse JSON; ``ValueError`` if it is not JSON (the stdlib's extensions such as ``NaN``
    are accepted, as ``json.loads`` does)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)
