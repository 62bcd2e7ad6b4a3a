"""LLM layer overhead: client CPU per call and fan-out wall time, http vs litellm transport.

    python bench/llm_overhead.py                  # default sizes
    python bench/llm_overhead.py --calls 3000 --fanout-calls 800

The OpenAI-compatible fake server runs in a separate process, so the CPU time measured here
(``time.process_time``) is the client's alone: request building, cache key, rate limiting,
retry bookkeeping, JSON, HTTP, response parsing and validation.  Fan-out: ``--fanout-calls`` calls
at ``--latency-ms`` server latency with ``--concurrency`` in flight; ideal = calls / concurrency x
latency.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from llmassert.config import Settings
from llmassert.llm import LLMRequest
from llmassert.llm.managed_client import build_client
from llmassert.testing.fake_server import ServerProcess

SCHEMA = {
    "type": "object",
    "properties": {"label": {"type": "string"}, "score": {"type": "integer"}},
    "required": ["label", "score"],
}


def requests(n: int, structured: bool, tag: str) -> list[LLMRequest]:
    return [
        LLMRequest(
            model="openai/fake-model",
            output_schema=SCHEMA if structured else None,
            messages=({"role": "user", "content": f"{tag} document {i}: " + "x " * 200},),
        )
        for i in range(n)
    ]


def cpu_per_call(
    base_url: str, transport: str, n: int, structured: bool, cache_dir: Path | None
) -> tuple[float, float]:
    settings = Settings(
        model="openai/fake-model",
        api_base=base_url,
        transport=transport,
        max_concurrency=32,
        cache_dir=cache_dir,
    )
    client = build_client(settings)
    asyncio.run(client.agather(requests(20, structured, "warm")))  # imports, pools, validators
    batch = requests(n, structured, f"{transport}{structured}")
    cpu, wall = time.process_time(), time.perf_counter()
    asyncio.run(client.agather(batch))
    return (time.process_time() - cpu) / n * 1e6, time.perf_counter() - wall


def cached_hit_us(base_url: str, n: int) -> float:
    folder = Path(tempfile.mkdtemp())
    client = build_client(Settings(model="openai/fake-model", api_base=base_url, cache_dir=folder))
    batch = requests(n, True, "hit")
    asyncio.run(client.agather(batch))
    cpu = time.process_time()
    asyncio.run(client.agather(batch))
    return (time.process_time() - cpu) / n * 1e6


def fanout(base_url: str, transport: str, n: int, concurrency: int) -> float:
    settings = Settings(
        model="openai/fake-model",
        api_base=base_url,
        transport=transport,
        max_concurrency=concurrency,
        cache_dir=None,
    )
    client = build_client(settings)
    asyncio.run(client.agather(requests(4, True, "warm")))
    wall = time.perf_counter()
    asyncio.run(client.agather(requests(n, True, f"fan{transport}")))
    return time.perf_counter() - wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--calls", type=int, default=2000, help="calls per CPU measurement (http)")
    ap.add_argument("--litellm-calls", type=int, default=500)
    ap.add_argument("--fanout-calls", type=int, default=800)
    ap.add_argument("--latency-ms", type=float, default=200)
    ap.add_argument("--concurrency", type=int, default=64)
    args = ap.parse_args()
    for name in ("calls", "litellm_calls", "fanout_calls", "latency_ms", "concurrency"):
        if getattr(args, name) <= 0:  # per-call and x-ideal figures divide by these
            ap.error(f"--{name.replace('_', '-')} must be > 0")
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench-not-a-real-key-000")

    fast = ServerProcess(0)
    try:
        print(
            f"{'transport':<10}{'output':<12}{'cache':<7}{'calls':>7}{'CPU µs/call':>13}"
            f"{'calls/s':>10}"
        )
        for transport, n in (("http", args.calls), ("litellm", args.litellm_calls)):
            for structured in (False, True):
                for cache in (False, True):
                    folder = Path(tempfile.mkdtemp()) if cache else None
                    us, wall = cpu_per_call(fast.base_url, transport, n, structured, folder)
                    print(
                        f"{transport:<10}{'structured' if structured else 'text':<12}"
                        f"{'on' if cache else 'off':<7}{n:>7}{us:>13.0f}{n / wall:>10.0f}"
                    )
        print(f"cache hit (structured): {cached_hit_us(fast.base_url, args.calls):.0f} µs/call")
    finally:
        fast.stop()

    slow = ServerProcess(args.latency_ms)
    try:
        ideal = args.fanout_calls / args.concurrency * args.latency_ms / 1000
        print(
            f"\nfan-out: {args.fanout_calls} structured calls, {args.latency_ms:.0f} ms latency, "
            f"concurrency {args.concurrency}, ideal {ideal:.2f} s"
        )
        for transport in ("http", "litellm"):
            seconds = fanout(slow.base_url, transport, args.fanout_calls, args.concurrency)
            print(f"  {transport:<8} {seconds:6.2f} s  ({seconds / ideal:.2f}x ideal)")
    finally:
        slow.stop()


if __name__ == "__main__":
    main()
