"""Checkpoints: SIGKILL mid-run, then resume → identical output, finished calls never repeated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pipeline_kit import chat_requests, last_user, read_json, write_pipeline

from llmassert.pipeline.checkpoint import CheckpointStore, Journal
from llmassert.testing.fake_server import FakeLLMServer, Reply

PIPE = """\
default_model: openai/fake-model
default_lm_api_base: API_BASE
bypass_cache: true
datasets:
  docs: {type: file, path: data.json}
operations:
  - name: tag
    type: map
    prompt: "Tag {{ input.id }}"
    output: {schema: {tag: string}}
  - name: rate
    type: map
    prompt: "Rate {{ input.id }} {{ input.tag }}"
    output: {schema: {score: int}}
  - name: total
    type: reduce
    reduce_key: tag
    fold_batch_size: 4
    prompt: "Sum{% for i in inputs %} {{ i.score }}{% endfor %}"
    fold_prompt: "Add {{ output.sum }}{% for i in inputs %} {{ i.score }}{% endfor %}"
    output: {schema: {sum: int}}
pipeline:
  steps:
    - {name: rows, input: docs, operations: [tag, rate]}
    - {name: sums, input: rows, operations: [total]}
  output: {type: file, path: out.json}
"""
N = 60


def answer(body: dict[str, Any]) -> Reply:
    words = last_user(body).split()
    if words[0] == "Tag":
        return Reply(tool_args={"tag": f"t{int(words[1]) % 2}"})
    if words[0] == "Rate":
        return Reply(tool_args={"score": int(words[1]) * 10})
    return Reply(tool_args={"sum": sum(int(w) for w in words[1:])})


def cli(path: Path, server: FakeLLMServer, cwd: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OPENAI_API_KEY": "sk-test", "LLMASSERT_CACHE_DIR": str(cwd / "cache")}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llmassert.cli",
            "run",
            str(path),
            "--max-concurrency",
            "4",
            "--quiet",
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def setup(tmp: Path, server: FakeLLMServer) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    return write_pipeline(
        tmp, PIPE.replace("API_BASE", server.base_url), [{"id": i} for i in range(N)]
    )


def test_sigkill_then_resume_gives_identical_output_without_repeating_calls(tmp_path: Path) -> None:
    server = FakeLLMServer(latency_s=0.02).start()
    server.handler = answer
    try:
        # reference: one uninterrupted run
        ref = setup(tmp_path / "ref", server)
        proc = cli(ref, server, ref.parent)
        assert proc.wait(60) == 0, proc.stderr.read() if proc.stderr else ""
        reference = read_json(ref.parent / "out.json")
        total_calls = len(chat_requests(server))

        server.reset()
        server.handler = answer
        path = setup(tmp_path / "run", server)
        proc = cli(path, server, path.parent)
        while server.stats.requests < total_calls // 2:
            time.sleep(0.005)
            assert proc.poll() is None, "finished before it could be killed"
        killed_at = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        time.sleep(0.1)  # let requests that were in flight finish server-side
        first = {json.dumps(r.body["messages"]): r for r in chat_requests(server)}
        assert not (path.parent / "out.json").exists()  # nothing half-written

        server.reset()
        server.handler = answer
        proc = cli(path, server, path.parent)
        assert proc.wait(60) == 0, proc.stderr.read() if proc.stderr else ""
        assert read_json(path.parent / "out.json") == reference
        second = [json.dumps(r.body["messages"]) for r in chat_requests(server)]
        repeated = [first[b] for b in second if b in first]
        # Only requests still in flight at the kill may be asked again; every call that had
        # come back was journaled and is reused (the cache is bypassed: the journal did it).
        assert all(r.finished >= killed_at - 0.01 for r in repeated), repeated
        assert len(repeated) <= 4
        assert len(first) + len(second) - len(repeated) == total_calls
    finally:
        server.stop()


def test_journal_survives_a_torn_last_line_and_rejects_other_fingerprints(tmp_path: Path) -> None:
    path = tmp_path / "op.journal.jsonl"
    j = Journal(path, "fp1", resume=False)
    j.put("a", {"rows": [1]})
    j.put("b", {"rows": [2]})
    j.close()
    with path.open("ab") as f:
        f.write(b'{"k": "c", "v": {"ro')  # killed mid-write
    j = Journal(path, "fp1", resume=True)
    assert j.entries == {"a": {"rows": [1]}, "b": {"rows": [2]}}
    j.put("c", 3)
    j.close()
    assert Journal(path, "fp1", resume=True).get("c") == 3
    assert len(Journal(path, "fp2", resume=True)) == 0  # the operation changed


def test_shards_written_by_several_workers_are_all_read(tmp_path: Path) -> None:
    (tmp_path / "keep_me").mkdir()
    store = CheckpointStore(tmp_path, resume=False)
    store.begin(["step"])
    for shard in ("w1", "w2"):
        store.journal("step", "op", "fp", shard=shard).put(f"k-{shard}", shard)
    store.close()  # killed: status stays "running"
    store = CheckpointStore(tmp_path, resume=True)
    assert store.resuming
    merged = store.journal("step", "op", "fp")
    assert merged.entries == {"k-w1": "w1", "k-w2": "w2"}
    store.complete()
    assert not CheckpointStore(tmp_path, resume=True).resuming  # a finished run starts fresh
    CheckpointStore(tmp_path, resume=False).begin(["step"])
    assert (tmp_path / "keep_me").is_dir()  # only this pipeline's step folders are cleared
    assert [p.name for p in (tmp_path / "step").iterdir()] == [".llmassert-step"]
