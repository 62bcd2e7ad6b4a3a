"""The building blocks of rule families: a check spec, its rendering, and criterion-text parsing."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from llmassert.assertions import formats, parse
from llmassert.synth.models import Candidate, Criterion

HELPERS_MODULE = "llmassert.assertions.helpers"
PARSE_MODULE = "llmassert.assertions.parse"
FORMATS_MODULE = "llmassert.assertions.formats"


def _module_of(name: str) -> str:
    """The helper module defining ``name`` (checks import from all three under one list)."""
    if name in parse.__all__:
        return PARSE_MODULE
    if name in formats.__all__:
        return FORMATS_MODULE
    return HELPERS_MODULE


@dataclass(frozen=True)
class Check:
    """One deterministic check before rendering: ``def <name>(example, response) -> bool``.

    ``body`` is the function body (4-space indented lines joined by newlines, no docstring);
    ``helpers`` are names it imports from :mod:`llmassert.assertions.helpers`.
    """

    name: str
    summary: str  # one line: what it checks (docstring first line and description)
    body: str
    helpers: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()  # stdlib modules: re, json, math, string


def _docstring_text(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def render(check: Check, criterion: Criterion) -> str:
    """The full source of the check: imports, then one documented function."""
    lines = [f"import {m}" for m in sorted(set(check.modules))]
    by_module: dict[str, set[str]] = {}
    for name in check.helpers:
        by_module.setdefault(_module_of(name), set()).add(name)
    for module in sorted(by_module):
        lines.append(f"from {module} import {', '.join(sorted(by_module[module]))}")
    header = "\n".join(lines)
    doc = (
        f'    """{_docstring_text(check.summary, 200)}\n\n'
        f"    Criterion (v{criterion.version}, {criterion.category.value}): "
        f'"{_docstring_text(criterion.text)}"\n    """\n'
    )
    body = "\n".join("    " + line if line else "" for line in check.body.splitlines())
    function = f"def {check.name}(example: dict, response: str) -> bool:\n{doc}{body}\n"
    return f"{header}\n\n\n{function}" if header else function


def to_candidate(check: Check, criterion: Criterion) -> Candidate:
    return Candidate(
        name=check.name,
        criterion_id=criterion.id,
        kind="deterministic",
        code=render(check, criterion),
        description=check.summary,
        source="rules",
        cost=1.0,
    )


# --- names ------------------------------------------------------------------------------------


_SYMBOLS = {
    "@": "at",
    "#": "hash",
    "$": "dollar",
    "%": "percent",
    "&": "and",
    "+": "plus",
    "!": "bang",
    "?": "question",
}


def slug(text: str, max_words: int = 4, max_len: int = 40) -> str:
    """A lowercase identifier fragment: ``"Call To Action!"`` -> ``call_to_action``."""
    if not re.search(r"[A-Za-z0-9]", text):  # "@" -> "at": symbols need a name too
        for symbol, word in _SYMBOLS.items():
            text = text.replace(symbol, f" {word} ")
    words = re.findall(r"[a-z0-9]+", text.casefold().replace("'", ""))[:max_words]
    out = ""
    for word in words:  # whole words only, within max_len
        candidate = f"{out}_{word}" if out else word[:max_len]
        if len(candidate) > max_len:
            break
        out = candidate
    return out or "x"


def number_slug(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value).replace(".", "_")


# --- reading criterion text --------------------------------------------------------------------

_DOUBLE_QUOTED = re.compile(r"[\"“”]([^\"“”\n]{1,80})[\"“”]")
_SINGLE_QUOTED = re.compile(r"(?:(?<=^)|(?<=[\s:(,\[]))['‘]([^'‘’\n]{1,60})['’](?=[\s.,;:!?)\]]|$)")
_BACKTICKED = re.compile(r"`([^`\n]{1,60})`")


def quoted(text: str, *, max_words: int = 6) -> list[str]:
    """Phrases in quotes or backticks, in order, without duplicates (case-insensitive)."""
    found: list[tuple[int, str]] = []
    # Code fences named in a sentence ("Do not output the ```python or any ``` tags") are not
    # quotes: the text between two fences is not a phrase. Same length, so positions hold.
    text = re.sub(r"(?:```|~~~)\w*", lambda m: " " * len(m.group(0)), text)
    for pattern in (_DOUBLE_QUOTED, _SINGLE_QUOTED, _BACKTICKED):
        for m in pattern.finditer(text):
            phrase = m.group(1).strip().strip(".,;:")
            if phrase and len(phrase.split()) <= max_words:
                found.append((m.start(), phrase))
    return unique(phrase for _pos, phrase in sorted(found))


def unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for item in items:
        seen.setdefault(item.casefold(), item)
    return list(seen.values())


_LIST_INTRO = re.compile(
    r"\b(?:words?|terms?|phrases?|expressions?)\s*(?:like|such as|including|:)\s*:?\s*(.+)$"
    r"|\bthe (?:words?|terms?|phrases?)\s+(.+)$",
    re.I,
)


def listed_terms(text: str, *, max_words: int = 3) -> list[str]:
    """Terms after "words like ..." / "the word ..." (quoted terms win when present)."""
    found = quoted(text, max_words=max_words)
    if found:
        return found
    m = _LIST_INTRO.search(text)
    if not m:
        return []
    tail = re.split(
        r"[.;!?()]|\s+(?:in|when|because|unless|if|as|to|for)\s+", m.group(1) or m.group(2)
    )[0]
    terms = [t.strip(" ,:'\"") for t in re.split(r",|\bor\b|\band\b|/", tail)]
    terms = [
        t
        for t in terms
        if t and len(t.split()) <= max_words and not t.casefold().startswith(("etc", "the like"))
    ]
    return unique(terms)


NUMBER_WORDS = {
    "zero": 0, "one": 1, "a single": 1, "single": 1, "two": 2, "a couple of": 2,
    "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "hundred": 100, "a hundred": 100, "one hundred": 100,
}  # fmt: skip
NUMBER_WORD_PATTERN = "|".join(sorted((re.escape(k) for k in NUMBER_WORDS), key=len, reverse=True))


def parse_number(token: str) -> float | None:
    token = token.strip().casefold().replace(",", "")
    if token in NUMBER_WORDS:
        return float(NUMBER_WORDS[token])
    try:
        return float(token)
    except ValueError:
        return None


_VAR_REF = re.compile(
    r"\{\{\s*(?:input\.)?([A-Za-z_]\w*)\s*\}\}|\{([A-Za-z_]\w*)\}|\[([A-Za-z_]\w*)\]"
)


def variable_refs(text: str) -> list[str]:
    """Variables a criterion names explicitly: ``{var}``, ``{{ var }}`` or ``[var]``."""
    names = [m.group(1) or m.group(2) or m.group(3) for m in _VAR_REF.finditer(text)]
    return unique(n for n in names if n)


_NEGATION = re.compile(
    r"\b(?:never|not|no|don'?t|doesn'?t|avoid|avoiding|without|refrain|exclude|excluding|omit|"
    r"eliminate|stop|nor|cannot|can'?t|mustn'?t|shouldn'?t|free of|instead of)\b",
    re.I,
)


# Where a negation's scope ends: a new sentence or clause, a contrast, and the positive clause
# of "don't X, instead Y" / "not X but rather Y" ("instead of Y" and "rather than Y" still negate).
CLAUSE_BREAK = re.compile(
    r"[.;!?]|\bbut\b|\bhowever\b|,\s*(?:and|then)\b|\binstead\b(?!\s+of\b)"
    r"|\brather\b(?!\s+than\b)",
    re.I,
)


_LEADING_CONDITION = re.compile(
    r"^\W*(?:if|when|whenever|unless|once|in case|where|while|after|before)\b[^,]*,", re.I
)


def negated(text: str, position: int, window: int = 8) -> bool:
    """True when the clause before ``position`` negates what is there ("do not use X")."""
    before = CLAUSE_BREAK.split(text[:position])[-1]
    # A leading condition is not the main clause: "If there are no changes, say "Done"".
    lead = _LEADING_CONDITION.match(before)
    if lead:
        before = before[lead.end() :]
    words = before.split()[-window:]
    return bool(_NEGATION.search(" ".join(words)))


# A catalogue entry: "`url` - the URL to open", "`finish`: stop working" (a backticked or quoted
# name, a dash or colon, a description of what an action, argument or field does).
_CATALOGUE_ENTRY = re.compile(r"^\W*?[`'\"][\w.-]{1,40}[`'\"]\s*(?:[-\u2013\u2014:]|=)\s+\S")
# An explicit instruction on the response inside such an entry ("`summary`: always include one").
_OUTPUT_VERB = re.compile(
    r"\b(?:respond|reply|answer|write|output|return|print|include|mention|say|state|cite|"
    r"must|always|never|should)\b",
    re.I,
)


def describes_reference(text: str) -> bool:
    """True when ``text`` describes an action, argument or field of a catalogue without asking
    anything of the response ("`url` - the URL to open")."""
    m = _CATALOGUE_ENTRY.match(text)
    return m is not None and not _OUTPUT_VERB.search(text[m.end() - 1 :])


# A statement about the situation, not an instruction: a subject phrase, then a copula or a
# passive ("The challenge is a {kind} problem", "Operation '{op}' is not supported", "The open file
# might be elsewhere"), with no one told to do anything (no you/your, no must/should/ensure ...).
_COPULA = re.compile(
    r"\b(?:is|are|was|were|(?:will|may|might|can|could|would)(?: not)? be|has been|have been)\b",
    re.I,
)
_ADDRESSED = re.compile(
    r"\b(?:you|your|yours|yourself|must|should|shall|need to|needs to|have to|has to|"
    r"make sure|ensure|please|always|never|do not|don'?t|let'?s)\b",
    re.I,
)
_SUBORDINATE = re.compile(
    r"\b(?:that|which|who|whose|whom|when|whenever|if|unless|where|while|because|so|and|or)\b",
    re.I,
)
_IMPERATIVE_START = re.compile(
    r"^\W*(?:write|make|use|give|list|provide|include|add|create|generate|return|output|respond|"
    r"reply|answer|keep|avoid|mention|describe|explain|summari[sz]e|start|begin|end|format|put|"
    r"show|state|say|ask|tell|note|remember|consider|try|be|stay|focus|limit)\b",
    re.I,
)


def states_fact(text: str) -> bool:
    """True when ``text`` states how things are ("The task is a {kind} problem.") instead of
    telling the model what to do: a subject phrase before a copula, and no one addressed."""
    if _ADDRESSED.search(text) or _IMPERATIVE_START.match(text):
        return False
    m = _COPULA.search(text)
    if not m:
        return False
    subject = text[: m.start()]
    return (
        bool(re.search(r"\w", subject))
        and len(subject.split()) <= 8
        and not (_SUBORDINATE.search(subject))
    )


PLACEHOLDER = re.compile(r"\{\{\s*[\w.]+\s*\}\}|\{[A-Za-z_]\w*\}")  # {{ var }} or {var}


def has_placeholder(text: str) -> bool:
    return PLACEHOLDER.search(text) is not None


def phrase_expr(phrase: str) -> tuple[str, tuple[str, ...]]:
    """Code for a phrase: a literal, or one filled from the example ("Hi {customer_name},")."""
    if has_placeholder(phrase):
        return f"fill_placeholders({phrase!r}, example)", ("fill_placeholders",)
    return repr(phrase), ()


def literal(value: object) -> str:
    """A Python literal for generated code (strings, numbers, tuples of strings)."""
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)
