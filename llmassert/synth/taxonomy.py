"""Offline categorization of prompt deltas into SPADE's taxonomy, and Delta -> Criterion.

Ordered keyword/pattern rules; the first that matches wins:

0. PresentationFormat — the sentence is one template slot of the output (``[Your Name]``).
1. DataPlaceholders — the sentence is only placeholders (``{docs}``, ``[topic]: {topic}``), or a
   changed sentence differs from its previous form only around placeholders.
2. PromptRephrasing — a changed sentence that is near-identical to the one it replaced (or
   loosely similar but adding one word) and adds no number, quoted text or constraint word.
3. ExampleDemonstration — starts like an example ("Example:", "For example", "Here is a sample").
4. Count — a number or number word with a unit (words, sentences, bullets, ...), or a limit
   phrase ("no more than [word_count]").
5. Exclusion — never / do not / don't / avoid / refrain / without / eliminate / "Only ...".
6. PresentationFormat — JSON, markdown, bullets, headers, sections, tables, code blocks, case.
7. Inclusion — include / mention / always / ensure / incorporate / contain / cite / use "...".
8. ExampleDemonstration — "e.g." / "for example" / "such as" inside the sentence.
9. WorkflowDescription — steps: first / then / next / after / step / workflow / search / fetch.
10. QualitativeAssessment — tone and quality words: concise, clear, friendly, professional, ...
11. Otherwise: a sentence naming a placeholder is Inclusion (use this input); a persona ("You
    are ...", "Act as ...") is QualitativeAssessment; anything else WorkflowDescription.

With a configured model the LLM re-categorizes (``llmassert.synth.llm_candidates``); these rules
are the offline default and the fallback.
"""

from __future__ import annotations

import difflib
import hashlib
import re

from llmassert.history.diff import CHANGED_SIMILARITY, Delta
from llmassert.history.models import placeholders
from llmassert.synth.models import Category, Criterion

_PLACEHOLDER_TOKEN = re.compile(r"\{\{\s*[\w.]+\s*\}\}|\{\w+\}|\[[A-Za-z_][\w ]{0,30}\]")
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
    "forty|fifty|hundred|single|a couple of|a few"
)
_UNITS = (
    r"words?|sentences?|characters?|chars?|letters?|lines?|paragraphs?|bullets?|bullet points?|"
    r"points?|items?|sections?|headers?|headings?|questions?|examples?|tokens?|emojis?|hashtags?|"
    r"steps?|tips?|reasons?|options?|ideas?|iterations?|times|pages?|lists?"
)
_COUNT = re.compile(
    rf"(?:\b\d+(?:[.,]\d+)?|\b(?:{_NUMBER_WORDS})\b|\[\w+\]|\{{\{{?\s*\w+\s*\}}?\}})\s*(?:-|to|–)?\s*"
    rf"(?:\d+\s*)?(?:[a-z-]+\s+)?(?:{_UNITS})\b"
    r"|\b(?:no more than|not more than|at most|at least|up to|maximum of|minimum of|max\.?|min\.?|"
    r"fewer than|less than|more than|under|exactly|limit(?:ed)? to|between)\s+"
    rf"(?:\d+|\[\w+\]|\{{\{{?\s*\w+\s*\}}?\}}|(?:{_NUMBER_WORDS})\b)",
    re.I,
)
_EXCLUSION = re.compile(
    r"^(?:please\s+)?(?:do not|don'?t|never|avoid|refrain|no\b|without|exclude|omit|only\b)"
    r"|\b(?:never|avoid|avoiding|refrain|eliminate|exclude|excluding|omit|must not|mustn'?t|"
    r"should not|shouldn'?t|cannot|can'?t|may not|must never|should never|no longer|"
    r"do not(?! have| know| need| want| understand)|don'?t(?! have| know| need| want| understand))\b",
    re.I,
)
_FORMAT = re.compile(
    r"\b(?:json|yaml|xml|csv|html|markdown|bullets?|bullet points?|bulleted|numbered list|"
    r"list format|headers?|headings?|sections?|table|tabular|code blocks?|fenced|format(?:ted|ting)?|"
    r"layout|subject line|plain text|uppercase|lowercase|capital letters|"
    r"all caps|title case|indent(?:ed|ation)?|paragraphs?|salutation|sign[- ]off|signature|"
    r"one line|single line|key[- ]value)\b",
    re.I,
)
_INCLUSION = re.compile(
    r"\b(?:include|includes|including|mention|mentions|always|ensure|make sure|be sure|"
    r"incorporate|contain|contains|cite|reference|references|must (?:have|use|state|list|mention)|"
    r"add|state|list|highlight|show|provide|give|use the (?:word|phrase|term)s?)\b",
    re.I,
)
_EXAMPLE_STRONG = re.compile(
    r"^(?:examples?\s*\d*\s*:|for (?:example|instance)\b|here (?:is|are) (?:an? )?(?:example|sample)s?|"
    r"sample (?:output|response|answer)s?\s*:|example (?:output|response|answer|input)s?\s*:|e\.g\.)",
    re.I,
)
_EXAMPLE_WEAK = re.compile(r"\b(?:e\.g\.|for example|for instance|such as|like this)\b", re.I)
_WORKFLOW = re.compile(
    r"\b(?:first(?:ly)?|then|next|after(?:wards)?|before|finally|lastly|step|steps|workflow|"
    r"follow(?:ing)? (?:these|the|below)|search|fetch|scrape|research|look ?up|iterate|"
    r"iterations?|function|tool|call|process|procedure)\b|^\d+[/.)]",
    re.I,
)
_QUALITY = re.compile(
    r"\b(?:concise(?:ly)?|short|brief(?:ly)?|succinct|verbos\w*|clear(?:ly)?|simple|friendly|"
    r"professional|polite|formal|informal|casual|tone|engaging|compelling|personal|detailed|"
    r"comprehensive|rich|creative|accurate|relevant|specific(?:ally)?|tailored|persuasive|"
    r"empathetic|helpful|easy to read|easily read|thorough|in-depth|high[- ]quality|quality|"
    r"style|voice|warm|enthusiastic|neutral|objective|respectful|humble|confident|generic|"
    r"readable|plain language|jargon)\b",
    re.I,
)
_PERSONA = re.compile(r"^(?:you are|you're|act as|as an?|imagine you|pretend|your role)\b", re.I)
# Words whose arrival turns a rewording into a new requirement.
_CONSTRAINT_WORDS = frozenset(
    [
        "must",
        "only",
        "always",
        "never",
        "not",
        "no",
        "don't",
        "dont",
        "avoid",
        "include",
        "includes",
        "exclude",
        "exactly",
        "json",
        "markdown",
        "bullet",
        "bullets",
        "words",
        "sentences",
        "characters",
        "lines",
        "limit",
        "maximum",
        "minimum",
        "most",
        "least",
        "required",
        "require",
        "mandatory",
        "all",
        "every",
        "each",
    ]
)
_QUOTED = re.compile(r"[\"“”'‘’]([^\"“”'‘’]{1,80})[\"“”'‘’]")
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "at",
        "by",
        "from",
        "as",
        "is",
        "are",
        "be",
        "it",
        "this",
        "that",
        "these",
        "those",
        "you",
        "your",
        "we",
        "our",
        "us",
        "i",
        "me",
        "my",
    ]
)

REPHRASE_SIMILARITY = 0.8


def _content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9']+", text.casefold()) if w not in _STOP]


def _without_placeholders(text: str) -> str:
    return _PLACEHOLDER_TOKEN.sub(" ", text)


def _placeholder_only(text: str) -> bool:
    if not _PLACEHOLDER_TOKEN.search(text):
        return False
    return len(_content_words(_without_placeholders(text))) <= 1


def _added_words(delta: Delta) -> set[str]:
    before = set(_content_words(delta.previous or ""))
    return {w for w in _content_words(delta.text) if w not in before}


def _placeholder_change(delta: Delta) -> bool:
    if delta.previous is None or placeholders(delta.text) == placeholders(delta.previous):
        return False
    # Everything that changed sits around the placeholders: at most a few linking words.
    added = _added_words(delta) - set(_content_words(" ".join(placeholders(delta.text))))
    return (
        len(added) <= 3 and not _QUOTED.search(delta.text) and not re.search(r"\d", " ".join(added))
    )


def _rephrasing(delta: Delta) -> bool:
    if delta.previous is None:
        return False
    old, new = delta.previous.casefold(), delta.text.casefold()
    ratio = difflib.SequenceMatcher(None, old, new, autojunk=False).ratio()
    added = _added_words(delta)
    # Near-identical, or a looser match that adds at most one word ("... that you receive").
    if ratio < REPHRASE_SIMILARITY and not (ratio >= CHANGED_SIMILARITY and len(added) <= 1):
        return False
    new_quotes = set(_QUOTED.findall(delta.text)) - set(_QUOTED.findall(delta.previous))
    new_numbers = set(re.findall(r"\d+", delta.text)) - set(re.findall(r"\d+", delta.previous))
    if new_quotes or new_numbers or len(added) > 3:
        return False
    return not added & _CONSTRAINT_WORDS


_BRACKETED = re.compile(r"\A\[[^\]]+\]\Z")  # the whole sentence in brackets
# After the special cases, the first rule whose pattern matches names the category (in order).
_RULES: tuple[tuple[tuple[re.Pattern[str], ...], Category], ...] = (
    ((_EXAMPLE_STRONG,), Category.EXAMPLE_DEMONSTRATION),
    ((_COUNT,), Category.COUNT),
    ((_EXCLUSION,), Category.EXCLUSION),
    ((_FORMAT, _BRACKETED), Category.PRESENTATION_FORMAT),
    ((_INCLUSION, _QUOTED), Category.INCLUSION),
    ((_EXAMPLE_WEAK,), Category.EXAMPLE_DEMONSTRATION),
    ((_WORKFLOW,), Category.WORKFLOW_DESCRIPTION),
    ((_QUALITY,), Category.QUALITATIVE_ASSESSMENT),
    ((_PLACEHOLDER_TOKEN,), Category.INCLUSION),
    ((_PERSONA,), Category.QUALITATIVE_ASSESSMENT),
)


def categorize(delta: Delta) -> Category:
    """SPADE category of a delta, by the ordered rules in the module docstring."""
    text = delta.text.strip()
    if re.fullmatch(r"\[[^\]]{1,60}\]", text):
        return Category.PRESENTATION_FORMAT  # a template slot of the output: "[Your Name]"
    if _placeholder_only(text) or _placeholder_change(delta):
        return Category.DATA_PLACEHOLDERS
    if _rephrasing(delta):
        return Category.PROMPT_REPHRASING
    for patterns, category in _RULES:
        if any(p.search(text) for p in patterns):
            return category
    return Category.WORKFLOW_DESCRIPTION


def criterion_id(prompt: str, version: int, text: str) -> str:
    """Stable id of a criterion: a hash of prompt name, version and sentence."""
    digest = hashlib.sha256(f"{prompt}\0{version}\0{text}".encode()).hexdigest()
    return f"c{digest[:12]}"


def to_criterion(
    delta: Delta, category: Category, variables: tuple[str, ...] | None = None
) -> Criterion:
    """The criterion for a delta. ``variables`` defaults to the placeholders of its version."""
    return Criterion(
        id=criterion_id(delta.prompt, delta.version, delta.text),
        prompt=delta.prompt,
        version=delta.version,
        text=delta.text,
        context=delta.context,
        category=category,
        variables=tuple(variables) if variables is not None else delta.variables,
    )


def criteria(deltas: list[Delta], variables: tuple[str, ...] | None = None) -> list[Criterion]:
    """Categorize every delta offline and turn it into a criterion."""
    return [to_criterion(d, categorize(d), variables) for d in deltas]
