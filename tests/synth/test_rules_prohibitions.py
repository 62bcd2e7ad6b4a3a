"""Prohibitions whose banned words are in the verb ("don't tell them to X", creating commands),
on a prompt history written for this test, through the real offline pipeline."""

from __future__ import annotations

import json
from pathlib import Path

from llmassert.assertions.assertion_set import AssertionSet
from llmassert.synth.engine import synthesize
from llmassert.synth.models import Category, Criterion
from llmassert.synth.rules import prohibitions

SETUP_V1 = """You write setup instructions for a web project.
List the steps the developer takes, one per line.
"""

SETUP_V2 = """You write setup instructions for a web project.
List the steps the developer takes, one per line.
The project already runs in a container, so never tell the user to reinstall the dependencies in any way.
Do not give commands to create folders or files; the generator creates them.
"""

COMPLIANT = [
    "1. Open src/app.py in the editor.\n2. Set DEBUG to true.\n3. Reload the page.",
    "1. Copy the example settings to settings.toml.\n2. Touch up the README wording.",
    "1. Edit the routes in web/urls.py.\n2. Ask a colleague to review the change.",
]
BROKEN = {
    "reinstall": "1. Reinstall the dependencies with pip.\n2. Reload the page.",
    "mkdir": "1. Run `mkdir -p src/static`.\n2. Reload the page.",
    "touch": "1. Run:\ntouch src/static/app.css\n2. Reload the page.",
}


def _synth(tmp_path: Path) -> tuple[AssertionSet, dict[str, object]]:
    folder = tmp_path / "prompts" / "setup"
    folder.mkdir(parents=True)
    for i, text in enumerate((SETUP_V1, SETUP_V2), 1):
        (folder / f"v{i}.txt").write_text(text)
    synthesize(tmp_path / "prompts", out_dir=tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "setup.json").read_text())
    return AssertionSet.load(tmp_path / "out" / "setup.py"), manifest


def test_banned_verb_phrases_and_creating_commands_are_checked(tmp_path: Path) -> None:
    checks, manifest = _synth(tmp_path)
    selected = manifest["selection"]["selected"]  # type: ignore[index]
    assert "no_instruction_reinstall_the_dependencies" in selected
    assert "no_mkdir_touch_command" in selected
    for response in COMPLIANT:
        assert checks.check(response, {}).passed, response
    for name, response in BROKEN.items():
        assert not checks.check(response, {}).passed, name


def _criterion(text: str) -> Criterion:
    return Criterion(
        id="c1",
        prompt="p",
        version=1,
        text=text,
        context=text,
        category=Category.EXCLUSION,
        variables=[],
        sha=None,
    )


def test_vague_or_unrelated_sentences_give_no_prohibition() -> None:
    for text in (
        "Don't tell them to wait.",  # one word: too vague to ban
        "Never ask the user to provide {secret_value} here.",  # not plain words
        "Do not run commands that delete files.",  # not a creating command
        "Tell the user to start the app.",  # not a ban
    ):
        assert prohibitions.checks(_criterion(text)) == [], text


def test_only_the_creating_commands_named_are_banned() -> None:
    (folders,) = prohibitions.checks(_criterion("Never output commands to create directories."))
    assert folders.name == "no_mkdir_command"
    assert "touch" not in folders.body


def test_a_ban_on_starting_the_app_covers_the_ways_of_saying_it() -> None:
    (check,) = prohibitions.checks(
        _criterion("The human can press Start, so don't instruct them to start the app in any way.")
    )
    assert check.name == "no_instruction_start_the_app"
    assert check.helpers == ("tells_to_start_app",)
    # Other banned phrases stay literal.
    (other,) = prohibitions.checks(_criterion("Never tell the user to reinstall the package."))
    assert "tells_to_start_app" not in other.body
