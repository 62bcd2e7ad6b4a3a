"""Labeled examples: JSONL with ``input`` (object), ``response`` (string), ``label`` (good|bad)."""

from __future__ import annotations

from pathlib import Path

from llmassert.errors import LabelsError
from llmassert.fileio import read_jsonl, read_text, validated
from llmassert.history.models import LabeledExample

__all__ = ["load_labels", "read_text"]


def load_labels(path: Path) -> tuple[LabeledExample, ...]:
    """Parse a labels JSONL file; any bad line raises :class:`LabelsError` naming line and field."""
    examples = tuple(
        validated(
            LabeledExample,
            record,
            file=path,
            line=number,
            error=LabelsError,
            unknown="unknown field (expected input, response, label, model, id)",
        )
        for number, record in read_jsonl(path, LabelsError)
    )
    if not examples:
        raise LabelsError("no labeled examples", file=path)
    return examples
