"""Labeled examples: JSONL with ``input`` (object), ``response`` (string), ``label`` (good|bad)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from llmassert.errors import InputError, LabelsError
from llmassert.history.models import LabeledExample


def read_text(path: Path, error: type[InputError]) -> str:
    """UTF-8 text of ``path``, or ``error`` naming the file and the problem."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error("does not exist", file=path) from None
    except IsADirectoryError:
        raise error("is a folder, expected a file", file=path) from None
    except OSError as e:
        raise error(f"cannot read: {e.strerror or e}", file=path) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise error(
            f"is not UTF-8 text (byte {e.start})", file=path, hint="re-save it as UTF-8"
        ) from None


def load_labels(path: Path) -> tuple[LabeledExample, ...]:
    """Parse a labels JSONL file; any bad line raises :class:`LabelsError` naming line and field."""
    text = read_text(path, LabelsError)
    examples: list[LabeledExample] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise LabelsError(
                f"not valid JSON ({e.msg})", file=path, field=f"line {number}"
            ) from None
        if not isinstance(record, dict):
            raise LabelsError("expected a JSON object", file=path, field=f"line {number}")
        try:
            examples.append(LabeledExample.model_validate(record))
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "record"
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown field (expected input, response, label, model, id)"
            raise LabelsError(message, file=path, field=f"line {number}: {where}") from None
    if not examples:
        raise LabelsError("no labeled examples", file=path)
    return tuple(examples)
