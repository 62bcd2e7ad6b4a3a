"""The labels file and the notes sidecar, written in full after every change.

Every write goes through :func:`llmassert.fileio.atomic_write_text` (temp file, fsync, rename), so
the file on disk is always the previous version or the new one: Ctrl-C, ``kill -9`` or a full disk
loses at most the grade being written, never one already saved, and never leaves a torn line.
A grade counts as saved only once the write returned; the driver records it in the session after.

``labeled.jsonl`` keeps the format ``synth`` reads (:mod:`llmassert.history.labels`); lines are
grouped by input (responses to the same input stay together, as the holdout split expects), groups
in order of first appearance. Lines already in the file for responses outside this session are
kept as they were.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmassert.errors import LabelsError
from llmassert.fileio import atomic_write_text
from llmassert.history.labels import load_labels, read_text
from llmassert.history.models import LabeledExample
from llmassert.history.notes import Note, load_notes
from llmassert.label.session import Item, item_key
from llmassert.synth.manifest import stable_id


@dataclass
class LabelStore:
    path: Path
    records: dict[str, LabeledExample] = field(default_factory=dict)  # key -> line, file order
    created: bool = False  # the file did not exist before this session

    @classmethod
    def open(cls, path: Path) -> LabelStore:
        """Read what an earlier session saved (nothing when the file is absent or empty)."""
        store = cls(path, created=not path.exists())
        if path.exists() and read_text(path, LabelsError).strip():  # an empty file: no labels
            for ex in load_labels(path):
                store.records[item_key(ex.input, ex.response)] = ex
        return store

    def labels(self) -> dict[str, int]:
        return {k: ex.label for k, ex in self.records.items()}

    def set(self, item: Item, label: int | None) -> None:
        """Save ``item`` graded ``label`` (None: remove its grade), then update memory."""
        records = dict(self.records)
        if label is None:
            records.pop(item.key, None)
        else:
            records[item.key] = LabeledExample(
                input=item.input, response=item.response, label=label, model=item.model, id=item.id
            )
        if not records and self.created:
            # Undoing every grade of a file this session created: an empty labels file would
            # stop `synth` ("no labeled examples"), so it goes away again.
            self.path.unlink(missing_ok=True)
        else:
            atomic_write_text(self.path, render(records.values()))
        self.records = records


def render(records: Iterable[LabeledExample]) -> str:
    groups: dict[str, list[LabeledExample]] = {}
    for ex in records:
        groups.setdefault(stable_id(ex.input), []).append(ex)
    lines = []
    for group in groups.values():
        for ex in group:
            row: dict[str, Any] = {
                "input": ex.input,
                "response": ex.response,
                "label": "good" if ex.good else "bad",
            }
            if ex.model is not None:
                row["model"] = ex.model
            if ex.id is not None:
                row["id"] = ex.id
            lines.append(json.dumps(row, ensure_ascii=False))
    return "".join(line + "\n" for line in lines)


def add_note(path: Path, note: Note) -> None:
    notes = [*load_notes(path), note]
    atomic_write_text(path, "".join(n.model_dump_json(exclude_defaults=True) + "\n" for n in notes))


__all__ = ["LabelStore", "add_note", "render"]
