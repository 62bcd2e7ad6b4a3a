"""validate / assertions at run time: failures fed back, retried, then quarantined (never lost)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pipeline_kit import (
    chat_requests,
    last_user,
    read_json,
    read_jsonl,
    run_pipeline,
    summarize_pipeline,
    write_pipeline,
)

from llmassert.config import Settings
from llmassert.errors import AssertionsFailedError
from llmassert.testing.fake_server import FakeLLMServer, Reply

ROWS = [{"id": 1, "text": "short one"}, {"id": 2, "text": "stubborn"}]
MODULE = '''\
ASSERTIONS = ["at_most_three_words"]


def at_most_three_words(example, response):
    """Criterion: answer in at most 3 words."""
    return len(response.split()) <= 3
'''


def wordy_until_told(body: dict[str, Any]) -> Reply:
    """Too long at first; short once told a check failed — except for the stubborn row."""
    prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
    told = "failed these checks" in last_user(body) or "Improve your previous" in last_user(body)
    if "stubborn" in prompt or not told:
        return Reply(tool_args={"summary": "a very long summary of many words"})
    return Reply(tool_args={"summary": "short summary"})


def checks(text: str) -> str:
    return summarize_pipeline(text)


def test_validate_retries_with_feedback_then_quarantines(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = wordy_until_told
    path = write_pipeline(
        tmp_path,
        checks("""\
    validate:
      - len(output["summary"].split()) <= 3
    num_retries_on_validate_failure: 2
"""),
        ROWS,
    )
    report = run_pipeline(path, llm_settings)
    assert read_json(tmp_path / "out.json") == [
        {"id": 1, "text": "short one", "summary": "short summary"}
    ]
    retry = [r.body for r in chat_requests(llm_server) if "short one" in str(r.body)][1]
    assert retry["messages"][-2]["content"] == '{"summary": "a very long summary of many words"}'
    assert 'len(output["summary"].split()) <= 3' in retry["messages"][-1]["content"]
    (q,) = read_jsonl(tmp_path / "out.quarantine.jsonl")
    assert q["row"] == {"id": 2, "text": "stubborn"} and q["operation"] == "summarize"
    assert q["failures"][0]["kind"] == "validate"
    assert q["output"] == {"summary": "a very long summary of many words"}
    s = report.ops[0].stats
    assert (s.rows_in, s.rows_out, s.quarantined, s.check_retries, s.calls) == (2, 1, 1, 3, 5)


def assertions(tmp_path: Path, on_fail: str, retries: int = 1) -> str:
    (tmp_path / "assertions").mkdir(exist_ok=True)
    (tmp_path / "assertions" / "summary.py").write_text(MODULE)
    return checks(f"""\
    assertions:
      module: assertions/summary.py
      on_fail: {on_fail}
      max_retries: {retries}
""")


def test_assertion_failure_retry_then_quarantine(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = wordy_until_told
    report = run_pipeline(
        write_pipeline(tmp_path, assertions(tmp_path, "retry"), ROWS), llm_settings
    )
    assert [r["id"] for r in read_json(tmp_path / "out.json")] == [1]
    retry = [r.body for r in chat_requests(llm_server) if "short one" in str(r.body)][1]
    # The failed check goes back as its criterion (the instruction), its report fenced.
    assert retry["messages"][-1]["content"].startswith(
        "Your previous answer failed these checks:\n"
        "- answer in at most 3 words. <report>returned False</report>\n"
    )
    (q,) = read_jsonl(tmp_path / "out.quarantine.jsonl")
    assert q["row"]["id"] == 2 and q["failures"][0]["check"] == "at_most_three_words"
    assert q["failures"][0]["kind"] == "assertion"
    assert report.quarantined == 1


def test_assertion_glean_policy_refines(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = wordy_until_told
    report = run_pipeline(
        write_pipeline(tmp_path, assertions(tmp_path, "glean"), ROWS[:1]), llm_settings
    )
    assert read_json(tmp_path / "out.json")[0]["summary"] == "short summary"
    assert report.ops[0].stats.gleaning_rounds == 1


def test_flag_keeps_the_row_with_its_failures(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = wordy_until_told
    report = run_pipeline(
        write_pipeline(tmp_path, assertions(tmp_path, "flag"), ROWS), llm_settings
    )
    out = read_json(tmp_path / "out.json")
    assert len(out) == 2 and all(
        r["_llmassert_failures"][0]["check"] == "at_most_three_words" for r in out
    )
    assert report.flagged == 2 and len(chat_requests(llm_server)) == 2


def test_raise_stops_the_run_naming_the_row(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = wordy_until_told
    with pytest.raises(
        AssertionsFailedError,
        match=r"\(summarize\): row [0-9a-f]+ failed: "
        "at_most_three_words",
    ):
        run_pipeline(write_pipeline(tmp_path, assertions(tmp_path, "raise"), ROWS), llm_settings)
    assert not (tmp_path / "out.json").exists()


def test_warn_assertions_keep_the_row_with_its_warnings(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    from llmassert.cli import main

    (tmp_path / "checks.py").write_text(
        "def no_feature(example, response):\n"
        '    """Never use the word feature."""\n'
        "    return 'feature' not in response.lower()\n"
    )
    pipeline = write_pipeline(
        tmp_path,
        f"""
        default_model: openai/fake-model
        default_lm_api_base: {llm_settings.api_base}
        datasets:
          docs: {{type: file, path: data.json}}
        operations:
          - name: summarize
            type: map
            prompt: "Summarize: {{{{ input.text }}}}"
            output: {{schema: {{summary: string}}}}
            assertions:
              module: checks.py
              on_fail: quarantine
              severity: {{no_feature: warn}}
        pipeline:
          steps:
            - {{name: s, input: docs, operations: [summarize]}}
          output: {{type: file, path: out.json}}
        """,
        [{"text": "a new feature"}, {"text": "results"}],
    )
    llm_server.handler = lambda body: Reply(
        tool_args={"summary": "A feature." if "feature" in json.dumps(body) else "Results."}
    )
    report = run_pipeline(pipeline, llm_settings)
    assert report.quarantined == 0 and report.rows_out == 2
    rows = read_json(tmp_path / "out.json")
    warned = [r for r in rows if "_llmassert_warnings" in r]
    assert len(warned) == 1 and warned[0]["summary"] == "A feature."
    assert warned[0]["_llmassert_warnings"][0]["check"] == "no_feature"
    assert len(llm_server.requests) == 2  # a warning is never re-asked

    bad = pipeline.read_text().replace("no_feature: warn", "no_such: warn")
    pipeline.write_text(bad)
    assert main(["run", str(pipeline)]) == 2
