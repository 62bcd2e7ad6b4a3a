"""Checkpoints: SIGKILL mid-run, then resume → identical output, finished calls never repeated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pipeline_kit import chat_requests, last_user, read_json, run_pipeline, write_pipeline

from llmassert.config import Settings
from llmassert.errors import OperationError
from llmassert.pipeline.checkpoint import STATE_VERSION, CheckpointStore, Journal, OpState
from llmassert.pipeline.types import OpStats
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


def tag_fails_late(fail: int) -> Callable[[dict[str, Any]], Reply]:
    """``answer``, but row ``fail`` gets a late 400: the others are journaled before the run
    stops on it."""

    def handler(body: dict[str, Any]) -> Reply:
        if last_user(body) == f"Tag {fail}":
            return Reply(status=400, raw_body=b'{"error": {"message": "no"}}', delay_s=1.0)
        return answer(body)

    return handler


def test_damaged_journal_entries_are_counted_and_their_rows_run_again(
    llm_server: FakeLLMServer, llm_settings: Settings, tmp_path: Path
) -> None:
    settings = llm_settings.replace(max_retries=0)
    llm_server.handler = answer
    reference = run_pipeline(setup(tmp_path / "ref", llm_server), settings)
    assert reference.totals.damaged == 0
    path = setup(tmp_path / "run", llm_server)
    llm_server.handler = tag_fails_late(N - 1)
    with pytest.raises(OperationError):
        run_pipeline(path, settings)  # interrupted: every other row tagged and journaled
    journal = path.parent / ".checkpoints" / "rows" / "tag.journal.jsonl"
    lines = journal.read_bytes().split(b"\n")
    journaled = len([line for line in lines[1:] if line])
    assert journaled >= 3  # every other row, unless the machine is very slow
    forged = json.loads(lines[1])  # a forged answer: its digest no longer matches
    forged["v"]["rows"][0]["+"]["tag"] = "forged"
    lines[1] = json.dumps(forged).encode()
    lines[3] = lines[3][: len(lines[3]) // 2] + b"#"  # a garbled line
    journal.write_bytes(b"\n".join(lines))

    llm_server.reset()
    llm_server.handler = answer
    report = run_pipeline(path, settings)
    assert report.resumed
    tag = report.ops[0].stats
    assert (report.ops[0].name, tag.damaged, report.totals.damaged) == ("tag", 2, 2)
    assert tag.resumed == journaled - 2  # the intact entries
    asked = [last_user(r.body) for r in chat_requests(llm_server)]
    assert len([a for a in asked if a.startswith("Tag")]) == tag.calls == N - journaled + 2
    assert read_json(path.parent / "out.json") == read_json(tmp_path / "ref" / "out.json")
    # The state file keeps the count (a later resume reuses the operation as it was).
    state = read_json(path.parent / ".checkpoints" / "rows" / "tag.state.json")
    assert state["state"] == STATE_VERSION and state["stats"]["damaged"] == 2
    assert OpStats.from_json(state["stats"]) == tag


def test_a_state_file_of_another_version_is_not_reused(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, resume=False)
    store.begin(["step"])
    stats = OpStats(rows_in=1, rows_out=1, calls=1)
    stats.usage.add(10, 2, 0.5, 1)
    store.save("step", "op", OpState("fp", [{"a": 1}], [{}], stats=stats))
    store.close()  # killed: status stays "running"
    resumed = CheckpointStore(tmp_path, resume=True)
    saved = resumed.load("step", "op", "fp")
    assert saved is not None and saved.stats == stats and saved.stats.usage.cost == 0.5
    state_file = tmp_path / "step" / "op.state.json"
    old = json.loads(state_file.read_text())
    del old["state"]  # as version 1 wrote it (usage keys flat in "stats")
    old["stats"] = {**old["stats"].pop("usage"), **old["stats"]}
    state_file.write_text(json.dumps(old))
    assert resumed.load("step", "op", "fp") is None  # runs again (from its journal)


def test_workers_reading_the_same_shards_count_each_damaged_entry_once(tmp_path: Path) -> None:
    """Every Ray worker reads every shard; a damaged entry is counted by the worker whose unit
    asks for it, so the workers' counts add up to the number of damaged entries."""
    store = CheckpointStore(tmp_path, resume=False)
    store.begin(["step"])
    for shard, keys in (("w1", "abc"), ("w2", "def")):
        j = store.journal("step", "op", "fp", shard=shard)
        for k in keys:
            j.put(k, {"rows": [k]})
    store.close()  # killed
    for shard in ("w1", "w2"):
        path = tmp_path / "step" / f"op.journal.{shard}.jsonl"
        lines = path.read_bytes().split(b"\n")
        entry = json.loads(lines[2])
        entry["v"] = {"rows": ["forged"]}
        lines[2] = json.dumps(entry).encode()  # b (w1), e (w2): digest no longer matches
        path.write_bytes(b"\n".join(lines))
    resumed = CheckpointStore(tmp_path, resume=True)
    workers = [resumed.journal("step", "op", "fp", shard=s) for s in ("w3", "w4")]
    # w3 runs units a, b, c; w4 runs d, e, f (each reads both old shards)
    got = [[w.get(k) for k in keys] for w, keys in zip(workers, ("abc", "def"), strict=True)]
    assert got == [
        [{"rows": ["a"]}, None, {"rows": ["c"]}],
        [{"rows": ["d"]}, None, {"rows": ["f"]}],
    ]
    assert [w.take_rejected() for w in workers] == [1, 1]
    assert [w.take_rejected() for w in workers] == [0, 0]  # each is taken once
    alone = CheckpointStore(tmp_path, resume=True).journal("step", "op", "fp")
    assert alone.take_rejected() == 2  # a lone reader counts damaged lines as it loads
    resumed.close()
