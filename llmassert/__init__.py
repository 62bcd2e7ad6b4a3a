"""llmassert: assertions for LLM outputs, synthesized from prompt history.

Public names are listed in ``__all__`` and pinned by tests/test_public_api.py.
"""

from __future__ import annotations

import os

# Set before anything can import litellm: never fetch the model cost map from the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from typing import TYPE_CHECKING, Any

from llmassert.errors import AssertionsFailedError, LlmAssertError

if TYPE_CHECKING:
    from llmassert.assertions import AssertionSet, CheckResult, Failure
    from llmassert.config import Settings
    from llmassert.hooks.guard import guard

__version__ = "0.1.0"

__all__ = [
    "AssertionSet",
    "AssertionsFailedError",
    "CheckResult",
    "Failure",
    "LlmAssertError",
    "Settings",
    "__version__",
    "guard",
]

# Imported on first use: the pytest plugin imports this package in every pytest run of every
# project that has llmassert installed, and pydantic alone would cost it ~100 ms.
_LAZY = {
    "Settings": "llmassert.config",
    "AssertionSet": "llmassert.assertions",
    "CheckResult": "llmassert.assertions",
    "Failure": "llmassert.assertions",
    "guard": "llmassert.hooks",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'llmassert' has no attribute {name!r}")
