"""Unified-diff structure rules, through the real offline pipeline on a history written for
this test: file path lines, hunk headers without numbers, no timestamps, no unchanged hunks."""

from __future__ import annotations

import json
from pathlib import Path

from llmassert.assertions.assertion_set import AssertionSet
from llmassert.synth.engine import synthesize

PATCH_V1 = """You fix bugs in the user's code.
Reply with the fix.
"""

PATCH_V2 = """You fix bugs in the user's code.

Reply with the fix as a unified diff.
Never put timestamps on the file path lines.
Hunk headers are a bare `@@ @@` line: do not add line numbers to the diff.
Only output hunks that specify changes with `+` or `-` lines.
"""

GOOD_DIFF = (
    "```diff\n--- a/app.py\n+++ b/app.py\n@@ @@\n def f():\n-    return 1\n+    return 2\n```"
)
COMPLIANT = [
    GOOD_DIFF,
    "The bug was an off-by-one.\n\n" + GOOD_DIFF,
    "--- a/x.js\n+++ b/x.js\n@@ @@\n-let a = 1;\n+const a = 1;\n@@ @@\n+export { a };",
]
BROKEN = {
    "no path lines": "```diff\n@@ @@\n-    return 1\n+    return 2\n```",
    "line numbers": GOOD_DIFF.replace("@@ @@", "@@ -3,2 +3,2 @@"),
    "timestamp": GOOD_DIFF.replace("+++ b/app.py", "+++ b/app.py\t2024-01-02 10:11:12"),
    "unchanged hunk": GOOD_DIFF.replace("```diff\n", "```diff\n").replace(
        "@@ @@\n def f():", "@@ @@\n import os\n@@ @@\n def f():"
    ),
    "prose only": "Change the return value of f to 2.",
}


def test_unified_diff_structure_is_checked(tmp_path: Path) -> None:
    folder = tmp_path / "prompts" / "patch"
    folder.mkdir(parents=True)
    for i, text in enumerate((PATCH_V1, PATCH_V2), 1):
        (folder / f"v{i}.txt").write_text(text)
    synthesize(tmp_path / "prompts", out_dir=tmp_path / "out")
    selected = json.loads((tmp_path / "out" / "patch.json").read_text())["selection"]["selected"]
    for name in (
        "diff_has_file_lines",
        "hunk_headers_without_line_numbers",
        "diff_paths_without_timestamps",
        "hunks_have_changes",
    ):
        assert name in selected
    checks = AssertionSet.load(tmp_path / "out" / "patch.py")
    for response in COMPLIANT:
        assert checks.check(response, {}).passed, response
    for name, response in BROKEN.items():
        assert not checks.check(response, {}).passed, name
