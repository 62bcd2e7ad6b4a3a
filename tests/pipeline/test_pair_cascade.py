"""resolve / equijoin ``cascade``: the proxy judges every candidate pair, the comparison model
a sample (default guarantee: precision)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pipeline_kit import (
    chat_requests,
    last_user,
    read_json,
    run_pipeline,
    tool_name,
    write_pipeline,
)

from llmassert.config import Settings
from llmassert.pipeline.cascade import sample_indices, seed_of
from llmassert.testing.fake_server import FakeLLMServer, Reply

RESOLVE = """\
default_model: openai/fake-model
datasets:
  tickets: {type: file, path: data.json}
operations:
  - name: resolve_products
    type: resolve
    comparison_prompt: "Same product?\\nA: {{ input1.product }}\\nB: {{ input2.product }}"
    resolution_prompt: "Canonical name for:\\n{% for i in inputs %}- {{ i.product }}\\n{% endfor %}"
    output: {schema: {product: string}}
    cascade:
      proxy_model: openai/proxy-model
      target: 0.8
      label_budget: 60
pipeline:
  steps:
    - {name: s, input: tickets, operations: [resolve_products]}
  output: {type: file, path: out.json}
"""
BRANDS = ["acme phone", "zenith tv", "orbit laptop"]
ROWS = [{"product": f"{BRANDS[i % 3]} v{i}"} for i in range(18)]


def brand(name: str) -> str:
    return name.rsplit(" ", 1)[0]


def pair_of(body: dict[str, Any]) -> tuple[str, str]:
    text = "\n".join(m["content"] for m in body["messages"] if m["role"] == "user")
    a = re.search(r"A: (.+)", text)
    b = re.search(r"B: (.+)", text)
    assert a and b
    return a.group(1).strip(), b.group(1).strip()


def handler(body: dict[str, Any]) -> Reply | None:
    if tool_name(body) != "compare":
        names = re.findall(r"- (.+)", last_user(body))
        return Reply(tool_args={"product": brand(names[0])})
    a, b = pair_of(body)
    same = brand(a) == brand(b)
    if "proxy" in body["model"]:
        # always right; less sure about some true matches (which only moves the threshold)
        conf = 0.6 if same and "v0 " in (a + " " + b + " ") else 0.97
        return Reply(tool_args={"is_match": same, "confidence": conf})
    return Reply(tool_args={"is_match": same})


def test_resolve_cascade_judges_pairs_by_proxy_and_samples_the_oracle(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = handler
    report = run_pipeline(write_pipeline(tmp_path, RESOLVE, ROWS), llm_settings)
    calls = chat_requests(llm_server)
    proxy = [c for c in calls if "proxy" in c.body["model"]]
    oracle = [c for c in calls if tool_name(c.body) == "compare" and "proxy" not in c.body["model"]]
    pairs = 18 * 17 // 2
    assert len(proxy) == pairs  # the proxy sees every candidate pair
    assert len(oracle) == 60  # precision: the sample, nothing escalated
    assert sorted(oracle_pair_ids(oracle)) == sample_indices(pairs, 60, seed_of("resolve_products"))
    out = read_json(tmp_path / "out.json")
    assert len(out) == len(ROWS)  # resolve never changes the row count
    # About 18 sampled matches certify the proxy's confident answers (precision >= 0.8 at
    # delta 0.05), so the proxy's verdicts merge each brand into one cluster.
    assert [r["product"] for r in out] == [brand(r["product"]) for r in ROWS]
    resolutions = [c for c in calls if tool_name(c.body) == "resolve_products"]
    assert len(resolutions) == 3
    assert report.ops[0].stats.rows_out == len(ROWS)


def oracle_pair_ids(oracle: list[Any]) -> list[int]:
    """Index of each judged pair among the candidate pairs (i < j, in row order)."""
    index = {}
    k = 0
    for i in range(len(ROWS)):
        for j in range(i + 1, len(ROWS)):
            index[(ROWS[i]["product"], ROWS[j]["product"])] = k
            k += 1
    return [index[pair_of(c.body)] for c in oracle]


EQUIJOIN = """\
default_model: openai/fake-model
datasets:
  left: {type: file, path: left.json}
  right: {type: file, path: right.json}
operations:
  - name: match
    type: equijoin
    comparison_prompt: "Same product?\\nA: {{ left.product }}\\nB: {{ right.product }}"
    cascade:
      proxy_model: openai/proxy-model
      target: 0.8
      label_budget: 5
pipeline:
  steps:
    - name: joined
      operations:
        - match: {left: left, right: right}
  output: {type: file, path: out.json}
"""


def test_equijoin_cascade_joins_the_matching_pairs(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = handler
    left = [{"product": f"{b} v{i}"} for i, b in enumerate(BRANDS)]
    right = [{"product": f"{b} v{i + 10}"} for i, b in enumerate(reversed(BRANDS))]
    import json

    (tmp_path / "left.json").write_text(json.dumps(left))
    (tmp_path / "right.json").write_text(json.dumps(right))
    report = run_pipeline(write_pipeline(tmp_path, EQUIJOIN), llm_settings)
    calls = chat_requests(llm_server)
    assert sum("proxy" in c.body["model"] for c in calls) == 9
    assert sum("proxy" not in c.body["model"] for c in calls) == 5
    # 5 labels cannot certify 0.8 precision: only the comparison model's own matches join.
    judged = [pair_of(c.body) for c in calls if "proxy" not in c.body["model"]]
    expected = sorted((a, b) for a, b in judged if brand(a) == brand(b))
    out = read_json(tmp_path / "out.json")
    assert sorted((r["product_left"], r["product_right"]) for r in out) == expected
    joined_left = {a for a, _ in expected}
    joined_right = {b for _, b in expected}
    assert report.ops[0].stats.filtered == (3 - len(joined_left)) + (3 - len(joined_right))
