"""`llmassert run` / `llmassert schema` from the command line: exit codes and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmassert.cli import main
from llmassert.config import Settings
from llmassert.testing.fake_server import FakeLLMServer, Reply

PIPE = """\
default_model: openai/fake-model
default_lm_api_base: API_BASE
datasets:
  docs: {type: file, path: data.json}
operations:
  - name: summarize
    type: map
    prompt: "Summarize: {{ input.text }}"
    output: {schema: {summary: string}}
    validate:
      - len(output["summary"]) < 20
pipeline:
  steps:
    - {name: s, input: docs, operations: [summarize]}
  output: {type: file, path: out.json}
"""
ROWS = [{"text": "short"}, {"text": "this one gets a very long summary"}]


def reply(body: dict[str, Any]) -> Reply:
    text = body["messages"][-1]["content"].split(": ", 1)[1]
    return Reply(tool_args={"summary": text})


@pytest.fixture
def pipeline(
    tmp_path: Path,
    llm_server: FakeLLMServer,
    llm_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMASSERT_CACHE_DIR", str(llm_settings.cache_dir))
    llm_server.handler = reply
    (tmp_path / "data.json").write_text(json.dumps(ROWS))
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPE.replace("API_BASE", llm_server.base_url))
    return path


def test_run_writes_output_and_warns_about_quarantined_rows(
    pipeline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(pipeline)]) == 0
    err = capsys.readouterr().err
    assert "1 row failed their checks → " in err and "out.quarantine.jsonl" in err
    assert json.loads((pipeline.parent / "out.json").read_text()) == [
        {"text": "short", "summary": "short"}
    ]
    assert main(["run", str(pipeline), "--strict", "--quiet"]) == 1


def test_bad_yaml_is_one_line_exit_2_and_no_call(
    pipeline: Path, llm_server: FakeLLMServer, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline.write_text(pipeline.read_text().replace("input.text", "input.body"))
    assert main(["run", str(pipeline)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith(f"error: {pipeline}: operations[0] (summarize).prompt: input.body")
    assert llm_server.requests == [] and not (pipeline.parent / "out.json").exists()


def test_dry_run_estimates(
    pipeline: Path, llm_server: FakeLLMServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(pipeline), "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "dry run: no LLM call made" in err and "summarize" in err
    assert llm_server.requests == []


def test_budget_exit_code(pipeline: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (
        pipeline.read_text()
        .replace(
            "pipeline:\n",
            """\
  - name: all
    type: reduce
    reduce_key: _all
    prompt: "Summarize: {% for i in inputs %}{{ i.text }}{% endfor %}"
    output: {schema: {summary: string}}
pipeline:
""",
        )
        .replace("[summarize]", "[summarize, all]")
    )
    pipeline.write_text(text)
    assert main(["run", str(pipeline), "--max-tokens", "20"]) == 3
    err = capsys.readouterr().err
    assert "error: LLM budget exhausted" in err and "rerun the same command to resume" in err


def test_record_then_replay_offline(
    pipeline: Path, llm_server: FakeLLMServer, tmp_path: Path
) -> None:
    cassettes = tmp_path / "cassettes"
    assert main(["run", str(pipeline), "--record", str(cassettes), "--quiet", "--no-cache"]) == 0
    recorded = (pipeline.parent / "out.json").read_text()
    (pipeline.parent / "out.json").unlink()
    llm_server.stop()
    assert main(["run", str(pipeline), "--replay", str(cassettes), "--quiet", "--no-cache"]) == 0
    assert (pipeline.parent / "out.json").read_text() == recorded


def test_a_record_run_after_an_interruption_records_every_request(
    pipeline: Path, llm_server: FakeLLMServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The recording is the replay's only source: a rerun that resumed would record only the
    rows the interrupted run had not finished, and a replay from scratch would miss the rest."""

    def fail_long(body: dict[str, Any]) -> Reply:
        if "very long" in body["messages"][-1]["content"]:
            # late, so the short row is answered and journaled before the run stops
            return Reply(status=400, raw_body=b'{"error": {"message": "no"}}', delay_s=1.0)
        return reply(body)

    cassettes = tmp_path / "cassettes"
    llm_server.handler = fail_long
    assert main(["run", str(pipeline), "--record", str(cassettes), "--no-cache"]) != 0
    assert "a rerun with --record starts over" in capsys.readouterr().err
    llm_server.handler = reply
    assert main(["run", str(pipeline), "--record", str(cassettes), "--quiet", "--no-cache"]) == 0
    recorded = (pipeline.parent / "out.json").read_text()
    assert [r["text"] for r in json.loads(recorded)] == ["short"]  # the other is quarantined
    (pipeline.parent / "out.json").unlink()
    llm_server.stop()
    assert main(["run", str(pipeline), "--replay", str(cassettes), "--quiet", "--no-cache"]) == 0
    assert (pipeline.parent / "out.json").read_text() == recorded


def test_the_summary_says_how_many_journal_entries_were_damaged(
    pipeline: Path, llm_server: FakeLLMServer, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail_long(body: dict[str, Any]) -> Reply:
        if "very long" in body["messages"][-1]["content"]:
            # late, so the short row is answered and journaled before the run stops
            return Reply(status=400, raw_body=b'{"error": {"message": "no"}}', delay_s=0.5)
        return reply(body)

    llm_server.handler = fail_long
    assert main(["run", str(pipeline), "--no-cache"]) == 2
    assert "rerun the same command to resume" in capsys.readouterr().err
    (journal,) = (pipeline.parent / ".llmassert").rglob("summarize.journal.jsonl")
    lines = journal.read_bytes().split(b"\n")
    entry = json.loads(lines[1])  # the short row's answer, forged: its digest no longer matches
    entry["v"]["rows"][0]["+"]["summary"] = "forged"
    lines[1] = json.dumps(entry).encode()
    journal.write_bytes(b"\n".join(lines))

    llm_server.reset()
    llm_server.handler = reply
    assert main(["run", str(pipeline), "--no-cache"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "resumed: 1 journal entry was damaged and its rows were run again" in err
    asked = [r.body["messages"][-1]["content"] for r in llm_server.requests]
    assert asked.count("Summarize: short") == 1  # the damaged row ran again
    assert json.loads((pipeline.parent / "out.json").read_text()) == [
        {"text": "short", "summary": "short"}
    ]
    llm_server.reset()
    assert main(["run", str(pipeline), "--no-cache"]) == 0  # a fresh run: nothing damaged
    assert "damaged" not in capsys.readouterr().err


def test_schema_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "operations" in schema["properties"]
    assert main(["schema", "-o", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text()) == schema


def test_tables_in_a_log_without_a_terminal_are_not_cut_at_80_columns(
    pipeline: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    long_name = "summarize_every_quarterly_report_for_the_board"
    pipeline.write_text(pipeline.read_text().replace("summarize", long_name))
    assert main(["run", str(pipeline)]) == 0
    err = capsys.readouterr().err
    row = next(line for line in err.splitlines() if long_name in line)
    assert f"{long_name} map" in row and "…" not in err
    assert len(row) > 80 and row.rstrip().endswith(tuple("0123456789"))  # the seconds column
