"""map ``calibrate``: a sample answered first, reference anchors appended to every prompt."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from pipeline_kit import chat_requests, last_user, read_json, run_pipeline, write_pipeline

from llmassert.config import Settings
from llmassert.errors import SpecError
from llmassert.testing.fake_server import FakeLLMServer, Reply

PIPELINE = """\
default_model: openai/fake-model
datasets:
  tickets: {{type: file, path: data.json}}
operations:
  - name: classify_ticket_priority
    type: {kind}
    calibrate: true
    num_calibration_docs: 4
    prompt: |
      Classify ticket {{{{ input.id }}}}: {{{{ input.subject }}}}
    output:
      schema:
        {schema}
    {extra}
pipeline:
  steps:
    - {{name: s, input: tickets, operations: [classify_ticket_priority]}}
  output: {{type: file, path: out.json}}
"""
ANCHORS = "For reference, 'server down {{ 7*7 }}' -> critical."
ROWS = [{"id": i, "subject": f"issue number {i}"} for i in range(10)]


def handler(body: dict[str, Any]) -> Reply:
    text = last_user(body)
    if "reference anchors" in text:
        return Reply(tool_args={"calibration_context": ANCHORS})
    n = int(text.split("Classify ticket ")[1].split(":")[0])
    if body["tools"][0]["function"]["parameters"]["properties"].get("urgent"):
        return Reply(tool_args={"urgent": n % 2 == 0})
    return Reply(tool_args={"priority": "high" if n < 5 else "low"})


def run(tmp_path: Path, settings: Settings, kind: str = "map", extra: str = "") -> Any:
    schema = "priority: string" if kind == "map" else "urgent: boolean"
    text = PIPELINE.format(kind=kind, schema=schema, extra=extra)
    return run_pipeline(write_pipeline(tmp_path, text, ROWS), settings)


def test_sample_then_anchors_then_every_row_with_the_anchors(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = handler
    report = run(tmp_path, llm_settings)
    prompts = [last_user(r.body) for r in chat_requests(llm_server)]
    sample = sorted(random.Random(42).sample(range(10), 4))  # DocETL's seed
    plain = [p for p in prompts if p.startswith("Classify") and ANCHORS not in p]
    anchored = [p for p in prompts if p.startswith("Classify") and ANCHORS in p]
    analysis = [p for p in prompts if "reference anchors" in p]
    assert sorted(int(p.split()[2][:-1]) for p in plain) == sample
    assert len(analysis) == 1 and all(f'"id": {i}' in analysis[0] for i in sample)
    assert sorted(int(p.split()[2][:-1]) for p in anchored) == list(range(10))
    # The anchors are appended as text: a model's braces are never rendered as a template.
    assert all(p.endswith("\n\n" + ANCHORS) for p in anchored)
    out = read_json(tmp_path / "out.json")
    assert [r["id"] for r in out] == list(range(10))
    assert [r["priority"] for r in out] == ["high"] * 5 + ["low"] * 5
    assert report.ops[0].stats.calls == 4 + 1 + 10


def test_calibrated_filter_keeps_its_semantics(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = handler
    report = run(tmp_path, llm_settings, kind="filter")
    assert [r["id"] for r in read_json(tmp_path / "out.json")] == [0, 2, 4, 6, 8]
    s = report.ops[0].stats
    assert (s.rows_in, s.rows_out, s.filtered) == (10, 5, 5)


def test_second_run_uses_the_cache_for_every_call(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = handler
    run(tmp_path, llm_settings)
    first = read_json(tmp_path / "out.json")
    llm_server.reset()
    llm_server.handler = handler
    run(tmp_path, llm_settings)
    assert read_json(tmp_path / "out.json") == first
    assert chat_requests(llm_server) == []


def test_clustering_method_and_flush_are_accepted_but_a_typo_is_not(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = handler
    run(tmp_path, llm_settings, extra="clustering_method: random\n    flush_partial_results: true")
    assert len(read_json(tmp_path / "out.json")) == 10
    with pytest.raises(SpecError, match="num_calibration_doc"):
        run(tmp_path, llm_settings, extra="num_calibration_doc: 3")
