"""Formats and reference checks: the deterministic kinds promptfoo has (see
:mod:`llmassert.assertions.formats`).

Recognized:

- exact output: "Reply only with 'OK'", "respond with exactly "DONE"" → ``equals``;
- regex / inline format: "match the pattern `^\\d{4}$`", "structured as follows: <type>:
  <description>" (slots become ``.+``; "Use these for <type>: fix, feat" limits a slot);
- HTML, XML, SQL: "respond in HTML" (``is_html`` / ``contains_html``), "wrap it in XML",
  "write a SQL query"; negated ("no HTML tags") gives the opposite;
- a JSON Schema written in the sentence (``matches_schema``);
- tool calls: "respond with a tool call" / "call the function" (``is_valid_tool_call``);
- refusals: "never refuse", "do not say you cannot help" (``not is_refusal``);
- similarity to an input: "similar to {reference}", "keep close to {original}" (ROUGE-L,
  Levenshtein ratio, BLEU against the example's value);
- reading level: "at a 6th grade reading level" (Flesch–Kincaid grade);
- ASCII only: "use only ASCII characters", "no non-ASCII / unicode characters";
- same language as the input: "reply in the same language as the user";
- "the overall rating must equal the lowest grade" (``overall_is_lowest``).
"""

from __future__ import annotations

import json
import re

from llmassert.synth.models import Criterion
from llmassert.synth.rules.base import (
    NUMBER_WORD_PATTERN,
    Check,
    literal,
    negated,
    parse_number,
    variable_refs,
)
from llmassert.synth.rules.registry import Family, Hit

_SLOT_TEMPLATE = re.compile(
    r"\b(?:structured|formatted|format(?:ted)?|written)\s+(?:as follows|like this|as|in the "
    r"(?:form|format))\s*:?\s*(.*<[\w -]{1,30}>.*)$",
    re.I,
)
_SLOT_VALUES = re.compile(
    r"\buse (?:these|one of these|only these) for\s+<([\w -]{1,30})>\s*:\s*(.+)$", re.I
)
_HTML = re.compile(
    r"\b(?:in|as|using|with|valid)\s+html\b|\bhtml (?:format|document|markup|only)\b", re.I
)
_HTML_NEG = re.compile(r"\bhtml(?: tags| markup)?\b", re.I)
_SIMILAR = re.compile(
    r"\b(?:similar to|close to|stay(?:s)? close to|paraphras\w+|keep (?:the )?(?:same )?meaning of|"
    r"faithful to|as close as possible to)\b",
    re.I,
)
_CORRECT = re.compile(
    r"\b(?:fix|correct)\s+(?:the\s+|only\s+the\s+|any\s+)?(?:spelling|typos?|grammar|punctuation)\b",
    re.I,
)
_GRADES = re.compile(r"\b([A-F])(?:\s*,\s*([A-F]))+\s*(?:,\s*)?(?:or|and)\s+([A-F])\b")

checks = Family("kinds")


# Where a quoted reply goes when it is not the whole reply: "say "DONE" at the end".
_AT_END = re.compile(
    r"^\W*(?:(?:at|in) the (?:very )?end|to (?:finish|end|close|conclude)|(?:as|on) the (?:very )?"
    r"(?:last|final) line|last|at the bottom|after everything else)\b",
    re.I,
)
# The quoted reply is the whole reply: "reply only with 'OK'", "respond with exactly "DONE"".
_WHOLE = re.compile(
    r"\b(?:only|just|exactly|solely|nothing (?:else|but)|and nothing else|the (?:single )?word|"
    r"no other (?:text|words))\b",
    re.I,
)
_ALTERNATIVE = re.compile(
    r"^\s*(?:,\s*(?:or\s+)?|or\s+|/\s*)[\"'`“]([^\"'`”\n]{1,40})[\"'`”]", re.I
)
# A condition after the quote: "reply "TERMINATE" when everything is done".
_TRAILING_CONDITION = re.compile(
    r"\b(?:when|whenever|once|after|if|unless|as soon as|in case)\b", re.I
)


@checks.on(
    r"\b(?:reply|respond|answer|output|return|say)\s+(?:only\s+|just\s+)?(?:with\s+)?"
    r"(?:(?:exactly|only|just|the (?:single )?word)\s*:?\s*)?[\"'`“]([^\"'`”\n]{1,40})[\"'`”]",
    skip_negated=True,
)
def _equals_checks(hit: Hit) -> list[Check]:
    values = [hit.match.group(1).strip()]
    after = hit.text[hit.match.end() :]
    # Alternatives: 'respond only with "YES" or "NO"' (any of them is the whole reply).
    while m := _ALTERNATIVE.match(after):
        values.append(m.group(1).strip())
        after = after[m.end() :]
    if _TRAILING_CONDITION.search(after):
        return []  # only under a condition: not every reply
    shown = " or ".join(repr(v) for v in values)
    if _AT_END.match(after):
        return [
            Check(
                "ends_with_ci",
                f"The response ends with {shown} (any case, final punctuation ignored).",
                f"return any(ends_with_phrase(response, v) for v in {literal(tuple(values))})",
                ("ends_with_phrase",),
            )
        ]
    if not _WHOLE.search(hit.text):
        return []  # "say "thanks"" asks for the phrase, not for nothing else
    if len(values) == 1:
        value = values[0]
        return [
            Check(
                "equals_exact",
                f"The whole response is {value!r}.",
                f"return equals(response, {value!r})",
                ("equals",),
            ),
            Check(
                "equals_ci",
                f"The whole response is {value!r}, any case, final punctuation ignored.",
                f"return equals(response.strip().rstrip('.!'), {value!r}, case=False)",
                ("equals",),
            ),
        ]
    return [
        Check(
            "equals_one_of_exact",
            f"The whole response is one of {shown}.",
            f"return any(equals(response, v) for v in {literal(tuple(values))})",
            ("equals",),
        ),
        Check(
            "equals_one_of_ci",
            f"The whole response is one of {shown}, any case, final punctuation ignored.",
            "return any(equals(response.strip().rstrip('.!'), v, case=False) "
            f"for v in {literal(tuple(values))})",
            ("equals",),
        ),
    ]


@checks.on(
    r"\b(?:match(?:es|ing)?|follows?|conform(?:s|ing)? to)\s+(?:the\s+)?(?:regex|regular expression|"
    r"pattern)\s*:?\s*`([^`\n]{1,120})`"
)
def _regex_checks(hit: Hit) -> list[Check]:
    pattern = hit.match.group(1)
    try:
        re.compile(pattern)
    except re.error:
        return []
    return [
        Check(
            "matches_pattern",
            f"Matches the pattern {pattern}.",
            f"return matches_regex(response, {pattern!r})",
            ("matches_regex",),
        )
    ]


def slot_pattern(template: str, values: dict[str, tuple[str, ...]] | None = None) -> str:
    """A regex for an inline template: ``<type>: <description>`` -> ``^(?:fix|feat): .+$``."""
    values = values or {}
    out, pos = [], 0
    for m in re.finditer(r"<([\w -]{1,30})>", template):
        literal_part = template[pos : m.start()]
        out.append(
            r"\s*".join(re.escape(p) for p in literal_part.split())
            if literal_part.strip()
            else (r"\s*" if literal_part else "")
        )
        allowed = values.get(m.group(1).strip().casefold())
        out.append("(?:" + "|".join(re.escape(v) for v in allowed) + ")" if allowed else r".+?")
        pos = m.end()
    tail = template[pos:].strip().rstrip(".")
    if tail:
        out.append(r"\s*" + re.escape(tail))
    return r"^\s*" + "".join(out) + r"\s*$"


def _slot_values(m: re.Match[str]) -> tuple[str, tuple[str, ...]]:
    """A :data:`_SLOT_VALUES` match -> its slot and values: ``("type", ("fix", "feat"))``."""
    items = [x.strip(" .`'\"") for x in re.split(r",|\bor\b", m.group(2))]
    return m.group(1).strip().casefold(), tuple(x for x in items if x and len(x.split()) <= 3)


def _template_values_check(template: str, pattern: str) -> Check:
    return Check(
        "first_line_template_values",
        f"The first line has the form {template} with the listed values.",
        f"return matches_regex(first_line(response), {pattern!r})",
        ("matches_regex", "first_line"),
    )


@checks.on(_SLOT_TEMPLATE)
def _slot_checks(hit: Hit) -> list[Check]:
    template = hit.match.group(1).strip().strip("`\"'")
    context = hit.criterion.context
    values: dict[str, tuple[str, ...]] = {}
    for line in [*context.split(". "), context]:
        v = _SLOT_VALUES.search(line)
        if v:
            slot, allowed = _slot_values(v)
            values[slot] = allowed
    try:
        plain = slot_pattern(template)
        strict = slot_pattern(template, values)
        re.compile(plain)
        re.compile(strict)
    except re.error:
        return []
    out = [
        Check(
            "first_line_follows_template",
            f"The first line has the form {template}.",
            f"return matches_regex(first_line(response), {plain!r})",
            ("matches_regex", "first_line"),
        )
    ]
    if values:
        out.insert(0, _template_values_check(template, strict))
    return out


@checks.on(_SLOT_VALUES)
def _slot_value_checks(hit: Hit) -> list[Check]:
    """ "Use these for <type>: fix, feat, ..." alone: the template is in its context."""
    m = _SLOT_TEMPLATE.search(hit.criterion.context)
    if not m:
        return []
    template = m.group(1).split(" Use these")[0].strip().strip("`\"'")
    slot, allowed = _slot_values(hit.match)
    try:
        pattern = slot_pattern(template, {slot: allowed})
        re.compile(pattern)
    except re.error:
        return []
    return [_template_values_check(template, pattern)]


@checks.rule
def _html_checks(criterion: Criterion) -> list[Check]:
    text = criterion.text
    m = _HTML.search(text)
    neg = _HTML_NEG.search(text)
    if m and not negated(text, m.start()):
        return [
            Check(
                "is_html_strict",
                "The response is an HTML fragment.",
                "return is_html(response)",
                ("is_html",),
            ),
            Check(
                "has_html_lenient",
                "The response contains HTML tags.",
                "return contains_html(response)",
                ("contains_html",),
            ),
        ]
    if neg and negated(text, neg.start()):
        return [
            Check(
                "no_html", "No HTML tags.", "return not contains_html(response)", ("contains_html",)
            )
        ]
    return []


checks.when(
    (r"\b(?:in|as|using|valid)\s+xml\b|\bxml (?:format|document|only)\b"),
    stated=[
        Check(
            "is_xml_strict",
            "The response is well-formed XML.",
            "return is_xml(response)",
            ("is_xml",),
        ),
        Check(
            "has_xml_lenient",
            "The response contains an XML element.",
            "return contains_xml(response)",
            ("contains_xml",),
        ),
    ],
)


@checks.on(
    (r"\b(?:in|inside|within|between|wrap\w*(?: \w+)? in)\s+<(\w[\w-]*)>(?:\s*</\1>)?\s*tags?"),
    skip_negated=True,
)
def _xml_tag_checks(hit: Hit) -> list[Check]:
    tag = hit.match.group(1)
    element = r"<" + tag + r"(?:\s[^>]*)?>.*?</" + tag + r"\s*>"
    return [
        Check(
            f"in_{tag.replace('-', '_')}_tags",
            f"Contains a <{tag}>...</{tag}> element.",
            f"return matches_regex(response, {element!r}, flags=re.S)",
            ("matches_regex",),
            ("re",),
        )
    ]


checks.when(
    r"\b(?:sql (?:query|queries|statement|statements|code|only)|(?:in|as|with|using|valid|only) sql\b|"
    r"write (?:a|the) (?:\w+ )?sql\b)",
    stated=[
        Check(
            "is_sql_strict",
            "The response (or its one code block) is SQL.",
            "return is_sql(response)",
            ("is_sql",),
        ),
        Check(
            "has_sql_lenient",
            "The response contains a SQL statement.",
            "return contains_sql(response)",
            ("contains_sql",),
        ),
    ],
    if_negated=[
        Check(
            "no_sql",
            "No SQL statement.",
            "return not contains_sql(response)",
            ("contains_sql",),
        )
    ],
)


@checks.on(r"\bschema\b")
def _schema_checks(hit: Hit) -> list[Check]:
    text = hit.text
    start = text.find("{")
    end = text.rfind("}")
    if not 0 <= start < end:
        return []
    try:
        schema = json.loads(text[start : end + 1])
    except ValueError:
        return []
    if not isinstance(schema, dict) or not ({"type", "properties", "required"} & set(schema)):
        return []
    return [
        Check(
            "matches_json_schema",
            "JSON valid against the schema in the prompt.",
            f"SCHEMA = json.loads({json.dumps(schema)!r})\nreturn matches_schema(response, SCHEMA)",
            ("matches_schema",),
            ("json",),
        )
    ]


# A tool call is the whole reply only when nothing else may be: not "To use a tool, ..." (how to
# call one when the model does), not "either use a tool or give the final answer" (a choice), and
# not when the prompt spells the call out as text lines ("Action: ...", "in the following format"):
# that call is no JSON tool call.
_TOOL_PURPOSE = re.compile(r"\b(?:to|in order to)\s+$", re.I)
_TOOL_CHOICE = re.compile(r"\beither\b|\bor\b", re.I)
_TEXT_FORMAT = re.compile(
    r"\b(?:following|this|these|exact|same)\s+formats?\b|^\s*[A-Z][\w ]{0,20}:\s", re.I | re.M
)


@checks.on(
    r"\b(?:respond|reply|answer)\s+(?:only\s+)?(?:with|using)\s+(?:a|one)\s+(?:tool|function)\s*call\b"
    r"|\b(?:call|use|invoke)\s+(?:the|a|one)\s+(?:\w+\s+)?(?:tool|function)\b(?! to)",
    skip_negated=True,
)
def _tool_call_checks(hit: Hit) -> list[Check]:
    text = hit.text
    if _TOOL_PURPOSE.search(text[: hit.match.start()]):
        return []  # "To use a tool, write ...": how to call one, not that the reply is a call
    if _TOOL_CHOICE.search(text):
        return []  # "either use a tool or answer": a tool call is one option
    if _TEXT_FORMAT.search(text) or _TEXT_FORMAT.search(hit.criterion.context or ""):
        return []  # "Action: ... / Action Input: ...": a call written as text, not JSON
    return [
        Check(
            "is_tool_call",
            "The response is a well-formed tool call (name and JSON arguments).",
            "return is_valid_tool_call(response)",
            ("is_valid_tool_call",),
        )
    ]


checks.when(
    r"\b(?:never|do not|don'?t|must not|should not)\s+(?:\w+\s+){0,2}?(?:refuse|decline|"
    r"say (?:that )?you (?:can'?t|cannot|are unable)|respond with a refusal)\b",
    stated=[
        Check(
            "no_refusal",
            "Does not refuse (no refusal phrase at the start).",
            "return not is_refusal(response)",
            ("is_refusal",),
        )
    ],
    if_negated=None,
)


@checks.rule
def _similarity_checks(criterion: Criterion) -> list[Check]:
    text = criterion.text
    refs = [v for v in variable_refs(text) if v in criterion.variables] or [
        v for v in criterion.variables if re.search(rf"\b{re.escape(v)}\b", text)
    ]
    if not refs:
        return []
    ref = refs[0]
    setup = f"reference = str(example.get({ref!r}) or '')\nif not reference:\n    return True  # nothing to compare with\n"
    if _CORRECT.search(text):
        return [
            Check(
                f"close_to_{ref}_edit",
                f"Only small edits to {{{ref}}}: Levenshtein ratio >= 0.8.",
                setup + "return levenshtein_ratio(response.strip(), reference.strip()) >= 0.8",
                ("levenshtein_ratio",),
            )
        ]
    if not _SIMILAR.search(text):
        return []
    return [
        Check(
            f"similar_to_{ref}_rouge",
            f"Similar to {{{ref}}}: ROUGE-L F1 >= 0.3.",
            setup + "return rouge_l(response, reference) >= 0.3",
            ("rouge_l",),
        ),
        Check(
            f"similar_to_{ref}_bleu",
            f"Similar to {{{ref}}}: BLEU >= 0.1.",
            setup + "return bleu(response, reference) >= 0.1",
            ("bleu",),
        ),
    ]


@checks.on(
    r"\b(?:(\d{1,2})(?:st|nd|rd|th)?[- ]grade(?:rs?)?|grade (\d{1,2}))\b[^.]{0,30}\b(?:reading|level|readab)"
    r"|\breading level of (?:a |an )?(\d{1,2})(?:st|nd|rd|th)?[- ]grade"
    r"|\b(?:a |an )?(\d{1,2})[- ]year[- ]old\b"
)
def _reading_checks(hit: Hit) -> list[Check]:
    if hit.match.group(4):  # "a 10-year-old": US grade ~ age - 5
        grade = max(1, int(hit.match.group(4)) - 5)
    else:
        grade = int(hit.match.group(1) or hit.match.group(2) or hit.match.group(3))
    return [
        Check(
            f"reading_grade_{grade}",
            f"Flesch-Kincaid grade at most {grade}.",
            f"return flesch_kincaid_grade(response) <= {grade}",
            ("flesch_kincaid_grade",),
        ),
        Check(
            f"reading_grade_{grade}_slack",
            f"Flesch-Kincaid grade at most {grade + 2} (the formula is rough).",
            f"return flesch_kincaid_grade(response) <= {grade + 2}",
            ("flesch_kincaid_grade",),
        ),
    ]


checks.when(
    r"\bascii(?:[- ]only)?\b|\bnon[- ]ascii\b|\b(?:no|without|avoid)\s+(?:special |fancy |smart |curly )?"
    r"(?:unicode|non[- ]english) characters\b",
    stated=[
        Check("ascii_only", "Only ASCII characters.", "return is_ascii(response)", ("is_ascii",))
    ],
    if_negated=None,
)


# Input fields that hold the user's own message (user_input, user_message, question, ...).
USER_FIELD = r"(?i)(?:^|_)(?:question|query|message|msg|request|input|content)s?$"
# Input fields that hold a whole dialogue, and the user's turns in one ("user: ...", "Human: ...").
DIALOGUE_FIELD = r"(?i)(?:^|_)(?:conversation|dialog(?:ue)?|chat|transcript|history)s?$"
USER_TURN = r"(?im)^\s*(?:user|human)\s*:\s*(.+)$"

checks.when(
    r"\b(?:same language as|language (?:of|used by) the (?:user|input|question|request)|"
    r"in the language (?:of|used by) the (?:user|input|question))\b|\bsame language (?:they|the user) "
    r"(?:are |is )?(?:using|used|write|wrote|speak)"
    r"|\bin the language (?:that )?(?:they|the user) (?:use|used|speak|spoke|wrote|write|are using)",
    if_negated=None,
    stated=[
        Check(
            "same_language_as_input",
            "Written in the language of the user's own message (an input named like question, "
            "query, message, request, input or content); not judged when there is none, since "
            "placeholders filled with system text do not tell the user's language.",
            "texts = [v for k, v in example.items() if isinstance(v, str) and word_count(v) >= 5\n"
            f"         and re.search({literal(USER_FIELD)}, k)]\n"
            "# A conversation's user turns are the user's own words (its other turns are not).\n"
            "for k, v in example.items():\n"
            f"    if isinstance(v, str) and re.search({literal(DIALOGUE_FIELD)}, k):\n"
            f"        turns = ' '.join(re.findall({literal(USER_TURN)}, v))\n"
            "        if word_count(turns) >= 5:\n"
            "            texts.append(turns)\n"
            "if not texts:\n"
            "    return True  # the user's language cannot be known: not judged\n"
            "source = language_scores(max(texts, key=len))\n"
            "mine = language_scores(response)\n"
            "if not source or not mine:\n"
            "    return True\n"
            "top = max(source, key=source.get)\n"
            "# Short texts of related languages score alike: the input's language need only be\n"
            "# among the response's best (at least half of its top score).\n"
            "return mine.get(top, 0) >= 0.5 * max(mine.values()) and mine.get(top, 0) > 0",
            ("language_scores", "word_count"),
            modules=("re",),
        )
    ],
)


@checks.on(
    r"\boverall\b[^.]{0,60}\b(?:equal|equals|is|be|match(?:es)?|same as)\b[^.]{0,30}\b(?:lowest|"
    r"worst|minimum)\b"
)
def _overall_checks(hit: Hit) -> list[Check]:
    m = _GRADES.search(hit.criterion.context) or _GRADES.search(hit.text)
    if m:
        letters = re.findall(r"\b[A-F]\b", m.group(0))
        scale = tuple(sorted(set(letters), reverse=True))  # F (lowest) .. A
    else:
        scale = tuple(str(i) for i in range(0, 11))
    return [
        Check(
            "overall_is_lowest_grade",
            "The overall grade equals the lowest of the other grades.",
            f"return overall_is_lowest(response, {literal(scale)})",
            ("overall_is_lowest",),
        )
    ]


_FENCE_LANG = re.compile(r"```\s*([A-Za-z][\w+#-]{0,15})")
_TEXT_UNITS = re.compile(
    r"^(?:words|sentences|characters|chars|letters|tokens|lines|paragraphs|pages|minutes|seconds|"
    r"times|bullets|items|points|steps|sections|headers|headings|emojis|hashtags|questions)$",
    re.I,
)


@checks.on(
    r"\b(?:do not|don'?t|never)\s+(?:say|write|output|add|include|return|print)\s+anything\s+"
    r"(?:else|more|other)\b|\band nothing else\b|\bno other text\b|\bwithout any (?:other|"
    r"additional|extra) text\b"
    # "reply with JSON, and only with JSON", "respond only with JSON", "output only JSON"
    r"|\b(?:reply|respond|answer|output|return)\s+(?:only|solely|exclusively)\s+(?:with\s+|in\s+)?"
    r"(?:valid\s+)?json\b|\b(?:and\s+)?only\s+(?:with|in)\s+json\b"
)
def _nothing_else_checks(hit: Hit) -> list[Check]:
    if re.search(r"\bjson\b", hit.criterion.context, re.I):
        return [
            Check(
                "only_json",
                "The whole response is JSON, nothing around it.",
                "return is_json(response.strip())",
                ("is_json",),
            )
        ]
    return []


@checks.on(_FENCE_LANG, also=[r"\b(?:code ?blocks?|fenced?|wrapped|markdown)\b"], skip_negated=True)
def _fence_language_checks(hit: Hit) -> list[Check]:
    lang = hit.match.group(1)
    opener = r"^[ \t]*```[ \t]*" + re.escape(lang) + r"\b"
    return [
        Check(
            f"code_block_{lang.casefold()}",
            f"Has a code block opened with ```{lang}.",
            f"return matches_regex(response, {opener!r}, flags=re.I | re.M)",
            ("matches_regex",),
            ("re",),
        )
    ]


@checks.on(
    r"\b(?:up to|at most|no more than|not more than|not exceeding|a maximum of|maximum of)\s+"
    r"(?:\*\*)?\s*(?:(\d+)|\{\{?\s*"
    r"(?:input\.)?(\w+)\s*\}?\})\s*(?:\*\*)?\s*(?:,\s*\w+\s*(?:\*\*)?\s*)?(?:\b[\w-]+\s+){0,3}?"
    r"\b(?P<noun>[a-z][\w-]*s)\b",
    skip_negated=True,
)
def _list_length_checks(hit: Hit) -> list[Check]:
    m = hit.match
    if _TEXT_UNITS.match(m.group("noun")):
        return []  # "up to 50 words" is a length (length.py), not a list
    noun = m.group("noun")
    if m.group(1):
        limit, setup = m.group(1), ""
    else:
        var = m.group(2)
        if var not in hit.criterion.variables:
            return []
        setup = (
            f"limit = as_int(example.get({var!r}))\nif limit is None:\n"
            "    return True  # the example does not say\n"
        )
        limit = "limit"
    return [
        Check(
            f"at_most_{noun.replace('-', '_')}",
            f"Lists at most {limit} {noun} (JSON array or list items).",
            f"{setup}return list_length(response) <= {limit}",
            ("list_length", "as_int"),
        )
    ]


# "respond with a list of strings in the following format: [...]": the whole reply is that list.
_STRING_LIST = re.compile(
    r"\b(?:respond|reply|answer|return|output|submit|give|send)\s+(?:(?:your|the)\s+(?:response|"
    r"reply|answer|output)\s+)?(?:only\s+)?(?:with|in|as)\s+(?:only\s+)?(?:a|an|one)\s+"
    r"(?:(?:valid|formatted|well-formed|proper|single)\s+)*(?:json\s+|python\s+)?(?:list|array)\s+"
    r"of\s+(?:\w+\s+)?strings\b"
    r"|\b(?:your|the)\s+(?:whole\s+|entire\s+)?(?:response|reply|answer|output)\s+(?:must|should|"
    r"will|shall)\s+be\s+(?:only\s+)?(?:a|an|one)\s+(?:valid\s+)?(?:json\s+)?(?:list|array)\s+"
    r"of\s+(?:\w+\s+)?strings\b",
    re.I,
)


# "Write 3 search queries": a stated number of the items the list holds (not "up to 3").
_STATED_COUNT = re.compile(
    rf"\b(?:write|give|generate|list|provide|return|suggest|produce|create|come up with)\s+"
    rf"(?:exactly\s+)?(?P<n>\d{{1,2}}|{NUMBER_WORD_PATTERN})\s+(?:[\w-]+\s+){{0,3}}?[a-z][\w-]*s\b",
    re.I,
)


@checks.on(_STRING_LIST, skip_negated=True)
def _string_list_checks(hit: Hit) -> list[Check]:
    body = (
        "value = parse_json(response.strip())\n"
        "return isinstance(value, list) and all(isinstance(v, str) for v in value)"
    )
    out = []
    count = _STATED_COUNT.search(hit.text[: hit.match.start()])
    n = parse_number(count.group("n")) if count else None
    if n is not None and n >= 1:
        out.append(
            Check(
                f"json_list_of_{int(n)}_strings",
                f"The whole response parses as a JSON list of exactly {int(n)} strings.",
                body + f" and len(value) == {int(n)}",
                ("parse_json",),
            )
        )
    out.append(
        Check(
            "json_list_of_strings",
            "The whole response parses as a JSON list of strings.",
            body,
            ("parse_json",),
        )
    )
    return out


# "It must be a single object" after "Your response must be in JSON": a JSON object, not a list.
_SINGLE_OBJECT = re.compile(
    r"^\W*(?:it|the (?:response|reply|output|answer)|your (?:response|reply|output|answer))\s+"
    r"(?:must|should|has to|will)\s+be\s+(?:a|an|one|exactly one)\s+(?:single\s+)?(?:json\s+)?"
    r"object\b",
    re.I,
)


@checks.on(_SINGLE_OBJECT, skip_negated=True)
def _single_object_checks(hit: Hit) -> list[Check]:
    if not re.search(r"\bjson\b", hit.criterion.context or hit.text, re.I):
        return []  # an "object" of some other kind
    return [
        Check(
            "json_single_object",
            "The response's JSON value is one object (not a list of objects).",
            "return json_object(response, lenient=True) is not None",
            ("json_object",),
        )
    ]
