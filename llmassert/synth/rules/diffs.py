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

from llmassert.synth.models import Criterion
from llmassert.synth.rules.base import Check, negated

_UDIFF = re.compile(r"\bunified\s+diffs?\b|\budiffs?\b", re.I)
_RETURN = re.compile(r"\b(?:return|output|write|reply|respond|give|produce|format)\b", re.I)
_LINE_NUMBERS = re.compile(r"\bline numbers\b", re.I)
_DIFF_WORDS = re.compile(r"\bdiffs?\b|\bhunks?\b|@@", re.I)
_TIMESTAMPS = re.compile(r"\btime ?stamps?\b", re.I)
_PATH_LINES = re.compile(r"\bfile ?paths?\b|\bpath lines?\b|---|\+\+\+", re.I)
_ONLY_CHANGED_HUNKS = re.compile(
    r"\bonly\b.*\bhunks?\b.*(?:`\+`|\+).*(?:`-`|-)|\bskip\b.*\bhunks?\b.*\bunchang", re.I
)

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


def checks(criterion: Criterion) -> list[Check]:
    text = " ".join(criterion.text.split())
    out: list[Check] = []
    m = _UDIFF.search(text)
    if m and _RETURN.search(text[: m.start()]) and not negated(text, m.start()):
        out.append(
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
        )
    ln = _LINE_NUMBERS.search(text)
    if ln and _DIFF_WORDS.search(text) and negated(text, ln.start()):
        out.append(
            Check(
                "hunk_headers_without_line_numbers",
                "No line-number ranges on @@ hunk headers.",
                r"return re.search(r'(?m)^@@ -\d+(?:,\d+)? \+\d+', response) is None",
                modules=("re",),
            )
        )
    ts = _TIMESTAMPS.search(text)
    if ts and _PATH_LINES.search(text) and negated(text, ts.start()):
        out.append(
            Check(
                "diff_paths_without_timestamps",
                "No date or time on the --- / +++ file path lines.",
                "return re.search(r'(?m)^(?:---|\\+\\+\\+) .*(?:\\d{4}-\\d\\d-\\d\\d|"
                "\\d\\d:\\d\\d:\\d\\d)', response) is None",
                modules=("re",),
            )
        )
    if _ONLY_CHANGED_HUNKS.search(text):
        out.append(
            Check(
                "hunks_have_changes",
                "Every @@ hunk has at least one + or - line.",
                _HUNKS + "return all(any(x[:1] in ('+', '-') for x in h) for h in hunks)",
            )
        )
    return out
