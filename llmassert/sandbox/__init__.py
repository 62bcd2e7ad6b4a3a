"""Running untrusted assertion code: the AST allowlist, in-process loading, the process sandbox.

Below both ``synth/`` (which evaluates model-written candidates) and ``assertions/`` (which loads
assertion modules): it imports neither. ``policy.py`` is the static allowlist, ``_worker.py`` the
stdlib-only restricted runtime and worker process, ``process.py`` the public API.
"""

from llmassert.errors import UnsafeCodeError
from llmassert.sandbox.process import (
    AssertionFn,
    CallResult,
    ProcessSandbox,
    check_inline_safe,
    is_inline_safe,
    load_inline,
    validate_source,
)

__all__ = [
    "AssertionFn",
    "CallResult",
    "ProcessSandbox",
    "UnsafeCodeError",
    "check_inline_safe",
    "is_inline_safe",
    "load_inline",
    "validate_source",
]
