"""Find the structure of a response: sections, their items, labelled fields, ratings.

Checks synthesized from a prompt's output template call these so that every limit is checked at
the scope the prompt names ("each bullet in IDEAS", "the SUMMARY section") instead of on the
whole response. Lenient where compliant responses legitimately vary:

- a section title may be a Markdown header (``#`` .. ``######``), a bold line (``**Title**``,
  ``**Title:**``), an ALL-CAPS line, or a ``Title:`` line, with or without a colon, in any case;
  ``SUMMARY: text`` (title and content on one line) also counts;
- items are bullets (``-``, ``*``, ``•``, ``+``) or numbered (``1.``, ``1)``); a section without
  list markers has one item per non-blank line.

Same rules as :mod:`llmassert.assertions.helpers` (which it builds on): stdlib only, total (odd
input gives the empty answer, never an exception), and importable by generated code in the
sandbox worker, which loads this file by path.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from llmassert.assertions.helpers import json_object, normalize, sentences, words

# Bounded regex calls on any thread (sandbox/_regex.py): helpers run inside checks.
from llmassert.sandbox import _regex as re

__all__ = [
    "all_items_within",
    "field_value",
    "find_sections",
    "has_all_sections",
    "item_count",
    "items",
    "list_length",
    "rating_values",
    "section_text",
    "sections_in_order",
    "title_key",
]

_ATX = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_BOLD = re.compile(r"^\s*(?:\*\*|__)(.+?)(?:\*\*|__)\s*:?\s*(.*)$")
_LABEL = re.compile(r"^\s*([A-Za-z][\w &'/()-]{0,60}?)\s*:\s*(.*)$")
_ITEM = re.compile(r"^\s*(?:[-*+•–—]|\d{1,3}[.)])\s+(?=\S)")


def title_key(title: str) -> str:
    """The form titles are compared in: lowercase letters and digits, single spaces."""
    if not isinstance(title, str):
        return ""
    return " ".join(re.sub(r"[^\w]+", " ", normalize(title).replace("_", " ")).split())


def _header(line: str) -> tuple[str, str, bool] | None:
    """``(title, inline content, strong)`` when ``line`` can open a section.

    Strong titles (Markdown headers, bold lines, ALL-CAPS lines) open a section whatever their
    name; weak ones (``Title: content``) only when the name is one the caller looks for.
    """
    m = _ATX.match(line)
    if m:
        title = m.group(1).strip().strip("*_").strip()
        return title.rstrip(":").strip(), "", True
    m = _BOLD.match(line)
    if m and len(m.group(1).split()) <= 10:
        return m.group(1).strip().rstrip(":").strip(), m.group(2).strip(), True
    stripped = line.strip()
    letters = re.sub(r"[^A-Za-z]", "", stripped.rstrip(":"))
    m = _LABEL.match(line)
    if m and m.group(2).strip():
        letters = ""  # "RATING: HIGH" is a label with content, handled below
    if (
        letters
        and letters.isupper()
        and len(letters) >= 2
        and len(stripped.split()) <= 8
        and not _ITEM.match(line)
    ):
        return stripped.rstrip(":").strip(), "", True
    m = _LABEL.match(line)
    if m and len(m.group(1).split()) <= 8 and not _ITEM.match(line):
        title = m.group(1).strip()
        head = re.sub(r"[^A-Za-z]", "", title)
        return title, m.group(2).strip(), bool(head) and head.isupper() and len(head) >= 2
    return None


@lru_cache(maxsize=64)
def _sections(text: str, names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    wanted = {title_key(n) for n in names}
    out: list[tuple[str, list[str]]] = []
    in_fence = False
    for line in text.splitlines():
        if line.strip().startswith(("```", "~~~")):
            in_fence = not in_fence
        found = None if in_fence else _header(line)
        if found is not None:
            title, inline, strong = found
            key = title_key(title)
            if key in wanted or (strong and not wanted) or (strong and _opens_known(key, wanted)):
                out.append((title, [inline] if inline else []))
                continue
            if strong and wanted and out:
                # An unknown strong title inside a known section (a sub-header) stays content.
                pass
        if out:
            out[-1][1].append(line)
        else:
            out.append(("", [line]))
    return tuple((title, "\n".join(body).strip()) for title, body in out)


def _opens_known(key: str, wanted: set[str]) -> bool:
    # "IDEAS (top 20)" or "1. IDEAS" still opens IDEAS.
    stripped = re.sub(r"^\d+\s+", "", key)
    return stripped in wanted or any(stripped.startswith(w + " ") for w in wanted if w)


def find_sections(
    text: str, names: tuple[str, ...] | list[str] = ()
) -> tuple[tuple[str, str], ...]:
    """``(title, body)`` of each section, in order; text before the first title has title ``""``.

    With ``names``, only those titles (and strong titles starting with one of them) open a
    section, so sub-headers and ``Note:`` lines inside a section stay part of it.
    """
    if not isinstance(text, str):
        return ()
    return _sections(text, tuple(names))


def section_text(text: str, name: str, names: tuple[str, ...] | list[str] = ()) -> str | None:
    """The body of the section titled ``name`` (case and styling ignored), or None when absent.

    ``names``: every section title of the expected output, so the section ends where the next
    one starts even when titles are plain ``LABEL:`` lines. Repeated sections are joined.
    """
    if not isinstance(text, str) or not isinstance(name, str):
        return None
    key = title_key(name)
    found = [
        body
        for title, body in find_sections(text, tuple(names) or (name,))
        if title and _opens_known(title_key(title), {key})
    ]
    return "\n".join(found) if found else None


def has_all_sections(text: str, names: tuple[str, ...] | list[str]) -> bool:
    """True when every section in ``names`` is present."""
    return all(section_text(text, n, names) is not None for n in names)


def sections_in_order(text: str, names: tuple[str, ...] | list[str]) -> bool:
    """True when the sections of ``names`` that are present appear in the order given."""
    if not isinstance(text, str):
        return False
    keys = [title_key(n) for n in names]
    seen: list[int] = []
    for title, _body in find_sections(text, tuple(names)):
        k = title_key(title)
        for i, want in enumerate(keys):
            if _opens_known(k, {want}):
                if i not in seen:
                    seen.append(i)
                break
    return seen == sorted(seen)


@lru_cache(maxsize=64)
def _items(text: str) -> tuple[str, ...]:
    lines = [line for line in text.splitlines() if line.strip()]
    marked = [_ITEM.sub("", line).strip() for line in lines if _ITEM.match(line)]
    if marked:
        return tuple(marked)
    return tuple(line.strip() for line in lines if not line.strip().startswith(("```", "~~~")))


def items(text: str | None) -> tuple[str, ...]:
    """The items of a section: its bullets or numbered items, else its non-blank lines."""
    return _items(text) if isinstance(text, str) else ()


def item_count(text: str | None) -> int:
    """Number of :func:`items`."""
    return len(items(text))


def all_items_within(
    text: str | None, *, max_words: int | None = None, max_sentences: int | None = None
) -> bool:
    """True when every item has at most ``max_words`` words / ``max_sentences`` sentences."""
    for item in items(text):
        if max_words is not None and len(words(item)) > max_words:
            return False
        if max_sentences is not None and len(sentences(item)) > max_sentences:
            return False
    return True


def list_length(text: str) -> int:
    """How many items the response lists: a JSON array's length (or the first array inside a
    JSON object), else its bullet and numbered items; 0 when it lists nothing."""
    if not isinstance(text, str):
        return 0
    from llmassert.assertions.helpers import is_json, list_items, parse_json

    if is_json(text, lenient=True):
        value = parse_json(text, lenient=True)
        if isinstance(value, list):
            return len(value)
        if isinstance(value, dict):
            for v in value.values():
                if isinstance(v, list):
                    return len(v)
        return 0
    return len(list_items(text))


def field_value(text: str, name: str) -> Any:
    """The value of field ``name``: a top-level JSON key (JSON anywhere in the text), else the
    content after a ``name:`` label, else the section titled ``name``; None when absent."""
    if not isinstance(text, str) or not isinstance(name, str):
        return None
    obj = json_object(text, lenient=True)
    if obj is not None:
        key = title_key(name)
        for k, v in obj.items():
            if title_key(str(k)) == key:
                return v
        return None
    key = title_key(name)
    for line in text.splitlines():
        m = _LABEL.match(line.replace("**", ""))
        if m and title_key(m.group(1)) == key and m.group(2).strip():
            return m.group(2).strip()
    return section_text(text, name)


_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]*\d)")


def rating_values(text: str | None, labels: tuple[str, ...] | list[str] = ()) -> tuple[str, ...]:
    """Ratings found in ``text``: the labels of ``labels`` it contains (longest first, whole
    words, case-insensitive), or without ``labels`` the numbers in it."""
    if not isinstance(text, str):
        return ()
    if labels:
        found: list[tuple[int, str]] = []
        taken: list[tuple[int, int]] = []
        for label in sorted(labels, key=len, reverse=True):
            pattern = re.compile(r"(?<!\w)" + re.escape(label) + r"(?!\w)", re.I)
            for m in pattern.finditer(text):
                if any(s < m.end() and m.start() < e for s, e in taken):
                    continue
                taken.append((m.start(), m.end()))
                found.append((m.start(), label))
        return tuple(label for _pos, label in sorted(found))
    return tuple(m.group(0) for m in _NUMBER.finditer(text))
