"""The offline rule library: deterministic candidate assertions for criteria it recognizes.

One module per family, each a :class:`~.registry.Family` named ``checks`` whose rules register
themselves (a pattern and fixed checks, a pattern and a builder, or a builder reading the whole
criterion; see :mod:`.registry`). The families, and what each recognizes:

- :mod:`.length` — word/sentence/character/line/paragraph/item/question limits, brevity;
- :mod:`.phrases` — required/forbidden words and phrases, content concepts;
- :mod:`.structure` — bullets, numbered lists, sections/headers, markdown, code blocks, tables, JSON;
- :mod:`.style` — language, case, start/end phrases, questions, plain language;
- :mod:`.elisions` — no '...' lines or 'rest of code' comments where eliding is banned;
- :mod:`.diffs` — unified-diff structure (file lines, hunk headers, changed hunks);
- :mod:`.math_delimiters` — math delimiters the prompt lists (no ``$...$``, ``$$`` on own lines);
- :mod:`.prohibitions` — bans whose words are in the verb ("don't tell them to X", folder-creating
  commands);
- :mod:`.placeholders` — example values echoed back, unfilled placeholders, template slots;
- :mod:`.kinds` — exact output, regex and inline templates, HTML/XML/SQL, JSON Schema, tool
  calls, refusals, similarity to an input, reading level, ASCII, same language, overall grade.

:mod:`.template` (sections, per-section and per-item limits, labels, scales) needs the whole
prompt's parsed output template, so the engine calls it directly (``synth/extract.py``).

Every candidate is a standalone function ``def <name>(example: dict, response: str) -> bool``
with a docstring, importing only :mod:`llmassert.assertions.helpers` (and ``re``), and passes
the sandbox's :func:`~llmassert.sandbox.validate_source` and
:func:`~llmassert.sandbox.is_inline_safe`. Criteria nothing recognizes get no candidates:
they need an LLM judge.
"""

from __future__ import annotations

from collections.abc import Iterable

from llmassert.assertions import formats, helpers, parse
from llmassert.synth.models import Candidate, Category, Criterion
from llmassert.synth.rules import (
    diffs,
    elisions,
    kinds,
    length,
    math_delimiters,
    phrases,
    placeholders,
    prohibitions,
    structure,
    style,
)
from llmassert.synth.rules.base import Check, to_candidate
from llmassert.synth.rules.registry import Family

__all__ = [
    "FAMILIES",
    "candidates_for",
    "candidates_for_all",
    "candidates_from_checks",
    "recognizes",
]

_RESERVED = (
    frozenset(helpers.__all__)
    | frozenset(parse.__all__)
    | frozenset(formats.__all__)
    | {"re", "json", "math", "string", "example", "response"}
)

# Every family, in the order their checks are listed (and named first) for a criterion.
FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        length.checks,
        phrases.checks,
        structure.checks,
        style.checks,
        placeholders.checks,
        kinds.checks,
        prohibitions.checks,
        math_delimiters.checks,
        diffs.checks,
        elisions.checks,
    )
}


def _checks(criterion: Criterion) -> list[Check]:
    if criterion.category is Category.PROMPT_REPHRASING:
        return []  # a rewording adds no requirement; its original sentence was checked already
    if criterion.category is Category.DATA_PLACEHOLDERS:
        return placeholders.checks(criterion)
    found: dict[str, Check] = {}
    for family in FAMILIES.values():
        for check in family(criterion):
            found.setdefault(check.name, check)
    return list(found.values())


def candidates_for(criterion: Criterion, *, taken: set[str] | None = None) -> list[Candidate]:
    """Deterministic candidates for one criterion (several variants each); [] if unrecognized.

    ``taken``: names already used in this prompt. A clashing name gets a ``_2``, ``_3``...
    suffix, and the names used are added to ``taken`` (pass the same set for every criterion
    of a prompt to keep names unique and stable).
    """
    return candidates_from_checks(_checks(criterion), criterion, taken=taken)


def candidates_from_checks(
    checks: Iterable[Check], criterion: Criterion, *, taken: set[str] | None = None
) -> list[Candidate]:
    """Render ``checks`` of one criterion as candidates with unique names (see candidates_for)."""
    out: list[Candidate] = []
    for check in checks:
        if check.name in _RESERVED:  # a check named like a helper it calls would call itself
            check = Check(
                f"check_{check.name}", check.summary, check.body, check.helpers, check.modules
            )
        if taken is not None:
            name, n = check.name, 1
            while name in taken:
                n += 1
                name = f"{check.name}_{n}"
            taken.add(name)
            if name != check.name:
                check = Check(name, check.summary, check.body, check.helpers, check.modules)
        out.append(to_candidate(check, criterion))
    return out


def candidates_for_all(criteria: Iterable[Criterion]) -> list[Candidate]:
    """Candidates for every criterion of one prompt, with unique names (in criteria order)."""
    taken: set[str] = set()
    return [c for criterion in criteria for c in candidates_for(criterion, taken=taken)]


def recognizes(criterion: Criterion) -> bool:
    """True when the rule library has deterministic candidates for ``criterion``."""
    return bool(_checks(criterion))
