"""A JSON schema subset compiled to closures: a fast "certainly valid" answer per reply.

jsonschema walks a validator per keyword for every reply (~130 µs for a two-field object);
the output schemas pipelines send (DocETL's type language: objects, arrays, strings, numbers,
booleans, enums) need a few ``isinstance`` checks.  :func:`compile_schema` returns a predicate
for schemas made only of the keywords below, or ``None`` for anything else (``$ref``,
``anyOf``, patterns, formats...).  The predicate answers True only when the value is certainly
valid; on False the caller asks jsonschema, which decides and words the error, so the subset
can never accept what jsonschema would refuse, nor change an error message.

A schema this compiles is also well formed under the latest metaschema (draft 2020-12, what
jsonschema picks without ``$schema``): keyword values of the wrong shape (a negative
``minItems``, repeated ``required`` names or types, a non-string ``description``) are
unsupported here.  So the caller may skip jsonschema's ``check_schema`` for it, and build the
jsonschema validator only for the first reply this does not accept (importing jsonschema and
checking a schema costs ~0.1 s, which would otherwise delay a run's first request).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

# Keywords that never affect validity.
_ANNOTATIONS = frozenset({"description", "title", "default", "examples", "$comment"})
_KEYWORDS = frozenset(
    {"type", "properties", "required", "additionalProperties", "items", "enum"}
    | {"minItems", "maxItems"}
)


def _is_int(v: Any) -> bool:
    return type(v) is int  # bool is not; 1.0 goes to jsonschema


def _is_number(v: Any) -> bool:
    return type(v) is int or type(v) is float


_TYPES: dict[str, Check] = {
    "string": lambda v: type(v) is str,
    "integer": _is_int,
    "number": _is_number,
    "boolean": lambda v: type(v) is bool,
    "null": lambda v: v is None,
    "object": lambda v: type(v) is dict,
    "array": lambda v: type(v) is list,
}


def compile_schema(schema: Any) -> Check | None:
    """A predicate that is True only for values valid under ``schema``; None if unsupported."""
    try:
        return _compile(schema, 0)
    except _Unsupported:
        return None


class _Unsupported(Exception):
    pass


def _compile(schema: Any, depth: int) -> Check:
    if schema is True or schema == {}:
        return lambda v: True
    if not isinstance(schema, dict) or depth > 32:
        raise _Unsupported
    unknown = set(schema) - _KEYWORDS - _ANNOTATIONS
    if unknown:
        raise _Unsupported
    if any(
        k in schema and type(schema[k]) is not str for k in ("description", "title", "$comment")
    ) or ("examples" in schema and type(schema["examples"]) is not list):
        raise _Unsupported  # not well formed: jsonschema words the schema error
    checks: list[Check] = []
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not kinds or any(k not in _TYPES for k in kinds) or len(set(kinds)) < len(kinds):
            raise _Unsupported
        tests = [_TYPES[k] for k in kinds]
        checks.append(tests[0] if len(tests) == 1 else (lambda v: any(t(v) for t in tests)))
    if "enum" in schema:
        allowed = schema["enum"]
        if not isinstance(allowed, list) or not all(a is None or type(a) is str for a in allowed):
            raise _Unsupported  # 1 == True == 1.0 in Python; jsonschema tells them apart
        members = frozenset(allowed)
        checks.append(lambda v: (v is None or type(v) is str) and v in members)
    props = schema.get("properties")
    required = schema.get("required")
    extra = schema.get("additionalProperties", True)
    if props is not None or required is not None or extra is not True:
        if props is not None and not isinstance(props, dict):
            raise _Unsupported
        if required is not None and not (
            isinstance(required, list)
            and all(isinstance(r, str) for r in required)
            and len(set(required)) == len(required)
        ):
            raise _Unsupported
        sub = {k: _compile(s, depth + 1) for k, s in (props or {}).items()}
        need = tuple(required or ())
        other = None if extra is False else _compile(extra, depth + 1)

        def obj(v: Any) -> bool:
            if type(v) is not dict:
                return True  # not an object: properties do not apply (type checks that)
            for k in need:
                if k not in v:
                    return False
            for k, item in v.items():
                check = sub.get(k)
                if check is None:
                    if other is None or not other(item):
                        return False
                elif not check(item):
                    return False
            return True

        checks.append(obj)
    if "items" in schema or "minItems" in schema or "maxItems" in schema:
        each = _compile(schema["items"], depth + 1) if "items" in schema else None
        lo, hi = schema.get("minItems"), schema.get("maxItems")
        if not all(b is None or (type(b) is int and b >= 0) for b in (lo, hi)):
            raise _Unsupported

        def arr(v: Any) -> bool:
            if type(v) is not list:
                return True
            if (lo is not None and len(v) < lo) or (hi is not None and len(v) > hi):
                return False
            return each is None or all(each(x) for x in v)

        checks.append(arr)
    if not checks:
        return lambda v: True
    if len(checks) == 1:
        return checks[0]
    return lambda v: all(c(v) for c in checks)
