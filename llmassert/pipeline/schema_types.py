"""DocETL's output type language → JSON Schema, and the type check run after every LLM call.

Grammar (DocETL's, with its aliases)::

    type    := scalar | "list[" type "]" | "list" | "{" field ("," field)* "}" | "enum[" v ("," v)* "]"
               | "object" | "dict"
    scalar  := string|str|text|varchar | integer|int | number|float|decimal | boolean|bool
    field   := name ":" type

YAML sometimes parses an unquoted ``{a: string}`` into a mapping before we see it, so mappings
are accepted wherever a type is (they mean an object with those fields).
"""

from __future__ import annotations

from typing import Any

SCALARS: dict[str, str] = {
    "string": "string",
    "str": "string",
    "text": "string",
    "varchar": "string",
    "integer": "integer",
    "int": "integer",
    "number": "number",
    "float": "number",
    "decimal": "number",
    "boolean": "boolean",
    "bool": "boolean",
}


class TypeSyntaxError(ValueError):
    """A type string does not parse; the message says where."""


def object_schema(props: dict[str, Any]) -> dict[str, Any]:
    """A closed JSON object schema: these properties, every one required, no others."""
    return {
        "type": "object",
        "properties": props,
        "required": list(props),
        "additionalProperties": False,
    }


def to_json_schema(fields: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema of an ``output.schema`` mapping (every field required, no extras)."""
    return object_schema({str(name): parse_type(t) for name, t in fields.items()})


def parse_type(t: Any) -> dict[str, Any]:
    """One DocETL type (a string, or a mapping from YAML) as a JSON schema."""
    if isinstance(t, dict):
        return to_json_schema(t)
    if not isinstance(t, str):
        raise TypeSyntaxError(f"type must be a string like 'list[string]', got {t!r}")
    parser = _Parser(t)
    schema = parser.type()
    parser.skip_ws()
    if parser.pos != len(t):
        raise TypeSyntaxError(f"unexpected {t[parser.pos :]!r} in type {t!r}")
    return schema


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip_ws()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, ch: str) -> None:
        if self.peek() != ch:
            found = self.text[self.pos : self.pos + 10] or "end of text"
            raise TypeSyntaxError(f"expected {ch!r} at {found!r} in type {self.text!r}")
        self.pos += 1

    def word(self) -> str:
        self.skip_ws()
        if self.peek() in ("'", '"'):
            quote = self.text[self.pos]
            end = self.text.find(quote, self.pos + 1)
            if end < 0:
                raise TypeSyntaxError(f"unclosed quote in type {self.text!r}")
            value = self.text[self.pos + 1 : end]
            self.pos = end + 1
            return value
        start = self.pos
        while self.pos < len(self.text) and (
            self.text[self.pos].isalnum() or self.text[self.pos] in "_-. "
        ):
            if self.text[self.pos] == " " and self._next_is_delim():
                break
            self.pos += 1
        return self.text[start : self.pos].strip()

    def _next_is_delim(self) -> bool:
        rest = self.text[self.pos :].lstrip()
        return not rest or rest[0] in ",:]}[{"

    def type(self) -> dict[str, Any]:
        if self.peek() == "{":
            return self.obj()
        name = self.word()
        low = name.lower()
        if low in SCALARS:
            return {"type": SCALARS[low]}
        if low == "list":
            if self.peek() != "[":
                return {"type": "array"}
            self.expect("[")
            inner = self.type()
            self.expect("]")
            return {"type": "array", "items": inner}
        if low == "enum":
            self.expect("[")
            values = [self.word()]
            while self.peek() == ",":
                self.pos += 1
                values.append(self.word())
            self.expect("]")
            if any(not v for v in values):
                raise TypeSyntaxError(f"empty enum value in type {self.text!r}")
            return {"type": "string", "enum": values}
        if low in ("object", "dict"):
            return {"type": "object"}
        known = ", ".join(sorted({*SCALARS, "list[T]", "enum[a, b]", "{field: T}", "object"}))
        shown = name or self.text[self.pos : self.pos + 10] or "nothing"
        raise TypeSyntaxError(f"unknown type {shown!r} in {self.text!r} (known: {known})")

    def obj(self) -> dict[str, Any]:
        self.expect("{")
        props: dict[str, Any] = {}
        while True:
            key = self.word()
            if not key:
                raise TypeSyntaxError(f"expected a field name in type {self.text!r}")
            self.expect(":")
            props[key] = self.type()
            if self.peek() == ",":
                self.pos += 1
                continue
            self.expect("}")
            break
        return object_schema(props)


def check_value(schema: dict[str, Any], value: Any, path: str = "output") -> tuple[Any, list[str]]:
    """Type-check ``value`` against a schema made by :func:`parse_type`.

    Returns the value with harmless coercions applied (``3.0`` for an integer becomes ``3``) and
    a list of problems, each naming the path (``output.items[2].name: expected string``).
    """
    errors: list[str] = []
    return _check(schema, value, path, errors), errors


def _check(schema: dict[str, Any], value: Any, path: str, errors: list[str]) -> Any:
    kind = schema.get("type")
    if kind == "string":
        if not isinstance(value, str):
            errors.append(f"{path}: expected string, got {type(value).__name__}")
        elif "enum" in schema and value not in schema["enum"]:
            errors.append(f"{path}: {value!r} is not one of {schema['enum']}")
        return value
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int | float):
            errors.append(f"{path}: expected integer, got {type(value).__name__}")
        elif isinstance(value, float):
            if value.is_integer():
                return int(value)
            errors.append(f"{path}: expected integer, got {value}")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            errors.append(f"{path}: expected number, got {type(value).__name__}")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            errors.append(f"{path}: expected boolean, got {type(value).__name__}")
        return value
    if kind == "array":
        if not isinstance(value, list):
            errors.append(f"{path}: expected list, got {type(value).__name__}")
            return value
        items = schema.get("items")
        if items is None:
            return value
        return [_check(items, v, f"{path}[{i}]", errors) for i, v in enumerate(value)]
    if kind == "object":
        if not isinstance(value, dict):
            errors.append(f"{path}: expected object, got {type(value).__name__}")
            return value
        props: dict[str, Any] = schema.get("properties") or {}
        if not props:
            return value
        out = dict(value)
        for key, sub in props.items():
            if key not in value:
                errors.append(f"{path}: missing field {key!r}")
            else:
                out[key] = _check(sub, value[key], f"{path}.{key}", errors)
        if schema.get("additionalProperties") is False:
            extra = sorted(set(value) - set(props))
            if extra:
                # Extra keys are dropped, not fatal: models often add a stray field.
                for key in extra:
                    out.pop(key, None)
        return out
    return value
