"""filter: false rows leave the dataset but are counted, never lost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline_kit import read_json, run_pipeline, write_pipeline

from llmassert.config import Settings
from llmassert.testing.fake_server import FakeLLMServer, Reply

FILTER = """\
default_model: openai/fake-model
datasets:
  docs: {type: file, path: data.json}
operations:
  - name: keep_even
    type: filter
    prompt: "Is {{ input.n }} even?"
    output: {schema: {is_even: boolean}}
pipeline:
  steps:
    - {name: s, input: docs, operations: [keep_even]}
  output: {type: file, path: out.json}
"""


def test_filter_keeps_true_rows_and_counts_the_rest(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    def handler(body: dict[str, Any]) -> Reply:
        n = int(body["messages"][-1]["content"].split()[1])
        return Reply(tool_args={"is_even": n % 2 == 0})

    llm_server.handler = handler
    rows = [{"n": i} for i in range(10)]
    report = run_pipeline(write_pipeline(tmp_path, FILTER, rows), llm_settings)
    assert read_json(tmp_path / "out.json") == [{"n": i} for i in range(0, 10, 2)]
    s = report.ops[0].stats
    assert (s.rows_in, s.rows_out, s.filtered, s.quarantined, s.errored) == (10, 5, 5, 0, 0)
    assert not (tmp_path / "out.quarantine.jsonl").exists()


def test_map_then_filter_stream_in_one_stage(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    text = (
        FILTER.replace(
            "operations:\n  - name: keep_even",
            """operations:
  - name: label
    type: map
    prompt: "Label {{ input.n }}"
    output: {schema: {label: string}}
  - name: keep_even""",
        )
        .replace("Is {{ input.n }} even?", "Is {{ input.n }} even ({{ input.label }})?")
        .replace("[keep_even]", "[label, keep_even]")
    )

    def handler(body: dict[str, Any]) -> Reply:
        words = body["messages"][-1]["content"].split()
        if words[0] == "Label":
            return Reply(tool_args={"label": f"L{words[1]}"})
        return Reply(tool_args={"is_even": int(words[1]) % 2 == 0})

    llm_server.handler = handler
    report = run_pipeline(
        write_pipeline(tmp_path, text, [{"n": i} for i in range(6)]), llm_settings
    )
    assert read_json(tmp_path / "out.json") == [{"n": i, "label": f"L{i}"} for i in (0, 2, 4)]
    assert [o.stats.filtered for o in report.ops] == [0, 3]
    # one streamed stage: no intermediate file unless pipeline.output.intermediate_dir asks
    assert report.checkpoint_dir is not None
    assert not (report.checkpoint_dir / "s" / "label.json").exists()
