"""Sentence roles: which sentences of a prompt instruct the output, and what the others are.

Only output instructions become criteria. The rest are listed by role in the report and the
manifest, so a user sees why a sentence gave no check:

- ``output``  — says what the response must (not) contain or look like;
- ``persona`` — who the model is ("You are an expert ...", an IDENTITY section);
- ``process`` — how to work, not what to write ("Think step by step", "First read ... then");
- ``input``   — describes the input ("You will be given an article", an INPUT section);
- ``example`` — example or rubric text ("Example:", an EXAMPLES / RUBRIC section, the lines of
  an output template, which :mod:`llmassert.synth.template` reads as structure instead);
- ``pasted``  — pasted documents: code fences outside an output format, long paragraphs
  without instructions;
- ``reference`` — entries of a catalogue of actions, tools, arguments or commands the model may
  use ("`url` - the URL to open" under "Here are the actions:"): what exists, not what to write.

Heuristics, ordered; the position in the prompt (the section a sentence sits in, a fence, a
paragraph's length) decides first, then the sentence's own wording.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from llmassert.textunits import split_units_with_kinds

Role = Literal["output", "persona", "process", "input", "example", "pasted", "reference"]
ROLES: tuple[Role, ...] = (
    "output",
    "persona",
    "process",
    "input",
    "example",
    "pasted",
    "reference",
)

_ATX = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_OPEN_TAG = re.compile(r"^\s*<[A-Za-z_][\w:.-]*(?:\s[^<>]*)?>\s*$")
_CLOSE_TAG = re.compile(r"^\s*</[A-Za-z_][\w:.-]*\s*>\s*$")
# A slot of a skeleton: a list item, "...", a placeholder.
_SLOT_LINE = re.compile(r"^\s*(?:[-*•+]\s|\d+[.)]\s|\.{3}|…|\[|\{)")
_SECTION_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("example", re.compile(r"\b(?:examples?|samples?|demonstrations?|rubric|scoring|grading|"
                           r"few[- ]shot|illustrations?)\b", re.I)),
    ("output", re.compile(r"\b(?:output|format|formatting|response|template|structure|"
                          r"instructions?|rules|constraints|requirements|guidelines|style)\b",
                          re.I)),
    ("process", re.compile(r"\b(?:steps?|process|approach|method|procedure|workflow|"
                           r"thinking|how to)\b", re.I)),
    ("persona", re.compile(r"\b(?:identity|purpose|role|persona|about you|who you are|"
                           r"background|goal|mission|objective|system)\b", re.I)),
    ("input", re.compile(r"\b(?:input|data|article|text|document|transcript|essay|content|"
                         r"context|source|user message|question|query|code)\b", re.I)),
)  # fmt: skip

OUTPUT_NOUNS = re.compile(
    r"\b(?:output|outputs|response|respond|responses|answer|answers|reply|replies|summary|"
    r"summaries|bullets?|bullet points?|words?|sentences?|sections?|headers?|headings?|json|"
    r"yaml|xml|html|csv|markdown|format(?:ted)?|list|lists|table|paragraphs?|lines?|titles?|"
    r"labels?|ratings?|scores?|grades?|characters?|emojis?|tone|language|items?|fields?|keys?|"
    r"code blocks?|backticks|tags?|quotes?|write|written)\b",
    re.I,
)
_OUTPUT_VERBS = re.compile(
    r"^(?:please\s+|you (?:must|should|will|shall|may)\s+(?:not\s+|never\s+|only\s+|always\s+)?|"
    r"always\s+|only\s+|just\s+)?"
    r"(?:write|output|outputs|respond|reply|answer|return|give|provide|list|include|use|format|"
    r"start|begin|end|finish|keep|limit|make|ensure|create|generate|produce|extract|summari[sz]e|"
    r"put|print|add|mention|separate|wrap|do not|don'?t|never|avoid|no|omit|exclude|rate|"
    r"score|classify|label|translate|rewrite|explain|describe|present|state|answer|place|"
    r"insert|sort|order|number|bold|capitali[sz]e|respond|be|each|every|all|the (?:output|"
    r"response|answer|summary)|your (?:output|response|answer|reply|summary))\b",
    re.I,
)
_PERSONA = re.compile(
    # "Role: You are ...": a labelled persona line.
    r"^(?:(?:role|persona|identity)\s*:\s*)?"
    r"(?:you are|you're|act as|acting as|as an? [\w -]{2,40},|your (?:role|job|purpose|"
    r"goal|task|mission) is|imagine you|pretend|i want you to act|take on the role)\b",
    re.I,
)
_PERSONA_OUTPUT = re.compile(
    r"^you (?:are|'re) (?:to|required to|expected to|only allowed to|not allowed to|tasked with|"
    r"asked to|supposed to)\b",
    re.I,
)
_INPUT = re.compile(
    r"^(?:the (?:input|text|article|document|transcript|essay|data|content|code|email|user "
    r"(?:input|message)|message|query|question)s? (?:is|are|will|you (?:will )?receive|"
    r"provided|given|below|above)|you (?:will|'ll) (?:be given|receive|get|be provided|be "
    r"shown|see)|you are given|you receive|the user will|the user is|the user's|the user has|"
    r"(?:each|every|the) (?:\w+ )?(?:of the )?(?:context|input|document|transcript|files?|"
    r"code ?base|repository|conversation|chat history)\s+(?:is|are|was|contains?|starts?|has|"
    r"have|includes?|consists?|comes?|will (?:be|contain|include|start)|you (?:receive|get|see))\b|"
    r"input\s*:|here is|here are|here'?s\b|below "
    r"is|below are|the following is|given (?:a|an|the)\b|this is the|attached is)",
    re.I,
)
# "Given the diff, write a review": the input is named, the instruction is the main clause.
_GIVEN_THEN_OUTPUT = re.compile(
    r"^(?:given|based on|using)\b[^.;]{0,120}?[,\s](?:please\s+)?(?:write|output|return|respond|"
    r"reply|answer|generate|produce|create|list|provide|give|summari[sz]e|translate|rewrite|"
    r"extract|classify|rate|draft|compose)\b",
    re.I,
)
_PROCESS = re.compile(
    r"think step[- ]by[- ]step|step[- ]by[- ]step|take a (?:deep )?breath|"
    r"^(?:first(?:ly)?|then|next|after that|afterwards|finally|lastly|step \d+)\b|"
    r"^(?:read|think|consider|analy[sz]e|reflect|understand|study|review|examine|identify|"
    r"figure out|look at|go through|imagine|take|determine|evaluate|assess|spend|fully|deeply|"
    r"carefully|mentally|meditate|digest|internali[sz]e|search|fetch|look up|check|verify|"
    r"make sure you understand|focus|remember|note that|keep in mind)\b",
    re.I,
)
_EXAMPLE_CLOSED = re.compile(r"^[^\"“”]*:\s*[\"“][^\"“”]+[\"”]\W*$")
_EXAMPLE_START = re.compile(
    r"^(?:examples?\s*\d*\s*[:.-]|for (?:example|instance)\b|e\.g\.|here (?:is|are) (?:an? )?"
    r"(?:example|sample)s?|sample (?:output|response|answer|input)s?\s*:|example "
    r"(?:output|response|answer|input)s?\s*:|input\s*:|output\s*:)",
    re.I,
)
_TEMPLATE_INTRO = re.compile(
    r"(?:format|template|structure|schema|like this|as follows|following (?:way|form|layout|sections)|"
    r"output (?:should|must|will) (?:look|be)|respond with|in this form)\b[^.]*:?\s*$",
    re.I,
)
# "[FILENAME] is the lowercase file name", "{topic} is the subject": defines a placeholder.
_DEFINES_PLACEHOLDER = re.compile(
    r"^(?:the\s+)?(?:\[[A-Za-z_][\w ]{0,30}\]|\{\{?\s*[\w.]+\s*\}?\}|<[A-Za-z_][\w ]{0,30}>)"
    r"\s+(?:is|are|means|refers to|will be|contains?|stands for)\b",
    re.I,
)
# "User's OS: {platform.system()}", "%(task)s", "Context: {{ docs }}": a value filled in.
_PLACEHOLDER_TOKEN = (
    r"(?:\{\{[^{}]{1,80}\}\}|\{[^{}\s][^{}]{0,80}\}|%\([A-Za-z_]\w*\)[sdr]|\$\{?[A-Z_]\w*\}?)"
)
_LABELLED_VALUE = re.compile(
    rf"^(?:[\w'’ .-]{{1,40}}:\s*)?[\"'`]?{_PLACEHOLDER_TOKEN}[\"'`]?"
    rf"(?:[\s,;/-]*[\"'`]?{_PLACEHOLDER_TOKEN}[\"'`]?)*\W*$"
)
# "This is your plan so far, in JSON format:": introduces material given to the model.
_INPUT_INTRO = re.compile(
    r"^(?:this|that|these|below|above)\s+(?:is|are)\s+(?:your|the|our|my|a|an)\b[^.!?]*:$", re.I
)
# Configuration scaffolding around a prompt: "system_message: |", 'model: "gpt-4"', "temperature: 0".
_YAML_SCAFFOLD = re.compile(
    r"^[A-Za-z_][\w.-]*:\s*(?:[|>][-+]?|\"[^\"]*\"|'[^']*'|-?\d+(?:\.\d+)?|true|false|null|"
    r"yes|no|~)?\s*$",
    re.I,
)
_HAS_PLACEHOLDER = re.compile(r"\{\{\s*[\w.]+[^{}]*\}\}|\{[A-Za-z_]\w*\}")
_USE_VALUE = re.compile(
    r"\b(?:mention|include|use|refer to|address|cite|quote|repeat|state|name|greet|sign|"
    r"respond in|reply in|write in|answer in|translate)\b",
    re.I,
)
_CAPABILITY = re.compile(
    # "In addition to the usual tools, you can also call ...": a leading phrase before it.
    r"^(?:(?:in addition to|besides|apart from|aside from|beyond|along with|other than)\b[^.;:!?]"
    r"{1,80},\s*)?"
    r"(?:you (?:can|could|may|have access|have the ability|are able|are allowed)|"
    r"the (?:assistant|model|ai) (?:can|has))\b",
    re.I,
)
_BACK_TO_TASK = re.compile(
    r"^\s*(?:now\b|it'?s your turn|your turn|remember\b|always\b|never\b|do not\b|don'?t\b|"
    r"provide\b|respond\b|reply\b|output\b|return\b|answer\b)",
    re.I,
)
_CONDITIONAL_HEADING = re.compile(
    r"[\w)]-specific\b|\bspecific to\b|^(?:if|when|for)\b|\boptional\b|\balternatives?\b|"
    r"\bvariants?\b|\bdepending on\b",
    re.I,
)
# A catalogue of what the model may call: its lead-in or heading names actions, tools, ...
_CATALOGUE_NOUN = re.compile(
    r"\b(?:actions?|arguments?|args|tools?|commands?|functions?|parameters?|params|options?|"
    r"flags?|methods?|endpoints?|apis?|operations?|capabilities|subcommands?|fields?|keys?|"
    r"attributes?|properties)\b",
    re.I,
)
# ... but a lead-in that makes the listed fields part of the response describes the output.
_OUTPUT_FIELDS = re.compile(
    r"\b(?:must|should|shall|needs? to|has to|have to|always)\b|\b(?:response|output|answer|"
    r"reply|your json|the json)\b",
    re.I,
)
_FIELD_NOUN = re.compile(r"\b(?:fields?|keys?|attributes?|properties)\b", re.I)
# One entry: "`name` - description", "`name`: description", "name - description".
_CATALOGUE_ENTRY = re.compile(
    r"^(?:`[^`\n]{1,60}`|\*\*[^*\n]{1,40}\*\*|[A-Za-z_][\w.()/-]{0,40})(?:\s*\([^)]{0,60}\))?"
    r"(?:\s+[-\u2013\u2014]+\s+|\s*:\s+|\s*,\s*which\b\s*)\S"
)
_ARGUMENTS_LEAD_IN = re.compile(r"(?:^|\s)(?:arguments|args|parameters|params)\s*:\s*$", re.I)
_STRONG_OUTPUT = re.compile(
    r"\b(?:must|never|always|do not|don'?t|your (?:response|answer|reply|output)|respond|reply)\b",
    re.I,
)
# "(Open file: <path>) <cwd> $", "[Selected: {item}]": a line of labels and slots shows the
# model a value (its state, a prompt line of its terminal); it asks for nothing.
_SLOT_TOKEN = re.compile(rf"{_PLACEHOLDER_TOKEN}|<[A-Za-z_][\w .-]{{0,30}}>")
_SLOT_LABEL = re.compile(r"[A-Za-z][\w'’ .-]{0,40}:")
# "Always make sure to look at ...", "Please be sure to read ...": an opener before the verb.
_OPENER = re.compile(
    r"^(?:(?:always|please|just|also|so)\s+|(?:make|be)\s+sure\s+(?:to\s+|that\s+you\s+)|"
    r"remember\s+to\s+|try\s+to\s+|don'?t\s+forget\s+to\s+)+",
    re.I,
)
# "The selected folder might be elsewhere", "A job that failed once will fail again", "The
# sandbox cannot reach the network": a statement about things other than the response.
# Not "This may include ...", "These questions may relate to ...": a demonstrative points back
# at the sentence before, which may describe the response.
_DETERMINER_SUBJECT = re.compile(r"^\W*(?:the|a|an|some|such|its)\s+\w", re.I)


# "Everything you write in the NOTES part will be saved for later": what happens to the output
# once written (kept, logged) asks nothing of its content.
_KEPT = re.compile(
    r"^(?:(?!\b(?:must|should|shall|needs? to|has to|have to|only|never|always|do not|don'?t)\b)"
    r"[^.!?;])*\bwill\s+(?:then\s+|also\s+)?be\s+(?:saved|stored|kept|logged|recorded|"
    r"remembered|archived|persisted|cached)\b",
    re.I,
)


def _slots_only(unit: str) -> bool:
    """``unit`` is labels, placeholders and punctuation: "(Open file: <path>) <cwd> $"."""
    if not _SLOT_TOKEN.search(unit):
        return False
    rest = _SLOT_LABEL.sub(" ", _SLOT_TOKEN.sub(" ", unit))
    return not re.search(r"[A-Za-z]", rest)


def _without_placeholders(unit: str) -> str:
    """``unit`` with its placeholders blanked: "named {{name}}" does not ask to name anything."""
    return _SLOT_TOKEN.sub(" X ", unit)


PASTED_MIN_WORDS = 80
PASTED_MIN_LINE_WORDS = 20  # pasted documents are paragraphs; instruction lists are short lines  # a paragraph at least this long and (nearly) instruction-free is pasted


@dataclass(frozen=True)
class Block:
    """A run of lines between blank lines, fences and titles, with where it sits."""

    text: str
    section: str  # kind of the enclosing section: output/process/persona/input/example/none
    heading: str  # the enclosing section's title ("" when none)
    fenced: bool
    template: bool  # inside what the prompt presents as the output's format
    # Under a heading that makes its instructions alternatives or conditional ("Stack-specific
    # instructions" > "## React"): they hold only in some cases.
    conditional: bool = False
    # A JSON Schema of the output (after "... conforming to this schema:"): its keywords (type,
    # properties, description) describe the response's shape; they are not its keys.
    schema: bool = False


@dataclass(frozen=True)
class Sentence:
    """One unit of the prompt with its role and the section it sits in."""

    text: str
    kind: str
    role: Role
    heading: str
    reason: str  # why: "in an EXAMPLES section", "persona phrase", ...
    conditional: bool = False  # see Block.conditional


# A heading that is itself an instruction ("Code: {file}. Write code with ..."): its section
# holds output instructions whatever nouns ("code", "context") it names.
_IMPERATIVE_TITLE = re.compile(
    r"(?:^|[.:;!]\s+)(?:please\s+)?(?:write|output|return|respond|reply|answer|generate|produce|"
    r"create|implement|list|provide|give|summari[sz]e|translate|fill in|complete|rewrite)\s+"
    r"\S+\s+\S+",
    re.I,
)
# "Format example", "Output format example": the output's format shown by an example.
_FORMAT_EXAMPLE_TITLE = re.compile(
    r"\bformat\s+examples?\b|\bexample\s+(?:of\s+the\s+)?format\b", re.I
)


def section_kind(title: str) -> str:
    if _FORMAT_EXAMPLE_TITLE.search(title) or _IMPERATIVE_TITLE.search(title):
        return "output"
    for kind, pattern in _SECTION_KINDS:
        if pattern.search(title):
            return kind
    return "none"


def title_of(line: str) -> str | None:
    """The title when ``line`` is a heading of the prompt: ``# X``, an ALL-CAPS line, or a short
    ``Label:`` line."""
    m = _ATX.match(line)
    if m:
        return m.group(1).strip("*_ :")
    stripped = line.strip().strip("*_").strip()
    letters = re.sub(r"[^A-Za-z]", "", stripped)
    if (
        letters
        and letters.isupper()
        and len(letters) >= 3
        and len(stripped.split()) <= 6
        and not re.search(r"[.!?]$", stripped)
    ):
        return stripped.rstrip(":").strip()
    if stripped.endswith(":") and len(stripped.split()) <= 5 and not re.search(r"[.!?]", stripped):
        return stripped.rstrip(":").strip()
    return None


def blocks(text: str) -> list[Block]:
    """The prompt cut into blocks, each with its section and whether it is fenced/template."""
    out: list[Block] = []
    section, heading = "none", ""
    current: list[str] = []
    fenced = False
    template_next = False  # the previous line introduced an output format

    stack: list[tuple[int, str]] = []  # enclosing Markdown headings: (level, title)

    def conditional() -> bool:
        return any(_CONDITIONAL_HEADING.search(t) for _level, t in stack)

    def flush(is_fenced: bool, is_template: bool) -> None:
        if current:
            body = "\n".join(current)
            schema = is_template and _is_json_schema(body)
            out.append(
                Block(
                    body,
                    section,
                    heading,
                    is_fenced,
                    is_template and not schema,
                    conditional(),
                    schema,
                )
            )
            current.clear()

    template_fence = False
    soft = False  # the example section was opened by a "Label:" line, not a Markdown header
    # An unfenced skeleton of the output after "Follow this format:": XML tags, their labels and
    # slot lines. What its lines say is scoped to a tag, so they are template lines.
    skeleton = False
    depth = 0  # XML tags open in the skeleton
    after_label = False  # the last line was a label of the skeleton ("Thoughts:")
    skeleton_next = False  # the last line ended with "Use this format:"
    # An unfenced JSON literal after "... conforming to the following schema:": the output's
    # template up to its closing bracket (its descriptions say what a field holds).
    json_depth = 0
    for line in text.splitlines():
        if not fenced and (json_depth > 0 or (skeleton_next and _JSON_START.match(line))):
            if json_depth == 0:
                flush(False, skeleton)
                skeleton = False
            if line.strip():
                current.append(line)
            json_depth += _bracket_balance(line)
            if json_depth <= 0:
                flush(False, True)
                json_depth = 0
                template_next = skeleton_next = False
            continue
        if _FENCE.match(line):
            if fenced:
                flush(True, template_fence)
                fenced = False
            else:
                flush(False, skeleton)
                fenced = True
                template_fence = template_next or skeleton or section in ("output",)
            continue
        if fenced:
            current.append(line)
            continue
        if not line.strip():
            flush(False, skeleton)
            continue
        title = title_of(line)
        tag_open, tag_close = _OPEN_TAG.match(line), _CLOSE_TAG.match(line)
        if skeleton and _ATX.match(line):
            flush(False, True)  # a Markdown heading ends the skeleton
            skeleton = False
        if skeleton and depth <= 0 and not (tag_open or tag_close or title is not None):
            # Outside its tags a skeleton goes on only with the slots under a label
            # ("Thoughts:" + "* Thought 1"): a prose line or a new list is instructions again.
            if not (_SLOT_LINE.match(line) and (current or after_label)):
                flush(False, True)
                skeleton = False
        elif (
            not skeleton
            and skeleton_next
            and (tag_open or (title is not None and not current and not _ATX.match(line)))
        ):
            flush(False, False)
            skeleton, depth = True, 0
        if skeleton:
            depth += 1 if tag_open else -1 if tag_close else 0
        after_label = skeleton and title is not None and not current
        if title is not None and section_kind(title) == "example" and current:
            flush(False, False)  # "Example 1:" after a paragraph opens an example
        if (title is not None and _ATX.match(line)) or (title is not None and not current):
            flush(False, False)
            if _ATX.match(line):
                level = len(line.lstrip()) - len(line.lstrip().lstrip("#"))
                while stack and stack[-1][0] >= level:
                    stack.pop()
                stack.append((level, title or ""))
            kind = section_kind(title or "")
            if _ATX.match(line) or kind != "none" or title.isupper():
                section, heading = kind, title or ""
                soft = not _ATX.match(line)
            out.append(Block(line, section, heading, False, False))
            template_next = bool(_TEMPLATE_INTRO.search(line))
            skeleton_next = template_next and line.rstrip().endswith(":") and not _ATX.match(line)
            continue
        if not current and section == "example" and soft and _BACK_TO_TASK.match(line):
            section, heading = "none", ""  # "Now it's your turn ...": the examples are over
        current.append(line)
        template_next = bool(_TEMPLATE_INTRO.search(line))
        skeleton_next = template_next and line.rstrip().endswith(":")
    flush(fenced, (fenced and template_fence) or (skeleton and not fenced))
    return out


_NAMES_OUTPUT_PART = re.compile(
    r"\b(?:section|heading|header)s?\s+(?:called|named|titled|labell?ed)\b"
    r"|\binto (?:a|the) (?:section|list|table)\b"
    # "Think step by step and explain the changes in a few short sentences": the length of
    # what is written is an output instruction, whatever the process around it.
    r"|\b(?:explain|describe|summari[sz]e|write)\b[^.]*\bin (?:just |only )?(?:a few|one|two|three|"
    r"\d+) (?:short )?(?:sentences?|words|lines|paragraphs?)\b",
    re.I,
)
_VERB_ANYWHERE = re.compile(
    r"(?:^|[,;:]\s*|\b(?:and|then)\s+)(?:write|output|list|extract|put|give|rate|provide|"
    r"include|return|respond|summari[sz]e|create|generate|produce)\b",
    re.I,
)


# Verbs that only name writing the response ("list", "include" also name steps of work).
_WRITE_ANYWHERE = re.compile(
    r"(?:^|[,;:]\s*|\b(?:and|then)\s+)(?:write|output|return|respond|reply|produce|generate)\b",
    re.I,
)
_SEQUENCE_WORD = re.compile(
    r"^\W*(?:first(?:ly)?|then|next|after that|afterwards|finally|lastly|step \d+)\b\W*", re.I
)


def _output_verb_anywhere(unit: str) -> bool:
    """An output verb leads the sentence, follows a sequencing word ("First, write a plan")
    or heads a coordinated clause ("think step by step and write three queries")."""
    return bool(
        _OUTPUT_VERBS.search(unit)
        or _OUTPUT_VERBS.search(_SEQUENCE_WORD.sub("", unit))
        or _WRITE_ANYWHERE.search(unit)
    )


def _instruction_like(unit: str) -> bool:
    return bool(
        _OUTPUT_VERBS.search(unit)
        or _VERB_ANYWHERE.search(unit)
        or _NAMES_OUTPUT_PART.search(unit)
        or re.search(r"\b(?:must|should|never|always|do not|don'?t)\b", unit, re.I)
    )


def classify(text: str) -> list[Sentence]:
    """Every unit of ``text`` with its role, in order (headings are left out)."""
    out: list[Sentence] = []
    for block in blocks(text):
        units = split_units_with_kinds(block.text)
        if not units or (
            not block.fenced and title_of(block.text) is not None and "\n" not in block.text
        ):
            continue  # a heading of the prompt, not a sentence
        n_words = len(block.text.split())
        instructive = sum(1 for u, _k in units if _instruction_like(u))
        pasted_block = block.fenced and not block.template and not block.schema
        n_lines = max(1, len([x for x in block.text.splitlines() if x.strip()]))
        if (
            not block.fenced
            and n_words >= PASTED_MIN_WORDS
            and n_words / n_lines >= PASTED_MIN_LINE_WORDS
            and instructive <= len(units) * 0.15
        ):
            pasted_block = True
        in_example = False
        format_list = False  # the items after "must use this format:" describe the output
        catalogue = False  # inside a list of actions/tools/... opened by a lead-in
        catalogue_heading = _catalogue_lead_in(block.heading)
        for i, (unit, kind) in enumerate(units):
            # "`read` - reads a file. Arguments:" is split in two: the entry announces arguments.
            announces = i + 1 < len(units) and bool(_ARGUMENTS_LEAD_IN.match(units[i + 1][0]))
            catalogue, is_reference = _catalogue_step(
                unit, kind, catalogue or announces, catalogue_heading
            )
            if is_reference and not (block.template or block.schema) and block.section != "example":
                out.append(
                    Sentence(
                        unit,
                        kind,
                        "reference",
                        block.heading,
                        "an entry of a catalogue of actions/tools/arguments",
                        block.conditional,
                    )
                )
                continue
            if format_list and kind == "item":
                out.append(
                    Sentence(unit, kind, "example", block.heading, "a line of the output format")
                )
                continue
            format_list = bool(_TEMPLATE_INTRO.search(unit)) and unit.rstrip().endswith(":")
            role, reason = _role(unit, kind, block, pasted_block, in_example)
            if _EXAMPLE_START.match(unit):
                # 'For example: "The weather is sunny [1](...)."' holds its whole example:
                # the lines after it are instructions again.
                # "For example, if X, answer in Y." is a complete sentence: only a lead-in
                # ("For example:", "Example 2") opens a span of example lines.
                in_example = not _EXAMPLE_CLOSED.search(unit) and _opens_example(unit)
            out.append(Sentence(unit, kind, role, block.heading, reason, block.conditional))
    return out


def _catalogue_lead_in(text: str) -> bool:
    """``text`` introduces a catalogue: "Here are the possible actions", "Arguments:", a
    "Tools" heading; not "It must contain two fields:" (the response's own fields)."""
    if not _CATALOGUE_NOUN.search(text):
        return False
    nouns = {m.group(0).casefold() for m in _CATALOGUE_NOUN.finditer(text)}
    only_fields = all(_FIELD_NOUN.fullmatch(n) for n in nouns)
    return not (only_fields and _OUTPUT_FIELDS.search(text))


def _catalogue_step(unit: str, kind: str, catalogue: bool, heading: bool) -> tuple[bool, bool]:
    """(catalogue mode after ``unit``, whether ``unit`` is reference material).

    A lead-in ending in ":" that names actions/tools/arguments/... opens a catalogue, and so
    does an entry that announces its own arguments ("`read` - reads a file. Arguments:").
    In a catalogue its entries and their description lines are reference; a paragraph line
    that is not an entry closes it. Under a heading naming a catalogue ("## Tools") only the
    entries themselves are reference."""
    stripped = unit.strip()
    lead_in = stripped.endswith(":") and _catalogue_lead_in(stripped)
    entry = bool(_CATALOGUE_ENTRY.match(stripped))
    if lead_in:
        # "Arguments:" alone is reference; "Your response must use these fields:" is not.
        return True, catalogue and not _instruction_like(stripped)
    if entry and (catalogue or heading or _ARGUMENTS_LEAD_IN.search(unit)):
        return True, True
    if catalogue and kind == "item":
        return True, not _STRONG_OUTPUT.search(unit)
    if catalogue and kind != "item":
        return False, False
    return catalogue, False


def _opens_example(unit: str) -> bool:
    stripped = unit.strip().strip("*_").strip()
    return stripped.endswith(":") or (
        len(stripped.split()) <= 3 and not re.search(r"[.!?][\"'”’)\]]*$", stripped)
    )


_JINJA = re.compile(r"\{%.*?%\}|\{\{.*?\}\}|\{#.*?#\}", re.S)


def _only_markup(unit: str) -> bool:
    """Jinja tags, ``~~SECTION~~`` delimiters and bold labels carry no instruction."""
    rest = _JINJA.sub(" ", unit)
    if len(re.findall(r"[A-Za-z]{2,}", rest)) < 2 and _JINJA.search(unit):
        return True
    stripped = unit.strip()
    if re.match(r"^</?[A-Za-z][\w:-]*(?:\s[^<>]*)?/?>", stripped):
        return True  # a line of HTML/XML pasted into the prompt
    return bool(re.fullmatch(r"[~=*_#<>\[\]-]{2,}\s*[\w .-]{1,60}?\s*[~=*_#<>\[\]-]{2,}", stripped))


def _role(
    unit: str, kind: str, block: Block, pasted_block: bool, in_example: bool
) -> tuple[Role, str]:
    if _only_markup(unit):
        return "input", "a template directive or delimiter"
    if block.template:
        return "example", "a line of the output template"
    if block.schema:
        return "example", "a line of the output's JSON schema"
    if block.section == "example":
        return "example", f"in the {block.heading} section"
    if pasted_block:
        return "pasted", "fenced text" if block.fenced else "a long paragraph without instructions"
    if in_example or _EXAMPLE_START.match(unit):
        return "example", "example text"
    if _PERSONA_OUTPUT.match(unit):
        return "output", "the task assigned"
    if _PERSONA.match(unit):
        return "persona", "persona phrase"
    if _INPUT_INTRO.match(unit.strip()):
        return "input", "introduces material that follows"
    if _LABELLED_VALUE.match(unit.strip()):
        return "input", "states an input value"
    if _YAML_SCAFFOLD.match(unit.strip()) and (
        "_" in unit.split(":", 1)[0] or unit.split(":", 1)[1].strip()
    ):
        return "input", "configuration around the prompt"
    if (_INPUT.match(unit) and not _GIVEN_THEN_OUTPUT.match(unit)) or _DEFINES_PLACEHOLDER.match(
        unit
    ):
        return "input", "describes the input"
    if _slots_only(unit.strip()):
        return "input", "a line of labels and placeholders: a value shown to the model"
    bare = _without_placeholders(unit)
    if _HAS_PLACEHOLDER.search(unit) and not (
        _OUTPUT_VERBS.match(bare)
        or _USE_VALUE.search(bare)
        or re.search(r"\b(?:should|must|shall|needs? to|has to|have to)\b", bare, re.I)
    ):
        return "input", "states an input value"
    if _CAPABILITY.match(unit):
        return "persona", "what the model can do"
    if _KEPT.match(unit.strip()):
        return "process", "says what happens to the output once written, not what it holds"
    output_words = bool(OUTPUT_NOUNS.search(unit))
    if _NAMES_OUTPUT_PART.search(unit):
        return "output", "names a part of the output"
    if (
        (_PROCESS.search(unit) or _PROCESS.search(_OPENER.sub("", unit.strip())))
        and not (output_words and _output_verb_anywhere(unit))
        and not re.search(r"\b(?:output|response|answer|reply)\b", unit, re.I)
    ):
        return "process", "a process step"
    if (
        _DETERMINER_SUBJECT.match(unit)
        and not output_words
        and not _instruction_like(unit)
        and not re.search(r"\b(?:you|your)\b", _first_clause(unit), re.I)
    ):
        return "input", "a statement about the environment, not about the response"
    if block.section == "input":
        return "input", f"in the {block.heading} section"
    if block.section == "persona" and (
        not _instruction_like(unit)
        or re.match(r"^(?:you|we|i)\s+(?!must|should|will|shall)", unit, re.I)
    ):
        return "persona", f"in the {block.heading} section"
    if block.section == "process" and not (output_words and _instruction_like(unit)):
        return "process", f"in the {block.heading} section"
    return "output", "output instruction"


def _first_clause(unit: str) -> str:
    return re.split(r"[,;:]|\s[-\u2013\u2014]\s|\b(?:unless|if|when|so)\b", unit, maxsplit=1)[0]


_JSON_START = re.compile(r"^\s*[{\[]\s*(?:$|[\"{\[])")
_JSON_STRING = re.compile(r'"(?:\\.|[^"\\])*"')


def _bracket_balance(line: str) -> int:
    """Opened minus closed brackets of a JSON line, outside its strings."""
    bare = _JSON_STRING.sub("", line)
    return bare.count("{") + bare.count("[") - bare.count("}") - bare.count("]")


_SCHEMA_KEYWORDS = re.compile(
    r'"(?:\$schema|properties|additionalProperties|\$defs|definitions)"\s*:'
)


def _is_json_schema(body: str) -> bool:
    """``body`` is a JSON Schema: a JSON literal with schema keywords ("$schema",
    "properties" next to "type")."""
    stripped = body.strip()
    if not stripped.startswith(("{", "[")):
        return False
    return bool(_SCHEMA_KEYWORDS.search(stripped)) and bool(re.search(r'"type"\s*:', stripped))
