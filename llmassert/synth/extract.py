"""From a prompt history to the criteria of the checked version, offline.

Only the sentences of the version being checked (default: the latest) are enforced; each keeps
the version and commit that last added it (:mod:`llmassert.history.current`). Each sentence gets a
role (:mod:`llmassert.synth.roles`) and only output instructions become criteria. The output
template (:mod:`llmassert.synth.template`) adds one criterion for a template block that no
sentence states, and scopes every limit to the section, item or field its sentence names
(:mod:`llmassert.synth.rules.template`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llmassert.history.current import CurrentView, current_view, version_sha
from llmassert.history.diff import Delta, _context, _key
from llmassert.history.models import PromptHistory
from llmassert.synth import roles as roles_mod
from llmassert.synth import template as template_mod
from llmassert.synth.models import Candidate, Category, Criterion
from llmassert.synth.rules import candidates_from_checks, candidates_for
from llmassert.synth.rules import template as template_rules
from llmassert.synth.taxonomy import categorize, criterion_id


@dataclass
class Extraction:
    view: CurrentView
    criteria: list[Criterion]
    sentences: list[roles_mod.Sentence]  # every unit of the checked version with its role
    origins: dict[str, tuple[int, str | None]]  # unit key -> (origin version, sha)
    template: template_mod.OutputTemplate
    scoped: dict[str, list[template_rules.Check]] = field(default_factory=dict)


def extract(history: PromptHistory, version: str | int | None = None) -> Extraction:
    view = current_view(history, version)
    text = view.version.text
    sentences = roles_mod.classify(text)
    role_of = {_key(s.text): s for s in sentences}
    tpl = template_mod.parse(text, sentences)
    origins = {_key(u.text): (u.origin, u.origin_sha) for u in view.units}
    units = list(view.all_units)
    out: list[Criterion] = []
    scoped: dict[str, list[template_rules.Check]] = {}
    for unit in view.units:
        s = role_of.get(_key(unit.text))
        if s is not None and s.role != "output":
            continue
        delta = Delta(
            prompt=history.name,
            version=unit.origin,
            kind=unit.change,
            text=unit.text,
            context=_context(units, unit.index),
            previous=unit.previous,
            variables=history.variables,
        )
        crit = Criterion(
            id=criterion_id(history.name, unit.origin, unit.text),
            prompt=history.name,
            version=unit.origin,
            text=unit.text,
            context=delta.context,
            category=categorize(delta),
            variables=history.variables,
            sha=unit.origin_sha,
        )
        out.append(crit)
    if tpl.sections_by == "template" and tpl.sections:
        # The template block itself is the instruction: one criterion for its sections.
        first = tpl.sections[0].name
        origin = _template_origin(history, view, first)
        names = ", ".join(tpl.names)
        t_text = f"Output template: sections {names}, in this order"
        out.insert(
            0,
            Criterion(
                id="t" + criterion_id(history.name, origin, t_text)[1:],
                prompt=history.name,
                version=origin,
                text=t_text,
                context=t_text,
                category=Category.PRESENTATION_FORMAT,
                variables=history.variables,
                sha=version_sha(history.versions[origin - 1]),
            ),
        )
    for crit in out:
        if not crit.category.yields_assertions:
            continue
        found = template_rules.checks(crit, tpl, text)
        if found is not None:
            scoped[crit.id] = found
    return Extraction(view, out, sentences, origins, tpl, scoped)


def _template_origin(history: PromptHistory, view: CurrentView, line: str) -> int:
    """The first version of the unbroken run, ending at the checked one, that has ``line``."""
    origin = view.version.index
    for v in reversed(history.versions[: view.version.index]):
        if line not in v.text:
            break
        origin = v.index
    return origin


def candidates(ex: Extraction, criterion: Criterion, taken: set[str]) -> list[Candidate]:
    """The offline candidates of one criterion: scoped by the template when its sentence names
    a section, an item or a field; the generic rule families otherwise."""
    if criterion.id in ex.scoped:
        return candidates_from_checks(ex.scoped[criterion.id], criterion, taken=taken)
    return candidates_for(criterion, taken=taken)
