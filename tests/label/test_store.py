"""The labels file and the notes sidecar: synth's format, grouped by input, whole or absent."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from llmassert.errors import LabelsError, OutputError
from llmassert.history import load_histories, load_labels
from llmassert.history.notes import Note, load_notes, note_deltas, notes_path
from llmassert.label.session import Item
from llmassert.label.sources import ResponsesError, read_failure_log, read_responses
from llmassert.label.store import LabelStore, add_note

from .kit import write_prompt


def _item(q: str, r: str) -> Item:
    return Item({"q": q}, r, ())


def test_grades_grouped_by_input_and_readable_by_synth(tmp_path: Path) -> None:
    path = tmp_path / "labeled.jsonl"
    store = LabelStore.open(path)
    store.set(_item("a", "1"), 1)
    store.set(_item("b", "2"), 0)
    store.set(_item("a", "3"), 0)  # joins input a's group, before b
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(x["input"]["q"], x["response"], x["label"]) for x in lines] == [
        ("a", "1", "good"),
        ("a", "3", "bad"),
        ("b", "2", "bad"),
    ]
    assert [e.label for e in load_labels(path)] == [1, 0, 0]
    again = LabelStore.open(path)
    assert again.labels() == store.labels()


def test_removing_the_last_grade_of_a_new_file_removes_it(tmp_path: Path) -> None:
    path = tmp_path / "labeled.jsonl"
    store = LabelStore.open(path)
    store.set(_item("a", "1"), 1)
    store.set(_item("a", "1"), None)
    assert not path.exists()


def test_full_disk_keeps_the_file_and_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "labeled.jsonl"
    store = LabelStore.open(path)
    store.set(_item("a", "1"), 1)
    before = path.read_bytes()

    def full(fd: int) -> None:  # what fsync reports when the disk fills up
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OutputError, match="No space"):
        store.set(_item("b", "2"), 0)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert len(store.labels()) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["labeled.jsonl"]  # no temp file left


def test_criterion_notes_reach_synth_as_latest_version_deltas(tmp_path: Path) -> None:
    folder = write_prompt(tmp_path)
    path = notes_path(folder / "labeled.jsonl")
    assert path == folder / "notes.jsonl"
    add_note(path, Note(text="Never use exclamation marks.", criterion=True))
    add_note(path, Note(text="this one was odd"))
    [history] = load_histories(folder)
    assert history.notes == ("Never use exclamation marks.",)
    [delta] = note_deltas(history)
    assert delta.version == 2 and delta.text == "Never use exclamation marks."
    assert len(load_notes(path)) == 2
    assert notes_path(tmp_path / "x.labeled.jsonl") == tmp_path / "x.notes.jsonl"


def test_bad_notes_line_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_text('{"text": "a", "color": 1}\n')
    with pytest.raises(LabelsError, match=r"notes.jsonl: line 1: color"):
        load_notes(path)


def test_responses_file_errors_name_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"input": {}, "response": "x"}\n{"input": [], "response": "y"}\n')
    with pytest.raises(ResponsesError, match=r"r.jsonl: line 2: input"):
        read_responses(path)


def test_failure_log_with_hashes_only_says_what_is_needed(tmp_path: Path) -> None:
    path = tmp_path / "failures.jsonl"
    path.write_text(
        json.dumps({"event": "failure", "input_sha256": "ab", "response_sha256": "cd"}) + "\n"
    )
    with pytest.raises(ResponsesError, match="log_raw=True"):
        read_failure_log(path)
    path.write_text(
        json.dumps({"event": "failure", "input": {"q": 1}, "response": "r"}) * 1
        + "\n"
        + json.dumps({"event": "failure", "input": {"q": 1}, "response": "r"})
        + "\n"
    )
    assert len(read_failure_log(path)) == 1
