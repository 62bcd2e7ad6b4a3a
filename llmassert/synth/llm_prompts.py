"""What synthesis asks a model, and the shapes it must answer in.

Three questions, each one structured call per unit of work:

- *categorize*: which SPADE category does this added instruction fall in?
- *generate*: write a few Python check variants and yes/no judge questions for one criterion;
- *subsume*: which candidate assertions are at least as strict as which others?

Answers are validated twice: against the JSON schema by the LLM layer (which re-asks the model on a
mismatch), then by these pydantic models (``extra="forbid"``) before anything is used.  The prompt
text is the user's own, so it is shown as-is; responses and examples never reach these prompts (only
the judge sees them, behind the delimiters of :mod:`llmassert.assertions.judge`).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from llmassert.synth.models import Candidate, Category, Criterion

CATEGORY_HELP = {
    Category.PRESENTATION_FORMAT: "how the output is laid out: JSON, markdown, bullets, sections",
    Category.EXAMPLE_DEMONSTRATION: "an example of the desired output",
    Category.PROMPT_REPHRASING: "a rewording that adds no new requirement",
    Category.WORKFLOW_DESCRIPTION: "steps or a procedure the model must follow",
    Category.DATA_PLACEHOLDERS: "adds or moves an input variable; no requirement on the output",
    Category.COUNT: "a number of words, sentences, items, characters...",
    Category.INCLUSION: "something the output must contain or do",
    Category.EXCLUSION: "something the output must not contain or do",
    Category.QUALITATIVE_ASSESSMENT: "tone, style, clarity, or another judgment call",
}


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CategoryAnswer(_Answer):
    category: Category
    reason: str = Field(max_length=400)


class CheckVariant(_Answer):
    name: str = Field(description="snake_case function name, e.g. email_under_word_limit")
    description: str = Field(description="one line: what this variant checks")
    code: str = Field(description="the full Python source of the one function")


class JudgeVariant(_Answer):
    name: str = Field(description="snake_case function name")
    question: str = Field(description="one yes/no question; 'yes' means the response complies")


class GeneratedCandidates(_Answer):
    checks: list[CheckVariant] = Field(max_length=6)
    judges: list[JudgeVariant] = Field(max_length=3)


class SubsumptionPair(_Answer):
    stronger: str
    weaker: str


class SubsumptionAnswer(_Answer):
    pairs: list[SubsumptionPair]


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema sent to the model (pydantic's, which already forbids extra keys)."""
    return model.model_json_schema()


# -- categorize -----------------------------------------------------------------------------------

CATEGORIZE_SYSTEM = (
    "You classify edits to an LLM prompt. A developer added or changed one sentence of their "
    "prompt; say which category of requirement on the model's OUTPUT it expresses.\n"
    "Categories:\n"
    + "\n".join(f"- {c.value}: {h}" for c, h in CATEGORY_HELP.items())
    + "\nPick the single best category. Answer through the requested JSON object."
)


def categorize_messages(criterion: Criterion) -> tuple[dict[str, Any], ...]:
    user = (
        f"Prompt: {criterion.prompt} (version {criterion.version})\n\n"
        f"Added or changed sentence:\n{criterion.text}\n\n"
        f"Surrounding text:\n{criterion.context or '(none)'}"
    )
    return ({"role": "system", "content": CATEGORIZE_SYSTEM}, {"role": "user", "content": user})


# -- generate -------------------------------------------------------------------------------------

ALLOWED_IMPORTS = ("re", "json", "math", "string")


@lru_cache(maxsize=1)
def helpers_reference() -> str:
    """One line per helper the generated code may import: signature and first docstring line."""
    from llmassert.assertions import helpers

    out = []
    for name in sorted(helpers.__all__):
        obj = getattr(helpers, name)
        if not callable(obj):
            continue
        doc = (inspect.getdoc(obj) or "").split("\n")[0]
        try:
            sig = str(inspect.signature(obj))
        except (TypeError, ValueError):
            sig = "(...)"
        out.append(f"- {name}{sig}: {doc}".rstrip(": "))
    return "\n".join(out)


def generate_system() -> str:
    return (
        "You write assertion functions that check an LLM pipeline's responses against ONE "
        "instruction from the pipeline's prompt.\n\n"
        "Write 2 or 3 Python check variants that interpret the instruction differently (for "
        "example a strict and a lenient reading), each one function\n"
        "    def <name>(example: dict, response: str) -> bool:\n"
        "returning True when the response complies. `example` is a dict of the prompt's input "
        "variables (values may be strings or numbers; convert with as_int/as_float); `response` "
        "is the model's output text.\n"
        "Rules for the code:\n"
        f"- imports: only {', '.join(ALLOWED_IMPORTS)} and "
        "`from llmassert.assertions.helpers import <names>`;\n"
        "- no file, network or process access, no eval/exec/open/compile, no attributes or names "
        "starting with an underscore, no global state, no infinite loops;\n"
        "- never raise on odd input: return False instead.\n"
        "Helpers available (prefer them to hand-written parsing):\n"
        f"{helpers_reference()}\n\n"
        "When compliance needs judgment (tone, relevance, faithfulness), also give 1 or 2 "
        "yes/no questions for an LLM judge, phrased so that 'yes' means the response complies. "
        "Give no judge question when plain code can decide.\n"
        "Answer through the requested JSON object."
    )


def generate_messages(criterion: Criterion, final_prompt: str) -> tuple[dict[str, Any], ...]:
    variables = ", ".join(criterion.variables) or "(none)"
    user = (
        f"Prompt name: {criterion.prompt}\n"
        f"Instruction (added in version {criterion.version}, category "
        f"{criterion.category.value}):\n{criterion.text}\n\n"
        f"Surrounding text:\n{criterion.context or '(none)'}\n\n"
        f"Input variables available in `example`: {variables}\n\n"
        f"The latest full prompt, for context:\n<prompt>\n{_clip(final_prompt, 6000)}\n</prompt>"
    )
    return ({"role": "system", "content": generate_system()}, {"role": "user", "content": user})


# -- subsume --------------------------------------------------------------------------------------

SUBSUME_SYSTEM = (
    "You compare assertion functions that check an LLM pipeline's responses. Assertion A "
    "SUBSUMES assertion B when every response that fails B also fails A: A is at least as strict "
    "as B on the same requirement (passing A implies passing B). List only pairs you are confident "
    "about, using the exact names given. Claims are verified against labeled data, so do not "
    "guess. Answer through the requested JSON object."
)


def subsume_messages(
    prompt: str, candidates: Sequence[Candidate], criteria: Sequence[Criterion]
) -> tuple[dict[str, Any], ...]:
    texts = {c.id: c.text for c in criteria}
    listing = [
        {
            "name": c.name,
            "criterion": texts.get(c.criterion_id, ""),
            "checks": c.judge_question or c.description,
        }
        for c in candidates
    ]
    user = (
        f"Assertions for the prompt {prompt!r}:\n"
        + json.dumps(listing, indent=1, ensure_ascii=False)
        + "\n\nWhich assertions subsume which?"
    )
    return ({"role": "system", "content": SUBSUME_SYSTEM}, {"role": "user", "content": user})


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "\n[... truncated]"


__all__ = [
    "ALLOWED_IMPORTS",
    "CATEGORIZE_SYSTEM",
    "SUBSUME_SYSTEM",
    "CategoryAnswer",
    "CheckVariant",
    "GeneratedCandidates",
    "JudgeVariant",
    "SubsumptionAnswer",
    "SubsumptionPair",
    "categorize_messages",
    "generate_messages",
    "generate_system",
    "helpers_reference",
    "schema_of",
    "subsume_messages",
]
