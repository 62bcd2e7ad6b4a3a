"""--inputs with a model: the latest version rendered per input, answered through the LLM layer
(the loopback fake server), cached on a rerun; bad inputs refused before any request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmassert.config import Settings
from llmassert.label.generate import generate, read_inputs
from llmassert.label.prepare import load_history
from llmassert.label.sources import ResponsesError
from llmassert.llm.session import session
from llmassert.testing.fake_server import FakeLLMServer, Reply

from .kit import write_prompt


def test_inputs_run_through_the_llm_layer_and_cache(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    history = load_history(write_prompt(tmp_path))
    path = tmp_path / "inputs.jsonl"
    path.write_text(
        json.dumps({"ticket": "Login fails"})
        + "\n"
        + json.dumps({"input": {"ticket": "Slow page"}, "response": "old", "label": "bad"})
        + "\n"
        + json.dumps({"ticket": "Login fails"})  # the same input once
        + "\n"
    )
    inputs = read_inputs(path, history)
    assert inputs == [{"ticket": "Login fails"}, {"ticket": "Slow page"}]
    llm_server.script(Reply(content="- Cannot log in"), match="Login fails")
    llm_server.script(Reply(content="- Page is slow"), match="Slow page")
    assert llm_settings.model is not None
    with session(llm_settings, "label") as client:
        out = generate(history, inputs, client, llm_settings.model)
    assert [r.response for r in out] == ["- Cannot log in", "- Page is slow"]
    sent = [r.body["messages"][0]["content"] for r in llm_server.requests]
    assert any("Summarize the support ticket Login fails." in s for s in sent)
    with session(llm_settings, "label") as client:  # a rerun is served from the cache
        again = generate(history, inputs, client, llm_settings.model)
    assert [r.response for r in again] == [r.response for r in out]
    assert len(llm_server.requests) == 2


def test_input_missing_a_placeholder_is_refused(tmp_path: Path) -> None:
    history = load_history(write_prompt(tmp_path))
    path = tmp_path / "inputs.jsonl"
    path.write_text(json.dumps({"tiket": "typo"}) + "\n")
    with pytest.raises(ResponsesError, match=r"inputs.jsonl: line 1: ticket: missing"):
        read_inputs(path, history)


def test_recorded_responses_replay_offline(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    history = load_history(write_prompt(tmp_path))
    inputs = [{"ticket": "Broken export"}]
    llm_server.script(Reply(content="- Export fails"))
    recording = llm_settings.replace(cassette_dir=tmp_path / "cassettes", mode="record")
    assert recording.model is not None
    with session(recording, "label") as client:
        generate(history, inputs, client, recording.model)
    llm_server.stop()  # replay must not need the server (nor the cache)
    replaying = recording.replace(mode="replay", cache_dir=tmp_path / "empty-cache")
    with session(replaying, "label") as client:
        out = generate(history, inputs, client, recording.model)
    assert [r.response for r in out] == ["- Export fails"]
