"""The one :class:`Failure`: a check a response did not pass, whichever layer checked it.

Assertions (``assertions/``), a pipeline's ``validate:`` expressions and output schema, and the
LLM client's structured-output validation all report failures in this shape, and the
enforcement core (:mod:`llmassert.enforce.core`) decides on them.  A plain frozen dataclass:
built on every guarded call, where microseconds matter; an output, never parsed from users.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

# Which check failed: an assertion function, a `validate:` expression, or the output schema.
Source = Literal["assertion", "validate", "schema"]


@dataclass(frozen=True, slots=True)
class Failure:
    """One check that did not pass: its name, the criterion it encodes, and why."""

    name: str
    criterion: str = ""
    message: str = ""
    # "failed": returned False; "error": raised or returned a non-bool; "timeout": ran too long.
    kind: str = "failed"
    source: Source = "assertion"

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
