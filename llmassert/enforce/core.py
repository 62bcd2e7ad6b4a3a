"""The enforcement core, sans-IO: given a response's failures, say what to do next.

It makes no call and reads no file (the h11 style): a driver asks the model, checks the answer,
and hands the failures to :meth:`Enforcer.decide`, which returns a :class:`Decision` — accept,
re-ask with feedback, or the policy's final action (fix / filter / flag / quarantine / raise) —
and keeps the budgets and the record of why.  The drivers are :mod:`llmassert.enforce.drive`
(sync and async), used by the guard and the litellm integration (``hooks/``), the pipeline's
``LLMStep`` and the LLM client's structured-output re-asks.

Seams for later work: a decision is a function of the failures it is given, so a severity per
assertion (warn vs block) is a filter on ``failures`` before :meth:`decide`, and streaming
validation decides on the assembled text like any other answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

from llmassert.enforce.failure import Failure
from llmassert.enforce.policy import FeedbackStyle, Policy

Verdict = Literal["accept", "reask", "fix", "filter", "flag", "quarantine", "raise"]


class Decision(NamedTuple):
    """What to do with one answer, and why.  (A NamedTuple: one is made per guarded call.)"""

    verdict: Verdict
    failures: tuple[Failure, ...] = ()
    attempt: int = 0  # 0-based index of the answer decided on
    reasks: int = 0  # re-asks made before this answer
    # For "reask": how the feedback is worded.
    style: FeedbackStyle = "retry"
    # The policy re-asks and its budget is spent (the answer failed after `reasks` re-asks).
    exhausted: bool = False
    reason: str = "passed"

    @property
    def final(self) -> bool:
        return self.verdict != "reask"


class Enforcer:
    """The state of one enforcement (one call, row or unit): budgets left and decisions made."""

    __slots__ = ("attempt", "policy", "reasks", "reasks_left", "repairs_left", "trail")

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.reasks_left = policy.max_reasks
        self.repairs_left = policy.max_repairs
        self.reasks = 0  # re-ask decisions made
        self.attempt = 0  # index of the next answer to decide on
        self.trail: list[Decision] = []

    def decide(self, failures: Sequence[Failure], *, can_reask: bool = True) -> Decision:
        """The decision on the next answer, given what it fails (nothing: accept).

        ``can_reask=False``: the driver cannot re-ask this answer (e.g. an answer with no
        choices), so the final action applies at once.
        """
        attempt, reasks = self.attempt, self.reasks
        self.attempt += 1
        if not failures:
            # The common case on every guarded call: a first answer that passes.
            decision = _FIRST_PASSED if attempt == 0 else Decision("accept", (), attempt, reasks)
            self.trail.append(decision)
            return decision
        found = tuple(failures)
        assertion = any(f.source == "assertion" for f in found)
        repairable = any(f.source != "assertion" for f in found)
        spend_reask = assertion and self.reasks_left > 0
        spend_repair = repairable and self.repairs_left > 0
        if can_reask and (spend_reask or spend_repair):
            self.reasks_left -= int(spend_reask)
            self.repairs_left -= int(spend_repair)
            self.reasks += 1
            # Refine-style (gleaning) feedback whenever assertions fail under `glean`.
            style = self.policy.feedback if assertion else "retry"
            decision = Decision(
                "reask",
                found,
                attempt,
                reasks,
                style=style,
                reason=f"re-ask {reasks + 1}: {_names(found)}",
            )
        else:
            exhausted = self.policy.reask and assertion
            why = f"after {reasks} re-ask(s)" if exhausted else f"policy {self.policy.name}"
            decision = Decision(
                self.policy.action,
                found,
                attempt,
                reasks,
                exhausted=exhausted,
                reason=f"{self.policy.action}: {_names(found)} ({why})",
            )
        self.trail.append(decision)
        return decision


_FIRST_PASSED = Decision("accept")


def _names(failures: tuple[Failure, ...]) -> str:
    return ", ".join(f.name for f in failures)
