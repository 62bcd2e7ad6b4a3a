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


def test_field_keyed_answers_ignore_the_prompt() -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "out",
            "parameters": {
                "type": "object",
                "properties": {"keep": {"type": "boolean"}, "tags": {"type": "array"}},
            },
        },
    }
    renamed = {**tool, "function": {**tool["function"], "name": "send_output"}}

    def ask(server: FakeLLMServer, prompt: str, t: dict[str, object]) -> str:
        body = {"model": "m", "messages": [{"role": "user", "content": prompt}], "tools": [t]}
        answer = httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=10).json()
        return str(answer["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"])

    with FakeLLMServer(answers="fields") as server:
        same = {ask(server, f"prompt {i}", t) for i in range(6) for t in (tool, renamed)}
        assert len(same) == 1
    with FakeLLMServer() as server:
        assert len({ask(server, f"prompt {i}", tool) for i in range(6)}) > 1
