"""The litellm integration, with litellm talking HTTP to the loopback server."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from llmassert.config import Settings
from llmassert.errors import AssertionsFailedError
from llmassert.hooks import (
    FailureLog,
    LiteLLMGuard,
    guard,
    guarded_completion,
    install,
    remove_litellm_callback,
)
from llmassert.hooks import litellm_callback as make_callback
from llmassert.hooks.failure_log import canonical_json, sha256_text
from llmassert.llm import get_client
from llmassert.llm.client import LLMRequest
from llmassert.testing.fake_server import FakeLLMServer, Reply

litellm = pytest.importorskip("litellm")

BAD = "Sorry, revenue grew by twelve percent because of strong sales in every region."
GOOD = "Revenue grew twelve percent."


def _kwargs(server: FakeLLMServer, content: str = "How did revenue do?") -> dict[str, Any]:
    return {
        "model": "openai/fake-model",
        "api_base": server.base_url,
        "api_key": "sk-fake-key",
        "messages": [{"role": "user", "content": content}],
        "llmassert_example": {"max_words": 10},
    }


def _failures(path: Path, example: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Failure lines (for calls whose example was ``example``, when given)."""
    if not path.exists():
        return []
    lines = [json.loads(x) for x in path.read_text().splitlines() if '"failure"' in x]
    if example is None:
        return lines
    digest = sha256_text(canonical_json(example))
    return [line for line in lines if line["input_sha256"] == digest]


def test_guarded_completion_reasks_through_messages_and_counts_tokens(
    llm_server: FakeLLMServer, checks_path: Path, failure_log: Path
) -> None:
    llm_server.script(Reply(content=BAD, usage=(30, 20)), Reply(content=GOOD, usage=(50, 6)))
    guarded = LiteLLMGuard(checks_path, on_fail="reask", failure_log=failure_log)
    response = guarded.completion(**_kwargs(llm_server))
    assert response.choices[0].message.content == GOOD
    sent = llm_server.requests[1].body
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert "llmassert_example" not in sent
    assert guarded.stats.reasks == 1
    assert (guarded.stats.usage.prompt_tokens, guarded.stats.usage.completion_tokens) == (80, 26)
    assert [f["assertion"] for f in _failures(failure_log)] == ["max_words", "no_sorry"]


def test_guarded_completion_fix_returns_a_fixed_copy(
    llm_server: FakeLLMServer, checks_path: Path, failure_log: Path
) -> None:
    llm_server.script(Reply(content="Sorry, revenue grew."))
    response = guarded_completion(checks_path, on_fail="fix", **_kwargs(llm_server))
    assert response.choices[0].message.content == "revenue grew."


def test_install_guards_plain_litellm_calls_until_uninstalled(
    llm_server: FakeLLMServer, checks_path: Path, failure_log: Path
) -> None:
    llm_server.handler = lambda body: Reply(content=BAD)
    original = litellm.completion
    handle = install(checks_path, on_fail="exception", failure_log=failure_log)
    try:
        with pytest.raises(AssertionsFailedError, match="no_sorry"):
            litellm.completion(**_kwargs(llm_server))
        with pytest.raises(AssertionsFailedError):
            asyncio.run(litellm.acompletion(**_kwargs(llm_server, "Again?")))
    finally:
        handle.uninstall()
    assert litellm.completion is original
    plain = _kwargs(llm_server)
    plain.pop("llmassert_example")
    assert litellm.completion(**plain).choices[0].message.content == BAD


def _wait_for(predicate: Any, seconds: float = 15.0) -> None:
    # litellm runs success callbacks on its own threads / tasks, after returning.
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.05)


def test_callback_checks_and_logs_but_cannot_change_the_response(
    llm_server: FakeLLMServer, checks_path: Path, failure_log: Path
) -> None:
    llm_server.handler = lambda body: Reply(content=BAD)
    callback = make_callback(checks_path, prompt_name="support", failure_log=failure_log)
    litellm.callbacks.append(callback)
    # litellm may still be logging calls of earlier tests on its threads: pick out ours by the
    # hash of the example each call produces.
    sync_messages = [{"role": "user", "content": "sync call"}]
    async_messages = [{"role": "user", "content": "async call"}]
    sync_example = {"messages": sync_messages, "max_words": 50}
    async_example = {"messages": async_messages, "max_words": 50}
    base = _kwargs(llm_server)
    base.pop("llmassert_example")
    base["metadata"] = {"llmassert_example": {"max_words": 50}}
    try:
        response = litellm.completion(**{**base, "messages": sync_messages})
        assert response.choices[0].message.content == BAD  # unchanged: log-only by design
        _wait_for(lambda: _failures(failure_log, sync_example))
        sync_lines = _failures(failure_log, sync_example)
        # max_words read the example passed through metadata (50 words): only no_sorry fails.
        assert [f["assertion"] for f in sync_lines] == ["no_sorry"]
        assert sync_lines[0]["prompt"] == "support" and sync_lines[0]["policy"] == "noop"

        async def call() -> None:
            await litellm.acompletion(**{**base, "messages": async_messages})
            for _ in range(300):  # litellm logs on a task of this loop: let it run
                if _failures(failure_log, async_example):
                    break
                await asyncio.sleep(0.05)

        asyncio.run(call())
        assert [f["assertion"] for f in _failures(failure_log, async_example)] == ["no_sorry"]
    finally:
        remove_litellm_callback(callback)
        FailureLog.for_path(failure_log).flush()
    assert all(
        callback not in getattr(litellm, name)
        for name in ("callbacks", "success_callback", "_async_success_callback")
    )


def test_guard_over_our_client_with_the_litellm_transport(
    llm_server: FakeLLMServer, llm_settings: Settings, checks_path: Path, failure_log: Path
) -> None:
    client = get_client(llm_settings.replace(transport="litellm"))
    llm_server.script(Reply(content=BAD), Reply(content=GOOD))

    @guard(checks_path, on_fail="reask", failure_log=failure_log)
    def answer(question: str, feedback: str | None = None) -> str:
        content = question + (f"\n{feedback}" if feedback else "")
        return client.complete(
            LLMRequest(model="openai/fake-model", messages=({"role": "user", "content": content},))
        ).text

    assert answer("Revenue?") == GOOD
    assert client.usage.requests == 2 and answer.stats.reasks == 1


def test_a_replay_miss_through_the_guard_is_a_cassette_miss_error(
    llm_server: FakeLLMServer, llm_settings: Settings, checks_path: Path, tmp_path: Path
) -> None:
    from llmassert.errors import CassetteMissError
    from llmassert.llm import recording

    llm_server.script(Reply(content=GOOD))
    guarded = LiteLLMGuard(checks_path, failure_log=False)
    record = llm_settings.replace(mode="record", cassette_dir=tmp_path / "cassettes")
    with recording.cassette(record, "guarded"):
        guarded.completion(**_kwargs(llm_server))
    asked = len(llm_server.requests)
    replay = record.replace(mode="replay")
    with recording.cassette(replay, "guarded"):
        assert guarded.completion(**_kwargs(llm_server)).choices[0].message.content == GOOD
        with pytest.raises(CassetteMissError) as info:
            guarded.completion(**_kwargs(llm_server, "A question never recorded?"))
    message = str(info.value)
    assert message.startswith("request not in cassette ") and "guarded.yaml" in message
    assert "/chat/completions (model fake-model): no recorded request has this body" in message
    assert "Connection error" not in message and "\n" not in message
    assert len(llm_server.requests) == asked  # replay never reached the server
