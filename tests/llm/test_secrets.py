"""The API key never reaches a cassette, a cache file, a log line or an error message."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from llmassert.config import Settings
from llmassert.errors import LLMTransportError
from llmassert.llm import LLMRequest
from llmassert.llm.recording import Scrubber
from llmassert.llm.session import session
from llmassert.testing.fake_server import FakeLLMServer, Reply

from .conftest import SCHEMA, user


@pytest.mark.parametrize("transport", ["http", "litellm"])
def test_key_never_written_or_logged(
    transport: str,
    llm_settings: Settings,
    llm_server: FakeLLMServer,
    tmp_path: Path,
    secret: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, third-party ones included
    settings = llm_settings.replace(
        transport=transport, cassette_dir=tmp_path / "cassettes", max_retries=1
    )
    llm_server.script(
        Reply(status=429, headers={"Retry-After": "0"}),
        Reply(status=401, raw_body=b'{"error": {"message": "invalid key"}}'),
    )
    with session(settings.replace(mode="record"), "secret") as client:
        with pytest.raises(LLMTransportError) as info:
            client.complete(LLMRequest(model="openai/fake-model", messages=user("x")))
        client.complete(
            LLMRequest(model="openai/fake-model", messages=user("s"), output_schema=SCHEMA)
        )
        asyncio.run(client.acomplete(LLMRequest(model="openai/fake-model", messages=user("y"))))
        client.embed(["some text"])
    with session(settings, "live") as client:  # live calls fill the cache
        client.complete(LLMRequest(model="openai/fake-model", messages=user("cache me")))
    assert secret in llm_server.requests[-1].headers["authorization"]  # it was really sent

    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".yaml" for p in written) and any(p.suffix == ".json" for p in written)
    for path in written:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert secret not in text, path
        assert "authorization" not in text.lower(), path
    out, err = capfd.readouterr()
    assert caplog.records  # logging really was captured
    assert secret not in caplog.text + out + err + str(info.value)
    assert secret not in repr(settings.replace(api_key=secret))


@pytest.mark.parametrize("transport", ["http", "litellm"])
def test_key_pasted_into_a_prompt_is_scrubbed_from_cassettes(
    transport: str,
    llm_settings: Settings,
    llm_server: FakeLLMServer,
    tmp_path: Path,
    secret: str,
) -> None:
    settings = llm_settings.replace(transport=transport, cassette_dir=tmp_path / "c")
    leaky = LLMRequest(
        model="openai/fake-model",
        output_schema=SCHEMA,
        messages=user(f"my key is {secret}, and also sk-proj-abcdefghijklmnop1234"),
    )
    with session(settings.replace(mode="record"), "leaky") as client:
        recorded = client.complete(leaky).data
    text = (tmp_path / "c" / "leaky.yaml").read_text()
    assert secret not in text and "sk-proj-abcdefghijklmnop1234" not in text
    assert "<redacted>" in text
    llm_server.stop()
    with session(settings.replace(mode="replay"), "leaky") as client:
        # Scrubbed the same way on both sides, so the replayed request still matches.
        assert client.complete(leaky).data == recorded


def test_scrubber_covers_urls_bodies_and_patterns() -> None:
    scrub = Scrubber(["hunter2-long-secret"])
    assert scrub.url("https://x/v1/models/m:gen?key=AIzaSyA-1234567890abcdefghij&alt=sse") == (
        "https://x/v1/models/m:gen?key=%3Credacted%3E&alt=sse"
    )
    body = scrub.body(b'{"b": "Bearer abcdefghijklmnop", "a": "hunter2-long-secret"}')
    assert body == b'{"a":"<redacted>","b":"<redacted>"}'
    assert scrub.body(b"plain hunter2-long-secret text") == b"plain <redacted> text"
