"""Deterministic checks beyond text helpers: exact match, regex, JSON Schema, HTML/XML/SQL,
refusals, tool calls, similarity to a reference (Levenshtein, ROUGE, BLEU), readability,
ASCII, allowed labels, and "the overall grade equals the lowest grade".

These are the deterministic assertion kinds promptfoo offers (``equals``, ``regex``,
``is-json`` with a schema, ``is-html``/``contains-html``, ``is-xml``, ``is-sql``,
``is-refusal``, ``is-valid-openai-tools-call``, ``levenshtein``, ``rouge-n``, ``bleu``) written
for our assertion functions. Same rules as :mod:`llmassert.assertions.helpers`: stdlib only,
total (odd input gives False / 0.0, never an exception), loaded by path in the sandbox worker.
The JSON Schema validator covers the common subset (type, enum, const, required, properties,
additionalProperties, items, min/max Items/Length, minimum/maximum, pattern, anyOf/oneOf/allOf);
unknown keywords are ignored, as the specification says.
"""

from __future__ import annotations

import math
from collections import Counter
from html.parser import HTMLParser
from typing import Any
from xml.etree import ElementTree

from llmassert.assertions.helpers import (
    json_object,
    normalize,
    parse_json,
    sentences,
    words,
)

# Bounded regex calls on any thread (sandbox/_regex.py): helpers run inside checks.
from llmassert.sandbox import _regex as re

__all__ = [
    "REFUSAL_PHRASES",
    "bleu",
    "contains_html",
    "contains_sql",
    "contains_xml",
    "equals",
    "flesch_kincaid_grade",
    "is_ascii",
    "is_html",
    "is_refusal",
    "is_sql",
    "is_valid_tool_call",
    "is_xml",
    "labels_within",
    "levenshtein",
    "levenshtein_ratio",
    "matches_regex",
    "matches_schema",
    "overall_is_lowest",
    "rouge_l",
    "rouge_n",
    "syllables",
]


def equals(text: str, expected: str, *, case: bool = True, strip: bool = True) -> bool:
    """True when ``text`` equals ``expected`` (after stripping surrounding whitespace)."""
    if not isinstance(text, str) or not isinstance(expected, str):
        return False
    a, b = (text.strip(), expected.strip()) if strip else (text, expected)
    return a == b if case else a.casefold() == b.casefold()


def matches_regex(text: str, pattern: str, *, full: bool = False, flags: int = 0) -> bool:
    """True when ``pattern`` matches somewhere in ``text`` (``full``: the whole text)."""
    if not isinstance(text, str) or not isinstance(pattern, str):
        return False
    try:
        compiled = re.compile(pattern, flags)
    except re.error:
        return False
    return bool(compiled.fullmatch(text.strip()) if full else compiled.search(text))


def is_ascii(text: str) -> bool:
    """True when every character of ``text`` is ASCII."""
    return isinstance(text, str) and text.isascii()


# --- JSON Schema ---------------------------------------------------------------------------------

_TYPES: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _valid(value: Any, schema: Any, depth: int = 0) -> bool:
    if depth > 50 or schema is True or schema is None:
        return depth <= 50
    if schema is False or not isinstance(schema, dict):
        return schema is not False and isinstance(schema, dict)
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(_TYPES.get(k, lambda _v: True)(value) for k in kinds):
            return False
    if "enum" in schema and value not in schema["enum"]:
        return False
    if "const" in schema and value != schema["const"]:
        return False
    for key in ("allOf", "anyOf", "oneOf"):
        subs = schema.get(key)
        if isinstance(subs, list):
            results = [_valid(value, s, depth + 1) for s in subs]
            if key == "allOf" and not all(results):
                return False
            if key == "anyOf" and not any(results):
                return False
            if key == "oneOf" and sum(results) != 1:
                return False
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        if any(k not in value for k in schema.get("required") or []):
            return False
        for k, v in value.items():
            if k in props:
                if not _valid(v, props[k], depth + 1):
                    return False
            elif schema.get("additionalProperties") is False or (
                isinstance(schema.get("additionalProperties"), dict)
                and not _valid(v, schema["additionalProperties"], depth + 1)
            ):
                return False
    if isinstance(value, list):
        if not _within(len(value), schema, "minItems", "maxItems"):
            return False
        item_schema = schema.get("items")
        if isinstance(item_schema, dict) and not all(
            _valid(v, item_schema, depth + 1) for v in value
        ):
            return False
    if isinstance(value, str):
        if not _within(len(value), schema, "minLength", "maxLength"):
            return False
        pattern = schema.get("pattern")
        if isinstance(pattern, str) and not matches_regex(value, pattern):
            return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _within(value, schema, "minimum", "maximum")
    return True


def _within(x: float, schema: dict[str, Any], low: str, high: str) -> bool:
    """``x`` within the schema's inclusive bounds ``low``/``high`` (each optional)."""
    return not (low in schema and x < schema[low]) and not (high in schema and x > schema[high])


def matches_schema(text: str, schema: dict[str, Any], *, lenient: bool = True) -> bool:
    """True when ``text`` is JSON valid against the JSON Schema ``schema`` (the subset in the
    module docstring). ``lenient`` also finds the JSON inside a code fence or prose."""
    if not isinstance(text, str) or not isinstance(schema, dict):
        return False
    from llmassert.assertions.helpers import is_json

    if not is_json(text, lenient=lenient):
        return False
    return _valid(parse_json(text, lenient=lenient), schema)


# --- HTML, XML, SQL ----------------------------------------------------------------------------

_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)


class _TagBalance(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags = 0
        self.broken = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags += 1
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass  # HTML lets <p>/<li> close implicitly
        else:
            self.broken = True


_HTML_TAG = re.compile(r"<([a-zA-Z][a-zA-Z0-9-]*)(?:\s[^<>]*)?/?>")


def contains_html(text: str) -> bool:
    """True when ``text`` contains at least one HTML element tag (``<p>``, ``<div class=..>``)."""
    return isinstance(text, str) and any(
        m.group(1).lower() in _HTML_NAMES for m in _HTML_TAG.finditer(text)
    )


def is_html(text: str) -> bool:
    """True when ``text`` (stripped) is an HTML fragment: starts with a tag, tags balance."""
    if not isinstance(text, str) or not text.strip().startswith("<"):
        return False
    parser = _TagBalance()
    try:
        parser.feed(text)
        parser.close()
    except Exception:
        return False
    implicit = {"p", "li", "td", "tr", "th", "html", "body", "head", "option"}
    return parser.tags > 0 and not parser.broken and set(parser.stack) <= implicit


_HTML_NAMES = frozenset(
    [
        "a",
        "abbr",
        "article",
        "aside",
        "b",
        "blockquote",
        "body",
        "br",
        "button",
        "caption",
        "code",
        "div",
        "dl",
        "dt",
        "dd",
        "em",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "head",
        "header",
        "hr",
        "html",
        "i",
        "img",
        "input",
        "label",
        "li",
        "link",
        "meta",
        "nav",
        "ol",
        "option",
        "p",
        "pre",
        "script",
        "section",
        "select",
        "small",
        "span",
        "strong",
        "style",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "textarea",
        "th",
        "thead",
        "title",
        "tr",
        "u",
        "ul",
    ]
)


def is_xml(text: str) -> bool:
    """True when ``text`` (stripped, an optional ``<?xml ...?>`` prolog allowed) is well-formed
    XML with one root element."""
    if not isinstance(text, str) or not text.strip().startswith("<"):
        return False
    try:
        ElementTree.fromstring(text.strip())
    except (ElementTree.ParseError, ValueError):
        return False
    return True


def contains_xml(text: str) -> bool:
    """True when ``text`` contains a well-formed XML element (``<a>...</a>`` or ``<a/>``)."""
    if not isinstance(text, str):
        return False
    for m in re.finditer(r"<([A-Za-z_][\w.-]*)[^<>]*?(?:/>|>.*?</\1\s*>)", text, re.S):
        if is_xml(m.group(0)):
            return True
    return False


_SQL_START = re.compile(
    r"^\s*(?:WITH\s+\w+\s+AS\s*\(|SELECT\s|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|"
    r"CREATE\s+(?:TABLE|VIEW|INDEX|UNIQUE\s+INDEX)\s|ALTER\s+TABLE\s|DROP\s+(?:TABLE|VIEW|INDEX)\s)",
    re.I,
)
_SQL_SHAPE = {
    "select": re.compile(r"\bSELECT\b.+?(?:\bFROM\b|$)", re.I | re.S),
    "insert": re.compile(
        r"\bINSERT\s+INTO\s+\S+.*\bVALUES\b|\bINSERT\s+INTO\s+\S+.*\bSELECT\b", re.I | re.S
    ),
    "update": re.compile(r"\bUPDATE\s+\S+\s+SET\s+\S+\s*=", re.I | re.S),
    "delete": re.compile(r"\bDELETE\s+FROM\s+\S+", re.I),
}


def _sql_body(text: str) -> str:
    fenced = re.search(r"```(?:sql)?\s*\n(.*?)```", text, re.S | re.I)
    return fenced.group(1) if fenced else text


def is_sql(text: str) -> bool:
    """True when ``text`` (or its one fenced block) is SQL: statements that each start with a
    SQL verb, with balanced parentheses and quotes. A shape check, not a full parser."""
    if not isinstance(text, str):
        return False
    body = _sql_body(text).strip().rstrip(";").strip()
    if not body:
        return False
    if body.count("(") != body.count(")") or body.count("'") % 2:
        return False
    statements = [s for s in re.split(r";\s*(?=\S)", body) if s.strip()]
    for statement in statements:
        if not _SQL_START.match(statement):
            return False
        verb = statement.split(None, 1)[0]
        # "Select the best option from the list." is prose: SQL has an upper-case verb, or
        # operators/terminators prose lacks, and never ends like a sentence.
        if re.search(r"[.!?]\s*$", statement) or not (
            verb.isupper() or re.search(r"[;*=(]|\n", statement)
        ):
            return False
        shape = _SQL_SHAPE.get(verb.lower())
        if shape is not None and not shape.search(statement):
            return False
    return True


def contains_sql(text: str) -> bool:
    """True when ``text`` contains a SQL statement (in a fence or on its own lines)."""
    if not isinstance(text, str):
        return False
    if is_sql(text):
        return True
    for block in re.findall(r"```[^\n]*\n(.*?)```", text, re.S):
        if is_sql(block):
            return True
    return any(
        is_sql(line) for line in text.splitlines() if _SQL_START.match(line) and len(line) > 12
    )


# --- refusals and tool calls -------------------------------------------------------------------

REFUSAL_PHRASES = (
    "I can't help with",
    "I cannot help with",
    "I can't assist",
    "I cannot assist",
    "I'm unable to",
    "I am unable to",
    "I won't be able to",
    "I'm not able to",
    "I am not able to",
    "I can't provide",
    "I cannot provide",
    "I can't comply",
    "I cannot comply",
    "I must decline",
    "I'm sorry, but I can't",
    "I'm sorry, but I cannot",
    "as an AI language model, I",
    "I don't feel comfortable",
    "against my guidelines",
    "I can't do that",
    "I cannot do that",
)


def is_refusal(text: str) -> bool:
    """True when ``text`` declines the request ("I can't help with that", "I'm unable to ...").

    Only the opening (first 300 characters) counts: a refusal leads, while a long answer that
    later says "I cannot provide legal advice" is still an answer.
    """
    if not isinstance(text, str) or not text.strip():
        return False
    head = normalize(text[:300])
    return any(normalize(p) in head for p in REFUSAL_PHRASES)


def is_valid_tool_call(
    text: str, tools: list[dict[str, Any]] | None = None, *, lenient: bool = True
) -> bool:
    """True when ``text`` is a tool call (or a list of them) in OpenAI's shape — ``{"name": ..,
    "arguments": {...} or "{...}"}``, optionally under ``"function"`` — naming a tool of
    ``tools`` (OpenAI tool definitions) with arguments valid against its parameter schema."""
    value = parse_json(text, lenient=lenient) if isinstance(text, str) else None
    if isinstance(value, dict) and isinstance(value.get("tool_calls"), list):
        value = value["tool_calls"]
    calls = value if isinstance(value, list) else [value]
    if not calls:
        return False
    known: dict[str, Any] = {}
    for tool in tools or []:
        spec = tool.get("function", tool) if isinstance(tool, dict) else None
        if isinstance(spec, dict) and isinstance(spec.get("name"), str):
            known[spec["name"]] = spec.get("parameters") or {}
    for call in calls:
        if not isinstance(call, dict):
            return False
        spec = call.get("function", call)
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            return False
        args = spec.get("arguments", {})
        if isinstance(args, str):
            args = json_object(args) if args.strip() else {}
        if not isinstance(args, dict):
            return False
        if tools is not None and (
            spec["name"] not in known or not _valid(args, known[spec["name"]])
        ):
            return False
    return True


# --- similarity to a reference ------------------------------------------------------------------


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions) between ``a`` and ``b``."""
    if not isinstance(a, str) or not isinstance(b, str):
        return max(len(a) if isinstance(a, str) else 0, len(b) if isinstance(b, str) else 0)
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def levenshtein_ratio(a: str, b: str) -> float:
    """1 - distance / longer length: 1.0 for equal strings, 0.0 for nothing in common."""
    if not isinstance(a, str) or not isinstance(b, str):
        return 0.0
    longest = max(len(a), len(b))
    return 1.0 if longest == 0 else 1 - levenshtein(a, b) / longest


def _tokens(text: str) -> list[str]:
    return [w.casefold() for w in words(text)] if isinstance(text, str) else []


def _ngrams(tokens: list[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def rouge_n(text: str, reference: str, n: int = 1) -> float:
    """ROUGE-N F1 between ``text`` and ``reference`` (word n-grams, case-insensitive)."""
    cand, ref = _ngrams(_tokens(text), n), _ngrams(_tokens(reference), n)
    overlap = sum((cand & ref).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(cand.values()), overlap / sum(ref.values())
    return 2 * precision * recall / (precision + recall)


def rouge_l(text: str, reference: str) -> float:
    """ROUGE-L F1: the longest common word subsequence of ``text`` and ``reference``."""
    a, b = _tokens(text), _tokens(reference)
    if not a or not b:
        return 0.0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, 1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    lcs = previous[-1]
    if not lcs:
        return 0.0
    precision, recall = lcs / len(a), lcs / len(b)
    return 2 * precision * recall / (precision + recall)


def bleu(text: str, reference: str, max_n: int = 4) -> float:
    """Sentence BLEU of ``text`` against one ``reference`` (up to ``max_n``-grams, add-one
    smoothing above unigrams, brevity penalty)."""
    cand, ref = _tokens(text), _tokens(reference)
    if not cand or not ref:
        return 0.0
    log_sum = 0.0
    for n in range(1, max_n + 1):
        c, r = _ngrams(cand, n), _ngrams(ref, n)
        total = sum(c.values())
        matched = sum((c & r).values())
        if n == 1:
            if not matched:
                return 0.0
            log_sum += math.log(matched / total)
        else:
            log_sum += math.log((matched + 1) / (total + 1))
    brevity = 1.0 if len(cand) > len(ref) else math.exp(1 - len(ref) / len(cand))
    return brevity * math.exp(log_sum / max_n)


# --- readability -------------------------------------------------------------------------------


def syllables(word: str) -> int:
    """Syllables of an English word, by vowel groups (a heuristic, as readability formulas use)."""
    w = re.sub(r"[^a-z]", "", word.casefold()) if isinstance(word, str) else ""
    if not w:
        return 0
    if len(w) <= 3:
        return 1
    w = re.sub(r"(?:[^laeiouy]es|ed|[^laeiouy]e)$", "", w)
    w = re.sub(r"^y", "", w)
    return max(1, len(re.findall(r"[aeiouy]{1,2}", w)))


def flesch_kincaid_grade(text: str) -> float:
    """Flesch–Kincaid grade level: 0.39 words/sentence + 11.8 syllables/word - 15.59."""
    found = [w for w in words(text) if re.search(r"[A-Za-z]", w)] if isinstance(text, str) else []
    if not found:
        return 0.0
    n_sentences = max(1, len(sentences(text)))
    n_syllables = sum(syllables(w) for w in found)
    return 0.39 * len(found) / n_sentences + 11.8 * n_syllables / len(found) - 15.59


# --- labels and grades -------------------------------------------------------------------------


def labels_within(text: str, allowed: tuple[str, ...] | list[str]) -> bool:
    """True when every label in ``text`` — its items split on commas, semicolons and lines,
    bullets stripped — is one of ``allowed`` (case, spacing, ``-``/``_`` ignored)."""
    if not isinstance(text, str) or not allowed:
        return False
    keys = {re.sub(r"[\s_-]+", " ", normalize(a)).strip(" .") for a in allowed}
    parts = [
        re.sub(r"^\s*(?:[-*•+]|\d+[.)])\s*", "", p)
        for line in text.splitlines()
        for p in re.split(r"[,;]", line)
    ]
    found = [re.sub(r"[\s_-]+", " ", normalize(p)).strip(" .`'\"*") for p in parts]
    found = [f for f in found if f]
    return bool(found) and all(f in keys for f in found)


def overall_is_lowest(
    text: str, scale: tuple[str, ...] | list[str], overall: str = "overall"
) -> bool:
    """True when the grade on the line naming ``overall`` is the lowest grade given elsewhere.

    ``scale`` lists the grades from lowest to highest ("F", "D", ..., "A" or "1".."10").
    Responses without an overall line or without other grades pass: there is nothing to compare.
    """
    if not isinstance(text, str) or not scale:
        return False
    rank = {normalize(g): i for i, g in enumerate(scale)}
    pattern = re.compile(
        r"(?<![\w+-])("
        + "|".join(re.escape(g) for g in sorted(scale, key=len, reverse=True))
        + r")(?![\w+])",
        re.I,
    )
    final: int | None = None
    others: list[int] = []
    for line in text.splitlines():
        grades = [rank[normalize(m.group(1))] for m in pattern.finditer(line)]
        if not grades:
            continue
        if overall.casefold() in line.casefold():
            final = grades[-1]
        else:
            others.append(grades[-1])
    if final is None or not others:
        return True
    return final == min(others)
