"""The one policy vocabulary: what to do with a response that fails its checks.

A :class:`Policy` is a final :data:`Action` plus re-ask budgets.  Both user vocabularies map
onto it where specs and arguments are parsed (:func:`parse_policy`), old spellings included:

=============================  =========================  =====================================
guard / litellm (Guardrails)    pipeline ``on_fail`` (DocETL)  Policy
=============================  =========================  =====================================
``exception``, ``raise``        ``raise``                  action ``raise``
``reask``                       ``retry``                  re-ask up to N times, then the
                                                           driver's ``exhausted`` action
                                                           (guard: raise; pipeline: quarantine)
(none)                          ``glean``                  as ``retry``, refine-style feedback
``fix``                         (none)                     action ``fix`` (the module's fixes)
``filter``                      (none)                     action ``filter`` (return None)
``noop``                        ``flag``                   action ``flag`` (keep, record)
(none)                          ``quarantine``             action ``quarantine``
=============================  =========================  =====================================

Budgets are per kind of failure: ``max_reasks`` for assertion failures, ``max_repairs`` for
schema and ``validate:`` failures (a pipeline's ``num_retries_on_validate_failure``, the
client's structured-output re-asks).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from llmassert.errors import ConfigError

Action = Literal["raise", "fix", "filter", "flag", "quarantine"]
# How re-ask feedback is worded: "retry" lists the failed checks; "refine" (gleaning) asks to
# improve the answer using the feedback.
FeedbackStyle = Literal["retry", "refine"]

# spelling -> (final action, or None for "the driver's exhausted action"; re-asks?; style)
SPELLINGS: dict[str, tuple[Action | None, bool, FeedbackStyle]] = {
    "raise": ("raise", False, "retry"),
    "exception": ("raise", False, "retry"),
    "reask": (None, True, "retry"),
    "retry": (None, True, "retry"),
    "glean": (None, True, "refine"),
    "fix": ("fix", False, "retry"),
    "filter": ("filter", False, "retry"),
    "flag": ("flag", False, "retry"),
    "noop": ("flag", False, "retry"),
    "quarantine": ("quarantine", False, "retry"),
}


@dataclass(frozen=True, slots=True)
class Policy:
    """What to do with a failing response: re-ask within budgets, then ``action``."""

    action: Action = "raise"
    max_reasks: int = 0  # re-asks for assertion failures
    max_repairs: int = 0  # re-asks for schema / validate failures
    feedback: FeedbackStyle = "retry"
    reask: bool = False  # assertion failures are re-asked (reask / retry / glean)
    name: str = ""  # the spelling the user wrote (logs and failure records show it)


def parse_policy(
    spelling: str,
    *,
    max_reasks: int = 0,
    max_repairs: int = 0,
    exhausted: Action = "raise",
    allowed: Collection[str] | None = None,
    field: str = "on_fail",
) -> Policy:
    """The :class:`Policy` a user's ``on_fail`` spelling means (see the module table).

    ``allowed``: the spellings this entry point accepts (a guard has no quarantine file, a
    pipeline row no fix functions); ``exhausted``: the action once re-asks run out.
    """
    names = tuple(allowed) if allowed is not None else tuple(SPELLINGS)
    if spelling not in names or spelling not in SPELLINGS:
        raise ConfigError(
            f"unknown policy {spelling!r}; choose one of {', '.join(names)}", field=field
        )
    if max_reasks < 0 or max_repairs < 0:
        raise ConfigError("re-ask limits must be >= 0", field=field)
    action, reasks, style = SPELLINGS[spelling]
    return Policy(
        action=action or exhausted,
        max_reasks=max_reasks if reasks else 0,
        max_repairs=max_repairs,
        feedback=style,
        reask=reasks,
        name=spelling,
    )
