"""``--inputs`` with a model: run the prompt's latest version over inputs, then grade the answers.

Requests go through the LLM layer like every other call: cached (a rerun costs nothing and shows
the same responses, so grades resume), recordable and replayable under the cassette ``label``,
with the command's budget and rate limits. Inputs are checked against the prompt's placeholders
before the first request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmassert.aio import run_sync
from llmassert.assertions.helpers import fill_placeholders
from llmassert.fileio import read_jsonl
from llmassert.history.models import PromptHistory, placeholders
from llmassert.label.sources import Response, ResponsesError
from llmassert.llm.client import LLMClient, LLMRequest
from llmassert.synth.manifest import stable_id

_RESPONSE_KEYS = {"input", "response", "label", "model", "id"}


def read_inputs(path: Path, history: PromptHistory) -> list[dict[str, Any]]:
    """Distinct inputs of ``path``: objects of the prompt's variables, or lines of a responses /
    labels file (their ``input`` is used). Each must provide the latest version's placeholders."""
    needed = placeholders(history.latest.text)
    seen: dict[str, dict[str, Any]] = {}
    for number, record in read_jsonl(path, ResponsesError):
        example = record
        if isinstance(record.get("input"), dict) and set(record) <= _RESPONSE_KEYS:
            example = record["input"]
        missing = [name for name in needed if name not in example]
        if missing:
            raise ResponsesError(
                f"missing (the prompt's latest version uses {{{missing[0]}}})",
                file=path,
                field=f"line {number}: {missing[0]}",
            )
        seen.setdefault(stable_id(example), example)
    if not seen:
        raise ResponsesError("no inputs", file=path)
    return list(seen.values())


async def agenerate(
    history: PromptHistory, inputs: list[dict[str, Any]], client: LLMClient, model: str
) -> list[Response]:
    requests = [
        LLMRequest(
            model=model,
            messages=({"role": "user", "content": fill_placeholders(history.latest.text, x)},),
            tag="label",
        )
        for x in inputs
    ]
    results = await client.agather(requests)
    return [Response(x, r.text, model=model) for x, r in zip(inputs, results, strict=True)]


def generate(
    history: PromptHistory, inputs: list[dict[str, Any]], client: LLMClient, model: str
) -> list[Response]:
    return run_sync(agenerate(history, inputs, client, model))


__all__ = ["agenerate", "generate", "read_inputs"]
