"""Synthesis on prompt histories shaped like real ones (written for these tests), one per
failure class of issue 16: pasted text, output templates, per-bullet and per-section limits,
removed instructions, process steps, label lists, rating scales, contradictions, misparses.

Every test runs the real pipeline (``synthesize`` offline, no labels), loads the written module
with ``AssertionSet.load`` and checks hand-written compliant and broken responses.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from llmassert.assertions.assertion_set import AssertionSet
from llmassert.synth.engine import synthesize

TALK_V1 = """# IDENTITY and PURPOSE

You are an expert at summarizing technical talks.

Take a deep breath and think step by step about how to best accomplish this goal.

# OUTPUT INSTRUCTIONS

- Output in JSON.
- Write at most 200 words.

# INPUT

INPUT:
"""

TALK_V2 = """# IDENTITY and PURPOSE

You are an expert at summarizing technical talks.

Take a deep breath and think step by step about how to best accomplish this goal.

# STEPS

- Read the whole transcript carefully.

- In a section called SUMMARY, write a single sentence that captures the talk.

- Extract 5 to 10 of the most surprising ideas into a section called IDEAS.

- Extract the best quotes into a section called QUOTES.

- Rate the talk's quality as NONE, LOW, MEDIUM, HIGH, or EXCEPTIONAL in a section called RATING.

# CONTEXT

Rugby union is a close-contact team sport that originated at Rugby School in the first half of the nineteenth century. One of the two codes of rugby football, it is based on running with the ball in hand. In its most common form, a game is played between two teams of fifteen players each, using an oval-shaped ball on a rectangular field called a pitch. The field has H-shaped goalposts at both ends. Rugby union is a popular sport around the world, played by people regardless of gender, age or size.

# OUTPUT INSTRUCTIONS

- Only output Markdown.
- Each bullet must be 12 words or less.
- Do not output the ```markdown or any ``` tags.
- Output all sections above in order.
- Do not use the word "delve".
- [FILENAME] is the lowercase file name of the talk.
- NEVER SKIP LINES in the HEAD section.

# INPUT

INPUT:
"""

GOOD = """# SUMMARY

The speaker argues that small teams ship better software by cutting process.

# IDEAS

- Small teams communicate faster than large departments ever can.
- Process grows to fill every gap left by trust.
- Shipping weekly exposes mistakes while they are still cheap.
- Code review works best when reviewers own the outcome.
- Most meetings can become a short written update.

# QUOTES

- "Trust is the cheapest process you will ever buy."

# RATING

HIGH
"""


def _swap(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


BROKEN = {
    "summary has two sentences": _swap(
        GOOD, "by cutting process.", "by cutting process. It was a good talk."
    ),
    "one bullet over 12 words": _swap(
        GOOD,
        "- Most meetings can become a short written update.",
        "- Most meetings can become a short written update that everyone reads before lunch.",
    ),
    "too few ideas": GOOD.replace(
        "- Most meetings can become a short written update.\n", ""
    ).replace("- Code review works best when reviewers own the outcome.\n", ""),
    "rating off the scale": _swap(GOOD, "HIGH\n", "Pretty good overall\n"),
    "sections out of order": GOOD.split("# QUOTES")[0].replace(
        "# SUMMARY", "# RATING\n\nHIGH\n\n# SUMMARY"
    )
    + '# QUOTES\n\n- "Trust."\n',
    "fenced output": "```markdown\n" + GOOD + "```\n",
    "uses delve": _swap(GOOD, "argues that", "delves into how"),
}


def _synth(tmp_path: Path, *versions: str, **kwargs: Any) -> tuple[AssertionSet, dict[str, Any]]:
    folder = tmp_path / "prompts" / "talk"
    folder.mkdir(parents=True)
    for i, text in enumerate(versions, 1):
        (folder / f"v{i}.txt").write_text(text)
    out = tmp_path / "out"
    report = synthesize(tmp_path / "prompts", out_dir=out, **kwargs)
    manifest = json.loads((out / "talk.json").read_text())
    assert report.prompts[0].validated is False
    return AssertionSet.load(out / "talk.py"), manifest


def _failed(checks: AssertionSet, response: str) -> list[str]:
    return list(checks.check(response, {}).failures) if checks.check(response, {}).failures else []


def test_compliant_passes_and_each_broken_response_is_caught(tmp_path: Path) -> None:
    checks, manifest = _synth(tmp_path, TALK_V1, TALK_V2)
    assert checks.check(GOOD, {}).passed, checks.check(GOOD, {})
    for what, response in BROKEN.items():
        assert not checks.check(response, {}).passed, what
    # The prompt's own template, filled in, passes every selected check (the self-test).
    sample = manifest["self_test"]["template_response"]
    assert "SUMMARY" in sample and "RATING" in sample
    assert checks.check(sample, {}).passed


def test_limits_are_checked_at_the_scope_the_sentence_names(tmp_path: Path) -> None:
    checks, manifest = _synth(tmp_path, TALK_V1, TALK_V2)
    by_text = {c["id"]: c["text"] for c in manifest["criteria"]}
    code = {c["name"]: (by_text[c["criterion_id"]], c["code"]) for c in manifest["candidates"]}
    selected = manifest["selection"]["selected"]
    bullet = [n for n in selected if code[n][0].startswith("Each bullet")]
    assert (
        bullet and "all_items_within" in code[bullet[0]][1] and "max_words=12" in code[bullet[0]][1]
    )
    summary = [n for n in selected if "section called SUMMARY" in code[n][0]]
    assert summary and "section_text(response, 'SUMMARY'" in code[summary[0]][1]
    # Many sentences and bullets in the whole response are fine: nothing bounds the total.
    long_good = GOOD.replace(
        "HIGH\n", "HIGH\n\nThat rating reflects the depth. It also reflects clarity.\n"
    )
    assert not any(
        "word_count(response)" in code[n][1] or "sentence_count(response)" in code[n][1]
        for n in selected
    )
    assert checks.check(long_good, {}).results["section_ideas"] is True


def test_retired_and_non_instruction_sentences_are_reported_not_checked(tmp_path: Path) -> None:
    _checks, manifest = _synth(tmp_path, TALK_V1, TALK_V2)
    texts = " ".join(c["text"] for c in manifest["criteria"])
    code = " ".join(manifest["candidates"][i]["code"] for i in range(len(manifest["candidates"])))
    # Removed instructions: JSON and the 200-word limit of v1 are retired, never checked.
    retired = {r["text"] for r in manifest["history"]["retired"]}
    assert {"Output in JSON.", "Write at most 200 words."} <= retired
    assert "Output in JSON" not in texts and "is_json" not in code and "200" not in code
    # Pasted essay, persona and process steps are listed by role, and give no criteria.
    roles: dict[str, list[str]] = {}
    for s in manifest["history"]["not_instructions"]:
        roles.setdefault(s["role"], []).append(s["text"])
    assert any("Rugby" in t for t in roles["pasted"]) and "rugby" not in texts.casefold()
    assert any("step by step" in t for t in roles["process"])
    assert any(t.startswith("You are an expert") for t in roles["persona"])
    assert any(t.startswith("[FILENAME]") for t in roles["input"])
    # Misparses of issue 16.
    assert "'markdown or any'" not in code and "'or any'" not in code
    assert "is_lowercase" not in code
    assert "'head'" not in code.casefold() and "'HEAD'" not in code
    assert "not code_blocks(response)" in code
    # Versions and their origins are recorded.
    assert manifest["history"]["checked"] == 2
    assert [v["label"] for v in manifest["history"]["versions"]] == ["v1", "v2"]
    assert manifest["validated"] is False


def test_an_older_version_can_be_checked(tmp_path: Path) -> None:
    checks, manifest = _synth(tmp_path, TALK_V1, TALK_V2, version="1")
    assert manifest["history"]["checked"] == 1 and manifest["history"]["retired"] == []
    assert checks.check('{"summary": "Small teams win."}', {}).passed
    assert not checks.check(GOOD, {}).passed  # Markdown, not JSON


LABELS = """You label GitHub issues.

Possible labels:
- bug
- feature
- question
- documentation

ONLY generate labels from the list above.
Output the labels as a comma-separated list and nothing else.
"""

RISK = """You assess the security risk of a code change.

Rate the overall risk as NONE DETECTED, LOW, MEDIUM, HIGH, or CRITICAL.
Give a confidence score from 1 - 10, in .1 intervals.
"""


def test_label_lists_and_rating_scales(tmp_path: Path) -> None:
    checks, _m = _synth(tmp_path, "You label GitHub issues.\n", LABELS)
    assert checks.check("bug, documentation", {}).passed
    assert not checks.check("bug, urgent", {}).passed
    risk_dir = tmp_path / "risk"
    risk_dir.mkdir()
    checks, _m = _synth(risk_dir, "You assess the security risk of a code change.\n", RISK)
    assert checks.check("Risk: MEDIUM\nConfidence: 7.5", {}).passed
    assert not checks.check("Risk: moderate\nConfidence: 7.5", {}).passed
    assert not checks.check("Risk: LOW\nConfidence: 12", {}).passed
    assert not checks.check("Risk: LOW\nConfidence: 7.25", {}).passed


CONFLICT_V1 = "Summarize the meeting.\n"
CONFLICT_V2 = """Summarize the meeting.
Start the response with a markdown header.
Respond in plain text only.
"""


def test_contradicting_checks_are_not_both_selected(tmp_path: Path) -> None:
    checks, manifest = _synth(tmp_path, CONFLICT_V1, CONFLICT_V2)
    pairs = manifest["self_test"]["contradictions"]
    assert pairs, manifest["self_test"]
    selected = set(manifest["selection"]["selected"])
    for _kept, dropped in pairs:
        assert dropped not in selected
    # Some response passes every selected check.
    assert (
        checks.check("# Meeting\n\nWe agreed to ship on Friday.", {}).passed
        or checks.check("We agreed to ship on Friday.", {}).passed
    )


CONDITIONAL = """You are a coding assistant.
If the request is ambiguous, ask questions.
Never use `eval` to run user input.
Start each hunk of changes with a `@@ ... @@` line.
Always reply in the same language as the user.
"""


def test_conditional_and_per_part_sentences_get_no_unconditional_check(tmp_path: Path) -> None:
    checks, manifest = _synth(tmp_path, "You are a coding assistant.\n", CONDITIONAL)
    code = " ".join(c["code"] for c in manifest["candidates"])
    assert "questions(response)" not in code  # "If ... ask questions" is conditional
    assert "'eval'" not in code  # a ban for one purpose only
    assert "@@ ... @@" not in code  # a pattern, not a phrase
    example = {"request": "Bitte mache die Funktion schneller und schreibe Tests dafür."}
    assert "same_language_as_input" in manifest["selection"]["selected"]
    assert not checks.check("Here is the faster function and its tests.", example).passed
    assert checks.check("Hier ist die schnellere Funktion und die Tests dafür.", example).passed


def test_cli_synth_on_a_git_history_is_offline_and_deterministic(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=repo, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return done.stdout.strip()

    git("init", "-q")
    shas = []
    for text in (TALK_V1, TALK_V2):
        (repo / "talk.md").write_text(text)
        git("add", "talk.md")
        git("commit", "-qm", "edit prompt")
        shas.append(git("rev-parse", "HEAD"))
    outs = []
    for run in ("a", "b"):
        # The same command twice, from two folders: the module's header names the manifest by
        # the --out path given (here relative), so the files must match byte for byte.
        (tmp_path / run).mkdir()
        out = tmp_path / run / "out"
        done = subprocess.run(
            [sys.executable, "-m", "llmassert.cli", "synth", str(repo / "talk.md"), "--out", "out"],
            capture_output=True, text=True, cwd=tmp_path / run, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "not checked:" in done.stdout and "pasted" in done.stdout
        outs.append(((out / "talk.py").read_text(), (out / "talk.json").read_text()))
    assert outs[0] == outs[1]
    manifest = json.loads(outs[0][1])
    assert [v["sha"] for v in manifest["history"]["versions"]] == shas
    origin = {c["text"]: (c["version"], c["sha"]) for c in manifest["criteria"]}
    assert origin["Only output Markdown."] == (2, shas[1])
    assert all(r["sha"] == shas[0] for r in manifest["history"]["retired"])
    checks = AssertionSet.load(tmp_path / "a" / "out" / "talk.py")
    assert checks.check(GOOD, {}).passed


MISREADINGS = """You write commit-free diffs.
Don't include line numbers like `diff -U0` does.
Our prompts are in English, but the user may write in another language and you should respond in that language.
Also, you must not create tasks without an endpoint - for example, "update" tasks.
Always respond to the user in the language that they used.
"""


def test_comparisons_examples_and_the_users_language_are_not_misread(tmp_path: Path) -> None:
    _checks, manifest = _synth(tmp_path, "You write diffs.\n", MISREADINGS)
    code = " ".join(c["code"] for c in manifest["candidates"])
    assert "'diff -U0'" not in code  # "like `diff -U0` does" compares, it is not a phrase
    assert "no_numbers" not in code  # "line numbers" are not numbers in the response
    assert "english" not in code  # "in English, but respond in that language"
    assert "'update'" not in code  # the example after "- for example," is not the rule
    assert "same_language_as_input" in manifest["selection"]["selected"]


def test_unvalidated_checks_warn_and_labels_or_the_flag_make_them_block(tmp_path: Path) -> None:
    # Without labels nothing measured how often the checks fail good outputs: each is written as
    # severity warn (reported, never enforced); the broken response still gets its warnings.
    checks, manifest = _synth(tmp_path, TALK_V1, TALK_V2)
    assert manifest["unvalidated_severity"] == "warn"
    assert checks.names and checks.warn_names == frozenset(checks.names)
    broken = checks.check(BROKEN["uses delve"], {})
    assert broken.failures and checks.blocking(broken).passed
    # The user's explicit choice enforces them, and a re-selection keeps it.
    blocking, manifest = _synth(tmp_path / "block", TALK_V1, TALK_V2, unvalidated="block")
    assert manifest["unvalidated_severity"] == "block" and not blocking.warn_names
    assert not blocking.blocking(blocking.check(BROKEN["uses delve"], {})).passed
    done = subprocess.run(
        [sys.executable, "-m", "llmassert.cli", "select", str(tmp_path / "block" / "out" / "talk.json"),
         "--alpha", "0.5", "--force"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert not AssertionSet.load(tmp_path / "block" / "out" / "talk.py").warn_names
