"""``--executor ray`` against the loopback server: same output as local, shared rate limit, resume.

All Ray tests share one local Ray (``ray.init(num_cpus=2)``, module-scoped); they are skipped with
the reason when Ray is not installed.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pipeline_kit import chat_requests, read_json, write_pipeline

from llmassert.config import Settings
from llmassert.errors import BudgetExceededError, ConfigError
from llmassert.pipeline.executor import Executor, get_executor
from llmassert.pipeline.executor_ray import import_ray, partition, shard_groups
from llmassert.pipeline.ray_ratelimit import BucketSpec, max_window_excess
from llmassert.pipeline.runner import Runner, RunOptions, RunReport
from llmassert.pipeline.spec import load_pipeline
from llmassert.testing.fake_server import FakeLLMServer

DOCS = """\
default_model: openai/fake-model
datasets:
  reports: {type: file, path: data.json}
operations:
  - name: chunks
    type: split
    split_key: text
    method: delimiter
    method_kwargs: {delimiter: "\\n\\n"}
  - name: context
    type: gather
    content_key: text_chunk
    doc_id_key: chunks_id
    order_key: chunks_chunk_num
    peripheral_chunks: {previous: {tail: {count: 1}}, next: {head: {count: 1}}}
  - name: facts
    type: map
    prompt: "Facts of {{ input.title }}: {{ input.text_chunk_rendered }}"
    output: {schema: {summary: string, topics: "list[string]", risk: "enum[low, high]"}}
    validate: ["len(output['summary']) % 5 != 0"]
  - name: risky
    type: filter
    prompt: "Risky? {{ input.summary }}"
    output: {schema: {keep: boolean}}
  - name: topics
    type: unnest
    unnest_key: topics
  - name: per_report
    type: reduce
    reduce_key: title
    fold_batch_size: 2
    prompt: "Sum up{% for i in inputs %} {{ i.summary }}{% endfor %}"
    fold_prompt: "Fold {{ output.digest }} with{% for i in inputs %} {{ i.topics }}{% endfor %}"
    output: {schema: {digest: string}}
pipeline:
  steps:
    - {name: read, input: reports, operations: [chunks, context, facts, risky, topics]}
    - {name: digest, input: read, operations: [per_report]}
  output: {type: file, path: out.json}
"""

ENTITIES = """\
default_model: openai/fake-model
default_embedding_model: openai/fake-embed
datasets:
  tickets: {type: file, path: data.json}
  owners: {type: file, path: owners.json}
operations:
  - name: product
    type: map
    prompt: "Product of {{ input.text }}"
    max_batch_size: 4
    batch_prompt: "Products of:{% for i in inputs %} [{{ i.text }}]{% endfor %}"
    output: {schema: {name: string}}
  - name: same
    type: resolve
    blocking_keys: [text]
    blocking_threshold: 0.6
    comparison_prompt: "Same? {{ input1.text }} / {{ input2.text }}"
    resolution_prompt: "Name{% for i in inputs %} {{ i.name }}{% endfor %}"
    output: {schema: {name: string}}
  - name: owner
    type: equijoin
    comparison_prompt: "Owner? {{ left.name }} / {{ right.team }}"
pipeline:
  steps:
    - {name: resolved, input: tickets, operations: [product, same]}
    - name: joined
      operations:
        - owner: {left: resolved, right: owners}
  output: {type: file, path: out.json}
"""

# The operators added for DocETL parity, in one pipeline: add_uuid, map calibrate, filter
# cascade, filter limit, extract, link_resolve, cluster, rank calibrated_embedding, reduce with
# value_sampling and a LanceDB retriever.
NEW_OPS = """\
default_model: openai/fake-model
default_embedding_model: openai/fake-embed
datasets:
  terms: {type: file, path: data.json}
  kb: {type: file, path: kb.json}
retrievers:
  kb:
    type: lancedb
    dataset: kb
    index_dir: idx
    index_types: [fts]
    fts:
      index_phrase: "{{ input.fact }}"
      query_phrase: "{{ reduce_key.group }} {{ inputs[0].title }}"
    query: {top_k: 1}
operations:
  - name: tag
    type: add_uuid
  - name: label
    type: map
    calibrate: true
    num_calibration_docs: 3
    prompt: "Label {{ input.title }}: {{ input.description }}"
    output: {schema: {label: string}}
  - name: relevant
    type: filter
    prompt: "Relevant? {{ input.title }}"
    output: {schema: {keep: boolean}}
    cascade: {proxy_model: openai/proxy-model, target: 0.8, label_budget: 4}
  - name: first_kept
    type: filter
    limit: 6
    prompt: "Keep {{ input.title }}?"
    output: {schema: {keep: boolean}}
  - name: findings
    type: extract
    prompt: "Extract the key words of {{ input.title }}."
    document_keys: [description]
  - name: links
    type: link_resolve
    id_key: title
    link_key: related_to
    blocking_threshold: 0.5
    comparison_prompt: "Same? [{{ link_value }}] [{{ id_value }}]"
  - name: themes
    type: cluster
    max_batch_size: 4
    embedding_keys: [title, description]
    output_key: themes
    summary_schema: {title: str, description: str}
    summary_prompt: "Common theme of{% for input in inputs %} {{ input.title }} ({{ input.description }}){% endfor %}?"
  - name: ordered
    type: rank
    prompt: How important is the term?
    input_keys: [title]
    direction: desc
    initial_ordering_method: calibrated_embedding
    batch_size: 3
    call_budget: 3
  - name: per_group
    type: reduce
    reduce_key: group
    retriever: kb
    value_sampling: {enabled: true, method: first_n, sample_size: 2}
    prompt: "Sum up {{ reduce_key.group }}:{% for i in inputs %} {{ i.title }}{% endfor %}"
    output: {schema: {summary: string}}
pipeline:
  steps:
    - name: terms_step
      input: terms
      operations: [tag, label, relevant, first_kept, findings, links, themes, ordered]
    - {name: grouped, input: terms_step, operations: [per_group]}
  output: {type: file, path: out.json}
"""
PARTS = [
    "sailing vessel", "main sail", "rudder", "anchor chain", "hull paint", "mast step",
    "keel bolt", "tiller arm", "bow line", "stern light", "deck cleat", "jib sheet",
]  # fmt: skip
TERMS = [
    {
        "id": i,
        "title": w,
        "description": f"part {w} of a boat",
        "group": "ab"[i % 2],
        "related_to": [f"{PARTS[(i + 1) % 12]} boat"],
    }
    for i, w in enumerate(PARTS)
]
KB = [{"fact": f"{g} warranty covers {w}"} for g in "ab" for w in ("sail", "hull")]


def reports(n: int) -> list[dict[str, Any]]:
    words = ["revenue", "risk", "contract", "claim", "policy", "invoice", "status", "review"]
    return [
        {
            "title": f"report {i}",
            "text": "\n\n".join(
                f"Part {k} of {i}: {words[(i + k) % 8]} {words[k % 8]}" for k in range(1 + i % 4)
            ),
        }
        for i in range(n)
    ]


TICKETS = [
    {"id": i, "text": t}
    for i, t in enumerate(
        [
            "router acme down",
            "acme router down again",
            "phone zen broken",
            "zen phone broken",
            "backup cloud slow",
            "cloud backup slow",
            "bulb smart dead",
            "router acme reset",
            "zen phone cracked",
            "invoice wrong",
        ]
    )
]
OWNERS = [{"team": "network"}, {"team": "mobile"}]


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    try:
        import ray
    except ImportError:
        pytest.skip("ray is not installed (pip install 'llmassert[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    try:
        yield str(ray.get_runtime_context().gcs_address)
    finally:
        ray.shutdown()


def run(
    path: Path, settings: Settings, executor: Executor | None, tag: str, **options: Any
) -> RunReport:
    options.setdefault("checkpoint_dir", path.parent / f".ck-{tag}")
    runner = Runner(
        load_pipeline(path),
        settings.replace(cache_dir=path.parent / f"cache-{tag}"),
        RunOptions(**options),
        executor=executor,
    )
    try:
        return runner.run()
    finally:
        if executor is not None:
            asyncio.run(executor.aclose())


def outputs(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.glob("out*.json*"))}


ARRIVAL_JITTER_S = 1.0
TIMING_DEPENDENT = ("seconds", "cached", "usage", "retries")  # usage: requests, tokens, cost


def comparable(report: RunReport) -> list[dict[str, Any]]:
    """Per-operation counters that do not depend on timing.

    Two different rows can send the same request (equal summaries); whether the second is a cache
    hit depends on whether the first finished in time — locally as on Ray — so cache hits, HTTP
    requests, tokens and cost may differ.  Logical calls and every row count must not.
    """
    return [
        {
            "name": op.name,
            **{k: v for k, v in op.stats.to_json().items() if k not in TIMING_DEPENDENT},
        }
        for op in report.ops
    ]


@pytest.mark.parametrize("pipeline", ["documents", "entities", "new_operators"])
def test_ray_output_equals_local_for_every_operator(
    pipeline: str,
    ray_address: str,
    tmp_path: Path,
    llm_server: FakeLLMServer,
    llm_settings: Settings,
) -> None:
    """split, gather, map, filter, unnest, reduce (folds), batched map, resolve, equijoin; and
    the operators added for DocETL parity (NEW_OPS)."""
    reports_by_executor: dict[str, RunReport] = {}
    files: dict[str, dict[str, str]] = {}
    for name in ("local", "ray"):
        folder = tmp_path / name
        folder.mkdir()
        if pipeline == "documents":
            path = write_pipeline(folder, DOCS, reports(24))
        elif pipeline == "new_operators":
            path = write_pipeline(folder, NEW_OPS, TERMS)
            (folder / "kb.json").write_text(json.dumps(KB))
        else:
            path = write_pipeline(folder, ENTITIES, TICKETS)
            (folder / "owners.json").write_text(json.dumps(OWNERS))
        before = len(llm_server.requests)
        executor = get_executor("ray") if name == "ray" else None
        reports_by_executor[name] = run(path, llm_settings, executor, name)
        assert len(llm_server.requests) > before  # fresh caches: both really called the model
        files[name] = outputs(folder)
    local, ray_ = reports_by_executor["local"], reports_by_executor["ray"]
    assert files["ray"] == files["local"]
    assert json.loads(files["local"]["out.json"])  # not vacuous
    assert comparable(ray_) == comparable(local)
    # usage came back from the workers
    assert ray_.totals.calls > 0 and ray_.totals.usage.total_tokens > 0
    if pipeline == "documents":
        assert local.quarantined > 0  # the validate rule sends some chunks to quarantine
        assert {op.name for op in ray_.ops} == {
            "chunks",
            "context",
            "facts",
            "risky",
            "topics",
            "per_report",
        }
    if pipeline == "new_operators":
        calls = {op.name: op.stats.calls for op in ray_.ops}
        llm_ops = ["label", "relevant", "first_kept", "findings", "links", "themes", "ordered"]
        assert all(calls[name] > 0 for name in [*llm_ops, "per_group"]), calls
        kept = next(op for op in ray_.ops if op.name == "first_kept").stats
        assert kept.rows_out <= 6 and kept.rows_in == kept.rows_out + kept.filtered


def test_injected_429s_lose_nothing_and_the_cluster_stays_under_the_rate(
    ray_address: str, tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    """Two workers, 20 % 429/500 answers: every row arrives, and the server-observed arrivals
    fit the shared bucket's envelope (capacity + rate × (window + lag)) for every window."""
    rpm = 600
    llm_server.error_rate = 0.2
    rows = [{"id": i, "text": f"note {i}"} for i in range(36)]
    path = write_pipeline(
        tmp_path,
        """\
        default_model: openai/fake-model
        datasets:
          notes: {type: file, path: data.json}
        operations:
          - name: tag
            type: map
            prompt: "Tag {{ input.id }}: {{ input.text }}"
            output: {schema: {tag: string}}
        pipeline:
          steps: [{name: s, input: notes, operations: [tag]}]
          output: {type: file, path: out.json}
        """,
        rows,
    )
    settings = llm_settings.replace(rpm=rpm, max_retries=10, max_retry_seconds=60)
    executor = get_executor("ray", workers=2)
    report = run(path, settings, executor, "ray")
    out = read_json(tmp_path / "out.json")
    assert [r["id"] for r in out] == list(range(36))
    assert report.errored == 0 and report.quarantined == 0
    statuses = [r.status for r in llm_server.requests]
    assert statuses.count(429) + statuses.count(500) >= 3  # the faults really happened
    assert report.totals.usage.requests == len(llm_server.requests)  # retries summed across workers
    # The limiter guarantees send times (BucketSpec.envelope); the server sees arrivals, which
    # also carry the client's and the server's event-loop delays — up to a few hundred ms on a
    # loaded 2-core machine — hence ARRIVAL_JITTER_S.  Without the shared limiter the 45-odd
    # requests would arrive within a fraction of a second, far outside this envelope.
    starts = [r.started for r in chat_requests(llm_server)]
    spec = BucketSpec.for_limit(rpm)
    assert spec.envelope(60) == pytest.approx(rpm)
    arrivals = BucketSpec(rpm, spec.rate, spec.capacity, spec.lag_s + ARRIVAL_JITTER_S)
    assert max_window_excess(starts, arrivals) <= 0
    # Every HTTP attempt, retries included, took a slot from the one shared limiter (a slot
    # used too late is given up and reserved again, hence >=), and the limit really bound: the
    # limiter had to make requests wait.
    stats = executor.rate_stats  # type: ignore[attr-defined]
    assert stats is not None and stats["requests"] >= len(llm_server.requests)
    assert stats["max_delay_s"] > 0.5


def test_a_spent_budget_stops_the_cluster_with_the_budget_error(
    ray_address: str,
    tmp_path: Path,
    llm_server: FakeLLMServer,
    llm_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--max-cost is a cluster total (split over workers); the worker's error reaches the driver
    as itself (exit code 3), and prices set on the driver are the workers' prices too."""
    from llmassert.llm import usage

    monkeypatch.setitem(usage._overrides, "openai/fake-model", (1e-3, 1e-3))
    rows = [{"id": i, "text": f"note {i}"} for i in range(60)]
    path = write_pipeline(
        tmp_path,
        """\
        default_model: openai/fake-model
        datasets:
          notes: {type: file, path: data.json}
        operations:
          - name: tag
            type: map
            prompt: "Tag {{ input.id }}: {{ input.text }}"
            output: {schema: {tag: string}}
        pipeline:
          steps: [{name: s, input: notes, operations: [tag]}]
          output: {type: file, path: out.json}
        """,
        rows,
    )
    settings = llm_settings.replace(max_cost=0.2, max_concurrency=4)
    with pytest.raises(BudgetExceededError):
        run(path, settings, get_executor("ray", workers=2), "ray")
    assert len(chat_requests(llm_server)) < len(rows)
    assert not (tmp_path / "out.json").exists()


def test_resume_after_the_driver_is_killed(
    ray_address: str, tmp_path: Path, llm_settings: Settings
) -> None:
    """SIGKILL the `llmassert run --executor ray` process mid-run, forge one journaled answer,
    rerun: same output as an uninterrupted local run, no request that had finished before the
    kill is made again, and the forged entry is counted once (every worker reads every
    shard)."""
    server = FakeLLMServer(latency_s=0.1).start()
    try:
        rows = [{"id": i, "text": f"entry {i}"} for i in range(48)]
        text = textwrap.dedent(f"""\
            default_model: openai/fake-model
            default_lm_api_base: {server.base_url}
            datasets:
              notes: {{type: file, path: data.json}}
            operations:
              - name: tag
                type: map
                prompt: "Tag {{{{ input.id }}}}: {{{{ input.text }}}}"
                output: {{schema: {{tag: string}}}}
              - name: sure
                type: filter
                prompt: "Keep {{{{ input.tag }}}}?"
                output: {{schema: {{keep: boolean}}}}
            pipeline:
              steps: [{{name: s, input: notes, operations: [tag, sure]}}]
              output: {{type: file, path: out.json}}
            """)
        ray_dir, local_dir = tmp_path / "ray", tmp_path / "local"
        for d in (ray_dir, local_dir):
            d.mkdir()
            write_pipeline(d, text, rows)
        cmd = [
            sys.executable,
            "-m",
            "llmassert.cli",
            "run",
            "pipeline.yaml",
            "--quiet",
            "--executor",
            "ray",
            "--ray-address",
            ray_address,
            "--max-concurrency",
            "8",
            "--cache-dir",
            str(ray_dir / "cache"),
        ]
        env = {**os.environ, "OPENAI_API_KEY": "sk-test-fake-key-0123456789"}
        proc = subprocess.Popen(
            cmd, cwd=ray_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        while sum(r.status == 200 for r in server.requests) < 30:
            assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "the run never got going"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_at = time.monotonic()
        _wait_quiet(server)
        first = len(server.requests)
        done_before = {
            json.dumps(r.body, sort_keys=True)
            for r in server.requests[:first]
            if r.status == 200 and r.finished < killed_at - 0.5
        }
        assert not (ray_dir / "out.json").exists()
        forge_a_journaled_tag(ray_dir)

        loud = [c for c in cmd if c != "--quiet"]  # the summary reports the forged entry
        rerun = subprocess.run(loud, cwd=ray_dir, env=env, capture_output=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr.decode()[-2000:]
        summary = " ".join(rerun.stderr.decode().split())
        assert "resumed: 1 journal entry was damaged and its rows were run again" in summary
        again = [json.dumps(r.body, sort_keys=True) for r in server.requests[first:]]
        assert again, "the rerun had work left"
        assert not done_before.intersection(again)  # the forged row: from the disk cache
        assert len(again) < 2 * len(rows) - len(done_before) + 1

        settings = llm_settings.replace(api_base=server.base_url)
        run(local_dir / "pipeline.yaml", settings, None, "local")
        assert (ray_dir / "out.json").read_text() == (local_dir / "out.json").read_text()
    finally:
        server.stop()


def forge_a_journaled_tag(folder: Path) -> None:
    """Forge the first answer of a worker's shard of the ``tag`` journal (its digest no longer
    matches)."""
    for shard in sorted(folder.glob(".llmassert/checkpoints/*/s/tag.journal.*.jsonl")):
        lines = shard.read_bytes().split(b"\n")
        if len([line for line in lines if line]) < 3:
            continue  # the header and a line a kill may have torn
        entry = json.loads(lines[1])
        entry["v"]["rows"][0]["+"]["tag"] = "forged"
        lines[1] = json.dumps(entry).encode()
        shard.write_bytes(b"\n".join(lines))
        return
    raise AssertionError("no shard with a journaled answer")


def test_replay_runs_on_ray_workers_without_a_request(
    ray_address: str, tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    """Record with the local executor; replay the cassette on Ray: same output, zero requests."""
    from llmassert.llm import recording

    path = write_pipeline(tmp_path, DOCS, reports(3))
    cassettes = tmp_path / "cassettes"
    recorded = llm_settings.replace(mode="record", cassette_dir=cassettes)
    with recording.cassette(recorded, "run-docs"):
        run(path, recorded, None, "record")
    expected = outputs(tmp_path)
    (tmp_path / "out.json").unlink()
    sent = len(llm_server.requests)
    replayed = llm_settings.replace(mode="replay", cassette_dir=cassettes)
    with recording.cassette(replayed, "run-docs"):
        run(path, replayed, get_executor("ray"), "replay")
    assert len(llm_server.requests) == sent
    assert outputs(tmp_path) == expected


def test_the_committed_resolve_cassette_replays_on_ray(
    ray_address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """map → resolve (embedding blocking) → reduce from fixtures/cassettes/ticket_products.

    The resolve's embedding request must reach the workers exactly as the local executor sends
    it (the cassette matches on the body): the same output, and no server at all.
    """
    from llmassert.cli import main

    root = Path(__file__).resolve().parents[2]
    shutil.copytree(root / "pipelines", tmp_path / "pipelines")
    shutil.copytree(root / "fixtures", tmp_path / "fixtures")
    monkeypatch.chdir(tmp_path)
    for var in ("OPENAI_API_KEY", "OPENAI_API_BASE", "OPENAI_BASE_URL", "LLMASSERT_API_BASE"):
        monkeypatch.delenv(var, raising=False)
    replay = [
        "run",
        "pipelines/ticket_products.yaml",
        "--replay",
        "fixtures/cassettes/ticket_products",
        "--no-resume",
        "--quiet",
    ]
    assert main([*replay, "--cache-dir", "cache-local"]) == 0
    local = (tmp_path / "out" / "ticket_products.json").read_text()
    (tmp_path / "out" / "ticket_products.json").unlink()
    assert main([*replay, "--cache-dir", "cache-ray", "--executor", "ray"]) == 0
    ray_out = (tmp_path / "out" / "ticket_products.json").read_text()
    assert ray_out == local
    assert len(json.loads(ray_out)) == 5


def test_a_replay_miss_on_ray_names_the_request_and_does_not_advise_a_resume(
    ray_address: str,
    tmp_path: Path,
    llm_server: FakeLLMServer,
    llm_settings: Settings,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from llmassert.cli import main
    from llmassert.llm import recording

    monkeypatch.chdir(tmp_path)
    path = write_pipeline(tmp_path, ENTITIES, TICKETS)
    (tmp_path / "owners.json").write_text(json.dumps(OWNERS))
    cassettes = tmp_path / "cassettes"
    recorded = llm_settings.replace(mode="record", cassette_dir=cassettes)
    with recording.cassette(recorded, "run-pipeline"):
        run(path, recorded, None, "record")
    # Another blocking key: the embedding request is one the cassette does not hold.
    path.write_text(path.read_text().replace("blocking_keys: [text]", "blocking_keys: [name]"))
    sent = len(llm_server.requests)
    capfd.readouterr()
    code = main(
        [
            "run",
            str(path),
            "--replay",
            str(cassettes),
            "--executor",
            "ray",
            "--cache-dir",
            str(tmp_path / "cache-miss"),
            "--no-resume",
        ]
    )
    err = capfd.readouterr().err
    assert code == 2, err
    assert "request not in cassette" in err and "POST /v1/embeddings" in err, err
    assert "resume" not in err, err
    assert len(llm_server.requests) == sent  # a miss never reaches the network


def test_record_on_ray_then_replay_locally_and_on_ray(
    ray_address: str, tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    """Workers record their own exchanges (chat, embeddings); the driver merges them into one
    cassette that replays with either executor, without a request."""
    from llmassert.llm import recording

    path = write_pipeline(tmp_path, ENTITIES, TICKETS)
    (tmp_path / "owners.json").write_text(json.dumps(OWNERS))
    cassettes = tmp_path / "cassettes"
    recorded = llm_settings.replace(mode="record", cassette_dir=cassettes)
    sent = len(llm_server.requests)
    with recording.cassette(recorded, "run-entities"):
        run(path, recorded, get_executor("ray"), "record")
    made = len(llm_server.requests) - sent
    assert made > 0 and any(r.path.endswith("embeddings") for r in llm_server.requests[sent:])
    assert sorted(p.name for p in cassettes.iterdir()) == ["run-entities.yaml"]  # merged
    stored = yaml.safe_load((cassettes / "run-entities.yaml").read_text())["interactions"]
    assert len(stored) == made
    expected = outputs(tmp_path)
    replayed = llm_settings.replace(mode="replay", cassette_dir=cassettes)
    sent = len(llm_server.requests)
    for tag, executor in (("local", None), ("ray", get_executor("ray"))):
        (tmp_path / "out.json").unlink()
        with recording.cassette(replayed, "run-entities"):
            run(path, replayed, executor, f"replay-{tag}")
        assert outputs(tmp_path) == expected, tag
    assert len(llm_server.requests) == sent


def _wait_quiet(server: FakeLLMServer, quiet_s: float = 1.0, limit_s: float = 15.0) -> None:
    """Until the killed run's workers stop sending (Ray reaps actors whose owner died)."""
    end = time.monotonic() + limit_s
    seen, since = len(server.requests), time.monotonic()
    while time.monotonic() < end:
        time.sleep(0.1)
        if len(server.requests) != seen:
            seen, since = len(server.requests), time.monotonic()
        elif time.monotonic() - since >= quiet_s and server.stats.in_flight == 0:
            return


def test_without_ray_the_error_is_one_line_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without Ray sees
    with pytest.raises(ConfigError) as e:
        import_ray()
    assert "pip install 'llmassert[ray]'" in str(e.value)
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match=r"llmassert\[ray\]"):
        get_executor("ray")


def test_ray_flags_without_the_ray_executor_are_refused(tmp_path: Path) -> None:
    from llmassert.commands.run import _executor_options

    with pytest.raises(ConfigError, match="need --executor ray"):
        _executor_options("local", "auto", None)


def test_partitions_cover_rows_in_order_on_batch_boundaries() -> None:
    assert partition(10, 3) == [(0, 4), (4, 8), (8, 10)]
    parts = partition(23, 4, multiple=5)
    assert [a for a, _ in parts] == [0, 10, 20] and parts[-1][1] == 23
    assert all(a % 5 == 0 for a, _ in parts)
    assert partition(0, 4) == []
    assert partition(3, 8) == [(0, 1), (1, 2), (2, 3)]


def test_group_shards_keep_groups_whole_and_in_order() -> None:
    sizes = [5, 1, 1, 1, 8, 2, 2]
    shards = shard_groups(sizes, 3)
    assert shards[0][0] == 0 and shards[-1][1] == len(sizes)
    assert all(a < b for a, b in shards)
    assert all(shards[i][1] == shards[i + 1][0] for i in range(len(shards) - 1))
    assert shard_groups([100], 4) == [(0, 1)]  # one huge group stays on one worker
