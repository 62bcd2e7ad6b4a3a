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
# Emphasis markers close a sentence ("Be brief.** Next") or open the next one (". **Always").
_BOUNDARY = re.compile(
    r"(?<=[.!?])([\"'”’)\]]*(?:\*\*|__)?[\"'”’)\]]*)\s+(?=(?:\*\*|__)?[\"'“‘(\[]?[A-Z0-9])"
)
# A closing quote directly followed by a capitalised word: '"{question}"You must answer'.
_QUOTE_GLUED = re.compile(r"(?<=\S)([\"”])(?=[A-Z][a-z])")


def _split_line(line: str) -> list[str]:
    parts: list[str] = []
    for piece in _split_glued_quotes(line):
        parts.extend(_split_sentences(piece))
    return parts


def _split_glued_quotes(line: str) -> list[str]:
    """Cut after a closing quote glued to a capitalised word (an even number of straight
    quotes up to it, or a curly closing quote)."""
    out: list[str] = []
    start = 0
    for m in _QUOTE_GLUED.finditer(line):
        if m.group(1) == '"' and line.count('"', 0, m.end()) % 2:
            continue  # an opening quote: 'say"Hello"' is not cut before Hello
        out.append(line[start : m.end()])
        start = m.end()
    out.append(line[start:])
    return out


def _split_sentences(line: str) -> list[str]:
    parts: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(line):
        end = m.start(1) if m.group(1) else m.start()
        candidate = line[start : m.end(1) if m.group(1) else end]
        token = candidate.rstrip(".!?\"'”’)]*_").rsplit(None, 1)
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


def split_units(text: str, *, wrapped_prose: bool = False) -> list[str]:
    """Split text into sentence-like units, keeping list items and headers as their own units.

    Lines are joined when a sentence is hard-wrapped (the previous line has no closing
    punctuation and the next starts in lowercase); list markers are stripped. With
    ``wrapped_prose`` (see :func:`split_units_with_kinds`) a long unpunctuated line also
    continues on a capitalised next line.
    """
    return [unit for unit, _kind in split_units_with_kinds(text, wrapped_prose=wrapped_prose)]


# A line of markup or a placeholder, never hard-wrapped prose: "<tag>", "{x}", "| a | b |".
_NOT_PROSE = re.compile(r"^\s*(?:[<{|%>\[]|```|~~~)|[|{}<>]\s*$")


# "Language: ...", "User's OS: ...": a labelled line is a field of its own, not a wrapped one.
_LABELLED = re.compile(r"^[\w'*_ ()/-]{1,30}:(?:\s|$)")


# "local: false" then "model: gpt-4": lines of a configuration, not one wrapped sentence.
_KEY_VALUE = re.compile(r"^[A-Za-z_][\w.-]*:(?:\s|$)")


# A capitalised imperative opens a sentence of its own: "... logic inside it" + "Return the
# whole file" are two instructions. (An ALL-CAPS word, "MUST", is emphasis mid-sentence.)
_NEW_IMPERATIVE = re.compile(
    r"^(?:Return|Write|Use|Make|Do|Don't|Never|Always|Please|Add|Include|Keep|Avoid|Output|"
    r"Respond|Reply|Answer|Provide|Give|List|Ensure|Remember|Note|Only|Check|Fill|Create|"
    r"Generate|Start|Begin|End|Put|Format|Explain|Describe|Be|Try|Think|Read|Follow|Separate|"
    r"Wrap|Print|Mention|Limit|Remove|Delete|Omit|Exclude|Focus|Consider|Summari[sz]e)\b"
)


def _wraps_on(previous: str, line: str) -> bool:
    """A prose line hard-wrapped before a capitalised word: "If the plan changed, you" +
    "MUST update it". The previous line is long, ends inside a sentence (a word or a comma)
    and is not a title; neither line is markup or a "Label: ..." line."""
    letters = re.sub(r"[^A-Za-z]", "", previous)
    return (
        len(previous.split()) >= 6
        and bool(re.search(r"[\w,`'\"”)]$", previous))
        and not letters.isupper()
        and not _NOT_PROSE.search(previous)
        and not _NOT_PROSE.search(line)
        and not re.search(r":\s*$", line)
        and not _LABELLED.match(line)
        and not _LABELLED.match(previous)
        and bool(re.match(r"[A-Za-z`'\"“(]", line))
        and not _NEW_IMPERATIVE.match(line)
    )


def split_units_with_kinds(text: str, *, wrapped_prose: bool = True) -> list[tuple[str, str]]:
    """Like :func:`split_units`, each unit with where it came from.

    Kinds: ``"header"`` (markdown ``#``), ``"item"`` (a list item), ``"line"`` (a line or
    paragraph that is one sentence), ``"sentence"`` (one of several sentences of a paragraph).

    ``wrapped_prose`` (the default, for prompts): a long line without closing punctuation is
    also continued by a next line starting with a capital ("..., you" + "MUST ..."), so a
    leading If-clause stays with its main clause. :func:`split_units` (responses) leaves it
    off: unpunctuated capitalised lines of a response (verses, titles) stay apart.
    """
    if not isinstance(text, str):
        return []
    blocks: list[list[str]] = []  # [text, kind]
    joinable = False
    previous = ""  # the last line read
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            joinable = False
            continue
        header = ATX.match(raw)
        item = MARKER.match(raw)
        if (
            joinable
            and not (header or item)
            and (
                line[0].islower()
                # Not after a list item: "-do not add a conclusion" + "Be brief" are two rules.
                or (wrapped_prose and blocks[-1][1] == "line" and _wraps_on(previous, line))
            )
            and not (_KEY_VALUE.match(previous) and _KEY_VALUE.match(line))
        ):
            blocks[-1][0] = f"{blocks[-1][0]} {line}"
        elif header:
            blocks.append([header.group(2), "header"])
        elif item:
            blocks.append([MARKER.sub("", raw, count=1).strip(), "item"])
        else:
            blocks.append([line, "line"])
        joinable = not blocks[-1][0].endswith((".", "!", "?", ":", ";"))
        previous = line
    units: list[tuple[str, str]] = []
    for block, kind in blocks:
        parts = _split_line(block)
        if len(parts) > 1 and kind == "line":
            kind = "sentence"
        units.extend((part, kind) for part in parts)
    return units


__all__ = ["ATX", "MARKER", "split_units", "split_units_with_kinds"]
