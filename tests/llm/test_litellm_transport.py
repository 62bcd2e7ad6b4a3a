"""The litellm transport (transport="litellm") over real HTTP to the loopback server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from llmassert.config import Settings
from llmassert.errors import ConfigError, LLMOutputError, LLMTransportError
from llmassert.llm import LLMRequest
from llmassert.llm.managed_client import Client, build_client
from llmassert.llm.transports import transport_name
from llmassert.testing.fake_server import FakeLLMServer, Reply

from .conftest import SCHEMA, user


@pytest.fixture
def lclient(llm_settings: Settings) -> Iterator[Client]:
    made = build_client(llm_settings.replace(transport="litellm"))
    assert isinstance(made, Client)
    yield made


def test_transport_choice(llm_settings: Settings) -> None:
    assert transport_name(llm_settings, "openai/fake-model") == "http"
    assert transport_name(llm_settings, "anthropic/claude-3-haiku") == "litellm"
    assert transport_name(llm_settings.replace(api_base=None), "openai/gpt-4o-mini") == "litellm"
    assert (
        transport_name(llm_settings.replace(transport="litellm"), "openai/fake-model") == "litellm"
    )
    assert transport_name(llm_settings.replace(transport="http"), "openai/fake-model") == "http"


def test_unknown_transport_is_a_config_error(llm_settings: Settings) -> None:
    with pytest.raises(ConfigError, match="unknown transport 'carrier-pigeon'") as info:
        build_client(llm_settings.replace(transport="carrier-pigeon"))
    assert info.value.field == "transport"


def test_plain_completion(lclient: Client, llm_server: FakeLLMServer) -> None:
    llm_server.script(Reply(content="from litellm", usage=(7, 3)))
    result = lclient.complete(LLMRequest(model="openai/fake-model", messages=user("hi")))
    assert result.text == "from litellm"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (7, 3)
    assert llm_server.requests[0].headers["user-agent"].startswith("AsyncOpenAI")


def test_structured_output_via_tools(lclient: Client, llm_server: FakeLLMServer) -> None:
    llm_server.script(Reply(tool_args="{bad"), Reply(tool_args={"answer": "a", "score": 9}))
    result = asyncio.run(
        lclient.acomplete(
            LLMRequest(model="openai/fake-model", messages=user("rate"), output_schema=SCHEMA)
        )
    )
    assert result.data == {"answer": "a", "score": 9} and result.reasks == 1
    body = llm_server.requests[0].body
    assert body["tool_choice"]["function"]["name"] == "output"
    reask = llm_server.requests[1].body["messages"]
    assert reask[-1]["role"] == "tool" and "invalid JSON" in reask[-1]["content"]


def test_429_retry_after_honoured_and_litellm_does_not_retry_itself(
    lclient: Client, llm_server: FakeLLMServer
) -> None:
    llm_server.script(Reply(status=429, headers={"Retry-After": "1"}))
    result = lclient.complete(LLMRequest(model="openai/fake-model", messages=user("hi")))
    first, second = llm_server.requests
    assert result.attempts == 2 and len(llm_server.requests) == 2
    assert second.started - first.finished >= 1.0


def test_500_storm_bounded(llm_settings: Settings, llm_server: FakeLLMServer) -> None:
    client = build_client(llm_settings.replace(transport="litellm", max_retries=1))
    llm_server.handler = lambda body: Reply(status=500)
    with pytest.raises(LLMTransportError) as info:
        client.complete(LLMRequest(model="openai/fake-model", messages=user("hi")))
    assert info.value.status == 500 and len(llm_server.requests) == 2


def test_bad_request_not_retried(lclient: Client, llm_server: FakeLLMServer) -> None:
    llm_server.script(Reply(status=400, raw_body=b'{"error": {"message": "context too long"}}'))
    with pytest.raises(LLMTransportError, match="context too long") as info:
        lclient.complete(LLMRequest(model="openai/fake-model", messages=user("hi")))
    assert info.value.status == 400 and len(llm_server.requests) == 1


def test_reasks_exhausted(lclient: Client, llm_server: FakeLLMServer) -> None:
    llm_server.handler = lambda body: Reply(tool_args={"answer": 1})
    with pytest.raises(LLMOutputError, match="schema violation"):
        lclient.complete(
            LLMRequest(model="openai/fake-model", messages=user("x"), output_schema=SCHEMA)
        )


def test_embeddings(lclient: Client, llm_server: FakeLLMServer) -> None:
    vectors = lclient.embed(["alpha beta", "gamma"])
    assert len(vectors) == 2 and len(vectors[0]) == 64
    assert llm_server.requests[0].path.endswith("/embeddings")
    assert lclient.usage.prompt_tokens > 0
