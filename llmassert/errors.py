"""The one exception tree of llmassert.

Every error a user can cause or meet derives from :class:`LlmAssertError`; the CLI catches only
that base class, prints ``str(error)`` on one line and exits with ``error.exit_code``.
Anything else escaping is a bug in llmassert and is shown with its traceback.

::

    LlmAssertError                      exit 2 unless noted
    ├── ConfigError                     settings, model strings, api_base, missing keys
    ├── InputError                      a user file is missing, unreadable or malformed
    │   ├── HistoryError                prompt histories (folders, yaml/json, git)
    │   ├── LabelsError                 labeled examples (JSONL)
    │   ├── MatrixError                 matrix / manifest files for `select`
    │   ├── SpecError                   pipeline YAML (unknown operator, key, missing dataset)
    │   └── AssertionModuleError        assertion modules that do not load or are unsafe
    ├── OutputError                     an output cannot be written there: a folder where a
    │                                   file goes, an input, locked by another run, unwritable
    ├── LLMError                        anything from the LLM layer
    │   ├── LLMTransportError           network / HTTP errors left after retries
    │   │   └── LLMRateLimitError       429s left after retries
    │   ├── LLMOutputError              output unparseable or off-schema after re-asks
    │   ├── CassetteMissError           replay mode and the request is not in the cassette
    │   └── BudgetExceededError         --max-cost / --max-tokens reached (exit 3)
    ├── SynthesisError                  synthesis could not proceed
    │   └── SandboxError                untrusted code rejected (UnsafeCodeError) or it failed
    │       ├── UnsafeCodeError         the AST allowlist refused the code
    │       └── SandboxTimeoutError     the code ran past its time or memory limit
    ├── SelectionError                  the ILP failed
    │   └── InfeasibleError             targets (alpha, tau) cannot be met; carries the nearest
    ├── PipelineError                   a pipeline failed at run time
    │   ├── TemplateError               a Jinja prompt does not render (missing variable, ...)
    │   └── OperationError              an operator failed on its input
    └── AssertionsFailedError           checks failed where the policy is "raise" (exit 1)

Errors format as ``<file>: <field>: <message>`` when they know the file and field, so that a
user sees where to look in one line; the line is scrubbed of secrets (keys, credentials in URLs,
auth headers: see :mod:`llmassert.secrets`), whatever the message quoted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmassert.secrets import scrub

EXIT_OK = 0
EXIT_ASSERTIONS_FAILED = 1
EXIT_ERROR = 2
EXIT_BUDGET = 3


class LlmAssertError(Exception):
    """Base of every error llmassert raises on purpose."""

    exit_code: int = EXIT_ERROR

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.field = field
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        parts = [p for p in (self.file, self.field) if p]
        text = ": ".join([*parts, self.message])
        if self.hint:
            text += f" ({self.hint})"
        # One line, always: multi-line messages break log parsers and CI annotations.
        return scrub(" ".join(text.split()))


class ConfigError(LlmAssertError):
    """Settings, model strings, endpoints or credentials are wrong."""


class InputError(LlmAssertError):
    """A user-provided file is missing, unreadable or malformed."""


class HistoryError(InputError):
    """A prompt history cannot be loaded."""


class LabelsError(InputError):
    """Labeled examples cannot be parsed."""


class MatrixError(InputError):
    """A matrix or manifest file for selection is malformed."""


class SpecError(InputError):
    """A pipeline YAML file is invalid."""


class AssertionModuleError(InputError):
    """An assertion module cannot be loaded (missing, unsafe, or broken)."""


class OutputError(LlmAssertError):
    """An output path cannot be written: wrong kind, an input, locked, or not writable."""


class LLMError(LlmAssertError):
    """An error from the LLM layer."""


class LLMTransportError(LLMError):
    """The request failed at the HTTP/network level and retries are exhausted."""

    def __init__(self, message: str, *, status: int | None = None, **kw: Any) -> None:
        self.status = status
        super().__init__(message, **kw)


class LLMRateLimitError(LLMTransportError):
    """The provider kept answering 429 after all retries."""


class LLMOutputError(LLMError):
    """The model's output could not be parsed or validated, even after re-asking."""


class CassetteMissError(LLMError):
    """Replay mode: the request is not in the cassette. Never retried, never sent live."""


class BudgetExceededError(LLMError):
    """The configured cost or token budget is spent; the run stopped cleanly."""

    exit_code = EXIT_BUDGET


class SynthesisError(LlmAssertError):
    """Assertion synthesis could not proceed."""


class SandboxError(SynthesisError):
    """Untrusted code was refused or failed inside the sandbox."""


class UnsafeCodeError(SandboxError):
    """The AST allowlist refused the code."""


class SandboxTimeoutError(SandboxError):
    """The code exceeded its time or memory limit."""


class SelectionError(LlmAssertError):
    """The assertion-selection ILP failed."""


class InfeasibleError(SelectionError):
    """The (alpha, tau) targets cannot be met.

    ``nearest`` holds the closest feasible (alpha, tau) found on a grid, or None.
    """

    def __init__(
        self, message: str, *, nearest: tuple[float, float] | None = None, **kw: Any
    ) -> None:
        self.nearest = nearest
        super().__init__(message, **kw)


class PipelineError(LlmAssertError):
    """A pipeline failed at run time."""


class TemplateError(PipelineError):
    """A prompt template failed to render."""


class OperationError(PipelineError):
    """An operator failed on its input."""


class AssertionsFailedError(LlmAssertError):
    """Assertions failed under a policy that raises (``on_fail="exception"``/``raise``)."""

    exit_code = EXIT_ASSERTIONS_FAILED

    def __init__(self, message: str, *, failures: list[Any] | None = None, **kw: Any) -> None:
        self.failures = failures or []
        super().__init__(message, **kw)
