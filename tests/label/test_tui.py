"""`llmassert label` on a real pseudo-terminal (pexpect): grade, undo, quit, resume, kill -9."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pexpect
import pytest

from llmassert.history import load_labels

from .kit import RESPONSES, write_prompt, write_responses

KEYS = "q quit"
REPO = Path(__file__).resolve().parents[2]


def _spawn(tmp_path: Path, *args: str) -> pexpect.spawn:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TERM": "dumb", "NO_COLOR": "1"}
    env.pop("LLMASSERT_MODEL", None)  # offline: no model from the environment
    return pexpect.spawn(
        sys.executable,
        ["-m", "llmassert.cli", "label", "tickets", *args],
        cwd=str(tmp_path),
        env=env,
        encoding="utf-8",
        timeout=90,
        dimensions=(60, 140),
    )


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    write_prompt(tmp_path)
    write_responses(tmp_path / "responses.jsonl")
    return tmp_path


def _labels(tmp_path: Path) -> list[tuple[str, int]]:
    path = tmp_path / "tickets" / "labeled.jsonl"
    return [(e.response, e.label) for e in load_labels(path)] if path.exists() else []


def test_grade_undo_quit_then_resume_never_asks_twice(workspace: Path) -> None:
    child = _spawn(workspace, "--responses", "responses.jsonl", "--strategy", "order")
    child.expect(KEYS)
    child.send("g")
    child.expect("saved as good")
    child.expect(KEYS)
    child.send("b")
    child.expect("saved as bad")
    child.expect(KEYS)
    assert _labels(workspace) == [(RESPONSES[0][1], 1), (RESPONSES[1][1], 0)]
    child.send("u")  # takes back the bad grade: the file follows at once
    child.expect("undid the grade")
    child.expect(KEYS)
    assert _labels(workspace) == [(RESPONSES[0][1], 1)]
    child.send("g")  # the undone response is shown again; grade it good this time
    child.expect("saved as good")
    child.expect(KEYS)
    child.send("q")
    child.expect("2 graded this session")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert _labels(workspace) == [(RESPONSES[0][1], 1), (RESPONSES[1][1], 1)]

    again = _spawn(workspace, "--responses", "responses.jsonl", "--strategy", "order")
    again.expect(KEYS)
    first = again.before
    assert "2 graded" in first  # resumed from the file
    # Responses 0 and 1 are not offered again: the next one shown is response 2.
    assert RESPONSES[2][1] in first
    for _ in range(len(RESPONSES) - 3):
        again.send("b")
        again.expect("saved as bad")
        again.expect(KEYS)
    again.send("b")
    again.expect("Nothing left to grade")
    again.expect(pexpect.EOF)
    labels = _labels(workspace)
    assert len(labels) == len(RESPONSES)
    assert len({r for r, _ in labels}) == len(RESPONSES)  # never asked twice


def test_kill_9_mid_session_loses_nothing_graded(workspace: Path) -> None:
    child = _spawn(workspace, "--responses", "responses.jsonl")
    for _ in range(3):
        child.expect(KEYS)
        child.send("g")
        child.expect("saved as good")
    child.expect(KEYS)
    child.kill(signal.SIGKILL)
    child.close()
    graded = _labels(workspace)  # parses: the file is valid JSONL in synth's format
    assert len(graded) == 3
    leftovers = [p.name for p in (workspace / "tickets").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []

    again = _spawn(workspace, "--responses", "responses.jsonl")
    again.expect(KEYS)
    assert "3 graded" in again.before
    again.send("q")
    again.expect(pexpect.EOF)
    assert _labels(workspace) == graded


def test_note_becomes_a_criterion_for_the_next_synth(workspace: Path) -> None:
    child = _spawn(workspace, "--responses", "responses.jsonl")
    child.expect(KEYS)
    child.send("n")
    child.expect("note: ")
    child.sendline("Never use exclamation marks.")
    child.expect(r"\[y/N\]")
    child.sendline("y")
    child.expect("as a criterion")
    child.expect(KEYS)
    child.send("q")
    child.expect(pexpect.EOF)
    notes = (workspace / "tickets" / "notes.jsonl").read_text().splitlines()
    assert json.loads(notes[0])["criterion"] is True


def test_checks_shown_with_their_verdicts(workspace: Path) -> None:
    child = _spawn(workspace, "--responses", "responses.jsonl", "--strategy", "order")
    child.expect(KEYS)
    screen = child.before
    assert "ticket: Login fails" in screen  # the input variables
    assert "fail" in screen.lower() and "checks:" in screen
    child.send("q")
    child.expect(pexpect.EOF)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"input": {}, "respons": "x"}\n', "responses.jsonl: line 1: respons"),
        ('{"input": "a", "response": "x"}\n', "responses.jsonl: line 1: input"),
        ("not json\n", "responses.jsonl: line 1: invalid JSON"),
    ],
)
def test_bad_responses_file_is_one_line_exit_2(workspace: Path, content: str, message: str) -> None:
    (workspace / "responses.jsonl").write_text(content)
    child = _spawn(workspace, "--responses", "responses.jsonl")
    child.expect(pexpect.EOF)
    child.close()
    out = child.before.strip()
    assert child.exitstatus == 2
    assert message in out and len(out.splitlines()) == 1
    assert not (workspace / "tickets" / "labeled.jsonl").exists()


def test_hash_only_failure_log_is_refused_with_what_is_needed(workspace: Path) -> None:
    (workspace / "failures.jsonl").write_text(
        json.dumps({"event": "failure", "input_sha256": "a", "response_sha256": "b"}) + "\n"
    )
    child = _spawn(workspace, "--from-log", "failures.jsonl")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
    assert "log_raw=True" in child.before and len(child.before.strip().splitlines()) == 1


def test_inputs_without_a_model_is_refused(workspace: Path) -> None:
    (workspace / "inputs.jsonl").write_text(json.dumps({"ticket": "x"}) + "\n")
    child = _spawn(workspace, "--inputs", "inputs.jsonl")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
    assert "--model" in child.before and len(child.before.strip().splitlines()) == 1
