"""Math delimiter rules spelled out in a prompt (and the example line before them that no longer
swallows them), through the real offline pipeline on a history written for this test."""

from __future__ import annotations

import json
from pathlib import Path

from llmassert.assertions.assertion_set import AssertionSet
from llmassert.synth.engine import synthesize
from llmassert.synth.roles import classify

TUTOR_V1 = r"""You are a patient maths tutor.

# Style
- Explain each idea in plain words first.
"""

TUTOR_V2 = r"""You are a patient maths tutor.

# Style
- Explain each idea in plain words first.
- Keep a friendly tone. For example: "Nice work, now try the next one."
- Formulas are rendered with MathJax. Only use the math delimiters listed below:
  - inline math mode: \( and \)
  - display math mode: insert a line break after opening $$ and before closing $$
"""

COMPLIANT = [
    r"The area is \(\pi r^2\), so a circle of radius 2 has area \(4\pi\).",
    "The book costs $5 and the workbook $10; the sum is\n$$\nx = 5 + 10\n$$\nwhich is 15.",
    r"No formula needed: halve the number, then add one.",
]
BROKEN = {
    "inline dollars": r"The area is $\pi r^2$ for a circle.",
    "inline equation": "Solve $x = 3$ first.",
    "display on one line": "The sum is $$x = 5 + 10$$ as shown.",
}


def test_an_example_line_with_its_quote_closed_does_not_hide_the_next_rules() -> None:
    roles = {s.text: s.role for s in classify(TUTOR_V2)}
    assert roles["Only use the math delimiters listed below:"] == "output"
    assert roles[r"inline math mode: \( and \)"] == "output"


def test_math_delimiters_are_checked(tmp_path: Path) -> None:
    folder = tmp_path / "prompts" / "tutor"
    folder.mkdir(parents=True)
    for i, text in enumerate((TUTOR_V1, TUTOR_V2), 1):
        (folder / f"v{i}.txt").write_text(text)
    synthesize(tmp_path / "prompts", out_dir=tmp_path / "out")
    selected = json.loads((tmp_path / "out" / "tutor.json").read_text())["selection"]["selected"]
    assert "no_single_dollar_math" in selected
    assert "display_math_on_own_lines" in selected
    checks = AssertionSet.load(tmp_path / "out" / "tutor.py")
    for response in COMPLIANT:
        assert checks.check(response, {}).passed, response
    for name, response in BROKEN.items():
        assert not checks.check(response, {}).passed, name
