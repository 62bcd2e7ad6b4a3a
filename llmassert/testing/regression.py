"""Regression runs: an assertion set over recorded ``(input, response)`` pairs, and baselines.

Input is JSONL, one object per line: ``{"input": {...}, "response": "..."}`` with an optional
``id`` (and, so labeled-output files work as they are, an ignored ``label``), or the output rows
of a pipeline run (normally replayed from cassettes).  The result is a
pass rate per assertion; a baseline file stores those rates so a suite with known failures
gates only on regressions (a rate dropping below the baseline's).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from llmassert.assertions import AssertionSet, CheckResult
from llmassert.config import Settings
from llmassert.errors import InputError
from llmassert.fileio import atomic_write_text, read_json, read_jsonl, validated

BASELINE_VERSION = 1


class Record(BaseModel):
    """One recorded response and the inputs that produced it."""

    model_config = ConfigDict(extra="forbid")

    input: dict[str, Any] = Field(default_factory=dict)
    response: str
    id: str | int | None = None
    label: str | int | bool | None = None  # accepted (labeled-output files), not used


class Baseline(BaseModel):
    """Pass rates a later run must not drop below."""

    model_config = ConfigDict(extra="forbid")

    version: int = BASELINE_VERSION
    module: str | None = None
    records: int = Field(ge=0)
    pass_rates: dict[str, float]
    created: str | None = None


@dataclass
class AssertionStats:
    name: str
    kind: str
    criterion: str
    passed: int = 0
    failed: int = 0  # returned False (or the judge said no)
    errors: int = 0  # raised, timed out, or returned a non-bool

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.errors

    @property
    def pass_rate(self) -> float:
        return self.passed / self.total if self.total else 1.0


@dataclass
class SuiteResult:
    """Everything a run produced: per record results and per assertion stats."""

    module: str | None
    records: list[Record]
    results: list[CheckResult]
    stats: dict[str, AssertionStats] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return any(s.failed or s.errors for s in self.stats.values())

    def record_id(self, index: int) -> str:
        rid = self.records[index].id
        return str(rid) if rid is not None else f"line-{index + 1}"


@dataclass(frozen=True)
class Regression:
    name: str
    baseline: float | None  # None: the assertion is new (held to 100 %)
    now: float


def load_records(path: str | Path) -> list[Record]:
    """Parse a JSONL file of records; InputError naming the file and line on any bad line."""
    p = Path(path)
    records: list[Record] = [
        validated(Record, data, file=p, line=n) for n, data in read_jsonl(p, InputError)
    ]
    if not records:
        raise InputError("no records (expected JSONL lines with input and response)", file=p)
    return records


async def arun_suite(
    assertions: AssertionSet,
    records: list[Record],
    *,
    on_result: Callable[[int, CheckResult], None] | None = None,
) -> SuiteResult:
    """Check every record (judges concurrently, sandboxed checks in one batch)."""
    import time

    start = time.perf_counter()
    results = await assertions.acheck_many(
        [(r.input, r.response) for r in records], on_result=on_result
    )
    suite = SuiteResult(assertions.path, records, results, seconds=time.perf_counter() - start)
    for a in assertions:
        suite.stats[a.name] = AssertionStats(a.name, a.kind, a.criterion)
    for result in results:
        kinds = {f.name: f.kind for f in result.failures}
        for name, ok in result.results.items():
            stats = suite.stats[name]
            if ok:
                stats.passed += 1
            elif kinds.get(name) == "failed":
                stats.failed += 1
            else:
                stats.errors += 1
    return suite


async def apipeline_records(
    pipeline: str | Path, settings: Settings, response_key: str
) -> tuple[list[Record], str]:
    """Run a pipeline (normally in replay mode) and turn its output rows into records.

    Each output row is the example; ``row[response_key]`` is the response (JSON text when it is
    not a string).  Outputs go to a temporary folder, never over the pipeline's own output.
    Returns the records and a one-line note on rows the pipeline itself quarantined or failed.
    """
    import tempfile

    from llmassert.pipeline.datasets import load_dataset
    from llmassert.pipeline.runner import Runner, RunOptions
    from llmassert.pipeline.spec import load_pipeline

    loaded = load_pipeline(pipeline)
    with tempfile.TemporaryDirectory(prefix="llmassert-test-") as tmp:
        runner = Runner(
            loaded,
            settings,
            RunOptions(resume=False, lineage=False, checkpoint_dir=Path(tmp) / "checkpoints"),
        )
        runner.output_path = Path(tmp) / "output.json"
        report = await runner.arun()
        rows, _digest = load_dataset(runner.output_path, "json")
    records = []
    for i, row in enumerate(rows):
        if response_key not in row:
            raise InputError(
                f"output row {i + 1} has no key {response_key!r} (keys: "
                f"{', '.join(sorted(row)) or 'none'})",
                file=pipeline,
                field="--response-key",
            )
        value = row[response_key]
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        records.append(Record(input=dict(row), response=text, id=f"row-{i + 1}"))
    note = (
        f"pipeline produced {report.rows_out} rows from {report.rows_in}; "
        f"{report.quarantined} quarantined and {report.errored} errored rows are not checked"
    )
    return records, note


# -- baselines -----------------------------------------------------------------------------------


def make_baseline(suite: SuiteResult) -> Baseline:
    return Baseline(
        module=suite.module,
        records=len(suite.records),
        pass_rates={name: s.pass_rate for name, s in suite.stats.items()},
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def load_baseline(path: str | Path) -> Baseline:
    p = Path(path)
    if not p.exists():
        raise InputError("baseline not found (create it with --write-baseline)", file=p)
    baseline: Baseline = validated(Baseline, read_json(p), file=p)
    return baseline


def write_baseline(path: str | Path, baseline: Baseline) -> None:
    atomic_write_text(Path(path), baseline.model_dump_json(indent=2) + "\n")


def regressions(
    suite: SuiteResult, baseline: Baseline, *, tolerance: float = 0.0
) -> list[Regression]:
    """Assertions whose pass rate fell below the baseline's (new ones must pass everywhere)."""
    out = []
    for name, stats in suite.stats.items():
        before = baseline.pass_rates.get(name)
        floor = 1.0 if before is None else before
        if stats.pass_rate < floor - tolerance - 1e-9:
            out.append(Regression(name, before, stats.pass_rate))
    return out
