"""Run every candidate over the labeled responses: the matrix M, and the subsumption matrix K.

``M[i][j] = 1`` when candidate ``j`` passes response ``i``; an error or a timeout is a failure (0).
Where each candidate runs:

- deterministic code from the rule library (or the user) that passes
  :func:`~llmassert.sandbox.is_inline_safe` runs in this process: fast, and provably bounded;
- everything else — above all LLM-written code — runs in a
  :class:`~llmassert.sandbox.ProcessSandbox` (time and memory limits, separate process);
  a candidate that keeps timing out is cut short after a few calls and fails the remaining rows;
- LLM judges go through the LLM client, concurrently and cached, one request per (question,
  response) built by :func:`~llmassert.assertions.judge.build_judge_request`.

Subsumption (``K[a][b] = 1``: ``a`` subsumes ``b``, i.e. passing ``a`` implies passing ``b``) is
accepted only where the labeled data agrees, as in SPADE: ``a`` must fail every response that ``b``
fails.  Offline, K links identical checks and, from the data, variants of the same criterion (a
stricter reading subsumes a lenient one); with a model, its claims are verified the same way.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from llmassert.aio import blocking
from llmassert.errors import LLMOutputError, SandboxError
from llmassert.llm.client import LLMClient
from llmassert.sandbox.inline import frozen_example
from llmassert.sandbox.inline import scope as inline_scope
from llmassert.synth.llm_calls import gather_answers
from llmassert.synth.models import Candidate

ProgressFn = Callable[[int, int], None]  # (candidates done, total)

SANDBOX_CHUNK = 64  # most rows per sandbox batch (batches start small and double)
MAX_TIMEOUTS = 2  # timeouts after which a candidate's remaining rows fail without running


class Example(Protocol):
    """What evaluation needs of a labeled example."""

    @property
    def input(self) -> dict[str, Any]: ...

    @property
    def response(self) -> str: ...


@dataclass
class EvalStats:
    inline: int = 0
    sandboxed: int = 0
    judged: int = 0
    judge_calls: int = 0
    # candidate name -> number of rows on which it errored or timed out (counted as failures)
    errors: dict[str, int] = field(default_factory=dict)
    timed_out: list[str] = field(default_factory=list)  # candidates cut short for timeouts
    first_error: dict[str, str] = field(default_factory=dict)


@dataclass
class Evaluation:
    M: list[list[int]]  # rows = examples, columns = candidates
    stats: EvalStats


def runs_inline(candidate: Candidate) -> bool:
    """Rule-library and user code that is provably bounded; never LLM-written code."""
    from llmassert.sandbox import is_inline_safe

    return (
        candidate.kind == "deterministic"
        and candidate.source != "llm"
        and is_inline_safe(candidate.code)
    )


async def aevaluate(
    candidates: Sequence[Candidate],
    examples: Sequence[Example],
    *,
    client: LLMClient | None = None,
    model: str | None = None,
    timeout_s: float = 1.0,
    memory_mb: int = 512,
    progress: ProgressFn | None = None,
) -> Evaluation:
    """The pass/fail matrix of ``candidates`` on ``examples`` (judges need ``client``/``model``);
    :func:`evaluate` is its synchronous version.  Code runs blocking, judges concurrently."""
    n, m = len(examples), len(candidates)
    columns: list[list[int] | None] = [None] * m
    stats = EvalStats()
    done = 0

    def finished(j: int, column: list[int]) -> None:
        nonlocal done
        columns[j] = column
        done += 1
        if progress is not None:
            progress(done, m)

    inline = [j for j, c in enumerate(candidates) if runs_inline(c)]
    judges = [j for j, c in enumerate(candidates) if c.kind == "llm_judge"]
    boxed = [j for j in range(m) if j not in set(inline) | set(judges)]
    if judges and (client is None or not model):
        raise ValueError("LLM-judge candidates need a client and a model")

    # Frozen once for every inline candidate (load_inline's wrapper takes them as they are).
    inputs = [frozen_example(ex.input) for ex in examples] if inline else []
    with inline_scope(timeout_s):  # one timer for every inline call, each held to timeout_s
        for j in inline:
            finished(j, _run_inline(candidates[j], examples, inputs, stats, timeout_s))
            stats.inline += 1
    if boxed:
        from llmassert.sandbox import ProcessSandbox

        with ProcessSandbox(timeout_s=timeout_s, memory_mb=memory_mb) as box:
            for j in boxed:
                finished(j, _run_sandboxed(box, candidates[j], examples, stats))
                stats.sandboxed += 1
    if judges:
        assert client is not None and model is not None
        results = await _run_judges(client, model, [candidates[j] for j in judges], examples, stats)
        for j, column in zip(judges, results, strict=True):
            finished(j, column)
            stats.judged += 1
    matrix = [[int(columns[j][i]) for j in range(m)] for i in range(n)]  # type: ignore[index]
    return Evaluation(M=matrix, stats=stats)


# CPU-bound (in-process checks under the main thread's deadline): on the caller's thread.
evaluate = blocking(aevaluate, here=True)


def _note_error(stats: EvalStats, name: str, reason: str) -> None:
    stats.errors[name] = stats.errors.get(name, 0) + 1
    stats.first_error.setdefault(name, reason[:200])


def _run_inline(
    cand: Candidate,
    examples: Sequence[Example],
    inputs: Sequence[Any],
    stats: EvalStats,
    timeout_s: float,
) -> list[int]:
    from llmassert.sandbox import load_inline

    try:
        fn = load_inline(
            cand.code,
            filename=f"<candidate {cand.name}>",
            require_inline_safe=True,
            timeout_s=timeout_s,
            process_fallback=True,
        )[cand.name]
    except (SandboxError, KeyError) as e:
        for _ in examples:
            _note_error(stats, cand.name, f"does not load: {e}")
        return [0] * len(examples)
    column = []
    for ex, frozen in zip(examples, inputs, strict=True):
        try:
            # Frozen inputs: no candidate can change what the next one sees.
            column.append(1 if fn(frozen, ex.response) else 0)
        except Exception as e:  # the candidate's own bug: a failure of that candidate only
            _note_error(stats, cand.name, f"{type(e).__name__}: {e}")
            column.append(0)
    return column


def _run_sandboxed(
    box: Any, cand: Candidate, examples: Sequence[Example], stats: EvalStats
) -> list[int]:
    try:
        source_id = box.load(cand.code, filename=f"<candidate {cand.name}>")
    except SandboxError as e:  # unsafe, module level raised, or loading hung
        for _ in examples:
            _note_error(stats, cand.name, f"does not load: {e}")
        return [0] * len(examples)
    column: list[int] = []
    timeouts = 0
    size = MAX_TIMEOUTS  # small first batch: a looping candidate is caught after a few calls
    try:
        while len(column) < len(examples):
            chunk = examples[len(column) : len(column) + size]
            size = min(size * 2, SANDBOX_CHUNK)
            if timeouts >= MAX_TIMEOUTS:
                for _ in chunk:
                    _note_error(stats, cand.name, "skipped after repeated timeouts")
                column += [0] * len(chunk)
                continue
            rows = box.call_many_detailed(
                source_id, [cand.name], [(ex.input, ex.response) for ex in chunk]
            )
            for row in rows:
                result = row[0]
                if result.value is None:
                    reason = result.error or "failed"
                    _note_error(stats, cand.name, reason)
                    if any(w in reason for w in ("timed out", "killed", "CPU", "died")):
                        timeouts += 1
                column.append(1 if result.value is True else 0)
    finally:
        box.unload(source_id)
    if timeouts >= MAX_TIMEOUTS:
        stats.timed_out.append(cand.name)
    return column


async def _run_judges(
    client: LLMClient,
    model: str,
    judges: Sequence[Candidate],
    examples: Sequence[Example],
    stats: EvalStats,
) -> list[list[int]]:
    from llmassert.assertions.judge import build_judge_request, parse_judge

    requests = [
        build_judge_request(cand.judge_question or cand.description, ex.input, ex.response, model)
        for cand in judges
        for ex in examples
    ]
    stats.judge_calls += len(requests)
    answers = await gather_answers(client, requests)
    columns: list[list[int]] = []
    for k, cand in enumerate(judges):
        column = []
        for answer in answers[k * len(examples) : (k + 1) * len(examples)]:
            try:
                if isinstance(answer, LLMOutputError):
                    raise answer
                column.append(1 if parse_judge(answer) else 0)
            except LLMOutputError as e:
                _note_error(stats, cand.name, f"judge answer unusable: {e}")
                column.append(0)
        columns.append(column)
    return columns


# -- subsumption ----------------------------------------------------------------------------------


def failing_rows(M: Sequence[Sequence[int]], j: int) -> frozenset[int]:
    return frozenset(i for i, row in enumerate(M) if row[j] == 0)


def data_allows(M: Sequence[Sequence[int]], a: int, b: int) -> bool:
    """SPADE's check: ``a`` may subsume ``b`` only if ``a`` fails wherever ``b`` fails."""
    return all(row[a] == 0 for row in M if row[b] == 0)


def derive_subsumption(
    candidates: Sequence[Candidate], M: Sequence[Sequence[int]]
) -> set[tuple[int, int]]:
    """Offline K, from what is known without a model.

    - Two candidates with the same code (up to names, docstrings and comments) subsume each
      other: the rule library offers the same check for sentences of different versions. Only
      with labeled responses, though: without them nothing shows the two sentences ask for the
      same thing, and a generic check ("mostly bullets") would count as covering every
      criterion it was offered for.
    - Within one criterion, ``a`` subsumes ``b`` when ``a`` fails on every labeled response
      ``b`` fails on (SPADE's check; a variant that never fails is subsumed by every sibling,
      which is what lets ``sub`` drop it instead of selecting checks that catch nothing).
    """
    keys = [code_fingerprint(c.code, c.name) for c in candidates]
    fails = [failing_rows(M, j) for j in range(len(candidates))] if M else None
    pairs: set[tuple[int, int]] = set()
    for a, ca in enumerate(candidates):
        for b, cb in enumerate(candidates):
            if a == b:
                continue
            same_code = keys[a] == keys[b] and (bool(M) or ca.criterion_id == cb.criterion_id)
            if same_code or (
                fails is not None and ca.criterion_id == cb.criterion_id and fails[b] <= fails[a]
            ):
                pairs.add((a, b))
    return pairs


def code_fingerprint(code: str, name: str) -> str:
    """Equal for codes that differ only in formatting, comments, docstrings and the function's
    name."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            if node.name == name:
                node.name = "_"
            if (
                node.body
                and isinstance(node.body[0], ast.Expr)
                and isinstance(node.body[0].value, ast.Constant)
                and isinstance(node.body[0].value.value, str)
            ):
                node.body = node.body[1:] or [ast.Pass()]
    return ast.dump(tree)


def verify_subsumption(
    claims: Sequence[tuple[str, str]], names: Sequence[str], M: Sequence[Sequence[int]]
) -> tuple[set[tuple[int, int]], int]:
    """The claimed (stronger, weaker) pairs the labeled data does not contradict, and how many
    were rejected."""
    index = {n: j for j, n in enumerate(names)}
    kept: set[tuple[int, int]] = set()
    rejected = 0
    for stronger, weaker in claims:
        a, b = index[stronger], index[weaker]
        if data_allows(M, a, b):
            kept.add((a, b))
        else:
            rejected += 1
    return kept, rejected


def k_matrix(n: int, pairs: set[tuple[int, int]]) -> list[list[int]]:
    K = [[0] * n for _ in range(n)]
    for a, b in pairs:
        K[a][b] = 1
    return K


__all__ = [
    "EvalStats",
    "Evaluation",
    "Example",
    "aevaluate",
    "code_fingerprint",
    "data_allows",
    "derive_subsumption",
    "evaluate",
    "failing_rows",
    "k_matrix",
    "runs_inline",
    "verify_subsumption",
]
