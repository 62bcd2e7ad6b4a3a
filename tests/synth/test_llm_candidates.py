"""LLM-written candidates over real HTTP to the loopback server: vetted, renamed, counted."""

from __future__ import annotations

import asyncio
import json

import pytest

from llmassert.config import Settings
from llmassert.errors import LLMTransportError
from llmassert.llm import get_client
from llmassert.sandbox import validate_source
from llmassert.synth.llm_candidates import (
    LLMStats,
    NameRegistry,
    categorize,
    claim_subsumptions,
    generate,
)
from llmassert.synth.models import Candidate, Category, Criterion
from llmassert.testing.fake_server import FakeLLMServer, Reply

LIMIT = Criterion(
    id="c-limit",
    prompt="email",
    version=2,
    text="Keep it under {word_count} words.",
    category=Category.COUNT,
    variables=("word_count",),
)
REPHRASE = Criterion(
    id="c-role",
    prompt="email",
    version=3,
    text="You are a friendly marketer.",
    category=Category.PROMPT_REPHRASING,
)

GOOD = (
    "from llmassert.assertions.helpers import as_int, word_count\n\n"
    "def under_limit(example, response):\n"
    "    limit = as_int(example.get('word_count'))\n"
    "    return limit is not None and word_count(response) < limit\n"
)
VARIANTS = [
    {"name": "under limit", "description": "fewer words than word_count", "code": GOOD},
    # the same code reformatted and renamed: a duplicate
    {
        "name": "again",
        "description": "same",
        "code": GOOD.replace("under_limit", "again").replace(
            "    limit = ", "    # comment\n    limit = "
        ),
    },
    {
        "name": "uses_os",
        "description": "x",
        "code": "import os\n\ndef uses_os(example, response):\n"
        "    return response.__class__ is str and os.getcwd() != ''\n",
    },
    {"name": "broken", "description": "x", "code": "def broken(example, response:\n"},
    {"name": "one_arg", "description": "x", "code": "def one_arg(response):\n    return True\n"},
    {
        "name": "spins",
        "description": "loops forever (caught later by the sandbox timer)",
        "code": "def spins(example, response):\n    while True:\n        pass\n",
    },
]


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_generated_checks_are_vetted_and_bad_ones_counted(
    llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.script(
        Reply(
            tool_args={
                "checks": VARIANTS,
                "judges": [
                    {"name": "concise", "question": "Is the email\n concise?"},
                    {"name": "concise_again", "question": "is the email concise"},
                    {"name": "empty", "question": "?"},
                ],
            }
        ),
        match="Keep it under",
    )
    stats = LLMStats()
    names = NameRegistry(["under_limit"])  # a rule candidate already has this name
    client = get_client(llm_settings)
    made = run(
        generate(client, llm_settings.model or "", [LIMIT, REPHRASE], "prompt text", names, stats)
    )
    assert len(llm_server.requests) == 1  # rephrasings yield no assertions: not asked
    by_name = {c.name: c for c in made}
    assert sorted(by_name) == ["concise", "spins", "under_limit_2"]
    check = by_name["under_limit_2"]
    assert "def under_limit_2(example, response):" in check.code
    assert check.source == "llm" and check.kind == "deterministic"
    for c in made:
        validate_source(c.code)
    judge = by_name["concise"]
    assert judge.kind == "llm_judge" and judge.judge_question == "Is the email concise?"
    assert "return llm_judge('Is the email concise?', example, response)" in judge.code
    assert stats.checks == 2 and stats.judges == 1
    assert stats.dropped == {
        "duplicate": 2,
        "unsafe code (sandbox allowlist)": 1,
        "syntax error": 1,
        "wrong signature (needs example, response)": 1,
        "judge question empty or too long": 1,
    }
    # The request carried the criterion, its variables and the helper reference.
    body = llm_server.requests[0].body
    user = body["messages"][1]["content"]
    assert "Keep it under {word_count} words." in user and "word_count" in user
    assert "word_count(" in body["messages"][0]["content"]
    assert body["tools"][0]["function"]["name"] == "candidates"


def test_off_schema_generation_drops_that_criterion_only(
    llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = lambda body: Reply(tool_args='{"checks": "not a list"}')
    stats = LLMStats()
    settings = llm_settings.replace(max_reasks=1)
    made = run(
        generate(get_client(settings), settings.model or "", [LIMIT], "p", NameRegistry(), stats)
    )
    assert made == []
    assert sum(stats.dropped.values()) == 1
    assert len(llm_server.requests) == 2  # the layer re-asked once


def test_model_recategorizes_and_a_bad_answer_keeps_the_rule_category(
    llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.script(
        Reply(tool_args={"category": "Inclusion", "reason": "must mention"}), match="Keep it under"
    )
    llm_server.script(Reply(tool_args={"category": "Nonsense", "reason": "?"}), match="friendly")
    stats = LLMStats()
    settings = llm_settings.replace(max_reasks=0)
    out = run(categorize(get_client(settings), settings.model or "", [LIMIT, REPHRASE], stats))
    assert [c.category for c in out] == [Category.INCLUSION, Category.PROMPT_REPHRASING]
    assert [c.id for c in out] == [LIMIT.id, REPHRASE.id]
    assert stats.recategorized == 1
    assert list(stats.dropped) == ["categorization kept from rules: off-schema answer"]


def test_subsumption_claims_keep_known_names_only(
    llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    cands = [
        Candidate(
            name=n,
            criterion_id="c-limit",
            kind="deterministic",
            code=f"def {n}(example, response):\n    return True\n",
        )
        for n in ("strict", "lenient")
    ]
    llm_server.script(
        Reply(
            tool_args={
                "pairs": [
                    {"stronger": "strict", "weaker": "lenient"},
                    {"stronger": "strict", "weaker": "strict"},
                    {"stronger": "ghost", "weaker": "lenient"},
                ]
            }
        )
    )
    stats = LLMStats()
    pairs = run(
        claim_subsumptions(
            get_client(llm_settings), llm_settings.model or "", "email", cands, [LIMIT], stats
        )
    )
    assert pairs == [("strict", "lenient")]
    assert stats.dropped == {"subsumption claim with unknown names": 2}
    listing = llm_server.requests[0].body["messages"][1]["content"]
    assert json.loads(listing.split(":\n", 1)[1].rsplit("\n\n", 1)[0])[0]["name"] == "strict"


def test_transport_failures_stop_synthesis_loudly(
    llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = lambda body: Reply(status=500)
    settings = llm_settings.replace(max_retries=0)
    with pytest.raises(LLMTransportError):
        run(
            generate(
                get_client(settings), settings.model or "", [LIMIT], "p", NameRegistry(), LLMStats()
            )
        )


def test_name_registry_makes_valid_unique_identifiers() -> None:
    names = NameRegistry(["taken"])
    assert names.claim("taken") == "taken_2"
    assert names.claim("Taken!") == "taken_3"
    assert names.claim("class") == "check_class"
    assert names.claim("9 lives") == "check_9_lives"
    assert names.claim("", fallback="judge") == "judge"
    assert names.claim("QUESTION") == "question"
