"""reduce: groups by key / `_all` in first-appearance order, fold batches, merge, pass_through."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pipeline_kit import chat_requests, last_user, read_json, run_pipeline, write_pipeline

from llmassert.config import Settings
from llmassert.testing.fake_server import FakeLLMServer, Reply

REDUCE = """\
default_model: openai/fake-model
datasets:
  docs: {type: file, path: data.json}
operations:
  - name: combine
    type: reduce
    reduce_key: KEY
    prompt: |
      Combine:{% for i in inputs %} {{ i.v }}{% endfor %}
    EXTRA
    output:
      schema:
        items: list[int]
pipeline:
  steps:
    - {name: s, input: docs, operations: [combine]}
  output: {type: file, path: out.json}
"""
ROWS = [
    {"g": "b", "v": 1, "note": "first b"},
    {"g": "a", "v": 2},
    {"g": "b", "v": 3},
    {"g": "a", "v": 4},
    {"g": "c", "v": 5},
]


def reducer(body: dict[str, Any]) -> Reply:
    """Answers every prompt with the ints in it (folds: accumulator + batch)."""
    return Reply(tool_args={"items": [int(x) for x in re.findall(r"-?\d+", last_user(body))]})


def pipeline(key: str = "g", extra: str = "") -> str:
    return REDUCE.replace("KEY", key).replace("    EXTRA\n", extra)


def test_groups_in_first_appearance_order(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = reducer
    report = run_pipeline(write_pipeline(tmp_path, pipeline(), ROWS), llm_settings)
    assert read_json(tmp_path / "out.json") == [
        {"g": "b", "items": [1, 3]},
        {"g": "a", "items": [2, 4]},
        {"g": "c", "items": [5]},
    ]
    s = report.ops[0].stats
    assert (s.rows_in, s.rows_out, s.calls) == (5, 3, 3)


def test_all_and_key_lists(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = reducer
    run_pipeline(write_pipeline(tmp_path, pipeline("_all"), ROWS), llm_settings)
    assert read_json(tmp_path / "out.json") == [{"items": [1, 2, 3, 4, 5]}]
    rows = [{"g": "a", "h": 1, "v": 1}, {"g": "a", "h": 2, "v": 2}, {"g": "a", "h": 1, "v": 3}]
    run_pipeline(write_pipeline(tmp_path, pipeline("[g, h]"), rows), llm_settings)
    assert read_json(tmp_path / "out.json") == [
        {"g": "a", "h": 1, "items": [1, 3]},
        {"g": "a", "h": 2, "items": [2]},
    ]


def test_pass_through_keeps_the_first_rows_other_keys(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = reducer
    run_pipeline(
        write_pipeline(tmp_path, pipeline(extra="    pass_through: true\n"), ROWS), llm_settings
    )
    assert read_json(tmp_path / "out.json")[0] == {
        "g": "b",
        "v": 1,
        "note": "first b",
        "items": [1, 3],
    }


def test_fold_batches_carry_the_accumulator(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    extra = """    fold_batch_size: 2
    fold_prompt: |
      Fold {{ output['items'] | join(' ') }} with:{% for i in inputs %} {{ i.v }}{% endfor %}
"""
    llm_server.handler = reducer
    rows = [{"g": "x", "v": v} for v in range(10, 17)]  # 7 rows: batches 2+2+2+1
    report = run_pipeline(write_pipeline(tmp_path, pipeline("_all", extra), rows), llm_settings)
    assert read_json(tmp_path / "out.json") == [{"items": list(range(10, 17))}]
    prompts = [last_user(r.body) for r in chat_requests(llm_server)]
    assert prompts[0].startswith("Combine: 10 11")
    assert prompts[1] == "Fold 10 11 with: 12 13\n"
    assert prompts[3] == "Fold 10 11 12 13 14 15 with: 16\n"
    assert report.ops[0].stats.calls == 4


def test_merge_prompt_reduces_batches_concurrently(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    extra = """    fold_batch_size: 2
    merge_batch_size: 2
    merge_prompt: "Merge{% for o in outputs %} {{ o['items'] | join(' ') }}{% endfor %}"
"""
    llm_server.handler = reducer
    rows = [{"v": v} for v in range(8)]  # 4 batches → 2 merges → 1 merge
    report = run_pipeline(write_pipeline(tmp_path, pipeline("_all", extra), rows), llm_settings)
    assert read_json(tmp_path / "out.json") == [{"items": list(range(8))}]
    assert report.ops[0].stats.calls == 4 + 2 + 1
