"""resolve over loopback HTTP: clusters, comparison counts with and without blocking, policies."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from llmassert.config import Settings
from llmassert.errors import SpecError
from llmassert.llm import get_client
from llmassert.pipeline.context import OpContext, PipelineEnv
from llmassert.pipeline.operators.base import Outcome
from llmassert.pipeline.operators.resolve import ResolveOperator, ResolveSpec, UnionFind
from llmassert.pipeline.spec import load_pipeline
from llmassert.testing.fake_server import FakeLLMServer, Reply

CANON = {
    "acme router x2": "Acme Router X2",
    "router x2 by acme": "Acme Router X2",
    "acmerouter x-2": "Acme Router X2",
    "acme x2 router": "Acme Router X2",
    "zenphone 5": "ZenPhone 5",
    "zen phone 5": "ZenPhone 5",
    "zenphone5": "ZenPhone 5",
    "cloud backup": "Cloud Backup",
    "cloudbackup service": "Cloud Backup",
    "smart bulb": "Smart Bulb",
}
PRODUCTS = [
    "Acme Router X2",
    "ZenPhone 5",
    "Router X2 by Acme",
    "Cloud Backup",
    "zen phone 5",
    "AcmeRouter X-2",
    "Smart Bulb",
    "ZenPhone5",
    "CloudBackup service",
    "acme x2 router",
]
ROWS = [{"ticket": i, "product": p} for i, p in enumerate(PRODUCTS)]
SPEC = {
    "name": "resolve_products",
    "comparison_prompt": "Same product?\nA: {{ input1.product }}\nB: {{ input2.product }}",
    "resolution_prompt": "Canonical name for:\n{% for i in inputs %}- {{ i.product }}\n"
    "{% endfor %}",
    "output": {"schema": {"product": "string"}},
    "blocking_keys": ["product"],
}


def canon(name: str) -> str:
    return CANON[" ".join(name.split()).lower()]


def answer(body: dict[str, Any]) -> Reply | None:
    """A deterministic 'model': products match when they have the same canonical name."""
    if "messages" not in body:
        return None  # embeddings: the server's bag-of-words vectors
    prompt = body["messages"][-1]["content"]
    if body["tools"][0]["function"]["name"] == "compare":
        a = re.search(r"A: (.*)", prompt)[1]  # type: ignore[index]
        b = re.search(r"B: (.*)", prompt)[1]  # type: ignore[index]
        return Reply(tool_args={"is_match": canon(a) == canon(b)})
    names = re.findall(r"^- (.*)$", prompt, re.M)
    return Reply(tool_args={"product": canon(names[0])})


def resolve(
    settings: Settings, tmp_path: Path, rows: list[dict[str, Any]], **extra: Any
) -> Outcome:
    env = PipelineEnv(
        spec_file="p.yaml",
        base_dir=tmp_path,
        default_model=settings.model,
        embedding_model=settings.embedding_model,
    )
    op = ResolveOperator(ResolveSpec.model_validate({**SPEC, **extra}), env)

    async def go() -> Outcome:
        client = get_client(settings)
        try:
            return await op.run(rows, OpContext(op.name, env=env, settings=settings, client=client))
        finally:
            await client.aclose()

    return asyncio.run(go())


def compare_requests(server: FakeLLMServer) -> int:
    return sum(
        1
        for r in server.requests
        if r.path.endswith("chat/completions")
        and r.body["tools"][0]["function"]["name"] == "compare"
    )


def test_clusters_resolve_every_row_and_keep_the_row_count(
    llm_server: FakeLLMServer, llm_settings: Settings, tmp_path: Path
) -> None:
    llm_server.handler = answer
    out = resolve(llm_settings, tmp_path, ROWS, compare_batch_size=5)
    assert [r["ticket"] for r in out.rows] == list(range(len(ROWS)))  # same rows, same order
    assert [r["product"] for r in out.rows] == [canon(p) for p in PRODUCTS]
    assert out.rows[2]["_kv_pairs_preresolve_resolve_products"] == {"product": "Router X2 by Acme"}
    assert out.rows[6]["product"] == "Smart Bulb"  # a cluster of one keeps its value, no call
    assert out.meta["clusters"] == 4 and out.meta["resolved_clusters"] == 3
    resolutions = [
        r
        for r in llm_server.requests
        if r.path.endswith("completions")
        and r.body["tools"][0]["function"]["name"] == "resolve_products"
    ]
    assert len(resolutions) == 3
    assert out.meta["comparisons"] == compare_requests(llm_server)
    assert out.meta["comparisons"] < out.meta["candidate_pairs"] == 45


PREFIX = "input1['product'][:3].lower() == input2['product'][:3].lower()"


def test_blocking_makes_fewer_comparisons_with_the_same_clusters(
    llm_server: FakeLLMServer, llm_settings: Settings, tmp_path: Path
) -> None:
    llm_server.handler = answer
    unblocked = resolve(llm_settings, tmp_path, ROWS, compare_batch_size=4)
    conditions = resolve(
        llm_settings,
        tmp_path,
        ROWS,
        compare_batch_size=4,
        blocking_conditions=[
            PREFIX,
            "'x2' in left['product'].lower() and 'x2' in right['product'].lower()",
        ],
    )
    assert not any(r.path.endswith("embeddings") for r in llm_server.requests)
    # Either test admits a pair: the embedding threshold or the condition.
    both = resolve(
        llm_settings,
        tmp_path,
        ROWS,
        compare_batch_size=4,
        blocking_threshold=0.3,
        blocking_conditions=[PREFIX],
    )
    assert any(r.path.endswith("embeddings") for r in llm_server.requests)
    for blocked in (conditions, both):
        assert [r["product"] for r in blocked.rows] == [r["product"] for r in unblocked.rows]
        assert blocked.meta["candidate_pairs"] < unblocked.meta["candidate_pairs"]
        assert blocked.meta["comparisons"] < unblocked.meta["comparisons"]


def test_embedding_threshold_alone_compares_only_similar_pairs(
    llm_server: FakeLLMServer, llm_settings: Settings, tmp_path: Path
) -> None:
    llm_server.handler = answer
    out = resolve(llm_settings, tmp_path, ROWS, blocking_threshold=0.8, compare_batch_size=1)
    # The server's embeddings are bags of words: only the word-for-word router variants
    # ("Acme Router X2", "Router X2 by Acme", "acme x2 router") are that similar.
    assert out.meta["candidate_pairs"] == 3 and out.meta["comparisons"] == 2
    assert {r["product"] for r in out.rows if r["ticket"] in (0, 2, 9)} == {"Acme Router X2"}
    assert out.rows[5]["product"] == "AcmeRouter X-2"  # missed by blocking, left alone


def test_only_current_cluster_roots_are_compared(
    llm_server: FakeLLMServer, llm_settings: Settings, tmp_path: Path
) -> None:
    llm_server.handler = answer
    rows = [
        {"product": p}
        for p in ("Acme Router X2", "Router X2 by Acme", "AcmeRouter X-2", "Smart Bulb")
    ]
    out = resolve(llm_settings, tmp_path, rows, compare_batch_size=1)
    # (0,1) match; (0,2) match; (0,3) no; (1,2) same cluster; (1,3), (2,3): the clusters
    # {0,1,2} and {3} were already compared and have not changed since.
    assert out.meta["comparisons"] == compare_requests(llm_server) == 3
    assert out.meta["skipped_same_cluster"] == 1
    assert out.meta["skipped_already_compared"] == 2


def test_equal_values_are_one_entity_without_a_call(
    llm_server: FakeLLMServer, llm_settings: Settings, tmp_path: Path
) -> None:
    llm_server.handler = answer
    rows = [{"product": "Smart Bulb"}, {"product": " smart  bulb"}, {"product": "SMART BULB"}]
    out = resolve(llm_settings, tmp_path, rows)
    assert compare_requests(llm_server) == 0 and out.meta["distinct"] == 1
    assert [r["product"] for r in out.rows] == ["Smart Bulb"] * 3


def test_rows_without_the_compared_key_are_errors_not_one_entity(
    llm_server: FakeLLMServer, llm_settings: Settings, tmp_path: Path
) -> None:
    llm_server.handler = answer
    rows = [{"ticket": 1}, {"ticket": 2, "product": "Smart Bulb"}, {"ticket": 3}]
    out = resolve(llm_settings, tmp_path, rows)
    assert [r["ticket"] for r in out.rows] == [2]
    assert sorted(e.row["ticket"] for e in out.errors) == [1, 3]
    assert "product" in out.errors[0].reason
    # Empty values are not 'equal' either: without blocking they are compared like any other.
    llm_server.handler = lambda body: Reply(tool_args={"is_match": False})
    blank = resolve(llm_settings, tmp_path, [{"product": ""}, {"product": ""}])
    assert blank.meta["distinct"] == 2 and blank.meta["comparisons"] == 1


def test_failed_resolution_is_quarantined_row_by_row(
    llm_server: FakeLLMServer, llm_settings: Settings, tmp_path: Path
) -> None:
    def empty_router(body: dict[str, Any]) -> Reply | None:
        reply = answer(body)
        if reply and reply.tool_args == {"product": "Acme Router X2"}:
            return Reply(tool_args={"product": ""})
        return reply

    llm_server.handler = empty_router
    out = resolve(llm_settings, tmp_path, ROWS, validate=["len(output['product']) > 0"])
    routers = [i for i, p in enumerate(PRODUCTS) if canon(p) == "Acme Router X2"]
    assert sorted(q.row["ticket"] for q in out.quarantined) == routers
    assert len(out.rows) + len(out.quarantined) == len(ROWS)  # nothing lost


def test_union_find_keeps_the_smallest_root() -> None:
    uf = UnionFind(5)
    uf.union(3, 4)
    uf.union(4, 1)
    assert uf.find(3) == 1 and uf.clusters() == {0: [0], 1: [1, 3, 4], 2: [2]}
    assert uf.version[1] == 1 and uf.version[3] == 1


def test_unsafe_blocking_condition_is_a_spec_error(tmp_path: Path) -> None:
    (tmp_path / "d.json").write_text('[{"product": "x"}]')
    (tmp_path / "p.yaml").write_text(
        "default_model: openai/fake-model\n"
        "datasets: {d: {type: file, path: d.json}}\n"
        "operations:\n"
        "- name: r\n  type: resolve\n"
        "  comparison_prompt: '{{ input1.product }} {{ input2.product }}'\n"
        "  resolution_prompt: '{{ inputs }}'\n"
        "  output: {schema: {product: string}}\n"
        "  blocking_conditions: [\"__import__('os').system('true')\"]\n"
        "pipeline: {steps: [{name: s, input: d, operations: [r]}], output: {path: o.json}}\n"
    )
    with pytest.raises(SpecError) as e:
        load_pipeline(tmp_path / "p.yaml")
    assert str(e.value) == (
        f"{tmp_path / 'p.yaml'}: operations[0] (r).blocking_conditions: "
        "[0] attribute .system is not allowed: "
        "\"__import__('os').system('true')\""
    )
