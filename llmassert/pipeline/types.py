"""The pipeline's shared value types: what operators return and what executors count.

A leaf of the pipeline package (it imports nothing of ``llmassert.pipeline``): the operator
contract (``operators/base.py``), the context (``context.py``), executors and the runner all
use these, so keeping them here keeps the package graph acyclic.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any

from llmassert import jsonx
from llmassert.llm.usage import Tally
from llmassert.secrets import scrub, scrub_data

Row = dict[str, Any]
FLAG_KEY = "_llmassert_failures"  # added to rows kept under on_fail: flag


@dataclass
class Issue:
    """A row that did not reach the output, and why (one line) — quarantined or errored."""

    op: str
    row: Any
    reason: str
    failures: list[dict[str, Any]] = field(default_factory=list)
    output: Any = None

    def to_json(self) -> dict[str, Any]:
        # Reasons quote exceptions and provider error bodies, which can echo credentials.
        d: dict[str, Any] = {"operation": self.op, "reason": scrub(self.reason), "row": self.row}
        if self.failures:
            d["failures"] = scrub_data(self.failures)
        if self.output is not None:
            d["output"] = self.output
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Issue:
        return cls(
            op=d["operation"],
            row=d["row"],
            reason=d["reason"],
            failures=d.get("failures", []),
            output=d.get("output"),
        )


@dataclass
class Outcome:
    """Result of an operator on one unit (a row, a group, or its whole input)."""

    rows: list[Row] = field(default_factory=list)
    filtered: int = 0
    quarantined: list[Issue] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    # Per-unit lineage for the sidecar (calls, gleaning rounds, check retries, ...).
    meta: dict[str, Any] = field(default_factory=dict)

    def extend(self, other: Outcome) -> None:
        self.rows.extend(other.rows)
        self.filtered += other.filtered
        self.quarantined.extend(other.quarantined)
        self.errors.extend(other.errors)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"rows": self.rows}
        if self.filtered:
            d["filtered"] = self.filtered
        if self.quarantined:
            d["quarantined"] = [i.to_json() for i in self.quarantined]
        if self.errors:
            d["errors"] = [i.to_json() for i in self.errors]
        if self.meta:
            d["meta"] = self.meta
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Outcome:
        return cls(
            rows=d.get("rows", []),
            filtered=d.get("filtered", 0),
            quarantined=[Issue.from_json(i) for i in d.get("quarantined", [])],
            errors=[Issue.from_json(i) for i in d.get("errors", [])],
            meta=d.get("meta", {}),
        )


@dataclass
class OpStats:
    """Counters of one operation; executors sum them across units and workers.

    Tokens, cost and HTTP attempts are one running :class:`~llmassert.llm.usage.Tally` (the
    client's own accounting type), so usage is summed in one place.
    """

    rows_in: int = 0
    rows_out: int = 0
    filtered: int = 0
    quarantined: int = 0
    errored: int = 0
    flagged: int = 0
    calls: int = 0  # logical LLM requests made by this run (cache hits included)
    cached: int = 0  # ... of which answered from the disk cache
    retries: int = 0  # transport retries and re-asks (inside the LLM layer)
    check_retries: int = 0  # re-asks because validate/assertions failed
    gleaning_rounds: int = 0
    resumed: int = 0  # units replayed from a checkpoint journal (no call made)
    # journal entries read back damaged or tampered with (their units ran again)
    damaged: int = 0
    fallbacks: int = 0  # requests re-sent to a fallback model after the previous one failed
    seconds: float = 0.0
    usage: Tally = field(default_factory=Tally)  # tokens, cost, HTTP attempts

    def add(self, other: OpStats) -> None:
        # Every LLMStep run adds its unit's counters (hot path): mostly zeros, skipped.
        mine, theirs = self.__dict__, other.__dict__
        for name in _COUNTERS:
            if value := theirs[name]:
                mine[name] += value
        self.usage.add_usage(other.usage)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {name: getattr(self, name) for name in _COUNTERS}
        d["usage"] = self.usage.to_json()
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> OpStats:
        """Read back what :meth:`to_json` wrote (a state file: unknown keys are ignored, a
        malformed ``usage`` raises ``ValueError``)."""
        counters = {k: v for k, v in d.items() if k in _COUNTERS}
        return cls(**counters, usage=Tally.from_json(d.get("usage", {})))


_COUNTERS = tuple(name for name in OpStats.__dataclass_fields__ if name != "usage")


@dataclass
class CallEstimate:
    """``--dry-run``: LLM calls an operation will make, and the rows it would pass on.

    ``rows`` are the best guess of the output rows (operators without LLM calls can compute them
    exactly; an LLM operator passes its input rows on, with ``UNKNOWN`` for values only the model
    would produce).  ``upper_bound``: the row count is a maximum (filter).
    """

    calls: int
    rows: list[Row]
    note: str = ""
    upper_bound: bool = False

    def noted(self, note: str, **changes: Any) -> CallEstimate:
        """This estimate with ``note`` added to its note (``; ``-separated), and ``changes``
        to its other fields (an operator wrapping another's estimate)."""
        joined = f"{self.note}; {note}" if self.note and note else self.note or note
        return replace(self, note=joined, **changes)


class _Unknown:
    """Placeholder for a value only known after an LLM call (dry runs)."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


def row_digest(row: Any) -> str:
    """Content address of a row: stable across runs, processes and workers (and releases:
    operators salt cache keys with it)."""
    # ensure_ascii (the default) keeps json on its C fast path: ~2x faster on large rows.
    blob = json.dumps(row, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def unit_key(row: Any) -> str:
    """Content address of a unit for the executor's journal: as stable as :func:`row_digest`
    within one journal format (``checkpoint.JOURNAL_VERSION``), ~5x cheaper (orjson)."""
    return hashlib.sha256(jsonx.dumps(row, sort_keys=True)).hexdigest()[:24]
