"""Sentence roles: only output instructions become criteria."""

from __future__ import annotations

import pytest

from llmassert.synth.roles import classify

PROMPT = """# IDENTITY

You are an expert editor.

# STEPS

- Take a deep breath and think step by step.
- First read the article, then list its claims.
- Extract the five best claims into a section called CLAIMS.

# INPUT

You will be given a news article.
{{ article }} is the article text.

# EXAMPLES

Example: CLAIMS: - The sky is blue.

# OUTPUT INSTRUCTIONS

- Output Markdown only.
- Never use emojis.

# NOTES

```
Some pasted code block that is not an instruction at all.
```
"""


def _roles() -> dict[str, str]:
    return {s.text: s.role for s in classify(PROMPT)}


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("You are an expert editor.", "persona"),
        ("Take a deep breath and think step by step.", "process"),
        ("First read the article, then list its claims.", "process"),
        ("Extract the five best claims into a section called CLAIMS.", "output"),
        ("You will be given a news article.", "input"),
        ("{{ article }} is the article text.", "input"),
        ("Example: CLAIMS: - The sky is blue.", "example"),
        ("Output Markdown only.", "output"),
        ("Never use emojis.", "output"),
        ("Some pasted code block that is not an instruction at all.", "pasted"),
    ],
)
def test_roles(text: str, role: str) -> None:
    assert _roles()[text] == role


def test_headings_are_not_sentences() -> None:
    assert "IDENTITY" not in _roles() and "OUTPUT INSTRUCTIONS" not in _roles()


def test_a_pasted_essay_is_pasted_but_an_instruction_list_is_not() -> None:
    essay = " ".join(["The committee met on Tuesday and reviewed the budget in detail."] * 12)
    rules = "\n".join(f"- Use short sentence number {i} in the output." for i in range(15))
    roles = {s.role for s in classify(essay)}
    assert roles == {"pasted"}
    assert {s.role for s in classify(rules)} == {"output"}


def test_examples_end_when_the_task_resumes() -> None:
    text = 'Here are some examples:\nQ: hi\nA: {"x": 1}\n\nNow answer the question. Respond only in JSON.\n'
    roles = {s.text: s.role for s in classify(text)}
    assert roles["Q: hi"] == "example"
    assert roles["Respond only in JSON."] == "output"


def test_template_directives_and_task_statements() -> None:
    text = '{% include "partials/rules.prompt" %}\nYou are tasked with writing up to {n} queries.\n'
    roles = {s.text: s.role for s in classify(text)}
    assert roles['{% include "partials/rules.prompt" %}'] == "input"
    assert roles["You are tasked with writing up to {n} queries."] == "output"


def test_instructions_under_an_alternatives_heading_are_conditional() -> None:
    text = (
        "# Rules\n\n- Never use emojis.\n\n# Stack-specific instructions\n\n## React\n\n"
        "- Use React 18.\n\n## Vue\n\n- Use Vue 3.\n\n# Output\n\n- Be brief.\n"
    )
    cond = {s.text: s.conditional for s in classify(text)}
    assert cond == {
        "Never use emojis.": False,
        "Use React 18.": True,
        "Use Vue 3.": True,
        "Be brief.": False,
    }
