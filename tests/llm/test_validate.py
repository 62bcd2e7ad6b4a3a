"""Configuration errors are one line, name the field, and come before any request."""

from __future__ import annotations

import pytest

from llmassert.config import Settings
from llmassert.errors import ConfigError
from llmassert.llm import LLMRequest
from llmassert.llm.managed_client import build_client

from .conftest import user


@pytest.fixture(autouse=True)
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "OPENAI_API_BASE",
        "OPENAI_BASE_URL",
        "LLMASSERT_API_BASE",
        "LLMASSERT_MODEL",
    ):
        monkeypatch.delenv(var, raising=False)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (dict(model=""), "model: no model configured"),
        (dict(model="gpt 4"), "model: malformed model string 'gpt 4'"),
        (dict(model="openai/"), "model: malformed model string"),
        (dict(model="made-up-model"), "model: unknown model 'made-up-model' without a provider"),
        (
            dict(model="openai/gpt-4o-mini"),
            "no API key for openai model 'openai/gpt-4o-mini' (set OPENAI_API_KEY",
        ),
        (dict(model="anthropic/claude-3-5-haiku-20241022"), "set ANTHROPIC_API_KEY"),
        (dict(model="openai/x", api_base="http://:80/v1"), "api_base: malformed api_base"),
        (dict(model="openai/x", api_base="http://host:99999/v1"), "api_base: malformed api_base"),
        (dict(model="openai/x", api_base="http://h/v1?x=1"), "must not have a query"),
        (
            dict(model="openai/x", api_base="http://h/v1", mode="replay"),
            "cassette_dir: mode 'replay'",
        ),
        (
            dict(model="openai/x", api_base="http://h/v1", embedding_model="bad model"),
            "embedding_model: malformed",
        ),
    ],
)
def test_bad_config_is_one_line(settings: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_client(Settings(**settings))  # type: ignore[arg-type]
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_unknown_provider_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="unknown provider 'notaprovider'"):
        build_client(Settings(model="notaprovider/x", api_base="http://h/v1"))


def test_bad_api_base_scheme_from_settings() -> None:
    with pytest.raises(ConfigError, match="api_base"):
        Settings.from_env(api_base="ftp://h")


def test_good_configs_need_no_key_where_none_is_needed() -> None:
    build_client(Settings(model="openai/local", api_base="http://127.0.0.1:8000/v1"))
    build_client(Settings(model="gpt-4o-mini", api_key="sk-given-explicitly-123"))
    # Replays never reach the provider: CI needs no key.
    build_client(Settings(model="openai/gpt-4o-mini", mode="replay", cassette_dir="c"))


def test_request_models_are_checked_too() -> None:
    client = build_client(Settings(api_base="http://127.0.0.1:9/v1"))  # offline: no model
    with pytest.raises(ConfigError, match="malformed model string"):
        client.complete(LLMRequest(model="bad model", messages=user("x")))
    with pytest.raises(ConfigError, match="embedding_model: no embedding model"):
        client.embed(["x"])
