""" "Explain ... in a few short sentences" inside a process step is an output length rule, checked
on the prose outside code fences. Real offline pipeline on a history written for this test."""

from __future__ import annotations

import json
from pathlib import Path

from llmassert.assertions.assertion_set import AssertionSet
from llmassert.synth.engine import synthesize

FIX_V1 = """You fix failing tests.
Reply with the corrected function in a fenced code block.
"""

FIX_V2 = """You fix failing tests.
Reply with the corrected function in a fenced code block.
Think it through step by step and explain the fix in a few short sentences.
"""

CODE = "```python\ndef add(a, b):\n    # Sum. Then return.\n    return a + b\n```"
COMPLIANT = [
    "The sign was wrong. I flipped it.\n\nsrc/calc.py\n" + CODE,
    CODE + "\nThat is all. Tests pass now.",
    "One change fixes it: the operator.\n" + CODE,
    # review_final.csv: intro, four numbered steps and a lead-in count 6 sentences, not 10
    "To make this change we need to:\n\n1. Add a parameter.\n2) Use it in the message.\n"
    "3. Keep the default.\n4. Update the call.\n\nHere are the blocks:\n" + CODE,
]
BROKEN = {
    "long explanation": " ".join(f"Point {i} matters." for i in range(12)) + "\n" + CODE,
    "long numbered list": "".join(f"{i}. Step {i} is done.\n" for i in range(1, 10)) + CODE,
}


def test_a_few_sentences_bounds_the_prose_only(tmp_path: Path) -> None:
    folder = tmp_path / "prompts" / "fix"
    folder.mkdir(parents=True)
    for i, text in enumerate((FIX_V1, FIX_V2), 1):
        (folder / f"v{i}.txt").write_text(text)
    synthesize(tmp_path / "prompts", out_dir=tmp_path / "out")
    selected = json.loads((tmp_path / "out" / "fix.json").read_text())["selection"]["selected"]
    assert "few_sentences_max_7" in selected
    checks = AssertionSet.load(tmp_path / "out" / "fix.py")
    for response in COMPLIANT:
        assert checks.check(response, {}).passed, response
    for name, response in BROKEN.items():
        assert not checks.check(response, {}).passed, name
