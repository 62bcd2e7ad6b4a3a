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

PROBES: tuple[str, ...] = (
    "The team reviewed the proposal and agreed on the next steps. The budget stays the same, "
    "and the launch moves to the second week of May.",
    "# Summary\n\nThe team reviewed the proposal.\n\n## Details\n\n- The budget stays the same.\n"
    "- The launch moves to May.\n",
    "- The team reviewed the proposal.\n- The budget stays the same.\n- The launch moves to May.\n",
    "1. The team reviewed the proposal.\n2. The budget stays the same.\n3. The launch moves to May.\n",
    '{"summary": "The team reviewed the proposal.", "launch": "May"}',
    "**Summary:** The team reviewed the proposal.\n\n**Next steps:** The launch moves to May.\n",
)
_FORMAT_WORDS = re.compile(
    r"\b(?:markdown|headers?|headings?|#|json|bullets?|bullet points?|lists?|numbered|plain text|"
    r"prose|paragraphs?|bold|tables?|code blocks?|formatting|format|sections?)\b",
    re.I,
)



def responses(template_response: str | None) -> list[str]:
    """What every deterministic candidate is run on: the probes, then the filled template."""
    return list(PROBES) + ([template_response] if template_response else [])


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
    probe_range = range(len(PROBES))
    live = [c for c in det if c.name not in dropped]
    sets = {c.name: {i for i in probe_range if passes[c.name][i]} for c in live}
    discriminating = [c for c in live if 0 < len(sets[c.name]) < len(PROBES)]
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
        best: dict[str, tuple[int, int, str]] = {}
        explicit = {c.id for c in criteria if re.search(r"\d", c.text)}
        for c in det:
            if c.name in dropped:
                continue
            if c.criterion_id in explicit and "_slack" in c.name:
                continue  # strict where the prompt is explicit: "at most 72 characters"
            # Ties: a case-insensitive reading of a word list is what a user means by "the
            # word X" (the exact-case variant misses "Delve" at a sentence start).
            score = (sum(passes[c.name]), int("_ci" in c.name))
            current = best.get(c.criterion_id)
            if current is None or score > current[:2]:
                best[c.criterion_id] = (*score, c.name)
        keep = {name for _s, _t, name in best.values()}
        for c in det:
            if c.name not in dropped and c.name not in keep:
                dropped.add(c.name)
                result.loosened.append(c.name)
    result.kept = [c for c in candidates if c.name not in dropped]
    return result
