"""LLM-written candidates (only with ``--model``): categories, check variants, judge questions, K claims.

Everything a model writes is untrusted.  Python checks must parse, define one two-argument function
and pass the sandbox's AST allowlist (:func:`llmassert.sandbox.validate_source`); they are
later *run* only inside :class:`~llmassert.sandbox.ProcessSandbox`.  A variant that fails any
step is dropped and counted under its reason — a bad answer never crashes the run.  Judge
candidates carry one yes/no question; their code is the fixed
``return llm_judge("<question>", example, response)``, so no model-written code runs for them.
"""

from __future__ import annotations

import ast
import keyword
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from llmassert.errors import LLMOutputError, UnsafeCodeError
from llmassert.llm.client import LLMClient, LLMRequest, LLMResult
from llmassert.synth.evaluate import code_fingerprint
from llmassert.synth.llm_calls import gather_answers
from llmassert.synth.llm_prompts import (
    ALLOWED_IMPORTS,
    CategoryAnswer,
    CheckVariant,
    GeneratedCandidates,
    JudgeVariant,
    SubsumptionAnswer,
    categorize_messages,
    generate_messages,
    schema_of,
    subsume_messages,
)
from llmassert.synth.models import Candidate, Criterion

_M = TypeVar("_M", bound=BaseModel)

MAX_CODE_CHARS = 6000
MAX_QUESTION_CHARS = 300
JUDGE_COST = 10.0  # a judge is an LLM call per response: prefer code when both do the job


@dataclass
class LLMStats:
    """What the model contributed, and what was thrown away and why."""

    recategorized: int = 0
    checks: int = 0
    judges: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    subsumption_claims: int = 0


def reserved_names() -> set[str]:
    """Names a candidate function must not take: it would shadow what generated code imports."""
    from llmassert.assertions import formats, helpers, parse

    return {
        *helpers.__all__,
        *parse.__all__,
        *formats.__all__,
        *ALLOWED_IMPORTS,
        "llm_judge",
        "ASSERTIONS",
    }


class NameRegistry:
    """Hands out unique, valid Python identifiers for candidate functions within one prompt."""

    def __init__(self, taken: Iterable[str] = ()) -> None:
        self.taken = set(taken) | reserved_names()

    def claim(self, wanted: str, fallback: str = "check") -> str:
        base = re.sub(r"[^0-9a-zA-Z_]+", "_", wanted).strip("_").lower()[:48].rstrip("_")
        base = base or fallback
        if base[0].isdigit() or keyword.iskeyword(base):
            base = f"{fallback}_{base}"
        name, k = base, 2
        while name in self.taken:
            name, k = f"{base}_{k}", k + 1
        self.taken.add(name)
        return name


def _parse_answer(result: LLMResult | LLMOutputError, model: type[_M]) -> _M | str:
    """The validated answer, or the reason it is unusable."""
    if isinstance(result, LLMOutputError):
        return "off-schema answer"
    try:
        return model.model_validate(result.data)
    except ValidationError as e:
        return f"off-schema answer ({e.errors()[0]['msg']})"


def _request(
    model: str,
    messages: tuple[dict[str, object], ...],
    answer: type[BaseModel],
    name: str,
    tag: str,
) -> LLMRequest:
    return LLMRequest(
        model=model, messages=messages, output_schema=schema_of(answer), schema_name=name, tag=tag
    )


# -- categorize -----------------------------------------------------------------------------------


async def categorize(
    client: LLMClient, model: str, criteria: Sequence[Criterion], stats: LLMStats
) -> list[Criterion]:
    """Criteria with the model's category; the rule-based category stays when its answer is bad."""
    requests = [
        _request(model, categorize_messages(c), CategoryAnswer, "categorize", "synth.categorize")
        for c in criteria
    ]
    out: list[Criterion] = []
    for crit, result in zip(criteria, await gather_answers(client, requests), strict=True):
        answer = _parse_answer(result, CategoryAnswer)
        if isinstance(answer, CategoryAnswer):
            if answer.category != crit.category:
                stats.recategorized += 1
            out.append(crit.model_copy(update={"category": answer.category}))
        else:
            stats.dropped["categorization kept from rules: " + answer] += 1
            out.append(crit)
    return out


# -- generate -------------------------------------------------------------------------------------


async def generate(
    client: LLMClient,
    model: str,
    criteria: Sequence[Criterion],
    final_prompt: str,
    names: NameRegistry,
    stats: LLMStats,
    existing: Sequence[Candidate] = (),
) -> list[Candidate]:
    """Check variants and judge questions for every criterion that can yield assertions."""
    targets = [c for c in criteria if c.category.yields_assertions]
    requests = [
        _request(
            model,
            generate_messages(c, final_prompt),
            GeneratedCandidates,
            "candidates",
            "synth.generate",
        )
        for c in targets
    ]
    seen_code = {code_fingerprint(c.code, c.name) for c in existing if c.kind == "deterministic"}
    seen_questions = {_norm_q(c.judge_question) for c in existing if c.judge_question}
    out: list[Candidate] = []
    for crit, result in zip(targets, await gather_answers(client, requests), strict=True):
        answer = _parse_answer(result, GeneratedCandidates)
        if not isinstance(answer, GeneratedCandidates):
            stats.dropped[answer] += 1
            continue
        vetted = [vet_check(v, crit, names, seen_code) for v in answer.checks] + [
            vet_judge(j, crit, names, seen_questions) for j in answer.judges
        ]
        for made in vetted:
            if isinstance(made, str):  # the reason it was dropped
                stats.dropped[made] += 1
                continue
            if made.kind == "llm_judge":
                stats.judges += 1
            else:
                stats.checks += 1
            out.append(made)
    return out


def vet_check(
    variant: CheckVariant, crit: Criterion, names: NameRegistry, seen: set[str]
) -> Candidate | str:
    """A sandbox-approved candidate from a model-written check, or the reason it was dropped."""
    from llmassert.sandbox import validate_source

    code = variant.code.strip("\n")
    if len(code) > MAX_CODE_CHARS:
        return "code too long"
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return "syntax error"
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    fn = next((f for f in functions if f.name == variant.name), None)
    if fn is None and len(functions) == 1:
        fn = functions[0]
    if fn is None:
        return "no single check function"
    a = fn.args
    if len(a.posonlyargs) + len(a.args) != 2 or a.vararg or a.kwarg or a.kwonlyargs:
        return "wrong signature (needs example, response)"
    name = names.claim(variant.name or fn.name, fallback="check")
    code = _rename_def(code, fn, name)
    try:
        validate_source(code, filename=f"<llm candidate {name}>")
    except UnsafeCodeError:
        names.taken.discard(name)
        return "unsafe code (sandbox allowlist)"
    except SyntaxError:
        names.taken.discard(name)
        return "syntax error"
    fingerprint = code_fingerprint(code, name)
    if fingerprint in seen:
        names.taken.discard(name)
        return "duplicate"
    seen.add(fingerprint)
    return Candidate(
        name=name,
        criterion_id=crit.id,
        kind="deterministic",
        code=code + "\n",
        description=" ".join(variant.description.split())[:200],
        source="llm",
        cost=1.0,
    )


def vet_judge(
    judge: JudgeVariant, crit: Criterion, names: NameRegistry, seen: set[str]
) -> Candidate | str:
    question = " ".join(judge.question.split())
    if not 5 <= len(question) <= MAX_QUESTION_CHARS:
        return "judge question empty or too long"
    if _norm_q(question) in seen:
        return "duplicate"
    seen.add(_norm_q(question))
    name = names.claim(judge.name or "judge", fallback="judge")
    return Candidate(
        name=name,
        criterion_id=crit.id,
        kind="llm_judge",
        code=judge_code(name, question),
        description=question,
        source="llm",
        judge_question=question,
        cost=JUDGE_COST,
    )


def judge_code(name: str, question: str) -> str:
    """The fixed source of a judge candidate.

    The question is an inline Python literal (``repr``): no module-level constant to collide with
    another judge's, and the assertion loader reads it back to batch judge calls.
    """
    return (
        "from llmassert.assertions.judge import llm_judge\n\n\n"
        f"def {name}(example: dict, response: str) -> bool:\n"
        f"    return llm_judge({question!r}, example, response)\n"
    )


def _rename_def(code: str, fn: ast.FunctionDef, name: str) -> str:
    lines = code.splitlines()
    i = fn.lineno - 1
    lines[i] = re.sub(rf"\bdef\s+{re.escape(fn.name)}\s*\(", f"def {name}(", lines[i], count=1)
    return "\n".join(lines)


def _norm_q(question: str | None) -> str:
    return " ".join((question or "").lower().split()).rstrip("?")


# -- subsumption claims ---------------------------------------------------------------------------


async def claim_subsumptions(
    client: LLMClient,
    model: str,
    prompt: str,
    candidates: Sequence[Candidate],
    criteria: Sequence[Criterion],
    stats: LLMStats,
) -> list[tuple[str, str]]:
    """(stronger, weaker) pairs the model claims; unknown names and self-pairs are dropped.

    These are claims only: :func:`llmassert.synth.evaluate.verify_subsumption` keeps the ones the
    labeled data does not contradict.
    """
    if len(candidates) < 2:
        return []
    request = _request(
        model,
        subsume_messages(prompt, candidates, criteria),
        SubsumptionAnswer,
        "subsumptions",
        "synth.subsume",
    )
    (result,) = await gather_answers(client, [request])
    answer = _parse_answer(result, SubsumptionAnswer)
    if not isinstance(answer, SubsumptionAnswer):
        stats.dropped["subsumption " + answer] += 1
        return []
    known = {c.name for c in candidates}
    pairs: list[tuple[str, str]] = []
    for p in answer.pairs:
        if p.stronger in known and p.weaker in known and p.stronger != p.weaker:
            pairs.append((p.stronger, p.weaker))
        else:
            stats.dropped["subsumption claim with unknown names"] += 1
    stats.subsumption_claims += len(pairs)
    return sorted(set(pairs))


__all__ = [
    "JUDGE_COST",
    "LLMStats",
    "NameRegistry",
    "categorize",
    "claim_subsumptions",
    "generate",
    "judge_code",
    "reserved_names",
    "vet_check",
    "vet_judge",
]
