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
    # review_final.csv: prose about unchanged code, and Python's Ellipsis as a body
    "**Note:** the rest of the code remains unchanged.\n```python\nx = 1\n```",
    "I changed greet(); the rest of the code is unchanged.\n```python\nx = 1\n```",
    "```python\nclass Greeter(Protocol):\n    def greet(self) -> str:\n        ...\n"
    "def f(): ...\nclass Empty:\n    ...\n```",
    "--- a/p.py\n+++ b/p.py\n@@ ... @@\n+class P(Protocol):\n+    def f(self) -> int:\n+        ...\n",
]
BROKEN = {
    "bare ellipsis": "```python\nimport os\n...\ndef main():\n    pass\n```",
    "comment ellipsis": "```js\nconst a = 1;\n// ...\nexport { a };\n```",
    "rest comment": "```js\nconst a = 1;\n// ... rest of the file unchanged\n```",
    "existing code": "```python\n# existing code here\ndef main():\n    pass\n```",
    "ellipsis between code": "```python\ndef a():\n    return 1\n    ...\n```",
    "diff hunk": "--- a/p.py\n+++ b/p.py\n@@ ... @@\n x = 1\n+# ... rest of code unchanged\n",
    "sql comment": "```sql\nSELECT 1;\n-- rest of the file unchanged\n```",
    "ellipsis after a statement": "```python\nimport os\n\n...\n```",
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
    name = "no_content_elided_by_ellipsis_or_comment"
    for response in COMPLIANT:
        assert checks.check(response, {}).results[name] is True, response
    for label, response in BROKEN.items():
        assert checks.check(response, {}).results[name] is False, label
