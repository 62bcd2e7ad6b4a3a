"""Unified-diff output rules: the structure a prompt asks of edits "like unified diffs".

- "Return edits as (similar to) unified diffs": every ``@@`` hunk follows a ``---`` / ``+++``
  pair of file path lines (``diff_has_file_lines``).
- "Don't include line numbers" in a sentence about diffs or hunks: no ``@@ -12,3 +12,4 @@``
  ranges on hunk headers (``hunk_headers_without_line_numbers``).
- "Don't include timestamps with the file paths": the ``---`` / ``+++`` lines carry no date or
  time (``diff_paths_without_timestamps``).
- "Only output hunks that specify changes with + or - lines": every hunk has a changed line
  (``hunks_have_changes``).

Each check looks at diff lines only, so a response without a diff passes all but the first.
"""

from __future__ import annotations

import re

from llmassert.synth.rules.base import Check
from llmassert.synth.rules.registry import Family, Hit

_RETURN = re.compile(r"\b(?:return|output|write|reply|respond|give|produce|format)\b", re.I)
_DIFF_WORDS = re.compile(r"\bdiffs?\b|\bhunks?\b|@@", re.I)
_PATH_LINES = re.compile(r"\bfile ?paths?\b|\bpath lines?\b|---|\+\+\+", re.I)

_HUNKS = (
    "hunks, current = [], None\n"
    "for line in response.splitlines():\n"
    "    if line.startswith('@@'):\n"
    "        current = []\n"
    "        hunks.append(current)\n"
    "    elif line.startswith(('--- ', '+++ ', '```', '~~~')):\n"
    "        current = None\n"
    "    elif current is not None:\n"
    "        current.append(line)\n"
)


checks = Family("diffs", text=lambda criterion: " ".join(criterion.text.split()))


@checks.on((r"\bunified\s+diffs?\b|\budiffs?\b"), skip_negated=True)
def _file_lines(hit: Hit) -> list[Check]:
    if not _RETURN.search(hit.text[: hit.match.start()]):
        return []
    return [
        Check(
            "diff_has_file_lines",
            "A diff with hunks, each after a --- / +++ pair of file path lines.",
            "lines = response.splitlines()\n"
            "seen_paths, hunks = False, 0\n"
            "for i, line in enumerate(lines):\n"
            "    if line.startswith('--- ') and i + 1 < len(lines) and "
            "lines[i + 1].startswith('+++ '):\n"
            "        seen_paths = True\n"
            "    elif line.startswith('@@'):\n"
            "        hunks += 1\n"
            "        if not seen_paths:\n"
            "            return False\n"
            "return hunks > 0",
        )
    ]


checks.when(
    (r"\bline numbers\b"),
    also=[_DIFF_WORDS],
    if_negated=[
        Check(
            "hunk_headers_without_line_numbers",
            "No line-number ranges on @@ hunk headers.",
            r"return re.search(r'(?m)^@@ -\d+(?:,\d+)? \+\d+', response) is None",
            modules=("re",),
        )
    ],
)
checks.when(
    (r"\btime ?stamps?\b"),
    also=[_PATH_LINES],
    if_negated=[
        Check(
            "diff_paths_without_timestamps",
            "No date or time on the --- / +++ file path lines.",
            "return re.search(r'(?m)^(?:---|\\+\\+\\+) .*(?:\\d{4}-\\d\\d-\\d\\d|"
            "\\d\\d:\\d\\d:\\d\\d)', response) is None",
            modules=("re",),
        )
    ],
)
checks.when(
    (r"\bonly\b.*\bhunks?\b.*(?:`\+`|\+).*(?:`-`|-)|\bskip\b.*\bhunks?\b.*\bunchang"),
    stated=[
        Check(
            "hunks_have_changes",
            "Every @@ hunk has at least one + or - line.",
            _HUNKS + "return all(any(x[:1] in ('+', '-') for x in h) for h in hunks)",
        )
    ],
    if_negated=None,
)
