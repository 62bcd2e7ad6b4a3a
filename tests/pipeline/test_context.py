"""The operation context: what an operation's LLM and embedding requests count in its stats."""

from __future__ import annotations

import asyncio
from pathlib import Path

from llmassert.config import Settings
from llmassert.llm.client import LLMRequest, Usage
from llmassert.llm.session import get_client
from llmassert.pipeline.context import OpContext, PipelineEnv
from llmassert.pipeline.types import OpStats
from llmassert.testing.fake_server import FakeLLMServer


def test_overlapping_embeddings_and_calls_are_each_counted_once(
    llm_settings: Settings, llm_server: FakeLLMServer, tmp_path: Path
) -> None:
    # Blocking embeds its chunks concurrently, and a retriever embeds while other rows' calls
    # are in flight: each request's usage counts once, whatever else the client did meanwhile.
    llm_server.latency_s = 0.2
    env = PipelineEnv(spec_file="p.yaml", base_dir=tmp_path, embedding_model="openai/fake-embed")
    request = LLMRequest(model="openai/fake-model", messages=({"role": "user", "content": "hi"},))

    async def go() -> tuple[OpStats, Usage]:
        client = get_client(llm_settings)
        try:
            ctx = OpContext("op", env=env, settings=llm_settings, client=client)
            await asyncio.gather(
                ctx.embed(["alpha beta"]),
                ctx.embed(["gamma delta epsilon", "zeta"]),
                ctx.complete(request),
            )
            return ctx.stats, client.usage
        finally:
            await client.aclose()

    stats, total = asyncio.run(go())
    assert len(llm_server.requests) == 3
    assert total.requests == 3 and total.prompt_tokens > 0
    assert stats.calls == 3
    assert stats.usage.usage() == total
