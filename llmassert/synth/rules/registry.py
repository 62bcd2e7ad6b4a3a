"""The rule registry: a rule is a pattern plus a small builder, registered once in its family.

A :class:`Family` is an ordered list of rules; calling it with a criterion returns the checks of
every rule in registration order (the order is part of the output: it fixes candidate order and
name suffixes). Three ways to register a rule, from most to least declarative:

- :meth:`Family.when` — a pattern and fixed checks: ``stated`` when the pattern matches, or
  ``if_negated`` when the clause before the match negates it ("do not use a table"); patterns in
  ``also`` must match somewhere in the text too. ``if_negated=None`` ignores negation.
- :meth:`Family.on` — a pattern and a builder ``(hit) -> checks`` for checks that depend on what
  was matched (a :class:`Hit`: the criterion, the text read, the match, whether it is negated);
  ``skip_negated`` returns nothing for a negated match.
- :meth:`Family.rule` — a builder that reads the whole criterion (its context, its variables).

String patterns compile case-insensitively; a compiled pattern is used as given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from llmassert.synth.models import Criterion
from llmassert.synth.rules.base import Check, negated

__all__ = ["Family", "Hit", "MatchBuilder", "pattern"]


@dataclass(frozen=True)
class Hit:
    """What a pattern rule's builder sees."""

    criterion: Criterion
    text: str  # the text the family reads (``criterion.text`` unless the family says otherwise)
    match: re.Match[str]
    negated: bool  # the clause before the match negates it (:func:`~.base.negated`)


Pattern = str | re.Pattern[str]
MatchBuilder = Callable[[Hit], list[Check]]
CriterionBuilder = Callable[[Criterion], list[Check]]


def pattern(p: Pattern) -> re.Pattern[str]:
    """``p`` compiled: a string case-insensitively, a compiled pattern as it is."""
    return p if isinstance(p, re.Pattern) else re.compile(p, re.I)


@dataclass(frozen=True)
class _Rule:
    """A pattern-triggered rule: ``build(hit)`` when ``pattern`` (and every ``also``) matches."""

    pattern: re.Pattern[str]
    build: MatchBuilder
    also: tuple[re.Pattern[str], ...]
    skip_negated: bool

    def __call__(self, criterion: Criterion, text: str) -> list[Check]:
        m = self.pattern.search(text)
        if not m or not all(p.search(text) for p in self.also):
            return []
        is_negated = negated(text, m.start())
        if is_negated and self.skip_negated:
            return []
        return self.build(Hit(criterion, text, m, is_negated))


class Family:
    """One family of rules (length, structure, style, ...), applied in registration order.

    ``text`` turns a criterion into the text pattern rules read (default: ``criterion.text``).
    """

    def __init__(self, name: str, text: Callable[[Criterion], str] | None = None) -> None:
        self.name = name
        self._text = text or (lambda criterion: criterion.text)
        self._rules: list[Callable[[Criterion, str], list[Check]]] = []

    def __call__(self, criterion: Criterion) -> list[Check]:
        text = self._text(criterion)
        out: list[Check] = []
        for rule in self._rules:
            out += rule(criterion, text)
        return out

    def rule(self, build: CriterionBuilder) -> CriterionBuilder:
        """Register a builder reading the whole criterion (a decorator)."""
        self._rules.append(lambda criterion, _text: build(criterion))
        return build

    def on(
        self, p: Pattern, *, also: Iterable[Pattern] = (), skip_negated: bool = False
    ) -> Callable[[MatchBuilder], MatchBuilder]:
        """Register ``build(hit)``, called when ``p`` matches (a decorator)."""

        def register(build: MatchBuilder) -> MatchBuilder:
            self._rules.append(
                _Rule(pattern(p), build, tuple(pattern(a) for a in also), skip_negated)
            )
            return build

        return register

    def when(
        self,
        p: Pattern,
        stated: Sequence[Check] = (),
        if_negated: Sequence[Check] | None = (),
        *,
        also: Iterable[Pattern] = (),
    ) -> None:
        """Register fixed checks: ``stated`` on a match, ``if_negated`` on a negated one.

        ``if_negated=None``: negation is not read, a match always gives ``stated``.
        """
        stated, negated_checks = list(stated), None if if_negated is None else list(if_negated)

        def build(hit: Hit) -> list[Check]:
            if negated_checks is not None and hit.negated:
                return list(negated_checks)
            return list(stated)

        self.on(p, also=also)(build)
