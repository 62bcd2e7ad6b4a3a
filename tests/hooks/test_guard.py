"""@guard over real LLM calls to the loopback server: every on-fail policy, logging, cost."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from llmassert.assertions import judge
from llmassert.config import Settings
from llmassert.errors import AssertionsFailedError, ConfigError
from llmassert.hooks import FailureLog, guard
from llmassert.llm import get_client
from llmassert.llm.client import LLMRequest, LLMResult
from llmassert.testing.fake_server import FakeLLMServer, Reply

BAD = "Sorry, the quarterly revenue grew by twelve percent because of strong sales overall."
GOOD = "Revenue grew twelve percent."


def _lines(path: Path) -> list[dict[str, Any]]:
    FailureLog.for_path(path).flush()
    return [json.loads(line) for line in path.read_text().splitlines()]


def _failures(path: Path) -> list[dict[str, Any]]:
    return [line for line in _lines(path) if line["event"] == "failure"]


def _app(settings: Settings, checks: Path, log: Path, **options: Any) -> Any:
    client = get_client(settings)

    @guard(checks, failure_log=log, prompt_name="revenue", prompt_version=3, **options)
    def answer(question: str, max_words: int = 10, feedback: str | None = None) -> LLMResult:
        content = question if feedback is None else f"{question}\n\n{feedback}"
        return client.complete(
            LLMRequest(model=str(settings.model), messages=({"role": "user", "content": content},))
        )

    answer.client = client  # type: ignore[attr-defined]
    return answer


def test_exception_policy_raises_with_the_failures_and_logs_hashes_only(
    llm_server: FakeLLMServer, llm_settings: Settings, checks_path: Path, failure_log: Path
) -> None:
    llm_server.script(Reply(content=BAD))
    answer = _app(llm_settings, checks_path, failure_log, on_fail="exception")
    with pytest.raises(AssertionsFailedError, match=r"2 assertion.*max_words, no_sorry") as info:
        answer("How did revenue do?", max_words=10)
    assert info.value.exit_code == 1
    assert [f.name for f in info.value.failures] == ["max_words", "no_sorry"]
    lines = _failures(failure_log)
    assert [line["assertion"] for line in lines] == ["max_words", "no_sorry"]
    line = lines[0]
    assert (line["prompt"], line["prompt_version"], line["policy"]) == ("revenue", "3", "exception")
    assert len(line["response_sha256"]) == 64 and len(line["input_sha256"]) == 64
    assert line["criterion"] == "Answer in at most {max_words} words."
    raw = failure_log.read_text()
    assert "Sorry" not in raw and "How did revenue do" not in raw
    assert answer.stats.raised == 1 and answer.stats.calls == 1


def test_reask_passes_the_failures_back_and_counts_every_attempts_cost(
    llm_server: FakeLLMServer, llm_settings: Settings, checks_path: Path, failure_log: Path
) -> None:
    llm_server.script(Reply(content=BAD, usage=(20, 15)), Reply(content=GOOD, usage=(40, 5)))
    answer = _app(llm_settings, checks_path, failure_log, on_fail="reask")
    result = answer("How did revenue do?", max_words=10)
    assert result.text == GOOD
    second = llm_server.requests[1].body["messages"][-1]["content"]
    assert "Never apologize." in second and "at most {max_words} words" in second
    assert (answer.stats.reasks, answer.stats.attempts, answer.stats.passed) == (1, 2, 1)
    # Cost of the re-ask is counted: by the guard (from each response) and by the LLM layer.
    assert (answer.stats.usage.prompt_tokens, answer.stats.usage.completion_tokens) == (60, 20)
    assert answer.stats.usage.requests == 2
    assert answer.client.usage.requests == 2
    assert [line["attempt"] for line in _failures(failure_log)] == [0, 0]


def test_reask_is_bounded_then_raises(
    llm_server: FakeLLMServer, llm_settings: Settings, checks_path: Path, failure_log: Path
) -> None:
    llm_server.handler = lambda body: Reply(content=BAD)
    answer = _app(llm_settings, checks_path, failure_log, on_fail="reask", max_reasks=2)
    with pytest.raises(AssertionsFailedError, match="after 2 re-ask"):
        answer("How did revenue do?")
    assert len(llm_server.requests) == 3 and answer.stats.reasks == 2
    assert sorted({line["attempt"] for line in _failures(failure_log)}) == [0, 1, 2]


def test_reask_through_messages_appends_the_answer_and_the_feedback(
    llm_server: FakeLLMServer, llm_settings: Settings, checks_path: Path, failure_log: Path
) -> None:
    client = get_client(llm_settings)
    llm_server.script(Reply(content=BAD), Reply(content=GOOD))

    @guard(
        checks_path,
        on_fail="reask",
        failure_log=failure_log,
        example_from=lambda messages, **_: {"max_words": 10},
    )
    def chat(messages: list[dict[str, str]]) -> str:
        return client.complete(LLMRequest(model="openai/fake-model", messages=tuple(messages))).text

    assert chat([{"role": "user", "content": "Revenue?"}]) == GOOD
    sent = llm_server.requests[1].body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[1]["content"] == BAD and "Never apologize" in sent[2]["content"]


def test_reask_needs_a_way_to_pass_feedback(checks_path: Path) -> None:
    with pytest.raises(ConfigError, match="`feedback` or a `messages`"):
        guard(checks_path, on_fail="reask")(lambda question: question)


def test_fix_policy_applies_the_modules_fix_and_rechecks(
    llm_server: FakeLLMServer, llm_settings: Settings, checks_path: Path, failure_log: Path
) -> None:
    llm_server.script(
        Reply(content="Sorry, revenue grew."), Reply(content=BAD)
    )  # BAD also breaks max_words, which has no fix
    answer = _app(llm_settings, checks_path, failure_log, on_fail="fix")
    fixed = answer("Revenue?")
    assert isinstance(fixed, LLMResult) and fixed.text == "revenue grew."
    assert answer.stats.fixed == 1
    with pytest.raises(AssertionsFailedError, match="no fix_<name> for max_words"):
        answer("Revenue again?")


def test_filter_returns_none_and_noop_returns_the_response(
    llm_server: FakeLLMServer, llm_settings: Settings, checks_path: Path, failure_log: Path
) -> None:
    llm_server.handler = lambda body: Reply(content=BAD)
    assert _app(llm_settings, checks_path, failure_log, on_fail="filter")("Q1?") is None
    noop = _app(llm_settings, checks_path, failure_log, on_fail="noop")
    assert noop("Q2?").text == BAD
    assert {line["policy"] for line in _failures(failure_log)} == {"filter", "noop"}
    llm_server.handler = lambda body: Reply(content=GOOD)
    assert noop("Q3?").text == GOOD and noop.stats.passed == 1


def test_checks_are_counted_so_rates_can_be_computed(
    llm_server: FakeLLMServer, llm_settings: Settings, checks_path: Path, failure_log: Path
) -> None:
    answers = iter([GOOD, BAD, GOOD, GOOD])
    llm_server.handler = lambda body: Reply(content=next(answers))
    noop = _app(llm_settings, checks_path, failure_log, on_fail="noop")
    for i in range(4):
        noop(f"Q{i}?")
    counts = [line for line in _lines(failure_log) if line["event"] == "checks"]
    assert sum(c["checks"] for c in counts) == 4
    assert counts[0]["assertions"] == ["max_words", "no_sorry"]


def test_async_functions_are_guarded_with_async_checks(
    llm_server: FakeLLMServer, llm_settings: Settings, checks_path: Path, failure_log: Path
) -> None:
    client = get_client(llm_settings)
    llm_server.script(Reply(content=BAD), Reply(content=GOOD))

    @guard(checks_path, on_fail="reask", failure_log=failure_log)
    async def answer(question: str, feedback: str | None = None) -> str:
        content = question + (f"\n{feedback}" if feedback else "")
        result = await client.acomplete(
            LLMRequest(model="openai/fake-model", messages=({"role": "user", "content": content},))
        )
        return result.text

    assert asyncio.run(answer("Revenue?")) == GOOD
    assert answer.stats.reasks == 1


def test_openai_shaped_responses_are_read_and_fixed_without_mutating_the_original(
    llm_server: FakeLLMServer, checks_path: Path, failure_log: Path
) -> None:
    llm_server.script(Reply(content="Sorry, up 12%.", usage=(7, 3)))
    seen: list[dict[str, Any]] = []

    @guard(checks_path, on_fail="fix", failure_log=failure_log)
    def raw_chat(question: str) -> dict[str, Any]:
        body = {"model": "fake-model", "messages": [{"role": "user", "content": question}]}
        data: dict[str, Any] = httpx.post(
            f"{llm_server.base_url}/chat/completions", json=body
        ).json()
        seen.append(data)
        return data

    out = raw_chat("Revenue?")
    assert out["choices"][0]["message"]["content"] == "up 12%."
    assert seen[0]["choices"][0]["message"]["content"] == "Sorry, up 12%."
    assert raw_chat.stats.usage.prompt_tokens == 7


def test_judge_assertions_in_a_guard_ask_the_llm_and_explain_the_no(
    llm_server: FakeLLMServer, llm_settings: Settings, tmp_path: Path, failure_log: Path
) -> None:
    path = tmp_path / "judged.py"
    path.write_text(
        "from llmassert.assertions.judge import llm_judge\n\n\n"
        "def polite(example, response):\n"
        "    return llm_judge('Is the response polite?', example, response)\n"
    )
    client = get_client(llm_settings)
    llm_server.script(Reply(content="Go away."))
    llm_server.script(
        Reply(tool_args={"answer": "no", "reason": "dismissive"}), match="Is the response polite?"
    )

    @guard(path, failure_log=failure_log)
    def reply(question: str) -> str:
        return client.complete(
            LLMRequest(model="openai/fake-model", messages=({"role": "user", "content": question},))
        ).text

    with judge.using(client), pytest.raises(AssertionsFailedError) as info:
        reply("Can you help?")
    assert info.value.failures[0].message == "judge answered no: dismissive"


def test_log_raw_keeps_text_when_allowed(
    llm_server: FakeLLMServer, llm_settings: Settings, checks_path: Path, failure_log: Path
) -> None:
    llm_server.script(Reply(content=BAD))
    _app(llm_settings, checks_path, failure_log, on_fail="noop", log_raw=True)("Revenue?")
    line = _failures(failure_log)[0]
    assert line["response"] == BAD and line["input"]["question"] == "Revenue?"
    assert line["message"] == "returned False"


def test_unknown_policy_is_a_config_error(checks_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown policy 'retry'"):
        guard(checks_path, on_fail="retry")  # type: ignore[arg-type]


def test_warn_severity_logs_but_never_enforces(
    llm_settings: Settings, llm_server: FakeLLMServer, checks_path: Path, failure_log: Path
) -> None:
    short_sorry = "Sorry, revenue grew twelve percent."  # within 10 words, but apologizes
    llm_server.handler = lambda body: Reply(content=short_sorry)
    answer = _app(llm_settings, checks_path, failure_log, severity={"no_sorry": "warn"})
    assert answer("How did revenue do?").text == short_sorry  # not raised, not re-asked
    assert [f["assertion"] for f in _failures(failure_log)] == ["no_sorry"]
    assert len(llm_server.requests) == 1

    blocking = _app(llm_settings, checks_path, failure_log)  # the module's own severity: block
    with pytest.raises(AssertionsFailedError, match="no_sorry"):
        blocking("How did revenue do?")

    with pytest.raises(ConfigError, match="severity names 'nope'"):
        _app(llm_settings, checks_path, failure_log, severity={"nope": "warn"})
