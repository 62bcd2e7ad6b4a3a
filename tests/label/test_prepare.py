"""Checks come from synth's manifest when there is one, else from the rule library."""

from __future__ import annotations

from pathlib import Path

from llmassert.label.prepare import labels_path, prepare
from llmassert.label.selection import Targets
from llmassert.label.sources import read_responses
from llmassert.synth.engine import synthesize
from llmassert.synth.manifest import load_manifest

from .kit import write_prompt, write_responses


def test_manifest_candidates_then_rule_library(tmp_path: Path) -> None:
    folder = write_prompt(tmp_path)
    responses = read_responses(write_responses(tmp_path / "r.jsonl"))
    offline = prepare(folder, responses, assertions=tmp_path / "none", targets=Targets())
    assert offline.candidates_from == "rule library"
    assert offline.session.checks  # bullets / refund rules apply
    # "- one ... - five" breaks "at most 3 bullet points": some check fails it, and passes "- Page is slow".
    five = next(k for k in offline.session.all_keys() if "five" in offline.session.item(k).response)
    one = next(
        k
        for k in offline.session.all_keys()
        if offline.session.item(k).response == "- Page is slow"
    )
    failing = {c.name for c, ok, _ in offline.session.verdicts(five) if not ok}
    passing = {c.name for c, ok, _ in offline.session.verdicts(one) if ok}
    assert failing & passing

    synthesize(folder, out_dir=tmp_path / "assertions")
    manifest = load_manifest(tmp_path / "assertions" / "tickets.json")
    from_manifest = prepare(
        folder, responses, assertions=tmp_path / "assertions", targets=Targets()
    )
    assert from_manifest.candidates_from.endswith("tickets.json")
    assert [c.name for c in from_manifest.session.checks] == [
        c.name for c in manifest.candidates if c.kind != "llm_judge"
    ]
    assert labels_path(from_manifest.history) == folder / "labeled.jsonl"
