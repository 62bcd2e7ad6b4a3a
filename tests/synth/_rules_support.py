"""Shared by the rule-library tests: build a criterion, run its candidates for real."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from llmassert.history.models import PromptHistory, PromptVersion
from llmassert.sandbox import check_inline_safe, load_inline, validate_source
from llmassert.synth import extract as extract_mod
from llmassert.synth.models import Candidate, Category, Criterion
from llmassert.synth.roles import classify
from llmassert.synth.rules import candidates_for
from llmassert.synth.taxonomy import criterion_id


def criterion(
    text: str,
    category: Category = Category.INCLUSION,
    variables: tuple[str, ...] = (),
    context: str = "",
) -> Criterion:
    return Criterion(
        id=criterion_id("p", 1, text), prompt="p", version=1, text=text, context=context or text,
        category=category, variables=variables,
    )  # fmt: skip


def candidates(crit: Criterion | str) -> list[Candidate]:
    found = candidates_for(crit if isinstance(crit, Criterion) else criterion(crit))
    for cand in found:
        # Every rule candidate is valid sandbox code that may run in-process without a timer.
        validate_source(cand.code, filename=cand.name)
        check_inline_safe(cand.code, filename=cand.name)
    return found


@lru_cache(maxsize=256)
def functions(crit: Criterion) -> dict[str, Callable[[dict[str, Any], str], Any]]:
    """The candidates of ``crit`` loaded through the sandbox's in-process loader."""
    out = {}
    for cand in candidates(crit):
        # As synthesis loads them (synth/evaluate.py): a regex call that cannot be bounded
        # in-process re-runs in the process sandbox, on whatever thread.
        out[cand.name] = load_inline(
            cand.code, filename=cand.name, require_inline_safe=True, process_fallback=True
        )[cand.name]
    return out


def verdicts(
    crit: Criterion | str, response: str, example: dict[str, Any] | None = None
) -> dict[str, bool]:
    """name -> result of every candidate of ``crit`` on ``response``."""
    out = {}
    for name, fn in functions(crit if isinstance(crit, Criterion) else criterion(crit)).items():
        result = fn(dict(example or {}), response)
        assert isinstance(result, bool), (name, result)
        out[name] = result
    return out


def names(crit: Criterion | str) -> list[str]:
    return [c.name for c in candidates(crit)]


def extraction(text: str) -> extract_mod.Extraction:
    """``text`` as a one-version prompt, extracted as synthesis does."""
    history = PromptHistory(
        name="p",
        origin="mem",
        versions=(PromptVersion(index=1, text=text, source="v1", label="v1"),),
    )
    return extract_mod.extract(history)


def conditional(sentence: str, lead: str = "You are a robot.") -> bool:
    """Whether ``sentence`` (after a persona line) is an output criterion that holds only under
    a condition; fails the test when it is not a criterion at all."""
    found = extraction(f"{lead}\n\n{sentence}\n")
    crit = [c for c in found.criteria if c.text == sentence]
    assert crit, f"not a criterion: {sentence!r}"
    return crit[0].id in found.conditional


def checks_of(text: str) -> dict[str, list[str]]:
    """Criterion text -> names of the offline candidates it yields (roles, conditions and rules
    all applied)."""
    found = extraction(text)
    taken: set[str] = set()
    return {
        c.text: [k.name for k in extract_mod.candidates(found, c, taken)] for c in found.criteria
    }


def roles_of(text: str) -> dict[str, str]:
    """Sentence -> its role (``llmassert.synth.roles``)."""
    return {s.text: s.role for s in classify(text)}
