"""split → gather → map through the runner over loopback HTTP, DocETL's YAML unchanged."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pipeline_kit import chat_requests, last_user, read_json, run_pipeline, write_pipeline

from llmassert.config import Settings
from llmassert.testing.fake_server import FakeLLMServer, Reply

# The operations of ../shared/bench/docetl/split_gather.yaml.tmpl, key for key.
PIPE = """\
default_model: openai/fake-model
datasets:
  docs: {type: file, path: data.json}
operations:
  - name: split_text
    type: split
    split_key: text
    method: token_count
    method_kwargs:
      num_tokens: 40
  - name: gather_ctx
    type: gather
    content_key: text_chunk
    doc_id_key: split_text_id
    order_key: split_text_chunk_num
    peripheral_chunks:
      previous:
        tail:
          count: 1
      next:
        head:
          count: 1
  - name: chunk_facts
    type: map
    bypass_cache: false
    skip_on_error: true
    prompt: |
      Chunk {{ input.split_text_chunk_num }} of memo "{{ input.title }}":
      {{ input.text_chunk_rendered }}
      List the entities and one fact.
    output:
      schema:
        entities: list[string]
        fact: string
pipeline:
  steps:
    - name: chunks
      input: docs
      operations: [split_text, gather_ctx, chunk_facts]
  output: {type: file, path: out.json, intermediate_dir: inter}
"""
DOCS = [
    {
        "title": f"memo {d}",
        "text": " ".join(f"Memo {d} sentence {i} mentions Team{i % 5}." for i in range(30)),
    }
    for d in range(3)
]


def answer(body: dict[str, Any]) -> Reply:
    prompt = last_user(body)
    main = prompt.split("--- Begin Main Chunk ---\n")[1].split("\n--- End Main Chunk ---")[0]
    return Reply(
        tool_args={"entities": sorted(set(re.findall(r"Team\d", main))), "fact": main.split(".")[0]}
    )


def test_chunks_carry_their_neighbours_and_stable_ids(
    llm_server: FakeLLMServer, llm_settings: Settings, tmp_path: Path
) -> None:
    llm_server.handler = answer
    path = write_pipeline(tmp_path, PIPE, DOCS)
    report = run_pipeline(path, llm_settings)
    rows = read_json(tmp_path / "out.json")
    by_doc: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_doc.setdefault(row["split_text_id"], []).append(row)
    assert len(by_doc) == 3 and len(rows) == len(chat_requests(llm_server)) > 9
    for doc in DOCS:
        chunks = next(c for c in by_doc.values() if c[0]["title"] == doc["title"])
        assert [c["split_text_chunk_num"] for c in chunks] == list(range(1, len(chunks) + 1))
        assert "".join(c["text_chunk"] for c in chunks) == doc["text"]  # nothing lost
        for i, chunk in enumerate(chunks):
            prompt = next(
                last_user(r.body)
                for r in chat_requests(llm_server)
                if f'Chunk {i + 1} of memo "{doc["title"]}"' in last_user(r.body)
            )
            previous, rest = prompt.split("--- End Previous Context ---")
            if i > 0:
                assert f"[Chunk {i}]\n{chunks[i - 1]['text_chunk']}" in previous
            if i + 1 < len(chunks):
                assert f"[Chunk {i + 2}]\n{chunks[i + 1]['text_chunk']}" in rest
            assert chunk["entities"] == sorted(set(re.findall(r"Team\d", chunk["text_chunk"])))
    assert [op.stats.rows_out for op in report.ops] == [len(rows)] * 3

    # A second run in a fresh folder: the same ids and prompts, so every call is a cache hit.
    again = tmp_path / "again"
    again.mkdir()
    llm_server.reset()
    run_pipeline(write_pipeline(again, PIPE, DOCS), llm_settings)
    assert read_json(again / "out.json") == rows
    assert chat_requests(llm_server) == []


def test_dry_run_runs_split_and_gather_and_estimates_the_map(
    llm_server: FakeLLMServer, llm_settings: Settings, tmp_path: Path
) -> None:
    pipe = PIPE.replace(
        "      operations: [split_text, gather_ctx, chunk_facts]",
        "      operations: [split_text, gather_ctx, chunk_facts, per_entity, again]",
    )
    pipe = pipe.replace(
        "pipeline:\n",
        """\
  - name: per_entity
    type: unnest
    unnest_key: entities
  - name: again
    type: split
    split_key: fact
    method: delimiter
    method_kwargs: {delimiter: ". "}
pipeline:
""",
    )
    report = run_pipeline(write_pipeline(tmp_path, pipe, DOCS), llm_settings, dry_run=True)
    assert llm_server.requests == []
    n = report.ops[0].stats.rows_out
    assert n > 9
    assert [(op.name, op.stats.calls, op.stats.rows_out) for op in report.ops] == [
        ("split_text", 0, n),
        ("gather_ctx", 0, n),
        ("chunk_facts", n, n),
        ("per_entity", 0, n),
        ("again", 0, n),
    ]
