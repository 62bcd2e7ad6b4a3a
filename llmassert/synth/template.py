"""The output template as a structure: what the prompt says the response looks like.

Read from the checked version of a prompt (no model):

- **sections** — "in a section called IDEAS", "Create the following output sections:" followed
  by a list, the titles of an output template (a fenced block or the lines after "Use this
  format:" — ``## TITLE``, ``TITLE:``, ``**Title**``);
- **order** — "Output all sections above in order", "in this order", or a template block;
- **per-section limits** — from the sentence naming the section: item counts ("20 to 50
  ideas"), per-item word or sentence limits ("Each bullet must be 8 words or less" — scoped to
  the section it names, or to every bullet when it names none), sentence counts ("write a
  single sentence");
- **allowed labels** — "ONLY generate labels from the list above" (the nearest list),
  "one of: A, B, C";
- **rating scales** — ``NONE DETECTED, LOW, MEDIUM, HIGH, or CRITICAL``, "1 - 10, in .1
  intervals";
- **JSON fields** — the keys of a JSON example in the output format.

:func:`scope_of` tells which part of a response one instruction is about; :func:`filled` writes
a plausible response that follows the template, the self-test every selected check must pass.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from llmassert.synth.roles import Sentence, blocks, title_of
from llmassert.textunits import split_units_with_kinds

NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "single": 1, "a single": 1, "two": 2, "three": 3, "four": 4,
    "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11,
    "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "fifty": 50, "hundred": 100,
}  # fmt: skip
_NUM = r"(\d+|a single|single|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|fifty)"
_LIST_ITEM = re.compile(r"^\s*(?:[-*•+]|\d+[.)])\s+(.*)$")  # "- item", "2. item": group 1 the item
_LABEL_SEPARATOR = re.compile(r"\s*(?::|\s-\s|\s–\s)\s*")  # "Name: what", "Name - what"
_SECTION_NAMED = re.compile(
    r"\b(?:section|heading|header|part|block)s?\s+(?:called|named|titled|labell?ed|with the "
    r"(?:title|heading|header))\s*:?\s*(?:[\"'`“‘*]+([^\"'`”’*\n]{1,50})[\"'`”’*]+|"
    r"((?:[A-Z0-9][A-Z0-9&'/-]*)(?:\s+[A-Z0-9][A-Z0-9&'/-]*)*))"
)
_FOLLOWING_SECTIONS = re.compile(
    r"\b(?:following|these)\s+(?:output\s+)?(?:sections|headers|headings|parts)\b", re.I
)
_IN_ORDER = re.compile(
    r"\b(?:in (?:this|that|the (?:same|following|given|above) )?order|in order|"
    r"in the order (?:given|above|listed|shown))\b",
    re.I,
)
_EACH = re.compile(
    r"\b(?:each|every|per|all(?: of)? the|all)\s+(?:\w+\s+)?(?:bullets?|bullet points?|items?|"
    r"points?|ideas?|entries|entry|lines?|insights?|quotes?|facts?|recommendations?|"
    r"habits?|references?|takeaways?|list items?|steps?|questions?|tips?)\b"
    r"|\b(?:bullets?|bullet points?|items?|ideas|points|insights|lines)\s+(?:of|with|as)\s+"
    r"(?:exactly|about|approximately|roughly|at most|no more than|up to|less than|fewer than|"
    r"around)?\s*\d+\s*-?\s*words?\b"
    r"|\b\d+\s*-\s*word\s+(?:bullets?|items?|points?|sentences?)\b",
    re.I,
)
_WORDS = re.compile(
    r"(?:(no more than|not more than|at most|maximum of|max(?:imum)?|up to|less than|fewer than|"
    r"under|exactly|at least|minimum of|about|approximately|roughly|around)\s+)?"
    r"(\d+)\s*(?:-|to|–)?\s*(\d+)?\s*-?\s*words?\b(\s+or (?:less|fewer|more))?",
    re.I,
)
_SENTENCES = re.compile(
    r"(?:(no more than|not more than|at most|maximum of|up to|exactly|at least)\s+)?"
    rf"\b{_NUM}\s*(?:(?:-|to)\s*(\d+)\s*)?(?:\w+\s+)?sentences?\b(\s+or (?:less|fewer|more))?",
    re.I,
)
_COUNT_ITEMS = re.compile(
    r"(?:(at least|at most|no more than|up to|exactly|a minimum of|a maximum of|minimum of|"
    r"maximum of|between)\s+)?"
    r"\b(\d+)(?:\s*(?:-|to|–|and)\s*(\d+))?\s+(?:of\s+the\s+|of\s+)?(?:[\w-]+\s+){0,5}?"
    r"(?P<noun>[a-z][\w-]*s)\b",
    re.I,
)
_NOT_ITEMS = re.compile(
    r"^(?:words|sentences|characters|chars|letters|tokens|minutes|seconds|hours|days|years|"
    r"times|percent|pages|paragraphs|intervals|steps)$",
    re.I,
)
_LABELS_FROM_LIST = re.compile(
    r"\bonly\b[^.]*\b(?:labels?|tags?|categories|category|values?|options?|words?|terms?)\b[^.]*"
    r"\b(?:from|in|on)\s+(?:the\s+)?(?:list|set|options)\s+(?:above|below|provided|given)",
    re.I,
)
_CAPS_SCALE = re.compile(
    r"\b([A-Z][A-Z]+(?: [A-Z][A-Z]+)?)(?:\s*,\s*([A-Z][A-Z]+(?: [A-Z][A-Z]+)?))+,?\s*"
    r"(?:or|and)\s+([A-Z][A-Z]+(?: [A-Z][A-Z]+)?)\b"
)
_ONE_OF = re.compile(
    r"\b(?:one of|either|exactly one of)\s*:?\s*((?:[\"'`]?[\w -]{1,25}[\"'`]?\s*(?:,|/|\bor\b)\s*)+"
    r"[\"'`]?[\w -]{1,25}[\"'`]?)",
    re.I,
)
_NUMERIC_SCALE = re.compile(
    r"(?:from\s+|between\s+|on a\s+(?:scale of\s+)?|scale of\s+|rating of\s+|score of\s+|rate\s+"
    r"(?:\w+\s+){0,4}?)?(\d+(?:\.\d+)?)\s*(?:-|–|to|and)\s*(\d+(?:\.\d+)?)"
    r"(?:\s*,?\s*in\s+(\d*\.\d+|\d+)\s+(?:intervals|increments|steps))?"
    r"|\bout of\s+(\d+)\b",
    re.I,
)
_RATING_WORDS = re.compile(
    r"\b(?:rat(?:e|ing|ings)|scores?|grades?|levels?|scale|severity)\b", re.I
)


@dataclass
class Scale:
    """Allowed rating values (labels), or a numeric range with an optional step."""

    labels: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    decimals: int | None = None


@dataclass
class SectionSpec:
    name: str
    min_items: int | None = None
    max_items: int | None = None
    max_words_per_item: int | None = None
    min_words_per_item: int | None = None
    max_sentences_per_item: int | None = None
    sentences: tuple[int, int] | None = None  # (min, max) sentences of the whole section
    max_words: int | None = None  # words of the whole section
    labels: tuple[str, ...] = ()  # allowed labels of the section
    scale: Scale | None = None  # the rating scale its value must be on
    tag: bool = False  # an XML-like tag of a skeleton (``<name>`` ... ``</name>``), not a title


@dataclass
class OutputTemplate:
    sections: list[SectionSpec] = field(default_factory=list)
    ordered: bool = False
    ordered_by: str = ""  # the sentence (or "template") that asks for the order
    sections_by: str = ""  # where the section list came from
    json_keys: tuple[str, ...] = ()
    lists: list[tuple[int, tuple[str, ...]]] = field(default_factory=list)  # (line, items)
    # The sentence introducing a template that is one fenced block holding only a placeholder
    # ("Return the result as follows:" + ```\nRESULT\n```): the whole reply is that block.
    fenced_only_by: str = ""
    # The sentence asking for a reply shaped "exactly as" / with "one" part as in the example
    # below it, when that example holds one fenced block (and whether text precedes the block).
    one_fence_by: str = ""
    one_fence_after_text: bool = False
    # A skeleton "NAME line, then ```[LANG] fenced block" after the sentence introducing it:
    # (sentence, fence tagged?, the name line lowercase?, the name has an extension?)
    named_fence: tuple[str, bool, bool, bool] | None = None
    # A JSON schema the reply must conform to, and the sentence introducing it.
    json_schema: dict[str, object] | None = None
    json_schema_by: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.sections)

    def section(self, name: str) -> SectionSpec | None:
        key = _key(name)
        return next((s for s in self.sections if _key(s.name) == key), None)


def _key(name: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", name.casefold()).split())


def _clean_name(raw: str) -> str:
    name = raw.strip().strip("*_`\"'“”‘’#").strip()
    name = re.sub(r"\s*[:.]+$", "", name)
    return name.strip()


def _num(token: str | None) -> int | None:
    if token is None:
        return None
    token = token.strip().casefold()
    if token.isdigit():
        return int(token)
    return NUMBER_WORDS.get(token)


def parse(text: str, roles: list[Sentence] | None = None) -> OutputTemplate:
    """The output template of a prompt version (see the module docstring)."""
    tpl = OutputTemplate()
    lines = text.splitlines()
    # 1. Template blocks: a fenced block or lines introduced as the output's format.
    previous = ""
    found = blocks(text)
    for i, block in enumerate(found):
        before, previous = previous, block.text
        if block.fenced and i + 1 < len(found) and not found[i + 1].fenced:
            _one_fence_example(tpl, before)
        if not block.template:
            continue
        if (
            block.fenced
            and _PLACEHOLDER_ONLY.fullmatch(block.text.strip())
            and _INTRODUCES.search(before.strip().splitlines()[-1] if before.strip() else "")
        ):
            tpl.fenced_only_by = before.strip().splitlines()[-1].strip()
        titles = []
        body = block.text.strip()
        if body.startswith(("{", "[")):
            keys = _json_keys(body)
            if keys:
                tpl.json_keys = keys
            continue
        for line in block.text.splitlines():
            title = _template_title(line)
            if title:
                titles.append(title)
        if len(titles) >= 2 and not tpl.sections:
            tpl.sections = [SectionSpec(t) for t in titles]
            tpl.ordered, tpl.ordered_by, tpl.sections_by = True, "template", "template"
    tpl.named_fence = _named_fence(lines)
    _schema(tpl, text)
    # 1b. A tag skeleton after "Follow this format:" (the lines are no template block: tags).
    if not tpl.sections:
        for line in lines:
            tags = format_tags(line, text)
            if tags:
                tpl.sections = [SectionSpec(t, tag=True) for t in tags]
                tpl.ordered, tpl.ordered_by, tpl.sections_by = True, "template", "template"
                break
    # 2. "Create the following output sections:" + a list.
    for i, line in enumerate(lines):
        if _FOLLOWING_SECTIONS.search(line) and line.rstrip().endswith(":"):
            names: list[str] = []
            for nxt in lines[i + 1 :]:
                if not nxt.strip():
                    if names:
                        break
                    continue
                m = _LIST_ITEM.match(nxt)
                if not m:
                    break
                head = re.split(r"\s*(?::|\s-\s|\s–\s|\s—\s)\s*", m.group(1), maxsplit=1)[0]
                name = _clean_name(head)
                if name and len(name.split()) <= 6:
                    names.append(name)
            for name in names:
                if tpl.section(name) is None:
                    tpl.sections.append(SectionSpec(name))
            if names and not tpl.sections_by:
                tpl.sections_by = line.strip()
    # 3. "in a section called X" anywhere in an output instruction.
    sentences = (
        [s for s in (roles or []) if s.role == "output"]
        if roles is not None
        else [_plain(u) for u, _k in split_units_with_kinds(text)]
    )
    for s in sentences:
        for m in _SECTION_NAMED.finditer(s.text):
            name = _clean_name(m.group(1) or m.group(2) or "")
            if name and len(name.split()) <= 6 and tpl.section(name) is None:
                tpl.sections.append(SectionSpec(name))
                tpl.sections_by = tpl.sections_by or "sentences"
    for s in sentences:
        if _IN_ORDER.search(s.text) and re.search(
            r"\bsections?\b|\babove\b|\bheaders?\b", s.text, re.I
        ):
            tpl.ordered, tpl.ordered_by = True, s.text
    # 4. Per-section limits from the sentences naming a section.
    for s in sentences:
        scope = scope_of(s.text, tpl)
        spec = tpl.section(scope[1]) if scope[0] == "section" and scope[1] else None
        if spec is not None:
            _limits(s.text, spec)
            spec.scale = spec.scale or scale_of(s.text)
            spec.labels = spec.labels or allowed_labels(s.text, text, tpl)
    # Lists in the prompt (for "only labels from the list above").
    for i, line in enumerate(lines):
        m = _LIST_ITEM.match(line)
        if m:
            item = _LABEL_SEPARATOR.split(m.group(1).strip(), maxsplit=1)[0]
            tpl.lists.append((i, (_clean_name(item),)))
    return tpl


# A placeholder standing for the whole content: CODE, [CODE], {code}, <code>, YOUR_CODE_HERE.
_PLACEHOLDER_ONLY = re.compile(
    r"[A-Z][A-Z0-9_ ]{1,40}|\[[^\[\]\n]{1,40}\]|\{\{?\s*\w{1,40}\s*\}?\}|<[^<>\n]{1,40}>|\.\.\.|…"
)
# A line that hands over to the template below it ("... as follows:", "Use this format:").
_INTRODUCES = re.compile(
    r"\b(?:as follows|(?:this|the following|the below|below|that) (?:format|structure|template|"
    r"form|way)|like this|like so)\s*:\s*$",
    re.I,
)


# "Include one discussion and one command EXACTLY as in the following example:"
_SHAPED_AS_EXAMPLE = re.compile(
    r"\b(?:exactly|precisely)\s+(?:as|like)\s+(?:in\s+)?(?:the|this)\s+(?:following|below)\s+"
    r"(?:example|format|sample)\s*:\s*$",
    re.I,
)
_ONE = re.compile(r"(?<![\w-])_?(?:one|a single|single|exactly one)_?\s", re.I)


def _one_fence_example(tpl: OutputTemplate, before: str) -> None:
    """Record a sentence asking for the shape of the example right below it, when the example
    ends in one fenced block (``before`` is the text between the sentence and the block)."""
    lines = [line.strip() for line in before.strip().splitlines()]
    for k in range(len(lines) - 1, -1, -1):
        line = lines[k]
        if _SHAPED_AS_EXAMPLE.search(line) and _ONE.search(line):
            tpl.one_fence_by = line
            tpl.one_fence_after_text = any(rest for rest in lines[k + 1 :])
            return


_SLOT = r"(?:[A-Z][A-Z0-9_]{1,30}|\[[A-Za-z_ ]{1,30}\]|\{\{?\s*\w{1,30}\s*\}?\}|<[\w ]{1,30}>)"
_FORMAT_INTRO = re.compile(
    r"\b(?:(?:following|this|the below|below) (?:format|structure|template)|as follows)\s*:\s*$",
    re.I,
)


def _named_fence(lines: list[str]) -> tuple[str, bool, bool, bool] | None:
    """A format skeleton of one placeholder line (a file name) followed by a fenced block whose
    content is a placeholder, introduced by a "follow the following format:" line at most four
    lines above; what the prose between says about the placeholder ("NAME is the lowercase
    file name including the extension") is read as well."""
    for i in range(len(lines) - 3):
        name = lines[i].strip()
        fence = re.fullmatch(r"\s*(```|~~~)\s*(\S*)\s*", lines[i + 1])
        if not (re.fullmatch(_SLOT, name) and fence):
            continue
        close = next(
            (k for k in range(i + 2, min(i + 6, len(lines))) if lines[k].strip() == fence.group(1)),
            None,
        )
        body = " ".join(x.strip() for x in lines[i + 2 : close or i + 2])
        if close is None or not re.fullmatch(_SLOT, body):
            continue
        for j in range(i - 1, max(-1, i - 6), -1):
            if _FORMAT_INTRO.search(lines[j]):
                prose = " ".join(x.strip() for x in lines[j + 1 : i])
                said = re.search(rf"(?<![\w\[{{<]){re.escape(name)}\s+is\s+([^,.;]+)", prose)
                about = said.group(1) if said else ""
                tagged = bool(re.fullmatch(_SLOT, fence.group(2)))
                return (
                    lines[j].strip(),
                    tagged,
                    bool(re.search(r"\blower[- ]?case\b", about, re.I)),
                    bool(re.search(r"\bextension\b", about, re.I))
                    and not re.search(r"\b(?:without|no)\b[^,]*\bextension", about, re.I),
                )
    return None


_SCHEMA_INTRO = re.compile(r"^[^\n]*\bschema\s*:[ \t]*$", re.I | re.M)


def _schema(tpl: OutputTemplate, text: str) -> None:
    """A JSON schema of an object (``type``, ``properties``) right after a line ending in
    "schema:" ("Reply with JSON conforming to the following schema:")."""
    for m in _SCHEMA_INTRO.finditer(text):
        rest = text[m.end() :].lstrip()
        try:
            value, _end = json.JSONDecoder().raw_decode(rest)
        except ValueError:
            continue
        if (
            isinstance(value, dict)
            and value.get("type") == "object"
            and isinstance(value.get("properties"), dict)
        ):
            tpl.json_schema, tpl.json_schema_by = value, m.group(0).strip()
            return


def _plain(unit: str) -> Sentence:
    return Sentence(unit, "line", "output", "", "")


def _template_title(line: str) -> str | None:
    stripped = line.strip()
    if not stripped or re.match(r"^\s*(?:[-*•+]|\d+[.)])\s", line):
        return None
    m = re.match(r"^#{1,6}\s+(.+?)\s*#*$", stripped)
    if m:
        return _clean_name(m.group(1))
    m = re.match(r"^(?:\*\*|__)(.+?)(?:\*\*|__)\s*:?\s*(?:\S.*)?$", stripped)
    if m and len(m.group(1).split()) <= 6:
        return _clean_name(m.group(1))
    m = re.match(r"^([A-Z][A-Z0-9 &'/()-]{1,50}?)\s*:(?:\s.*)?$", stripped)
    if m and re.sub(r"[^A-Z]", "", m.group(1)):
        return _clean_name(m.group(1))
    title = title_of(line)
    if title and title.isupper():
        return _clean_name(title)
    return None


def _json_keys(body: str) -> tuple[str, ...]:
    text = re.sub(r"<[^<>\n]{0,60}>", '""', body)
    text = re.sub(r"\.\.\.|…", "", text)
    text = re.sub(r",\s*([}\]])", r"\1", text)
    try:
        value = json.loads(text)
    except ValueError:
        keys = re.findall(r'"([A-Za-z_][\w -]{0,40})"\s*:', body)
        return tuple(dict.fromkeys(keys))
    if isinstance(value, list) and value and isinstance(value[0], dict):
        value = value[0]
    return tuple(value) if isinstance(value, dict) else ()


def scope_of(sentence: str, tpl: OutputTemplate) -> tuple[str, str | None]:
    """What part of a response a sentence is about: ``("section", name)`` when it names one
    of the template's sections, ``("item", None)`` when it speaks of each bullet/item,
    ``("field", name)`` for a JSON key it names, else ``("response", None)``."""
    named = [
        s.name
        for s in tpl.sections
        if not s.tag  # a tag's name in a sentence is a word, not the tag
        and (
            re.search(r"(?<![\w])" + re.escape(s.name) + r"(?![\w])", sentence)
            or re.search(
                r"(?:section|heading|header)\s+(?:called|named|titled)\s+[\"'`*]*"
                + re.escape(s.name),
                sentence,
                re.I,
            )
        )
    ]
    if named:
        return "section", max(named, key=len)
    if _EACH.search(sentence):
        return "item", None
    for key in tpl.json_keys:
        if re.search(
            r"[\"'`]" + re.escape(key) + r"[\"'`]|\bthe " + re.escape(key) + r" (?:field|key)",
            sentence,
        ):
            return "field", key
    return "response", None


def _limits(sentence: str, spec: SectionSpec | None) -> None:
    if spec is None:
        return
    per_item = bool(_EACH.search(sentence))
    for m in _WORDS.finditer(sentence):
        qual = (m.group(1) or "").casefold()
        lo, hi = int(m.group(2)), int(m.group(3)) if m.group(3) else None
        tail = (m.group(4) or "").casefold()
        if "more" in tail or qual in ("at least", "minimum of"):
            if per_item:
                spec.min_words_per_item = lo
            continue
        if hi is not None:
            limit = hi
        elif qual == "exactly":
            limit = lo + max(2, lo // 5)
        elif qual in ("about", "approximately", "roughly", "around") or not (qual or tail):
            limit = lo + max(3, lo // 3)  # "a 15 word description": about, not at most
        else:
            limit = lo
        if per_item:
            spec.max_words_per_item = limit
        else:
            spec.max_words = limit
    for m in _SENTENCES.finditer(sentence):
        qual = (m.group(1) or "").casefold()
        n = _num(m.group(2))
        if n is None:
            continue
        hi = int(m.group(3)) if m.group(3) else n
        tail = (m.group(4) or "").casefold()
        if per_item:
            spec.max_sentences_per_item = hi
        elif "more" in tail or qual == "at least":
            spec.sentences = (n, 10_000)
        elif (
            qual in ("no more than", "not more than", "at most", "up to")
            or "less" in tail
            or "fewer" in tail
        ):
            spec.sentences = (1, hi)
        else:
            spec.sentences = (n, hi)
    for m in _COUNT_ITEMS.finditer(sentence):
        noun = m.group("noun")
        if _NOT_ITEMS.match(noun) or re.match(r"\s*-?\s*words?\b", sentence[m.end() :]):
            continue
        qual = (m.group(1) or "").casefold()
        lo, hi = int(m.group(2)), int(m.group(3)) if m.group(3) else None
        if hi is not None:
            spec.min_items, spec.max_items = lo, hi
        elif qual in ("at least", "a minimum of", "minimum of"):
            spec.min_items = lo
        elif qual in ("at most", "no more than", "up to", "a maximum of", "maximum of"):
            spec.max_items = lo
        else:
            spec.min_items = spec.max_items = lo
        break


def item_limits(sentence: str) -> tuple[int | None, int | None]:
    """(max words, max sentences) per item for a sentence about each bullet/item."""
    spec = SectionSpec("_")
    _limits(sentence, spec)
    return spec.max_words_per_item, spec.max_sentences_per_item


def allowed_labels(sentence: str, text: str, tpl: OutputTemplate) -> tuple[str, ...]:
    """The labels a sentence allows: the nearest list to "ONLY ... labels from the list above",
    or the options after "one of"."""
    if _LABELS_FROM_LIST.search(sentence):
        lines = text.splitlines()
        at = next((i for i, line in enumerate(lines) if sentence[:40] in line), None)
        if at is None:
            return ()
        above = "above" in sentence.casefold()
        run: list[str] = []
        rng = range(at - 1, -1, -1) if above else range(at + 1, len(lines))
        for i in rng:
            line = lines[i]
            m = _LIST_ITEM.match(line)
            if m:
                run.append(_clean_name(_LABEL_SEPARATOR.split(m.group(1), maxsplit=1)[0]))
            elif run and (not line.strip() or True):
                break
        if above:
            run.reverse()
        return tuple(r for r in run if r)
    m = _ONE_OF.search(sentence)
    if m:
        options = [_clean_name(o) for o in re.split(r",|/|\bor\b", m.group(1)) if o.strip()]
        options = [o for o in options if o and len(o.split()) <= 3]
        if len(options) >= 2:
            return tuple(options)
    return ()


def scale_of(sentence: str) -> Scale | None:
    """A rating scale a sentence defines: ALL-CAPS labels or a numeric range."""
    m = _CAPS_SCALE.search(sentence)
    if m and (
        _RATING_WORDS.search(sentence) or re.search(r"\b(?:as|one of|either)\b", sentence, re.I)
    ):
        labels = [x.strip() for x in re.split(r",|\bor\b|\band\b", m.group(0)) if x.strip()]
        if len(labels) >= 3:
            return Scale(labels=tuple(labels))
    if not _RATING_WORDS.search(sentence):
        return None
    m = _NUMERIC_SCALE.search(sentence)
    if m is None:
        return None
    if m.group(4):
        return Scale(low=0, high=float(m.group(4)))
    low, high = float(m.group(1)), float(m.group(2))
    if not low < high or high > 1000:
        return None
    step = m.group(3)
    decimals = len(step.split(".")[1]) if step and "." in step else (0 if step else None)
    return Scale(low=low, high=high, decimals=decimals)


# --- the self-test response --------------------------------------------------------------------

_FILLER = (
    "Clear structure helps readers find key points quickly",
    "Teams improve when feedback arrives early and often",
    "Small experiments reveal problems before they grow",
    "Good notes make later decisions easier to explain",
    "Simple tools often outlast complicated ones",
)


def filled(tpl: OutputTemplate) -> str | None:
    """A plausible response that follows the template exactly (None without a template).

    Every section in order, under an ALL-CAPS ``TITLE:`` line, with the item count, words per
    item and sentences the template asks for; JSON templates give an object with their keys.
    """
    if tpl.json_keys and not tpl.sections:
        return json.dumps({k: "value" for k in tpl.json_keys}, indent=2)
    if not tpl.sections:
        return None
    parts = []
    for spec in tpl.sections:
        if spec.tag:
            parts += [f"<{spec.name}>", _FILLER[0] + ".", f"</{spec.name}>", ""]
            continue
        parts.append(f"{spec.name.upper()}:")
        parts.append("")
        if spec.scale is not None or spec.labels:
            if spec.labels:
                parts.append(spec.labels[0])
            elif spec.scale is not None and spec.scale.labels:
                parts.append(spec.scale.labels[len(spec.scale.labels) // 2])
            elif spec.scale is not None and spec.scale.high is not None:
                parts.append(f"{spec.scale.high:g}")
        elif spec.sentences is not None and spec.min_items is None:
            n = max(1, spec.sentences[0])
            text = " ".join(_sentence(i, spec.max_words, n) for i in range(n))
            parts.append(text)
        else:
            lo = spec.min_items or 3
            hi = spec.max_items if spec.max_items is not None else max(lo, 3)
            n = max(lo, min(hi, 3)) if spec.max_items is not None else lo
            for i in range(n):
                parts.append(f"- {_item(i, spec)}")
        parts.append("")
    return "\n".join(parts).strip() + "\n"


def _words_to(text: str, n: int) -> str:
    out = text.split()
    while len(out) < n:
        out += text.split()
    return " ".join(out[:n])


def _item(i: int, spec: SectionSpec) -> str:
    base = _FILLER[i % len(_FILLER)]
    hi = spec.max_words_per_item
    lo = spec.min_words_per_item or 0
    n = len(base.split())
    if hi is not None:
        n = min(max(hi - 1, 1), max(lo, hi))
        n = max(n, lo)
    elif lo:
        n = max(n, lo)
    return _words_to(base, n) + "."


def _sentence(i: int, max_words: int | None, n: int) -> str:
    base = _FILLER[i % len(_FILLER)]
    if max_words is not None:
        return _words_to(base, max(1, min(len(base.split()), max_words // max(n, 1)))) + "."
    return base + "."


# --- tag skeletons -------------------------------------------------------------------------------

# "Follow this format:", "Respond in the following format:", "Use this format:": the lines after
# it are the response's shape.
FORMAT_INTRO = re.compile(
    r"^\W*(?:please\s+)?(?:(?:always\s+)?(?:follow|use|respond in|reply in|answer in|write in|"
    r"output in|return it in|respond using|respond with)\s+)?(?:this|the following|the below)\s+"
    r"(?:output\s+|response\s+)?format\s*:\s*$",
    re.I,
)
_OPEN_TAG = re.compile(r"^\s*<([A-Za-z][\w.-]{0,40})>")


def format_tags(sentence: str, prompt_text: str) -> tuple[str, ...]:
    """The XML-like tags of the skeleton a "Follow this format:" sentence introduces.

    The lines after the sentence (up to the first blank line after the skeleton starts) must
    open with a tag at a line start and close it later (``<answer>`` ... ``</answer>``); the
    top-level tags are returned in order. Nested tags, and tags never closed, are left out.
    """
    if not FORMAT_INTRO.match(sentence.strip()):
        return ()
    at = prompt_text.find(sentence.strip())
    if at < 0:
        return ()
    lines = prompt_text[at + len(sentence.strip()) :].splitlines()[1:]
    tags: list[str] = []
    open_tag: str | None = None
    started = False
    for line in lines:
        if not line.strip():
            if started and open_tag is None:
                break
            continue
        if open_tag is None:
            m = _OPEN_TAG.match(line)
            if not m:
                break  # the skeleton is over (or it is not a tag skeleton)
            started, open_tag = True, m.group(1)
        if re.search(rf"</{re.escape(open_tag)}>", line):
            tags.append(open_tag)
            open_tag = None
    return tuple(dict.fromkeys(tags))
