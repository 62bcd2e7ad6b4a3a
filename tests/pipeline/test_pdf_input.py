"""map's ``pdf_url_key``: a PDF (local path or http URL) sent as a file part or as its text.

Real PDFs written by the test, a real HTTP server for the downloads, the loopback LLM server.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from pipeline_kit import chat_requests, read_json, run_pipeline, write_pipeline

from llmassert.config import Settings
from llmassert.errors import SpecError
from llmassert.llm import recording
from llmassert.pipeline.spec import load_pipeline
from llmassert.testing.documents import make_pdf, serve_folder
from llmassert.testing.fake_server import FakeLLMServer

PIPELINE = """\
default_model: openai/fake-model
datasets:
  papers: {type: file, path: data.json}
operations:
  - name: summarize
    type: map
    model: MODEL
    pdf_url_key: url
    enable_observability: true
    prompt: "Summarize paper {{ input.id }}."
    output: {schema: {summary: string}}
pipeline:
  steps:
    - {name: s, input: papers, operations: [summarize]}
  output: {type: file, path: out.json}
"""


def user_content(body: dict[str, Any]) -> Any:
    return next(m for m in body["messages"] if m["role"] == "user")["content"]


def lineage(tmp_path: Path) -> list[dict[str, Any]]:
    lines = (tmp_path / "out.lineage.jsonl").read_text().splitlines()
    return [json.loads(line)["operations"]["summarize"] for line in lines]


@pytest.fixture
def papers(tmp_path: Path) -> dict[str, bytes]:
    files = {
        "local.pdf": make_pdf(["Local paper: tidal energy storage", "Second page results"]),
        "remote.pdf": make_pdf(["Remote paper: soil carbon sampling"]),
    }
    (tmp_path / "pdfs").mkdir()
    (tmp_path / "served").mkdir()
    (tmp_path / "pdfs" / "local.pdf").write_bytes(files["local.pdf"])
    (tmp_path / "served" / "remote.pdf").write_bytes(files["remote.pdf"])
    (tmp_path / "served" / "notes.txt").write_text("not a pdf")
    return files


def rows(base_url: str) -> list[dict[str, Any]]:
    return [
        {"id": 1, "url": "pdfs/local.pdf"},  # relative to the YAML's folder
        {"id": 2, "url": f"{base_url}/remote.pdf"},
        {"id": 3, "url": f"{base_url}/missing.pdf"},  # HTTP 404
        {"id": 4, "url": f"{base_url}/notes.txt"},  # not a PDF
    ]


def test_a_model_without_pdf_input_gets_the_extracted_text(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings, papers: dict[str, bytes]
) -> None:
    with serve_folder(tmp_path / "served") as base:
        path = write_pipeline(tmp_path, PIPELINE.replace("MODEL", "openai/fake-model"), rows(base))
        report = run_pipeline(path, llm_settings)
    out = read_json(tmp_path / "out.json")
    assert [r["id"] for r in out] == [1, 2]
    sent = {
        user_content(r.body).split("Summarize paper ")[1]: r.body for r in chat_requests(llm_server)
    }
    assert set(sent) == {"1.", "2."}
    first = user_content(sent["1."])
    assert isinstance(first, str)  # text mode: no file part
    assert first.startswith("--- PDF local.pdf (2 pages, text extracted) ---\n")
    assert "tidal energy storage" in first and "Second page results" in first
    assert first.index("--- End of PDF local.pdf ---") < first.index("Summarize paper 1.")
    assert "soil carbon sampling" in user_content(sent["2."])
    # Which input each row used: the lineage file and the observability record.
    assert lineage(tmp_path)[0]["pdf"] == "text" and lineage(tmp_path)[0]["pdf_pages"] == 2
    assert out[0]["_observability_summarize"]["pdf_input"] == "text"
    assert "tidal energy" in out[0]["_observability_summarize"]["prompt"]
    # The two bad PDFs are in the errors file with their reasons; nothing was lost.
    errors = [json.loads(x) for x in (tmp_path / "out.errors.jsonl").read_text().splitlines()]
    reasons = {e["row"]["id"]: e["reason"] for e in errors}
    assert set(reasons) == {3, 4}
    assert "HTTP 404" in reasons[3]
    assert "not a PDF" in reasons[4]
    assert report.errored == 2


def test_a_model_that_reads_pdfs_gets_the_file(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings, papers: dict[str, bytes]
) -> None:
    # litellm's model table lists gpt-4o-mini with supports_pdf_input; the server is ours.
    with serve_folder(tmp_path / "served") as base:
        path = write_pipeline(
            tmp_path, PIPELINE.replace("MODEL", "openai/gpt-4o-mini"), rows(base)[:2]
        )
        run_pipeline(path, llm_settings)
    assert len(read_json(tmp_path / "out.json")) == 2
    parts_by_name = {}
    for req in chat_requests(llm_server):
        assert req.body["model"] == "gpt-4o-mini"
        content = user_content(req.body)
        assert [p["type"] for p in content] == ["file", "text"]
        assert content[1]["text"].startswith("Summarize paper ")
        parts_by_name[content[0]["file"]["filename"]] = content[0]["file"]["file_data"]
    prefix = "data:application/pdf;base64,"
    for name, data in papers.items():
        assert parts_by_name[name].startswith(prefix)
        assert base64.b64decode(parts_by_name[name][len(prefix) :]) == data
    assert [line["pdf"] for line in lineage(tmp_path)] == ["file", "file"]


def test_downloads_are_recorded_so_a_replay_needs_no_server(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings, papers: dict[str, bytes]
) -> None:
    cassettes = tmp_path / "cassettes"
    recorded = llm_settings.replace(mode="record", cassette_dir=cassettes)
    with serve_folder(tmp_path / "served") as base:
        path = write_pipeline(
            tmp_path, PIPELINE.replace("MODEL", "openai/fake-model"), rows(base)[:2]
        )
        with recording.cassette(recorded, "pdfs"):
            run_pipeline(path, recorded, checkpoint_dir=tmp_path / "ck1")
    expected = (tmp_path / "out.json").read_text()
    (tmp_path / "out.json").unlink()
    sent = len(llm_server.requests)
    replayed = llm_settings.replace(mode="replay", cassette_dir=cassettes, cache_dir=None)
    with recording.cassette(replayed, "pdfs"):  # the PDF server is gone
        run_pipeline(path, replayed, checkpoint_dir=tmp_path / "ck2")
    assert (tmp_path / "out.json").read_text() == expected
    assert len(llm_server.requests) == sent


def test_pdf_url_key_errors_before_any_call(tmp_path: Path) -> None:
    text = PIPELINE.replace("MODEL", "openai/fake-model")
    path = write_pipeline(tmp_path, text.replace("pdf_url_key: url", "pdf_url_key: link"), [])
    (tmp_path / "data.json").write_text(json.dumps([{"id": 1, "url": "a.pdf"}]))
    from llmassert.pipeline.runner import Runner, RunOptions

    runner = Runner(load_pipeline(path), Settings(model="openai/fake-model"), RunOptions())
    with pytest.raises(SpecError, match=r"pdf_url_key: 'link' is not a key of the rows"):
        runner.prepare()
    batched = text.replace(
        "    pdf_url_key: url\n",
        "    pdf_url_key: url\n    max_batch_size: 2\n    batch_prompt: 'x{{ inputs }}'\n",
    )
    path.write_text(batched)
    with pytest.raises(SpecError, match="pdf_url_key cannot be used with batch_prompt"):
        load_pipeline(path)
