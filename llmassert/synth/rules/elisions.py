"""Elided code: "never skip, omit or elide content using "..." or comments like "rest of code"".

A negated sentence that bans eliding (skip/omit/elide/truncate/abbreviate) content, code or a
file gives one check on the code regions
of the response (fenced blocks, else a bare diff) (``no_content_elided_by_ellipsis_or_comment``): no line that is only ``...`` / ``…`` (bare, or
alone in a comment), and no comment that stands for omitted code ("// ... rest of code",
"# remaining methods unchanged ...", "<!-- existing code -->").

Ordinary comments pass; so do prose outside code, an ellipsis inside a line of code, and a
Python Ellipsis body (a bare ``...`` right after a ``def``/``class`` header).
"""

from __future__ import annotations

import re

from llmassert.synth.rules.base import Check, literal, negated
from llmassert.synth.rules.registry import Family, Hit

_ELIDE = re.compile(r"\b(?:skip|omit|elide|truncate|abbreviate|leave out|cut)\w*\b", re.I)
_WHAT = re.compile(r"\b(?:content|code|file|files|listing|lines?|function|body)\b", re.I)

# Real comment syntax only: '--' (SQL/Lua) counts at line start, after an optional diff prefix;
# ';' and '*' are not markers, since prose like "**Note:** the rest is unchanged" is no comment.
_MARK = r"(?://|#|/\*|<!--)"
_LEAD = r"^[ \t]*[+ -]?[ \t]*"  # indentation and an optional diff prefix
ELLIPSIS_LINE = rf"{_LEAD}(?:(?:{_MARK}|--)[ \t]*)?(?:\.\.\.|…)[ \t]*(?:\*/|-->)?[ \t]*$"
_COMMENT = rf"(?:{_MARK}|{_LEAD}--)"
ELISION_COMMENT = (
    rf"(?im){_COMMENT}[^\n]*(?:\.\.\.|…)[^\n]*\b(?:rest|remaining|existing|unchanged|omitted|"
    r"same as before|previous|other (?:code|methods|functions))\b"
    rf"|{_COMMENT}[^\n]*\b(?:rest of (?:the )?(?:code|file|function|class|method|component)|"
    r"(?:code|file|rest) (?:remains )?unchanged|existing code (?:here|remains|unchanged))\b"
)
# Code regions: fenced blocks, else a bare diff from its first ---/+++/@@ line.
FENCED = r"(?ms)^[ \t]*(```|~~~)[^\n]*\n(.*?)^[ \t]*\1"
DIFF_START = r"(?m)^(?:--- |\+\+\+ |@@)"
# A bare '...' right after a def/class header is Python's Ellipsis body (stubs, Protocols).
DEF_HEADER = r"^[ \t]*[+ -]?[ \t]*(?:async[ \t]+)?(?:def|class)\b[^\n]*:[ \t]*(?:#[^\n]*)?$"


checks = Family("elisions", text=lambda criterion: " ".join(criterion.text.split()))


@checks.on(_ELIDE, also=[_WHAT])
def _elision_checks(hit: Hit) -> list[Check]:
    if not negated(hit.text, hit.match.start() + 1, window=4):
        return []
    # One check for the sentence (without labels one candidate per criterion is kept): both
    # ways of eliding that the sentence names.
    return [
        Check(
            "no_content_elided_by_ellipsis_or_comment",
            "No line that is only '...' and no comment standing for omitted code "
            "('... rest of code', 'existing code here').",
            f"code = [m[1] for m in re.findall({literal(FENCED)}, response)]\n"
            "if not code:\n"
            f"    start = re.search({literal(DIFF_START)}, response)\n"
            "    code = [response[start.start():]] if start else []\n"
            "for block in code:\n"
            "    lines = block.split('\\n')\n"
            "    for i, line in enumerate(lines):\n"
            f"        if re.match({literal(ELLIPSIS_LINE)}, line) is None:\n"
            "            continue\n"
            "        prev = next((p for p in reversed(lines[:i]) if p.strip()), '')\n"
            "        bare = line.strip().lstrip('+-').strip() == '...'\n"
            f"        if bare and re.match({literal(DEF_HEADER)}, prev):\n"
            "            continue\n"
            "        return False\n"
            f"    if re.search({literal(ELISION_COMMENT)}, block):\n"
            "        return False\n"
            "return True",
            modules=("re",),
        )
    ]
