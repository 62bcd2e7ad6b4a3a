"""From a prompt history to the criteria of the checked version, offline.

Only the sentences of the version being checked (default: the latest) are enforced; each keeps
the version and commit that last added it (:mod:`llmassert.history.current`). Each sentence gets a
role (:mod:`llmassert.synth.roles`) and only output instructions become criteria. The output
template (:mod:`llmassert.synth.template`) adds one criterion for a template block that no
sentence states, and scopes every limit to the section, item or field its sentence names
(:mod:`llmassert.synth.rules.template`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from llmassert.history.current import CurrentView, current_view, version_sha
from llmassert.history.diff import Delta, _context, _key
from llmassert.history.models import PromptHistory
from llmassert.synth import roles as roles_mod
from llmassert.synth import template as template_mod
from llmassert.synth.models import Candidate, Category, Criterion
from llmassert.synth.rules import candidates_for, candidates_from_checks
from llmassert.synth.rules import template as template_rules
from llmassert.synth.rules.base import Check, _docstring_text
from llmassert.synth.taxonomy import categorize, criterion_id

CONDITIONAL = re.compile(
    r"^\W*(?:(?:but|and|so|also|however|then|otherwise|only)\s*,?\s+)?(?:if|when|whenever|unless|in case|once|where|while|before|after|for any)\b"
    r"|\b(?:if any|if needed|if necessary|if applicable|if appropriate|if relevant|if possible|"
    r"when (?:needed|necessary|applicable|appropriate|relevant|possible|required)|"
    r"where (?:needed|necessary|applicable|appropriate|relevant|possible)|as needed|"
    r"when asked|if asked|if the user|when the user|if a user|when a user|as required|as appropriate|"
    r"when required|when available|if available|unless told|when told|if told)\b"
    r"|\bunless\b"
    # "For advanced requests, start with a plan": a condition on the kind of input. Not "For
    # this task, ..." (the one at hand).
    r"|^\W*for\s+(?!(?:this|the|that|these|those|your|my|our|all|every|each)\b)"
    r"(?:[\w-]+\s+){1,3}?(?:requests?|questions?|tasks?|queries|query|inputs?|problems?|"
    r"prompts?|messages?|cases?|issues?|changes?|projects?|files?|users?)\s*,"
    # "To call a tool, use this format:": a purpose clause naming an action the model may or
    # may not take holds only when it does. Not "To answer, ..." (the task itself).
    r"|^\W*to\s+(?:use|call|invoke|run|execute|access|issue|submit|delegate|search|open|edit|"
    r"send|ask)\s+(?:(?:a|an|any|one|some|the|another)\s+)?[\w-]+(?:\s+[\w-]+)?\s*,"
    # "Prefer X over Y", "Instead, try to use X": a preference or an attempt, not a requirement
    # (a response that does otherwise where it has to still follows the prompt).
    r"|\bprefer(?:ably|ring|red)?\b|\bwhere possible\b|\bif you can\b"
    r"|^\W*(?:(?:instead|so|also|please|always|just|then|but)\W+)*(?:try|attempt)\s+to\b"
    # "Either call a tool or give the final answer": alternative actions; neither is required.
    r"|\beither\s+(?:use|call|invoke|run|give|write|return|ask|provide|respond|reply|output|"
    r"make|take|stop|continue|finish|submit|send|delegate|perform)\b"
    r"|^\W*for\s+(?:requests?|questions?|tasks?|queries|inputs?|problems?|prompts?|messages?|"
    r"cases?|issues?|changes?|projects?|files?|users?)\s+(?:that|which|where|with|about|"
    r"involving|like|of)\b"
    # "Start each hunk with ...": a rule for every part of a kind the template does not name.
    # "citations to documents referenced": only for what exists.
    r"|(?<!they )(?<!you )\b(?:referenced|cited|consulted|retrieved)\W*$"
    r"|\b(?:each|every)\s+(?!(?:response|answer|reply|output|message)\b)[a-z]+"
    r"|^\W*(?:\w+\s+)?(?:them|it|these|those|this)\s+(?:inline|in|as|with|to|into)\b",
    re.I,
)


# A trailing condition clause: "Don't use a code block if it's not meant to be run", "Reply DONE
# at the end when everything is finished", "... once you are done". Not "even if" (the
# instruction holds regardless), "as if", nor an indirect question ("check if").
TRAILING_CONDITION = re.compile(
    r"(?<!\beven )(?<!\bas )(?<!\bwhat )(?<!\bcheck )(?<!\bsee )(?<!\bask )(?<!\basks )"
    r"(?<!\bknow )(?<!\btell )(?<!\bverify )(?<!\bdecide )(?<!\bconfirm )(?<!\bclarify )"
    r"(?<!\bwonder )(?<!\bdetermine )\bif\b(?!\s+so\b)"
    r"|(?<!\beven )\bwhen(?:ever)?\b(?!\s+to\b)"
    r"|\b(?:once|until)\s+(?:you|the|it|they|all|everything|your|we|i|this|that|there)\b"
    r"|\bafter\s+(?:you|they|it|everything|all|we|i)\s+(?!all\b)\w+"
    r"|\b(?:once|after|until)\b[^.;]{0,80}?\b(?:done|finished|complete|completed|over|ready|"
    r"solved|resolved|succeeded|failed)\b",
    re.I,
)
# A verb phrase nested in the instruction before its trailing condition ("Encourage readers
# to contact us if they have questions", "show gratitude using @ when tagging"): the condition
# may belong to the nested verb, and the instruction itself holds always.
_NESTED_VERB = re.compile(
    r"\bto\s+(?!(?:the|a|an|your|their|his|her|its|our|my|this|that|these|those|me|us|them|"
    r"him|you|it|each|every|all|any|some|one|two|three|be\s+\w+ed)\b)[a-z]{2,}\b"
    r"|\b(?!(?:thing|string|nothing|something|anything|everything|during|morning|evening|"
    r"king|bring|spring|ring|sing|ping|heading|wording|meaning|setting|building)\b)[a-z]{2,}ing\b",
    re.I,
)


# A second instruction after a dash or semicolon ("DO NOT run X - just name each file"): its
# per-part wording ("each file") scopes that instruction only, not the first one.
_CLAUSE_BREAK = re.compile(r"\s[-\u2013\u2014]\s|;\s")
_PER_PART = re.compile(r"^(?:each|every)\b", re.I)


def _conditional(text: str) -> bool:
    """True when ``text`` holds only under a condition or for some parts (see CONDITIONAL),
    or ends with a condition clause on its main verb (see TRAILING_CONDITION)."""
    first = _CLAUSE_BREAK.split(text, maxsplit=1)[0]
    if any(
        m.start() < len(first) or not _PER_PART.match(m.group(0))
        for m in CONDITIONAL.finditer(text)
    ):
        return True
    for m in TRAILING_CONDITION.finditer(text):
        before = text[: m.start()].split(None, 1)  # past the leading verb
        if len(before) < 2 or not _NESTED_VERB.search(before[1]):
            return True
    return False


_MARKUP = re.compile(r"^\s*(?:```|~~~|\{%|\{#|<[/!?]?[A-Za-z][\w:-]*[\s>/])")


# Per-item wording the template family scopes ("Each bullet must be 8 words or less").
_TEMPLATE_SCOPE = re.compile(r"^\W*(?:each|every)\b", re.I)


@dataclass
class Extraction:
    view: CurrentView
    criteria: list[Criterion]
    sentences: list[roles_mod.Sentence]  # every unit of the checked version with its role
    origins: dict[str, tuple[int, str | None]]  # unit key -> (origin version, sha)
    template: template_mod.OutputTemplate
    scoped: dict[str, list[Check]] = field(default_factory=dict)
    # Criteria that hold only under a condition ("If the request is ambiguous, ask questions")
    # or point back at another sentence ("Add them inline"): no unconditional check; a judge.
    conditional: set[str] = field(default_factory=set)


def extract(history: PromptHistory, version: str | int | None = None) -> Extraction:
    view = current_view(history, version)
    text = view.version.text
    sentences = roles_mod.classify(text)
    role_of = {_key(s.text): s for s in sentences}
    tpl = template_mod.parse(text, sentences)
    origins = {_key(u.text): (u.origin, u.origin_sha) for u in view.units}
    units = list(view.all_units)
    out: list[Criterion] = []
    scoped: dict[str, list[Check]] = {}
    under_condition: set[str] = set()
    for unit in view.units:
        s = role_of.get(_key(unit.text))
        if s is not None and s.role != "output":
            continue
        if s is None and _MARKUP.match(unit.text):
            continue  # a fence line or a template directive ("{% include ... %}")
        # previous=None: under current semantics a reworded sentence is the instruction as
        # it stands now, not a rephrasing of one that is checked elsewhere.
        delta = Delta(
            prompt=history.name,
            version=unit.origin,
            kind=unit.change,
            text=unit.text,
            context=_context(units, unit.index),
            previous=None,
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
        if s is not None and s.conditional:
            under_condition.add(crit.id)
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
    conditional: set[str] = set(under_condition)
    for crit in out:
        if not crit.category.yields_assertions:
            continue
        if crit.id in conditional:
            continue
        if _conditional(crit.text) and not _TEMPLATE_SCOPE.search(crit.text):
            conditional.add(crit.id)
            continue
        found = template_rules.checks(crit, tpl, text)
        if found is not None:
            scoped[crit.id] = found
        elif _conditional(crit.text):
            conditional.add(crit.id)
    return Extraction(view, out, sentences, origins, tpl, scoped, conditional)


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
    if criterion.id in ex.conditional:
        return []
    if criterion.id in ex.scoped:
        return candidates_from_checks(ex.scoped[criterion.id], criterion, taken=taken)
    core = core_text(criterion.text)
    if core != criterion.text:
        # The rules read the main clause; the docstring keeps the whole sentence.
        found = candidates_for(criterion.model_copy(update={"text": core}), taken=taken)
        return [_restore(c, core, criterion.text) for c in found]
    return candidates_for(criterion, taken=taken)


_ASIDES = (
    re.compile(r"\s*\((?:e\.?g\.?|i\.e\.|for example|for instance|such as)[^)]*\)", re.I),
    re.compile(r",?\s*\b(?:even if|even when|unless|except when|except if)\b.*$", re.I),
    re.compile(r"\s*[-–—,;:]\s*(?:for example|for instance|e\.g\.|such as)\b.*$", re.I),
    re.compile(r"^\W*(?:important|note|remember|reminder)\W*:?\s*(?:remember,?\s*)?", re.I),
)


def core_text(text: str) -> str:
    """The main clause: examples in parentheses, "even if ..." / "unless ..." tails and
    "**IMPORTANT**: Remember," openers removed (they hold words the rules would misread)."""
    out = text
    for pattern in _ASIDES:
        out = pattern.sub("", out).strip()
    return out if len(out.split()) >= 2 else text


def _restore(cand: Candidate, core: str, text: str) -> Candidate:
    return cand.model_copy(update={"code": cand.code.replace(_doc(core), _doc(text), 1)})


def _doc(text: str) -> str:
    return _docstring_text(text)
