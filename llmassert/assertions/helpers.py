"""Small, pure, fast text helpers for assertion functions.

Generated and hand-written assertions import these (``from llmassert.assertions.helpers import
word_count``); they are the only non-stdlib names the sandbox lets assertion code import.

Rules of this module, because it runs inside the sandbox worker and on every guarded LLM call:

- stdlib only (``re``, ``json``, ``functools``, ``unicodedata``), never another llmassert module
  except ``llmassert.sandbox._frozen`` and ``llmassert.textunits`` (both stdlib-only; the worker
  registers them by path): the sandbox worker loads this file without importing the
  ``llmassert`` package.
- cached values are immutable (tuples, strings, frozen JSON): a check must not be able to change
  what the next check on the same text sees.
- cheap: the hooks benchmark targets <= 50 us per deterministic check. Text-derived tuples
  (words, sentences, lines) are memoized on the response string, so several checks on one
  response split it once.
- total: helpers never raise on odd input (``None``, numbers, empty strings); they return the
  empty/false answer instead, so an assertion fails on content, not on an exception.
"""

from __future__ import annotations

import bisect
import json
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

# Both stdlib-only; the sandbox worker registers them under these names before loading this
# file. `re` with bounded calls on any thread (sandbox/_regex.py): helpers run inside checks.
from llmassert.sandbox import _regex as re
from llmassert.sandbox._frozen import freeze
from llmassert.textunits import ATX, split_units, split_units_with_kinds

__all__ = [
    "AI_SELF_REFERENCE",
    "APOLOGY_PHRASES",
    "CALL_TO_ACTION_PHRASES",
    "GRATITUDE_PHRASES",
    "ai_self_reference",
    "apologizes",
    "as_float",
    "as_int",
    "bracket_placeholders",
    "bullets",
    "char_count",
    "code_blocks",
    "contains_all",
    "contains_any",
    "contains_phrase",
    "contains_stem",
    "count_phrase",
    "emojis",
    "ends_with_phrase",
    "english_ratio",
    "fill_placeholders",
    "first_line",
    "has_json_keys",
    "has_markdown_table",
    "has_section",
    "headers",
    "is_json",
    "is_lowercase",
    "is_markdown",
    "is_title_case",
    "is_uppercase",
    "json_object",
    "language_scores",
    "last_line",
    "line_count",
    "lines",
    "list_items",
    "markdown_headers",
    "mentions_value",
    "normalize",
    "numbered_items",
    "numbers",
    "paragraphs",
    "parse_json",
    "questions",
    "section_titles",
    "sentence_count",
    "sentences",
    "split_units",
    "split_units_with_kinds",
    "starts_with_phrase",
    "stem",
    "tells_to_start_app",
    "unfilled_placeholders",
    "urls",
    "word_count",
    "words",
]

# --- words -------------------------------------------------------------------------------------

# Possessive: the same matches (nothing after it can make a shorter word succeed), and no
# backtracking, so it stays on stdlib off the main thread too (sandbox/_regex.py).
_WORD = re.compile(r"\w++(?:['’.-]\w++)*+")


@lru_cache(maxsize=64)
def _words(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(text))


def words(text: str) -> tuple[str, ...]:
    """Words of ``text``: letters/digits runs, keeping inner apostrophes, hyphens and dots.

    ``"don't stop-gap 3.5 v2"`` has 4 words. Markdown markers and punctuation are not words.
    """
    return _words(text) if isinstance(text, str) else ()


def word_count(text: str) -> int:
    """Number of :func:`words` (what a reader means by "150 words")."""
    return len(words(text))


def char_count(text: str, *, spaces: bool = True) -> int:
    """Characters in ``text``, optionally ignoring all whitespace."""
    if not isinstance(text, str):
        return 0
    return len(text) if spaces else len("".join(text.split()))


def normalize(text: str) -> str:
    """Lowercase, straight quotes, single spaces: the form phrase matching compares."""
    if not isinstance(text, str):
        return ""
    text = text.translate(_QUOTES).casefold()
    return " ".join(text.split())


_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-"})

# --- sentences and lines ----------------------------------------------------------------------

_BULLET = re.compile(r"^\s*(?:[-•–—]|[*+](?=\s))\s*(?=\S)")
_NUMBERED = re.compile(r"^\s*\d{1,3}[.)/]\s+(?=\S)")
_BOLD_LINE = re.compile(r"^\s*(?:\*\*|__)(.+?)(?:\*\*|__)\s*:?\s*$")


@lru_cache(maxsize=64)
def _sentences(text: str) -> tuple[str, ...]:
    return tuple(split_units(text))


def sentences(text: str) -> tuple[str, ...]:
    """Sentences of ``text``; list items, headers and lines without punctuation count as one each.

    Handles abbreviations (e.g., i.e., Dr.), decimals, quotes and bullets.
    """
    return _sentences(text) if isinstance(text, str) else ()


def sentence_count(text: str) -> int:
    """Number of :func:`sentences`."""
    return len(sentences(text))


@lru_cache(maxsize=64)
def _lines(text: str) -> tuple[str, ...]:
    return tuple(s for s in (line.strip() for line in text.splitlines()) if s)


def lines(text: str) -> tuple[str, ...]:
    """Non-blank lines, stripped."""
    return _lines(text) if isinstance(text, str) else ()


def line_count(text: str) -> int:
    """Number of non-blank lines."""
    return len(lines(text))


def paragraphs(text: str) -> tuple[str, ...]:
    """Blocks separated by blank lines, stripped."""
    if not isinstance(text, str):
        return ()
    return tuple(p.strip() for p in re.split(r"\n\s*\n", text) if p.strip())


def first_line(text: str) -> str:
    """The first non-blank line, or ``""``."""
    found = lines(text)
    return found[0] if found else ""


def last_line(text: str) -> str:
    """The last non-blank line, or ``""``."""
    found = lines(text)
    return found[-1] if found else ""


# --- lists, headers, sections -----------------------------------------------------------------


@lru_cache(maxsize=64)
def _bullets(text: str) -> tuple[str, ...]:
    return tuple(_BULLET.sub("", line) for line in text.splitlines() if _BULLET.match(line))


def bullets(text: str) -> tuple[str, ...]:
    """Bullet items (lines starting with ``-``, ``*``, ``+``, ``•``), markers removed."""
    return _bullets(text) if isinstance(text, str) else ()


def numbered_items(text: str) -> tuple[str, ...]:
    """Numbered items (``1.``, ``2)``, ``3/``), markers removed."""
    if not isinstance(text, str):
        return ()
    return tuple(_NUMBERED.sub("", line) for line in text.splitlines() if _NUMBERED.match(line))


def list_items(text: str) -> tuple[str, ...]:
    """Bullet and numbered items together."""
    return bullets(text) + numbered_items(text)


def markdown_headers(text: str) -> tuple[str, ...]:
    """Titles of markdown ATX headers (``# Title`` ... ``###### Title``)."""
    if not isinstance(text, str):
        return ()
    out = []
    for line in text.splitlines():
        m = ATX.match(line)
        if m:
            out.append(m.group(2))
    return tuple(out)


def headers(text: str) -> tuple[str, ...]:
    """Markdown headers plus whole-line bold titles (``**Summary**``)."""
    if not isinstance(text, str):
        return ()
    out = []
    for line in text.splitlines():
        m = ATX.match(line) or _BOLD_LINE.match(line)
        if m:
            out.append(m.group(m.lastindex or 1).strip().rstrip(":").strip("*_ "))
    return tuple(out)


_LABEL = re.compile(r"^\s*(?:#{1,6}\s*)?(?:[-*•]\s*)?(?:\*\*|__)?([^:\n]{1,60}?)(?:\*\*|__)?\s*:")


def section_titles(text: str) -> tuple[str, ...]:
    """Every line that looks like a section title: headers, bold lines, and ``Label:`` lines.

    Markdown emphasis and trailing colons are stripped: ``**Body:**`` gives ``Body``.
    """
    return _section_titles(text) if isinstance(text, str) else ()


@lru_cache(maxsize=64)
def _section_titles(text: str) -> tuple[str, ...]:
    out = list(headers(text))
    for line in lines(text):
        m = _LABEL.match(line)
        if m and len(m.group(1).split()) <= 6:
            out.append(m.group(1).strip("*_ #"))
    return tuple(out)


@lru_cache(maxsize=64)
def _section_keys(text: str) -> tuple[str, ...]:
    return tuple(normalize(found).strip(" :*_#") for found in _section_titles(text))


def has_section(text: str, title: str, *, exact: bool = False) -> bool:
    """True when ``text`` has a section titled ``title`` (case-insensitive).

    ``exact`` requires the whole title to equal ``title``; otherwise the title only has to start
    with it (``## Executive Summary of Q3`` has section ``Executive Summary``).
    """
    want = normalize(title).strip(" :")
    if not want or not isinstance(text, str):
        return False
    return any(got == want or (not exact and got.startswith(want)) for got in _section_keys(text))


# One separator row (``|---|:---:|``); possessive runs: linear on any line.
_TABLE_SEPARATOR = re.compile(
    r"[^\S\n]*+\|?[^\S\n]*+:?-{3,}:?[^\S\n]*+(?:\|[^\S\n]*+:?-{3,}:?[^\S\n]*+)+\|?\s*+"
)


def has_markdown_table(text: str) -> bool:
    """A markdown table: a pipe row followed by a ``|---|---|`` separator row (blank lines
    between them allowed). Line by line: linear in the text, whatever it holds."""
    if not isinstance(text, str):
        return False
    row_above = False  # a line with a pipe, then only blank lines
    for line in text.split("\n"):
        blank = not line.strip()
        if row_above and not blank and _TABLE_SEPARATOR.fullmatch(line):
            return True
        if "|" in line:
            row_above = True
        elif not blank:
            row_above = False
    return False


_MD_SYNTAX = re.compile(
    # Line-start runs are horizontal ([^\S\n]: `^\s*` would rescan every following newline at
    # every line start, quadratic); link text excludes "[" (else a run of "[" is quadratic).
    r"^\s{0,3}#{1,6}\s|^[^\S\n]*[-*+]\s+\S|^[^\S\n]*\d+\.\s+\S|\*\*[^*\n]+\*\*|__[^_\n]+__|^```"
    r"|\[[^\[\]\n]+\]\([^)\s]+\)|^[^\S\n]*>\s",
    re.M,
)


def is_markdown(text: str) -> bool:
    """True when ``text`` uses markdown syntax: headers, lists, bold, fences, links, quotes, tables."""
    if not isinstance(text, str):
        return False
    return bool(_MD_SYNTAX.search(text)) or has_markdown_table(text)


_FENCE_MARKERS = ("```", "~~~")


def _fences(text: str) -> list[tuple[int, int, int, int]]:
    r"""Fenced blocks as ``(start, content start, content end, end)`` offsets, in order.

    A block opens on a line whose first non-blank characters are a marker (an info string may
    follow) and closes at the next line holding only that marker; blank lines just before the
    closing line are not content. An opening without a closing is not a block. Line by line
    with a bisect for the closing line: O(n log n) on any text (the regex this replaces,
    ``^\s*(```|~~~)[^\n]*\n(.*?)^\s*\1\s*$``, rescanned every newline at every line start).
    """
    lines = text.split("\n")
    offsets = []
    pos = 0
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1
    closing: dict[str, list[int]] = {m: [] for m in _FENCE_MARKERS}
    for j, line in enumerate(lines):
        stripped = line.strip()
        if stripped in closing:
            closing[stripped].append(j)
    blocks = []
    i = 0
    while i < len(lines) - 1:  # an opening line needs its newline
        head = lines[i].lstrip()
        marker = head[:3]
        if marker in closing:
            after = closing[marker]
            k = bisect.bisect_right(after, i)
            if k < len(after):
                j = after[k]
                end_line = j
                while end_line > i + 1 and not lines[end_line - 1].strip():
                    end_line -= 1
                end = offsets[j] + len(lines[j])
                blocks.append((offsets[i], offsets[i + 1], offsets[end_line], end))
                i = j + 1
                continue
        i += 1
    return blocks


def code_blocks(text: str) -> tuple[str, ...]:
    """Contents of fenced code blocks (``` or ~~~)."""
    if not isinstance(text, str):
        return ()
    return tuple(text[a:b] for _s, a, b, _e in _fences(text))


def _without_fences(text: str) -> str:
    parts = []
    pos = 0
    for start, _a, _b, end in _fences(text):
        parts.append(text[pos:start])
        parts.append(" ")
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


# --- JSON --------------------------------------------------------------------------------------

_NOT_JSON = object()


def _loads(text: str) -> Any:
    try:
        # Frozen: the value is cached and handed to every later check on the same text.
        return freeze(json.loads(text))
    except (ValueError, RecursionError):
        return _NOT_JSON


@lru_cache(maxsize=64)
def _parse_json(text: str, lenient: bool) -> Any:
    value = _loads(text)
    if value is not _NOT_JSON or not lenient:
        return value
    for block in code_blocks(text):
        value = _loads(block)
        if value is not _NOT_JSON:
            return value
    # The outermost {...} or [...] span, for answers like 'Here you go: {"a": 1}'.
    for opener, closer in (("{", "}"), ("[", "]")):
        start, end = text.find(opener), text.rfind(closer)
        if 0 <= start < end:
            value = _loads(text[start : end + 1])
            if value is not _NOT_JSON:
                return value
    return _NOT_JSON


def is_json(text: str, *, lenient: bool = False) -> bool:
    """True when ``text`` is JSON. ``lenient`` also accepts JSON inside a code fence or prose."""
    return isinstance(text, str) and _parse_json(text, lenient) is not _NOT_JSON


def parse_json(text: str, *, lenient: bool = False) -> Any:
    """The JSON value of ``text`` (see :func:`is_json`), or None when it does not parse.

    JSON ``null`` also gives None: use :func:`is_json` when that matters.
    """
    if not isinstance(text, str):
        return None
    value = _parse_json(text, lenient)
    return None if value is _NOT_JSON else value


def json_object(text: str, *, lenient: bool = False) -> dict[str, Any] | None:
    """The JSON object in ``text``, or None when it is not a JSON object."""
    value = parse_json(text, lenient=lenient)
    return value if isinstance(value, dict) else None


def has_json_keys(
    text: str, keys: Iterable[str], *, lenient: bool = False, case: bool = True
) -> bool:
    """True when ``text`` is a JSON object having every key in ``keys`` (top level)."""
    obj = json_object(text, lenient=lenient)
    if obj is None:
        return False
    have = set(obj) if case else {str(k).casefold() for k in obj}
    return all((k if case else k.casefold()) in have for k in keys)


# --- phrases -----------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _phrase_pattern(phrase: str, case: bool, whole_word: bool) -> re.Pattern[str]:
    body = r"\s+".join(re.escape(part) for part in phrase.translate(_QUOTES).split())
    if whole_word:
        # Word boundaries only where the phrase starts/ends with a word character, so that
        # phrases like "@" or "C++" still match.
        if re.match(r"\w", phrase.strip()):
            body = r"(?<!\w)" + body
        if re.search(r"\w$", phrase.strip()):
            body += r"(?!\w)"
    return re.compile(body, 0 if case else re.IGNORECASE)


@lru_cache(maxsize=64)
def _straight(text: str) -> str:
    return text.translate(_QUOTES)


@lru_cache(maxsize=64)
def _lowered(text: str) -> str:
    return _straight(text).lower()


@lru_cache(maxsize=1024)
def _key_word(phrase: str) -> str:
    # The longest word: "I apologize" is ruled out by "apologize", not by "I", which is in
    # almost every text (a case-insensitive regex search costs ~100 µs on a 1,000-word answer).
    parts = phrase.translate(_QUOTES).split()
    return max(parts, key=len) if parts else ""


def _may_contain(text: str, phrase: str, case: bool) -> bool:
    # Every word of a matching phrase occurs in the text, so a substring test on one of them
    # rules most phrases out before any regex runs.
    word = _key_word(phrase)
    if not word:
        return False
    return word in _straight(text) if case else word.lower() in _lowered(text)


def contains_phrase(text: str, phrase: str, *, case: bool = False, whole_word: bool = True) -> bool:
    """True when ``phrase`` occurs in ``text``; whitespace-insensitive, curly quotes straightened.

    ``case`` makes the match case-sensitive; ``whole_word`` refuses matches inside longer words
    (``"cat"`` is not in ``"concatenate"``).
    """
    if (
        not isinstance(phrase, str)
        or not isinstance(text, str)
        or not _may_contain(text, phrase, case)
    ):
        return False
    return _phrase_pattern(phrase, case, whole_word).search(_straight(text)) is not None


def count_phrase(text: str, phrase: str, *, case: bool = False, whole_word: bool = True) -> int:
    """How many times ``phrase`` occurs in ``text`` (see :func:`contains_phrase`)."""
    if (
        not isinstance(phrase, str)
        or not isinstance(text, str)
        or not _may_contain(text, phrase, case)
    ):
        return 0
    return len(_phrase_pattern(phrase, case, whole_word).findall(_straight(text)))


def contains_any(
    text: str, phrases: Iterable[str], *, case: bool = False, whole_word: bool = True
) -> bool:
    """True when at least one of ``phrases`` occurs in ``text``."""
    return any(contains_phrase(text, p, case=case, whole_word=whole_word) for p in phrases)


def contains_all(
    text: str, phrases: Iterable[str], *, case: bool = False, whole_word: bool = True
) -> bool:
    """True when every one of ``phrases`` occurs in ``text``."""
    return all(contains_phrase(text, p, case=case, whole_word=whole_word) for p in phrases)


_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ied", "ed", "es", "ly", "s")


@lru_cache(maxsize=4096)
def stem(word: str) -> str:
    """A light suffix-stripping stem, for lenient matching (``features`` -> ``feature``)."""
    w = word.casefold()
    for suffix in _SUFFIXES:
        if len(w) > len(suffix) + 2 and w.endswith(suffix):
            w = w[: -len(suffix)]
            if suffix in ("ies", "ied"):
                w += "y"
            break
    # Final silent e: "feature"/"featur(ed)" and "create"/"creat(ing)" meet at one stem.
    return w[:-1] if len(w) > 3 and w.endswith("e") else w


@lru_cache(maxsize=64)
def _stems(text: str) -> tuple[str, ...]:
    return tuple(stem(w) for w in words(text))


def contains_stem(text: str, phrase: str) -> bool:
    """True when the words of ``phrase`` occur in order in ``text`` up to their stems.

    ``contains_stem("New features shipped", "feature")`` is True.
    """
    want = tuple(stem(w) for w in words(phrase))
    if not want or not isinstance(text, str):
        return False
    have = _stems(text)
    n = len(want)
    first = want[0]
    return any(have[i] == first and have[i : i + n] == want for i in range(len(have) - n + 1))


_LEAD = " \t\r\n#>*_\"'`-"
_TRAIL = " \t\r\n.!?,;:*_\"'`)"


def starts_with_phrase(text: str, phrase: str, *, case: bool = False) -> bool:
    """True when ``text`` starts with ``phrase``, ignoring leading space, markdown and quotes."""
    if not isinstance(text, str) or not isinstance(phrase, str) or not phrase.strip():
        return False
    head = _straight(text[:2000]).lstrip(_LEAD)
    return _phrase_pattern(phrase, case, True).match(head) is not None


def ends_with_phrase(text: str, phrase: str, *, case: bool = False) -> bool:
    """True when ``text`` ends with ``phrase``, ignoring trailing space, punctuation and markdown."""
    if not isinstance(text, str) or not isinstance(phrase, str):
        return False
    want = phrase.translate(_QUOTES).rstrip(_TRAIL)
    if not want:
        return False
    tail = _straight(text[-2000:]).rstrip(_TRAIL)
    return tail.endswith(want) if case else tail.casefold().endswith(want.casefold())


def mentions_value(text: str, value: Any, *, min_overlap: float = 0.5) -> bool:
    """True when ``text`` mentions an example value.

    Short values (<= 4 words) must occur as a phrase, compared up to stems. Longer values pass
    when at least ``min_overlap`` of their distinct content words (4+ letters) occur in ``text``.
    Lists and dicts are checked item by item (all must be mentioned).
    """
    if isinstance(value, (list, tuple)):
        return bool(value) and all(mentions_value(text, v, min_overlap=min_overlap) for v in value)
    if isinstance(value, dict):
        return mentions_value(text, list(value.values()), min_overlap=min_overlap)
    if value is None or not isinstance(text, str):
        return False
    value = str(value).strip()
    if not value:
        return False
    content = _content_stems(value)
    if content is None:
        return contains_phrase(text, value) or contains_stem(text, value)
    if not content:
        return contains_phrase(text, value)
    have = _stem_set(text)
    return len(content & have) / len(content) >= min_overlap


@lru_cache(maxsize=64)
def _content_stems(value: str) -> frozenset[str] | None:
    # None: a short value (<= 4 words), matched as a phrase rather than by overlap.
    value_words = words(value)
    if len(value_words) <= 4:
        return None
    return frozenset(stem(w) for w in value_words if len(w) >= 4)


@lru_cache(maxsize=64)
def _stem_set(text: str) -> frozenset[str]:
    return frozenset(_stems(text))


# --- numbers -----------------------------------------------------------------------------------

_INT = re.compile(r"[-+]?\d[\d,_]*")
_NUMBER = re.compile(r"(?<![\w.])[-+]?\$?\d[\d,]*(?:\.\d+)?%?")


def as_int(value: Any, default: int | None = None) -> int | None:
    """An int from an example value: ``150``, ``"150"``, ``" 150 words"``, ``150.0``.

    Returns ``default`` when there is no number (``None``, ``""``, ``"many"``).
    """
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value == value and abs(value) != float("inf") else default
    if isinstance(value, str):
        m = _INT.search(value[:200])
        if m:
            digits = m.group().replace(",", "").replace("_", "")
            if len(digits) <= 18:
                return int(digits)
    return default


def as_float(value: Any, default: float | None = None) -> float | None:
    """A float from an example value (see :func:`as_int`)."""
    if isinstance(value, bool):
        return default
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        m = re.search(r"[-+]?\d[\d,]*(?:\.\d+)?", value[:200])
        if m:
            return float(m.group().replace(",", ""))
    return default


def numbers(text: str) -> tuple[str, ...]:
    """Numeric tokens (``42``, ``3.5``, ``$1,200``, ``15%``)."""
    return _numbers(text) if isinstance(text, str) else ()


@lru_cache(maxsize=64)
def _numbers(text: str) -> tuple[str, ...]:
    return tuple(_NUMBER.findall(text))


# --- questions, links, emoji ------------------------------------------------------------------


def questions(text: str) -> tuple[str, ...]:
    """Sentences ending with a question mark."""
    return tuple(s for s in sentences(text) if s.rstrip("\"'”’)*_ ").endswith("?"))


# Trailing sentence punctuation is not part of a link: "see https://x.org/a."
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>()\"'`]*[^\s<>()\"'`.,;:!?*]", re.I)


def urls(text: str) -> tuple[str, ...]:
    """Links (``http(s)://...`` or ``www.``...)."""
    return _urls(text) if isinstance(text, str) else ()


@lru_cache(maxsize=64)
def _urls(text: str) -> tuple[str, ...]:
    folded = _lowered(text)
    if "http" not in folded and "www." not in folded:
        return ()
    return tuple(_URL.findall(text))


_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b50\u2b55\u2728\u2705\u274c]")


def emojis(text: str) -> tuple[str, ...]:
    """Emoji characters."""
    return tuple(_EMOJI.findall(text)) if isinstance(text, str) else ()


# --- placeholders ------------------------------------------------------------------------------

_CURLY = re.compile(r"\{\{\s*[A-Za-z_][\w.]*\s*\}\}|\{[A-Za-z_]\w*\}")
_BRACKET = re.compile(r"\[(?:[A-Z][\w'’]*|[a-z]+_[a-z_]+)(?:[ /_-][\w'’]+)*\](?!\()")


_FILL = re.compile(r"\{\{\s*(?:input\.)?([A-Za-z_]\w*)\s*\}\}|\{([A-Za-z_]\w*)\}")


def fill_placeholders(template: str, example: Any) -> str:
    """``template`` with ``{var}`` / ``{{ var }}`` replaced by the example's values.

    Placeholders the example does not provide stay as they are.
    """
    if not isinstance(template, str):
        return ""
    if not isinstance(example, dict):
        return template

    def value(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        return str(example[name]) if name in example and example[name] is not None else m.group(0)

    return _FILL.sub(value, template)


def unfilled_placeholders(text: str) -> tuple[str, ...]:
    """Template placeholders left in the text: ``{name}`` or ``{{ name }}``."""
    return tuple(_CURLY.findall(text)) if isinstance(text, str) else ()


def bracket_placeholders(text: str) -> tuple[str, ...]:
    """Fill-in-the-blank brackets such as ``[Your Name]`` or ``[company_name]`` (not links)."""
    return tuple(_BRACKET.findall(text)) if isinstance(text, str) else ()


# --- tone: apologies, AI self-reference, gratitude, calls to action ----------------------------

APOLOGY_PHRASES = (
    "I apologize",
    "I apologise",
    "I'm sorry",
    "I am sorry",
    "my apologies",
    "sorry for",
    "sorry, but",
    "sorry but",
    "unfortunately, I",
)
AI_SELF_REFERENCE = (
    "as an AI",
    "as a language model",
    "as an AI language model",
    "I am an AI",
    "I'm an AI",
    "I am a language model",
    "as a large language model",
    "I don't have access",
    "I do not have access",
    "I cannot browse",
    "I can't browse",
    "my training data",
    "my knowledge cutoff",
)
GRATITUDE_PHRASES = (
    "thank",
    "thanks",
    "thank you",
    "grateful",
    "gratitude",
    "appreciate",
    "appreciated",
    "kudos",
)
CALL_TO_ACTION_PHRASES = (
    "click",
    "sign up",
    "log in",
    "get started",
    "try it",
    "try out",
    "start your",
    "join",
    "book a",
    "schedule",
    "register",
    "visit",
    "learn more",
    "contact us",
    "reach out",
    "reply",
    "don't wait",
    "today",
    "now",
)


def apologizes(text: str) -> bool:
    """True when ``text`` apologizes (``I'm sorry``, ``I apologize``, ...)."""
    return contains_any(text, APOLOGY_PHRASES)


def ai_self_reference(text: str) -> bool:
    """True when ``text`` talks about itself as an AI (``As an AI language model``, ...)."""
    return contains_any(text, AI_SELF_REFERENCE)


# --- instructions to start the app -------------------------------------------------------------

# Read as tokens (words, paths, `main:app`, `--app`, each other symbol alone) and matched in Python:
# the phrasings and commands are many, and one regex of all of them has no useful worst-case bound
# off the main thread.
_CMD_TOKEN = re.compile(r"[\w./:-]++|[^\w\s]")
_START_VERBS = frozenset(["start", "restart", "re-start", "run", "launch", "boot"])
_PHRASAL = frozenset(["start", "boot", "spin", "fire", "bring"])  # "... up"
_ARTICLES = frozenset(["the", "your", "this", "our"])
_APP_NOUNS = frozenset(
    ["app", "apps", "application", "applications", "webapp", "server", "servers", "backend",
     "back-end", "frontend", "front-end", "project", "program"]
)  # fmt: skip
# "run the project tests", "run the app's linter": not the app itself.
_NOT_THE_APP = frozenset(["test", "tests", "suite", "linter", "migration", "migrations"])
_ENTRY_JS = re.compile(r"(?:server|app|index|main)\.[cm]?[jt]s")
_START_SCRIPT = re.compile(r"(?:start|run|dev|serve)[\w-]*\.sh")
_ENTRY_PY = frozenset(["app.py", "main.py", "server.py", "run.py", "wsgi.py", "asgi.py"])
_NOT_NEEDED = re.compile(
    r"\b(?:don'?t|do\s+not|doesn'?t|does\s+not|no\s+need|not\s+need|needn'?t|never|without)\b",
    re.I,
)
_CLAUSE_END = re.compile(r"[.!?;,]\s|\n")


def _app_noun_after(t: list[str], j: int) -> int | None:
    """Index of the app noun at ``t[j:]`` after an optional article and up to two words. After
    "a"/"an" only a server counts: "start a new project" is a feature of the app, not the app."""
    indefinite = t[j : j + 1] in (["a"], ["an"])
    j += t[j : j + 1] != [] and (indefinite or t[j] in _ARTICLES)
    for k in range(j, min(j + 3, len(t))):
        if t[k] in _APP_NOUNS:
            return None if indefinite and not t[k].startswith("server") else k
        if not t[k][:1].isalnum():
            return None
    return None


def _says_start(t: list[str], i: int) -> bool:
    """Whether token ``i`` begins "start the server", "run your Flask app", "spin up the
    backend" or "make sure the app is running"."""
    w = t[i]
    if w in _PHRASAL and t[i + 1 : i + 2] == ["up"]:
        k = _app_noun_after(t, i + 2)
    elif w in _START_VERBS:
        k = _app_noun_after(t, i + 1)
    elif w in ("ensure", "get") or (w == "make" and t[i + 1 : i + 2] == ["sure"]):
        # "make sure the server is running", "get the app running"
        j = i + (2 if w == "make" else 1)
        k = _app_noun_after(t, j + (t[j : j + 1] == ["that"]))
        if k is None:
            return False
        k += w != "get" and t[k + 1 : k + 2] in (["is"], ["are"])
        return t[k + 1 : k + 2] in (["running"], ["started"], ["up"])
    else:
        return False
    if k is None:
        return False
    after = t[k + 1 : k + 3]
    possessive = len(after) == 2 and after[0] in ("'", "’") and after[1] == "s"
    return not possessive and not (after and after[0] in _NOT_THE_APP)


def _runs_start_command(t: list[str], i: int) -> bool:
    """A command that starts an app at token ``i``: ``npm start``, ``python app.py``, ..."""
    a, b, c = [*t[i : i + 3], "", ""][:3]
    base = b.rsplit("/", 1)[-1]
    if a in ("npm", "pnpm", "yarn", "bun"):
        script = c if b == "run" else b
        return script.split(":", 1)[0] in ("start", "dev", "serve") or (
            a == "bun" and bool(_ENTRY_JS.fullmatch(base))
        )
    if a == "npx":
        return b in ("vite", "nodemon", "ts-node", "serve") or (b, c) in (
            ("next", "dev"),
            ("next", "start"),
        )
    if a in ("node", "nodemon", "ts-node"):
        return bool(_ENTRY_JS.fullmatch(base))
    if a in ("python", "python3", "py"):
        if b == "-m":
            return _runs_start_command(t, i + 2)
        return base in _ENTRY_PY or (base == "manage.py" and c == "runserver")
    if a == "flask":
        return b == "run" or (b == "--app" and t[i + 3 : i + 4] == ["run"])
    if a in ("uvicorn", "gunicorn", "hypercorn"):
        return ":" in b or b.startswith("-")
    pairs = {
        ("streamlit", "run"), ("rails", "s"), ("rails", "server"), ("dotnet", "run"),
        ("dotnet", "watch"), ("cargo", "run"), ("ng", "serve"), ("docker-compose", "up"),
        ("mvn", "spring-boot:run"), ("gradlew", "bootrun"), ("./gradlew", "bootrun"),
        ("deno", "run"),
    }  # fmt: skip
    if (a, b) in pairs:
        return True
    if a == "make":
        return b in ("run", "dev", "start", "serve")  # not "up": "make up a name"
    if _START_SCRIPT.fullmatch(a.rsplit("/", 1)[-1]) and "/" in a:  # ./start.sh
        return True
    if a in ("bash", "sh", "zsh"):
        return bool(_START_SCRIPT.fullmatch(base))
    if (a, b) == ("go", "run"):
        return c in (".", "./...") or c.endswith(".go")
    return (a, b, c) in (("php", "artisan", "serve"), ("docker", "compose", "up"))


@lru_cache(maxsize=64)
def _start_app_instructions(text: str) -> tuple[str, ...]:
    found = []
    spans = [(m.start(), m.end()) for m in _CMD_TOKEN.finditer(text)]
    tokens = [text[s:e].casefold().rstrip(".:") or text[s:e] for s, e in spans]
    for i, (start, end) in enumerate(spans):
        if not (_says_start(tokens, i) or _runs_start_command(tokens, i)):
            continue
        # "You don't need to start the app": the same clause says the opposite.
        clause = _CLAUSE_END.split(text[max(0, start - 200) : end])[-1]
        if _NOT_NEEDED.search(clause):
            continue
        found.append(" ".join(tokens[i : i + 3]))
    return tuple(found)


def tells_to_start_app(text: str) -> bool:
    """True when ``text`` tells the reader to start or run the app: "start the server", "run the
    app", "restart the backend", "make sure the server is running", or a command that starts one
    (``npm start``, ``npm run dev``, ``yarn start``, ``python app.py``, ``flask run``,
    ``uvicorn main:app``, ``node server.js``, ``docker compose up``, ...). A clause that says it
    is not needed ("you don't need to start the app") does not count; other commands (``curl``,
    database shells, ``manage.py migrate``) and features named "Start ..." do not either."""
    return bool(_start_app_instructions(text)) if isinstance(text, str) else False


# --- language and case -------------------------------------------------------------------------

_STOPWORDS = {
    "english": frozenset(
        [
            "the",
            "and",
            "of",
            "to",
            "a",
            "in",
            "is",
            "that",
            "it",
            "for",
            "you",
            "with",
            "on",
            "as",
            "are",
            "this",
            "be",
            "was",
            "have",
            "not",
            "or",
            "by",
            "but",
            "your",
            "from",
            "they",
            "at",
            "we",
            "can",
            "will",
            "an",
            "if",
            "which",
            "their",
            "has",
            "more",
            "about",
            "would",
            "there",
            "these",
        ]
    ),
    "spanish": frozenset(
        [
            "el",
            "la",
            "de",
            "que",
            "y",
            "en",
            "los",
            "se",
            "del",
            "las",
            "por",
            "un",
            "para",
            "con",
            "una",
            "su",
            "al",
            "lo",
            "como",
            "más",
            "pero",
            "sus",
            "le",
            "ya",
            "o",
            "este",
            "es",
            "son",
            "muy",
            "sin",
            "sobre",
            "también",
        ]
    ),
    "french": frozenset(
        [
            "le",
            "la",
            "les",
            "de",
            "des",
            "et",
            "un",
            "une",
            "du",
            "en",
            "est",
            "que",
            "qui",
            "dans",
            "pour",
            "pas",
            "sur",
            "au",
            "avec",
            "ce",
            "il",
            "elle",
            "sont",
            "nous",
            "vous",
            "mais",
            "ou",
            "plus",
            "par",
            "cette",
            "aux",
        ]
    ),
    "german": frozenset(
        [
            "der",
            "die",
            "das",
            "und",
            "ist",
            "nicht",
            "ein",
            "eine",
            "zu",
            "den",
            "mit",
            "von",
            "sich",
            "des",
            "auf",
            "für",
            "im",
            "dem",
            "sie",
            "es",
            "auch",
            "als",
            "an",
            "nach",
            "wie",
            "wir",
            "oder",
            "aber",
            "ich",
            "sind",
        ]
    ),
    "italian": frozenset(
        [
            "il",
            "di",
            "che",
            "e",
            "la",
            "in",
            "un",
            "una",
            "per",
            "non",
            "sono",
            "del",
            "della",
            "con",
            "si",
            "le",
            "lo",
            "gli",
            "da",
            "al",
            "più",
            "ma",
            "come",
            "anche",
            "questo",
            "nel",
            "alla",
        ]
    ),
    "portuguese": frozenset(
        [
            "o",
            "a",
            "de",
            "que",
            "e",
            "do",
            "da",
            "em",
            "um",
            "uma",
            "para",
            "com",
            "não",
            "os",
            "as",
            "no",
            "na",
            "por",
            "mais",
            "dos",
            "das",
            "se",
            "ao",
            "como",
            "mas",
            "foi",
            "ele",
            "ela",
            "são",
        ]
    ),
}


@lru_cache(maxsize=64)
def _language_scores(text: str) -> tuple[tuple[str, float], ...]:
    tokens = [w.casefold() for w in words(text)]
    if not tokens:
        return tuple((lang, 0.0) for lang in _STOPWORDS)
    return tuple(
        (lang, sum(1 for t in tokens if t in stop) / len(tokens))
        for lang, stop in _STOPWORDS.items()
    )


def language_scores(text: str) -> dict[str, float]:
    """Share of words that are common stopwords of each known language (a cheap detector)."""
    return dict(_language_scores(text)) if isinstance(text, str) else {}


def english_ratio(text: str) -> float:
    """Share of letters in ``text`` that are ASCII letters (1.0 for plain English)."""
    if not isinstance(text, str):
        return 0.0
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if c.isascii()) / len(letters)


def _letters(text: str) -> str:
    # Code blocks, URLs and placeholders are not prose: their case is not the writer's choice.
    text = _without_fences(text)
    text = _URL.sub(" ", text)
    return "".join(c for c in text if c.isalpha() and unicodedata.category(c) in ("Lu", "Ll"))


def is_lowercase(text: str) -> bool:
    """True when every cased letter of the prose is lowercase (and there is at least one)."""
    letters = _letters(text) if isinstance(text, str) else ""
    return bool(letters) and letters.islower()


def is_uppercase(text: str) -> bool:
    """True when every cased letter of the prose is uppercase (and there is at least one)."""
    letters = _letters(text) if isinstance(text, str) else ""
    return bool(letters) and letters.isupper()


_MINOR = frozenset(
    [
        "a",
        "an",
        "and",
        "as",
        "at",
        "but",
        "by",
        "for",
        "in",
        "nor",
        "of",
        "on",
        "or",
        "per",
        "the",
        "to",
        "up",
        "via",
        "vs",
        "with",
    ]
)


def is_title_case(text: str) -> bool:
    """True when every word except short function words starts with a capital letter."""
    found = [w for w in words(text) if w[0].isalpha()]
    if not found:
        return False
    return all(w[0].isupper() or (i > 0 and w.casefold() in _MINOR) for i, w in enumerate(found))
