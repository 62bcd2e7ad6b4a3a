"""Baselines: which (record, assertion) pairs failed, so a suite with known failures gates only
on regressions.

A baseline file stores, per record key (see :func:`llmassert.testing.regression.record_keys`),
the assertions that record failed; every other assertion it lists passed.  Comparing a run with
it, per (record, assertion):

- passed before, fails now: a **regression** (the gate fails);
- failed before, passes now: **fixed** (reported);
- failed before, fails now: a **known** failure (tolerated);
- a record or an assertion the baseline does not have: it must pass (a failure is a regression);
- a baseline record absent from this run: reported, not a failure.

``tolerance`` is for LLM-judge noise: per assertion, up to ``floor(tolerance × records compared)``
pass→fail flips are tolerated (reported as such) — e.g. 0.02 over 100 records lets 2 records per
assertion flip.  More flips than that and every flip of that assertion is a regression.  Fixes
never offset regressions: a record fixed does not pay for another that broke.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from llmassert.errors import InputError
from llmassert.fileio import atomic_write_text, read_json, validated
from llmassert.testing.regression import SuiteResult

BASELINE_VERSION = 2
REGENERATE = "regenerate it with `llmassert test ... --write-baseline {path}`"


class Baseline(BaseModel):
    """Per record key, the assertions that failed (all others in ``assertions`` passed)."""

    model_config = ConfigDict(extra="forbid")

    version: int = BASELINE_VERSION
    module: str | None = None
    created: str | None = None
    assertions: list[str]
    failures: dict[str, list[str]] = Field(
        description="record key -> names of the assertions it failed ([] = all passed)"
    )


@dataclass(frozen=True)
class Flip:
    """One (record, assertion) whose outcome differs from the baseline's, or is new."""

    key: str
    label: str  # how the record is shown (its id, or line-N)
    assertion: str
    message: str = ""
    why: str = "passed in the baseline"


@dataclass
class Comparison:
    regressed: list[Flip] = field(default_factory=list)
    tolerated: list[Flip] = field(default_factory=list)
    fixed: list[Flip] = field(default_factory=list)
    known: list[Flip] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # baseline record keys not in this run

    @property
    def failed(self) -> bool:
        return bool(self.regressed)

    def regressed_names(self) -> set[str]:
        return {f.assertion for f in self.regressed}


def make_baseline(suite: SuiteResult) -> Baseline:
    return Baseline(
        module=suite.module,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        assertions=list(suite.stats),
        failures={
            key: sorted(name for name, failure in outcome.items() if failure is not None)
            for key, outcome in suite.outcomes().items()
        },
    )


def load_baseline(path: str | Path) -> Baseline:
    p = Path(path)
    if not p.exists():
        raise InputError("baseline not found (create it with --write-baseline)", file=p)
    data = read_json(p)
    if isinstance(data, dict) and "pass_rates" in data and "failures" not in data:
        raise InputError(
            "an old baseline (pass rates only) cannot gate per record; "
            + REGENERATE.format(path=p),
            file=p,
        )
    baseline: Baseline = validated(Baseline, data, file=p)
    if baseline.version != BASELINE_VERSION:
        raise InputError(
            f"baseline version {baseline.version} is not supported; " + REGENERATE.format(path=p),
            file=p,
            field="version",
        )
    return baseline


def write_baseline(path: str | Path, baseline: Baseline) -> None:
    atomic_write_text(Path(path), baseline.model_dump_json(indent=2) + "\n")


def compare(
    suite: SuiteResult,
    baseline: Baseline,
    *,
    tolerance: float = 0.0,
    gating: frozenset[str] | None = None,
) -> Comparison:
    """Compare a run with a baseline per (record, assertion); see the module docstring.

    ``gating`` limits which assertions can regress (the rest, e.g. severity ``warn``, are still
    compared and reported as fixed / known, but their flips are tolerated).
    """
    result = Comparison()
    known_names = set(baseline.assertions)
    flips: dict[str, list[Flip]] = {}
    compared: dict[str, int] = {}
    outcomes = suite.outcomes()
    labels = dict(zip(suite.keys, suite.labels, strict=True))
    for key, outcome in outcomes.items():
        before = baseline.failures.get(key)
        for name, failure in outcome.items():
            message = failure.message if failure is not None else ""
            flip = Flip(key, labels[key], name, message)
            if before is None or name not in known_names:
                if failure is not None:
                    why = "new record" if before is None else "new assertion"
                    _gate(result, Flip(key, labels[key], name, message, why), gating)
                continue
            compared[name] = compared.get(name, 0) + 1
            failed_before = name in before
            if failed_before and failure is None:
                result.fixed.append(flip)
            elif failed_before:
                result.known.append(flip)
            elif failure is not None:
                flips.setdefault(name, []).append(flip)
    for name, items in flips.items():
        allowed = math.floor(tolerance * compared.get(name, 0) + 1e-9)
        if len(items) <= allowed:
            result.tolerated.extend(items)
        else:
            for flip in items:
                _gate(result, flip, gating)
    result.missing = [k for k in baseline.failures if k not in outcomes]
    return result


def _gate(result: Comparison, flip: Flip, gating: frozenset[str] | None) -> None:
    if gating is None or flip.assertion in gating:
        result.regressed.append(flip)
    else:
        result.tolerated.append(flip)
