"""resolve through the runner: a failed run resumes without repeating a single comparison."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_kit import chat_requests, read_json, run_pipeline, tool_name, write_pipeline
from test_resolve import PRODUCTS, answer, canon

from llmassert.config import Settings
from llmassert.errors import OperationError
from llmassert.testing.fake_server import FakeLLMServer, Reply

PIPE = """\
default_model: openai/fake-model
datasets:
  tickets: {type: file, path: data.json}
operations:
  - name: resolve_products
    type: resolve
    blocking_keys: [product]
    comparison_prompt: "Same product?\\nA: {{ input1.product }}\\nB: {{ input2.product }}"
    resolution_prompt: "Canonical name for:\\n{% for i in inputs %}- {{ i.product }}\\n{% endfor %}"
    output: {schema: {product: string}}
pipeline:
  steps:
    - {name: resolved, input: tickets, operations: [resolve_products]}
  output: {type: file, path: out.json}
"""


def test_resume_reuses_journaled_comparisons(
    llm_server: FakeLLMServer, llm_settings: Settings, tmp_path: Path
) -> None:
    rows = [{"ticket": i, "product": p} for i, p in enumerate(PRODUCTS)]
    path = write_pipeline(tmp_path, PIPE, rows)
    settings = llm_settings.replace(max_retries=0, cache_dir=None)

    def resolutions_down(body: dict) -> Reply | None:  # type: ignore[type-arg]
        return Reply(status=500) if tool_name(body) == "resolve_products" else answer(body)

    llm_server.handler = resolutions_down
    with pytest.raises(OperationError):
        run_pipeline(path, settings)
    compared = sum(1 for r in chat_requests(llm_server) if tool_name(r.body) == "compare")
    assert compared > 0

    llm_server.reset()
    llm_server.handler = answer
    report = run_pipeline(path, settings)
    assert [tool_name(r.body) for r in chat_requests(llm_server)] == ["resolve_products"] * 3
    out = read_json(tmp_path / "out.json")
    assert [r["product"] for r in out] == [canon(p) for p in PRODUCTS]
    assert report.ops[0].stats.rows_in == report.ops[0].stats.rows_out == len(PRODUCTS)
