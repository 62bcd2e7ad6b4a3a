"""Helpers for pipeline tests: write a pipeline + data into tmp_path, run it, read results."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from llmassert.config import Settings
from llmassert.pipeline.runner import Runner, RunOptions, RunReport
from llmassert.pipeline.spec import load_pipeline

# One map over data.json that summarizes each row; ``summarize_pipeline(keys)`` inserts ``keys``
# (indented YAML lines: validate, assertions, ...) into the operation.
_SUMMARIZE = """\
default_model: openai/fake-model
datasets:
  docs: {type: file, path: data.json}
operations:
  - name: summarize
    type: map
    prompt: "Summarize: {{ input.text }}"
    output: {schema: {summary: string}}
KEYS
pipeline:
  steps:
    - {name: s, input: docs, operations: [summarize]}
  output: {type: file, path: out.json}
"""


def summarize_pipeline(keys: str) -> str:
    return _SUMMARIZE.replace("KEYS\n", keys)


def write_pipeline(
    tmp_path: Path, text: str, rows: list[dict[str, Any]] | None = None, name: str = "pipeline.yaml"
) -> Path:
    """Write ``text`` (dedented) as the pipeline and ``rows`` as data.json beside it."""
    if rows is not None:
        (tmp_path / "data.json").write_text(json.dumps(rows))
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def run_pipeline(path: Path, settings: Settings, **options: Any) -> RunReport:
    """Run in-process; checkpoints go beside the pipeline (never into the working directory)."""
    options.setdefault("checkpoint_dir", path.parent / ".checkpoints")
    runner = Runner(load_pipeline(path), settings, RunOptions(**options))
    return runner.run()


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def read_jsonl(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def user_text(body: dict[str, Any]) -> str:
    """All user/assistant message text of a chat request, joined."""
    return "\n".join(
        str(m.get("content") or "") for m in body.get("messages", []) if m.get("role") != "system"
    )


def last_user(body: dict[str, Any]) -> str:
    return str([m for m in body["messages"] if m["role"] == "user"][-1]["content"])


def tool_name(body: dict[str, Any]) -> str:
    return str(body["tools"][0]["function"]["name"]) if body.get("tools") else ""


def chat_requests(server: Any) -> list[Any]:
    return [r for r in server.requests if r.path.endswith("chat/completions")]
