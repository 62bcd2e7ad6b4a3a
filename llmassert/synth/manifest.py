"""The synthesis manifest: everything needed to review, re-select and regenerate a prompt's assertions.

``assertions/<name>.json`` holds the candidates, the matrix they were selected on and the selection.
The top-level keys ``assertions``, ``M``, ``y`` and ``K`` keep the plain matrix layout that
``llmassert select`` reads, so re-solving with other targets needs no LLM call:
``manifest.with_selection(...)`` then :func:`llmassert.synth.writer.write_outputs`.

Rows of ``M`` are the labeled responses of the *selection* split; the held-out split (``--holdout``)
is kept in ``test_M`` / ``test_y`` so held-out metrics can be recomputed after a re-selection.
Examples are referenced by hashes, never by their text: manifests get committed.

The file is deterministic: sorted keys, no timestamps, no timings.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llmassert.errors import MatrixError
from llmassert.fileio import read_json, validated
from llmassert.synth.models import Candidate, Criterion

if TYPE_CHECKING:  # annotations only: reading a manifest needs no solver
    from llmassert.select.selection import Selection

MANIFEST_FORMAT = "llmassert.manifest"
MANIFEST_VERSION = 1

Method = Literal["sub", "cov", "base"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SelectionRecord(_Strict):
    """What the selection step chose, at which targets, and how well it did on its split."""

    method: str
    # The targets actually solved for; they differ from the requested ones when those were
    # infeasible and the nearest feasible pair was used instead (``relaxed``).
    alpha: float
    tau: float
    selected: list[str]
    count: int
    coverage: float | None
    ffr: float | None
    status: str
    proven_optimal: bool | None = None
    relaxed: bool = False
    # Set when tau was tightened so that FFR <= the requested tau holds at this confidence.
    ffr_confidence: float | None = None
    # criteria: chosen without labels, one assertion per checkable criterion.
    basis: Literal["labels", "criteria"] = "labels"


class SplitMetrics(_Strict):
    """Coverage and false-failure rate of the selected set on one split of the labeled data."""

    n: int
    good: int
    bad: int
    coverage: float | None  # None: no bad responses in the split
    ffr: float | None  # None: no good responses in the split


class Metrics(_Strict):
    train: SplitMetrics
    test: SplitMetrics | None = None
    holdout: float = 0.0
    seed: int = 0


class ExampleRef(_Strict):
    """One labeled response, by hash. ``input_id`` is shared by responses to the same input."""

    id: str
    input_id: str
    label: int
    split: Literal["train", "test"]
    model: str | None = None


class VersionRecord(_Strict):
    """One version of the prompt: its position, label and git commit (None outside git)."""

    index: int
    label: str
    sha: str | None = None


class _Added(_Strict):
    """A sentence of the prompt and the version (and its commit) that added it."""

    text: str
    version: int
    sha: str | None = None


class SentenceRecord(_Added):
    """A sentence of the checked version that is not an output instruction, and why."""

    role: str  # persona | process | input | example | pasted
    reason: str


class RetiredRecord(_Added):
    """An instruction an earlier version added and the checked version no longer has."""


class HistoryRecord(_Strict):
    """Which version was checked, every version's commit, and what was not enforced."""

    checked: int
    versions: list[VersionRecord]
    not_instructions: list[SentenceRecord] = Field(default_factory=list)
    retired: list[RetiredRecord] = Field(default_factory=list)
    # The parsed output template: sections (with limits), order, JSON keys.
    template: dict[str, Any] | None = None


class SelfTestRecord(_Strict):
    """Offline consistency checks run before selection (``llmassert.synth.selftest``)."""

    template_response: str | None = None  # the filled-in output template every check passes
    failed_template: list[str] = Field(default_factory=list)  # dropped: failed it
    contradictions: list[list[str]] = Field(default_factory=list)  # [kept, dropped]
    loosened: list[str] = Field(default_factory=list)  # stricter variants set aside


class Manifest(_Strict):
    """``assertions/<name>.json``."""

    format: Literal["llmassert.manifest"] = "llmassert.manifest"
    format_version: int = MANIFEST_VERSION
    prompt: str
    versions: int
    model: str | None  # None: offline synthesis (rule library only)
    alpha: float = Field(ge=0, le=1)
    tau: float = Field(ge=0, le=1)
    method: Method
    criteria: list[Criterion]
    candidates: list[Candidate]  # column order of M
    assertions: list[str]  # candidate names, same order
    # Per candidate: the criterion id it checks (SPADE_sub covers every criterion).
    groups: list[str]
    M: list[list[int]]
    y: list[int]
    K: list[list[int]] | None = None
    test_M: list[list[int]] = Field(default_factory=list)
    test_y: list[int] = Field(default_factory=list)
    selection: SelectionRecord
    metrics: Metrics
    examples: list[ExampleRef] = Field(default_factory=list)
    history: HistoryRecord | None = None
    self_test: SelfTestRecord | None = None
    # False: no labeled responses, so nothing measured how often the checks fail good outputs.
    validated: bool = True
    # The severity written for the selected checks while ``validated`` is False: "warn" reports a
    # failure without enforcing it (an unmeasured check must not block good outputs); "block"
    # is the user's explicit choice (``--unvalidated block``).
    unvalidated_severity: Literal["warn", "block"] = "warn"

    @model_validator(mode="after")
    def _shapes(self) -> Manifest:
        n = len(self.candidates)
        if self.assertions != [c.name for c in self.candidates]:
            raise ValueError("assertions must list the candidate names in column order")
        if len(set(self.assertions)) != n:
            raise ValueError("candidate names must be unique")
        if len(self.groups) != n:
            raise ValueError(f"groups has {len(self.groups)} entries for {n} candidates")
        for label, rows, ys in (("M", self.M, self.y), ("test_M", self.test_M, self.test_y)):
            if len(rows) != len(ys):
                raise ValueError(f"{label} has {len(rows)} rows but its labels have {len(ys)}")
            for i, row in enumerate(rows):
                if len(row) != n:
                    raise ValueError(f"{label}[{i}] has {len(row)} columns, expected {n}")
                if any(v not in (0, 1) for v in row):
                    raise ValueError(f"{label}[{i}] must hold only 0 and 1")
            if any(v not in (0, 1) for v in ys):
                raise ValueError("labels must be 0 (bad) or 1 (good)")
        if self.K is not None and (len(self.K) != n or any(len(r) != n for r in self.K)):
            raise ValueError(f"K must be {n}x{n}")
        unknown = set(self.selection.selected) - set(self.assertions)
        if unknown:
            raise ValueError(f"selection names unknown assertions: {sorted(unknown)}")
        return self

    # -- views -----------------------------------------------------------------------------------

    def candidate(self, name: str) -> Candidate:
        return self.candidates[self.assertions.index(name)]

    def criterion(self, criterion_id: str) -> Criterion | None:
        return next((c for c in self.criteria if c.id == criterion_id), None)

    @property
    def selected_indices(self) -> list[int]:
        return [self.assertions.index(name) for name in self.selection.selected]

    def with_selection(
        self,
        selected: Sequence[str],
        *,
        method: str,
        alpha: float,
        tau: float,
        status: str = "optimal",
        proven_optimal: bool | None = None,
        relaxed: bool = False,
        ffr_confidence: float | None = None,
    ) -> Manifest:
        """A copy with a new selection; coverage/FFR recomputed on both splits from the matrices."""
        names = [n for n in self.assertions if n in set(selected)]  # column order: deterministic
        idx = [self.assertions.index(n) for n in names]
        train = split_metrics(self.M, self.y, idx)
        record = SelectionRecord(
            method=method,
            alpha=alpha,
            tau=tau,
            selected=names,
            count=len(names),
            coverage=train.coverage,
            ffr=train.ffr,
            status=status,
            proven_optimal=proven_optimal,
            relaxed=relaxed,
            ffr_confidence=ffr_confidence,
            basis="labels" if self.y else "criteria",
        )
        metrics = self.metrics.model_copy(
            update={
                "train": train,
                "test": split_metrics(self.test_M, self.test_y, idx) if self.test_y else None,
            }
        )
        update: dict[str, Any] = {"selection": record, "metrics": metrics}
        if method in ("sub", "cov", "base"):
            update["method"] = method
        return self.model_copy(update=update)

    def selected_by(
        self,
        sel: Selection,
        *,
        alpha: float,
        tau: float,
        relaxed: bool = False,
        ffr_confidence: float | None = None,
    ) -> Manifest:
        """:meth:`with_selection` for a solver's answer: its names, method, status and proof."""
        return self.with_selection(
            sel.selected,
            method=sel.method,
            alpha=alpha,
            tau=tau,
            status=sel.status,
            proven_optimal=sel.proven_optimal,
            relaxed=relaxed,
            ffr_confidence=ffr_confidence,
        )

    # -- serialization ---------------------------------------------------------------------------

    def dumps(self) -> str:
        """Deterministic JSON text: sorted keys, rows of M on one line each, trailing newline."""
        return dumps_json(self.model_dump(mode="json"))


def split_metrics(M: Sequence[Sequence[int]], y: Sequence[int], idx: Sequence[int]) -> SplitMetrics:
    """Coverage (bad responses failed by >= 1 selected) and FFR (good ones failed) on one split."""
    fails = [any(row[j] == 0 for j in idx) for row in M]
    good = sum(1 for v in y if v == 1)
    bad = len(y) - good
    caught = sum(1 for f, v in zip(fails, y, strict=True) if f and v == 0)
    false = sum(1 for f, v in zip(fails, y, strict=True) if f and v == 1)
    return SplitMetrics(
        n=len(y),
        good=good,
        bad=bad,
        coverage=round(caught / bad, 6) if bad else None,
        ffr=round(false / good, 6) if good else None,
    )


def dumps_json(data: Any) -> str:
    """JSON with sorted keys and 2-space indent, but each list of scalars on one line.

    Matrices stay readable (one row per line) and diffs stay small when a rerun changes one cell.
    """

    def render(value: Any, indent: int) -> str:
        pad, inner = " " * indent, " " * (indent + 2)
        if isinstance(value, dict) and value:
            items = [
                f"{inner}{json.dumps(k)}: {render(value[k], indent + 2)}" for k in sorted(value)
            ]
            return "{\n" + ",\n".join(items) + "\n" + pad + "}"
        if isinstance(value, list) and value and any(isinstance(v, (dict, list)) for v in value):
            items = [inner + render(v, indent + 2) for v in value]
            return "[\n" + ",\n".join(items) + "\n" + pad + "]"
        return json.dumps(value, ensure_ascii=False, sort_keys=True)

    return render(data, 0) + "\n"


def stable_id(value: Any, *, length: int = 16) -> str:
    """Hex digest of the canonical JSON of ``value`` (examples, inputs)."""
    blob = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate a manifest; errors name the file and the offending field."""
    path = Path(path)
    manifest: Manifest = validated(
        Manifest, read_json(path, MatrixError), file=path, error=MatrixError
    )
    return manifest


__all__ = [
    "MANIFEST_FORMAT",
    "MANIFEST_VERSION",
    "ExampleRef",
    "Manifest",
    "Metrics",
    "SelectionRecord",
    "SplitMetrics",
    "dumps_json",
    "load_manifest",
    "split_metrics",
    "stable_id",
]
