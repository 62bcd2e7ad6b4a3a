"""Summaries of a failure log (see :mod:`llmassert.hooks.failure_log`) for ``llmassert report``.

Rates need denominators: they come from the log's ``checks`` lines.  A log written by something
that only appended failures still summarizes, with counts and no rates.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from llmassert.errors import InputError
from llmassert.fileio import read_jsonl, validated


class _LogLine(BaseModel):
    """What every line of the failure log carries."""

    model_config = ConfigDict(extra="forbid")

    ts: str
    prompt: str | None = None
    prompt_version: str | None = None
    module: str | None = None


class FailureLine(_LogLine):
    event: str = "failure"
    assertion: str
    criterion: str | None = None
    kind: str | None = None
    policy: str | None = None
    attempt: int = 0
    input_sha256: str | None = None
    response_sha256: str | None = None
    error_type: str | None = None
    message: str | None = None
    input: Any = None
    response: str | None = None


class ChecksLine(_LogLine):
    event: str = "checks"
    day: str
    assertions: list[str]
    checks: int


@dataclass
class ReportRow:
    """One summary row; ``rate`` is None when the log has no check counts for it."""

    prompt: str | None
    prompt_version: str | None
    assertion: str | None = None
    day: str | None = None
    failures: int = 0
    checks: int = 0

    @property
    def rate(self) -> float | None:
        return self.failures / self.checks if self.checks else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rate": self.rate}


@dataclass
class Summary:
    by_assertion: list[ReportRow]
    by_prompt: list[ReportRow]
    by_day: list[ReportRow]
    failures: int
    checks: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "failures": self.failures,
            "checks": self.checks,
            "by_assertion": [r.to_dict() for r in self.by_assertion],
            "by_prompt": [r.to_dict() for r in self.by_prompt],
            "by_day": [r.to_dict() for r in self.by_day],
        }


def read_log(path: str | Path) -> tuple[list[FailureLine], list[ChecksLine]]:
    p = Path(path)
    if not p.is_file():
        raise InputError("failure log not found", file=p)
    failures: list[FailureLine] = []
    checks: list[ChecksLine] = []
    for n, data in read_jsonl(p, InputError):
        model = ChecksLine if data.get("event") == "checks" else FailureLine
        parsed = validated(model, data, file=p, line=n)
        (checks if isinstance(parsed, ChecksLine) else failures).append(parsed)
    return failures, checks


def summarize(path: str | Path, *, prompt: str | None = None) -> Summary:
    failures, checks = read_log(path)
    if prompt is not None:
        failures = [f for f in failures if f.prompt == prompt]
        checks = [c for c in checks if c.prompt == prompt]

    by_assertion: dict[tuple[Any, ...], ReportRow] = {}
    for f in failures:
        key = (f.prompt, f.prompt_version, f.assertion)
        by_assertion.setdefault(key, ReportRow(*key)).failures += 1
    for c in checks:
        for name in c.assertions:
            key = (c.prompt, c.prompt_version, name)
            if key in by_assertion:  # assertions that never failed stay out of the table
                by_assertion[key].checks += c.checks

    # A checked response with several failing assertions is one failed response: its lines
    # share the timestamp, response hash and attempt.
    failed_responses: dict[tuple[Any, ...], set[tuple[Any, ...]]] = defaultdict(set)
    for f in failures:
        ident = (f.ts, f.response_sha256, f.attempt)
        failed_responses[(f.prompt, f.prompt_version)].add(ident)
        failed_responses[(f.prompt, f.prompt_version, f.ts[:10])].add(ident)
    by_prompt: dict[tuple[Any, ...], ReportRow] = {}
    by_day: dict[tuple[Any, ...], ReportRow] = {}
    for key, idents in failed_responses.items():
        if len(key) == 2:
            by_prompt.setdefault(key, ReportRow(*key)).failures = len(idents)
        else:
            by_day.setdefault(key, ReportRow(key[0], key[1], day=key[2])).failures = len(idents)
    for c in checks:
        by_prompt.setdefault(
            (c.prompt, c.prompt_version), ReportRow(c.prompt, c.prompt_version)
        ).checks += c.checks
        by_day.setdefault(
            (c.prompt, c.prompt_version, c.day), ReportRow(c.prompt, c.prompt_version, day=c.day)
        ).checks += c.checks

    def order(row: ReportRow) -> tuple[str, ...]:
        return (row.day or "", str(row.prompt), str(row.prompt_version), row.assertion or "")

    return Summary(
        by_assertion=sorted(by_assertion.values(), key=lambda r: (-r.failures, *order(r))),
        by_prompt=sorted(by_prompt.values(), key=order),
        by_day=sorted(by_day.values(), key=order),
        failures=sum(r.failures for r in by_prompt.values()),
        checks=sum(c.checks for c in checks),
    )
