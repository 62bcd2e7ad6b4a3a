"""Elided code ('...' lines, 'rest of code' comments) where the prompt bans eliding, through the
real offline pipeline on a history written for this test."""

from __future__ import annotations

import json
from pathlib import Path

from llmassert.assertions.assertion_set import AssertionSet
from llmassert.synth.engine import synthesize

REWRITE_V1 = """You edit programs as the user asks.
Return the updated file in a fenced code block.
"""

REWRITE_V2 = """You edit programs as the user asks.
Return the updated file in a fenced code block.
Never omit or elide code from the file with "..." or with comments like "// rest of the file"!
"""

COMPLIANT = [
    "```js\nconst a = [1, 2, 3];\n// double every value\nconst b = a.map((x) => x * 2);\n```",
    "```python\ndef load(path):\n    # read the remaining bytes\n    return open(path).read()\n```",
    '```python\nprint("loading...")\nwait = "..." if slow else ""\n```',
]
BROKEN = {
    "bare ellipsis": "```python\nimport os\n...\ndef main():\n    pass\n```",
    "comment ellipsis": "```js\nconst a = 1;\n// ...\nexport { a };\n```",
    "rest comment": "```js\nconst a = 1;\n// ... rest of the file unchanged\n```",
    "existing code": "```python\n# existing code here\ndef main():\n    pass\n```",
}


def test_elided_content_is_caught_and_ordinary_comments_pass(tmp_path: Path) -> None:
    folder = tmp_path / "prompts" / "rewrite"
    folder.mkdir(parents=True)
    for i, text in enumerate((REWRITE_V1, REWRITE_V2), 1):
        (folder / f"v{i}.txt").write_text(text)
    synthesize(tmp_path / "prompts", out_dir=tmp_path / "out")
    selected = json.loads((tmp_path / "out" / "rewrite.json").read_text())["selection"]["selected"]
    assert "no_content_elided_by_ellipsis_or_comment" in selected
    assert not any(name.startswith("forbid_rest") for name in selected)  # the literal is subsumed
    checks = AssertionSet.load(tmp_path / "out" / "rewrite.py")
    for response in COMPLIANT:
        assert checks.check(response, {}).passed, response
    for name, response in BROKEN.items():
        assert not checks.check(response, {}).passed, name
