"""Structured output: JSON schema → tool call (or ``response_format``) → parsed, validated data.

The schema is sent as the single tool with a forced ``tool_choice`` (the most widely supported way
to get schema-shaped JSON); for models that refuse tools, as ``response_format`` ``json_schema``.
Answers are parsed and validated with jsonschema; a failure yields :class:`InvalidOutput` with the
messages that re-ask the model (its answer plus the error), as instructor does.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Literal

from llmassert import jsonx
from llmassert.enforce import feedback
from llmassert.errors import ConfigError
from llmassert.llm.cache import canonical_json
from llmassert.llm.client import LLMRequest
from llmassert.llm.schema_fast import Check, compile_schema

# How structured output is requested (config.Mode is the live/record/replay mode).
OutputMode = Literal["tools", "json_schema"]
WRAP_KEY = "value"

_validators: dict[str, Any] = {}
_validators_lock = threading.Lock()
# output_schema object (by identity, held so its id is not reused) -> what parsing needs; an
# operation sends the same schema object with every request, so its canonical JSON (~20 µs)
# is computed once.  Bounded: callers that build a new schema per request only fill it up.
_by_id: dict[int, tuple[dict[str, Any], _Compiled]] = {}
_BY_ID_MAX = 512


@dataclass(frozen=True)
class _Compiled:
    params: dict[str, Any]  # the tool parameters (object schemas wrapped)
    wrapped: bool
    validator: Any  # jsonschema validator (None until a reply needs it: see _compiled)
    fast: Check | None  # certainly-valid predicate for the common subset (schema_fast)


class InvalidOutput(Exception):
    """The answer did not parse or validate; ``followup`` re-asks with the error."""

    def __init__(self, reason: str, followup: list[dict[str, Any]]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.followup = followup


@dataclass(frozen=True)
class Parsed:
    text: str
    data: Any


def tool_parameters(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Function parameters must be an object schema: wrap others as ``{"value": schema}``."""
    if schema.get("type") == "object" or ("properties" in schema and "type" not in schema):
        return schema, False
    wrapped: dict[str, Any] = {
        "type": "object",
        "properties": {WRAP_KEY: schema},
        "required": [WRAP_KEY],
    }
    if "$defs" in schema:
        inner = {k: v for k, v in schema.items() if k != "$defs"}
        wrapped = {**wrapped, "properties": {WRAP_KEY: inner}, "$defs": schema["$defs"]}
    return wrapped, True


def chat_body(
    request: LLMRequest, messages: list[dict[str, Any]], mode: OutputMode
) -> dict[str, Any]:
    """The OpenAI-shaped body (without ``model``) for one attempt of ``request``."""
    body: dict[str, Any] = {"messages": messages}
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    schema = request.output_schema
    if schema is not None:
        params, _ = tool_parameters(schema)
        name = request.schema_name
        if mode == "tools":
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": name,
                        "description": f"Return the {name} as structured data.",
                        "parameters": params,
                    },
                }
            ]
            body["tool_choice"] = {"type": "function", "function": {"name": name}}
        else:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": params},
            }
    body.update(request.params)
    return body


def _validator(schema: dict[str, Any]) -> Any:
    key = canonical_json(schema)
    with _validators_lock:
        found = _validators.get(key)
    if found is not None:
        return found
    import jsonschema  # lazy: ~60 ms, only needed once structured output is used

    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as e:
        raise ConfigError(f"not a valid JSON schema: {e.message}", field="output_schema") from None
    validator = cls(schema)
    with _validators_lock:
        _validators[key] = validator
    return validator


def _compiled(schema: dict[str, Any]) -> _Compiled:
    found = _by_id.get(id(schema))
    if found is not None and found[0] is schema:
        return found[1]
    params, wrapped = tool_parameters(schema)
    fast = compile_schema(params)
    # A schema the fast subset compiles is well formed (schema_fast): jsonschema is imported
    # and its validator built on the first reply that subset does not accept, not before the
    # first request.  Any other schema is checked here, before a request is sent.
    compiled = _Compiled(params, wrapped, None if fast is not None else _validator(params), fast)
    with _validators_lock:
        if len(_by_id) >= _BY_ID_MAX:
            _by_id.clear()
        _by_id[id(schema)] = (schema, compiled)
    return compiled


def check_schema(schema: dict[str, Any]) -> None:
    """Raise ConfigError for a malformed schema (before any request is sent)."""
    _compiled(schema)


def _first_choice(raw: dict[str, Any]) -> dict[str, Any]:
    choices = raw.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        raise InvalidOutput("the response has no choices", [])
    return choices[0]


def plain_text(raw: dict[str, Any]) -> str:
    message = _first_choice(raw).get("message") or {}
    return message.get("content") or ""


def parse(raw: dict[str, Any], request: LLMRequest, mode: OutputMode) -> Parsed:
    """Text and validated data of a structured answer, or InvalidOutput with re-ask messages."""
    assert request.output_schema is not None
    compiled = _compiled(request.output_schema)
    name = request.schema_name
    message = _first_choice(raw).get("message") or {}
    calls = message.get("tool_calls") or []
    content = message.get("content")
    call = next(
        (c for c in calls if (c.get("function") or {}).get("name") == name),
        calls[0] if calls else None,
    )
    if call is not None:
        text = (call.get("function") or {}).get("arguments") or ""
        assistant = {"role": "assistant", "content": content, "tool_calls": [call]}

        def followup(reason: str) -> list[dict[str, Any]]:
            return [
                assistant,
                {
                    "role": "tool",
                    "tool_call_id": call.get("id") or "call_0",
                    "content": feedback.schema_error(
                        reason, name=name, tool_call=True, json_mode=False
                    ),
                },
            ]
    else:
        text = content or ""
        assistant = {"role": "assistant", "content": text}

        def followup(reason: str) -> list[dict[str, Any]]:
            return [
                assistant,
                {
                    "role": "user",
                    "content": feedback.schema_error(
                        reason, name=name, tool_call=False, json_mode=mode == "json_schema"
                    ),
                },
            ]

    if not text.strip():
        raise InvalidOutput(
            "the answer is empty (no tool call and no content)", followup("the answer is empty")
        )
    try:
        data = jsonx.loads(_strip_fences(text))
    except ValueError as e:
        reason = f"invalid JSON ({e})"
        raise InvalidOutput(reason, followup(reason)) from None
    if compiled.fast is None or not compiled.fast(data):
        error = _first_error(compiled.validator or _validator(compiled.params), data)
        if error is not None:
            raise InvalidOutput(error, followup(error))
    return Parsed(text=text, data=data[WRAP_KEY] if compiled.wrapped else data)


def _strip_fences(text: str) -> str:
    # Content-mode answers often arrive as ```json fenced blocks; the JSON inside is what counts.
    s = text.strip()
    if s.startswith("```"):
        s = s.split("\n", 1)[1] if "\n" in s else ""
        s = s.rsplit("```", 1)[0]
    return s


def _first_error(validator: Any, data: Any) -> str | None:
    import jsonschema

    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is None:
        return None
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f"schema violation at ${where}: {error.message}"
