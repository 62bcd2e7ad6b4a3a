"""split / gather / resolve: local cost of the non-LLM work, and comparisons saved by blocking.

    python bench/pipeline_operators.py            # 200 documents of ~500 words
    python bench/pipeline_operators.py --docs 1000

Part 1 times split (tiktoken o200k_base from litellm's bundled file, and the offline
approximation) and gather over the same synthetic documents as ../shared/bench (memos of ~500
words), in process, no LLM.  Part 2 runs resolve on the example tickets' product spellings
against the loopback server (fake model: same canonical name = match) without blocking, with a
condition, with an embedding threshold, and prints the comparisons each made.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path
from typing import Any

import llmassert.pipeline.operators  # noqa: F401 - fills the registry
from llmassert.config import Settings
from llmassert.llm.session import get_client
from llmassert.pipeline.context import OpContext, PipelineEnv
from llmassert.pipeline.operators.base import Outcome
from llmassert.pipeline.operators.gather import GatherOperator, GatherSpec
from llmassert.pipeline.operators.resolve import ResolveOperator, ResolveSpec
from llmassert.pipeline.operators.split import SplitOperator, SplitSpec
from llmassert.pipeline.tokens import ApproxTokenizer, get_tokenizer
from llmassert.testing.fake_server import FakeLLMServer, Reply

ROOT = Path(__file__).resolve().parent.parent
WORDS = [
    "revenue",
    "risk",
    "policy",
    "customer",
    "order",
    "product",
    "review",
    "issue",
    "fix",
    "date",
    "amount",
    "total",
    "name",
    "city",
    "status",
    "note",
    "topic",
    "contract",
    "claim",
    "invoice",
    "summary",
    "team",
    "plan",
]


def docs(n: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    return [
        {
            "title": f"memo {i}",
            "text": " ".join(
                " ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + "." for _ in range(42)
            ),
        }
        for i in range(n)
    ]


def env() -> PipelineEnv:
    return PipelineEnv(spec_file="bench", base_dir=ROOT, default_model="openai/fake-model")


async def split_and_gather(rows: list[dict[str, Any]]) -> tuple[int, float, float]:
    split = SplitOperator(
        SplitSpec.model_validate(
            {
                "name": "split_text",
                "split_key": "text",
                "method": "token_count",
                "method_kwargs": {"num_tokens": 150},
            }
        ),
        env(),
    )
    gather = GatherOperator(
        GatherSpec.model_validate(
            {
                "name": "ctx",
                "content_key": "text_chunk",
                "doc_id_key": "split_text_id",
                "order_key": "split_text_chunk_num",
                "peripheral_chunks": {"previous": {"tail": {"count": 1}}},
            }
        ),
        env(),
    )
    ctx = OpContext("bench", env=env(), settings=Settings(), client=None)
    _ = split.tokenizer  # load the encoding outside the timing (reported separately)
    t0 = time.perf_counter()
    chunks = [c for r in rows for c in (await split.process_row(r, ctx)).rows]
    t1 = time.perf_counter()
    groups: dict[Any, list[dict[str, Any]]] = {}
    for c in chunks:
        groups.setdefault(gather.group_key(c), []).append(c)
    for key, members in groups.items():
        await gather.process_group(key, members, ctx)
    t2 = time.perf_counter()
    return len(chunks), t1 - t0, t2 - t1


PRODUCTS = [
    "Acme Router X2",
    "X2 router",
    "AcmeRouter X-2",
    "acme x2 router",
    "ZenPhone 5",
    "Zen Phone 5",
    "zenphone5",
    "CloudVault Backup",
    "Cloud Vault backup service",
    "CloudVault",
    "Lumio Smart Bulb",
    "smart bulb from Lumio",
    "Lumio bulb",
    "StreamBox 4K player",
    "StreamBox 4K",
    "Streambox",
]


def canon(name: str) -> str:
    key = name.lower().replace(" ", "").replace("-", "")
    for stem in ("x2", "zen", "cloud", "lumio", "streambox"):
        if stem in key:
            return stem
    return key


def answer(body: dict[str, Any]) -> Reply | None:
    if "messages" not in body:
        return None
    prompt = body["messages"][-1]["content"]
    if body["tools"][0]["function"]["name"] == "compare":
        a, b = (line.split(": ", 1)[1] for line in prompt.splitlines()[1:3])
        return Reply(tool_args={"is_match": canon(a) == canon(b)})
    return Reply(tool_args={"product": prompt.splitlines()[1][2:]})


async def resolve(settings: Settings, extra: dict[str, Any], copies: int) -> Outcome:
    spec = {
        "name": "resolve_products",
        "blocking_keys": ["product"],
        "comparison_prompt": "Same?\nA: {{ input1.product }}\nB: {{ input2.product }}",
        "resolution_prompt": "Name:\n{% for i in inputs %}- {{ i.product }}\n{% endfor %}",
        "output": {"schema": {"product": "string"}},
        **extra,
    }
    e = PipelineEnv(
        spec_file="bench",
        base_dir=ROOT,
        default_model="openai/fake-model",
        embedding_model="openai/fake-embed",
    )
    op = ResolveOperator(ResolveSpec.model_validate(spec), e)
    rows = [{"product": f"{p} v{i}" if i else p} for i in range(copies) for p in PRODUCTS]
    client = get_client(settings)
    try:
        return await op.run(rows, OpContext(op.name, env=e, settings=settings, client=client))
    finally:
        await client.aclose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--docs", type=int, default=200)
    ap.add_argument("--copies", type=int, default=3, help="spellings x copies = resolve rows")
    args = ap.parse_args()
    rows = docs(args.docs)
    t0 = time.perf_counter()
    tok = get_tokenizer("openai/fake-model")
    load = time.perf_counter() - t0
    n, split_s, gather_s = asyncio.run(split_and_gather(rows))
    text = " ".join(r["text"] for r in rows)
    t0 = time.perf_counter()
    ApproxTokenizer().chunks(text, 150)
    approx_s = time.perf_counter() - t0
    print(f"| documents | chunks | {tok.name} load | split | approx tokenizer | gather |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {args.docs} | {n} | {load * 1000:.0f} ms | {split_s * 1000:.0f} ms "
        f"| {approx_s * 1000:.0f} ms | {gather_s * 1000:.0f} ms |"
    )

    import os

    os.environ.setdefault("OPENAI_API_KEY", "sk-bench-fake-key-0000")
    with FakeLLMServer() as server:
        server.handler = answer
        settings = Settings(
            model="openai/fake-model",
            embedding_model="openai/fake-embed",
            api_base=server.base_url,
            cache_dir=None,
        )
        print()
        print("| resolve blocking | rows | candidate pairs | comparisons | clusters |")
        print("|---|---|---|---|---|")
        cases = {
            "none": {},
            "condition (first 4 letters)": {
                "blocking_conditions": [
                    "input1['product'].replace(' ', '')[:4].lower() == "
                    "input2['product'].replace(' ', '')[:4].lower()"
                ]
            },
            "embedding >= 0.5": {"blocking_threshold": 0.5},
            "none, compare_batch_size 10": {"compare_batch_size": 10},
            "embedding >= 0.5, compare_batch_size 10": {
                "blocking_threshold": 0.5,
                "compare_batch_size": 10,
            },
        }
        for label, extra in cases.items():
            out = asyncio.run(resolve(settings, extra, args.copies))
            m = out.meta
            print(
                f"| {label} | {m['rows']} | {m['candidate_pairs']} of {m['possible_pairs']} "
                f"| {m['comparisons']} | {m['clusters']} |"
            )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
