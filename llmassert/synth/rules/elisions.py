"""Elided code: "never skip, omit or elide content using "..." or comments like "rest of code"".

A negated sentence that bans eliding (skip/omit/elide/truncate/abbreviate) content, code or a
file gives one check on the response's lines
(``no_content_elided_by_ellipsis_or_comment``): no line that is only ``...`` / ``…`` (bare, or
alone in a comment), and no comment that stands for omitted code ("// ... rest of code",
"# remaining methods unchanged ...", "<!-- existing code -->").

Ordinary comments pass; so does an ellipsis inside a line of code or prose.
"""

from __future__ import annotations

import re

from llmassert.synth.models import Criterion
from llmassert.synth.rules.base import Check, literal, negated

_ELIDE = re.compile(r"\b(?:skip|omit|elide|truncate|abbreviate|leave out|cut)\w*\b", re.I)
_WHAT = re.compile(r"\b(?:content|code|file|files|listing|lines?|function|body)\b", re.I)

_MARK = r"(?://|#|/\*|<!--|--|;|\*)"
ELLIPSIS_LINE = rf"(?m)^[ \t]*(?:{_MARK}[ \t]*)?(?:\.\.\.|…)[ \t]*(?:\*/|-->)?[ \t]*$"
ELISION_COMMENT = (
    rf"(?im){_MARK}[^\n]*(?:\.\.\.|…)[^\n]*\b(?:rest|remaining|existing|unchanged|omitted|"
    r"same as before|previous|other (?:code|methods|functions))\b"
    rf"|{_MARK}[^\n]*\b(?:rest of (?:the )?(?:code|file|function|class|method|component)|"
    r"(?:code|file|rest) (?:remains )?unchanged|existing code (?:here|remains|unchanged))\b"
)


def checks(criterion: Criterion) -> list[Check]:
    text = " ".join(criterion.text.split())
    m = _ELIDE.search(text)
    if m is None or not _WHAT.search(text) or not negated(text, m.start() + 1, window=4):
        return []
    # One check for the sentence (without labels one candidate per criterion is kept): both
    # ways of eliding that the sentence names.
    return [
        Check(
            "no_content_elided_by_ellipsis_or_comment",
            "No line that is only '...' and no comment standing for omitted code "
            "('... rest of code', 'existing code here').",
            f"return re.search({literal(ELLIPSIS_LINE)}, response) is None and "
            f"re.search({literal(ELISION_COMMENT)}, response) is None",
            modules=("re",),
        )
    ]
