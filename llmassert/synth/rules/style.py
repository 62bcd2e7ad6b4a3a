"""Style: language, letter case, how a response starts and ends, questions, plain language.

Recognized:

- language: "respond in English", "Spanish only" (stopword and ASCII heuristics);
- case: "all lowercase", "in uppercase / all caps", "title case", and their negations;
- start: "Start with 'Dear'", "Begin your reply with a greeting";
- end: "End with 'Best regards'", "sign off with ...", "close with a question";
- questions: "ask me for a summary", "ask clarifying questions", "do not ask questions";
- plain language: "simple and clear language", "easy to read", "avoid jargon" (sentence length).
"""

from __future__ import annotations

import re

from llmassert.synth.rules.base import PLACEHOLDER, Check, literal, phrase_expr, quoted, slug
from llmassert.synth.rules.registry import Family, Hit, MatchBuilder

LANGUAGES = ("english", "spanish", "french", "german", "italian", "portuguese")
_TARGET = r"(?:(?:your|the|each|every|my) )?(?:response|answer|reply|email|message|letter|output|text|summary|review|report|post)?\s*"
_ASKED_FOR = re.compile(
    r"\bfor (?:a |an |the |my |your |their )?(?:\w+ )?"
    r"(?!(?:before|after|when|while|until|unless|about|from|with|into|then|that|which)\b)"
    r"(?P<noun>[a-z]{4,})\b",
    re.I,
)
REQUEST_PHRASES = (
    "please provide", "please share", "please tell", "please describe", "please explain",
    "please summarize", "could you", "can you", "would you", "let me know", "tell me",
)  # fmt: skip
_GREETING_WORDS = ("Dear", "Hi", "Hello", "Hey", "Greetings", "Good morning", "Good afternoon")

checks = Family("style")


@checks.on(
    rf"\b(?:in|into|use|using|respond in|answer in|reply in|write in|written in)\s+(?P<a>{'|'.join(LANGUAGES)})\b"
    rf"|\b(?P<b>{'|'.join(LANGUAGES)})\s+only\b",
    skip_negated=True,
)
def _language_checks(hit: Hit) -> list[Check]:
    if re.search(
        r"\b(?:that|their|the user'?s|same|whatever|whichever) language\b", hit.text, re.I
    ):
        return []  # "... are in English, but respond in that language": the user's language
    lang = (hit.match.group("a") or hit.match.group("b")).casefold()
    if lang == "english":
        return [
            Check(
                "english_strict",
                "In English: common English words and plain ASCII letters.",
                "scores = language_scores(response)\n"
                "return scores.get('english', 0) >= 0.2 and english_ratio(response) >= 0.97",
                ("language_scores", "english_ratio"),
            ),
            Check(
                "english_lenient",
                "Mostly Latin ASCII letters (no other script).",
                "return english_ratio(response) >= 0.9",
                ("english_ratio",),
            ),
        ]
    return [
        Check(
            f"{lang}_strict",
            f"In {lang.title()}: its common words dominate.",
            f"scores = language_scores(response)\n"
            f"return scores.get({lang!r}, 0) >= 0.12 and scores.get({lang!r}, 0) > scores.get('english', 0)",
            ("language_scores",),
        ),
        Check(
            f"{lang}_lenient",
            f"More {lang.title()} than English common words.",
            f"scores = language_scores(response)\nreturn scores.get({lang!r}, 0) > scores.get('english', 0)",
            ("language_scores",),
        ),
    ]


for _pattern, _case, _helper in (
    (r"\b(?:all )?lower[- ]?case\b|\bno capital letters\b", "lowercase", "is_lowercase"),
    (
        r"\b(?:all )?upper[- ]?case\b|\ball caps\b|\bcapital letters\b|\bcapitali[sz]ed\b",
        "uppercase",
        "is_uppercase",
    ),
):
    checks.when(
        _pattern,
        stated=[
            Check(
                f"{_case}_strict",
                f"Entirely {_case} (prose letters).",
                f"return {_helper}(response)",
                (_helper,),
            )
        ],
        if_negated=[
            Check(
                f"not_{_case}",
                f"Not entirely {_case}.",
                f"return not {_helper}(response)",
                (_helper,),
            )
        ],
    )
checks.when(
    (r"\btitle[- ]case\b"),
    stated=[
        Check(
            "title_case_first_line",
            "The first line is in title case.",
            "return is_title_case(first_line(response))",
            ("is_title_case", "first_line"),
        ),
        Check(
            "title_case_headers",
            "Every header is in title case.",
            "found = headers(response)\nreturn bool(found) and all(is_title_case(h) for h in found)",
            ("headers", "is_title_case"),
        ),
    ],
)


# Nouns ending in -ing that name text, not an action ("start with a greeting").
_ING_NOUNS = frozenset(
    [
        "greeting",
        "greetings",
        "heading",
        "headings",
        "string",
        "strings",
        "warning",
        "warnings",
        "something",
        "nothing",
        "anything",
        "everything",
        "thing",
        "things",
        "morning",
        "evening",
        "closing",
        "opening",
        "ending",
        "meeting",
    ]
)


_SAYING = r"(?:saying|writing|typing|stating|printing|outputting|replying|answering|responding)\b"


def _names_action(what: str, by: bool) -> bool:
    """True when the object of "start/end by/with ..." is an action, not text to place.

    "Start by writing a plan", "begin with reviewing the diff": a verb (after "by", or an -ing
    form) says what to do first, not which words come first.
    """
    words = what.strip().split()
    if not words:
        return True
    first = words[0].strip("\"'“”‘’*_").casefold()
    return by or (first.endswith("ing") and len(first) > 4 and first not in _ING_NOUNS)


def _phrase_target(what: str, by: bool = False) -> tuple[list[str], str]:
    """Literal phrases to place, or a concept name, from the object of "start/end with ..."."""
    action = _names_action(what, by)
    says = re.match(_SAYING, what.strip(), re.I) is not None
    phrases = quoted(what)
    if phrases and (says or not action):  # "start by saying 'Hi'": the quote is the text
        return phrases, ""
    slots = PLACEHOLDER.findall(what)
    if slots and (says or not action):  # "End the email with the sender's name, {sender_name}."
        return [" ".join(slots)], ""
    w = what.strip().casefold()
    for concept, pattern in (
        ("question", r"\bquestions?\b"),
        ("greeting", r"\bgreeting|\bsalutation"),
        ("gratitude", r"\bthank|\bgratitude|\bappreciation"),
        ("call_to_action", r"\bcall[- ]to[- ]action|\bcta\b"),
        ("summary", r"\bsummary|\bsummari[sz]"),
        ("sign_off", r"\bsign[- ]?off|\bsignature|\bregards\b"),
    ):
        if re.search(pattern, w):
            return [], concept
    words = what.strip().split()
    if action:
        return [], ""  # an action: only a concept it names is checked
    if (
        1 <= len(words) <= 4
        and _noun_like(words[0])
        and words[0].casefold()
        not in (
            "a",
            "an",
            "the",
            "your",
            "some",
            "one",
            "this",
        )
    ):
        return [what.strip().strip("\"'")], ""
    return [], ""


def _noun_like(word: str) -> bool:
    """An unquoted first word that can be the literal text: a capitalised word ("Hello") or a
    symbol ("#", "---"); a lowercase word is as likely a verb or an adjective ("explain",
    "brief") and gets no literal check."""
    return word[:1].isupper() or not word[:1].isalpha()


def _placed(phrase: str, where: str) -> list[Check]:
    """A phrase at the start or end: exact case, any case, or within the first/last lines."""
    key = slug(phrase)
    expr, extra = phrase_expr(phrase)
    if where == "start":
        test, near, region = "starts_with_phrase", f"first_line_has_{key}", "first_line(response)"
        near_helpers: tuple[str, ...] = ("contains_phrase", "first_line")
        verb, place = "Starts", "The first line contains"
    else:
        test, near, region = (
            "ends_with_phrase",
            f"last_lines_have_{key}",
            "' '.join(lines(response)[-3:])",
        )
        near_helpers = ("contains_phrase", "lines")
        verb, place = "Ends", "The last three lines contain"
    prefix = "starts_with" if where == "start" else "ends_with"
    return [
        Check(
            f"{prefix}_{key}_exact",
            f"{verb} with '{phrase}' (case-sensitive).",
            f"return {test}(response, {expr}, case=True)",
            (test, *extra),
        ),
        Check(
            f"{prefix}_{key}_ci",
            f"{verb} with '{phrase}' (any case).",
            f"return {test}(response, {expr})",
            (test, *extra),
        ),
        Check(
            near,
            f"{place} '{phrase}'.",
            f"return contains_phrase({region}, {expr})",
            (*near_helpers, *extra),
        ),
    ]


_START_CONCEPTS: dict[str, list[Check]] = {
    "greeting": [
        Check(
            "starts_with_greeting_strict",
            "Starts with a greeting (Dear/Hi/Hello/...).",
            f"return any(starts_with_phrase(response, g) for g in {literal(_GREETING_WORDS)})",
            ("starts_with_phrase",),
        ),
        Check(
            "starts_with_greeting_lenient",
            "A greeting in the first three lines.",
            f"return contains_any(' '.join(lines(response)[:3]), {literal(_GREETING_WORDS)})",
            ("contains_any", "lines"),
        ),
    ],
    "question": [
        Check(
            "starts_with_question",
            "The first sentence is a question.",
            "first = sentences(response)[:1]\nreturn bool(first) and first[0].rstrip(' *_\"').endswith('?')",
            ("sentences",),
        )
    ],
}
_END_CONCEPTS: dict[str, list[Check]] = {
    "question": [
        Check(
            "ends_with_question_strict",
            "The last sentence is a question.",
            "last = sentences(response)[-1:]\nreturn bool(last) and last[0].rstrip(' *_\"').endswith('?')",
            ("sentences",),
        ),
        Check(
            "ends_with_question_lenient",
            "A question in the last paragraph.",
            "return '?' in ' '.join(paragraphs(response)[-1:])",
            ("paragraphs",),
        ),
    ],
    "gratitude": [
        Check(
            "ends_with_thanks",
            "Thanks in the last paragraph.",
            "return contains_any(' '.join(paragraphs(response)[-1:]), GRATITUDE_PHRASES)",
            ("contains_any", "paragraphs", "GRATITUDE_PHRASES"),
        )
    ],
    "summary": [
        Check(
            "ends_with_summary",
            "A summary opener in the last paragraph.",
            "return contains_any(' '.join(paragraphs(response)[-1:]), ('in summary', 'to summarize', 'overall', 'in conclusion', 'to sum up'))",
            ("contains_any", "paragraphs"),
        )
    ],
}
# Calls to action and sign-offs have no placed check here: the concept checks in phrases.py.


def _positioned(where: str, concepts: dict[str, list[Check]]) -> MatchBuilder:
    """The rule for "start/end with X": X's phrase at that place, or the concept's own checks."""

    def build(hit: Hit) -> list[Check]:
        by = hit.match.group("prep").casefold() == "by"
        phrases, concept = _phrase_target(hit.match.group("what"), by)
        if phrases:
            return _placed(phrases[0], where)
        return list(concepts.get(concept, ()))

    return build


checks.on(
    rf"\b(?:start|begin|open)\w*\s+{_TARGET}(?P<prep>with|by)\s+(?P<what>[^.;!?]+)",
    skip_negated=True,
)(_positioned("start", _START_CONCEPTS))
checks.on(
    rf"\b(?:end|close|finish|conclude|sign(?:ing)? off|wrap(?:ping)? up)\w*\s+{_TARGET}"
    r"(?P<prep>with|by)\s+(?P<what>[^.;!?]+)",
    skip_negated=True,
)(_positioned("end", _END_CONCEPTS))


# Whom the questions are for: the reader of the response (or clarifying/follow-up questions,
# which are always for the reader). Without one, "ask questions that mention file paths" may be
# queries for a search tool.
_ADDRESSEE = re.compile(
    r"\b(?:me|us|the user|the reader|the customer|them|him|her|users|clarifying|follow[- ]up)\b",
    re.I,
)
_FROM_ADDRESSEE = re.compile(
    r"\b(?:from|of|to)\s+(?:me|us|the user|the reader|the customer|them|him|her|users)\b", re.I
)
_FOR_A_TOOL = re.compile(
    r"\b(?:search(?:es|ing)?|search engine|queries|query|tool|api|database|index|retriev\w*)\b",
    re.I,
)
_MULTIPLE_QUESTIONS = re.compile(
    r"\s+(?:\w+\s+){0,3}?(?:multiple|several|more than one|many|two or more)\s+(?:\w+\s+)?"
    r"questions\b",
    re.I,
)


@checks.on(
    r"\bask(?:s|ing)?\b(?P<rest>(?:\s+(?:me|us|the user|the reader|the customer|them|him|her|users|clarifying|"
    r"follow[- ]up|a|an|one|some|any|relevant|multiple|several|many|more than one|two or more))*"
    r"\s+(?:questions?|for|about|whether|if)\b.*)"
)
def _ask_checks(hit: Hit) -> list[Check]:
    rest = hit.match.group("rest")
    head = re.split(r"\b(?:questions?|for|about|whether|if)\b", rest, maxsplit=1)[0]
    several = _MULTIPLE_QUESTIONS.match(rest) is not None
    if hit.negated:
        if several:  # "don't ask several questions at once": one at most
            return [
                Check(
                    "at_most_one_question",
                    "At most one sentence ending with a question mark.",
                    "return len(questions(response)) <= 1",
                    ("questions",),
                )
            ]
        return [
            Check(
                "no_questions_strict", "No question mark anywhere.", "return '?' not in response"
            ),
            Check(
                "no_questions_lenient",
                "No sentence ending with a question mark.",
                "return not questions(response)",
                ("questions",),
            ),
        ]
    # The addressee before the object ("ask the user for ...") or after it ("ask for input from
    # the user").
    who = (
        _ADDRESSEE.search(head)
        or _FROM_ADDRESSEE.search(rest)
        or re.match(r"\s+for\s+(?:\w+\s+)?(?:clarification|confirmation)\b", rest, re.I)
    )
    if not who or (
        re.match(r"clarifying|follow|for", who.group(0).strip(), re.I)
        and _FOR_A_TOOL.search(hit.text)
    ):
        return []  # questions to whom? a search engine's queries are "questions" too
    out = [
        Check(
            "asks_question_strict",
            "Asks something: a sentence ending with '?'.",
            "return bool(questions(response))",
            ("questions",),
        ),
        Check(
            "asks_question_lenient",
            "Asks something: a question or a request ('please provide', 'could you', ...).",
            f"return bool(questions(response)) or contains_any(response, {literal(REQUEST_PHRASES)})",
            ("questions", "contains_any"),
        ),
    ]
    wanted = _ASKED_FOR.search(hit.match.group("rest"))
    if wanted and wanted.group("noun").casefold() not in ("help", "more", "each", "example"):
        noun = wanted.group("noun").casefold()
        out.append(
            Check(
                f"asks_for_{slug(noun)}",
                f"Asks for a {noun}: a request plus the word '{noun}' (or a word starting like it).",
                f"return (bool(questions(response)) or contains_any(response, {literal(REQUEST_PHRASES)})) and {literal(noun[:6])} in normalize(response)",
                ("questions", "contains_any", "normalize"),
            )
        )
    return out


_PLAIN_BODY = "n = sentence_count(response)\nreturn n > 0 and word_count(response) / n <= {limit}"
checks.when(
    r"\b(?:simple|clear|plain)(?: and (?:clear|simple))? (?:language|english|words)\b|\beas(?:y|ily) (?:to )?(?:be )?read\b|\bjargon\b|\breadab\w+",
    stated=[
        Check(
            "plain_language_strict",
            "Plain language: at most 20 words per sentence on average.",
            _PLAIN_BODY.format(limit=20),
            ("sentence_count", "word_count"),
        ),
        Check(
            "plain_language_lenient",
            "Plain language: at most 28 words per sentence on average.",
            _PLAIN_BODY.format(limit=28),
            ("sentence_count", "word_count"),
        ),
    ],
    if_negated=None,
)
