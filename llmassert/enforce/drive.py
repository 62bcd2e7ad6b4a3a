"""The re-ask loop, written once: ask → check → decide, until a final decision (sync and async).

A driver supplies ``ask(decision)`` (``None`` for the first answer, else the re-ask decision,
whose failures and style the caller renders into feedback) and ``check(answer)`` (the answer's
failures); the :class:`~llmassert.enforce.core.Enforcer` decides.  Applying the final verdict
(fix, filter, flag, quarantine, raise) is the caller's: only it knows what a response is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from llmassert.enforce.core import Decision, Enforcer
from llmassert.enforce.failure import Failure

T = TypeVar("T")


def enforce(
    enforcer: Enforcer,
    ask: Callable[[Decision | None], T],
    check: Callable[[T], Sequence[Failure]],
    can_reask: Callable[[T], bool] | None = None,
) -> tuple[T, Decision]:
    """The last answer and the final decision on it."""
    answer = ask(None)
    while True:
        decision = enforcer.decide(
            check(answer), can_reask=can_reask(answer) if can_reask else True
        )
        if decision.verdict != "reask":  # final (not .final: this is the hot path)
            return answer, decision
        answer = ask(decision)


async def aenforce(
    enforcer: Enforcer,
    ask: Callable[[Decision | None], Awaitable[T]],
    check: Callable[[T], Awaitable[Sequence[Failure]]],
    can_reask: Callable[[T], bool] | None = None,
) -> tuple[T, Decision]:
    """Async :func:`enforce`."""
    answer = await ask(None)
    while True:
        decision = enforcer.decide(
            await check(answer), can_reask=can_reask(answer) if can_reask else True
        )
        if decision.verdict != "reask":  # final (not .final: this is the hot path)
            return answer, decision
        answer = await ask(decision)
