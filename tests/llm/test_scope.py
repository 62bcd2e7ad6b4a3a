"""Which client is current: one ContextVar, scoped to the task / thread context that set it."""

from __future__ import annotations

import asyncio
import threading

from llmassert.config import Settings
from llmassert.llm.client import LLMClient
from llmassert.llm.scope import current, use_client
from llmassert.llm.session import get_client, session


def test_session_makes_its_client_current_for_get_client_and_nothing_leaks_after(
    llm_settings: Settings,
) -> None:
    assert current() is None
    with session(llm_settings, "scope") as client:
        assert current() is client
        assert get_client(llm_settings) is client  # same settings: the run's client
        other = llm_settings.replace(max_concurrency=3)
        assert get_client(other) is not client  # other settings: a new one
    assert current() is None


def test_innermost_client_wins_and_is_restored(llm_settings: Settings) -> None:
    outer, inner = get_client(llm_settings), get_client(llm_settings)
    assert outer is not inner
    with use_client(outer):
        with use_client(inner):
            assert current() is inner
        assert current() is outer


def test_a_concurrent_task_does_not_see_another_tasks_client(llm_settings: Settings) -> None:
    a, b = get_client(llm_settings), get_client(llm_settings)
    seen: dict[str, object] = {}

    async def task(name: str, client: LLMClient) -> None:
        with use_client(client):
            await asyncio.sleep(0.01)  # both scopes are open at once
            seen[name] = current()

    async def both() -> None:
        await asyncio.gather(task("a", a), task("b", b))

    asyncio.run(both())
    assert seen == {"a": a, "b": b}


def test_a_thread_started_without_the_context_does_not_see_the_scope(
    llm_settings: Settings,
) -> None:
    client = get_client(llm_settings)
    seen: list[object] = []
    with use_client(client):
        thread = threading.Thread(target=lambda: seen.append(current()))
        thread.start()
        thread.join()
        assert asyncio.run(asyncio.to_thread(current)) is client  # to_thread copies it
    assert seen == [None]
