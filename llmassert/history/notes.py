"""Grader notes: ``notes.jsonl`` beside ``labeled.jsonl`` (``<name>.notes.jsonl`` beside
``<name>.labeled.jsonl``), written by ``llmassert label``.

A note with ``criterion: true`` is a requirement the grader discovered while grading (EvalGen's
criteria drift). ``synth`` reads it as an instruction added in the latest version of the prompt
(:func:`note_deltas`), so it is categorized and gets candidate checks like any prompt sentence.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from llmassert.errors import LabelsError
from llmassert.fileio import read_jsonl, validated
from llmassert.history.diff import Delta
from llmassert.history.models import PromptHistory


def notes_path(labels: Path) -> Path:
    """``labeled.jsonl`` -> ``notes.jsonl``; ``<name>.labeled.jsonl`` -> ``<name>.notes.jsonl``."""
    name = labels.name
    if name.endswith(".labeled.jsonl"):
        return labels.with_name(name[: -len(".labeled.jsonl")] + ".notes.jsonl")
    return labels.with_name("notes.jsonl")


class Note(BaseModel):
    """A grader's note. ``criterion: true`` makes ``synth`` treat its text as a new requirement
    of the prompt (criteria drift: what graders want changes as they grade)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    criterion: bool = False
    response: str | None = None  # the key of the response it was written on


def load_notes(path: Path) -> list[Note]:
    """Notes of ``path`` (none when absent); a bad line raises naming file, line and field."""
    if not path.exists():
        return []
    return [
        validated(Note, record, file=path, line=number, error=LabelsError)
        for number, record in read_jsonl(path, LabelsError)
    ]


def note_deltas(history: PromptHistory) -> list[Delta]:
    """The history's criterion notes as deltas of its latest version."""
    latest = history.latest.index
    return [
        Delta(
            prompt=history.name,
            version=latest,
            kind="added",
            text=text,
            context=text,
            variables=history.variables,
        )
        for text in history.notes
    ]


__all__ = ["Note", "load_notes", "note_deltas", "notes_path"]
