"""Consistency and self-test of offline candidates, before any selection.

1. **Self-test.** The prompt's own output template, filled in with plausible content
   (:func:`llmassert.synth.template.filled`), is a compliant response: a candidate that fails it
   would fail what the prompt asks for, so it is dropped.
2. **Contradictions.** Format checks are run on a few synthetic probes (plain prose, Markdown
   with headers and bullets, a bare list, a numbered list, JSON, bold labels). Two candidates
   that each pass some probes but never the same one cannot both pass any response of those
   shapes (e.g. "has a ``#`` header" and "plain text only"); the one whose sentence gives the
   weaker evidence for its format is dropped (fewer format words; then the older instruction).
3. **Lenient variant without labels.** With no labeled responses nothing tells the variants of
   one criterion apart, so the one that passes the most probes — the least likely to fail a
   compliant response — is kept (the first such in rule order on ties).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from llmassert.synth.models import Candidate, Criterion
from llmassert.synth.rules.base import NUMBER_WORD_PATTERN, number_slug, parse_number

PROBES: tuple[str, ...] = (
    "The team reviewed the proposal and agreed on the next steps. The budget stays the same, "
    "and the launch moves to the second week of May.",
    "# Summary\n\nThe team reviewed the proposal.\n\n## Details\n\n- The budget stays the same.\n"
    "- The launch moves to May.\n",
    "- The team reviewed the proposal.\n- The budget stays the same.\n- The launch moves to May.\n",
    "1. The team reviewed the proposal.\n2. The budget stays the same.\n3. The launch moves to May.\n",
    '{"summary": "The team reviewed the proposal.", "launch": "May"}',
    "**Summary:** The team reviewed the proposal.\n\n**Next steps:** The launch moves to May.\n",
    "Here is the change:\n\n```python\ndef launch_month():\n    return 'May'\n```\n",
)
_FORMAT_WORDS = re.compile(
    r"\b(?:markdown|headers?|headings?|#|json|bullets?|bullet points?|lists?|numbered|plain text|"
    r"prose|paragraphs?|bold|tables?|code blocks?|formatting|format|sections?)\b",
    re.I,
)


# Two shapes in one response (a header above code, bullets above JSON): two checks that each
# pass a different probe contradict only if no such combination passes both either.
COMBOS: tuple[str, ...] = tuple(
    a.rstrip() + "\n\n" + b for i, a in enumerate(PROBES) for j, b in enumerate(PROBES) if i != j
)


def responses(template_response: str | None) -> list[str]:
    """What every deterministic candidate is run on: the probes, their pairwise combinations,
    then the filled template."""
    return [*PROBES, *COMBOS] + ([template_response] if template_response else [])


@dataclass
class SelfTestResult:
    kept: list[Candidate]
    response: str | None
    failed_template: list[str] = field(default_factory=list)  # names dropped by the self-test
    contradictions: list[tuple[str, str]] = field(default_factory=list)  # (kept, dropped)
    loosened: list[str] = field(default_factory=list)  # stricter variants set aside (no labels)


def _evidence(criterion: Criterion | None) -> int:
    return len(_FORMAT_WORDS.findall(criterion.text)) if criterion is not None else 0


def self_test(
    candidates: Sequence[Candidate],
    criteria: Sequence[Criterion],
    template_response: str | None,
    M: Sequence[Sequence[int]],
    *,
    labeled: bool,
) -> SelfTestResult:
    """Apply the three steps of the module docstring. ``M[i][j]``: candidate ``j`` of the
    deterministic ones (in order) passes ``responses(template_response)[i]``."""
    det = [c for c in candidates if c.kind == "deterministic"]
    if not det:
        return SelfTestResult(list(candidates), template_response)
    rows = responses(template_response)
    passes = {c.name: [M[i][j] for i in range(len(rows))] for j, c in enumerate(det)}
    result = SelfTestResult([], template_response)
    dropped: set[str] = set()
    if template_response is not None:
        last = len(rows) - 1
        for c in det:
            if not passes[c.name][last]:
                dropped.add(c.name)
                result.failed_template.append(c.name)
    by_id = {c.id: c for c in criteria}
    base = range(len(PROBES))
    every = range(len(PROBES) + len(COMBOS))
    live = [c for c in det if c.name not in dropped]
    sets = {c.name: {i for i in every if passes[c.name][i]} for c in live}
    discriminating = [c for c in live if 0 < len(sets[c.name] & set(base)) < len(PROBES)]
    for a_i, a in enumerate(discriminating):
        for b in discriminating[a_i + 1 :]:
            if a.name in dropped or b.name in dropped or a.criterion_id == b.criterion_id:
                continue
            if sets[a.name] & sets[b.name]:
                continue
            ca, cb = by_id.get(a.criterion_id), by_id.get(b.criterion_id)
            key_a = (_evidence(ca), ca.version if ca else 0)
            key_b = (_evidence(cb), cb.version if cb else 0)
            loser, winner = (b, a) if key_a >= key_b else (a, b)
            dropped.add(loser.name)
            result.contradictions.append((winner.name, loser.name))
    if not labeled:
        keep = _one_per_criterion(det, dropped, passes, criteria)
        for c in det:
            if c.name not in dropped and c.name not in keep:
                dropped.add(c.name)
                result.loosened.append(c.name)
    result.kept = [c for c in candidates if c.name not in dropped]
    return result


_VARIANT = re.compile(r"(?:_(?:strict|lenient|ci|exact|stem|any|slack\d*|\d+))+$")


def reading(name: str) -> str:
    """The reading a candidate implements, without its strictness variant:
    ``forbid_delve_ci`` and ``forbid_delve_exact`` are one reading, ``code_block_python`` another."""
    return _VARIANT.sub("", name)


def _one_per_criterion(
    det: Sequence[Candidate],
    dropped: set[str],
    passes: dict[str, list[int]],
    criteria: Sequence[Criterion],
) -> set[str]:
    """Without labels, one candidate per criterion: within a reading the most lenient variant
    (passes the most probes; a case-insensitive word list on ties); across readings the one whose
    name the sentence supports best ("Python code in ```python blocks": ``code_block_python``
    over ``markdown_lenient``), then the most lenient. Explicit numbers keep their strict
    variant: the slack, ``_plus1`` and ``_lenient`` variants of a count exist for labels to
    choose, and without labels they would pass what the sentence forbids ("a one or two
    sentence summary": ``range_sentences_1_2_lenient`` passes an empty reply and three
    sentences)."""
    explicit = {c.id for c in criteria if re.search(r"\d", c.text)}
    text = {c.id: c.text for c in criteria}
    groups: dict[tuple[str, str], list[Candidate]] = {}
    for c in det:
        if c.name in dropped:
            continue
        if c.criterion_id in explicit and "_slack" in c.name:
            continue  # strict where the prompt is explicit: "at most 72 characters"
        if _LOOSENED_COUNT.search(c.name) and _numbers_of(c.name) <= _stated(
            text.get(c.criterion_id, "")
        ):
            continue  # "1-2 sentences", "one or two sentences", "at least three bullets"
        groups.setdefault((c.criterion_id, reading(c.name)), []).append(c)
    best: dict[str, tuple[int, int, int, int, str]] = {}
    for order, ((crit, name), members) in enumerate(groups.items()):
        lenient = max(members, key=lambda c: (sum(passes[c.name]), _tie(c.name)))
        score = (
            _enforces_number(members, text.get(crit, "")),
            _support(name, text.get(crit, "")),
            sum(passes[lenient.name]),
            -order,
        )
        if crit not in best or score > best[crit][:4]:
            best[crit] = (*score, lenient.name)
    return {name for _n, _e, _p, _o, name in best.values()}


_LOOSENED_COUNT = re.compile(r"_\d+_(?:\d+_)?(?:lenient|plus1|slack\d+)$")
_STATED = re.compile(rf"\b(?:\d+(?:,\d{{3}})*|{NUMBER_WORD_PATTERN})\b", re.I)


def _numbers_of(name: str) -> set[str]:
    return set(re.findall(r"(?<=_)\d+(?=_|$)", name))


def _stated(sentence: str) -> set[str]:
    """The whole numbers a sentence states, in digits or words ("one or two" -> {"1", "2"})."""
    values = (parse_number(t) for t in _STATED.findall(sentence))
    return {number_slug(v) for v in values if v is not None}


def _enforces_number(members: Sequence[Candidate], sentence: str) -> int:
    """1 if the reading checks a number the sentence states ("at most 3 bullet points",
    "at least three": ``max_items_3`` over ``has_bullets``, which would pass five bullets)."""
    numbers = _stated(sentence)
    return int(any(_numbers_of(c.name) & numbers for c in members))


def _tie(name: str) -> int:
    """Among equally lenient variants: a banned word is banned in every inflection ("delves"),
    a required word is matched in any case."""
    if name.startswith("forbid_"):
        return 2 if "_stem" in name else int("_ci" in name)
    return int("_ci" in name)


_GENERIC = frozenset(
    [
        "has",
        "is",
        "no",
        "not",
        "forbid",
        "require",
        "mentions",
        "check",
        "uses",
        "use",
        "any",
        "all",
        "max",
        "min",
        "at",
        "most",
        "least",
        "the",
        "of",
        "and",
        "or",
        "with",
        "in",
        "on",
        "to",
    ]
)


def _support(reading_name: str, sentence: str) -> int:
    """How many words of a reading's name the sentence uses (prefixes of 5 letters)."""
    words = re.findall(r"[a-z]+", sentence.casefold())
    count = 0
    for token in reading_name.casefold().split("_"):
        if token in _GENERIC or len(token) < 3 or token.isdigit():
            continue
        if any(w.startswith(token[:5]) for w in words):
            count += 1
    return count
