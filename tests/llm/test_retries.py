"""Retries over loopback HTTP: Retry-After honoured, bounded storms, what is never retried."""

from __future__ import annotations

import email.utils
import time

import pytest

from llmassert.config import Settings
from llmassert.errors import LLMRateLimitError, LLMTransportError
from llmassert.llm import LLMRequest
from llmassert.llm.managed_client import Client, build_client
from llmassert.llm.retry import parse_retry_after
from llmassert.testing.fake_server import FakeLLMServer, Reply

from .conftest import user


def hello(text: str = "hello") -> LLMRequest:
    return LLMRequest(model="openai/fake-model", messages=user(text))


def test_429_retry_after_is_honoured(client: Client, llm_server: FakeLLMServer) -> None:
    llm_server.script(Reply(status=429, headers={"Retry-After": "1"}))
    result = client.complete(hello())
    assert result.attempts == 2 and result.text
    first, second = llm_server.requests
    assert first.status == 429 and second.status == 200
    # Behaviour, not speed: the server saw the retry no earlier than it asked for.
    assert second.started - first.finished >= 1.0
    assert client.summary().retries == 1


def test_retry_after_http_date_and_ms_forms() -> None:
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (parse_retry_after(future) or 0) <= 31
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after("garbage") is None
    assert parse_retry_after("999999") == 300.0  # capped


def test_500_storm_is_bounded_then_clear_error(
    llm_settings: Settings, llm_server: FakeLLMServer
) -> None:
    client = build_client(llm_settings.replace(max_retries=2))
    llm_server.handler = lambda body: Reply(status=500)
    with pytest.raises(LLMTransportError) as info:
        client.complete(hello())
    assert info.value.status == 500
    assert "HTTP 500 after 3 attempts" in str(info.value)
    assert "openai/fake-model" in str(info.value)
    assert len(llm_server.requests) == 3
    assert client.usage.requests == 3


def test_persistent_429_is_a_rate_limit_error(
    llm_settings: Settings, llm_server: FakeLLMServer
) -> None:
    client = build_client(llm_settings.replace(max_retries=1))
    llm_server.handler = lambda body: Reply(status=429, headers={"Retry-After": "0"})
    with pytest.raises(LLMRateLimitError) as info:
        client.complete(hello())
    assert info.value.status == 429 and len(llm_server.requests) == 2


def test_total_retry_time_is_bounded(llm_settings: Settings, llm_server: FakeLLMServer) -> None:
    # The server asks for 5 s but only 1 s of retrying is allowed: give up instead of sleeping.
    client = build_client(llm_settings.replace(max_retries=5, max_retry_seconds=1))
    llm_server.handler = lambda body: Reply(status=503, headers={"Retry-After": "5"})
    with pytest.raises(LLMTransportError, match="HTTP 503 after 1 attempt"):
        client.complete(hello())
    assert len(llm_server.requests) == 1


def test_other_4xx_are_not_retried(client: Client, llm_server: FakeLLMServer) -> None:
    llm_server.script(Reply(status=401, raw_body=b'{"error": {"message": "bad key"}}'))
    with pytest.raises(LLMTransportError) as info:
        client.complete(hello())
    assert info.value.status == 401 and "bad key" in str(info.value)
    assert "API key" in str(info.value)
    assert len(llm_server.requests) == 1


def test_timeouts_are_retried(llm_settings: Settings, llm_server: FakeLLMServer) -> None:
    client = build_client(llm_settings.replace(timeout_s=0.3))
    llm_server.script(Reply(delay_s=1.5))
    result = client.complete(hello())
    assert result.attempts == 2 and client.summary().retries == 1


def test_connection_refused_is_retried_then_reported(llm_settings: Settings) -> None:
    dead = FakeLLMServer().start()
    base = dead.base_url
    dead.stop()
    client = build_client(llm_settings.replace(api_base=base, max_retries=1))
    with pytest.raises(LLMTransportError, match=r"after 2 attempts.*connection error"):
        client.complete(hello())


def test_unparseable_200_body_is_retried(client: Client, llm_server: FakeLLMServer) -> None:
    llm_server.script(Reply(raw_body=b"<html>proxy hiccup</html>"))
    assert client.complete(hello()).attempts == 2
