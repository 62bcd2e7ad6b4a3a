"""DocETL keys and operators added for parity (issue 17), in DocETL's own YAML syntax.

Every pipeline here is written for these tests; runs go over real loopback HTTP, retrievers build
a real LanceDB index on disk.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pipeline_kit import (
    chat_requests,
    last_user,
    read_json,
    read_jsonl,
    run_pipeline,
    write_pipeline,
)

from llmassert.config import Settings
from llmassert.errors import SpecError
from llmassert.pipeline.spec import load_pipeline
from llmassert.testing.fake_server import FakeLLMServer, Reply

ROWS = [
    {"id": i, "text": t, "category": "a" if i % 2 else "b", "score": i / 10}
    for i, t in enumerate(
        [
            "aspirin relieves headache and fever",
            "insulin controls blood sugar in diabetes",
            "antibiotics treat bacterial infections",
            "statins lower cholesterol levels",
            "antihistamines calm seasonal allergies",
            "inhalers open airways during asthma",
        ]
    )
]


def pipeline(ops: str, steps: str, extra: str = "") -> str:
    return (
        "default_model: openai/fake-model\n"
        "datasets:\n  docs: {type: file, path: data.json}\n"
        f"{extra}"
        f"operations:\n{ops}"
        f"pipeline:\n  steps:\n{steps}  output: {{type: file, path: out.json}}\n"
    )


def one_step(ops: str, names: str, extra: str = "") -> str:
    return pipeline(ops, f"    - {{name: s, input: docs, operations: [{names}]}}\n", extra)


def embeddings(server: FakeLLMServer) -> list[Any]:
    return [r for r in server.requests if r.path.endswith("embeddings")]


# -- code operations -----------------------------------------------------------------------------

CODE = """\
  - name: words
    type: code_map
    code: |
      def transform(doc) -> dict:
          return {"n_words": len(doc["text"].split())}
  - name: long_only
    type: code_filter
    code: |
      def transform(doc) -> bool:
          return doc["n_words"] >= 5
  - name: per_category
    type: code_reduce
    reduce_key: category
    code: |
      def transform(items) -> dict:
          return {"total": sum(i["n_words"] for i in items), "count": len(items)}
"""


def test_code_map_filter_reduce(tmp_path: Path, llm_settings: Settings) -> None:
    path = write_pipeline(tmp_path, one_step(CODE, "words, long_only, per_category"), ROWS)
    report = run_pipeline(path, llm_settings)
    out = {r["category"]: r for r in read_json(tmp_path / "out.json")}
    long_rows = [r for r in ROWS if len(r["text"].split()) >= 5]
    for cat in ("a", "b"):
        mine = [r for r in long_rows if r["category"] == cat]
        assert out[cat]["count"] == len(mine)
        assert out[cat]["total"] == sum(len(r["text"].split()) for r in mine)
    s = {o.name: o.stats for o in report.ops}
    assert s["long_only"].filtered == len(ROWS) - len(long_rows)
    assert s["words"].calls == 0


def test_code_refused_before_any_row(tmp_path: Path, llm_settings: Settings) -> None:
    ops = """\
  - name: evil
    type: code_map
    code: |
      import os
      def transform(doc):
          return {"x": os.listdir("/")}
"""
    path = write_pipeline(tmp_path, one_step(ops, "evil"), ROWS)
    with pytest.raises(SpecError, match=r"\(evil\)\.code: code refused"):
        run_pipeline(path, llm_settings)
    assert not (tmp_path / "out.json").exists()


def test_code_error_goes_to_the_error_report(tmp_path: Path, llm_settings: Settings) -> None:
    ops = """\
  - name: picky
    type: code_map
    limit: 4
    code: |
      def transform(doc):
          if doc["id"] == 1:
              raise ValueError("bad row")
          return {"ok": True}
"""
    path = write_pipeline(tmp_path, one_step(ops, "picky"), ROWS)
    report = run_pipeline(path, llm_settings)
    assert [r["id"] for r in read_json(tmp_path / "out.json")] == [0, 2, 3]
    errors = read_jsonl(tmp_path / "out.errors.jsonl")
    assert errors[0]["row"]["id"] == 1 and "bad row" in errors[0]["reason"]
    assert report.ops[0].stats.filtered == 2  # beyond limit: counted, not silently gone


# -- sample --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "expect"),
    [
        ("method: first\n    samples: 2", [0, 1]),
        ("method: custom\n    samples: [{id: 4}, {id: 1}]", [4, 1]),
        ("method: first\n    samples: 1\n    stratify_key: category", [0, 1]),
        (
            "method: top_fts\n    samples: 1\n    method_kwargs: {keys: [text], query: asthma airways}",
            [5],
        ),
    ],
)
def test_sample_methods(tmp_path: Path, llm_settings: Settings, op: str, expect: list[int]) -> None:
    ops = f"  - name: pick\n    type: sample\n    {op}\n"
    path = write_pipeline(tmp_path, one_step(ops, "pick"), ROWS)
    report = run_pipeline(path, llm_settings)
    assert [r["id"] for r in read_json(tmp_path / "out.json")] == expect
    assert report.ops[0].stats.filtered == len(ROWS) - len(expect)


def test_sample_uniform_is_seeded_and_embedding_methods_embed(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    ops = """\
  - name: uni
    type: sample
    method: uniform
    samples: 0.5
    random_state: 7
  - name: unused_defined_op
    type: sample
    method: first
    samples: 1
"""
    path = write_pipeline(tmp_path, one_step(ops, "uni"), ROWS)
    run_pipeline(path, llm_settings)
    first = read_json(tmp_path / "out.json")
    (tmp_path / ".checkpoints").rename(tmp_path / ".old")
    run_pipeline(path, llm_settings)
    assert read_json(tmp_path / "out.json") == first and len(first) == 3
    ops = """\
  - name: near
    type: sample
    method: top_embedding
    samples: 2
    method_kwargs: {keys: [text], query: "blood sugar"}
  - name: trim
    type: sample
    method: outliers
    method_kwargs: {embedding_keys: [text], samples: 0.5, keep: false}
"""
    path = write_pipeline(tmp_path, one_step(ops, "near, trim"), ROWS)
    report = run_pipeline(path, llm_settings, resume=False)
    assert 1 <= len(read_json(tmp_path / "out.json")) <= 2
    assert [o.stats.calls for o in report.ops] == [1, 1]  # one embedding request each
    assert embeddings(llm_server)  # (the second may be answered from the embedding cache)


# -- retrievers (LanceDB on disk) ----------------------------------------------------------------

RETRIEVER = """\
retrievers:
  kb:
    type: lancedb
    dataset: kb
    index_dir: lance_index
    index_types: {types}
    fts:
      index_phrase: "{{{{ input.fact }}}}"
      query_phrase: "{{{{ input.question }}}}"
    embedding:
      model: openai/fake-embed
      query_phrase: "{{{{ input.question }}}}"
    query:
      top_k: 1
"""
QUESTIONS = [{"question": "what lowers cholesterol"}, {"question": "which helps asthma"}]
KB = [{"fact": r["text"]} for r in ROWS]


def retriever_pipeline(tmp_path: Path, types: str, prompt: str, save: bool = False) -> Path:
    (tmp_path / "kb.json").write_text(json.dumps(KB))
    text = (
        "default_model: openai/fake-model\n"
        "datasets:\n  docs: {type: file, path: data.json}\n  kb: {type: file, path: kb.json}\n"
        + RETRIEVER.format(types=types)
        + "operations:\n  - name: answer\n    type: map\n    retriever: kb\n"
        + ("    save_retriever_output: true\n" if save else "")
        + f"    prompt: {json.dumps(prompt)}\n    output: {{schema: {{answer: string}}}}\n"
        + "pipeline:\n  steps:\n    - {name: s, input: docs, operations: [answer]}\n"
        + "  output: {type: file, path: out.json}\n"
    )
    return write_pipeline(tmp_path, text, QUESTIONS)


def test_retriever_fts_puts_the_match_in_the_prompt(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    path = retriever_pipeline(
        tmp_path, "[fts]", "Q: {{ input.question }}\nContext: {{ retrieval_context }}", save=True
    )
    run_pipeline(path, llm_settings)
    prompts = sorted(last_user(r.body) for r in chat_requests(llm_server))
    assert "- [1] statins lower cholesterol levels" in prompts[0]
    assert "- [1] inhalers open airways during asthma" in prompts[1]
    assert (tmp_path / "lance_index" / "kb.lance").is_dir()
    out = read_json(tmp_path / "out.json")
    assert out[0]["_answer_retrieved_context"] == "- [1] statins lower cholesterol levels"


def test_retriever_hybrid_prepends_context_when_not_referenced(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    path = retriever_pipeline(tmp_path, "[fts, embedding]", "Q: {{ input.question }}")
    run_pipeline(path, llm_settings)
    prompts = [last_user(r.body) for r in chat_requests(llm_server)]
    assert all(p.startswith("Here is some extra context:\n- [1] ") for p in prompts)
    # one embedding request to index the kb, one per question
    assert len(embeddings(llm_server)) == 1 + len(QUESTIONS)


def test_retriever_indexes_a_previous_step(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    text = """\
default_model: openai/fake-model
datasets:
  docs: {type: file, path: data.json}
retrievers:
  facts:
    type: lancedb
    dataset: extract_step
    index_dir: idx
    index_types: [embedding]
    embedding:
      model: openai/fake-embed
      index_phrase: "{{ input.text }} {{ input.kind }}"
      query_phrase: "{{ input.text }}"
operations:
  - name: extract
    type: map
    prompt: "Kind of {{ input.text }}?"
    output: {schema: {kind: string}}
  - name: related
    type: map
    retriever: facts
    prompt: "Related to {{ input.text }}: {{ retrieval_context }}"
    output: {schema: {note: string}}
pipeline:
  steps:
    - {name: extract_step, input: docs, operations: [extract]}
    - {name: relate_step, input: extract_step, operations: [related]}
  output: {type: file, path: out.json}
"""
    run_pipeline(write_pipeline(tmp_path, text, ROWS), llm_settings)
    assert len(read_json(tmp_path / "out.json")) == len(ROWS)
    related = [
        last_user(r.body) for r in chat_requests(llm_server) if "Related" in last_user(r.body)
    ]
    assert len(related) == len(ROWS) and all("- [1] " in p for p in related)


def test_retriever_errors_are_load_errors(tmp_path: Path) -> None:
    path = retriever_pipeline(tmp_path, "[fts]", "{{ input.question }}")
    path.write_text(path.read_text().replace("retriever: kb", "retriever: kbb"))
    with pytest.raises(SpecError, match="unknown retriever 'kbb'; did you mean 'kb'"):
        load_pipeline(path)
    path = retriever_pipeline(tmp_path, "[embedding]", "{{ input.question }}")
    path.write_text(
        path.read_text().replace("    query:\n      top_k: 1\n", "    query: {mode: fts}\n")
    )
    with pytest.raises(SpecError, match=r"query\.mode fts needs an fts index"):
        load_pipeline(path)


# -- LLM operation keys --------------------------------------------------------------------------


def test_observability_sample_input_and_limit(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    ops = """\
  - name: tag
    type: map
    enable_observability: true
    sample: 4
    input: [text]
    prompt: "Tag {{ input.text }}"
    output: {schema: {tag: string}}
  - name: keep
    type: filter
    limit: 2
    prompt: "Keep {{ input.text }}?"
    output: {schema: {keep: boolean}}
"""
    llm_server.handler = lambda body: (
        Reply(tool_args={"keep": True}) if "Keep" in last_user(body) else None
    )
    report = run_pipeline(write_pipeline(tmp_path, one_step(ops, "tag, keep"), ROWS), llm_settings)
    out = read_json(tmp_path / "out.json")
    assert len(out) == 2
    assert out[0]["_observability_tag"] == {"prompt": f"Tag {ROWS[0]['text']}"}
    s = {o.name: o.stats for o in report.ops}
    assert (s["tag"].rows_in, s["tag"].filtered, s["tag"].calls) == (6, 2, 4)
    assert (s["keep"].rows_in, s["keep"].filtered) == (4, 2)
    bad = one_step(ops.replace("input: [text]", "input: [text]\n    prompt_x: 1"), "tag")
    with pytest.raises(SpecError, match="unknown key 'prompt_x'"):
        load_pipeline(write_pipeline(tmp_path, bad))
    hidden = one_step(ops.replace("Tag {{ input.text }}", "Tag {{ input.category }}"), "tag")
    with pytest.raises(SpecError, match="category"):
        run_pipeline(write_pipeline(tmp_path, hidden), llm_settings)


def test_validate_output_holds_the_input_fields(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    ops = """\
  - name: tag
    type: map
    prompt: "Tag {{ input.text }}"
    output: {schema: {tag: string}}
    validate:
      - output["category"] in ["a", "b"] and len(output["tag"]) > 0
"""
    run_pipeline(write_pipeline(tmp_path, one_step(ops, "tag"), ROWS), llm_settings)
    assert len(read_json(tmp_path / "out.json")) == len(ROWS)


def test_output_n_gives_n_rows_per_input(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    ops = """\
  - name: variants
    type: map
    prompt: "Rewrite {{ input.text }}"
    output: {n: 3, schema: {variant: string}}
"""
    run_pipeline(write_pipeline(tmp_path, one_step(ops, "variants"), ROWS[:2]), llm_settings)
    assert len(read_json(tmp_path / "out.json")) == 6
    assert len(chat_requests(llm_server)) == 6


def test_fallback_models_answer_when_the_primary_fails(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    ops = """\
  - name: tag
    type: map
    prompt: "Tag {{ input.text }}"
    output: {schema: {tag: string}}
"""
    extra = "fallback_models:\n  - model_name: openai/fake-model\n    litellm_params: {}\n"
    text = one_step(ops, "tag", extra).replace(
        "default_model: openai/fake-model", "model: openai/down"
    )
    llm_server.handler = lambda body: (
        Reply(status=400, content="model down") if body["model"] == "down" else None
    )
    report = run_pipeline(write_pipeline(tmp_path, text, ROWS[:3]), llm_settings)
    assert len(read_json(tmp_path / "out.json")) == 3
    assert report.ops[0].stats.fallbacks == 3
    assert [r.body["model"] for r in chat_requests(llm_server)].count("fake-model") == 3


def test_parallel_map_merges_each_prompt(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    ops = """\
  - name: both
    type: parallel_map
    prompts:
      - name: drug
        prompt: "Drug in {{ input.text }}"
        output_keys: [drug]
      - name: illness
        prompt: "Illness in {{ input.text }}"
        output_keys: [illness]
    output:
      schema: {drug: string, illness: string}
    drop_keys: [text]
"""
    run_pipeline(write_pipeline(tmp_path, one_step(ops, "both"), ROWS), llm_settings)
    out = read_json(tmp_path / "out.json")
    assert len(out) == len(ROWS) and all("drug" in r and "illness" in r for r in out)
    reqs = chat_requests(llm_server)
    assert len(reqs) == 2 * len(ROWS)
    # as DocETL: the prompts read `text`, the finished rows no longer carry it
    assert sum(str(ROWS[0]["text"]) in last_user(r.body) for r in reqs) == 2
    assert all("text" not in r for r in out)


# -- rank / topk ---------------------------------------------------------------------------------


def test_rank_likert_then_windows_with_docetl_call_counts(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    ops = """\
  - name: by_severity
    type: rank
    prompt: How severe is the condition treated?
    input_keys: [text]
    direction: desc
    batch_size: 4
    call_budget: 3
    num_top_items_per_window: 2
"""

    def handler(body: dict[str, Any]) -> Reply | None:
        text = last_user(body)
        if "Likert" in text:
            n = text.count("Document ")
            # rate by id parity so the expected order is known
            docs = [d for d in text.split("Document ")[1:]]
            return Reply(tool_args={"ratings": [7 if "insulin" in d else 2 for d in docs][:n]})
        return Reply(tool_args={"top_documents": [1]})

    llm_server.handler = handler
    report = run_pipeline(
        write_pipeline(tmp_path, one_step(ops, "by_severity"), ROWS), llm_settings
    )
    out = read_json(tmp_path / "out.json")
    assert [r["_rank"] for r in out] == list(range(1, 7))
    assert out[0]["id"] == 1  # rated 7: first after the initial order and every window
    # likert: ceil(6 / 4) = 2 calls; windows: step int(6 / 2) = 3, size 6 -> 1 window
    assert report.ops[0].stats.calls == 3


def test_topk_fts_embedding_and_llm_compare(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    ops = """\
  - name: kw
    type: topk
    method: fts
    k: 2
    keys: [text]
    query: "asthma airways"
  - name: sem
    type: topk
    method: embedding
    k: 0.5
    keys: [text]
    query: "{{ input.text }}"
"""
    report = run_pipeline(write_pipeline(tmp_path, one_step(ops, "kw, sem"), ROWS), llm_settings)
    out = read_json(tmp_path / "out.json")
    assert len(out) == 1 and out[0]["_rank"] == 1
    s = {o.name: o.stats for o in report.ops}
    assert (s["kw"].calls, s["kw"].filtered, s["sem"].calls) == (0, 4, 1)
    ops = """\
  - name: judge
    type: topk
    method: llm_compare
    k: 2
    keys: [text]
    query: most chronic condition
"""
    llm_server.handler = lambda body: Reply(tool_args={"top_documents": [2, 1]})
    run_pipeline(write_pipeline(tmp_path, one_step(ops, "judge"), ROWS), llm_settings, resume=False)
    assert [r["_rank"] for r in read_json(tmp_path / "out.json")] == [1, 2]


def test_gather_count_fraction_and_top_level_model(tmp_path: Path, llm_settings: Settings) -> None:
    ops = """\
  - name: chunks
    type: split
    split_key: text
    method: delimiter
    method_kwargs: {delimiter: " "}
  - name: ctx
    type: gather
    content_key: text_chunk
    doc_id_key: chunks_id
    order_key: chunks_chunk_num
    peripheral_chunks:
      previous: {tail: {count: 1.5}}
"""
    text = one_step(ops, "chunks, ctx").replace(
        "default_model: openai/fake-model", "model: openai/fake-model"
    )
    run_pipeline(write_pipeline(tmp_path, text, ROWS[:1]), llm_settings)
    out = read_json(tmp_path / "out.json")
    assert (
        "aspirin" in out[1]["text_chunk_rendered"]
        and "headache" not in out[2]["text_chunk_rendered"].split("--- Begin Main")[0]
    )
