"""What checking a response produces: a :class:`CheckResult` with its :class:`Failure` list.

Plain frozen dataclasses (not pydantic): they are built on every guarded call, where a few
microseconds matter, and they are outputs, never parsed from users.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Failure:
    """One assertion that did not pass: its name, the criterion it encodes, and why."""

    name: str
    criterion: str
    message: str
    # "failed": returned False; "error": raised or returned a non-bool; "timeout": ran too long.
    kind: str = "failed"

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of running an assertion set on one response.

    ``timings`` maps each assertion name to seconds spent (sandboxed batches share their time
    equally); ``results`` maps each name to whether it passed.
    """

    passed: bool
    failures: tuple[Failure, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    results: dict[str, bool] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.passed

    @property
    def failed_names(self) -> list[str]:
        return [f.name for f in self.failures]

    def summary(self) -> str:
        """A readable multi-line account of the failures (empty when everything passed)."""
        if self.passed:
            return ""
        lines = [f"{len(self.failures)} of {len(self.results)} assertions failed:"]
        for f in self.failures:
            lines.append(f"  - {f.name}: {f.message}")
            if f.criterion and f.criterion != f.name and f.criterion not in f.message:
                lines.append(f"      criterion: {f.criterion}")
        return "\n".join(lines)

    def feedback(self, *, attempt: int | None = None) -> str:
        """The failures phrased as instructions for a re-ask.

        ``attempt`` (1-based, of the failed answer) makes every re-ask a distinct request, so a
        cached or deterministic model is not asked the identical question again.
        """
        items = "\n".join(
            f"- {f.criterion or f.name}" + (f" ({f.message})" if f.message else "")
            for f in self.failures
        )
        which = f" (attempt {attempt})" if attempt is not None else ""
        return (
            f"Your previous answer{which} did not meet these requirements:\n"
            f"{items}\n"
            "Answer again, meeting every requirement."
        )
