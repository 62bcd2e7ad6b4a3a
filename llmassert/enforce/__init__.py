"""Enforcement: one core deciding what to do with a response that fails its checks.

:mod:`~llmassert.enforce.failure` (the one ``Failure``), :mod:`~llmassert.enforce.policy` (the
one policy vocabulary and its parser), :mod:`~llmassert.enforce.core` (the sans-IO decision),
:mod:`~llmassert.enforce.feedback` (the re-ask texts, data fenced) and
:mod:`~llmassert.enforce.drive` (the loop, sync and async).  Below ``llm/``, ``assertions/``,
``hooks/`` and ``pipeline/``, which all use it; it imports only ``errors``.
"""

from llmassert.enforce.core import Decision, Enforcer, Verdict
from llmassert.enforce.drive import aenforce, enforce
from llmassert.enforce.failure import Failure, Source
from llmassert.enforce.policy import Action, FeedbackStyle, Policy, parse_policy

__all__ = [
    "Action",
    "Decision",
    "Enforcer",
    "Failure",
    "FeedbackStyle",
    "Policy",
    "Source",
    "Verdict",
    "aenforce",
    "enforce",
    "parse_policy",
]
