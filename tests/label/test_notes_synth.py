"""A criterion note written while grading reaches the next `synth` as a criterion."""

from __future__ import annotations

from pathlib import Path

from llmassert.history.notes import Note
from llmassert.label.store import add_note
from llmassert.synth.engine import synthesize

from .kit import write_prompt


def test_criterion_note_adds_a_criterion_and_candidates(tmp_path: Path) -> None:
    folder = write_prompt(tmp_path)
    before = synthesize(folder, out_dir=tmp_path / "a", write=False).prompts[0]
    add_note(folder / "notes.jsonl", Note(text="Never use exclamation marks.", criterion=True))
    add_note(folder / "notes.jsonl", Note(text="just a remark"))
    after = synthesize(folder, out_dir=tmp_path / "b", write=False).prompts[0]
    assert after.criteria == before.criteria + 1
    assert after.manifest is not None
    texts = [c.text for c in after.manifest.criteria]
    assert "Never use exclamation marks." in texts and "just a remark" not in texts
    assert after.candidates > before.candidates  # the rule library checks the new criterion
