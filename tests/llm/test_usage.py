"""Tokens and cost summed over retries and re-asks; per-tag totals; the budget stop."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from llmassert.config import Settings
from llmassert.errors import EXIT_BUDGET, BudgetExceededError
from llmassert.llm import LLMRequest, usage
from llmassert.llm.managed_client import build_client
from llmassert.llm.usage import cost_of, model_price, set_price
from llmassert.testing.fake_server import FakeLLMServer, Reply

from .conftest import SCHEMA, user

PRICED = "openai/gpt-4o-mini"  # priced in litellm's table; served by the loopback server


def test_prices_come_from_litellms_table_without_importing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    probe = (
        "import sys; from llmassert.llm.usage import model_price; "
        "assert model_price('openai/gpt-4o-mini')[0] > 0; "
        "assert 'litellm' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", probe], check=True)
    monkeypatch.setattr(usage, "_overrides", {})
    pin, pout = model_price(PRICED)
    assert pin > 0 and pout > pin
    assert model_price("openai/no-such-model") == (0.0, 0.0)
    assert model_price("groq/gpt-4o-mini") == (0.0, 0.0)  # same name, other provider
    assert cost_of(PRICED, 1000, 0) == pytest.approx(1000 * pin)
    set_price("openai/house-model", 1e-6, 2e-6)
    assert cost_of("openai/house-model", 10, 10) == pytest.approx(3e-5)


def test_cost_and_tokens_are_summed_over_retries_and_reasks(
    llm_settings: Settings, llm_server: FakeLLMServer
) -> None:
    client = build_client(llm_settings.replace(model=PRICED))
    llm_server.script(
        Reply(status=429, headers={"Retry-After": "0"}),
        Reply(tool_args="{not json", usage=(100, 50)),
        Reply(status=503),
        Reply(tool_args={"answer": "x", "score": 1}, usage=(130, 20)),
    )
    result = client.complete(
        LLMRequest(model=PRICED, messages=user("q"), output_schema=SCHEMA, tag="judge")
    )
    assert result.reasks == 1 and result.attempts == 4
    u = result.usage
    assert (u.prompt_tokens, u.completion_tokens, u.requests) == (230, 70, 4)
    assert u.cost == pytest.approx(cost_of(PRICED, 230, 70)) and u.cost > 0
    assert client.usage == u
    summary = client.summary()
    assert summary.retries == 2 and summary.reasks == 1 and summary.calls == 1
    assert summary.by_tag["judge"] == u
    assert "4 requests" in summary.line() and "300 tokens" in summary.line()


def test_per_tag_breakdown(client_settings_priced: Settings) -> None:
    client = build_client(client_settings_priced)
    for tag in ("map", "map", "judge"):
        client.complete(
            LLMRequest(model=PRICED, messages=user(f"{tag}?"), tag=tag, use_cache=False)
        )
    by_tag = client.summary().by_tag
    assert by_tag["map"].requests == 2 and by_tag["judge"].requests == 1
    assert by_tag["map"].cost + by_tag["judge"].cost == pytest.approx(client.usage.cost)


@pytest.fixture
def client_settings_priced(llm_settings: Settings) -> Settings:
    return llm_settings.replace(model=PRICED)


def test_token_budget_stops_new_calls_cleanly(
    llm_settings: Settings, llm_server: FakeLLMServer
) -> None:
    client = build_client(llm_settings.replace(max_tokens_total=100))
    llm_server.script(Reply(content="a", usage=(60, 50)))
    client.complete(LLMRequest(model="openai/fake-model", messages=user("first")))
    with pytest.raises(BudgetExceededError) as info:
        client.complete(LLMRequest(model="openai/fake-model", messages=user("second")))
    assert info.value.exit_code == EXIT_BUDGET
    assert "110 tokens" in str(info.value) and "after 1 calls" in str(info.value)
    assert llm_server.stats.requests == 1  # the refused call never reached the server
    # Cached answers cost nothing and are still served.
    assert client.complete(LLMRequest(model="openai/fake-model", messages=user("first"))).cached


def test_cost_budget_lets_in_flight_calls_finish(
    llm_settings: Settings, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(usage, "_overrides", {})
    set_price("openai/fake-model", 1e-3, 1e-3)
    client = build_client(llm_settings.replace(max_cost=0.05, max_concurrency=4))
    llm_server.latency_s = 0.05
    llm_server.handler = lambda body: Reply(content="x", usage=(10, 10))  # $0.02 per call

    async def run() -> list[object]:
        reqs = [LLMRequest(model="openai/fake-model", messages=user(f"d{i}")) for i in range(4)]
        first = await client.agather(reqs)  # all four start before any spend is known
        rest = await asyncio.gather(
            *(
                client.acomplete(LLMRequest(model="openai/fake-model", messages=user(f"e{i}")))
                for i in range(3)
            ),
            return_exceptions=True,
        )
        return [*first, *rest]

    results = asyncio.run(run())
    assert llm_server.stats.requests == 4
    assert all(isinstance(r, BudgetExceededError) for r in results[4:])
    assert client.usage.cost == pytest.approx(0.08)
