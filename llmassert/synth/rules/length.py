"""Length and count limits: words, sentences, characters, lines, paragraphs, list items, questions.

Recognized shapes (number may be digits, a number word, or an example variable such as
``[word_count]`` / ``{word_count}``, read from ``example`` at run time):

- maximum: "no more than 150 words", "at most 3 sentences", "under 200 characters",
  "fewer than 5 bullets", "150 words or less", "do not write more than 2 paragraphs";
- minimum: "at least 100 words", "more than 3 items", "5 bullet points or more";
- range: "between 50 and 100 words", "3-5 sentences";
- approximate: "in about 200 words", "roughly 10 lines";
- exact / bare: "exactly 3 bullets", "in one sentence", "a 100-word summary";
- brevity without a number ("be concise", "answer in short form"): heuristic word ceilings and a
  ceiling relative to the longest input text.

Variants: ``strict`` (the letter of the rule) and lenient ones with slack (``slack10`` = +10 %,
``slack25``; ``plus1`` for small counts; ``within20``/``within35`` for approximate limits).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from llmassert.synth.models import Criterion
from llmassert.synth.rules.base import (
    NUMBER_WORD_PATTERN,
    Check,
    negated,
    number_slug,
    parse_number,
)
from llmassert.synth.rules.registry import Family

# unit name -> (pattern, expression measuring the response, helpers it needs, large unit?)
UNITS: dict[str, tuple[str, str, tuple[str, ...], bool]] = {
    "words": (r"words?", "word_count(response)", ("word_count",), True),
    "sentences": (r"sentences?", "sentence_count(response)", ("sentence_count",), False),
    "chars": (r"characters?|chars?|letters?", "len(response)", (), True),
    "lines": (r"lines?", "line_count(response)", ("line_count",), False),
    "paragraphs": (r"paragraphs?", "len(paragraphs(response))", ("paragraphs",), False),
    "items": (
        r"bullet[- ]points?|bullets?|bulleted items?|list items?|items?|points?",
        "len(list_items(response))",
        ("list_items",),
        False,
    ),
    # Steps of a plan the response lists: a JSON array's items or the list items (only as an
    # upper bound, see _length_checks).
    "steps": (r"steps?", "list_length(response)", ("list_length",), False),
    "questions": (r"questions?", "len(questions(response))", ("questions",), False),
    "emojis": (r"emojis?|emoticons?", "len(emojis(response))", ("emojis",), False),
}
_UNIT = "(?P<unit>" + "|".join(spec[0] for spec in UNITS.values()) + ")"
_NUM = rf"(?:\d+(?:,\d{{3}})*(?:\.\d+)?|{NUMBER_WORD_PATTERN}|\[\w+\]|\{{\{{?\s*\w+\s*\}}?\}})"
_ADJ = r"(?:[a-z][\w-]*\s+){0,2}"

_MAX_Q = (
    r"no more than|not more than|not exceed(?:ing)?|not to exceed|does not exceed|doesn'?t exceed|"
    r"no longer than|at most|up to|a maximum of|maximum of|maximum|max\.?|within|capped at|"
    r"limit(?:ed)? (?:\w+ ){0,2}to|under|below|fewer than|less than|shorter than"
)
_MIN_Q = r"at least|no less than|no fewer than|a minimum of|minimum of|minimum|min\.?|more than|over|longer than|upwards of"
_ABOUT_Q = r"about|around|approximately|approx\.?|roughly|circa|close to|~"
_EXACT_Q = r"exactly|precisely|just|only"
_EXCLUSIVE = (
    "fewer than",
    "less than",
    "under",
    "below",
    "shorter than",
    "more than",
    "over",
    "longer than",
)

_RANGES = (
    re.compile(rf"\bbetween\s+(?P<a>{_NUM})\s+and\s+(?P<b>{_NUM})\s+{_ADJ}{_UNIT}\b", re.I),
    re.compile(rf"\b(?P<a>\d+)\s*(?:-|–|to)\s*(?P<b>\d+)[\s-]+{_ADJ}{_UNIT}\b", re.I),
)
_QUALIFIED = re.compile(
    rf"(?P<q>{_MAX_Q}|{_MIN_Q}|{_ABOUT_Q}|{_EXACT_Q})\s+(?:a\s+)?(?P<n>{_NUM})[\s-]*{_ADJ}{_UNIT}\b",
    re.I,
)
_TRAILING = re.compile(
    rf"(?P<n>{_NUM})[\s-]*{_ADJ}{_UNIT}\s*(?P<t>or (?:less|fewer|under|below)|or more|max(?:imum)?|min(?:imum)?|at most|at least|\+)",
    re.I,
)
_BARE = re.compile(
    rf"\b(?:in|with|using|of|into|write|give|provide|list|use|answer in|respond in)\s+(?:a\s+|an\s+)?(?P<n>\d+|{NUMBER_WORD_PATTERN})[\s-]+{_ADJ}{_UNIT}\b",
    re.I,
)
_HYPHEN = re.compile(rf"\b(?P<n>\d+|{NUMBER_WORD_PATTERN})-{_UNIT}\b", re.I)

_BREVITY = re.compile(
    r"\b(?:concise(?:ly)?|short|brief(?:ly)?|succinct(?:ly)?|terse|to the point|verbos\w*|"
    r"short ?hand|quick speech)\b",
    re.I,
)
_DETAIL = re.compile(r"\b(?:detailed|in detail|comprehensive|thorough|in-depth|elaborate)\b", re.I)
BREVITY_CEILINGS = (150, 250, 400)
DETAIL_FLOORS = (100, 250)


@dataclass(frozen=True)
class Limit:
    kind: str  # max | min | range | about | exact
    unit: str
    low: float | str | None = None  # a number, or the example variable holding it
    high: float | str | None = None
    exclusive: bool = False


def _unit(m: re.Match[str]) -> str:
    found = m.group("unit")
    return next(name for name, spec in UNITS.items() if re.fullmatch(spec[0], found, re.I))


def _value(token: str) -> float | str | None:
    token = token.strip()
    var = re.fullmatch(r"\[(\w+)\]|\{\{?\s*(\w+)\s*\}?\}", token)
    if var:
        return var.group(1) or var.group(2)
    return parse_number(token)


_EITHER = re.compile(rf"\b({NUMBER_WORD_PATTERN}|\d+)\s+or\s+({NUMBER_WORD_PATTERN}|\d+)\b", re.I)


def find_limits(text: str) -> list[Limit]:
    """Every length limit stated in ``text`` (see the module docstring)."""
    # "a one or two sentence summary" is the range 1 to 2.
    text = _EITHER.sub(
        lambda m: f"{parse_number(m.group(1)):g} to {parse_number(m.group(2)):g}", text
    )
    limits: list[Limit] = []
    spans: list[tuple[int, int]] = []

    def free(m: re.Match[str]) -> bool:
        return all(m.end() <= a or m.start() >= b for a, b in spans)

    for pattern in _RANGES:
        for m in pattern.finditer(text):
            low, high = _value(m.group("a")), _value(m.group("b"))
            if free(m) and low is not None and high is not None:
                limits.append(Limit("range", _unit(m), low, high))
                spans.append(m.span())
    for m in _QUALIFIED.finditer(text):
        if not free(m):
            continue
        q, n = m.group("q").casefold(), _value(m.group("n"))
        if n is None:
            continue
        if re.fullmatch(_MAX_Q, q, re.I):
            kind = "max"
        elif re.fullmatch(_MIN_Q, q, re.I):
            kind = "min"
        elif re.fullmatch(_ABOUT_Q, q, re.I):
            kind = "about"
        else:
            kind = "exact"
        exclusive = q in _EXCLUSIVE
        if kind in ("max", "min") and negated(text, m.start()):
            # "do not write more than 3" is a maximum of 3; "not fewer than 3" a minimum of 3.
            kind, exclusive = ("max" if kind == "min" else "min"), not exclusive
        limits.append(Limit(kind, _unit(m), n, None, exclusive))
        spans.append(m.span())
    for m in _TRAILING.finditer(text):
        n = _value(m.group("n"))
        if not free(m) or n is None:
            continue
        t = m.group("t").casefold()
        kind = "min" if t in ("or more", "+") or t.startswith("min") or t == "at least" else "max"
        limits.append(Limit(kind, _unit(m), n))
        spans.append(m.span())
    for pattern in (_BARE, _HYPHEN):
        for m in pattern.finditer(text):
            n = _value(m.group("n"))
            if free(m) and n is not None and not negated(text, m.start()):
                limits.append(Limit("about" if UNITS[_unit(m)][3] else "exact", _unit(m), n))
                spans.append(m.span())
    return limits


# --- rendering ----------------------------------------------------------------------------------


# kind -> its words, its operator, and both when the limit is exclusive ("fewer than 50 words")
_BOUNDS = {
    "max": ("At most", "<=", "<", "fewer than"),
    "min": ("At least", ">=", ">", "more than"),
}


def _checks_for(limit: Limit) -> list[Check]:
    expr, helpers, large = UNITS[limit.unit][1], UNITS[limit.unit][2], UNITS[limit.unit][3]
    unit = limit.unit
    if isinstance(limit.low, str) or isinstance(limit.high, str):
        return _variable_checks(limit, expr, helpers, large)
    low = float(limit.low) if limit.low is not None else 0.0
    high = float(limit.high) if limit.high is not None else low
    out: list[Check] = []

    def add(name: str, summary: str, condition: str) -> None:
        out.append(Check(name, summary, f"return {condition}", helpers))

    n = number_slug(low)
    if limit.kind in _BOUNDS:  # the strict reading of a one-sided limit
        words, op, exclusive_op, exclusive_words = _BOUNDS[limit.kind]
        add(
            f"{limit.kind}_{unit}_{n}_strict",
            f"{words} {n} {unit} ({exclusive_words if limit.exclusive else 'strict'}).",
            f"{expr} {exclusive_op if limit.exclusive else op} {n}",
        )
    if limit.kind == "max":
        if large:
            for pct in (10, 25):
                bound = math.floor(low * (1 + pct / 100))
                add(
                    f"max_{unit}_{n}_slack{pct}",
                    f"At most {n} {unit}, with {pct}% slack ({bound}).",
                    f"{expr} <= {bound}",
                )
        else:
            add(
                f"max_{unit}_{n}_plus1",
                f"At most {n} {unit}, one more tolerated.",
                f"{expr} <= {number_slug(low + 1)}",
            )
    elif limit.kind == "min":
        lenient = math.ceil(low * 0.9) if large else low - 1
        if lenient >= 1:
            add(
                f"min_{unit}_{n}_lenient",
                f"At least {n} {unit}, with slack ({number_slug(lenient)}).",
                f"{expr} >= {number_slug(lenient)}",
            )
    elif limit.kind == "range":
        h = number_slug(high)
        add(f"range_{unit}_{n}_{h}_strict", f"Between {n} and {h} {unit}.", f"{n} <= {expr} <= {h}")
        lo, hi = (
            (math.ceil(low * 0.9), math.floor(high * 1.1)) if large else (max(0, low - 1), high + 1)
        )
        add(
            f"range_{unit}_{n}_{h}_lenient",
            f"Between {n} and {h} {unit}, with slack ({number_slug(lo)}-{number_slug(hi)}).",
            f"{number_slug(lo)} <= {expr} <= {number_slug(hi)}",
        )
    elif limit.kind == "about":
        for pct in (20, 35):
            lo, hi = math.ceil(low * (1 - pct / 100)), math.floor(low * (1 + pct / 100))
            add(
                f"about_{unit}_{n}_within{pct}",
                f"About {n} {unit} (within {pct}%: {lo}-{hi}).",
                f"{lo} <= {expr} <= {hi}",
            )
        add(
            f"about_{unit}_{n}_ceiling",
            f"About {n} {unit}: no more than 1.5x ({math.floor(low * 1.5)}).",
            f"{expr} <= {math.floor(low * 1.5)}",
        )
    else:  # exact
        add(f"exact_{unit}_{n}_strict", f"Exactly {n} {unit}.", f"{expr} == {n}")
        if large:
            lo, hi = math.ceil(low * 0.9), math.floor(low * 1.1)
            add(
                f"exact_{unit}_{n}_within10",
                f"About exactly {n} {unit} (within 10%: {lo}-{hi}).",
                f"{lo} <= {expr} <= {hi}",
            )
        else:
            add(f"max_{unit}_{n}_strict", f"At most {n} {unit}.", f"{expr} <= {n}")
    return out


def _variable_checks(limit: Limit, expr: str, helpers: tuple[str, ...], large: bool) -> list[Check]:
    unit = limit.unit
    helpers = (*helpers, "as_int")
    variants: list[tuple[str, str, str]] = []  # name suffix, summary, condition (uses low/high)
    if limit.kind in ("max", "exact", "about"):
        var = str(limit.low)
        op = "<" if limit.exclusive else "<="
        variants.append(
            (f"max_{unit}_{var}_strict", f"At most example[{var!r}] {unit}.", f"{expr} {op} low")
        )
        if large:
            variants += [
                (
                    f"max_{unit}_{var}_slack10",
                    f"At most example[{var!r}] {unit}, +10% slack.",
                    f"{expr} <= low * 1.1",
                ),
                (
                    f"max_{unit}_{var}_slack25",
                    f"At most example[{var!r}] {unit}, +25% slack.",
                    f"{expr} <= low * 1.25",
                ),
            ]
        else:
            variants.append(
                (
                    f"max_{unit}_{var}_plus1",
                    f"At most example[{var!r}] {unit}, one more tolerated.",
                    f"{expr} <= low + 1",
                )
            )
        if limit.kind == "exact":
            variants.append(
                (
                    f"exact_{unit}_{var}_strict",
                    f"Exactly example[{var!r}] {unit}.",
                    f"{expr} == low",
                )
            )
    elif limit.kind == "min":
        var = str(limit.low)
        op = ">" if limit.exclusive else ">="
        variants.append(
            (f"min_{unit}_{var}_strict", f"At least example[{var!r}] {unit}.", f"{expr} {op} low")
        )
        if large:
            variants.append(
                (
                    f"min_{unit}_{var}_lenient",
                    f"At least example[{var!r}] {unit}, -10% slack.",
                    f"{expr} >= low * 0.9",
                )
            )
    else:  # range with at least one variable end
        variants.append(
            (
                f"range_{unit}_{limit.low}_{limit.high}_strict",
                f"Between the example's limits in {unit}.",
                f"low <= {expr} <= high",
            )
        )
    out = []
    for name, summary, condition in variants:
        lines = [_read("low", limit.low)]
        if "high" in condition:
            lines.append(_read("high", limit.high))
        lines += [
            "if low is None" + (" or high is None" if "high" in condition else "") + ":",
            "    return True  # the example does not say: nothing to check",
            f"return {condition}",
        ]
        out.append(Check(name, summary, "\n".join(lines), helpers))
    return out


def _read(name: str, value: float | str | None) -> str:
    if isinstance(value, str):
        return f"{name} = as_int(example.get({value!r}))"
    return f"{name} = {number_slug(float(value or 0))}"


# --- brevity without numbers -------------------------------------------------------------------


# Brevity bounds the whole response only when the response is what must be brief ("Be
# concise", "Keep your answer short"), not one part of it ("Keep SEARCH/REPLACE blocks concise").
_ABOUT_RESPONSE = re.compile(
    r"^\W*(?:please\s+)?(?:always\s+)?(?:be|stay|remain|respond|answer|reply|write|"
    r"keep (?:it|things|(?:your |the |all )?(?:responses?|answers?|replies|reply|output|messages?)\b)|"
    r"make (?:it|(?:your |the )?(?:responses?|answers?|reply|output)\b)|"
    r"(?:your |the )?(?:responses?|answers?|replies|reply|output|messages?) (?:should|must|need to|has to|have to) be)\b"
    r"|^\W*(?:concise|short|brief)\b",
    re.I,
)


def _of_response(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    """``pattern``'s match when the instruction is about the whole response and not negated."""
    m = pattern.search(text)
    if m and not negated(text, m.start(), window=3) and _ABOUT_RESPONSE.search(text):
        return m
    return None


def _word_bound(m: re.Match[str], n: int, *, at_most: bool) -> Check:
    """A heuristic word-count bound for a vague length word ("brief", "detailed")."""
    if at_most:
        return Check(
            f"brief_max_words_{n}",
            f"Brief: at most {n} words (a heuristic ceiling for '{m.group(0)}').",
            f"return word_count(response) <= {n}",
            ("word_count",),
        )
    return Check(
        f"detailed_min_words_{n}",
        f"Detailed: at least {n} words (a heuristic floor for '{m.group(0)}').",
        f"return word_count(response) >= {n}",
        ("word_count",),
    )


def _brevity_checks(criterion: Criterion) -> list[Check]:
    text = criterion.text
    out: list[Check] = []
    m = _of_response(_BREVITY, text)
    if m:
        out.extend(_word_bound(m, ceiling, at_most=True) for ceiling in BREVITY_CEILINGS)
        if criterion.variables:
            for pct in (25, 50):
                out.append(
                    Check(
                        f"brief_vs_input_{pct}pct",
                        f"Brief: at most {pct}% of the words of the longest input text.",
                        "source = max((word_count(v) for v in example.values() if isinstance(v, str)), default=0)\n"
                        "if source == 0:\n"
                        "    return True  # no input text to compare with\n"
                        f"return word_count(response) <= source * {pct / 100}",
                        ("word_count",),
                    )
                )
    m = _of_response(_DETAIL, text)
    if m:
        out.extend(_word_bound(m, floor, at_most=False) for floor in DETAIL_FLOORS)
    return out


_PERSONA = re.compile(r"^\W*(?:you are|you're|act as|imagine you)\b", re.I)
_SECTION_ITEM = re.compile(r"^[\"“']?[A-Z][\w&/'’ -]{1,50}?:\s+\S")


# "Explain the changes in a few short sentences": a vague count, so a generous bound (7) on the
# prose outside code fences; only sentences that end in . ! or ? count, so file path lines and
# code between fences do not, nor do list markers ('1.', '2)') at line start.
_FEW_SENTENCES = re.compile(
    r"\b(?:in|with|using)\s+(?:just\s+|only\s+)?a few\s+(?:short\s+)?sentences\b", re.I
)
FEW = 7


def _few_sentences(criterion: Criterion) -> list[Check]:
    if not _FEW_SENTENCES.search(criterion.text):
        return []
    return [
        Check(
            f"few_sentences_max_{FEW}",
            f"At most {FEW} sentences of prose outside code fences ('a few sentences').",
            "prose = re.sub(r'(?ms)^[ \\t]*(```|~~~).*?^[ \\t]*\\1[^\\n]*$', '', response)\n"
            "# a list marker ('1.', '2)', '-') at line start ends no sentence\n"
            "prose = re.sub(r'(?m)^[ \\t]*(?:\\d+[.)]|[-*+\u2022])[ \\t]+', '', prose)\n"
            f"return len(re.findall(r'[^.!?\\n]+[.!?](?=\\s|$)', prose)) <= {FEW}",
            modules=("re",),
        )
    ]


checks = Family("length")


# One rule, not one per limit kind: brevity words count only where no number limits the length.
@checks.rule
def _length_checks(criterion: Criterion) -> list[Check]:
    # "not exceeding 3 steps" caps the steps the response lists; "in 3 steps", "at least 2
    # steps" more often describe how to work than what to write: only a maximum is read.
    limits = [
        limit
        for limit in find_limits(criterion.text)
        if limit.unit != "steps" or limit.kind == "max"
    ]
    out = [c for limit in limits for c in _checks_for(limit)] + _few_sentences(criterion)
    # Adjectives in a persona ("a detailed analyst") or in one section's description
    # ("Executive Summary: a brief summary") do not bound the whole response.
    if (
        not limits
        and not _PERSONA.match(criterion.text)
        and not _SECTION_ITEM.match(criterion.text)
    ):
        out += _brevity_checks(criterion)
    return out
