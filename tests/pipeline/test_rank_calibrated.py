"""rank ``initial_ordering_method: calibrated_embedding`` (DocETL 0.3.0) over loopback HTTP."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pipeline_kit import chat_requests, last_user, read_json, run_pipeline, write_pipeline

from llmassert.config import Settings
from llmassert.testing.fake_server import FakeLLMServer, Reply

TEXTS = [
    "aspirin relieves headache and fever",
    "insulin controls blood sugar in diabetes",
    "antibiotics treat bacterial infections",
    "statins lower cholesterol levels",
    "antihistamines calm seasonal allergies",
    "inhalers open airways during asthma",
]
ROWS = [{"id": i, "text": t} for i, t in enumerate(TEXTS)]
TEXTS_SHOWN = [f"text: {t}" for t in TEXTS]
PIPELINE = """\
default_model: openai/fake-model
datasets:
  docs: {type: file, path: data.json}
operations:
  - name: by_severity
    type: rank
    prompt: How severe is the condition treated?
    input_keys: [text]
    direction: desc
    initial_ordering_method: calibrated_embedding
    batch_size: 3
    call_budget: 2
pipeline:
  steps:
    - {name: s, input: docs, operations: [by_severity]}
  output: {type: file, path: out.json}
"""


def handler(body: dict[str, Any]) -> Reply | None:
    if "messages" not in body:
        return None  # an embedding request: the server's own vectors
    text = last_user(body)
    if "as `ranking`" in text:
        docs = re.findall(r"Document (\d+):\ntext: ([^\n]*)", text)
        first = [int(n) for n, t in docs if "insulin" in t]
        return Reply(tool_args={"ranking": first + [int(n) for n, t in docs if "insulin" not in t]})
    return Reply(tool_args={"top_documents": [1]})  # the picky window keeps its top


def test_calibrated_embedding_orders_by_the_nearest_ranked_sample_row(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = handler
    report = run_pipeline(write_pipeline(tmp_path, PIPELINE, ROWS), llm_settings)
    out = read_json(tmp_path / "out.json")
    assert [r["_rank"] for r in out] == list(range(1, 7))
    assert sorted(r["id"] for r in out) == list(range(6))  # no row lost
    assert out[0]["id"] == 1  # placed first in every ordered batch: the most wins
    chats = [last_user(r.body) for r in chat_requests(llm_server)]
    # DocETL's counts: 6 * 5 // (3 * 2) = 5 ordered batches of 3, then 1 picky window.
    assert sum("as `ranking`" in c for c in chats) == 5
    assert sum(c.startswith("Criterion:") for c in chats) == 1 and len(chats) == 6
    embeds = [r for r in llm_server.requests if r.path.endswith("embeddings")]
    # DocETL embeds the ordered sample, then every row; every row is in the sample here, so the
    # second request is answered from the vectors already fetched.
    assert len(embeds) == 1 and sorted(embeds[0].body["input"]) == sorted(TEXTS_SHOWN)
    assert report.ops[0].stats.rows_out == 6


def test_calibrated_embedding_survives_a_nonsense_order(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    def nonsense(body: dict[str, Any]) -> Reply | None:
        if "messages" not in body:
            return None
        if "as `ranking`" in last_user(body):
            return Reply(tool_args={"ranking": [9, 0]})  # rows that do not exist
        return Reply(tool_args={"top_documents": [1]})

    llm_server.handler = nonsense
    report = run_pipeline(write_pipeline(tmp_path, PIPELINE, ROWS), llm_settings)
    assert sorted(r["id"] for r in read_json(tmp_path / "out.json")) == list(range(6))
    assert report.ops[0].stats.check_retries >= 5  # every batch answer refused, counted
