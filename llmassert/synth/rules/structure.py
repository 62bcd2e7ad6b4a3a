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
_USE_SECTIONS = re.compile(
    r"\b(?:use|with|include|contain|have|add|organi[sz]e\w*|divide\w*|split|structure\w*)\b[^.]{0,40}\b(?:headers?|headings?|sections?)\b",
    re.I,
)
_NAMED_SECTIONS = re.compile(
    r"\b(?:headers?|headings?|sections?|parts?)\s*(?:called|named|titled|entitled|:|such as|like|including)\s*:?\s*(?P<names>.+)$",
    re.I,
)
_LABEL = re.compile(r"^[\"“']?(?P<label>[A-Z][\w&/'’ -]{1,50}?)\s*:\s+\S")
_JSON = re.compile(r"\bjson\b", re.I)
_JSON_KEYS = re.compile(
    r"\b(?:keys?|fields?|properties|attributes)\b\s*(?:called|named|:)?\s*(?P<names>[^.;]+)", re.I
)

checks = Family("structure")


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
    text = criterion.text
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
    if m:
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
    if label and (_SECTIONS_WORD.search(text) or _SECTIONS_WORD.search(criterion.context)):
        name = label.group("label").strip()
        if len(name.split()) <= 6:
            return [name]
    return []


@checks.rule
def _section_checks(criterion: Criterion) -> list[Check]:
    text = criterion.text
    names = section_names(criterion)
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
    if m and not negated(text, m.start()):
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


checks.when(
    (r"\bcode ?blocks?\b|\bfenced\b|\bin backticks\b|```"),
    if_negated=[
        Check(
            "no_code_block",
            "No fenced code block.",
            "return not code_blocks(response)",
            ("code_blocks",),
        )
    ],
    stated=[
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
    ],
)
checks.when(
    (r"\btables?\b(?! of contents)|\btabular\b"),
    if_negated=[
        Check(
            "no_table",
            "No markdown table.",
            "return not has_markdown_table(response)",
            ("has_markdown_table",),
        )
    ],
    stated=[
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
    ],
)


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
    out = [
        Check(
            "json_strict",
            "The whole response is valid JSON.",
            "return is_json(response)",
            ("is_json",),
        ),
        Check(
            "json_lenient",
            "Contains valid JSON (possibly fenced or with prose around it).",
            "return is_json(response, lenient=True)",
            ("is_json",),
        ),
    ]
    if re.search(r"\bjson (?:array|list)\b|\barray\b", hit.text, re.I):
        out.append(
            Check(
                "is_json_array",
                "A JSON array.",
                "return isinstance(parse_json(response, lenient=True), list)",
                ("parse_json",),
            )
        )
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
                f"JSON (possibly fenced) with keys {', '.join(keys)}, any case.",
                f"return has_json_keys(response, {names}, lenient=True, case=False)",
                ("has_json_keys",),
            )
        )
    return out


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
