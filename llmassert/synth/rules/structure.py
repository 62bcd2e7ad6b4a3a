"""Structure and format: bullets, numbered lists, sections/headers, markdown, code blocks, tables, JSON.

Recognized (negated forms give the opposite check):

- bullets: "Response must be in bullets", "use bullet points", "as a list";
- numbered lists: "a numbered list of steps";
- sections: "contain the following headers: A, B", "include a section called 'Risks'", and a
  "Label: what goes there" line whose context talks about headers/sections (checked by title);
  "use headers/sections" without names checks that there are some;
- markdown ("markdown notation") and plain text ("plain text", "no markdown");
- code blocks ("in a code block", "fenced"), tables ("as a table");
- JSON ("respond in JSON"), JSON objects/arrays, and JSON with keys ("with keys name and age").
"""

from __future__ import annotations

import re

from llmassert.synth.models import Criterion
from llmassert.synth.rules.base import Check, literal, negated, quoted, slug, unique
from llmassert.synth.rules.registry import Family, Hit

_MARKDOWN = re.compile(r"\bmarkdown\b", re.I)
_PLAIN = re.compile(r"\bplain text\b|\bno formatting\b|\bwithout (?:any )?formatting\b", re.I)
_SECTIONS_WORD = re.compile(r"\b(?:headers?|headings?|sections?)\b", re.I)
# "Use/organize/split ... (into/with) sections": an imperative (at the start, or after a modal or
# "to") that makes sections part of the response; the word before the noun must not say what kind
# of content the sections are ("unimplemented sections", "code sections" are parts of something
# else), so only a small set of neutral modifiers is accepted there.
_USE_SECTIONS = re.compile(
    r"(?:^\W*(?:[A-Z][\w ]{0,30}:\s*)?(?:please\s+|always\s+|also\s+)?"
    r"|\b(?:should|must|shall|will|need to|needs to|to|and|then)\s+(?:always\s+|also\s+)?)"
    r"(?:use|include|contain|have|add|organi[sz]e|divide|split|structure|break|format|group|"
    r"separate)\b(?P<span>[^.;!?]{0,40}?)\b(?:headers?|headings?|sections?)\b",
    re.I,
)
_NEUTRAL_SECTION_MODIFIERS = frozenset(
    [
        "use",
        "include",
        "contain",
        "have",
        "add",
        "organize",
        "organise",
        "divide",
        "split",
        "structure",
        "break",
        "format",
        "group",
        "separate",
        "it",
        "up",
        "into",
        "with",
        "in",
        "by",
        "using",
        "and",
        "or",
        "of",
        "a",
        "the",
        "your",
        "its",
        "some",
        "clear",
        "separate",
        "distinct",
        "different",
        "multiple",
        "several",
        "logical",
        "labeled",
        "labelled",
        "titled",
        "markdown",
        "section",
        "descriptive",
        "short",
        "meaningful",
        "numbered",
        "bold",
        "main",
        "named",
        "appropriate",
        "two",
        "three",
        "four",
        "five",
        "level",
        "h1",
        "h2",
        "h3",
        "#",
        "##",
        "response",
        "answer",
        "output",
        "reply",
        "report",
        "document",
        "text",
        "summary",
        "it",
        "following",
        "these",
        "those",
        "below",
        "above",
        "given",
        "listed",
        "required",
        "proper",
        "standard",
    ]
)
_NAMED_SECTIONS = re.compile(
    r"\b(?:headers?|headings?|sections?|parts?)\s*(?:called|named|titled|entitled|:|such as|like|including)\s*:?\s*(?P<names>.+)$",
    re.I,
)
_LABEL = re.compile(r"^[\"“']?(?P<label>[A-Z][\w&/'’ -]{1,50}?)\s*:\s+\S")
# What follows "Label:" is an instruction to the model, not a description of a section's content
# ("Note: ALWAYS use ...", "Rule: If ..., do ...", "Tip: Use ..."): the line is the prompt's own
# note, not a section the response must have. A description reads "This section ...", "A short
# summary of ...", "Potential risks ...".
_INSTRUCTION_AFTER_LABEL = re.compile(
    r"\W*(?:(?:if|when|whenever|unless|once|before|after|always|never|please|do|don'?t|"
    r"make sure|ensure|be|use|follow|write|set|avoid|keep|return|add|remove|include|"
    r"implement|check|try|remember|note that|you)\b"
    r"|.*\b(?-i:MUST|SHOULD|SHALL|ALWAYS|NEVER|DO NOT|DON'T)\b"
    r"|.*\b(?:you|the model) (?:must|should|shall|need to|have to)\b)",
    re.I,
)
_JSON = re.compile(r"\bjson\b", re.I)
_JSON_KEYS = re.compile(
    r"\b(?:keys?|fields?|properties|attributes)\b\s*(?:called|named|:)?\s*(?P<names>[^.;]+)", re.I
)

# A line of a JSON schema or sample ('"plan": "- short bulleted list"', '"summary": "markdown
# text",'): the words in the value describe that one field of a JSON reply, whose string holds
# them escaped, so they say nothing about the shape of the whole response.
_JSON_MEMBER = re.compile(r"^\s*[\"“'`][^\"“”'`\n]{1,60}[\"”'`]\s*:\s*[\"“\[{]")


def json_member(text: str) -> bool:
    """True when ``text`` is a member line of a JSON object (a field and its value)."""
    return _JSON_MEMBER.match(text) is not None


def _read(criterion: Criterion) -> str:
    """What the pattern rules of this family read: nothing for a JSON member line."""
    return "" if json_member(criterion.text) else criterion.text


checks = Family("structure", text=_read)


@checks.on(
    r"\bbullet(?:ed|s|[- ]points?| list)?\b|\bdot points\b|\bas a list\b|\bin a list\b|\blist format\b"
)
def _bullet_checks(hit: Hit) -> list[Check]:
    if _JSON.search(hit.text) and not re.search(r"\bbullet", hit.text, re.I):
        return []  # "a list of strings in a JSON object" is JSON, not bullets
    if hit.negated:
        return [
            Check(
                "no_list_items_strict",
                "No bullet or numbered items.",
                "return not list_items(response)",
                ("list_items",),
            ),
            Check(
                "no_bullets_lenient",
                "No bullet items (numbered lists allowed).",
                "return not bullets(response)",
                ("bullets",),
            ),
        ]
    return [
        Check(
            "bullets_mostly_strict",
            "Mostly bullets: list items are at least half of the non-header lines.",
            "items = len(list_items(response))\n"
            "return items >= 2 and items * 2 >= line_count(response) - len(headers(response))",
            ("list_items", "line_count", "headers"),
        ),
        Check(
            "has_bullets_lenient",
            "Has at least one bullet or numbered item.",
            "return bool(list_items(response))",
            ("list_items",),
        ),
    ]


checks.when(
    (r"\bnumbered (?:list|steps|items|points)\b|\bnumber each\b"),
    stated=[
        Check(
            "numbered_list_strict",
            "A numbered list (2+ items).",
            "return len(numbered_items(response)) >= 2",
            ("numbered_items",),
        ),
        Check(
            "numbered_list_lenient",
            "At least one numbered item.",
            "return bool(numbered_items(response))",
            ("numbered_items",),
        ),
    ],
)


@checks.rule
def _markdown_checks(criterion: Criterion) -> list[Check]:
    text = _read(criterion)
    m = _MARKDOWN.search(text)
    plain = _PLAIN.search(text)
    if (m and negated(text, m.start())) or (plain and not negated(text, plain.start())):
        return [
            Check(
                "plain_text_strict",
                "Plain text: no markdown syntax at all.",
                "return not is_markdown(response)",
                ("is_markdown",),
            ),
            Check(
                "plain_text_lenient",
                "Plain text: no markdown headers or bold.",
                "return not markdown_headers(response) and '**' not in response",
                ("markdown_headers",),
            ),
        ]
    if m and not _markdown_for_a_part(text, m):
        return [
            Check(
                "markdown_headers_strict",
                "Markdown with at least one # header.",
                "return bool(markdown_headers(response))",
                ("markdown_headers",),
            ),
            Check(
                "markdown_lenient",
                "Uses some markdown syntax.",
                "return is_markdown(response)",
                ("is_markdown",),
            ),
        ]
    return []


# What markdown is for, when it is not the whole response: "using markdown to format the comment",
# "markdown in the description field", "inside the <review> tag".
_RESPONSE_NOUNS = r"(?:response|responses|answer|answers|reply|replies|output|message|messages|text|report|everything|markdown|format|formatting|syntax|style|notation)"
_MARKDOWN_SCOPE = re.compile(
    r"\b(?:to format|for|in|inside|within|of)\s+(?:the|your|its|their|a|an|any|this|that)\s+"
    r"(?:[\w-]+\s+){0,2}?(?P<noun>[\w-]+)\b"
    r"|<[A-Za-z][\w-]*>",
    re.I,
)


def _markdown_for_a_part(text: str, m: re.Match[str]) -> bool:
    """True when the markdown a sentence asks for is not required of the whole response: the
    sentence holds under a condition ("if/when/unless ..."), or markdown formats one part of it
    (a field, a tag, "the comment")."""
    if re.search(r"\b(?:if|when|whenever|unless|where(?:ver)?|as needed|if needed)\b", text, re.I):
        return True
    for scope in _MARKDOWN_SCOPE.finditer(text):
        noun = scope.group("noun")
        if noun is None or not re.fullmatch(_RESPONSE_NOUNS, noun, re.I):
            return True
    return False


def section_names(criterion: Criterion) -> list[str]:
    """Section titles a criterion asks for: listed after "headers:" or as its "Label: ..." line."""
    text = criterion.text
    m = _NAMED_SECTIONS.search(text)
    if m:
        names = quoted(m.group("names"), max_words=6)
        if not names:
            parts = re.split(r"[,;]", re.split(r"[.!?]", m.group("names"))[0])
            if len(parts) > 1:  # "A, B and C": only the last item can hide an "and"
                parts[-1:] = re.split(r"\s+and\s+", parts[-1].strip(), maxsplit=1)
            names = [re.sub(r"^and\s+", "", p.strip(" \"'“”")) for p in parts]
        return unique(n for n in names if n and len(n.split()) <= 6 and n[0].isupper())
    label = _LABEL.match(text)
    if (
        label
        and (_SECTIONS_WORD.search(text) or _SECTIONS_WORD.search(criterion.context))
        and not _INSTRUCTION_AFTER_LABEL.match(text[label.end() - 1 :])
    ):
        name = label.group("label").strip()
        if len(name.split()) <= 6:
            return [name]
    return []


def _neutral_modifier(m: re.Match[str]) -> bool:
    """True when the word before "sections/headers" does not name a kind of content."""
    words = re.findall(r"[\w#'-]+", m.string[: m.end("span")].casefold())
    return not words or words[-1] in _NEUTRAL_SECTION_MODIFIERS


@checks.rule
def _section_checks(criterion: Criterion) -> list[Check]:
    text = _read(criterion)
    names = section_names(criterion) if text else []
    if names:
        key = slug(" ".join(names), max_words=6)
        titles = literal(tuple(names))
        return [
            Check(
                f"sections_{key}_strict",
                f"Has sections titled exactly {', '.join(names)} (headers, bold lines or 'Title:' lines).",
                f"return all(has_section(response, t, exact=True) for t in {titles})",
                ("has_section",),
            ),
            Check(
                f"sections_{key}_lenient",
                f"Has sections starting with {', '.join(names)}.",
                f"return all(has_section(response, t) for t in {titles})",
                ("has_section",),
            ),
            Check(
                f"mentions_{key}",
                f"Mentions {', '.join(names)} somewhere.",
                f"return contains_all(response, {titles})",
                ("contains_all",),
            ),
        ]
    m = _USE_SECTIONS.search(text)
    if m and not negated(text, m.start("span")) and _neutral_modifier(m):
        return [
            Check(
                "has_headers_strict",
                "At least two markdown # headers.",
                "return len(markdown_headers(response)) >= 2",
                ("markdown_headers",),
            ),
            Check(
                "has_sections_lenient",
                "At least two section titles of any kind.",
                "return len(section_titles(response)) >= 2",
                ("section_titles",),
            ),
        ]
    return []


_CODE_BLOCK = re.compile(r"\bcode ?blocks?\b|\bfenced\b|\bin backticks\b|```", re.I)
# "more than one X" / "multiple X": a negation of these limits X to one, it does not ban X.
_MULTIPLE = re.compile(
    r"\b(?:multiple|several|many|more than (?:one|a single)|two or more|(?:a )?couple of|"
    r"(?:a )?number of|lots of|a lot of)\s+(?:\w+\s+){0,2}$",
    re.I,
)
# A clause after the thing banned that says when the ban applies ("don't use a code block unless
# the user should run it", "... if it is not meant to be run", "... that the user cannot run").
_TRAILING_CONDITION = re.compile(
    r"^[^.;!?]*?\b(?:unless|if|when|whenever|where|that|which|except|other than|only)\b", re.I
)


def limits_to_one(text: str, position: int) -> bool:
    """True when the words before ``position`` say "multiple / more than one / several"."""
    return _MULTIPLE.search(text[:position]) is not None


def trailing_condition(text: str, end: int) -> bool:
    """True when a clause after ``end`` (in the same sentence) restricts what comes before."""
    return _TRAILING_CONDITION.match(text[end:]) is not None


_AT_MOST_ONE_CODE_BLOCK = Check(
    "at_most_one_code_block",
    "At most one fenced code block.",
    "return len(code_blocks(response)) <= 1",
    ("code_blocks",),
)


@checks.on(_CODE_BLOCK)
def _code_block_checks(hit: Hit) -> list[Check]:
    if hit.negated:
        if limits_to_one(hit.text, hit.match.start()):
            return [_AT_MOST_ONE_CODE_BLOCK]
        if trailing_condition(hit.text, hit.match.end()):
            return []  # "don't use a code block unless ...": a ban under a condition
        if _asks_for_code_blocks(hit.criterion.context.replace(hit.criterion.text, " ")):
            return []  # the same prompt asks for code blocks elsewhere: the ban is partial
        return [
            Check(
                "no_code_block",
                "No fenced code block.",
                "return not code_blocks(response)",
                ("code_blocks",),
            )
        ]
    if limits_to_one(hit.text, hit.match.start()):
        return []  # "you may use multiple code blocks": a permission
    return [
        Check(
            "code_block_only_strict",
            "The whole response is one fenced code block.",
            "stripped = response.strip()\nreturn stripped.startswith(('```', '~~~')) and stripped.endswith(('```', '~~~')) and len(code_blocks(response)) == 1",
            ("code_blocks",),
        ),
        Check(
            "has_code_block_lenient",
            "Contains a fenced code block.",
            "return bool(code_blocks(response))",
            ("code_blocks",),
        ),
    ]


def _asks_for_code_blocks(context: str) -> bool:
    """True when a sentence of ``context`` asks for code blocks (not negated)."""
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", context):
        m = re.search(r"\bcode ?blocks?\b", sentence, re.I)
        if m and not negated(sentence, m.start()) and not limits_to_one(sentence, m.start()):
            return True
    return False


@checks.on(r"\btables?\b(?! of contents)|\btabular\b")
def _table_checks(hit: Hit) -> list[Check]:
    if hit.negated:
        if limits_to_one(hit.text, hit.match.start()):
            return [
                Check(
                    "at_most_one_table",
                    "At most one markdown table.",
                    "return sum(1 for line in lines(response) if re.match(r'\\s*\\|?\\s*:?-{3,}', line)) <= 1",
                    ("lines",),
                    ("re",),
                )
            ]
        if trailing_condition(hit.text, hit.match.end()):
            return []
        return [
            Check(
                "no_table",
                "No markdown table.",
                "return not has_markdown_table(response)",
                ("has_markdown_table",),
            )
        ]
    if limits_to_one(hit.text, hit.match.start()):
        return []
    return [
        Check(
            "markdown_table_strict",
            "Contains a markdown table (header and --- separator).",
            "return has_markdown_table(response)",
            ("has_markdown_table",),
        ),
        Check(
            "table_rows_lenient",
            "Has at least two table-like rows (two or more '|').",
            "return sum(1 for line in lines(response) if line.count('|') >= 2) >= 2",
            ("lines",),
        ),
    ]


def _json_keys(text: str) -> list[str]:
    m = _JSON_KEYS.search(text)
    if not m:
        return []
    names = quoted(m.group("names"), max_words=1)
    if not names:
        names = [n.strip(" \"'`") for n in re.split(r",|\band\b|\bor\b|/", m.group("names"))]
        names = [n for n in names if re.fullmatch(r"[A-Za-z_][\w-]{0,40}", n)]
    return unique(names)


@checks.on(_JSON)
def _json_checks(hit: Hit) -> list[Check]:
    if hit.negated:
        return [
            Check(
                "not_json",
                "Not JSON (not even inside a code fence).",
                "return not is_json(response, lenient=True)",
                ("is_json",),
            )
        ]
    # "suitable for JSON.parse()", "parsable by json.loads", "respond with only valid JSON": the
    # reply itself is what is parsed, so nothing (no prose, no fence) may surround the JSON.
    whole = _PARSED_AS_IS.search(hit.text) is not None
    out = [
        Check(
            "json_strict",
            "The whole response is valid JSON.",
            "return is_json(response)",
            ("is_json",),
        )
    ]
    if not whole:
        out.append(
            Check(
                "json_lenient",
                "Contains valid JSON (possibly fenced or with prose around it).",
                "return is_json(response, lenient=True)",
                ("is_json",),
            )
        )
    parse = "parse_json(response.strip())" if whole else "parse_json(response, lenient=True)"
    if re.search(r"\bjson (?:array|list)\b|\barray\b", hit.text, re.I):
        out.append(
            Check(
                "is_json_array",
                "A JSON array" + (" (the whole response)." if whole else "."),
                f"return isinstance({parse}, list)",
                ("parse_json",),
            )
        )
        if _OF_STRINGS.search(hit.text):
            out.append(_array_of_strings(parse, whole, _RESPONSE_IS_LIST.search(hit.text)))
    elif re.search(r"\bobject\b|\bdict", hit.text, re.I):
        out.append(
            Check(
                "is_json_object",
                "A JSON object.",
                "return json_object(response, lenient=True) is not None",
                ("json_object",),
            )
        )
    keys = _json_keys(hit.text)
    if keys:
        key = slug(" ".join(keys), max_words=5)
        names = literal(tuple(keys))
        out.append(
            Check(
                f"json_keys_{key}_strict",
                f"Valid JSON object with keys {', '.join(keys)}.",
                f"return has_json_keys(response, {names})",
                ("has_json_keys",),
            )
        )
        out.append(
            Check(
                f"json_keys_{key}_lenient",
                f"JSON{'' if whole else ' (possibly fenced)'} with keys {', '.join(keys)}, any case.",
                f"return has_json_keys(response, {names}, lenient={not whole}, case=False)",
                ("has_json_keys",),
            )
        )
        if len(keys) == 1 and _OF_STRINGS.search(hit.text[hit.text.find(keys[0]) :]):
            # 'a key "tags" whose value is a list of strings': that field is a list of strings.
            out.append(
                Check(
                    f"json_{slug(keys[0])}_list_of_strings",
                    f"JSON field '{keys[0]}' is a list of strings.",
                    _read_field(keys[0])
                    + "return isinstance(value, list) and all(isinstance(v, str) for v in value)",
                    ("json_object",),
                )
            )
    return out


_PARSED_AS_IS = re.compile(
    r"\bjson\.(?:parse|loads?)\b|\b(?:json[- ])?pars(?:e)?able\b|\bparsed (?:directly )?(?:by|with)\b"
    r"|\b(?:only|nothing but|nothing other than|nothing except)\s+(?:a\s+|one\s+)?(?:valid\s+)?json\b"
    r"|\bjson\s+only\b",
    re.I,
)
# "an array of strings", "a list of short strings": every item is a string (not an object).
_OF_STRINGS = re.compile(r"\b(?:array|list)\s+of\s+(?:[\w-]+\s+)?strings\b", re.I)


# "Submit your response as an array of strings", "the output must be a list of strings": the
# reply itself is the list. "Give the queries as a JSON list of strings" names what the list
# holds, not the reply: the list may be the value of one field of a JSON object reply.
_RESPONSE_IS_LIST = re.compile(
    r"\b(?:your|the)\s+(?:whole\s+|entire\s+)?(?:response|reply|output|answer)\s+(?:\w+\s+){0,3}?"
    r"(?:as|in|is|be)\s+(?:a|an|one)\s+(?:[\w-]+\s+){0,3}?(?:array|list)\b",
    re.I,
)


def _array_of_strings(parse: str, whole: bool, reply_is_list: object) -> Check:
    """The reply is a JSON array of strings, or (when the sentence does not say the reply itself
    is the list) a JSON object holding such a list as one of its values."""
    where = " (the whole response)" if whole else ""
    if reply_is_list:
        return Check(
            "json_array_of_strings",
            f"A JSON array whose items are all strings{where}.",
            f"value = {parse}\n"
            "return isinstance(value, list) and all(isinstance(v, str) for v in value)",
            ("parse_json",),
        )
    return Check(
        "json_array_of_strings",
        f"A JSON array of strings{where}, or a JSON object holding one as a value.",
        f"value = {parse}\n"
        "if isinstance(value, dict):\n"
        "    value = next((v for v in value.values() if isinstance(v, list)), None)\n"
        "return isinstance(value, list) and all(isinstance(v, str) for v in value)",
        ("parse_json",),
    )


def _read_field(key: str) -> str:
    """Generated code setting ``value`` to field ``key`` of the JSON answer (None if absent)."""
    return f"obj = json_object(response, lenient=True)\nvalue = None if obj is None else obj.get({key!r})\n"


@checks.on(
    r"[\"“'`](?P<key>[A-Za-z_][\w-]{0,40})[\"”'`]\s+(?:to|must be|should be|is|as|=)\s+(?:(?:one|any) of\s*:?\s*)?(?P<values>[\"“'`].+)$",
    skip_negated=True,
)
def _json_field_values(hit: Hit) -> list[Check]:
    """A field of a JSON answer takes one of the quoted values ("set "status" to "open" or ...")."""
    if not (_JSON.search(hit.text) or _JSON.search(hit.criterion.context)):
        return []
    values = quoted(hit.match.group("values"), max_words=4)
    if len(values) < 2:
        return []
    key, allowed = hit.match.group("key"), tuple(values)
    read = _read_field(key)
    return [
        Check(
            f"json_{slug(key)}_in_values_strict",
            f"JSON field '{key}' is one of {', '.join(values)}.",
            read + f"return isinstance(value, str) and value in {literal(allowed)}",
            ("json_object",),
        ),
        Check(
            f"json_{slug(key)}_in_values_lenient",
            f"JSON field '{key}' is one of {', '.join(values)}, any case.",
            read
            + f"return str(value).strip().casefold() in {literal(tuple(v.casefold() for v in values))}",
            ("json_object",),
        ),
    ]


@checks.on(
    r"\b(?P<q>at most|no more than|up to|at least|exactly)\s+(?P<n>\d+)\s+(?:\w+\s+)?(?:items?|entries|elements|values|steps)\s+(?:in|for|under)\s+(?:the\s+)?[\"“'`](?P<key>[A-Za-z_][\w-]{0,40})[\"”'`]"
)  # a quoted field name is signal enough: no JSON word needed
def _json_field_count(hit: Hit) -> list[Check]:
    """A field of a JSON answer holds at most / at least / exactly N items."""
    m = hit.match
    key, n, q = m.group("key"), int(m.group("n")), m.group("q").casefold()
    op = {"at least": ">=", "exactly": "=="}.get(q, "<=")
    return [
        Check(
            f"json_{slug(key)}_count_{op_name(op)}_{n}",
            f"JSON field '{key}' is a list with {q} {n} items.",
            _read_field(key) + f"return isinstance(value, list) and len(value) {op} {n}",
            ("json_object",),
        )
    ]


def op_name(op: str) -> str:
    return {"<=": "max", ">=": "min", "==": "exact"}[op]
