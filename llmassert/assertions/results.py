"""What checking a response produces: a :class:`CheckResult` with its failures.

:class:`Failure` is the one failure type of :mod:`llmassert.enforce` (re-exported here).

Plain frozen dataclasses (not pydantic): they are built on every guarded call, where a few
microseconds matter, and they are outputs, never parsed from users.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llmassert.enforce import feedback as _feedback
from llmassert.enforce.failure import Failure

__all__ = ["CheckResult", "Failure"]


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
        return _feedback.render(self.failures, attempt=attempt)
