"""Evaluation: M from inline, sandboxed and judge candidates; K verified against the data."""

from __future__ import annotations

import json

from llmassert.config import Settings
from llmassert.history import LabeledExample
from llmassert.llm import get_client
from llmassert.synth.evaluate import (
    MAX_TIMEOUTS,
    derive_subsumption,
    evaluate,
    k_matrix,
    runs_inline,
    verify_subsumption,
)
from llmassert.synth.llm_candidates import judge_code
from llmassert.synth.models import Candidate
from llmassert.testing.fake_server import FakeLLMServer, Reply

EXAMPLES = [
    LabeledExample(input={"limit": 3}, response="warm and short", label=1),
    LabeledExample(input={"limit": 3}, response="far too many words here", label=0),
    LabeledExample(input={"limit": 10}, response="cold", label=0),
]


def det(name: str, body: str, *, source: str = "rules", criterion: str = "c1") -> Candidate:
    code = (
        f"from llmassert.assertions.helpers import word_count\n\n\ndef {name}(example, response):\n"
    )
    code += "".join(f"    {line}\n" for line in body.splitlines())
    return Candidate(
        name=name, criterion_id=criterion, kind="deterministic", code=code, source=source
    )  # type: ignore[arg-type]


SHORT = det("short", 'return word_count(response) <= example["limit"]')


def test_inline_rule_candidates_fill_the_matrix() -> None:
    upper = det("no_caps", "return response == response.lower()")
    result = evaluate([SHORT, upper], EXAMPLES)
    assert result.M == [[1, 1], [0, 1], [1, 1]]
    assert result.stats.inline == 2 and result.stats.sandboxed == 0


def test_llm_written_code_always_runs_in_the_sandbox() -> None:
    llm = SHORT.model_copy(update={"source": "llm"})
    assert runs_inline(SHORT) and not runs_inline(llm)
    result = evaluate([llm], EXAMPLES)
    assert result.M == [[1], [0], [1]]
    assert result.stats.sandboxed == 1 and result.stats.inline == 0


def test_errors_and_odd_returns_count_as_failures() -> None:
    raising = det("raises", 'return example["missing"] > 0')
    none = det("returns_none", "x = 1")
    result = evaluate([raising, none, SHORT], EXAMPLES)
    assert [row[:2] for row in result.M] == [[0, 0]] * 3
    assert [row[2] for row in result.M] == [1, 0, 1]
    assert result.stats.errors == {"raises": 3}
    assert "KeyError" in result.stats.first_error["raises"]


def test_mutating_the_example_does_not_leak_into_other_candidates() -> None:
    mutate = det("mutates", 'example["limit"] = 0\nreturn True')
    result = evaluate([mutate, SHORT], EXAMPLES)
    assert [row[1] for row in result.M] == [1, 0, 1]
    boxed = [
        mutate.model_copy(update={"source": "llm"}),
        SHORT.model_copy(update={"source": "llm"}),
    ]
    assert evaluate(boxed, EXAMPLES).M == result.M


def test_hostile_candidates_fail_without_harming_the_run() -> None:
    loop = det("spins", "while True:\n    pass", source="llm")
    hog = det("hogs", "blob = [0] * (10 ** 10)\nreturn len(blob) > 0", source="llm")
    many = EXAMPLES * 12  # the looping candidate is cut short after MAX_TIMEOUTS calls
    result = evaluate(
        [loop, hog, SHORT.model_copy(update={"source": "llm"})], many, timeout_s=0.2, memory_mb=256
    )
    assert all(row[0] == 0 and row[1] == 0 for row in result.M)
    assert [row[2] for row in result.M] == [1, 0, 1] * 12
    assert result.stats.timed_out == ["spins"]
    assert result.stats.errors["spins"] == len(many)  # run MAX_TIMEOUTS times, skipped after
    assert len(many) > MAX_TIMEOUTS
    assert result.stats.errors["hogs"] == len(many)


def test_judges_run_concurrently_through_the_client_and_are_cached(
    llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    def answer(body: dict[str, object]) -> Reply:
        user = json.dumps(body["messages"])
        return Reply(
            tool_args={
                "answer": "yes" if "warm" in user.split("<response>")[-1] else "no",
                "reason": "scripted",
            }
        )

    llm_server.handler = answer
    llm_server.latency_s = 0.05  # answers overlap only if they are in flight together
    warm = Candidate(
        name="is_warm",
        criterion_id="c2",
        kind="llm_judge",
        source="llm",
        code=judge_code("is_warm", "Is the response warm?"),
        judge_question="Is the response warm?",
        cost=10.0,
    )
    client = get_client(llm_settings)
    result = evaluate([SHORT, warm], EXAMPLES, client=client, model=llm_settings.model)
    assert result.M == [[1, 1], [0, 0], [1, 0]]
    assert result.stats.judged == 1 and result.stats.judge_calls == 3
    assert len(llm_server.requests) == 3
    assert llm_server.stats.max_concurrency >= 2
    # The question is the judge's, the response sits inside the delimiters.
    sent = llm_server.requests[0].body["messages"][1]["content"]
    assert "<question>\nIs the response warm?\n</question>" in sent
    again = evaluate([warm], EXAMPLES, client=get_client(llm_settings), model=llm_settings.model)
    assert [row[0] for row in again.M] == [1, 0, 0]
    assert len(llm_server.requests) == 3  # answered from the cache


def test_unusable_judge_answers_fail_their_cell_only(
    llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = lambda body: Reply(tool_args={"answer": "maybe", "reason": "?"})
    warm = Candidate(
        name="is_warm",
        criterion_id="c2",
        kind="llm_judge",
        source="llm",
        code=judge_code("is_warm", "Is it warm?"),
        judge_question="Is it warm?",
    )
    settings = llm_settings.replace(max_reasks=0)
    result = evaluate([warm, SHORT], EXAMPLES, client=get_client(settings), model=settings.model)
    assert result.M == [[0, 1], [0, 0], [0, 1]]
    assert result.stats.errors == {"is_warm": 3}


def test_offline_subsumption_from_criteria_data_and_identical_code() -> None:
    strict = det("strict", "return len(response) < 5")
    lenient = det("lenient", "return len(response) < 50")
    other = det("other", "return len(response) < 9", criterion="c2")
    never = det("never_fails", "return len(response) >= 0")
    twin = det("twin", "# same check, another sentence\nreturn len(response) < 5", criterion="c3")
    M = [[0, 0, 0, 1, 0], [0, 1, 1, 1, 0], [1, 1, 1, 1, 1]]
    pairs = derive_subsumption([strict, lenient, other, never, twin], M)
    # strict fails wherever lenient fails (same criterion); `other` is another criterion; the
    # never-failing variant is subsumed by its siblings; identical code subsumes both ways.
    assert pairs == {(0, 1), (0, 3), (1, 3), (0, 4), (4, 0)}
    assert k_matrix(5, pairs)[0] == [0, 1, 0, 1, 1]
    # Without labels nothing links criteria: identical code of two sentences does not make one
    # generic check cover both (issue 16: `bullets_mostly_strict` covered 50 criteria).
    assert derive_subsumption([strict, lenient, twin], []) == set()
    same = det("same", "return len(response) < 5")
    assert derive_subsumption([strict, same], []) == {(0, 1), (1, 0)}


def test_llm_subsumption_claims_are_verified_against_the_labels() -> None:
    names = ["a", "b", "c"]
    M = [[0, 0, 1], [0, 1, 0], [1, 1, 1]]
    kept, rejected = verify_subsumption([("a", "b"), ("b", "a"), ("a", "c")], names, M)
    assert kept == {(0, 1), (0, 2)}
    assert rejected == 1
