"""Current semantics: the checked version's sentences, their origins, and retired ones."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from llmassert.errors import HistoryError
from llmassert.history import load_histories
from llmassert.history.current import current_view, pick_version
from llmassert.history.models import PromptHistory, PromptVersion


def _history(*texts: str) -> PromptHistory:
    return PromptHistory(
        name="p",
        versions=tuple(
            PromptVersion(index=i, text=t, source=f"v{i}.txt", label=f"v{i}")
            for i, t in enumerate(texts, 1)
        ),
        origin="mem",
    )


H = _history(
    "Summarize the text.\nRespond in JSON.",
    "Summarize the text.\nRespond in Markdown.\nUse at most 50 words.",
    "Summarize the text.\nRespond in Markdown.\nUse at most 80 words.\nNever use emojis.",
)


def test_latest_is_checked_and_removed_instructions_are_retired() -> None:
    view = current_view(H)
    texts = {u.text: u.origin for u in view.units}
    assert texts == {
        "Summarize the text.": 1,
        "Respond in Markdown.": 2,
        "Use at most 80 words.": 3,
        "Never use emojis.": 3,
    }
    assert {d.text for d in view.retired} == {"Respond in JSON.", "Use at most 50 words."}
    changed = next(u for u in view.units if u.text == "Use at most 80 words.")
    assert changed.change == "changed" and changed.previous == "Use at most 50 words."


def test_an_earlier_version_can_be_checked() -> None:
    view = current_view(H, 1)
    assert {u.text for u in view.units} == {"Summarize the text.", "Respond in JSON."}
    assert view.retired == ()
    assert pick_version(H, "v2").index == 2
    with pytest.raises(HistoryError, match="no version '9'"):
        pick_version(H, "9")


def test_a_readded_instruction_dates_from_its_last_addition() -> None:
    h = _history("Be brief.\nNo emojis.", "Be brief.", "Be brief.\nNo emojis.")
    origins = {u.text: u.origin for u in current_view(h).units}
    assert origins == {"Be brief.": 1, "No emojis.": 3}


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=repo, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def test_git_versions_carry_their_commit_sha(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    prompt = repo / "p.txt"
    shas = []
    for text in (
        "Respond in JSON.\n",
        "Respond in JSON.\nNever use emojis.\n",
        "Never use emojis.\n",
    ):
        prompt.write_text(text)
        _git(repo, "add", "p.txt")
        _git(repo, "commit", "-qm", "edit")
        shas.append(_git(repo, "rev-parse", "HEAD"))
    (history,) = load_histories(prompt, git=True)
    view = current_view(history)
    (unit,) = view.units
    assert (unit.text, unit.origin, unit.origin_sha) == ("Never use emojis.", 2, shas[1])
    (retired,) = view.retired
    assert retired.text == "Respond in JSON." and retired.version == 1
    assert pick_version(history, shas[0][:8]).index == 1


def test_an_all_digit_sha_prefix_names_its_commit_and_a_small_number_its_index() -> None:
    # git shas are hex: about 1 in 40 eight-character prefixes has only digits
    shas = ["35728429" + "ab" * 16, "0123" + "f" * 36]
    history = PromptHistory(
        name="p",
        versions=tuple(
            PromptVersion(index=i, text=f"Rule {i}.", source=sha, label=sha[:7])
            for i, sha in enumerate(shas, 1)
        ),
        origin="repo/p.txt",
    )
    assert pick_version(history, "35728429").index == 1
    assert pick_version(history, "0123").index == 2
    assert pick_version(history, "2").index == 2 and pick_version(history, 1).index == 1
    with pytest.raises(HistoryError, match="no version '99999'"):
        pick_version(history, "99999")
