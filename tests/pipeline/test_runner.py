"""The runner end to end over loopback HTTP: nothing lost under errors, budgets, resume, cache."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pipeline_kit import (
    chat_requests,
    last_user,
    read_json,
    read_jsonl,
    run_pipeline,
    write_pipeline,
)

from llmassert.config import Settings
from llmassert.errors import BudgetExceededError, OperationError
from llmassert.testing.fake_server import FakeLLMServer, Reply

PIPE = """\
default_model: openai/fake-model
datasets:
  docs: {type: file, path: data.json}
operations:
  - name: tag
    type: map
    SKIP
    prompt: "Tag {{ input.id }}: {{ input.text }}"
    output: {schema: {tag: string}}
  - name: keep
    type: filter
    prompt: "Keep {{ input.id }} ({{ input.tag }})?"
    output: {schema: {keep: boolean}}
  - name: count
    type: reduce
    reduce_key: tag
    prompt: "Count{% for i in inputs %} {{ i.id }}{% endfor %}"
    output: {schema: {ids: "list[int]"}}
pipeline:
  steps:
    - {name: rows, input: docs, operations: [tag, keep]}
    - {name: groups, input: rows, operations: [count]}
  output: {type: file, path: out.json}
"""
ROWS = [{"id": i, "text": f"text {i}"} for i in range(40)]


def answer(body: dict[str, Any]) -> Reply:
    prompt = last_user(body)
    word, rest = prompt.split(" ", 1)
    if word == "Tag":
        return Reply(tool_args={"tag": f"t{int(rest.split(':')[0]) % 3}"})
    if word == "Keep":
        return Reply(tool_args={"keep": int(rest.split(" ")[0]) % 4 != 0})
    return Reply(tool_args={"ids": [int(x) for x in rest.split()]})


def expected() -> list[dict[str, Any]]:
    kept = [i for i in range(40) if i % 4]
    groups: dict[str, list[int]] = {}
    for i in kept:
        groups.setdefault(f"t{i % 3}", []).append(i)
    return [{"tag": t, "ids": ids} for t, ids in groups.items()]


@pytest.fixture
def flaky(tmp_path: Path, llm_settings: Settings) -> Iterator[tuple[FakeLLMServer, Settings]]:
    server = FakeLLMServer(error_rate=0.2, seed=7).start()
    server.handler = answer
    try:
        yield (
            server,
            llm_settings.replace(api_base=server.base_url, max_retries=8, max_retry_seconds=30),
        )
    finally:
        server.stop()


def test_twenty_percent_errors_lose_nothing(
    tmp_path: Path, flaky: tuple[FakeLLMServer, Settings]
) -> None:
    server, settings = flaky
    report = run_pipeline(write_pipeline(tmp_path, PIPE.replace("    SKIP\n", ""), ROWS), settings)
    assert read_json(tmp_path / "out.json") == expected()
    statuses = [r.status for r in server.requests]
    assert statuses.count(429) + statuses.count(500) > 5  # errors really were injected
    tag, keep, count = (o.stats for o in report.ops)
    assert (tag.rows_in, tag.rows_out, keep.filtered, count.rows_out) == (40, 40, 10, 3)
    assert tag.retries > 0 and report.errored == 0 and report.quarantined == 0


def test_every_input_row_is_accounted_for(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    def some_fail(body: dict[str, Any]) -> Reply:
        prompt = last_user(body)
        if prompt.startswith("Tag 7:") or prompt.startswith("Tag 8:"):
            return Reply(status=400, raw_body=b'{"error": {"message": "bad request"}}')
        return answer(body)

    llm_server.handler = some_fail
    text = PIPE.replace("    SKIP\n", "    skip_on_error: true\n")
    report = run_pipeline(write_pipeline(tmp_path, text, ROWS), llm_settings)
    tag, keep, _ = (o.stats for o in report.ops)
    assert tag.rows_in == tag.rows_out + tag.errored == 40
    assert keep.rows_in == keep.rows_out + keep.filtered
    errors = read_jsonl(tmp_path / "out.errors.jsonl")
    assert sorted(e["row"]["id"] for e in errors) == [7, 8]
    assert all(e["operation"] == "tag" and e["reason"].startswith("LLM") for e in errors), errors


def test_an_llm_error_without_skip_stops_and_the_rerun_resumes(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    broken = {"on": True}

    def handler(body: dict[str, Any]) -> Reply:
        if broken["on"] and last_user(body).startswith("Tag 13:"):
            # late, so every other row has finished (and been journaled) when the run stops;
            # generous, because on a loaded 2-core CI machine 39 fast rows can take over 0.5 s
            return Reply(status=400, raw_body=b'{"error": {"message": "bad request"}}', delay_s=2.0)
        return answer(body)

    llm_server.handler = handler
    path = write_pipeline(tmp_path, "bypass_cache: true\n" + PIPE.replace("    SKIP\n", ""), ROWS)
    with pytest.raises(OperationError, match=r"operations\[0\] \(tag\): LLM call failed"):
        run_pipeline(path, llm_settings)
    assert not (tmp_path / "out.json").exists()
    done_before = {
        json.dumps(r.body["messages"]) for r in chat_requests(llm_server) if r.status == 200
    }
    llm_server.reset()
    broken["on"] = False
    llm_server.handler = handler
    report = run_pipeline(path, llm_settings)
    assert read_json(tmp_path / "out.json") == expected()
    again = [json.dumps(r.body["messages"]) for r in chat_requests(llm_server)]
    # the journal, not the cache (bypassed), kept every finished row from being asked again
    assert report.resumed and not done_before & set(again)


def test_budget_stops_the_run_and_a_rerun_finishes_it(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = answer
    path = write_pipeline(tmp_path, PIPE.replace("    SKIP\n", ""), ROWS)
    with pytest.raises(BudgetExceededError):
        run_pipeline(path, llm_settings.replace(max_tokens_total=120, max_concurrency=2))
    first = len(chat_requests(llm_server))
    first_bodies = [last_user(r.body) for r in chat_requests(llm_server)]
    assert 0 < first < 40 + 40 + 3
    llm_server.reset()
    llm_server.handler = answer
    run_pipeline(path, llm_settings)
    assert read_json(tmp_path / "out.json") == expected()
    # finished calls are not repeated (at most the 2 in flight when the budget ran out)
    repeated = set(first_bodies) & {last_user(r.body) for r in chat_requests(llm_server)}
    assert len(repeated) <= 2
    assert len(chat_requests(llm_server)) <= 40 + 40 + 3 - first + 2


def test_completed_rerun_is_fully_cached(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = answer
    path = write_pipeline(tmp_path, PIPE.replace("    SKIP\n", ""), ROWS)
    run_pipeline(path, llm_settings)
    llm_server.reset()
    report = run_pipeline(path, llm_settings)
    assert llm_server.requests == [] and not report.resumed
    assert read_json(tmp_path / "out.json") == expected()
    assert report.totals.cached == report.totals.calls == 40 + 40 + 3


def test_dry_run_estimates_without_calling(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    report = run_pipeline(
        write_pipeline(tmp_path, PIPE.replace("    SKIP\n", ""), ROWS), llm_settings, dry_run=True
    )
    assert llm_server.requests == []
    assert [o.stats.calls for o in report.ops] == [40, 40, 40]  # groups unknown: ≤ 1 per row
    assert report.ops[2].estimate is not None and report.ops[2].estimate.upper_bound
    assert not (tmp_path / "out.json").exists()
