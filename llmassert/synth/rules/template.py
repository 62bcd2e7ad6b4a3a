"""Checks scoped by the output template: sections, their order, per-section and per-item limits,
allowed labels, rating scales and JSON keys.

Unlike the other families this one reads the whole prompt's parsed template
(:mod:`llmassert.synth.template`), so it is called by the engine with it, not through
``FAMILIES``. :func:`checks` returns None when a sentence is not about a part of the template
(the generic families then apply to the whole response) and a list otherwise — a sentence that
names a section or "each bullet" never gets a whole-response limit.
"""

from __future__ import annotations

import re

from llmassert.synth.models import Criterion
from llmassert.synth.rules.base import Check, literal, slug
from llmassert.synth.template import (
    _FOLLOWING_SECTIONS,
    _IN_ORDER,
    OutputTemplate,
    Scale,
    allowed_labels,
    item_limits,
    scale_of,
    scope_of,
)

PARSE_NAMES = frozenset(
    ["section_text", "has_all_sections", "sections_in_order", "items", "rating_values",
     "field_value", "all_items_within"]
)  # fmt: skip


def _scope_expr(tpl: OutputTemplate, scope: tuple[str, str | None]) -> tuple[str, str]:
    """(setup line, expression for the scoped text) of a scope."""
    kind, name = scope
    if kind == "section":
        return f"part = section_text(response, {name!r}, {literal(tpl.names)})", "part"
    if kind == "field":
        return (
            f"value = field_value(response, {name!r})\n"
            "part = value if isinstance(value, str) else (None if value is None else str(value))",
            "part",
        )
    return "part = response", "part"


def checks(criterion: Criterion, tpl: OutputTemplate, prompt_text: str) -> list[Check] | None:
    text = criterion.text
    out: list[Check] = []
    if tpl.fenced_only_by and text.strip() == tpl.fenced_only_by:
        return [
            Check(
                "template_code_block_only",
                "The whole response is one fenced code block, as the template shows.",
                "stripped = response.strip()\n"
                "return stripped.startswith(('```', '~~~')) and stripped.endswith(('```', '~~~'))"
                " and len(code_blocks(response)) == 1",
                ("code_blocks",),
            )
        ]
    if tpl.one_fence_by and text.strip() == tpl.one_fence_by:
        cond = "len(code_blocks(response)) == 1"
        shape = "Exactly one fenced code block, as in the example"
        if tpl.one_fence_after_text:
            cond += (
                " and bool(re.split(r'(?m)^[ \\t]*(?:```|~~~)', response, maxsplit=1)[0].strip())"
            )
            shape += ", with text before it"
        return [
            Check(
                "example_one_code_block", shape + ".", f"return {cond}", ("code_blocks",), ("re",)
            )
        ]
    if tpl.json_schema and text.strip() == tpl.json_schema_by:
        return [_schema_check(tpl.json_schema, bool(re.search(r"\bonly\b", text, re.I)))]
    if tpl.named_fence and text.strip() == tpl.named_fence[0]:
        return [_named_fence_check(*tpl.named_fence[1:])]
    scope = scope_of(text, tpl)
    names = tpl.names
    # Section lists and order.
    if names and (
        text == tpl.sections_by
        or (_FOLLOWING_SECTIONS.search(text) and text.rstrip().endswith(":"))
        or criterion.id.startswith("t")
    ):
        if all(s.tag for s in tpl.sections):
            return _tag_checks(names)
        out.append(
            Check(
                "has_sections",
                f"Has every section: {', '.join(names)}.",
                f"return has_all_sections(response, {literal(names)})",
                ("has_all_sections",),
            )
        )
    if (
        names
        and _IN_ORDER.search(text)
        and (scope[0] != "section" or len(names) > 1)
        and re.search(r"\bsections?\b|\babove\b|\bheaders?\b", text, re.I)
    ):
        out.append(
            Check(
                "sections_in_order",
                f"Sections appear in the order {', '.join(names)}.",
                f"return has_all_sections(response, {literal(names)}) and "
                f"sections_in_order(response, {literal(names)})",
                ("has_all_sections", "sections_in_order"),
            )
        )
        return out
    labels = allowed_labels(text, prompt_text, tpl)
    scale = scale_of(text)
    if scope[0] == "section":
        assert scope[1] is not None
        spec = tpl.section(scope[1])
        assert spec is not None
        conds = ["part is not None"]
        what = [f"section {scope[1]} present"]
        if spec.min_items is not None:
            conds.append(f"len(items(part)) >= {spec.min_items}")
        if spec.max_items is not None:
            conds.append(f"len(items(part)) <= {spec.max_items}")
        if spec.min_items is not None or spec.max_items is not None:
            what.append(f"{spec.min_items or 0}..{spec.max_items or 'any'} items")
        if spec.max_words_per_item is not None or spec.max_sentences_per_item is not None:
            args = []
            if spec.max_words_per_item is not None:
                args.append(f"max_words={spec.max_words_per_item}")
                what.append(f"each item <= {spec.max_words_per_item} words")
            if spec.max_sentences_per_item is not None:
                args.append(f"max_sentences={spec.max_sentences_per_item}")
                what.append(f"each item <= {spec.max_sentences_per_item} sentences")
            conds.append(f"all_items_within(part, {', '.join(args)})")
        if spec.sentences is not None:
            lo, hi = spec.sentences
            conds.append(
                f"{lo} <= sentence_count(part) <= {hi}"
                if hi < 10_000
                else f"sentence_count(part) >= {lo}"
            )
            what.append(f"{lo}..{hi if hi < 10_000 else 'any'} sentences")
        if spec.max_words is not None:
            conds.append(f"word_count(part) <= {spec.max_words}")
            what.append(f"<= {spec.max_words} words")
        if labels:
            conds.append(f"labels_within(part, {literal(labels)})")
            what.append("labels from the list")
        if scale is not None:
            conds.append(_scale_cond(scale))
            what.append("a rating on the scale")
        setup, _ = _scope_expr(tpl, scope)
        out.append(
            Check(
                f"section_{slug(scope[1], 3)}",
                f"Section {scope[1]}: " + "; ".join(what) + ".",
                f"{setup}\nreturn {' and '.join(conds)}",
                _helpers_of(conds),
            )
        )
        return out
    if scope[0] == "item":
        max_words, max_sentences = item_limits(text)
        if max_words is None and max_sentences is None:
            return out or []
        args = []
        if max_words is not None:
            args.append(f"max_words={max_words}")
        if max_sentences is not None:
            args.append(f"max_sentences={max_sentences}")
        out.append(
            Check(
                "each_item_within",
                "Every bullet or numbered item: " + ", ".join(args).replace("_", " ") + ".",
                f"return all_items_within('\\n'.join('- ' + i for i in list_items(response)), "
                f"{', '.join(args)})",
                ("all_items_within", "list_items"),
            )
        )
        return out
    if scope[0] == "field":
        setup, _ = _scope_expr(tpl, scope)
        out.append(
            Check(
                f"field_{slug(scope[1] or 'x', 3)}_present",
                f"Field {scope[1]} is present.",
                f"{setup}\nreturn part is not None",
                ("field_value",),
            )
        )
        return out
    if labels and not names:
        out.append(
            Check(
                "labels_from_list",
                f"Only labels from the list: {', '.join(labels[:8])}.",
                f"return labels_within(response, {literal(labels)})",
                ("labels_within",),
            )
        )
        return out
    if scale is not None:
        out.append(
            Check(
                "rating_on_scale",
                "Gives a rating on the scale "
                + (", ".join(scale.labels) if scale.labels else f"{scale.low:g}-{scale.high:g}")
                + ".",
                f"part = response\nreturn {_scale_cond(scale)}",
                _helpers_of([_scale_cond(scale)]),
            )
        )
        return out
    if out:
        return out
    if tpl.json_keys and re.search(r"\bjson\b", text, re.I):
        return [
            Check(
                "json_template_keys",
                f"JSON with the template's keys: {', '.join(tpl.json_keys)}.",
                f"return has_json_keys(response, {literal(tpl.json_keys)}, lenient=True)",
                ("has_json_keys",),
            )
        ]
    return None


def _schema_check(schema: dict[str, object], whole: bool) -> Check:
    """The reply's JSON conforms to the schema's types, required keys and closed objects."""
    parse = "parse_json(response.strip())" if whole else "parse_json(response, lenient=True)"
    code = (
        f"value = {parse}\n"
        f"stack = [({literal(_schema_core(schema))}, value)]\n"
        "while stack:\n"
        "    s, v = stack.pop()\n"
        "    t = s.get('type')\n"
        "    if t == 'object':\n"
        "        if not isinstance(v, dict):\n"
        "            return False\n"
        "        props = s.get('properties') or {}\n"
        "        if any(k not in v for k in s.get('required') or []):\n"
        "            return False\n"
        "        if s.get('additionalProperties') is False and any(k not in props for k in v):\n"
        "            return False\n"
        "        stack.extend((props[k], v[k]) for k in v if isinstance(props.get(k), dict))\n"
        "    elif t == 'string' and not isinstance(v, str):\n"
        "        return False\n"
        "    elif t == 'array' and not isinstance(v, list):\n"
        "        return False\n"
        "    elif t == 'boolean' and not isinstance(v, bool):\n"
        "        return False\n"
        "    elif t in ('number', 'integer') and (isinstance(v, bool) or not isinstance(v, (int, float))):\n"
        "        return False\n"
        "return True"
    )
    return Check(
        "json_schema_conforms",
        "JSON conforming to the schema: types, required keys, no keys beyond closed objects"
        + (" (the whole response)." if whole else "."),
        code,
        ("parse_json",),
    )


def _schema_core(schema: object) -> object:
    """The parts of a JSON schema the check reads (type, properties, required, closed)."""
    if not isinstance(schema, dict):
        return {}
    out: dict[str, object] = {}
    if isinstance(schema.get("type"), str):
        out["type"] = schema["type"]
    props = schema.get("properties")
    if isinstance(props, dict):
        out["properties"] = {str(k): _schema_core(v) for k, v in props.items()}
    if isinstance(schema.get("required"), list):
        out["required"] = [str(k) for k in schema["required"]]
    if schema.get("additionalProperties") is False:
        out["additionalProperties"] = False
    return out


def _named_fence_check(tagged: bool, lowercase: bool, extension: bool) -> Check:
    """A name line right before a fenced block (tagged with a language, a lowercase name, a name
    with an extension, when the skeleton and its explanation say so)."""
    lines = [
        "m = re.search(r'(?m)^[ \\t]*(?:```|~~~)(.*)$', response)",
        "if m is None:",
        "    return False",
        "before = response[: m.start()].strip().splitlines()",
        "name = before[-1].strip() if before else ''",
    ]
    conds, what = ["bool(name)"], ["a name line right before a fenced block"]
    if tagged:
        conds.append("bool(m.group(1).strip())")
        what.append("the fence tagged with a language")
    if lowercase:
        conds.append("name == name.lower()")
        what.append("the name lowercase")
    if extension:
        conds.append("re.search(r'\\.\\w+$', name) is not None")
        what.append("the name with an extension")
    lines.append(f"return {' and '.join(conds)}")
    return Check(
        "template_name_then_code_block",
        "As the template: " + ", ".join(what) + ".",
        "\n".join(lines),
        (),
        ("re",),
    )


def _tag_checks(tags: tuple[str, ...]) -> list[Check]:
    """The tags of a "Follow this format:" skeleton: each opened and closed, in order."""
    opened = tuple(f"<{t}>" for t in tags)
    pairs = tuple((f"<{t}>", f"</{t}>") for t in tags)
    return [
        Check(
            "format_tags_strict",
            f"Each tag of the format, opened and closed, in order: {', '.join(opened)}.",
            f"at = 0\nfor start, end in {literal(pairs)}:\n"
            "    i = response.find(start, at)\n"
            "    j = response.find(end, i + len(start)) if i >= 0 else -1\n"
            "    if j < 0:\n"
            "        return False\n"
            "    at = j + len(end)\n"
            "return True",
        ),
        Check(
            "format_tags_lenient",
            f"Each tag of the format appears: {', '.join(opened)}.",
            f"return all(t in response for t in {literal(opened)})",
        ),
    ]


def _scale_cond(scale: Scale) -> str:
    if scale.labels:
        return f"bool(rating_values(part, {literal(scale.labels)}))"
    low, high = scale.low, scale.high
    decimals = (
        ""
        if scale.decimals is None
        else f" and len(v.split('.')[1] if '.' in v else '') <= {scale.decimals}"
    )
    return f"any({low:g} <= float(v) <= {high:g}{decimals} for v in rating_values(part))"


def _helpers_of(conds: list[str]) -> tuple[str, ...]:
    text = " ".join(conds)
    names = [
        "section_text", "items", "all_items_within", "sentence_count", "word_count",
        "labels_within", "rating_values", "field_value", "has_all_sections",
    ]  # fmt: skip
    found = [n for n in names if re.search(rf"\b{n}\(", text)]
    if "part is not None" in text or "section_text" not in found:
        pass
    return tuple(dict.fromkeys(["section_text", *found]))
