"""link_resolve: links that are not ids are compared with similar ids and replaced."""

from __future__ import annotations

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
from llmassert.errors import SpecError
from llmassert.testing.fake_server import FakeLLMServer, Reply

PIPELINE = """\
default_model: openai/fake-model
datasets:
  terms: {{type: file, path: data.json}}
operations:
  - name: fix_links
    type: link_resolve
    id_key: title
    link_key: related_to
    blocking_threshold: {threshold}
    embedding_model: openai/fake-embed
    comparison_model: openai/compare-model
    comparison_prompt: |
      Concept 1: [{{{{ link_value }}}}]
      Concept 2: [{{{{ id_value }}}}] ({{{{ item.description }}}})
      Same concept?
pipeline:
  steps:
    - {{name: s, input: terms, operations: [fix_links]}}
  output: {{type: file, path: out.json}}
"""
ROWS = [
    {"title": "sailing vessel", "related_to": ["main sail", "rudder"], "description": "a boat"},
    {"title": "sail main", "related_to": ["sailing vessel boat"], "description": "the big sail"},
    {"title": "rudder", "related_to": [], "description": "steers"},
]
SAME = {("main sail", "sail main"), ("sailing vessel boat", "sailing vessel")}


def handler(body: dict[str, Any]) -> Reply | None:
    if "messages" not in body:
        return None
    text = last_user(body)
    link = text.split("Concept 1: [")[1].split("]")[0]
    id_value = text.split("Concept 2: [")[1].split("]")[0]
    return Reply(tool_args={"is_same": (link, id_value) in SAME})


def run(tmp_path: Path, settings: Settings, threshold: float = 0.3, rows: Any = None) -> Any:
    text = PIPELINE.format(threshold=threshold)
    return run_pipeline(write_pipeline(tmp_path, text, rows or ROWS), settings)


def test_links_judged_the_same_are_replaced_by_the_id(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = handler
    report = run(tmp_path, llm_settings)
    out = read_json(tmp_path / "out.json")
    assert [r["related_to"] for r in out] == [["sail main", "rudder"], ["sailing vessel"], []]
    assert [r["title"] for r in out] == [r["title"] for r in ROWS]
    calls = chat_requests(llm_server)
    # Only the two non-id links are compared, only with ids similar enough (bag-of-words
    # embeddings: a shared word), and with the comparison model.
    pairs = {
        (
            last_user(c.body).split("[")[1].split("]")[0],
            last_user(c.body).split("[")[2].split("]")[0],
        )
        for c in calls
    }
    assert pairs >= SAME
    assert all(link in ("main sail", "sailing vessel boat") for link, _ in pairs)
    assert all(c.body["model"].endswith("compare-model") for c in calls)
    assert report.ops[0].stats.calls == len(calls) + 2  # + ids and links embedded


def test_a_high_threshold_compares_only_the_nearest_pairs(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = handler
    run(tmp_path, llm_settings, threshold=0.999)
    # Only "main sail" / "sail main" embed alike (the same bag of words): one comparison.
    assert len(chat_requests(llm_server)) == 1
    out = read_json(tmp_path / "out.json")
    assert [r["related_to"] for r in out] == [["sail main", "rudder"], ["sailing vessel boat"], []]


def test_rows_without_a_link_list_go_to_the_errors_file(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = handler
    rows = [*ROWS, {"title": "keel", "related_to": "hull", "description": "bottom"}]
    report = run(tmp_path, llm_settings, rows=rows)
    assert len(read_json(tmp_path / "out.json")) == 3
    assert [e["row"]["title"] for e in read_jsonl(tmp_path / "out.errors.jsonl")] == ["keel"]
    assert report.ops[0].stats.errored == 1


def test_link_resolve_needs_a_threshold_and_no_unknown_keys(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    text = PIPELINE.format(threshold=0.5).replace("    blocking_threshold: 0.5\n", "")
    with pytest.raises(SpecError, match="blocking_threshold"):
        run_pipeline(write_pipeline(tmp_path, text, ROWS), llm_settings)
    text = PIPELINE.format(threshold=0.5).replace("id_key:", "idkey:")
    with pytest.raises(SpecError, match="idkey"):
        run_pipeline(write_pipeline(tmp_path, text, ROWS), llm_settings)
    assert llm_server.requests == []
