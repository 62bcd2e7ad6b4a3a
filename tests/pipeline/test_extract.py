"""extract: the model names line ranges or patterns; passages are taken verbatim from the text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pipeline_kit import chat_requests, read_json, read_jsonl, run_pipeline, write_pipeline

from llmassert.config import Settings
from llmassert.errors import SpecError
from llmassert.pipeline.operators.extract import numbered_lines
from llmassert.testing.fake_server import FakeLLMServer, Reply

REPORT = (
    "METHODS We surveyed 230 users. RESULTS Daily use was 68 percent, far above the benchmark. "
    "Retention tracked personalization closely. LIMITATIONS Early adopters only."
)

PIPELINE = """\
default_model: openai/fake-model
datasets:
  reports: {{type: file, path: data.json}}
operations:
  - name: findings
    type: extract
    prompt: "Extract the key findings of report {{{{ input.report_id }}}}."
    document_keys: ["report_text"]
    {extra}
pipeline:
  steps:
    - {{name: s, input: reports, operations: [findings]}}
  output: {{type: file, path: out.json}}
"""


def run(tmp_path: Path, settings: Settings, extra: str = "", rows: Any = None) -> Any:
    rows = rows or [{"report_id": "R1", "report_text": REPORT}]
    report = run_pipeline(write_pipeline(tmp_path, PIPELINE.format(extra=extra), rows), settings)
    return report, read_json(tmp_path / "out.json")


def test_line_numbers_are_shown_and_the_named_lines_come_back_verbatim(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    text = " ".join(f"word{i}" for i in range(60))  # 60 words over several 80-char lines
    lines = numbered_lines(text)
    assert all(len(line) <= 80 for line in lines) and " ".join(lines) == text
    # Ranges 2-3, 1-1 again (a duplicate of nothing new), an out-of-range one (skipped).
    llm_server.script(
        Reply(
            tool_args={
                "line_ranges": [
                    {"start_line": 2, "end_line": 3},
                    {"start_line": 2, "end_line": 3},
                    {"start_line": 1, "end_line": 1},
                    {"start_line": 9, "end_line": 99},
                ]
            }
        )
    )
    report, out = run(tmp_path, llm_settings, rows=[{"report_id": "R1", "report_text": text}])
    prompt = chat_requests(llm_server)[0].body["messages"][-1]["content"]
    assert "Extract the key findings of report R1." in prompt
    assert f"   2: {lines[1]}" in prompt and f"   1: {lines[0]}" in prompt
    assert out == [
        {
            "report_id": "R1",
            "report_text": text,
            "report_text_extracted_findings": f"{lines[1]} {lines[2]}\n\n{lines[0]}",
        }
    ]
    assert report.ops[0].stats.calls == 1


def test_regex_patterns_run_on_the_original_text_as_a_list(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.script(
        Reply(tool_args={"patterns": [r"RESULTS (.+?)\. ", r"(\d+) users", r"([unclosed"]})
    )
    extra = (
        "extraction_method: regex\n    format_extraction: false\n    extraction_key_suffix: _found"
    )
    _, out = run(tmp_path, llm_settings, extra)
    assert out[0]["report_text_found"] == [
        "Daily use was 68 percent, far above the benchmark",
        "230",
    ]
    # The regex prompt shows the text itself, not numbered lines.
    body = chat_requests(llm_server)[0].body
    assert REPORT in body["messages"][-1]["content"]


def test_a_runaway_pattern_is_cut_off_not_run_to_exhaustion(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    evil = "a" * 40 + "!"
    llm_server.script(Reply(tool_args={"patterns": [r"(a+)+$", r"(a{3})!"]}))
    _, out = run(
        tmp_path,
        llm_settings,
        "extraction_method: regex",
        rows=[{"report_id": "R2", "report_text": evil}],
    )
    assert out[0]["report_text_extracted_findings"] == "aaa"


def test_missing_document_key_goes_to_the_errors_file(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = lambda body: Reply(tool_args={"line_ranges": []})
    rows = [{"report_id": "R1", "report_text": REPORT}, {"report_id": "R2", "report_text": None}]
    _report, out = run(tmp_path, llm_settings, rows=rows)
    assert out == [{**rows[0], "report_text_extracted_findings": ""}]
    errors = read_jsonl(tmp_path / "out.errors.jsonl")
    assert [e["row"]["report_id"] for e in errors] == ["R2"]
    assert len(chat_requests(llm_server)) == 1


def test_validate_applies_to_the_answer_and_failures_are_quarantined(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = lambda body: Reply(tool_args={"line_ranges": []})
    extra = "validate: ['len(output[\"line_ranges\"]) > 0']\n    num_retries_on_validate_failure: 1"
    _report, out = run(tmp_path, llm_settings, extra)
    assert out == []
    assert len(read_jsonl(tmp_path / "out.quarantine.jsonl")) == 1
    assert len(chat_requests(llm_server)) == 2  # the answer and one re-ask


def test_limit_counts_the_rest_as_filtered(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = lambda body: Reply(tool_args={"line_ranges": []})
    rows = [{"report_id": f"R{i}", "report_text": REPORT} for i in range(5)]
    report, out = run(tmp_path, llm_settings, "limit: 2", rows=rows)
    assert [r["report_id"] for r in out] == ["R0", "R1"]
    s = report.ops[0].stats
    assert (s.rows_in, s.rows_out, s.filtered) == (5, 2, 3)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("output: {schema: {x: string}}", "no `output`"),
        ("extraction_method: magic", "extraction_method"),
        ("document_key: [a]", "document_key"),
    ],
)
def test_bad_keys_are_errors(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings, extra: str, message: str
) -> None:
    with pytest.raises(SpecError, match=message):
        run(tmp_path, llm_settings, extra)
    assert llm_server.requests == []
