"""Streamed rows start as the LLM client runs short of work (llmassert/pipeline/admission.py):
what the client holds stays near twice its bound whatever the input's size, a backlog that is
not the stage's own never stalls it, and the first error cancels the rest."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pipeline_kit import last_user, read_json, write_pipeline

from llmassert.config import Settings
from llmassert.llm.managed_client import build_client
from llmassert.pipeline.admission import Admission
from llmassert.pipeline.runner import Runner, RunOptions
from llmassert.pipeline.spec import load_pipeline
from llmassert.testing.fake_server import FakeLLMServer, Reply

PIPE = """\
default_model: openai/fake-model
default_lm_api_base: API_BASE
bypass_cache: true
datasets:
  docs: {type: file, path: data.json}
operations:
  - name: split_text
    type: split
    split_key: text
    method: delimiter
    method_kwargs: {delimiter: "|"}
  - name: facts
    type: map
    prompt: "Fact {{ input.doc }} {{ input.split_text_chunk_num }}"
    output: {schema: {fact: string}}
pipeline:
  steps:
    - {name: chunks, input: docs, operations: [split_text, facts]}
  output: {type: file, path: out.json}
"""
DOCS, CHUNKS, BOUND = 60, 3, 4


def test_what_the_client_holds_stays_near_twice_its_bound(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    settings = llm_settings.replace(max_concurrency=BOUND)
    client = build_client(settings)
    held: list[int] = []

    def answer(body: dict[str, Any]) -> Reply:
        # The server runs in this process: what the run's client holds when a request lands.
        held.append(client.backlog()[0])  # type: ignore[index]
        _, doc, num = last_user(body).split()
        return Reply(tool_args={"fact": f"f{doc}.{num}"}, delay_s=0.02)

    llm_server.handler = answer
    docs = [{"doc": i, "text": "|".join(f"c{c}" for c in range(CHUNKS))} for i in range(DOCS)]
    path = write_pipeline(tmp_path, PIPE.replace("API_BASE", llm_server.base_url), docs)
    Runner(load_pipeline(path), settings, RunOptions(resume=False), client=client).run()
    out = read_json(tmp_path / "out.json")
    assert [(r["doc"], r["split_text_chunk_num"]) for r in out] == [
        (d, c) for d in range(DOCS) for c in range(1, CHUNKS + 1)
    ]
    # A fixed window (64 rows) would have queued all 180 calls at once; admission keeps the
    # backlog at 2 × bound plus one burst of rows started before their calls were counted.
    assert len(held) == DOCS * CHUNKS
    assert max(held) <= 2 * BOUND + 2 * CHUNKS
    assert max(held) >= BOUND  # and it did keep the bound busy


class _Busy:
    """A client whose backlog is full of someone else's work."""

    def backlog(self) -> tuple[int, int]:
        return 100, 4


def test_a_backlog_that_is_not_the_stages_own_does_not_stall_it() -> None:
    done: list[int] = []

    async def start(i: int) -> None:
        await asyncio.sleep(0)
        done.append(i)

    admission = Admission(_Busy(), width=8, ahead=16)  # type: ignore[arg-type]
    asyncio.run(asyncio.wait_for(admission.run(5, start, lambda: len(done)), 5))
    assert sorted(done) == [0, 1, 2, 3, 4]


def test_the_first_error_cancels_the_rest_and_is_raised() -> None:
    cancelled: list[int] = []

    async def start(i: int) -> None:
        if i == 2:
            raise ValueError("row 2")
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(i)
            raise

    admission = Admission(None, width=8, ahead=16)
    with pytest.raises(ValueError, match="row 2"):
        asyncio.run(asyncio.wait_for(admission.run(6, start, lambda: 0), 5))
    assert cancelled and 2 not in cancelled
