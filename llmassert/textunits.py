"""Splitting text into sentence-like units: prompts (history/diff.py) and responses (helpers).

A leaf below both ``history/`` and ``assertions/``: stdlib only (plus the stdlib-only bounded
``re``, ``sandbox/_regex.py``), because the
sandbox worker loads ``assertions/helpers.py`` (which imports this) by path without importing
the ``llmassert`` package; the worker registers this file by path first (``sandbox/_worker.py``).
"""

from __future__ import annotations

# `re` with bounded calls on any thread (sandbox/_regex.py): these run inside checks.
from llmassert.sandbox import _regex as re

# A list marker at the start of a line: "-", "*", "•", "+", "–", "1.", "1)", "1/", "a)".
MARKER = re.compile(r"^\s*(?:[-•–—](?=\s*\S)|[*+](?=\s)|\d{1,3}[.)/](?=\s|$)|[a-zA-Z][)](?=\s))\s*")
ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")

# Words after which a period does not end a sentence even before a capital letter.
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "vs",
        "e.g",
        "i.e",
        "cf",
        "fig",
        "no",
        "nos",
        "vol",
        "approx",
        "dept",
        "est",
        "inc",
        "ltd",
        "co",
        "corp",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "u.s",
        "u.k",
        "a.m",
        "p.m",
        "ph.d",
    ]
)
# A sentence ends at . ! ? (plus closing quotes/brackets) followed by space and a capital,
# digit, opening quote or bracket. Lowercase after a period ("e.g. this") does not split.
_BOUNDARY = re.compile(r"(?<=[.!?])([\"'”’)\]]*)\s+(?=[\"'“‘(\[]?[A-Z0-9])")


def _split_line(line: str) -> list[str]:
    parts: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(line):
        end = m.start(1) if m.group(1) else m.start()
        candidate = line[start : m.end(1) if m.group(1) else end]
        token = candidate.rstrip(".!?\"'”’)]").rsplit(None, 1)
        last = token[-1].casefold().lstrip("(\"'“‘") if token else ""
        # "Dr. Smith", "e.g. The", "J. Smith": not a sentence end.
        if last in _ABBREVIATIONS or (
            len(last) == 1 and last.isalpha() and candidate.endswith(".")
        ):
            continue
        parts.append(candidate.strip())
        start = m.end()
    tail = line[start:].strip()
    if tail:
        parts.append(tail)
    return [p for p in parts if p]


def split_units(text: str) -> list[str]:
    """Split text into sentence-like units, keeping list items and headers as their own units.

    Lines are joined when a sentence is hard-wrapped (the previous line has no closing
    punctuation and the next starts in lowercase); list markers are stripped.
    """
    return [unit for unit, _kind in split_units_with_kinds(text)]


def split_units_with_kinds(text: str) -> list[tuple[str, str]]:
    """Like :func:`split_units`, each unit with where it came from.

    Kinds: ``"header"`` (markdown ``#``), ``"item"`` (a list item), ``"line"`` (a line or
    paragraph that is one sentence), ``"sentence"`` (one of several sentences of a paragraph).
    """
    if not isinstance(text, str):
        return []
    blocks: list[list[str]] = []  # [text, kind]
    joinable = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            joinable = False
            continue
        header = ATX.match(raw)
        item = MARKER.match(raw)
        if joinable and not (header or item) and line[0].islower():
            blocks[-1][0] = f"{blocks[-1][0]} {line}"
        elif header:
            blocks.append([header.group(2), "header"])
        elif item:
            blocks.append([MARKER.sub("", raw, count=1).strip(), "item"])
        else:
            blocks.append([line, "line"])
        joinable = not blocks[-1][0].endswith((".", "!", "?", ":", ";"))
    units: list[tuple[str, str]] = []
    for block, kind in blocks:
        parts = _split_line(block)
        if len(parts) > 1 and kind == "line":
            kind = "sentence"
        units.extend((part, kind) for part in parts)
    return units


__all__ = ["ATX", "MARKER", "split_units", "split_units_with_kinds"]
