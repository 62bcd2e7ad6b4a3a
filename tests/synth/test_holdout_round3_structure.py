"""Round-3 holdout findings in the structure and template rules: format words inside a JSON
member line, arrays of strings that a JSON parser must read as they are, a field holding a list
of strings, and a template that is one fenced block. Sentences are invented; each asserts what
synthesis produces."""

from __future__ import annotations

from collections.abc import Callable

from _rules_support import criterion, names, verdicts

from llmassert.synth.roles import classify
from llmassert.synth.rules import template as template_rules
from llmassert.synth.template import parse

# --- format words in the value of a JSON member describe that field ----------------------------


def test_json_member_line_gives_no_whole_response_format_check() -> None:
    assert names('"steps": "- a numbered\\n- bulleted list of steps"') == []
    assert names('"notes": "markdown text with a table of results",') == []
    # The same words as an instruction still give the checks.
    assert "has_bullets_lenient" in names("Give the steps as a bulleted list.")


# --- "an array of strings, usable with a JSON parser" ------------------------------------------


def test_array_of_strings_parsed_as_is() -> None:
    text = "Reply with an array of strings that can be read by JSON.parse()."
    assert "json_array_of_strings" in names(text)
    assert verdicts(text, '["a", "b"]')["json_array_of_strings"]
    assert not verdicts(text, '[{"a": 1}]')["json_array_of_strings"]
    assert not verdicts(text, 'Sure: ["a", "b"]')["json_array_of_strings"]
    assert not verdicts(text, 'Sure: ["a", "b"]')["is_json_array"]


def test_array_of_strings_without_parser_is_lenient() -> None:
    text = "Return a JSON array of strings."
    assert verdicts(text, '```json\n["a"]\n```')["json_array_of_strings"]


def test_json_field_holding_a_list_of_strings() -> None:
    text = 'Answer in JSON with a key "labels" whose value is a list of strings.'
    assert "json_labels_list_of_strings" in names(text)
    assert verdicts(text, '{"labels": ["x", "y"]}')["json_labels_list_of_strings"]
    assert verdicts(text, '{"labels": []}')["json_labels_list_of_strings"]
    assert not verdicts(text, '{"labels": [{"x": 1}]}')["json_labels_list_of_strings"]


# --- a template that is nothing but a fenced placeholder ---------------------------------------

FENCED = """You fix broken scripts.

Give back the fixed script as follows:

```
SCRIPT
```

Do not explain anything.
"""


def test_fenced_placeholder_template_is_the_whole_reply() -> None:
    tpl = parse(FENCED, classify(FENCED))
    assert tpl.fenced_only_by == "Give back the fixed script as follows:"
    found = template_rules.checks(criterion("Give back the fixed script as follows:"), tpl, FENCED)
    assert found is not None and [c.name for c in found] == ["template_code_block_only"]


def test_fenced_block_with_content_is_no_placeholder_template() -> None:
    text = FENCED.replace("SCRIPT", "print('hello world')\nx = 1")
    assert parse(text, classify(text)).fenced_only_by == ""


def test_only_json_is_parsed_as_is() -> None:
    text = "Respond with only valid JSON matching the schema below:"
    assert names(text) == ["json_strict"]
    assert not verdicts(text, 'Here it is: {"a": 1}')["json_strict"]
    text = "Your answer must be JSON only, with keys name and age."
    assert not verdicts(text, '```json\n{"name": "x", "age": 1}\n```')["json_keys_name_age_lenient"]
    # Without "only", prose or a fence around the JSON is tolerated by the lenient reading.
    assert "json_lenient" in names("Respond in JSON.")


def test_list_of_strings_named_by_content_may_be_a_field() -> None:
    # The sentence says what the list holds, not that the reply is the list.
    text = "Give the search terms as a JSON array of strings."
    assert verdicts(text, '{"terms": ["a", "b"]}')["json_array_of_strings"]
    assert not verdicts(text, '{"terms": [{"a": 1}]}')["json_array_of_strings"]
    # The reply itself is the list.
    text = "Return your reply as a JSON array of strings."
    assert not verdicts(text, '{"terms": ["a", "b"]}')["json_array_of_strings"]
    assert verdicts(text, '["a", "b"]')["json_array_of_strings"]


# --- a cap on the steps of a listed plan --------------------------------------------------------


def test_step_cap_counts_array_items_or_list_items() -> None:
    text = "Draft a plan of actions, not exceeding 4 steps, to reach the target."
    assert "max_steps_4_strict" in names(text)
    assert not verdicts(text, '["a", "b", "c", "d", "e"]')["max_steps_4_strict"]
    assert verdicts(text, "1. a\n2. b\n3. c")["max_steps_4_strict"]
    # How to work, not what to list: no count.
    assert not [n for n in names("Solve the puzzle in 3 steps.") if "steps" in n]


# --- a reply shaped exactly as an example that holds one fenced block ---------------------------

SHAPED = """Answer in two parts, a note and a query.
Every reply has _one_ note and _one_ query EXACTLY as in the following example:
NOTE
I will first count the rows of the table.
```
SELECT count(*) FROM t;
```

Send one query per reply.
"""


def test_example_with_one_fenced_block_fixes_the_shape() -> None:
    tpl = parse(SHAPED, classify(SHAPED))
    line = "Every reply has _one_ note and _one_ query EXACTLY as in the following example:"
    assert tpl.one_fence_by == line and tpl.one_fence_after_text
    found = template_rules.checks(criterion(line), tpl, SHAPED)
    assert found is not None and [c.name for c in found] == ["example_one_code_block"]
    check = _run(found[0])
    assert check("NOTE\nLook first.\n```\nSELECT 1;\n```\n")
    assert not check("```\nSELECT 1;\n```\n")  # no text before the block
    assert not check("NOTE\nTwo.\n```\nSELECT 1;\n```\n```\nSELECT 2;\n```")
    assert not check("NOTE\nNo query at all.")


def test_example_without_exactly_fixes_nothing() -> None:
    text = SHAPED.replace("EXACTLY as in the following example", "like this")
    assert parse(text, classify(text)).one_fence_by == ""


def _run(check: object) -> Callable[[str], bool]:
    from llmassert.sandbox import load_inline
    from llmassert.synth.rules.base import to_candidate

    cand = to_candidate(check, criterion("x"))  # type: ignore[arg-type]
    fn = load_inline(cand.code, filename=cand.name, process_fallback=True)[cand.name]
    return lambda response: bool(fn({}, response))


# --- a skeleton: a name line, then a fenced block tagged with a language ------------------------

NAMED = """Write the migration script.

Give it in the following format:
SCRIPTNAME is the lowercase name of the script including its file extension,
[LANGUAGE] is the language of the code block, and [BODY] is the script:

SCRIPTNAME
```[LANGUAGE]
[BODY]
```

Keep it short.
"""


def test_name_line_then_tagged_fence_skeleton() -> None:
    tpl = parse(NAMED, classify(NAMED))
    assert tpl.named_fence == ("Give it in the following format:", True, True, True)
    found = template_rules.checks(criterion("Give it in the following format:"), tpl, NAMED)
    assert found is not None and [c.name for c in found] == ["template_name_then_code_block"]
    check = _run(found[0])
    assert check("migrate_users.sql\n```sql\nSELECT 1;\n```\n")
    assert not check("Migrate_Users.sql\n```sql\nSELECT 1;\n```\n")  # not lowercase
    assert not check("migrate_users\n```sql\nSELECT 1;\n```\n")  # no extension
    assert not check("```sql\nSELECT 1;\n```\n")  # no name line
    assert not check("migrate_users.sql\n```\nSELECT 1;\n```\n")  # no language tag


def test_fence_with_real_code_is_no_skeleton() -> None:
    text = NAMED.replace("[BODY]", "print(1)\nprint(2)")
    assert parse(text, classify(text)).named_fence is None


# --- a JSON schema the reply must conform to ----------------------------------------------------

SCHEMA = """You sort support tickets.

Reply with only valid JSON matching the following schema:
{
    "type": "object",
    "properties": {
        "team": {"type": "string", "description": "- a bulleted\\n- note"},
        "urgent": {"type": "boolean"}
    },
    "required": ["team", "urgent"],
    "additionalProperties": false
}
"""


def test_json_schema_types_required_and_closed() -> None:
    tpl = parse(SCHEMA, classify(SCHEMA))
    line = "Reply with only valid JSON matching the following schema:"
    assert tpl.json_schema_by == line
    found = template_rules.checks(criterion(line), tpl, SCHEMA)
    assert found is not None and [c.name for c in found] == ["json_schema_conforms"]
    check = _run(found[0])
    assert check('{"team": "billing", "urgent": false}')
    assert not check('{"team": "billing"}')  # a required key missing
    assert not check('{"team": "billing", "urgent": false, "extra": 1}')  # closed object
    assert not check('{"team": ["billing"], "urgent": false}')  # wrong type
    assert not check('Here: {"team": "billing", "urgent": false}')  # "only valid JSON"
