"""filter ``limit``: DocETL counts the rows kept (stops once N passed), not the rows read."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pipeline_kit import chat_requests, last_user, read_json, run_pipeline, write_pipeline

from llmassert.config import Settings
from llmassert.testing.fake_server import FakeLLMServer, Reply

ROWS = [{"id": i, "text": f"row {i}"} for i in range(10)]


def pipeline(limit_keys: str) -> str:
    return (
        "default_model: openai/fake-model\n"
        "datasets:\n  docs: {type: file, path: data.json}\n"
        "operations:\n"
        "  - name: keep_even\n"
        "    type: filter\n"
        f"{limit_keys}"
        '    prompt: "Keep {{ input.text }}?"\n'
        "    output: {schema: {keep: boolean}}\n"
        "pipeline:\n  steps:\n"
        "    - {name: s, input: docs, operations: [keep_even]}\n"
        "  output: {type: file, path: out.json}\n"
    )


def keep_even(body: dict[str, Any]) -> Reply:
    m = re.search(r"row (\d+)", last_user(body))
    assert m is not None
    return Reply(tool_args={"keep": int(m.group(1)) % 2 == 0})


def test_limit_counts_kept_rows(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = keep_even
    report = run_pipeline(write_pipeline(tmp_path, pipeline("    limit: 3\n"), ROWS), llm_settings)
    # Truncating the input to 3 rows would give [0, 2]; DocETL gives the first 3 kept rows.
    assert [r["id"] for r in read_json(tmp_path / "out.json")] == [0, 2, 4]
    stats = report.ops[0].stats
    assert (stats.rows_in, stats.rows_out, stats.filtered) == (10, 3, 7)
    # Windows of 3 rows: 0-2 (2 kept), 3-5 (the third at row 4); rows 6-9 never asked.
    asked = sorted(
        int(m.group(1))
        for r in chat_requests(llm_server)
        if (m := re.search(r"row (\d+)", last_user(r.body)))
    )
    assert asked == [0, 1, 2, 3, 4, 5]


def test_limit_above_what_passes_keeps_all_that_pass(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = keep_even
    report = run_pipeline(write_pipeline(tmp_path, pipeline("    limit: 8\n"), ROWS), llm_settings)
    assert [r["id"] for r in read_json(tmp_path / "out.json")] == [0, 2, 4, 6, 8]
    assert report.ops[0].stats.filtered == 5
    assert len(chat_requests(llm_server)) == 10


def test_limit_with_batches_and_resume(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = keep_even
    text = pipeline("    limit: 2\n")
    path = write_pipeline(tmp_path, text, ROWS)
    run_pipeline(path, llm_settings)
    first = len(chat_requests(llm_server))
    assert first == 4  # windows 0-1 and 2-3
    (tmp_path / "out.json").unlink()
    report = run_pipeline(path, llm_settings)  # the same run again: no window asked twice
    assert len(chat_requests(llm_server)) == first
    assert [r["id"] for r in read_json(tmp_path / "out.json")] == [0, 2]
    assert report.ops[0].stats.filtered == 8
