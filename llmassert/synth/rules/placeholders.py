"""Placeholders: the response uses the example's values, leaves no template slots unfilled.

- echo: a criterion that names an input (``{topic}``, ``{{ topic }}``, ``[topic]``, or the
  variable's words, "the target price reduction"; or "the topic"/"the question" when the prompt
  has a single variable) gets checks that the response mentions ``example[var]`` at run time
  (``mentions_value``: short values as a phrase, long ones by content-word overlap). Variables
  used as numbers ("no more than [word_count] words") are left to the length rules.
- unfilled placeholders: a placeholder-only criterion, or one that talks about placeholders or
  templates, gets "no ``{var}`` left in the output" checks.
- template slots: a criterion that is only a slot such as ``[Your Name]`` gets checks that the
  response keeps that slot (or some bracketed slot) for the user to fill.
"""

from __future__ import annotations

import re

from llmassert.assertions.helpers import contains_stem
from llmassert.synth.models import Category, Criterion
from llmassert.synth.rules.base import (
    Check,
    describes_reference,
    literal,
    slug,
    states_fact,
    variable_refs,
)
from llmassert.synth.rules.registry import Family

_NUMERIC_VAR = re.compile(r"count|number|num\b|limit|max|min|length|size|_n\b", re.I)
_INPUT_NOUNS = re.compile(
    r"\b(?:the|a|this|that|my|our|given|provided) (?:topic|subject|question|input|text|document|article|passage|transcript|request|query|message)\b",
    re.I,
)
_TEMPLATE_TALK = re.compile(
    r"\bplaceholders?\b|\btemplates?\b|\bfill(?:ed)? in\b|\bbrackets?\b", re.I
)
# Placeholders in code are stubs ("fill the placeholders so no function is empty"), and braces
# in code are code (f-strings, dicts): no template-slot check for a criterion about code.
_CODE_TALK = re.compile(
    r"\b(?:functions?|methods?|classes|code|implementations?|implement\w*|stubs?|"
    r"snippets?|scripts?|programs?)\b",
    re.I,
)
_SLOT = re.compile(r"^\[(?P<slot>[^\]\n]{1,60})\]$")


def echoed_variables(criterion: Criterion) -> list[str]:
    """Variables whose value the response should mention, for this criterion."""
    text = criterion.text
    names = [
        n
        for n in variable_refs(text)
        if n in criterion.variables or re.fullmatch(r"[a-z][a-z0-9_]*", n)
    ]
    if _bans(criterion) or describes_reference(text):
        # "Don't expand the scope of your task", "`finish` - once your task is done": no echo
        # asked; only explicit placeholders are read (where files go: "save them in {dir}").
        return [n for n in names if not _NUMERIC_VAR.search(n) and not _is_number_slot(text, n)]
    for var in criterion.variables:
        if var not in names and _names_variable(text, var):
            names.append(var)
    if not names and len(criterion.variables) == 1 and _INPUT_NOUNS.search(text):
        names = list(criterion.variables)
    return [n for n in names if not _NUMERIC_VAR.search(n) and not _is_number_slot(text, n)]


# Verbs that put an input's value in the response.
_ECHO_VERBS = (
    r"(?:mention\w*|includ\w*|refer\w*\s+to|referenc\w*|quot\w*|us(?:e|es|ing)|repeat\w*|"
    r"restat\w*|cit\w*|nam(?:e|es|ing)|address\w*|acknowledg\w*|echo\w*|stat(?:e|es|ing)|"
    # what the response is about: "information about the supplier"
    r"about|regarding|concerning)"
)
# A negated sentence: never a request to repeat the input.
_NEGATED_SENTENCE = re.compile(
    r"^\W*(?:never|do not|don'?t|avoid|you (?:must|should) not|must not|should not)\b", re.I
)


def _bans(criterion: Criterion) -> bool:
    return criterion.category is Category.EXCLUSION or bool(
        _NEGATED_SENTENCE.search(criterion.text)
    )


def _names_variable(text: str, var: str) -> bool:
    """The criterion talks about the variable in words: "the target price reduction", "each supplier"."""
    words = var.replace("_", " ").strip()
    if len(words.split()) >= 2:
        return len(words) >= 8 and contains_stem(text, words)
    # A single common word ("supplier") counts only as "the/each/our ... supplier", right after
    # a verb that puts it in the response ("mention the supplier") or as what the response is
    # about ("details about the supplier"): "complete your task" works on it, it is no echo.
    if len(words) < 4:
        return False
    dets = "the|each|every|our|your|their|this|given"
    stem = re.escape(words[:-1] if words.endswith("s") else words) + r"\w{0,3}"  # supplier(s)
    return (
        re.search(
            rf"\b{_ECHO_VERBS}\s+(?:\w+\s+){{0,3}}?(?:{dets})\s+(?:\w+\s+)?{stem}\b",
            text,
            re.I,
        )
        is not None
    )


def _is_number_slot(text: str, var: str) -> bool:
    # "[word_count] words", "{n} bullets": the variable is a count, not content.
    return (
        re.search(
            rf"[\[{{]\s*{re.escape(var)}\s*[\]}}]\}}?\s+(?:\w+\s+)?(?:words?|sentences?|bullets?|items?|lines?|characters?)",
            text,
            re.I,
        )
        is not None
    )


# The input is what the model works on here ("take the epic {{ x }} and break it down"), not
# something the response must repeat.
_WORKS_ON = re.compile(
    r"\b(?:take|break|analy[sz]e|read|review|consider|process|parse|split|convert|look at|"
    r"go through|study|examine|evaluate|based on|using|fix|correct|rewrite|rephrase|paraphrase|"
    r"translate|proofread|edit|inspect|check|open|explore|investigate|summari[sz]e|condense)\b",
    re.I,
)
# The variable is a set to choose from ("use one of the following tools: {tools}", "pick any of
# {options}", "from {choices}"): the response uses one item, it does not repeat the set.
_CHOICE_BEFORE = re.compile(
    r"\b(?:one|any|some|each|either|none|several|two|three)\s+of\b[^.;!?]*$"
    r"|\b(?:among|from|between)\s+(?:(?:the|these|this|those|following)\b\s*)*(?:\w+\b)?"
    r"[\W_]*$",
    re.I,
)


def _position(text: str, var: str) -> int:
    """Where the criterion names ``var``: its placeholder, or its words ("the open file")."""
    at = text.find(var)
    if at >= 0:
        return at
    m = re.search(r"\b" + r"\W+".join(map(re.escape, var.split("_"))), text, re.I)
    return m.start() if m else -1


_PERMISSION = re.compile(
    r"\byou (?:can|may|could)(?: also)?\b|\bfeel free\b|\b(?:are|is) (?:allowed|permitted) to\b",
    re.I,
)


def _labels_field(text: str, var: str) -> bool:
    """The variable's words are a field label in a format line: "Open file: <path>"."""
    if var in text:
        return False
    words = r"\W+".join(map(re.escape, var.split("_")))
    return re.search(rf"\b{words}\s*:", text, re.I) is not None


def _asks_echo(criterion: Criterion) -> bool:
    """The criterion can ask for the input's value in the response: an instruction on the
    output, not a statement about the situation ("The challenge is a {kind} problem")."""
    if _PERMISSION.search(criterion.text):
        return False  # "you can also use the following commands": allowed, not asked for
    return not states_fact(criterion.text)


# The variable is where files go ("save plots to a file in {home_dir}", "files go under the
# {out_dir} folder"): only a reply that writes a file names it, not every reply.
_PLACE_BEFORE = re.compile(
    r"\b(?:in|under|into|inside|within|to)\s+(?:the\s+|a\s+|your\s+)?[\[{\s]*$", re.I
)
_FILE_WORDS = re.compile(
    r"\b(?:files?|folders?|director(?:y|ies)|paths?|sav(?:e|ed|es|ing)|stor(?:e|ed|es|ing)|"
    r"writ(?:e|es|ten|ing))\b",
    re.I,
)


# A line of code that writes a file: savefig/to_csv/write_text/save(...) or open(..., "w").
_WRITE_LINE = (
    r"(?:\.(?:savefig|to_[a-z]+|write_text|write_bytes|save)\s*\(|"
    r"\bopen\s*\([^\n]*['\"][wax]b?\+?['\"])"
)
_ABS_PATH = r"['\"]((?:/|~/)[^'\"\s]*)['\"]"


def _files_under(var: str) -> Check:
    key = slug(var.replace("_", " "), max_words=5)
    return Check(
        f"files_written_under_{key}",
        f"Absolute paths the code writes to are under the example's {var}.",
        f"root = str(example.get({var!r}) or '').rstrip('/')\n"
        "if not root:\n"
        "    return True  # the example does not provide it\n"
        "for line in response.splitlines():\n"
        f"    if re.search({literal(_WRITE_LINE)}, line) is None:\n"
        "        continue\n"
        f"    for m in re.finditer({literal(_ABS_PATH)}, line):\n"
        "        if m.group(1) != root and not m.group(1).startswith(root + '/'):\n"
        "            return False\n"
        "return True",
        modules=("re",),
    )


checks = Family("placeholders")


@checks.rule
def _echo_checks(criterion: Criterion) -> list[Check]:
    out: list[Check] = []
    for var in echoed_variables(criterion):
        at = _position(criterion.text, var)
        if at > 0 and _WORKS_ON.search(criterion.text[:at]):
            continue
        if (
            at > 0
            and _PLACE_BEFORE.search(criterion.text[:at])
            and _FILE_WORDS.search(criterion.text)
        ):
            out.append(_files_under(var))
            continue
        if _bans(criterion) or describes_reference(criterion.text):
            continue  # a ban or a catalogue entry never asks to repeat the input
        if not _asks_echo(criterion):
            continue  # a workflow step or a statement of fact: the input is worked on, not echoed
        if _labels_field(criterion.text, var):
            continue  # "(Open file: <path>)": the variable's words label a field of a format
        if at > 0 and _CHOICE_BEFORE.search(criterion.text[:at]):
            continue  # "use one of the following tools: {tools}": one item, not the whole set
        read = (
            f"value = example.get({var!r})\n"
            "if value is None or value == '':\n"
            "    return True  # the example does not provide it\n"
        )
        key = slug(var.replace("_", " "), max_words=5)
        out.append(
            Check(
                f"mentions_{key}_strict",
                f"Mentions example[{var!r}] (75% of its content words, or the exact phrase).",
                read + "return mentions_value(response, value, min_overlap=0.75)",
                ("mentions_value",),
            )
        )
        out.append(
            Check(
                f"mentions_{key}_lenient",
                f"Mentions example[{var!r}] (40% of its content words, or the phrase).",
                read + "return mentions_value(response, value, min_overlap=0.4)",
                ("mentions_value",),
            )
        )
    return out


@checks.rule
def _unfilled_checks(criterion: Criterion) -> list[Check]:
    placeholder_only = criterion.category is Category.DATA_PLACEHOLDERS
    if not (placeholder_only or _TEMPLATE_TALK.search(criterion.text)):
        return []
    if not placeholder_only and _CODE_TALK.search(criterion.text):
        return []  # "fill the placeholders so no function is empty": stubs in code, not slots
    return [
        Check(
            "no_unfilled_placeholders_strict",
            "No {var} / {{ var }} and no [Bracketed Slot] left in the output.",
            "return not unfilled_placeholders(response) and not bracket_placeholders(response)",
            ("unfilled_placeholders", "bracket_placeholders"),
        ),
        Check(
            "no_unfilled_placeholders_lenient",
            "No {var} / {{ var }} template placeholder left in the output.",
            "return not unfilled_placeholders(response)",
            ("unfilled_placeholders",),
        ),
    ]


@checks.rule
def _slot_checks(criterion: Criterion) -> list[Check]:
    m = _SLOT.match(criterion.text.strip())
    if not m or m.group("slot") in criterion.variables:
        return []
    slot = f"[{m.group('slot')}]"
    key = slug(m.group("slot"))
    return [
        Check(
            f"keeps_slot_{key}_strict",
            f"Keeps the template slot {slot} for the user to fill.",
            f"return contains_phrase(response, {literal(slot)})",
            ("contains_phrase",),
        ),
        Check(
            f"keeps_slot_{key}_lenient",
            "Keeps some [Bracketed Slot] for the user to fill.",
            "return bool(bracket_placeholders(response))",
            ("bracket_placeholders",),
        ),
    ]
