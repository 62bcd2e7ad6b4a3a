"""A retriever's index is part of the fingerprint of the operations that search it.

A run that stops keeps its finished rows for the rerun; a row answered with one index's
context must not be reused when the rerun searches another one.  The first run here stops on
the second question (a late 400 without ``skip_on_error``: both are asked at once, and the
first is answered and journaled before the second fails); the rerun asks again exactly for the rows whose context
may have changed.  Real LanceDB index on disk, real loopback HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pipeline_kit import chat_requests, last_user, read_json, run_pipeline, write_pipeline

from llmassert.config import Settings
from llmassert.errors import OperationError
from llmassert.testing.fake_server import FakeLLMServer, Reply

QUESTIONS = [{"question": "what lowers cholesterol"}, {"question": "which helps asthma"}]
FACTS = ["statins lower cholesterol levels", "inhalers open airways during asthma"]

PIPELINE = """\
default_model: openai/fake-model
bypass_cache: true
datasets:
  docs: {{type: file, path: data.json}}
  kb: {{type: file, path: kb.json}}
retrievers:
  kb:
    type: lancedb
    dataset: kb
    index_dir: lance_index
    index_types: [fts]
    build_index: {build_index}
    fts:
      index_phrase: "{{{{ input.fact }}}}"
      query_phrase: "{{{{ input.question }}}}"
    query:
      top_k: {top_k}
operations:
  - name: answer
    type: map
    retriever: kb
    prompt: "Q: {{{{ input.question }}}}\\nContext: {{{{ retrieval_context }}}}"
    output: {{schema: {{answer: string}}}}
pipeline:
  steps:
    - {{name: s, input: docs, operations: [answer]}}
  output: {{type: file, path: out.json}}
"""


def write(
    tmp_path: Path, facts: list[str], build_index: str = "if_missing", top_k: int = 1
) -> Path:
    (tmp_path / "kb.json").write_text(json.dumps([{"fact": f} for f in facts]))
    text = PIPELINE.format(build_index=build_index, top_k=top_k)
    return write_pipeline(tmp_path, text, QUESTIONS)


def handler(fail_asthma: bool) -> Callable[[dict[str, Any]], Reply]:
    def answer(body: dict[str, Any]) -> Reply:
        prompt = last_user(body)
        if fail_asthma and "asthma" in prompt.split("\n")[0]:
            # late: the stop cancels the units in flight, so the cholesterol question (asked
            # at the same time) is answered and journaled first
            body = b'{"error": {"message": "bad request"}}'
            return Reply(status=400, raw_body=body, delay_s=1.0)
        return Reply(content=json.dumps({"answer": prompt.split("Context: ")[-1]}))

    return answer


def stopped_run(server: FakeLLMServer, settings: Settings, path: Path) -> None:
    """Run until the asthma question fails; the cholesterol one is finished and journaled."""
    server.handler = handler(fail_asthma=True)
    with pytest.raises(OperationError, match="LLM call failed"):
        run_pipeline(path, settings)
    asked = [last_user(r.body) for r in chat_requests(server) if r.status == 200]
    assert [p.split("\n")[0] for p in asked] == ["Q: what lowers cholesterol"]
    server.reset()
    server.handler = handler(fail_asthma=False)


def rerun_questions(server: FakeLLMServer, settings: Settings, path: Path) -> list[str]:
    report = run_pipeline(path, settings)
    assert report.resumed
    return sorted(last_user(r.body).split("\n")[0] for r in chat_requests(server))


def test_an_unchanged_index_resumes_the_finished_rows(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    path = write(tmp_path, FACTS)
    stopped_run(llm_server, llm_settings, path)
    # the rerun reuses the index (build_index: if_missing) that the stopped run built
    assert rerun_questions(llm_server, llm_settings, path) == ["Q: which helps asthma"]
    answers = [r["answer"] for r in read_json(tmp_path / "out.json")]
    assert answers == [f"- [1] {FACTS[0]}", f"- [1] {FACTS[1]}"]


def test_an_edited_retriever_spec_asks_again(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    stopped_run(llm_server, llm_settings, write(tmp_path, FACTS))
    path = write(tmp_path, FACTS, top_k=2)
    assert rerun_questions(llm_server, llm_settings, path) == [
        "Q: what lowers cholesterol",
        "Q: which helps asthma",
    ]
    assert len(read_json(tmp_path / "out.json")) == len(QUESTIONS)


def test_an_index_rebuilt_from_changed_data_asks_again(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    stopped_run(llm_server, llm_settings, write(tmp_path, FACTS, "always"))
    path = write(tmp_path, ["statins and diet lower cholesterol", FACTS[1]], "always")
    assert rerun_questions(llm_server, llm_settings, path) == [
        "Q: what lowers cholesterol",
        "Q: which helps asthma",
    ]
    first = read_json(tmp_path / "out.json")[0]["answer"]
    assert first == "- [1] statins and diet lower cholesterol"


def test_an_index_rebuilt_from_the_same_data_resumes(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    path = write(tmp_path, FACTS, "always")
    stopped_run(llm_server, llm_settings, path)
    assert rerun_questions(llm_server, llm_settings, path) == ["Q: which helps asthma"]


def test_an_index_whose_files_changed_since_its_build_asks_again(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    """Without the build's record of its files, a reused index is named by its files."""
    path = write(tmp_path, FACTS)
    stopped_run(llm_server, llm_settings, path)
    (tmp_path / "lance_index" / "kb.llmassert.json").unlink()
    assert rerun_questions(llm_server, llm_settings, path) == [
        "Q: what lowers cholesterol",
        "Q: which helps asthma",
    ]
