"""Loading prompt histories from folders, YAML/JSON and git, with labeled examples."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from llmassert.errors import HistoryError, LabelsError
from llmassert.history import LabeledExample, load_histories, load_labels, natural_key, placeholders

LABELS = [
    {"input": {"topic": "tea"}, "response": "Tea is good.", "label": "good"},
    {"input": {"topic": "tea"}, "response": "Coffee.", "label": "bad", "model": "gpt-4", "id": 7},
    {"input": {}, "response": "x", "label": 1},
    {"input": {}, "response": "y", "label": False},
]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_labels(path: Path, records: list[dict[str, object]]) -> Path:
    return write(path, "\n".join(json.dumps(r) for r in records) + "\n")


def test_placeholders_both_syntaxes_in_order() -> None:
    text = 'Write about {topic} in {{ word_count }} words, {topic} again, {{input.tone}}. JSON: {"a": 1} {{ }}'
    assert placeholders(text) == ("topic", "word_count", "tone")


def test_natural_sort() -> None:
    names = ["v10.txt", "v2.txt", "v1.txt", "V3.md"]
    assert sorted(names, key=natural_key) == ["v1.txt", "v2.txt", "V3.md", "v10.txt"]


def test_folder_of_prompt_folders(tmp_path: Path) -> None:
    root = tmp_path / "prompts"
    for i in (1, 2, 10):
        write(root / "summary" / f"v{i}.txt", f"Summarize {{doc}}. Version {i}.")
    write_labels(root / "summary" / "labeled.jsonl", LABELS)
    write(root / "email" / "a.md", "Write an email.")
    write(root / "email" / "b.md", "Write an email. Never use 'Feature'.")
    write(root / "email" / ".hidden", "ignored")
    write(
        root / "faq.yaml",
        "versions:\n  - Answer {question}.\n  - text: Answer {question} briefly.\n    label: short\n",
    )
    histories = load_histories(root)
    assert [h.name for h in histories] == ["email", "faq", "summary"]
    summary = histories[2]
    assert [v.label for v in summary.versions] == ["v1", "v2", "v10"]
    assert [v.index for v in summary.versions] == [1, 2, 3]
    assert summary.versions[2].text == "Summarize {doc}. Version 10."
    assert summary.versions[0].source == str(root / "summary" / "v1.txt")
    assert summary.variables == ("doc",)
    assert len(summary.labeled) == 4 and [e.label for e in summary.labeled] == [1, 0, 1, 0]
    assert histories[0].labeled == ()
    assert [v.label for v in histories[1].versions] == ["v1", "short"]


def test_single_prompt_folder(tmp_path: Path) -> None:
    folder = tmp_path / "summary"
    write(folder / "README.md", "Notes about this prompt, not a version.")
    write(folder / "v1.txt", "One.")
    write(folder / "v2.txt", "One. Two.")
    write_labels(folder / "labeled.jsonl", LABELS[:2])
    (history,) = load_histories(folder)
    assert history.name == "summary" and len(history.versions) == 2 and len(history.labeled) == 2
    assert history.origin == str(folder)


def test_yaml_and_json_files_with_labels_beside(tmp_path: Path) -> None:
    write(tmp_path / "p.json", json.dumps({"name": "pj", "versions": ["A.", {"text": "A. B."}]}))
    write_labels(tmp_path / "p.labeled.jsonl", LABELS)
    (history,) = load_histories(tmp_path / "p.json")
    assert history.name == "pj" and [v.text for v in history.versions] == ["A.", "A. B."]
    assert len(history.labeled) == 4


def test_labels_option_replaces_labels(tmp_path: Path) -> None:
    write(tmp_path / "p.yaml", "versions: [A., A. B.]\n")
    write_labels(tmp_path / "p.labeled.jsonl", LABELS)
    other = write_labels(tmp_path / "other.jsonl", LABELS[:1])
    (history,) = load_histories(tmp_path / "p.yaml", labels=other)
    assert len(history.labeled) == 1


def test_labels_option_needs_a_single_prompt(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "versions: [A., B.]\n")
    write(tmp_path / "b.yaml", "versions: [A., B.]\n")
    labels = write_labels(tmp_path / "l.jsonl", LABELS)
    with pytest.raises(HistoryError, match="applies to one prompt, but 2"):
        load_histories(tmp_path, labels=labels)


# --- labels --------------------------------------------------------------------------------------


def test_label_spellings() -> None:
    for value, expected in [
        ("good", 1),
        ("BAD", 0),
        (1, 1),
        (0, 0),
        (True, 1),
        ("false", 0),
        ("1", 1),
    ]:
        assert LabeledExample(input={}, response="r", label=value).label == expected


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", r"l\.jsonl: line 2: invalid JSON"),
        ("[1, 2]", r"l\.jsonl: line 2: expected a JSON object"),
        ('{"input": {}, "response": "r", "label": "meh"}', r"line 2: label: must be good\|bad"),
        ('{"input": {}, "response": "r"}', r"line 2: label: Field required"),
        ('{"input": "x", "response": "r", "label": 1}', r"line 2: input: "),
        ('{"input": {}, "response": "r", "label": 1, "score": 3}', r"line 2: score: unknown field"),
    ],
)
def test_bad_labels_name_the_line_and_field(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path / "l.jsonl", json.dumps(LABELS[0]) + "\n" + line + "\n")
    with pytest.raises(LabelsError, match=message) as info:
        load_labels(path)
    assert "\n" not in str(info.value)


def test_empty_labels_file(tmp_path: Path) -> None:
    with pytest.raises(LabelsError, match="no labeled examples"):
        load_labels(write(tmp_path / "l.jsonl", "\n\n"))


def test_bad_labels_beside_a_prompt_fail_the_load(tmp_path: Path) -> None:
    write(tmp_path / "p" / "v1.txt", "A.")
    write(tmp_path / "p" / "v2.txt", "B.")
    write(tmp_path / "p" / "labeled.jsonl", "oops\n")
    with pytest.raises(LabelsError, match=r"labeled\.jsonl: line 1"):
        load_histories(tmp_path / "p")


# --- bad inputs ----------------------------------------------------------------------------------


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="does not exist"):
        load_histories(tmp_path / "nope")


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    with pytest.raises(HistoryError, match=r"prompts: no prompt versions found \(empty folder\)"):
        load_histories(tmp_path / "prompts")


def test_empty_prompt_folder_inside_a_collection(tmp_path: Path) -> None:
    write(tmp_path / "ok" / "v1.txt", "A.")
    write(tmp_path / "ok" / "v2.txt", "B.")
    (tmp_path / "empty").mkdir()
    with pytest.raises(HistoryError, match=r"empty: no prompt versions found"):
        load_histories(tmp_path)


def test_one_version_only(tmp_path: Path) -> None:
    write(tmp_path / "p" / "v1.txt", "Only me.")
    with pytest.raises(HistoryError, match="only one version") as info:
        load_histories(tmp_path / "p")
    assert "add an earlier version" in str(info.value)
    write(tmp_path / "q.yaml", "versions: [Only me.]\n")
    with pytest.raises(HistoryError, match=r"q\.yaml: only one version"):
        load_histories(tmp_path / "q.yaml")


def test_non_utf8_version(tmp_path: Path) -> None:
    write(tmp_path / "p" / "v1.txt", "A.")
    (tmp_path / "p" / "v2.txt").write_bytes(b"caf\xe9 \xff")
    with pytest.raises(HistoryError, match=r"v2\.txt: line 1: not UTF-8 text"):
        load_histories(tmp_path / "p")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_version(tmp_path: Path) -> None:
    write(tmp_path / "p" / "v1.txt", "A.")
    locked = write(tmp_path / "p" / "v2.txt", "B.")
    locked.chmod(0)
    try:
        with pytest.raises(HistoryError, match=r"v2\.txt: cannot read"):
            load_histories(tmp_path / "p")
    finally:
        locked.chmod(0o644)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("versions: [a, b\n", r"p\.yaml: line \d+: not valid YAML"),
        ("prompt: hi\n", r"p\.yaml: versions: expected a mapping"),
        ("versions: [A., {txt: B.}]\n", r"p\.yaml: versions\.1"),
        ("versions: [A., B.]\nextra: 1\n", r"p\.yaml: extra: Extra inputs"),
    ],
)
def test_bad_yaml(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path / "p.yaml", text)
    with pytest.raises(HistoryError, match=message):
        load_histories(tmp_path / "p.yaml")


def test_labels_file_passed_as_prompt(tmp_path: Path) -> None:
    path = write_labels(tmp_path / "p.labeled.jsonl", LABELS)
    with pytest.raises(HistoryError, match="is a labels file"):
        load_histories(path)


def test_single_file_without_git(tmp_path: Path) -> None:
    path = write(tmp_path / "p.txt", "Hello.")
    with pytest.raises(HistoryError, match="one version"):
        load_histories(path, git=False)


# --- git -----------------------------------------------------------------------------------------

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")


def git(repo: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "T",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "T",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "--allow-empty", "-q", "-m", message)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    return repo


@needs_git
def test_git_file_versions_oldest_first_following_renames(repo: Path) -> None:
    write(repo / "old.txt", "Summarize {doc}.")
    commit(repo, "v1")
    write(repo / "other.txt", "unrelated")
    commit(repo, "unrelated")
    git(repo, "mv", "old.txt", "summary.txt")
    commit(repo, "rename only")  # same content: skipped
    write(repo / "summary.txt", "Summarize {doc}. Never use 'Feature'.")
    commit(repo, "v2")
    commit(repo, "empty commit")
    write(repo / "summary.txt", "Summarize {doc} in 50 words. Never use 'Feature'.")
    commit(repo, "v3")
    write_labels(repo / "summary.labeled.jsonl", LABELS)
    (history,) = load_histories(repo / "summary.txt")  # auto-detected
    assert history.name == "summary"
    assert [v.text for v in history.versions] == [
        "Summarize {doc}.",
        "Summarize {doc}. Never use 'Feature'.",
        "Summarize {doc} in 50 words. Never use 'Feature'.",
    ]
    assert all(len(v.source) == 40 and v.label == v.source[:7] for v in history.versions)
    assert len(history.labeled) == 4


@needs_git
def test_git_working_tree_edit_is_the_last_version(repo: Path) -> None:
    write(repo / "p.txt", "A.")
    commit(repo, "1")
    write(repo / "p.txt", "A. B.")
    commit(repo, "2")
    write(repo / "p.txt", "A. B. C.")
    (history,) = load_histories(repo / "p.txt", git=True)
    assert [v.label for v in history.versions][-1] == "working tree"
    assert history.versions[-1].text == "A. B. C."


@needs_git
def test_git_forced_for_yaml(repo: Path) -> None:
    write(repo / "p.yaml", "versions: [x]\n")
    commit(repo, "1")
    write(repo / "p.yaml", "versions: [y]\n")
    commit(repo, "2")
    (history,) = load_histories(repo / "p.yaml", git=True)
    assert [v.text for v in history.versions] == ["versions: [x]\n", "versions: [y]\n"]


@needs_git
def test_git_path_outside_a_repo(tmp_path: Path) -> None:
    path = write(tmp_path / "lonely" / "p.txt", "Hello.")
    with pytest.raises(HistoryError, match=r"p\.txt: is not inside a git repository"):
        load_histories(path, git=True)
    with pytest.raises(HistoryError, match=r"outside any git repository"):
        load_histories(path)


@needs_git
def test_git_uncommitted_file(repo: Path) -> None:
    write(repo / "a.txt", "x")
    commit(repo, "1")
    path = write(repo / "p.txt", "Hello.")
    with pytest.raises(HistoryError, match="has no commits"):
        load_histories(path, git=True)


@needs_git
def test_git_one_commit_is_one_version(repo: Path) -> None:
    write(repo / "p.txt", "Hello.")
    commit(repo, "1")
    with pytest.raises(HistoryError, match="only one version"):
        load_histories(repo / "p.txt")


def test_git_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "p.txt", "Hello.")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(HistoryError, match="git is not installed"):
        load_histories(path, git=True)
    with pytest.raises(HistoryError, match="git is not installed to read its history"):
        load_histories(path)


def test_git_flag_on_a_folder(tmp_path: Path) -> None:
    write(tmp_path / "p" / "v1.txt", "A.")
    with pytest.raises(HistoryError, match="--git needs a single prompt file"):
        load_histories(tmp_path / "p", git=True)
