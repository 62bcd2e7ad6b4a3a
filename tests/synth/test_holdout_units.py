"""Round-2 holdout: conditions, catalogue lines and sentence splitting (invented sentences)."""

from __future__ import annotations

import pytest

from llmassert.history.models import PromptHistory, PromptVersion
from llmassert.synth import extract as extract_mod
from llmassert.synth.roles import classify


def _found(text: str) -> extract_mod.Extraction:
    history = PromptHistory(
        name="p",
        origin="mem",
        versions=(PromptVersion(index=1, text=text, source="v1", label="v1"),),
    )
    return extract_mod.extract(history)


def checks_of(text: str) -> dict[str, list[str]]:
    """Criterion text -> names of the offline candidates it yields."""
    found = _found(text)
    taken: set[str] = set()
    return {
        c.text: [k.name for k in extract_mod.candidates(found, c, taken)] for c in found.criteria
    }


def roles_of(text: str) -> dict[str, str]:
    return {s.text: s.role for s in classify(text)}


# -- 1. conditions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "Never put a table in your reply if the data has fewer than three rows.",
        'Write "ALL DONE" at the very end when the whole job is finished.',
        "Say GOODBYE once you are done with the conversation.",
        "For complicated questions, begin by restating the question.",
        "For coding tasks, answer with a single code block.",
    ],
)
def test_trailing_or_input_conditions_yield_no_unconditional_check(sentence: str) -> None:
    found = _found(f"You are a helpful assistant.\n\n{sentence}\n")
    crit = [c for c in found.criteria if c.text == sentence]
    assert crit and crit[0].id in found.conditional
    assert checks_of(sentence)[sentence] == []


@pytest.mark.parametrize(
    "sentence",
    [
        "Answer in English even if the question is in Spanish.",
        "For this task, answer in English.",
        "Check if the answer is short, then answer in English.",
    ],
)
def test_not_conditions(sentence: str) -> None:
    found = _found(f"{sentence}\n")
    crit = [c for c in found.criteria if c.text == sentence]
    assert crit and crit[0].id not in found.conditional
