"""A run-wide client: one client (one budget, one concurrency bound) and one cassette per command.

Inside ``with session(settings, name) as client:`` every ``llmassert.llm.get_client()`` with the
same settings (or none) returns ``client``, so library code that builds its own client still
shares the run's limits, budget and usage report.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from llmassert.config import Settings
from llmassert.llm import recording
from llmassert.llm.client import LLMClient

_stack: list[tuple[Settings, LLMClient]] = []
_lock = threading.Lock()


def current(settings: Settings | None = None) -> LLMClient | None:
    """The innermost session client whose settings equal ``settings`` (any, when None)."""
    with _lock:
        for active_settings, client in reversed(_stack):
            if settings is None or settings == active_settings:
                return client
    return None


@contextmanager
def session(
    settings: Settings, name: str, *, record_hint: str | None = None
) -> Iterator[LLMClient]:
    """Build a client for ``settings`` and activate record/replay under cassette ``name``
    (``record_hint``: see :func:`llmassert.llm.recording.cassette`)."""
    from llmassert.llm.litellm_client import build_client

    client = build_client(settings)
    hint = {} if record_hint is None else {"record_hint": record_hint}
    with recording.cassette(settings, name, **hint):
        entry = (settings, client)
        with _lock:
            _stack.append(entry)
        try:
            yield client
        finally:
            with _lock:
                _stack.remove(entry)
