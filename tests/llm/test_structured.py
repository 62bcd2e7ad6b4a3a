"""Structured output over loopback HTTP: tools, response_format fallback, re-asks, errors."""

from __future__ import annotations

import json

import pytest

from llmassert.errors import ConfigError, LLMOutputError
from llmassert.llm import LLMRequest
from llmassert.llm.managed_client import Client
from llmassert.testing.fake_server import FakeLLMServer, Reply

from .conftest import SCHEMA, user


def ask(text: str = "Rate this", schema: dict | None = None, **kw: object) -> LLMRequest:
    return LLMRequest(
        model="openai/fake-model",
        messages=user(text),
        output_schema=schema or SCHEMA,
        schema_name="rating",
        **kw,
    )


def test_structured_output_is_forced_tool_call_parsed_and_validated(
    client: Client, llm_server: FakeLLMServer
) -> None:
    llm_server.script(Reply(tool_args={"answer": "good", "score": 4}))
    result = client.complete(ask())
    assert result.data == {"answer": "good", "score": 4}
    assert json.loads(result.text) == result.data
    body = llm_server.requests[-1].body
    assert body["tool_choice"] == {"type": "function", "function": {"name": "rating"}}
    assert body["tools"][0]["function"]["parameters"] == SCHEMA
    assert result.reasks == 0 and result.attempts == 1


def test_non_object_schema_is_wrapped_and_unwrapped(client: Client) -> None:
    schema = {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2}
    result = client.complete(ask(schema=schema))
    assert isinstance(result.data, list) and len(result.data) == 2


def test_plain_completion_returns_text(client: Client, llm_server: FakeLLMServer) -> None:
    llm_server.script(Reply(content="Hello there"))
    result = client.complete(LLMRequest(model="openai/fake-model", messages=user("hi")))
    assert result.text == "Hello there" and result.data is None
    assert "tools" not in llm_server.requests[-1].body


def test_malformed_json_is_reasked_with_the_error(
    client: Client, llm_server: FakeLLMServer
) -> None:
    llm_server.script(
        Reply(tool_args='{"answer": "ok", "score": '), Reply(tool_args={"answer": "ok", "score": 3})
    )
    result = client.complete(ask())
    assert result.data == {"answer": "ok", "score": 3}
    assert result.reasks == 1 and result.attempts == 2
    second = llm_server.requests[1].body["messages"]
    # The re-ask carries the bad tool call and a tool message naming the problem.
    assert second[1]["role"] == "assistant" and second[1]["tool_calls"]
    assert second[2]["role"] == "tool" and "invalid JSON" in second[2]["content"]
    assert second[2]["tool_call_id"] == second[1]["tool_calls"][0]["id"]


def test_schema_violation_is_reasked(client: Client, llm_server: FakeLLMServer) -> None:
    llm_server.script(
        Reply(tool_args={"answer": "ok", "score": -2}),
        Reply(tool_args={"answer": "ok", "score": 2}),
    )
    result = client.complete(ask())
    assert result.data["score"] == 2 and result.reasks == 1
    assert "$.score" in llm_server.requests[1].body["messages"][-1]["content"]


def test_reasks_are_bounded_then_clear_output_error(
    client: Client, llm_server: FakeLLMServer
) -> None:
    llm_server.handler = lambda body: Reply(tool_args="not json at all")
    with pytest.raises(LLMOutputError) as info:
        client.complete(ask())
    message = str(info.value)
    assert "openai/fake-model" in message and "'rating'" in message
    assert "invalid JSON" in message and "after 2 re-asks" in message
    assert "\n" not in message
    assert len(llm_server.requests) == client.settings.max_reasks + 1
    summary = client.summary()
    assert summary.failed == 1 and summary.reasks == 2


def test_falls_back_to_response_format_when_tools_are_rejected(
    client: Client, llm_server: FakeLLMServer
) -> None:
    def no_tools(body: dict) -> Reply:
        if "tools" in body:
            return Reply(
                status=400,
                raw_body=json.dumps(
                    {"error": {"message": "this model does not support tools"}}
                ).encode(),
            )
        return Reply()

    llm_server.handler = no_tools
    result = client.complete(ask())
    assert set(result.data) == {"answer", "score"}
    last = llm_server.requests[-1].body
    assert last["response_format"]["type"] == "json_schema" and "tools" not in last
    # Remembered for the model: the next call goes straight to response_format.
    client.complete(ask("again"))
    assert "tools" not in llm_server.requests[-1].body


def test_invalid_schema_is_a_config_error_before_any_request(
    client: Client, llm_server: FakeLLMServer
) -> None:
    with pytest.raises(ConfigError, match="output_schema"):
        client.complete(ask(schema={"type": "object", "properties": {"a": {"type": "nope"}}}))
    assert llm_server.requests == []
