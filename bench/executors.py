"""Executors: the split + gather + map pipeline, local (asyncio) vs Ray, on this machine.

    python bench/executors.py                         # 200 and 2,000 documents, 200 ms latency
    python bench/executors.py --docs 200 --latency-ms 200 --concurrency 64 --workers 2

The fake OpenAI-compatible server runs in its own process at ``--latency-ms`` per request.  Every
run starts with an empty cache, so each chunk costs one real HTTP call.  Ideal time = calls x
latency / concurrency (the same total ``--concurrency`` for both executors: Ray splits it over
its workers).  Ray's start-up is shown apart: ``ray.init`` (once per process) and the run, which
includes starting the worker actors.  On a 2-core machine Ray cannot be faster than one asyncio
loop: both are bound by the same concurrency, and Ray adds processes competing for the same cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from llmassert.config import Settings
from llmassert.pipeline.runner import Runner, RunOptions, RunReport
from llmassert.pipeline.spec import load_pipeline
from llmassert.testing.fake_server import ServerProcess

PIPELINE = """\
default_model: openai/fake-model
default_lm_api_base: {api_base}
datasets:
  reports: {{type: file, path: docs.json}}
operations:
  - name: chunks
    type: split
    split_key: text
    method: delimiter
    method_kwargs: {{delimiter: "\\n\\n"}}
  - name: context
    type: gather
    content_key: text_chunk
    doc_id_key: chunks_id
    order_key: chunks_chunk_num
    peripheral_chunks: {{previous: {{tail: {{count: 1}}}}, next: {{head: {{count: 1}}}}}}
  - name: facts
    type: map
    prompt: "Extract the facts of this section of {{{{ input.title }}}}: {{{{ input.text_chunk_rendered }}}}"
    output: {{schema: {{summary: string, risk: "enum[low, medium, high]"}}}}
pipeline:
  steps:
    - {{name: read, input: reports, operations: [chunks, context, facts]}}
  output: {{type: file, path: out.json}}
"""

WORDS = [
    "revenue",
    "risk",
    "contract",
    "claim",
    "policy",
    "invoice",
    "customer",
    "outage",
    "latency",
    "deploy",
    "rollback",
    "alert",
    "database",
    "timeout",
    "retry",
    "queue",
    "backlog",
    "incident",
    "owner",
    "action",
]


def documents(n: int, sections: int) -> list[dict[str, Any]]:
    docs = []
    for i in range(n):
        parts = [
            " ".join(WORDS[(i * 7 + k * 3 + j) % len(WORDS)] for j in range(40))
            for k in range(sections)
        ]
        docs.append({"title": f"report {i}", "text": "\n\n".join(parts)})
    return docs


def run_once(
    folder: Path,
    server: ServerProcess,
    docs: int,
    sections: int,
    concurrency: int,
    executor: str,
    workers: int | None,
) -> tuple[float, RunReport]:
    folder.mkdir(parents=True)
    (folder / "docs.json").write_text(json.dumps(documents(docs, sections)))
    (folder / "pipeline.yaml").write_text(PIPELINE.format(api_base=server.base_url))
    settings = Settings(
        model="openai/fake-model",
        api_base=server.base_url,
        cache_dir=folder / "cache",
        max_concurrency=concurrency,
    )
    ex = None
    if executor == "ray":
        from llmassert.pipeline.executor_ray import RayExecutor

        ex = RayExecutor(workers=workers)
    runner = Runner(
        load_pipeline(folder / "pipeline.yaml"),
        settings,
        RunOptions(checkpoint_dir=folder / "ck", resume=False, lineage=False),
        executor=ex,
    )
    runner.prepare()
    started = time.perf_counter()
    try:
        report = runner.run()
    finally:
        if ex is not None:
            asyncio.run(ex.aclose())
    return time.perf_counter() - started, report


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--docs", type=int, nargs="+", default=[200, 2000])
    ap.add_argument("--sections", type=int, default=3, help="chunks per document")
    ap.add_argument("--latency-ms", type=float, default=200.0)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--workers", type=int, default=None, help="Ray workers (default: CPUs)")
    args = ap.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench-not-a-real-key")

    import ray

    t0 = time.perf_counter()
    ray.init(include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    ray_init = time.perf_counter() - t0
    cpus = int(ray.cluster_resources().get("CPU", 1))
    server = ServerProcess(args.latency_ms)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for n in args.docs:
                for executor in ("local", "ray"):
                    wall, report = run_once(
                        Path(tmp) / f"{executor}-{n}",
                        server,
                        n,
                        args.sections,
                        args.concurrency,
                        executor,
                        args.workers,
                    )
                    calls = report.totals.usage.requests
                    ideal = calls * args.latency_ms / 1000 / args.concurrency
                    rows.append((n, executor, calls, wall, ideal))
                    print(
                        f"  {executor:5} {n:>6} docs: {calls} calls, {wall:.2f} s "
                        f"(ideal {ideal:.2f} s)",
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        server.stop()
        ray.shutdown()

    print(
        f"\nsplit+gather+map, {args.sections} chunks/doc, latency {args.latency_ms:.0f} ms, "
        f"concurrency {args.concurrency} (total), Ray: {args.workers or cpus} workers on "
        f"{cpus} CPUs; ray.init {ray_init:.1f} s (not in the times below)\n"
    )
    print(
        f"| {'docs':>6} | {'executor':8} | {'calls':>6} | {'wall s':>7} | {'ideal s':>7} "
        f"| {'wall/ideal':>10} |"
    )
    print(f"|{'-' * 8}|{'-' * 10}|{'-' * 8}|{'-' * 9}|{'-' * 9}|{'-' * 12}|")
    for n, executor, calls, wall, ideal in rows:
        print(
            f"| {n:>6} | {executor:8} | {calls:>6} | {wall:>7.2f} | {ideal:>7.2f} "
            f"| {wall / ideal:>10.2f} |"
        )


if __name__ == "__main__":
    main()
