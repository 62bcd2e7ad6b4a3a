"""docs/quickstart.md's sample output is what `llmassert synth examples/prompts` prints."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from llmassert.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_the_quickstart_sample_output_matches_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = (ROOT / "docs" / "quickstart.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\nllmassert synth examples/prompts\n```\n\n```\n(.*?)```", doc, re.S)
    assert block, "quickstart: the synth command and its sample output moved"
    shutil.copytree(ROOT / "examples" / "prompts", tmp_path / "examples" / "prompts")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COLUMNS", raising=False)
    assert main(["synth", "examples/prompts"]) == 0
    printed = capsys.readouterr().out

    def lines(text: str) -> list[str]:
        return [line.rstrip() for line in text.splitlines() if line.strip()]

    assert lines(printed) == lines(block.group(1))
