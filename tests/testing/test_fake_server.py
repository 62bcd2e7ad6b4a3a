"""The loopback server answers `n` completions as OpenAI does (DocETL's output.n asks for them)."""

from __future__ import annotations

import httpx
import pytest

from llmassert.testing.fake_server import FakeLLMServer


@pytest.mark.parametrize(("n", "choices"), [(None, 1), (3, 3), (0, 1), (True, 1)])
def test_n_completions(llm_server: FakeLLMServer, n: object, choices: int) -> None:
    body: dict[str, object] = {
        "model": "fake-model",
        "messages": [{"role": "user", "content": "hi"}],
    }
    if n is not None:
        body["n"] = n
    answer = httpx.post(f"{llm_server.base_url}/chat/completions", json=body, timeout=10).json()
    assert [c["index"] for c in answer["choices"]] == list(range(choices))
    assert len({c["message"]["content"] for c in answer["choices"]}) == 1
