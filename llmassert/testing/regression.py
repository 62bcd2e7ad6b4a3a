"""Regression runs: an assertion set over recorded ``(input, response)`` pairs.

Input is JSONL, one object per line: ``{"input": {...}, "response": "..."}`` with an optional
``id`` (and, so labeled-output files work as they are, an ignored ``label``), or the output rows
of a pipeline run (normally replayed from cassettes), quarantined and errored rows included.

Every record gets a stable *key* so that a later run can be compared with a baseline record by
record (:mod:`llmassert.testing.baseline`): its ``id`` when it has one, otherwise a hash of its
input (``input-<12 hex>``), so reordering the file keeps records matched.  Records whose inputs
repeat get ``#2``, ``#3``... in file order; give such records ids.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from llmassert.assertions import AssertionSet, CheckResult
from llmassert.assertions.results import Failure
from llmassert.config import Settings
from llmassert.errors import InputError
from llmassert.fileio import read_jsonl, validated

# The pseudo-assertion a pipeline row fails when the pipeline quarantined or failed it: such a
# row is never left out of the table, the JUnit file or the gate.
PIPELINE_CHECK = "(pipeline)"
PIPELINE_CRITERION = "the pipeline delivers the row (not quarantined, no error)"


class Record(BaseModel):
    """One recorded response and the inputs that produced it."""

    model_config = ConfigDict(extra="forbid")

    input: dict[str, Any] = Field(default_factory=dict)
    response: str
    id: str | int | None = None
    label: str | int | bool | None = None  # accepted (labeled-output files), not used


@dataclass(frozen=True)
class RowIssue:
    """Why a pipeline row did not reach the output; ``checked`` when it still has a response."""

    reason: str
    checked: bool


@dataclass
class AssertionStats:
    name: str
    kind: str
    criterion: str
    severity: str = "block"  # "warn": reported, does not fail the run
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
    """Everything a run produced: per record results and per assertion stats.

    ``keys[i]`` is record i's stable key (see the module docstring), ``labels[i]`` how it is shown
    (its id, or ``line-N``).
    """

    module: str | None
    records: list[Record]
    results: list[CheckResult]
    keys: list[str]
    labels: list[str]
    stats: dict[str, AssertionStats] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        """A ``block`` assertion failed somewhere (``warn`` ones never fail a run)."""
        return any((s.failed or s.errors) and s.severity != "warn" for s in self.stats.values())

    @property
    def warn_names(self) -> frozenset[str]:
        return frozenset(n for n, s in self.stats.items() if s.severity == "warn")

    def record_id(self, index: int) -> str:
        return self.labels[index]

    def outcomes(self) -> dict[str, dict[str, Failure | None]]:
        """``{record key: {assertion: its Failure, or None when it passed}}``."""
        out: dict[str, dict[str, Failure | None]] = {}
        for key, result in zip(self.keys, self.results, strict=True):
            failures = {f.name: f for f in result.failures}
            out[key] = {name: failures.get(name) for name in result.results}
        return out


def input_hash(data: Any) -> str:
    """A short, stable hash of JSON-able data (key order does not matter)."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def record_keys(records: Iterable[Record]) -> tuple[list[str], list[str]]:
    """Stable keys and display labels for records (see the module docstring)."""
    keys: list[str] = []
    labels: list[str] = []
    seen: dict[str, int] = {}
    for n, record in enumerate(records, 1):
        if record.id is not None:
            base, label = str(record.id), str(record.id)
        else:
            base, label = f"input-{input_hash(record.input)}", f"line-{n}"
        count = seen.get(base, 0) + 1
        seen[base] = count
        keys.append(base if count == 1 else f"{base}#{count}")
        labels.append(label)
    return keys, labels


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
    issues: dict[int, RowIssue] | None = None,
    labels: list[str] | None = None,
    on_result: Callable[[int, CheckResult], None] | None = None,
) -> SuiteResult:
    """Check every record (judges concurrently, sandboxed checks in one batch).

    ``labels`` replaces how records are shown (default: their id, or ``line-N``).
    ``issues`` marks pipeline rows that were quarantined or errored: each fails
    :data:`PIPELINE_CHECK`; those without a response (``checked=False``) are not run through the
    assertions at all.
    """
    issues = issues or {}
    start = time.perf_counter()
    todo = [i for i in range(len(records)) if issues.get(i, RowIssue("", True)).checked]
    checked = await assertions.acheck_many(
        [(records[i].input, records[i].response) for i in todo],
        on_result=None if on_result is None else (lambda j, r: on_result(todo[j], r)),
    )
    by_index = dict(zip(todo, checked, strict=True))
    results: list[CheckResult] = []
    for i in range(len(records)):
        result = by_index.get(i, CheckResult(passed=True))
        issue = issues.get(i)
        if issue is not None:
            failure = Failure(PIPELINE_CHECK, PIPELINE_CRITERION, issue.reason)
            result = CheckResult(
                passed=False,
                failures=(failure, *result.failures),
                timings=result.timings,
                results={PIPELINE_CHECK: False, **result.results},
            )
            if on_result is not None and not issue.checked:
                on_result(i, result)
        elif issues:
            result = CheckResult(
                passed=result.passed,
                failures=result.failures,
                timings=result.timings,
                results={PIPELINE_CHECK: True, **result.results},
            )
        results.append(result)
    keys, default_labels = record_keys(records)
    suite = SuiteResult(
        assertions.path,
        records,
        results,
        keys,
        labels or default_labels,
        seconds=time.perf_counter() - start,
    )
    if issues:
        suite.stats[PIPELINE_CHECK] = AssertionStats(PIPELINE_CHECK, "pipeline", PIPELINE_CRITERION)
    for a in assertions:
        suite.stats[a.name] = AssertionStats(a.name, a.kind, a.criterion, a.severity)
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


@dataclass
class PipelineRecords:
    """A pipeline run turned into records: output rows, then quarantined, then errored rows."""

    records: list[Record]
    issues: dict[int, RowIssue]
    labels: list[str]  # row-N, quarantined-N, error-N (or the row's id)
    note: str


async def apipeline_records(
    pipeline: str | Path, settings: Settings, response_key: str
) -> PipelineRecords:
    """Run a pipeline (normally in replay mode) and turn every row it saw into a record.

    Each output row is the example; ``row[response_key]`` is the response (JSON text when it is
    not a string).  Rows the pipeline quarantined or failed become records too, failing
    :data:`PIPELINE_CHECK` (and checked when the quarantined output has the response).  A row's
    key is its ``id`` field when it has one, else a hash of its dataset fields (the LLM's fields
    left out, so a changed answer is still the same record).  Outputs go to a temporary folder,
    never over the pipeline's own output.
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
        issue_rows: list[tuple[str, dict[str, Any]]] = []
        for kind, path in (("quarantined", report.quarantine_file), ("error", report.errors_file)):
            if path is not None and path.is_file():
                issue_rows += [(kind, item) for _n, item in read_jsonl(path)]
        dataset_keys = {k for d in runner.datasets.values() for row in d.rows for k in row}

    def key_of(row: dict[str, Any]) -> str | None:
        rid = row.get("id")
        if isinstance(rid, str | int) and not isinstance(rid, bool):
            return str(rid)
        own = {k: v for k, v in row.items() if k in dataset_keys and k != response_key}
        return f"input-{input_hash(own or row)}"

    def text_of(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    records: list[Record] = []
    labels: list[str] = []
    for i, row in enumerate(rows):
        if response_key not in row:
            raise InputError(
                f"output row {i + 1} has no key {response_key!r} (keys: "
                f"{', '.join(sorted(row)) or 'none'})",
                file=pipeline,
                field="--response-key",
            )
        records.append(Record(input=dict(row), response=text_of(row[response_key]), id=key_of(row)))
        labels.append(str(row["id"]) if "id" in row else f"row-{i + 1}")
    issues: dict[int, RowIssue] = {}
    counters: dict[str, int] = {}
    for kind, item in issue_rows:
        counters[kind] = counters.get(kind, 0) + 1
        found = item.get("row")
        source: dict[str, Any] = found if isinstance(found, dict) else {}
        output = item.get("output")
        merged = {**source, **output} if isinstance(output, dict) else dict(source)
        has_response = response_key in merged
        reason = f"{kind} by {item.get('operation', '?')}: {item.get('reason', '')}".strip()
        issues[len(records)] = RowIssue(reason, checked=has_response)
        labels.append(str(source["id"]) if "id" in source else f"{kind}-{counters[kind]}")
        records.append(
            Record(
                input=merged,
                response=text_of(merged[response_key]) if has_response else "",
                id=key_of(source),
            )
        )
    note = (
        f"pipeline produced {report.rows_out} rows from {report.rows_in}; "
        f"{report.quarantined} quarantined and {report.errored} errored "
        f"{'row is' if report.quarantined + report.errored == 1 else 'rows are'} "
        f"reported as failing {PIPELINE_CHECK}"
    )
    return PipelineRecords(records, issues, labels, note)
