"""Where the responses to grade come from: a JSONL of responses, or a raw failure log.

Both are checked in full before the first response is shown: a bad line is a one-line error
naming the file, the line and the field (exit 2).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from llmassert.errors import InputError
from llmassert.fileio import read_jsonl, validated


class ResponsesError(InputError):
    """A responses file (``--responses`` / ``--from-log``) is missing or malformed."""


class ResponseLine(BaseModel):
    """One line of ``--responses``: the labels format without ``label`` (a label is allowed and
    ignored, so a labels file can be re-graded)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: dict[str, Any]
    response: str
    model: str | None = None
    id: str | None = None
    label: Any = None


@dataclass(frozen=True)
class Response:
    input: dict[str, Any]
    response: str
    model: str | None = None
    id: str | None = None


def read_responses(path: Path) -> list[Response]:
    out = []
    for number, record in read_jsonl(path, ResponsesError):
        line = validated(
            ResponseLine,
            record,
            file=path,
            line=number,
            error=ResponsesError,
            unknown="unknown field (expected input, response, model, id, label)",
        )
        out.append(Response(line.input, line.response, line.model, line.id))
    if not out:
        raise ResponsesError("no responses to grade", file=path)
    return out


def read_failure_log(path: Path) -> list[Response]:
    """The distinct (input, response) pairs of a failure log's ``failure`` lines.

    The log stores SHA-256 hashes unless it was written with ``log_raw=True``; hashes cannot be
    graded, so such a log is refused with what to change.
    """
    seen: dict[str, Response] = {}
    for number, record in read_jsonl(path, ResponsesError):
        if record.get("event") != "failure":
            continue  # "checks" lines: counts, no responses
        if "response" not in record or "input" not in record:
            raise ResponsesError(
                "this failure log stores hashes only (input_sha256/response_sha256), and "
                "grading needs the text: write it with guard(..., log_raw=True), or grade a "
                "JSONL of responses with --responses",
                file=path,
                field=f"line {number}",
            )
        example, response = record["input"], record["response"]
        if not isinstance(example, dict) or not isinstance(response, str):
            raise ResponsesError(
                "expected input (object) and response (string)", file=path, field=f"line {number}"
            )
        key = json.dumps([example, response], sort_keys=True, default=str)
        seen.setdefault(key, Response(example, response))
    if not seen:
        raise ResponsesError("no failure lines to grade", file=path)
    return list(seen.values())


__all__ = ["Response", "ResponsesError", "read_failure_log", "read_responses"]
