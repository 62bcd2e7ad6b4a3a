"""Record / replay through vcrpy cassettes, for both transports."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from llmassert.config import Settings
from llmassert.errors import CassetteMissError, ConfigError
from llmassert.llm import LLMRequest, get_client
from llmassert.llm.session import session
from llmassert.testing.fake_server import FakeLLMServer, Reply

from .conftest import SCHEMA, user


def structured(text: str) -> LLMRequest:
    return LLMRequest(model="openai/fake-model", messages=user(text), output_schema=SCHEMA)


def plain(text: str) -> LLMRequest:
    return LLMRequest(model="openai/fake-model", messages=user(text))


def record_some(settings: Settings) -> list[object]:
    with session(settings.replace(mode="record"), "demo") as client:
        return [
            client.complete(plain("Hello\nmulti-line prompt")),
            client.complete(structured("rate this")).data,
            asyncio.run(client.acomplete(structured("async call"))).data,
            client.embed(["alpha beta", "gamma"]),
        ]


def replay_some(settings: Settings) -> list[object]:
    with session(settings.replace(mode="replay"), "demo") as client:
        return [
            client.complete(plain("Hello\nmulti-line prompt")),
            client.complete(structured("rate this")).data,
            asyncio.run(client.acomplete(structured("async call"))).data,
            client.embed(["alpha beta", "gamma"]),
        ]


@pytest.fixture(params=["http", "litellm"])
def rec_settings(
    request: pytest.FixtureRequest, llm_settings: Settings, tmp_path: Path
) -> Settings:
    return llm_settings.replace(cassette_dir=tmp_path / "cassettes", transport=request.param)


def test_record_then_replay_with_the_server_stopped(
    rec_settings: Settings, llm_server: FakeLLMServer
) -> None:
    recorded = record_some(rec_settings)
    assert llm_server.stats.requests == 4
    llm_server.stop()
    replayed = replay_some(rec_settings)
    assert replayed[0].text == recorded[0].text  # type: ignore[attr-defined]
    assert replayed[1:] == recorded[1:]


def test_replay_matches_across_ports(rec_settings: Settings, llm_server: FakeLLMServer) -> None:
    recorded = record_some(rec_settings)
    with FakeLLMServer() as other:  # a new server on another random port, as in a later run
        replayed = replay_some(rec_settings.replace(api_base=other.base_url))
        assert other.stats.requests == 0
    assert replayed[1:] == recorded[1:]


def test_changed_prompt_fails_loudly_and_never_goes_live(
    rec_settings: Settings, llm_server: FakeLLMServer
) -> None:
    record_some(rec_settings)
    before = llm_server.stats.requests
    with session(rec_settings.replace(mode="replay"), "demo") as client:
        with pytest.raises(CassetteMissError) as info:
            client.complete(structured("rate this, but changed"))
        with pytest.raises(CassetteMissError):
            asyncio.run(client.acomplete(plain("another new prompt")))
        summary = client.summary()  # type: ignore[attr-defined]
    message = str(info.value)
    assert message.startswith("request not in cassette") and "demo.yaml" in message
    assert "\n" not in message
    assert llm_server.stats.requests == before  # nothing reached the (running) server
    assert summary.retries == 0 and summary.failed == 2


def test_missing_cassette_in_replay_mode(llm_settings: Settings, tmp_path: Path) -> None:
    settings = llm_settings.replace(mode="replay", cassette_dir=tmp_path / "none")
    with (
        pytest.raises(CassetteMissError, match=r"cassette .*nope\.yaml not found"),
        session(settings, "nope"),
    ):
        pass


def test_replay_mode_without_an_active_cassette_is_refused(
    llm_settings: Settings, tmp_path: Path, llm_server: FakeLLMServer
) -> None:
    client = get_client(llm_settings.replace(mode="replay", cassette_dir=tmp_path))
    with pytest.raises(ConfigError, match="no replay cassette is active"):
        client.complete(plain("x"))
    assert llm_server.stats.requests == 0


def test_retryable_failures_are_not_recorded(
    llm_settings: Settings, llm_server: FakeLLMServer, tmp_path: Path
) -> None:
    settings = llm_settings.replace(cassette_dir=tmp_path / "c")
    llm_server.script(Reply(status=429, headers={"Retry-After": "0"}), Reply(status=500))
    with session(settings.replace(mode="record"), "flaky") as client:
        client.complete(plain("x"))
    doc = yaml.safe_load((tmp_path / "c" / "flaky.yaml").read_text())
    assert [i["response"]["status"]["code"] for i in doc["interactions"]] == [200]
    llm_server.stop()
    with session(settings.replace(mode="replay"), "flaky") as client:
        assert client.complete(plain("x")).attempts == 1


def test_cassettes_are_readable_yaml(llm_settings: Settings, tmp_path: Path) -> None:
    settings = llm_settings.replace(cassette_dir=tmp_path / "c", mode="record")
    with session(settings, "readable") as client:
        client.complete(structured("line one\nline two"))
    text = (tmp_path / "c" / "readable.yaml").read_text()
    assert "line one\n" in text  # multi-line prompts stay multi-line (block scalars)
    doc = yaml.safe_load(text)
    request = doc["interactions"][0]["request"]
    assert request["body"]["json"]["messages"][0]["content"] == "line one\nline two"
    assert request["body"]["json"]["tools"][0]["function"]["name"] == "output"
    assert doc["interactions"][0]["response"]["body"]["json"]["choices"]
    assert [p.name for p in (tmp_path / "c").iterdir()] == ["readable.yaml"]  # no leftovers


def test_record_mode_bypasses_a_warm_cache(
    llm_settings: Settings, llm_server: FakeLLMServer, tmp_path: Path
) -> None:
    get_client(llm_settings).complete(plain("cached already"))
    settings = llm_settings.replace(cassette_dir=tmp_path / "c", mode="record")
    with session(settings, "warm") as client:
        assert not client.complete(plain("cached already")).cached
    assert llm_server.stats.requests == 2
    llm_server.stop()
    with session(settings.replace(mode="replay"), "warm") as client:
        assert client.complete(plain("cached already")).text


def test_session_client_is_shared_with_get_client(llm_settings: Settings, tmp_path: Path) -> None:
    settings = llm_settings.replace(cassette_dir=tmp_path / "c", mode="record")
    with session(settings, "shared") as client:
        assert get_client(settings) is client and get_client() is client
        assert get_client(llm_settings) is not client
    assert get_client(settings) is not client


def test_a_run_without_calls_records_an_empty_cassette_that_replays(
    llm_settings: Settings, tmp_path: Path, llm_server: FakeLLMServer
) -> None:
    settings = llm_settings.replace(cassette_dir=tmp_path / "c")
    with session(settings.replace(mode="record"), "quiet") as client:
        client.complete(plain("old"))
    with session(settings.replace(mode="record"), "quiet"):
        pass  # re-recorded: this run made no calls
    doc = yaml.safe_load((tmp_path / "c" / "quiet.yaml").read_text())
    assert doc["interactions"] == []
    with (
        session(settings.replace(mode="replay"), "quiet") as client,
        pytest.raises(CassetteMissError),
    ):
        client.complete(plain("old"))


def test_a_run_stopped_by_an_error_keeps_what_it_recorded(
    llm_settings: Settings, tmp_path: Path, llm_server: FakeLLMServer
) -> None:
    settings = llm_settings.replace(cassette_dir=tmp_path / "c")
    with (
        pytest.raises(RuntimeError, match="stop"),
        session(settings.replace(mode="record"), "partial") as client,
    ):
        client.complete(plain("done before the error"))
        raise RuntimeError("stop")
    llm_server.stop()
    with session(settings.replace(mode="replay"), "partial") as client:
        assert client.complete(plain("done before the error")).text
