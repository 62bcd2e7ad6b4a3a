"""Which client is current: one :class:`~contextvars.ContextVar` holds the active clients.

``with use_client(client):`` makes a client current for the block;
:func:`llmassert.llm.session.session` (what CLI commands run in) does the same for the client it
builds.  A ContextVar, not a global: concurrent tasks and threads started with a copied context
(``asyncio.to_thread``, the judge pool, :func:`llmassert.aio.run_sync`) see the scope they were
started in, and two runs or tests in one process do not see each other's clients.  This module
builds nothing (so importing it is cheap); :func:`llmassert.llm.session.get_client` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from llmassert.llm.client import LLMClient

if TYPE_CHECKING:
    from llmassert.config import Settings

# Innermost last; a tuple so a context's value is never mutated by another context.
_active: ContextVar[tuple[LLMClient, ...]] = ContextVar("llmassert_clients", default=())


def current(settings: Settings | None = None) -> LLMClient | None:
    """The innermost active client whose settings equal ``settings`` (any, when None)."""
    for client in reversed(_active.get()):
        if settings is None or client.settings == settings:
            return client
    return None


@contextmanager
def use_client(client: LLMClient) -> Iterator[LLMClient]:
    """Make ``client`` the current one inside the block (this task / thread context)."""
    token = _active.set((*_active.get(), client))
    try:
        yield client
    finally:
        _active.reset(token)
