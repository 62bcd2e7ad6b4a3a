"""When a streamed stage starts its next input row: as the LLM client runs short of work.

A fixed window of input rows (say 4 × the concurrency bound) started at once makes every row's
CPU work before its first call — splitting and tokenizing a document, gathering, rendering —
run before the first request leaves (asyncio runs every ready task before it polls a socket):
3 s at 1,000 documents.  Here rows start in growing bursts (1, 2, 4, ...: the first row's
request is on the wire before the next rows are split) and only while the client is short of
work: fewer than twice its bound in flight or queued (one round in flight, one queued behind
it, so a freed slot always finds a request waiting and what waits stays bounded).  Rows are
converted to calls with the stage's observed fan-out (LLM units started per row started).
Two fixed bounds remain: at most ``width`` rows running, and none more than ``ahead`` past the
oldest row not yet handed over (output order).  A client that cannot tell its backlog
(``LLMClient.backlog() is None``: Ray's remote client, test doubles) leaves only those two.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmassert.llm.client import LLMClient


class Admission:
    """Starts ``start(0..n-1)`` as the bounds allow (see the module docstring)."""

    def __init__(self, client: LLMClient | None, width: int, ahead: int) -> None:
        self.client = client
        self.width = width
        self.ahead = ahead
        self.calls = 0  # LLM units the stage's rows started: calls / rows is the fan-out
        self._wake = asyncio.Event()

    def notify(self) -> None:
        """Something finished (a unit, a row): the bounds may allow more rows now."""
        self._wake.set()

    def room(self, started: int, running: int, head: int, burst: int) -> int:
        """How many more rows may start now."""
        n = min(burst, self.width - running, head + self.ahead - started)
        backlog = self.client.backlog() if self.client is not None else None
        if backlog is not None and n > 0:
            held, bound = backlog
            per_row = self.calls / started if started and self.calls else 1.0
            n = min(n, math.ceil((2 * bound - held) / max(per_row, 1.0)))
            if running == 0:
                # The backlog is other work on the same client (another stage, partition or
                # thread): none of ours would wake this admission, so one row goes anyway.
                n = max(n, 1)
        return n

    async def run(
        self,
        n: int,
        start: Callable[[int], Coroutine[None, None, None]],
        head: Callable[[], int],
    ) -> None:
        """Run ``start(i)`` for every row; ``head()`` is the oldest row not yet handed over.
        The first error cancels the rest and is raised."""
        loop = asyncio.get_running_loop()
        running: set[asyncio.Task[None]] = set()
        errors: list[BaseException] = []

        def finished(task: asyncio.Task[None]) -> None:
            running.discard(task)
            if not task.cancelled() and task.exception() is not None:
                errors.append(task.exception())  # type: ignore[arg-type]
            self._wake.set()

        started, burst = 0, 1
        try:
            while not errors and (started < n or running):
                k = min(n - started, self.room(started, len(running), head(), burst))
                if k <= 0:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                for i in range(started, started + k):
                    task = loop.create_task(start(i))
                    running.add(task)
                    task.add_done_callback(finished)
                started += k
                burst = min(2 * burst, self.width)
                # The rows just started run their first operations in the next turn of the
                # loop and queue their calls in the one after: count again after both.
                await asyncio.sleep(0)
                await asyncio.sleep(0)
            if errors:
                raise errors[0]
        finally:
            if running:
                for task in running:
                    task.cancel()
                await asyncio.gather(*running, return_exceptions=True)
