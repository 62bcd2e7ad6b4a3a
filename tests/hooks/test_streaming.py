"""Guarded streams over real HTTP streaming (server-sent events from the loopback server),
through litellm: chunks pass through, the assembled text is checked, monotone checks stop a
stream early, other checks never do."""

from __future__ import annotations

import asyncio
import json
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from llmassert.assertions import AssertionSet
from llmassert.errors import AssertionsFailedError, ConfigError
from llmassert.hooks import LiteLLMGuard
from llmassert.hooks.streaming import StreamCheck, chunk_text
from llmassert.testing.fake_server import FakeLLMServer, Reply

litellm = pytest.importorskip("litellm")

STREAM_CHECKS = textwrap.dedent('''
    from llmassert.assertions.helpers import contains_any, word_count


    def no_sorry(example, response):
        """Never apologize.

        Monotone: yes
        """
        return not contains_any(response, ("sorry",))


    def ends_with_question(example, response):
        """End with a question."""
        return response.rstrip().endswith("?")


    def max_words(example, response):
        """At most 12 words."""
        return word_count(response) <= 12
''')
LONG_SORRY = "Sorry, " + " ".join(f"word{i}" for i in range(30)) + "?"


@pytest.fixture
def stream_checks(tmp_path: Path) -> Path:
    path = tmp_path / "stream_checks.py"
    path.write_text(STREAM_CHECKS)
    return path


def _kwargs(server: FakeLLMServer, content: str = "Say something.") -> dict[str, Any]:
    return {
        "model": "openai/fake-model",
        "api_base": server.base_url,
        "api_key": "sk-fake-key-0000000000",
        "messages": [{"role": "user", "content": content}],
        "stream": True,
    }


def _wait_finished(server: FakeLLMServer) -> None:
    deadline = time.monotonic() + 10
    while not server.requests[-1].finished and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_passing_stream_yields_every_chunk_and_checks_the_assembled_text(
    llm_server: FakeLLMServer, stream_checks: Path, tmp_path: Path
) -> None:
    answer = "Could this short answer help you?"
    llm_server.script(Reply(content=answer))
    log = tmp_path / "failures.jsonl"
    guarded = LiteLLMGuard(stream_checks, failure_log=log)
    stream = guarded.completion(**_kwargs(llm_server))
    pieces = [chunk_text(c) for c in stream]
    assert "".join(pieces) == answer and len([p for p in pieces if p]) == 6
    assert stream.result is not None and stream.result.passed and not stream.stopped_early
    assert llm_server.requests[-1].stream_completed
    assert not log.exists() or '"failure"' not in log.read_text()


def test_a_check_that_is_not_monotone_is_judged_only_at_the_end(
    llm_server: FakeLLMServer, stream_checks: Path
) -> None:
    # Too long and no question mark: both fail, but neither is declared monotone.
    llm_server.script(Reply(content=" ".join(f"w{i}" for i in range(20)) + "."))
    guarded = LiteLLMGuard(stream_checks, failure_log=False)
    stream = guarded.completion(**_kwargs(llm_server))
    seen: list[str] = []
    with pytest.raises(AssertionsFailedError) as info:
        for chunk in stream:
            seen.append(chunk_text(chunk))
    assert "checked on the assembled stream" in str(info.value)
    assert {f.name for f in info.value.failures} == {"ends_with_question", "max_words"}
    assert len([s for s in seen if s]) == 20  # every chunk reached the caller first
    assert llm_server.requests[-1].stream_completed


def test_a_monotone_check_stops_the_stream_early_and_closes_it(
    llm_server: FakeLLMServer, stream_checks: Path
) -> None:
    llm_server.script(Reply(content=LONG_SORRY, chunk_delay_s=0.05))
    guarded = LiteLLMGuard(stream_checks, failure_log=False)
    stream = guarded.completion(**_kwargs(llm_server))
    seen: list[str] = []
    with pytest.raises(AssertionsFailedError) as info:
        for chunk in stream:
            seen.append(chunk_text(chunk))
    assert "no_sorry" in str(info.value) and "stream stopped early" in str(info.value)
    assert [f.name for f in info.value.failures] == ["no_sorry"]
    text = "".join(seen)
    assert text.startswith("Sorry, ") and len(text) < len(LONG_SORRY) // 3
    _wait_finished(llm_server)
    request = llm_server.requests[-1]
    assert not request.stream_completed  # the HTTP stream was closed, not read to the end
    assert request.chunks_sent < len(LONG_SORRY.split())


def test_noop_logs_but_never_stops_or_raises(
    llm_server: FakeLLMServer, stream_checks: Path, tmp_path: Path
) -> None:
    llm_server.script(Reply(content=LONG_SORRY))
    log = tmp_path / "failures.jsonl"
    guarded = LiteLLMGuard(stream_checks, on_fail="noop", failure_log=log)
    text = "".join(chunk_text(c) for c in guarded.completion(**_kwargs(llm_server)))
    assert text == LONG_SORRY
    failures = [json.loads(x) for x in log.read_text().splitlines() if '"failure"' in x]
    assert {f["assertion"] for f in failures} >= {"no_sorry", "max_words"}


def test_warn_assertions_are_logged_never_raised_and_the_core_counts_the_stream(
    llm_server: FakeLLMServer, stream_checks: Path, tmp_path: Path
) -> None:
    # Fails the (non-monotone) ending check only, declared warn here: logged, not raised.
    answer = "A short answer."
    llm_server.script(Reply(content=answer), Reply(content=answer))
    log = tmp_path / "failures.jsonl"
    severity = {"ends_with_question": "warn"}
    guarded = LiteLLMGuard(stream_checks, failure_log=log, severity=severity)
    stream = guarded.completion(**_kwargs(llm_server))
    assert "".join(chunk_text(c) for c in stream) == answer
    assert stream.result is not None and not stream.result.passed
    failures = [json.loads(x) for x in log.read_text().splitlines() if '"failure"' in x]
    assert [f["assertion"] for f in failures] == ["ends_with_question"]
    stats = guarded.guard.stats
    assert (stats.calls, stats.attempts, stats.passed, stats.raised) == (1, 1, 1, 0)
    # The same answer with the module's own severity (block) raises at the end.
    blocking = LiteLLMGuard(stream_checks, failure_log=False)
    with pytest.raises(AssertionsFailedError, match="ends_with_question"):
        list(blocking.completion(**_kwargs(llm_server)))
    assert (blocking.guard.stats.calls, blocking.guard.stats.raised) == (1, 1)


def test_policies_that_cannot_apply_to_a_stream_are_refused(
    llm_server: FakeLLMServer, stream_checks: Path
) -> None:
    guarded = LiteLLMGuard(stream_checks, on_fail="reask", failure_log=False)
    with pytest.raises(ConfigError, match="cannot apply to stream=True"):
        guarded.completion(**_kwargs(llm_server))
    assert llm_server.requests == []  # refused before any call


def test_async_streams_stop_early_too(llm_server: FakeLLMServer, stream_checks: Path) -> None:
    llm_server.script(Reply(content=LONG_SORRY, chunk_delay_s=0.05))
    guarded = LiteLLMGuard(stream_checks, failure_log=False)

    async def consume() -> list[str]:
        seen: list[str] = []
        stream = await guarded.acompletion(**_kwargs(llm_server))
        async for chunk in stream:
            seen.append(chunk_text(chunk))
        return seen

    with pytest.raises(AssertionsFailedError, match="stream stopped early"):
        asyncio.run(consume())
    _wait_finished(llm_server)
    assert not llm_server.requests[-1].stream_completed


def test_prefixes_are_judged_on_whole_words_only(stream_checks: Path) -> None:
    module = stream_checks.read_text().replace('("sorry",)', '("just",)')
    with AssertionSet.load(module) as checks:
        state = StreamCheck(checks, {}, stop_early=True)
        for delta in ("Jus", "tice ", "is ", "served"):
            assert state.feed(delta) is None  # "just" was never a whole word
        assert state.feed(" just") is None  # not yet followed by whitespace
        failing = state.feed(" now")
        assert failing is not None and failing.failed_names == ["no_sorry"]
