"""filter ``cascade``: proxy on every row, oracle on a sample, thresholds with a guarantee."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from pipeline_kit import chat_requests, read_json, run_pipeline, write_pipeline
from scipy import stats

from llmassert.config import Settings
from llmassert.errors import SpecError
from llmassert.pipeline.cascade import (
    binom_cdf,
    decide,
    lower_bound,
    recall_threshold,
    sample_indices,
)
from llmassert.testing.fake_server import FakeLLMServer, Reply

PIPELINE = """\
default_model: openai/fake-model
datasets:
  docs: {{type: file, path: data.json}}
operations:
  - name: is_relevant
    type: filter
    prompt: "Is document {{{{ input.n }}}} about climate policy? {{{{ input.text }}}}"
    output: {{schema: {{keep: bool}}}}
    cascade:
      proxy_model: openai/proxy-model
      {cascade}
pipeline:
  steps:
    - {{name: s, input: docs, operations: [is_relevant]}}
  output: {{type: file, path: out.json}}
"""

N = 60


def truth(n: int) -> bool:
    return n % 3 == 0


def proxy_confidence(n: int) -> tuple[bool, float]:
    """A useful but imperfect proxy: right and sure on most rows, unsure on every 7th."""
    if n % 7 == 0:
        return (not truth(n)), 0.55
    return truth(n), 0.95


def doc_number(body: dict[str, Any]) -> int:
    text = body["messages"][-1]["content"]
    if "confidence" in text:
        text = body["messages"][-2]["content"]
    return int(text.split("document ")[1].split()[0])


def handler(body: dict[str, Any]) -> Reply:
    n = doc_number(body)
    if "proxy" in body["model"]:
        keep, conf = proxy_confidence(n)
        return Reply(tool_args={"keep": keep, "confidence": conf})
    return Reply(tool_args={"keep": truth(n)})


def run(tmp_path: Path, settings: Settings, cascade: str) -> tuple[Any, list[int]]:
    rows = [{"n": i, "text": f"text {i}"} for i in range(N)]
    path = write_pipeline(tmp_path, PIPELINE.format(cascade=cascade), rows)
    report = run_pipeline(path, settings)
    return report, [r["n"] for r in read_json(tmp_path / "out.json")]


def split_calls(server: FakeLLMServer) -> tuple[list[int], list[int]]:
    proxy, oracle = [], []
    for r in chat_requests(server):
        (proxy if "proxy" in r.body["model"] else oracle).append(doc_number(r.body))
    return proxy, oracle


def test_recall_cascade_scores_every_row_and_asks_the_oracle_only_for_the_sample(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = handler
    report, kept = run(tmp_path, llm_settings, "target: 0.9\n      label_budget: 20")
    proxy, oracle = split_calls(llm_server)
    assert sorted(proxy) == list(range(N))  # one proxy answer per row
    assert len(oracle) == 20 and len(set(oracle)) == 20  # the sample, nothing escalated
    assert sorted(oracle) == sample_indices(N, 20, seed=_seed("is_relevant"))
    # The oracle decides its sampled rows; the proxy's confident positives are kept.
    for n in oracle:
        assert (n in kept) == truth(n)
    for n in set(range(N)) - set(oracle):
        keep, conf = proxy_confidence(n)
        if keep and conf == 0.95:
            assert n in kept
    assert kept == sorted(kept)  # input order
    s = report.ops[0].stats
    assert s.rows_in == N and s.rows_out + s.filtered == N and s.rows_out == len(kept)
    assert s.calls == N + 20
    # Every true positive is kept: the proxy ranks them above the threshold.
    assert {n for n in range(N) if truth(n)} <= set(kept) | {
        n for n in range(N) if n % 7 == 0 and n not in oracle
    }


def test_accuracy_cascade_escalates_the_unsure_rows(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = handler
    _, kept = run(
        tmp_path, llm_settings, "guarantee: accuracy\n      target: 0.8\n      label_budget: 30"
    )
    _, oracle = split_calls(llm_server)
    sample = sample_indices(N, 30, seed=_seed("is_relevant"))
    unsure = [n for n in range(N) if n % 7 == 0 and n not in sample]
    # The sampled 0.95 answers are all right, so 0.95 is certified and the 0.55 ones are not:
    # exactly the unsure rows outside the sample are escalated.
    assert sorted(oracle) == sorted(sample + unsure)
    assert kept == [n for n in range(N) if truth(n)]  # every row ends up right


def test_precision_without_a_certified_threshold_keeps_only_oracle_positives(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = handler
    # 5 labels cannot certify 0.99 precision: only the oracle's own positives are kept.
    report, kept = run(
        tmp_path, llm_settings, "guarantee: precision\n      target: 0.99\n      label_budget: 5"
    )
    _, oracle = split_calls(llm_server)
    assert len(oracle) == 5
    assert kept == sorted(n for n in oracle if truth(n))
    assert report.ops[0].stats.filtered == N - len(kept)


def test_an_oracle_answer_failing_validate_is_quarantined_not_lost(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    def strict(body: dict[str, Any]) -> Reply:
        n = doc_number(body)
        if "proxy" not in body["model"] and n == 3:
            return Reply(tool_args={"keep": False})  # fails the rule below
        return handler(body)

    llm_server.handler = strict
    text = "target: 0.9\n      label_budget: 60\n    validate:\n      - input['n'] != 3 or output['keep']"
    report, kept = run(tmp_path, llm_settings, text)
    q = [json.loads(x) for x in (tmp_path / "out.quarantine.jsonl").read_text().splitlines()]
    assert [e["row"]["n"] for e in q] == [3]
    s = report.ops[0].stats
    assert s.rows_out + s.filtered + s.quarantined == N and s.quarantined == 1
    assert kept == [n for n in range(N) if truth(n) and n != 3]


def test_second_run_is_answered_from_the_cache(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = handler
    _, first = run(tmp_path, llm_settings, "target: 0.9\n      label_budget: 20")
    llm_server.reset()
    llm_server.handler = handler
    _, second = run(tmp_path, llm_settings, "target: 0.9\n      label_budget: 20")
    assert second == first
    assert chat_requests(llm_server) == []


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("target: 1.5", "target"),
        ("target: 0.9\n      gaurantee: recall", "gaurantee"),
        ("target: 0.9\n      guarantee: f1", "guarantee"),
    ],
)
def test_bad_cascade_blocks_are_one_line_errors_before_any_call(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings, block: str, message: str
) -> None:
    with pytest.raises(SpecError, match=message):
        run(tmp_path, llm_settings, block)
    assert llm_server.requests == []


# -- the engine, checked against scipy -----------------------------------------------------------


def test_binomial_tail_and_clopper_pearson_match_scipy() -> None:
    for n, p in [(10, 0.1), (50, 0.05), (200, 0.3)]:
        for k in (0, 1, n // 4, n - 1):
            assert math.isclose(binom_cdf(k, n, p), stats.binom.cdf(k, n, p), rel_tol=1e-9)
    for k, n in [(9, 10), (45, 50), (1, 3)]:
        assert math.isclose(
            lower_bound(k, n, 0.05), stats.beta.ppf(0.05, k, n - k + 1), abs_tol=1e-9
        )


def test_recall_threshold_is_the_certified_order_statistic() -> None:
    scores = [i / 100 for i in range(100)]  # 100 sampled positives
    t = recall_threshold(scores, target=0.9, delta=0.05)
    r = round(t * 100) + 1  # t is the r-th smallest
    assert stats.binom.cdf(r - 1, 100, 0.1) <= 0.05 < stats.binom.cdf(r, 100, 0.1)
    assert recall_threshold(scores[:10], target=0.9, delta=0.05) == -math.inf  # too few: keep all


def test_decide_uses_oracle_labels_for_sampled_items_and_escalates_unscored_ones() -> None:
    plan = decide([0.9, None, 0.1, 0.8], {0: False}, "recall", 0.5, 0.5)
    assert plan.decisions[0] == "negative" and plan.decisions[1] == "escalate"


def _seed(name: str) -> int:
    import hashlib

    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)


EMBED_PIPELINE = PIPELINE.replace("openai/proxy-model", "openai/text-embedding-3-small")


N_EMBED = 200


def topical(n: int) -> bool:
    return n % 2 == 0


def embed_rows() -> list[dict[str, Any]]:
    return [
        {"n": i, "text": "carbon tax emissions policy" if topical(i) else "recipe for bread dough"}
        for i in range(N_EMBED)
    ]


def test_embedding_proxy_fits_a_head_on_oracle_labels_then_certifies_a_threshold(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    def oracle(body: dict[str, Any]) -> Reply | None:
        if "messages" not in body:
            return None  # embeddings: the server's bag-of-words vectors
        return Reply(tool_args={"keep": topical(doc_number(body))})

    llm_server.handler = oracle
    path = write_pipeline(
        tmp_path,
        EMBED_PIPELINE.format(cascade="target: 0.8\n      label_budget: 100"),
        embed_rows(),
    )
    report = run_pipeline(path, llm_settings)
    kept = [r["n"] for r in read_json(tmp_path / "out.json")]
    chats = chat_requests(llm_server)
    embeds = [r for r in llm_server.requests if r.path.endswith("embeddings")]
    # 50 training labels + 50 for the threshold (about 25 positives: enough to certify 0.8
    # recall at delta 0.05); no chat request goes to the embedding model.
    assert len(chats) == 100 and len({doc_number(c.body) for c in chats}) == 100
    assert all(c.body["model"] == "fake-model" for c in chats)
    assert len(embeds) == 1 and len(embeds[0].body["input"]) == N_EMBED
    # The head separates the topics: nothing off-topic is kept; the recall threshold sits at
    # the 2nd-lowest sampled positive score, so at most a few positives fall below it.
    positives = [n for n in range(N_EMBED) if topical(n)]
    assert set(kept) <= set(positives) and len(kept) >= 0.8 * len(positives)
    oracle_seen = {doc_number(c.body) for c in chats}
    assert all(n in kept for n in positives if n in oracle_seen)
    assert report.ops[0].stats.rows_out + report.ops[0].stats.filtered == N_EMBED


def test_embedding_proxy_with_one_class_in_training_asks_the_oracle_for_everything(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = lambda body: (
        Reply(tool_args={"keep": False}) if "messages" in body else None
    )
    path = write_pipeline(
        tmp_path, EMBED_PIPELINE.format(cascade="target: 0.9\n      label_budget: 10"), embed_rows()
    )
    report = run_pipeline(path, llm_settings)
    assert read_json(tmp_path / "out.json") == []
    assert len(chat_requests(llm_server)) == N_EMBED
    assert report.ops[0].stats.filtered == N_EMBED
