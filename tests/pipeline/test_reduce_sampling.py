"""reduce ``value_sampling`` and ``retriever`` (DocETL keys), over real loopback HTTP."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pipeline_kit import chat_requests, last_user, read_json, run_pipeline, write_pipeline

from llmassert.config import Settings
from llmassert.errors import SpecError
from llmassert.testing.fake_server import FakeLLMServer

PIPELINE = """\
default_model: openai/fake-model
datasets:
  reviews: {{type: file, path: data.json}}
operations:
  - name: sampled_reduce
    type: reduce
    reduce_key: product_id
    prompt: |
      Summarize the reviews for product {{{{ inputs[0].product_id }}}}:
      {{% for item in inputs %}}Review {{{{ item.n }}}}: {{{{ item.review }}}}
      {{% endfor %}}
    value_sampling:
      {sampling}
    output:
      schema:
        summary: string
pipeline:
  steps:
    - {{name: s, input: reviews, operations: [sampled_reduce]}}
  output: {{type: file, path: out.json}}
"""
TOPICS = ["battery life is short", "screen is bright", "battery drains fast", "fast shipping"]
ROWS = [
    {"product_id": p, "n": i, "review": f"{TOPICS[i % 4]} review {i}"}
    for p in ("A", "B")
    for i in range(12)
]


def reviewed(server: FakeLLMServer) -> dict[str, list[int]]:
    """Per product, the review numbers its prompt showed."""
    out: dict[str, list[int]] = {}
    for r in chat_requests(server):
        text = last_user(r.body)
        product = re.search(r"product (\w)", text)
        assert product is not None
        out[product.group(1)] = [int(n) for n in re.findall(r"Review (\d+):", text)]
    return out


def run(tmp_path: Path, settings: Settings, sampling: str) -> Any:
    path = write_pipeline(tmp_path, PIPELINE.format(sampling=sampling), ROWS)
    return run_pipeline(path, settings)


def test_first_n_shows_the_first_rows_of_each_group(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    report = run(
        tmp_path, llm_settings, "enabled: true\n      method: first_n\n      sample_size: 3"
    )
    assert reviewed(llm_server) == {"A": [0, 1, 2], "B": [0, 1, 2]}
    assert len(read_json(tmp_path / "out.json")) == 2
    assert report.ops[0].stats.rows_in == 24


def test_random_sample_is_the_same_on_every_run_and_keeps_group_order(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    sampling = "enabled: true\n      method: random\n      sample_size: 5"
    run(tmp_path, llm_settings, sampling)
    first = reviewed(llm_server)
    assert all(len(v) == 5 and v == sorted(v) for v in first.values())
    llm_server.reset()
    run(tmp_path, llm_settings, sampling.replace("enabled", "enabled") + "\n    bypass_cache: true")
    assert reviewed(llm_server) == first


def test_sem_sim_picks_the_rows_nearest_the_query(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    sampling = (
        "enabled: true\n      method: sem_sim\n      sample_size: 6\n"
        "      embedding_model: openai/fake-embed\n      embedding_keys: [review]\n"
        '      query_text: "battery life battery drains"'
    )
    report = run(tmp_path, llm_settings, sampling)
    # The fake server's embeddings are bags of words: the six battery reviews are nearest.
    battery = [i for i in range(12) if "battery" in TOPICS[i % 4]]
    assert reviewed(llm_server) == {"A": battery, "B": battery}
    embeds = [r for r in llm_server.requests if r.path.endswith("embeddings")]
    inputs = sorted(len(r.body["input"]) for r in embeds)
    assert inputs == [1, 1, 12, 12]  # per group: the rows, then the query
    queries = [r.body["input"] for r in embeds if len(r.body["input"]) == 1]
    assert queries == [["battery life battery drains"]] * 2
    assert report.ops[0].stats.calls == 2 + 4


def test_cluster_sampling_takes_one_row_per_topic(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    sampling = (
        "enabled: true\n      method: cluster\n      sample_size: 4\n"
        "      embedding_model: openai/fake-embed\n      embedding_keys: [review]"
    )
    run(tmp_path, llm_settings, sampling)
    for shown in reviewed(llm_server).values():
        assert len(shown) == 4 and shown == sorted(shown)


def test_small_groups_are_not_sampled(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    run(tmp_path, llm_settings, "enabled: true\n      method: first_n\n      sample_size: 50")
    assert reviewed(llm_server) == {"A": list(range(12)), "B": list(range(12))}


@pytest.mark.parametrize(
    ("sampling", "message"),
    [
        ("enabled: true\n      method: kmeans\n      sample_size: 3", "method"),
        ("enabled: true\n      method: sem_sim\n      sample_size: 3", "query_text"),
        (
            "enabled: true\n      method: first_n\n      sample_size: 3\n      embeding_model: x",
            "embeding_model",
        ),
    ],
)
def test_bad_value_sampling_is_an_error_before_any_call(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings, sampling: str, message: str
) -> None:
    with pytest.raises(SpecError, match=message):
        run(tmp_path, llm_settings, sampling)
    assert llm_server.requests == []


RETRIEVER = """\
default_model: openai/fake-model
datasets:
  reviews: {type: file, path: data.json}
  kb: {type: file, path: kb.json}
retrievers:
  kb:
    type: lancedb
    dataset: kb
    index_dir: idx
    index_types: [fts]
    fts:
      index_phrase: "{{ input.fact }}"
      query_phrase: "product {{ reduce_key.product_id }} warranty {{ inputs[0].review }}"
    query: {top_k: 1}
operations:
  - name: summarize
    type: reduce
    reduce_key: product_id
    retriever: kb
    save_retriever_output: true
    prompt: "Summarize {{ inputs | length }} reviews of {{ reduce_key.product_id }}."
    output: {schema: {summary: string}}
pipeline:
  steps:
    - {name: s, input: reviews, operations: [summarize]}
  output: {type: file, path: out.json}
"""


def test_reduce_retrieves_once_per_group_and_prepends_the_context(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    (tmp_path / "kb.json").write_text(
        json.dumps([{"fact": "product A ships with a 2 year warranty"}, {"fact": "zebra facts"}])
    )
    rows = [{"product_id": "A", "review": "good"}, {"product_id": "A", "review": "ok"}]
    run_pipeline(write_pipeline(tmp_path, RETRIEVER, rows), llm_settings)
    prompts = [last_user(r.body) for r in chat_requests(llm_server)]
    assert prompts == [
        "Here is some extra context:\n- [1] product A ships with a 2 year warranty\n\n"
        "Summarize 2 reviews of A."
    ]
    out = read_json(tmp_path / "out.json")
    assert out[0]["_summarize_retrieved_context"] == "- [1] product A ships with a 2 year warranty"


def test_retriever_on_an_operator_without_retrieval_is_an_error(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    (tmp_path / "kb.json").write_text(json.dumps([{"fact": "x"}]))
    text = RETRIEVER.replace(
        "    reduce_key: product_id\n    retriever: kb\n", "    retriever: kb\n"
    )
    text = (
        text.replace("type: reduce", "type: resolve")
        .replace(
            '    prompt: "Summarize',
            '    comparison_prompt: "{{ input1 }}{{ input2 }}"\n    resolution_prompt: "Summarize',
        )
        .replace("    save_retriever_output: true\n", "")
    )
    with pytest.raises(SpecError, match="retrieval on map, filter, reduce and extract only"):
        run_pipeline(
            write_pipeline(tmp_path, text, [{"product_id": "A", "review": "x"}]), llm_settings
        )
    assert llm_server.requests == []


def test_limit_reduces_the_smallest_groups_and_counts_the_rest_filtered(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    text = PIPELINE.format(sampling="enabled: false\n      method: first_n\n      sample_size: 1")
    text = text.replace("    value_sampling:", "    limit: 2\n    value_sampling:")
    rows = [
        {"product_id": p, "n": i, "review": "ok"}
        for p, k in (("A", 3), ("B", 1), ("C", 2))
        for i in range(k)
    ]
    report = run_pipeline(write_pipeline(tmp_path, text, rows), llm_settings)
    assert sorted(reviewed(llm_server)) == ["B", "C"]  # the two smallest groups
    assert sorted(r["product_id"] for r in read_json(tmp_path / "out.json")) == ["B", "C"]
    s = report.ops[0].stats
    assert (s.rows_in, s.filtered, s.rows_out) == (6, 3, 2)
