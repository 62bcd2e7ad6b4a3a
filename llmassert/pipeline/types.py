"""The pipeline's shared value types: what operators return and what executors count.

A leaf module (no llmassert imports): the operator contract (``operators/base.py``), the
context (``context.py``), executors and the runner all use these, so keeping them here keeps
the package graph acyclic.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from llmassert import jsonx
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
    # Per-unit lineage for the sidecar (calls, cost, gleaning rounds, check retries).
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
    """Counters of one operation; executors sum them across units and workers."""

    rows_in: int = 0
    rows_out: int = 0
    filtered: int = 0
    quarantined: int = 0
    errored: int = 0
    flagged: int = 0
    calls: int = 0  # logical LLM requests made by this run (cache hits included)
    cached: int = 0  # ... of which answered from the disk cache
    requests: int = 0  # HTTP attempts
    retries: int = 0  # transport retries and re-asks (inside the LLM layer)
    check_retries: int = 0  # re-asks because validate/assertions failed
    gleaning_rounds: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    resumed: int = 0  # units replayed from a checkpoint journal (no call made)
    fallbacks: int = 0  # requests re-sent to a fallback model after the previous one failed
    seconds: float = 0.0

    def add(self, other: OpStats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> OpStats:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


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
