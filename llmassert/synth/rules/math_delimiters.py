"""Math delimiter rules (KaTeX/MathJax conventions a prompt spells out).

- "inline math mode: \\( and \\)" (the inline delimiters listed are not ``$``): no single-dollar
  math in the response. A ``$...$`` span counts as math only when it holds a math character
  (``\\ ^ _ { } =``) and the closing ``$`` is not followed by a digit, so prices ("$5 and $10")
  pass.
- "insert a line break after opening $$ and before closing $$": every ``$$...$$`` display block
  has its delimiters on their own lines.
"""

from __future__ import annotations

from llmassert.synth.rules.base import Check, literal
from llmassert.synth.rules.registry import Family

_SINGLE_DOLLAR = r"(?<![$\\])\$(?!\$)(?=[^$\n]*[\\^_{}=])[^$\n]{1,200}?(?<![\s$\\])\$(?![$\d])"
_DISPLAY_BLOCK = r"\$\$(.*?)\$\$"


checks = Family("math")
checks.when(
    (r"\binline math\b[^$]*\\\("),
    stated=[
        Check(
            "no_single_dollar_math",
            "No $...$ inline math (the inline delimiters allowed are \\( and \\)).",
            f"return re.search({literal(_SINGLE_DOLLAR)}, response) is None",
            modules=("re",),
        )
    ],
    if_negated=None,
)
checks.when(
    (r"\bline ?-?breaks?\s+after\s+(?:the\s+)?opening\s+\$\$"),
    stated=[
        Check(
            "display_math_on_own_lines",
            "Every $$...$$ block has a line break after the opening and before the closing $$.",
            f"for m in re.finditer({literal(_DISPLAY_BLOCK)}, response, re.DOTALL):\n"
            "    inner = m.group(1)\n"
            "    if not re.match(r'[ \\t]*\\n', inner) or not re.search(r'\\n[ \\t]*$', inner):\n"
            "        return False\n"
            "return True",
            modules=("re",),
        )
    ],
    if_negated=None,
)
