"""cluster: Ward tree over embeddings, one summary per node, each row gets its path to the root."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pipeline_kit import (
    chat_requests,
    last_user,
    read_json,
    read_jsonl,
    run_pipeline,
    write_pipeline,
)
from scipy.cluster.hierarchy import linkage

from llmassert.config import Settings
from llmassert.errors import SpecError
from llmassert.testing.fake_server import FakeLLMServer, Reply, _embedding

PIPELINE = """\
default_model: openai/fake-model
datasets:
  concepts: {{type: file, path: data.json}}
operations:
  - name: cluster_concepts
    type: cluster
    max_batch_size: 5
    embedding_keys: [concept, description]
    embedding_model: openai/fake-embed
    output_key: categories
    summary_schema:
      concept: str
      description: str
    summary_prompt: |
      What concept encompasses both?
      {{% for input in inputs %}}
      {{{{ input.concept }}}}: {{{{ input.description }}}}
      {{% endfor %}}
    {extra}
pipeline:
  steps:
    - {{name: s, input: concepts, operations: [cluster_concepts]}}
  output: {{type: file, path: out.json}}
"""
ROWS = [
    {"concept": "Shed", "description": "garden storage building wood"},
    {"concept": "Barn", "description": "farm storage building wood"},
    {"concept": "Castle", "description": "fortified stone residence walls"},
    {"concept": "Fortress", "description": "fortified stone military walls"},
    {"concept": "Tree house", "description": "platform in a tree"},
]


def handler(body: dict[str, Any]) -> Reply | None:
    if "messages" not in body:
        return None  # an embedding request: the server's deterministic vectors
    names = [line.split(":")[0].strip() for line in last_user(body).splitlines() if ":" in line]
    return Reply(tool_args={"concept": "+".join(sorted(names)), "description": "joined"})


def run(tmp_path: Path, settings: Settings, extra: str = "", rows: Any = None) -> Any:
    text = PIPELINE.format(extra=extra)
    return run_pipeline(write_pipeline(tmp_path, text, rows or ROWS), settings)


def test_every_row_gets_its_path_from_the_closest_cluster_to_the_root(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = handler
    report = run(tmp_path, llm_settings)
    out = read_json(tmp_path / "out.json")
    assert [r["concept"] for r in out] == [r["concept"] for r in ROWS]  # input order, no loss
    # The same tree as scipy's Ward linkage of the server's embeddings (sklearn's tree too).
    vecs = np.array([_embedding(f"{r['concept']} {r['description']}", 64) for r in ROWS])
    z = linkage(vecs, method="ward")
    root_distance = float(z[-1, 2])
    for row in out:
        path = row["categories"]
        assert path[-1]["distance"] == pytest.approx(root_distance)  # ends at the root
        distances = [p["distance"] for p in path]
        assert distances == sorted(distances)  # most specific first
        assert row["concept"] in path[0]["concept"].split("+")  # its closest cluster has it
    # One summary per node; a node's prompt shows its children's summaries, so the root's
    # (the fake model joins the names it is shown) covers every row.
    assert len(chat_requests(llm_server)) == len(ROWS) - 1
    assert report.ops[0].stats.calls == len(ROWS) - 1 + 1  # + one embedding request
    root = out[0]["categories"][-1]["concept"]
    assert sorted(root.split("+")) == sorted(r["concept"] for r in ROWS)
    # Each row's path has one entry per merge above it in scipy's tree.
    parents: dict[int, int] = {}
    for j, (a, b, _, _) in enumerate(z):
        parents[int(a)] = parents[int(b)] = len(ROWS) + j
    for i, row in enumerate(out):
        depth, node = 0, i
        while node in parents:
            depth, node = depth + 1, parents[node]
        assert len(row["categories"]) == depth


def test_a_failed_summary_quarantines_the_rows_under_it(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = handler
    rule = 'validate: [\'"Castle" not in output["concept"]\']'
    report = run(tmp_path, llm_settings, rule)
    out = read_json(tmp_path / "out.json")
    quarantined = read_jsonl(tmp_path / "out.quarantine.jsonl")
    names = {r["row"]["concept"] for r in quarantined}
    assert "Castle" in names
    assert len(out) + len(quarantined) == len(ROWS)
    assert report.ops[0].stats.quarantined == len(quarantined)


def test_one_row_gets_an_empty_path_without_calls(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    run(tmp_path, llm_settings, rows=ROWS[:1])
    assert read_json(tmp_path / "out.json") == [{**ROWS[0], "categories": []}]
    assert llm_server.requests == []


def test_cluster_keys_are_checked(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    with pytest.raises(SpecError, match="summary_shema"):
        run(tmp_path, llm_settings, "summary_shema: {a: str}")
    bad = PIPELINE.format(extra="").replace(
        "embedding_keys: [concept, description]", "embedding_keys: [nope]"
    )
    with pytest.raises(SpecError, match="'nope' is not a key"):
        run_pipeline(write_pipeline(tmp_path, bad, ROWS), llm_settings)
    assert json.dumps(llm_server.requests) == "[]"
