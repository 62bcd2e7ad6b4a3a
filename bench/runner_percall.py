"""Client CPU per LLM call on the runner's hot path, part by part and end to end.

    python bench/runner_percall.py [--n 500] [--concurrency 64] [--latency-ms 200] [--repeat 3]

The split+gather+map pipeline of ``bench/runner_vs_docetl.py`` (``../shared/bench``: the fake
server, ``make_docs.py``, the DocETL template).  Process CPU time (``time.process_time``: every
thread of this process; the server is another process), which moves far less with the machine's
load than wall time.

- **parts**: each piece of one map call, run in a loop over the pipeline's real chunk rows with
  the real objects (the operation's ``LLMStep``, its schema, a journal in a temp folder): render,
  row digest, request build + body encode, response decode + schema validation, the DocETL type
  check, journal entry, accounting.  µs per call.
- **end to end**: the pipeline run in process (``Runner`` on the fake server, cache off,
  intermediates on as the template asks), CPU of the whole run minus CPU of split+gather alone,
  over the number of requests: what one call costs with the transport, the event loop, the
  executor and the output files included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import runner_vs_docetl as rvd  # server, templates, paths


def per_call_us(fn: Callable[[Any], Any], items: list[Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        for item in items:
            fn(item)
        best = min(best, (time.process_time() - t0) / len(items))
    return 1e6 * best


def load(yaml_path: Path, **options: Any) -> Any:
    from llmassert.config import Settings
    from llmassert.pipeline.runner import Runner, RunOptions
    from llmassert.pipeline.spec import load_pipeline

    loaded = load_pipeline(yaml_path)
    settings = Settings.from_env(api_base=loaded.spec.default_lm_api_base).replace(
        cache_dir=None, max_concurrency=options.pop("concurrency", 64)
    )
    runner = Runner(loaded, settings, RunOptions(resume=False, **options))
    runner.prepare()
    return runner


def chunk_rows(yaml_path: Path) -> tuple[Any, list[dict[str, Any]]]:
    """The map's input rows (split + gather for real) and the map operator."""
    runner = load(yaml_path, dry_run=True)
    report = runner.run()
    del report
    from llmassert.pipeline.context import OpContext
    from llmassert.pipeline.operators.base import RowOperator

    assert runner.env is not None
    rows = runner.datasets["docs"].rows
    split, gather, mapper = (runner.ops[n] for n in ("split_text", "gather_ctx", "chunk_facts"))
    ctx = OpContext("x", env=runner.env, settings=runner.settings, client=None)

    async def prep() -> list[dict[str, Any]]:
        assert isinstance(split, RowOperator)
        chunks = [r for row in rows for r in (await split.process_row(row, ctx)).rows]
        by_doc: dict[Any, list[dict[str, Any]]] = {}
        for c in chunks:
            by_doc.setdefault(c["split_text_id"], []).append(c)
        out = []
        for key, members in by_doc.items():
            out += (await gather.process_group((key,), members, ctx)).rows  # type: ignore[attr-defined]
        return out

    return mapper, asyncio.run(prep())


def parts(mapper: Any, rows: list[dict[str, Any]], repeat: int) -> dict[str, float]:
    from llmassert import jsonx
    from llmassert.llm import structured
    from llmassert.llm.client import LLMRequest
    from llmassert.llm.usage import Tally, UsageTracker, cost_of
    from llmassert.pipeline.checkpoint import Journal
    from llmassert.pipeline.executor import _encode
    from llmassert.pipeline.operators.base import Outcome
    from llmassert.pipeline.types import unit_key

    step = mapper.step
    out: dict[str, float] = {}
    out["render prompt"] = per_call_us(lambda r: step.prompt.render(input=r), rows, repeat)
    out["row digest"] = per_call_us(unit_key, rows, repeat)
    texts = [step.prompt.render(input=r) for r in rows]

    def request(text: str) -> bytes:
        # what LLMStep.request and Client._complete do per call
        req = step._request(step.model, step.schema, None)
        req = req.model_copy(update={"messages": tuple(step.messages(text)), "salt": "a0"})
        structured.check_schema(req.output_schema or {})
        body = structured.chat_body(req, list(req.messages), "tools")
        return jsonx.dumps({"model": "fake-model", **body})

    out["request build + encode"] = per_call_us(request, texts, repeat)
    req = LLMRequest(
        model=step.model,
        messages=tuple(step.messages(texts[0])),
        output_schema=step.schema,
        schema_name=step.schema_name,
    )
    answers = []
    for i, r in enumerate(rows):
        args = json.dumps({"entities": [f"e{i}", r["title"][:20]], "fact": r["text_chunk"][:80]})
        raw = {
            "id": f"x{i}",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "call_0",
                                "type": "function",
                                "function": {"name": step.schema_name, "arguments": args},
                            }
                        ],
                    },
                    "finish_reason": "tool_calls",
                }
            ],
            "usage": {"prompt_tokens": 300, "completion_tokens": 40, "total_tokens": 340},
        }
        answers.append(json.dumps(raw).encode())
    out["response decode + validate"] = per_call_us(
        lambda b: structured.parse(jsonx.loads(b), req, "tools"), answers, repeat
    )
    datas = [structured.parse(json.loads(b), req, "tools").data for b in answers]
    out["DocETL type check"] = per_call_us(step._typecheck, datas, repeat)
    outcomes = [
        (r, Outcome(rows=[{**r, **d}], meta={"calls": 1})) for r, d in zip(rows, datas, strict=True)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal(Path(tmp) / "j.jsonl", "fp", resume=False)

        def journal_put(pair: tuple[dict[str, Any], Any]) -> None:
            row, outcome = pair
            journal.put("r:" + unit_key(row), _encode(outcome, row))

        out["journal entry (incl. digest)"] = per_call_us(journal_put, outcomes, 1)
        journal.close()
    tracker = UsageTracker()

    def account(_: Any) -> None:
        # what Client._count and _result do per call
        call = Tally()
        cost = cost_of(step.model, 300, 40)
        call.add(300, 40, cost, 1)
        tracker.add_attempt(step.op, 300, 40, cost)
        tracker.finish_call()
        call.usage()

    out["accounting"] = per_call_us(account, rows, repeat)
    return out


def end_to_end(yaml_path: Path, d: Path, concurrency: int, port: int) -> dict[str, float]:
    shutil.rmtree(d / "inter", ignore_errors=True)
    dry = load(yaml_path, dry_run=True, concurrency=concurrency)
    c0 = time.process_time()
    dry.run()
    pre = time.process_time() - c0
    rvd.http(f"http://127.0.0.1:{port}/stats/reset", b"")
    runner = load(yaml_path, concurrency=concurrency)
    c0, w0 = time.process_time(), time.perf_counter()
    runner.run()
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    stats = rvd.http(f"http://127.0.0.1:{port}/stats")
    n = stats["requests"]
    return {
        "requests": n,
        "wall_s": wall,
        "cpu_s": cpu,
        "split_gather_cpu_s": pre,
        "ms_per_call": 1000 * (cpu - pre) / n,
        "span_s": stats["active_span_s"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency-ms", type=float, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default="/tmp/runner_percall")
    a = ap.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "sk-fake")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    d = Path(a.out)
    d.mkdir(parents=True, exist_ok=True)
    data = d / "docs.json"
    if not data.exists():
        import subprocess

        subprocess.run(
            [sys.executable, str(rvd.SHARED / "docetl" / "make_docs.py"), str(a.n), str(data)],
            check=True,
        )
    proc, port = rvd.start_server(a.latency_ms, d)
    try:
        yaml_path = rvd.render("split_gather", d, data, port)
        mapper, rows = chunk_rows(yaml_path)
        part = parts(mapper, rows, a.repeat)
        runs = [end_to_end(yaml_path, d, a.concurrency, port) for _ in range(a.repeat)]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(f"{len(rows)} calls; process CPU; load average {os.getloadavg()[0]:.1f}")
    print("\n| part | µs / call |\n|---|---|")
    for k, v in part.items():
        print(f"| {k} | {v:.0f} |")
    print(f"| sum of parts | {sum(part.values()):.0f} |")
    per = [r["ms_per_call"] for r in runs]
    print(
        f"\nend to end (run CPU minus split+gather CPU, / requests), concurrency "
        f"{a.concurrency}: median {statistics.median(per):.2f} ms/call "
        f"(range {min(per):.2f}-{max(per):.2f}, n={len(per)})"
    )
    for r in runs:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
