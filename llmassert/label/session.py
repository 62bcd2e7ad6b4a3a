"""The grading session, sans IO: responses, their candidate verdicts, the labels so far.

The session never reads a file, a key or a clock: a driver (the terminal UI, the benchmark's
simulated grader, a test) feeds it grades and asks it what to show next. Labels are keyed by a
content hash of input + response (:func:`item_key`), so a rerun over the same responses finds
what was graded before and never asks twice.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from llmassert.label.selection import EMPTY, Chosen, Targets, choose
from llmassert.label.strategy import pick
from llmassert.synth.engine import ffr_upper_bound
from llmassert.synth.manifest import stable_id


def item_key(input: Mapping[str, Any], response: str) -> str:
    """The content hash a label is stored under (the same id ``synth`` manifests use)."""
    return stable_id({"input": dict(input), "response": response})


@dataclass(frozen=True)
class Item:
    """One response to grade, with each candidate's verdict on it (1 pass, 0 fail)."""

    input: dict[str, Any]
    response: str
    passes: tuple[int, ...]
    model: str | None = None
    id: str | None = None

    @property
    def key(self) -> str:
        return item_key(self.input, self.response)


@dataclass(frozen=True)
class Check:
    """A candidate check as the grader sees it."""

    name: str
    description: str = ""
    criterion: str = ""  # criterion id: checks of one criterion are alternatives


@dataclass(frozen=True)
class Status:
    graded: int  # labels on this session's responses (resumed ones included)
    good: int
    bad: int
    remaining: int  # neither graded nor skipped
    selected: tuple[str, ...]  # the names of ``chosen.indices``
    chosen: Chosen  # the selection the labels imply: its coverage, FFR, tau used, relaxation
    # One-sided upper bound on the true FFR at ``confidence`` (Clopper-Pearson, as synth's
    # FFR-confidence rule): what "FFR <= tau" is worth with this many good labels.
    ffr_upper: float | None
    confidence: float | None


Action = tuple[Literal["grade", "skip"], str, int | None]  # (what, key, label before it)


@dataclass
class LabelSession:
    items: Sequence[Item]
    checks: Sequence[Check]
    targets: Targets = field(default_factory=Targets)
    labels: dict[str, int] = field(default_factory=dict)  # key -> 1 good / 0 bad
    skipped: set[str] = field(default_factory=set)
    _undo: list[Action] = field(default_factory=list)
    _chosen: Chosen | None = None
    _by_key: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        width = len(self.checks)
        for n, item in enumerate(self.items):
            if len(item.passes) != width:
                raise ValueError(f"item {n} has {len(item.passes)} verdicts, expected {width}")
            # A duplicate (same input and response twice) is one thing to grade.
            self._by_key.setdefault(item.key, n)
        # Labels of responses not in this session (an older labels file) stay in the file but
        # cannot enter the matrix: their verdicts are unknown.
        self.labels = {k: v for k, v in self.labels.items() if k in self._by_key}

    # -- grading ---------------------------------------------------------------------------------

    def item(self, key: str) -> Item:
        return self.items[self._by_key[key]]

    def grade(self, key: str, label: int) -> None:
        if label not in (0, 1):
            raise ValueError(f"label must be 0 or 1, got {label}")
        self._undo.append(("grade", key, self.labels.get(key)))
        self.labels[key] = label
        self.skipped.discard(key)
        self._chosen = None

    def skip(self, key: str) -> None:
        self._undo.append(("skip", key, None))
        self.skipped.add(key)

    def undo(self) -> Action | None:
        """Take back the last grade or skip of this session; returns it (None: nothing to undo)."""
        if not self._undo:
            return None
        action = self._undo.pop()
        what, key, before = action
        if what == "skip":
            self.skipped.discard(key)
        elif before is None:
            self.labels.pop(key, None)
            self._chosen = None
        else:
            self.labels[key] = before
            self._chosen = None
        return action

    def all_keys(self) -> list[str]:
        """Every distinct response's key, in file order."""
        return list(self._by_key)

    def pending(self) -> list[str]:
        """Keys neither graded nor skipped, in file order."""
        return [key for key in self._by_key if key not in self.labels and key not in self.skipped]

    # -- the selection the labels imply ----------------------------------------------------------

    def labeled_rows(self) -> tuple[list[tuple[int, ...]], list[int]]:
        keys = [k for k in self._by_key if k in self.labels]
        return [self.item(k).passes for k in keys], [self.labels[k] for k in keys]

    def chosen(self) -> Chosen:
        """The current selection (cached until the labels change)."""
        if self._chosen is None:
            M, y = self.labeled_rows()
            self._chosen = choose(M, y, self.names, self.groups, self.targets) if M else EMPTY
        return self._chosen

    def chosen_with(self, key: str, label: int) -> Chosen:
        """The selection if ``key`` were graded ``label`` (a look-ahead; nothing is recorded)."""
        M, y = self.labeled_rows()
        return choose(
            [*M, self.item(key).passes], [*y, label], self.names, self.groups, self.targets
        )

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.checks]

    @property
    def groups(self) -> list[str] | None:
        groups = [c.criterion for c in self.checks]
        return groups if all(groups) else None

    def status(self) -> Status:
        chosen = self.chosen()
        good = sum(self.labels.values())
        bad = len(self.labels) - good
        confidence = self.targets.ffr_confidence
        upper = None
        if good and chosen.ffr is not None and confidence is not None:
            false = round(chosen.ffr * good)
            upper = ffr_upper_bound(false, good, confidence)
        return Status(
            graded=len(self.labels),
            good=good,
            bad=bad,
            remaining=len(self.pending()),
            selected=tuple(self.names[j] for j in chosen.indices),
            chosen=chosen,
            ffr_upper=upper,
            confidence=confidence,
        )

    def verdicts(self, key: str) -> list[tuple[Check, bool, bool]]:
        """(check, passed, selected) for every candidate on this response."""
        selected = set(self.chosen().indices)
        passes = self.item(key).passes
        return [(c, bool(passes[j]), j in selected) for j, c in enumerate(self.checks)]

    # -- what next -------------------------------------------------------------------------------

    def next(self, strategy: str, rng: random.Random | None = None) -> str | None:
        return pick(self, strategy, rng or random.Random(0))


__all__ = ["Check", "Item", "LabelSession", "Status", "item_key"]
