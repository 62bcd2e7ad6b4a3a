"""DocETL's output type language → JSON schema, and the post-call type check."""

from __future__ import annotations

import pytest

from llmassert.pipeline.schema_types import TypeSyntaxError, check_value, parse_type, to_json_schema


@pytest.mark.parametrize(
    "text, schema",
    [
        ("string", {"type": "string"}),
        ("str", {"type": "string"}),
        ("int", {"type": "integer"}),
        ("float", {"type": "number"}),
        ("bool", {"type": "boolean"}),
        ("list[string]", {"type": "array", "items": {"type": "string"}}),
        ("list[object]", {"type": "array", "items": {"type": "object"}}),
        ("enum[high, low]", {"type": "string", "enum": ["high", "low"]}),
        (
            "{name: string, age: integer}",
            {
                "type": "object",
                "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                "required": ["name", "age"],
                "additionalProperties": False,
            },
        ),
    ],
)
def test_parse(text: str, schema: dict[str, object]) -> None:
    assert parse_type(text) == schema


def test_nested_lists_of_objects_and_yaml_mappings() -> None:
    s = parse_type("list[{insight: string, actions: list[string]}]")
    assert s["items"]["properties"]["actions"] == {"type": "array", "items": {"type": "string"}}
    assert to_json_schema({"meta": {"ts": "string"}})["properties"]["meta"]["required"] == ["ts"]


@pytest.mark.parametrize("bad", ["strng", "list[", "list[string", "{a string}", "enum[]", ""])
def test_bad_types(bad: str) -> None:
    with pytest.raises(TypeSyntaxError):
        parse_type(bad)


def test_check_value_coerces_and_reports_paths() -> None:
    schema = to_json_schema({"n": "int", "tags": "list[string]", "level": "enum[a, b]"})
    value, errors = check_value(schema, {"n": 3.0, "tags": ["x"], "level": "a", "extra": 1})
    assert value == {"n": 3, "tags": ["x"], "level": "a"} and errors == []
    _, errors = check_value(schema, {"n": "3", "tags": ["x", 2], "level": "c"})
    assert errors == [
        "output.n: expected integer, got str",
        "output.tags[1]: expected string, got int",
        "output.level: 'c' is not one of ['a', 'b']",
    ]
    _, errors = check_value(schema, {"n": 1})
    assert "output: missing field 'tags'" in errors
