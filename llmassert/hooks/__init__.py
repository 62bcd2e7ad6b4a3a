"""Runtime hooks: guards with on-fail policies, the litellm integration, the failure log."""

from llmassert.hooks.failure_log import FailureLog
from llmassert.hooks.guard import Guard, GuardOptions, GuardStats, OnFail, guard
from llmassert.hooks.litellm_hooks import (
    LiteLLMGuard,
    guarded_completion,
    install,
    litellm_callback,
    remove_litellm_callback,
)

__all__ = [
    "FailureLog",
    "Guard",
    "GuardOptions",
    "GuardStats",
    "LiteLLMGuard",
    "OnFail",
    "guard",
    "guarded_completion",
    "install",
    "litellm_callback",
    "remove_litellm_callback",
]
