"""Shared by the rule-library tests: build a criterion, run its candidates for real."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from llmassert.sandbox import check_inline_safe, load_inline, validate_source
from llmassert.synth.models import Candidate, Category, Criterion
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
