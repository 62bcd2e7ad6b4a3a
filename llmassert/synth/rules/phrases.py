"""Required and forbidden words/phrases, and common content concepts.

Literal phrases come from quotes, backticks or lists ("words like Feature, Religion"):

- forbidden when negated ("Never use words like: "Feature", "Religion"") — variants ``exact``
  (case-sensitive whole words), ``ci`` (case-insensitive), ``stem`` ("Features" counts too);
- required after an inclusion verb ("Include a "Call To Action"", 'tag using "@"') — the same
  variants, plus ``any`` when several phrases are listed.

Concepts are recognized by keywords and checked with a narrow and a broad detector (gratitude,
call to action, contact offer, links/references, numbers, code, apologies, AI self-reference,
conclusions, speculation, emojis, hashtags, exclamation marks, greetings, sign-offs, subject
lines, examples, @-handles, repetition). Required: ``has_<concept>_strict`` (narrow detector
fires) / ``_lenient`` (broad). Negated: ``no_<concept>_strict`` (broad detector silent) /
``_lenient`` (narrow silent).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from llmassert.synth.models import Criterion
from llmassert.synth.rules.base import (
    CLAUSE_BREAK,
    Check,
    describes_reference,
    has_placeholder,
    listed_terms,
    literal,
    negated,
    slug,
)
from llmassert.synth.rules.registry import Family

_REQUIRE_TRIGGER = re.compile(
    r"\b(?:include[sd]?|including|use|using|mention|mentions|say|write|contain|containing|add|"
    r"insert|tag|tagging|keywords?|words?|phrases?|terms?|cite|reference)\b",
    re.I,
)
_SECTION_WORDS = re.compile(r"\b(?:headers?|headings?|sections?|titles?)\b", re.I)
_POSITION_VERBS = re.compile(
    r"\b(?:start|begin|open|end|close|finish|conclude|sign off)\w*\s+(?:\w+\s+){0,3}$", re.I
)


_POSITION_AFTER = re.compile(
    r"^[\W_]*\s*(?:(?:at|in) the (?:very )?(?:end|start|beginning|top|bottom)|(?:as|on) the (?:very )?"
    r"(?:first|last|final) line)\b",
    re.I,
)
_NEGATION_BEFORE = re.compile(r"\b(?:never|do not|don'?t|must not|should not|avoid)\b", re.I)
_STARTS_NEGATED = re.compile(
    r"^\W*(?:never|do not|don'?t|avoid|you must not|you should not|must not)\b", re.I
)
# A ban for one purpose or case only: "never use `x` to ask ...", "don't use the `y` action for a
# task that ...": a restrictive clause after the term (after an optional tool noun).
_TOOL_NOUN = r"(?:actions?|tools?|functions?|commands?|options?|flags?|methods?|endpoints?)"
_QUALIFIED = re.compile(
    rf"^[\W_]*\s+(?:{_TOOL_NOUN}\s+)?(?:\w+\s+)?(?:to|for|when|whenever|unless|if|except|"
    r"in order to|just to|only to|that|which|who|where|while|once|after|before|until|in case)\s",
    re.I,
)
# "use the `message` action", "call the 'search' tool": the term names a tool to choose, not text
# the response must contain.
_NAMES_TOOL = re.compile(rf"^[\W_]*\s*(?:\w+\s+)?{_TOOL_NOUN}\b", re.I)
# A format sample is a shape, not content: quoted slots inside a bracketed/braced literal
# (`["query 1", "query 2"]`, `{"name": "..."}`), or after "in the following format:" / "like this:".
_LITERAL_SPAN = re.compile(r"\[[^\[\]\n]*[\"'`][^\[\]\n]*\]|\{[^{}\n]*[\"'`][^{}\n]*\}")
_SAMPLE_INTRO = re.compile(
    r"\b(?:(?:in |with |using )?(?:the |this |a )?(?:following |same )?(?:format|structure|"
    r"template|form|shape|schema)|like this|as follows|for example|e\.g\.)\s*:",
    re.I,
)
# "X 1", "X 2", "X 3": numbered slots of one kind, placeholders for the response's own values.
_NUMBERED = re.compile(r"^(?P<word>.*?\D)\s*\d{1,2}$")
_POSITIVE_CLAUSE = re.compile(r"(?=\binstead\b(?!\s+of\b)|\brather\b(?!\s+than\b))", re.I)
# A preference, not a requirement: "prefer `x` over `y`", "try to use `z`", "ideally say ...".
_SOFT = re.compile(
    r"\b(?:prefer\w*|try(?:ing)? to|if possible|where possible|whenever possible|ideally|"
    r"consider(?: using)?|feel free|you (?:may|can|could)|it is (?:ok|fine|okay) to)\b",
    re.I,
)
# A sentence opening with "Instead"/"Rather" replaces what an earlier sentence banned: it applies
# only where that banned thing would have been done.
_REPLACES_EARLIER = re.compile(r"^\W*(?:instead|rather)\b(?!\s+(?:of|than)\b)", re.I)
# An output verb within a few words before the first term ("Include a "Call To Action"").
_TRIGGER_WINDOW = 8


def mask_samples(text: str) -> str:
    """``text`` with format samples blanked out (same length, so positions hold)."""
    intro = _SAMPLE_INTRO.search(text)
    if intro:
        text = text[: intro.end()] + " " * (len(text) - intro.end())
    return _LITERAL_SPAN.sub(lambda m: " " * len(m.group(0)), text)


def _slot_series(terms: list[str]) -> bool:
    """True when the terms are numbered slots of one word: "query 1", "query 2"."""
    heads = [_NUMBERED.match(t) for t in terms]
    return (
        len(terms) >= 2
        and all(heads)
        and len({h.group("word").strip().casefold() for h in heads if h}) == 1
    )


checks = Family("phrases")


@checks.rule
def _literal_checks(criterion: Criterion) -> list[Check]:
    text = criterion.text
    if describes_reference(text):
        return []  # "`url` - the URL to open": a catalogue entry, not an instruction on the output
    # A sentence "don't X, instead use Y": the ban covers the first clause only, the terms of the
    # positive clause are read on their own.
    out: list[Check] = []
    if _REPLACES_EARLIER.match(text):
        return []  # "Instead, use `z`.": replaces what an earlier sentence banned, where it applies
    for i, part in enumerate(_POSITIVE_CLAUSE.split(text)):
        out += _clause_literal_checks(
            part, starts_negated=i == 0 and bool(_STARTS_NEGATED.match(text))
        )
    return out


def _clause_literal_checks(text: str, *, starts_negated: bool) -> list[Check]:
    # Placeholders in a phrase are the example's values: the placeholders family echoes those.
    # A quoted "@@ ... @@" or "... rest of code ..." is a pattern or an example, not a phrase.
    masked = mask_samples(text)
    terms = [
        t for t in listed_terms(masked) if not has_placeholder(t) and not re.search(r"\.\.\.|…", t)
    ]
    if not terms or _slot_series(terms):
        return []
    first = min((masked.find(t) for t in terms if t in masked), default=0)
    before = text[:first]
    last = max((masked.find(t) + len(t) for t in terms if t in masked), default=len(text))
    is_ban = negated(text, first) or starts_negated
    if is_ban and _QUALIFIED.match(text[last:]):
        return []  # "Never use `x` to ask ...": a ban for one purpose only, not on the word
    if re.match(r"^[\W_]*\s+(?:does|do|did|would|will)\b", text[last:]):
        return []  # "line numbers like `diff -U0` does": a comparison, not the phrase
    if (
        _POSITION_VERBS.search(before)
        or _SECTION_WORDS.search(before)
        or _POSITION_AFTER.match(text[last:])
    ):
        return []  # positions ("start with 'Dear'") and section titles have their own families
    name = slug(" ".join(terms))
    words = tuple(terms)
    stems = tuple(t for t in terms if re.search(r"[A-Za-z]{3}", t))
    out: list[Check] = []
    if is_ban:
        out.append(
            Check(
                f"forbid_{name}_exact",
                f"Never uses {_show(terms)} (case-sensitive, whole words).",
                f"return not any(contains_phrase(response, w, case=True) for w in {literal(words)})",
                ("contains_phrase",),
            )
        )
        out.append(
            Check(
                f"forbid_{name}_ci",
                f"Never uses {_show(terms)} (any case, whole words).",
                f"return not contains_any(response, {literal(words)})",
                ("contains_any",),
            )
        )
        if stems:
            out.append(
                Check(
                    f"forbid_{name}_stem",
                    f"Never uses {_show(stems)} or their inflections.",
                    f"return not any(contains_stem(response, w) for w in {literal(stems)})",
                    ("contains_stem",),
                )
            )
        return out
    near = CLAUSE_BREAK.split(before)[-1].split()[-_TRIGGER_WINDOW:]
    if not _REQUIRE_TRIGGER.search(" ".join(near)):
        return []  # no output verb next to the terms ("Write 3 queries ... format: ["a"]")
    if _NAMES_TOOL.match(text[last:]):
        return []  # "think with the `message` action": a tool to choose, not text to contain
    if _SOFT.search(text):
        return []  # "prefer `x` over `y`", "try to use `z`": a preference, not a requirement
    between = masked[first:last]
    if len(terms) > 1 and re.search(r"\bor\b|/", between) and not re.search(r"\band\b", between):
        # "use `a` or `b`": a choice, one of them is enough
        return [
            Check(
                f"require_{name}_any",
                f"Uses at least one of {_show(terms)}.",
                f"return contains_any(response, {literal(words)})",
                ("contains_any",),
            )
        ]
    out.append(
        Check(
            f"require_{name}_exact",
            f"Uses {_show(terms)} verbatim (case-sensitive).",
            f"return all(contains_phrase(response, w, case=True) for w in {literal(words)})",
            ("contains_phrase",),
        )
    )
    out.append(
        Check(
            f"require_{name}_ci",
            f"Uses {_show(terms)} (any case).",
            f"return contains_all(response, {literal(words)})",
            ("contains_all",),
        )
    )
    if stems:
        out.append(
            Check(
                f"require_{name}_stem",
                f"Uses {_show(stems)}, inflections allowed.",
                f"return all(contains_stem(response, w) for w in {literal(stems)})",
                ("contains_stem",),
            )
        )
    if len(terms) > 1:
        out.append(
            Check(
                f"require_{name}_any",
                f"Uses at least one of {_show(terms)}.",
                f"return contains_any(response, {literal(words)})",
                ("contains_any",),
            )
        )
    return out


def _show(terms: list[str] | tuple[str, ...]) -> str:
    return ", ".join(f"'{t}'" for t in terms)


# --- concepts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Concept:
    name: str
    trigger: re.Pattern[str]
    narrow: str  # expression: the concept is clearly present
    broad: str  # expression: the concept may be present
    helpers: tuple[str, ...]
    modules: tuple[str, ...] = ()
    exclusion_only: bool = (
        False  # a positive mention is not a requirement ("As an AI analyst, ...")
    )


def _c(
    name: str,
    trigger: str,
    narrow: str,
    broad: str,
    helpers: tuple[str, ...],
    modules: tuple[str, ...] = (),
    *,
    exclusion_only: bool = False,
) -> Concept:
    return Concept(name, re.compile(trigger, re.I), narrow, broad, helpers, modules, exclusion_only)


_TAIL = "' '.join(paragraphs(response)[-3:])"
_GREETINGS = (
    "Dear",
    "Hi",
    "Hello",
    "Hey",
    "Greetings",
    "Good morning",
    "Good afternoon",
    "Good evening",
)
_SIGN_OFFS = (
    "regards",
    "sincerely",
    "best",
    "cheers",
    "thanks",
    "thank you",
    "warmly",
    "yours",
    "respectfully",
)
_CONCLUSION = (
    "in conclusion",
    "to conclude",
    "in summary",
    "to summarize",
    "to sum up",
    "all in all",
)
_HEDGES = (
    "speculate",
    "speculation",
    "presumably",
    "probably",
    "possibly",
    "perhaps",
    "it is likely",
    "might",
    "could potentially",
)

CONCEPTS: tuple[Concept, ...] = (
    _c(
        "gratitude",
        r"\b(?:gratitude|grateful|thank\w*|appreciat\w*)\b",
        "contains_any(response, ('thank you', 'thanks'))",
        "contains_any(response, GRATITUDE_PHRASES) or contains_stem(response, 'appreciate')",
        ("contains_any", "contains_stem", "GRATITUDE_PHRASES"),
    ),
    _c(
        "call_to_action",
        r"\bcall[- ]to[- ]action\b|\bCTA\b",
        f"contains_any({_TAIL}, CALL_TO_ACTION_PHRASES)",
        "contains_any(response, CALL_TO_ACTION_PHRASES)",
        ("contains_any", "paragraphs", "CALL_TO_ACTION_PHRASES"),
    ),
    _c(
        "contact_offer",
        r"\bcontact\b|\breach out\b|\bget in touch\b",
        "contains_any(response, ('contact us', 'reach out', 'get in touch'))",
        "contains_any(response, ('contact', 'reach out', 'get in touch', 'questions', 'reply', 'help'))",
        ("contains_any",),
    ),
    _c(
        "links",
        # Not "function references", "file references": names in code are no citations.
        # Nor "for (future) reference": kept for later, not a citation.
        r"\b(?:links?|urls?|hyperlinks?|sources?|(?<!function )(?<!functions )(?<!code )"
        r"(?<!class )(?<!method )(?<!variable )(?<!file )(?<!symbol )(?<!for )(?<!future )"
        r"references?|citations?|cite)\b",
        "bool(urls(response))",
        "bool(urls(response)) or contains_any(response, ('source', 'sources', 'reference', 'references', 'according to'))",
        ("urls", "contains_any"),
    ),
    _c(
        "numbers",
        r"\b(?:quantitative|(?<!phone )(?<!account )(?<!card )(?<!line )(?<!page )(?<!version )(?<!port )numbers|figures|metrics|numerical|data points?|percentages?)\b",
        "len(numbers(response)) >= 5",
        "len(numbers(response)) >= 1",
        ("numbers",),
    ),
    _c(
        "prices",
        r"\b(?:prices?|pricing|costs?|discounts?|promo(?:tion(?:al)?)? codes?|coupons?|deals?)\b",
        r"re.search(r'[$€£¥]\s?\d|\d\s?(?:USD|EUR|GBP|dollars|euros)\b', response) is not None",
        r"re.search(r'[$€£¥]\s?\d|\d\s?(?:USD|EUR|GBP|dollars|euros)\b|\d+\s?% off', response) is not None"
        " or contains_any(response, ('price', 'prices', 'pricing', 'discount', 'promo code', 'coupon'))",
        ("contains_any",),
        ("re",),
    ),
    _c(
        "email_addresses",
        r"\be-?mail addresses\b|\be-?mails?\b(?= or| and|,)",
        r"re.search(r'\b[\w.+-]+@[\w-]+\.[\w.-]+\b', response) is not None",
        r"re.search(r'\S@\S', response) is not None",
        (),
        ("re",),
    ),
    _c(
        "phone_numbers",
        r"\bphone(?: numbers?)?\b|\btelephone\b",
        r"re.search(r'\+?\d[\d ().-]{8,}\d', response) is not None",
        r"re.search(r'\d[\d ().-]{6,}\d', response) is not None",
        (),
        ("re",),
    ),
    _c(
        "code",
        r"\bcode (?:snippets?|blocks?|examples?|samples?)\b|\b(?:in|with|sample|example) code\b|\bsnippets?\b",
        "bool(code_blocks(response))",
        # Inline code counts when it holds code syntax: naming `index.html` is not a snippet.
        "bool(code_blocks(response)) or re.search(r'`[^`\\n]*[(){};=<>][^`\\n]*`', response) "
        "is not None",
        ("code_blocks",),
        ("re",),
    ),
    _c(
        "apology",
        r"\bapologi[sz]\w*|\bapolog(?:y|ies)\b|\bsorry\b",
        "apologizes(response)",
        "apologizes(response) or contains_any(response, ('sorry', 'unfortunately'))",
        ("apologizes", "contains_any"),
    ),
    _c(
        "ai_self_reference",
        r"\bas an ai\b|\blanguage model\b|\b(?:you are|you're|being) an? (?:ai|bot|chatbot|language model)\b|\brefer(?:ring)? to yourself\b",
        "contains_any(response, ('as an AI', 'as a language model', 'AI language model'))",
        "ai_self_reference(response)",
        ("contains_any", "ai_self_reference"),
        exclusion_only=True,
    ),
    _c(
        "conclusion",
        r"\bconclu\w+|\boverall assessment\b|\bwrap[- ]?up\b|\bclosing summary\b",
        f"contains_any(' '.join(paragraphs(response)[-1:]), {literal(_CONCLUSION)})",
        f"contains_any(response, {literal((*_CONCLUSION, 'overall', 'conclusion'))})",
        ("contains_any", "paragraphs"),
    ),
    _c(
        "speculation",
        r"\bspeculat\w*|\bconjectur\w*|\bguess\w*",
        "contains_any(response, ('speculate', 'speculation', 'presumably', 'I guess'))",
        f"contains_any(response, {literal(_HEDGES)})",
        ("contains_any",),
        exclusion_only=True,
    ),
    _c(
        "emojis",
        r"\bemojis?\b|\bemoticons?\b",
        "len(emojis(response)) >= 2",
        "bool(emojis(response))",
        ("emojis",),
    ),
    _c(
        "hashtags",
        r"\bhashtags?\b",
        r"len(re.findall(r'(?<![\w#])#[A-Za-z]\w*', response)) >= 2",
        r"re.search(r'(?<![\w#])#[A-Za-z]\w*', response) is not None",
        (),
        ("re",),
    ),
    _c("exclamations", r"\bexclamation\w*", "response.count('!') >= 2", "'!' in response", ()),
    _c(
        "greeting",
        r"\bgreet\w*|\bsalutation\b(?! format)|\baddress (?:the|them|him|her) by name\b",
        f"any(starts_with_phrase(response, g) for g in {literal(_GREETINGS)})",
        f"contains_any(' '.join(lines(response)[:3]), {literal(_GREETINGS)})",
        ("starts_with_phrase", "contains_any", "lines"),
    ),
    _c(
        "sign_off",
        r"\bsign[- ]?off\b|\bsignature\b|\bsign (?:it|your name)\b|\bvaledictions?\b|\bsalutation format\b|\bregards\b",
        f"contains_any(' '.join(lines(response)[-4:]), {literal(_SIGN_OFFS)})",
        f"contains_any(response, {literal(_SIGN_OFFS)}) or bool(bracket_placeholders(response))",
        ("contains_any", "lines", "bracket_placeholders"),
    ),
    _c(
        "subject_line",
        r"\bsubject line\b|\bsubject:|\bemail subject\b",
        "starts_with_phrase(response, 'Subject')",
        "has_section(response, 'Subject') or has_section(response, 'Subject Line')",
        ("starts_with_phrase", "has_section"),
    ),
    _c(
        "examples",
        r"\b(?:give|provide|include|add|use|with)\w* (?:an? |some |concrete |specific |real )?examples?\b",
        "contains_any(response, ('for example', 'for instance'))",
        "contains_any(response, ('for example', 'e.g.', 'for instance', 'such as', 'example'))",
        ("contains_any",),
    ),
    _c(
        "handle",
        r"(?:\"@\"|'@'|\B@\B|\btag(?:ging)? (?:the )?(?:author|user|person|them)\b)",
        r"re.search(r'(?<![\w.])@[A-Za-z0-9_-]+', response) is not None",
        "'@' in response",
        (),
        ("re",),
    ),
    _c(
        "repetition",
        r"\brepeat\w*|\brepetit\w*|\bredundan\w*",
        "len({normalize(s) for s in sentences(response)}) < len(sentences(response)) - 1",
        "len({normalize(s) for s in sentences(response)}) < len(sentences(response))",
        ("normalize", "sentences"),
        exclusion_only=True,
    ),
)


# "multiple / more than one X": a limit on a count, not a ban on X.
_SEVERAL = re.compile(
    r"\b(?:multiple|more than (?:one|a single)|several|many|two or more|too many|excessive)\s+"
    r"(?:[\w-]+\s+)?$",
    re.I,
)
# A trailing condition after a banned concept ("unless" sentences are conditional upstream).
_RESTRICTED = re.compile(r"\b(?:if|when|whenever|where)\b", re.I)


@checks.rule
def _concept_checks(criterion: Criterion) -> list[Check]:
    text = criterion.text
    out: list[Check] = []
    if describes_reference(text):
        return []  # "`url` - the URL to open": what an argument is, not what the response has
    for concept in CONCEPTS:
        m = concept.trigger.search(text)
        if not m:
            continue
        is_negated = negated(text, m.start())
        if not is_negated and _NEGATION_BEFORE.search(text[: m.start()]):
            continue  # "NEVER output X ... e.g. ask Y": the concept sits inside a prohibition
        if is_negated and _SEVERAL.search(text[: m.start()]):
            continue  # "don't include multiple code blocks": a limit on how many, not a ban
        if is_negated and _RESTRICTED.search(text[m.end() :]):
            continue  # "don't use a code block if it is not ...": a ban under a condition only
        if concept.exclusion_only and not is_negated:
            continue
        label = concept.name.replace("_", " ")
        if is_negated:
            out.append(
                Check(
                    f"no_{concept.name}_strict",
                    f"No {label} at all (broad detector).",
                    f"return not ({concept.broad})",
                    concept.helpers,
                    concept.modules,
                )
            )
            out.append(
                Check(
                    f"no_{concept.name}_lenient",
                    f"No clear {label} (narrow detector).",
                    f"return not ({concept.narrow})",
                    concept.helpers,
                    concept.modules,
                )
            )
        else:
            out.append(
                Check(
                    f"has_{concept.name}_strict",
                    f"Clearly has {label} (narrow detector).",
                    f"return {concept.narrow}",
                    concept.helpers,
                    concept.modules,
                )
            )
            out.append(
                Check(
                    f"has_{concept.name}_lenient",
                    f"Has some {label} (broad detector).",
                    f"return {concept.broad}",
                    concept.helpers,
                    concept.modules,
                )
            )
    return out
