"""Current semantics: what a version says, and when each of its sentences arrived.

The deltas (``diff.py``) say what the developer added and when; what is *enforced* is the text
of the version being checked (default: the latest). :func:`current_view` pairs every sentence of
that version with its origin — the version (and git commit) whose delta last added it — and lists
the sentences of earlier versions that are gone: retired instructions, never checked.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from llmassert.errors import HistoryError
from llmassert.history.diff import Delta, _is_label, _is_noise, _key, deltas
from llmassert.history.models import PromptHistory, PromptVersion
from llmassert.textunits import split_units_with_kinds


class CurrentUnit(BaseModel):
    """One sentence of the checked version, with where it came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: int  # position among the checked version's units (split_units_with_kinds)
    text: str
    kind: str  # header | item | line | sentence
    origin: int  # 1-based index of the version whose delta last added it
    origin_sha: str | None = None  # that version's git commit, when the history is git
    change: Literal["added", "changed"] = "added"
    previous: str | None = None  # for "changed": the sentence it replaced


class CurrentView(BaseModel):
    """The checked version's sentences (with origins) and the retired ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: PromptVersion
    units: tuple[CurrentUnit, ...]
    all_units: tuple[tuple[str, str], ...]  # every unit of the checked text, labels included
    retired: tuple[Delta, ...]  # added by some version up to the checked one, gone from it


def version_sha(version: PromptVersion) -> str | None:
    """The git commit of a version read from git (its ``source`` is the 40-hex sha)."""
    src = version.source
    if len(src) == 40 and all(c in "0123456789abcdef" for c in src):
        return src
    return None


def pick_version(history: PromptHistory, which: str | int | None) -> PromptVersion:
    """The version to check: None is the latest; an int is the 1-based index; a string is a
    label ("v3"), a file name, or a commit sha prefix (at least 4 characters)."""
    if which is None:
        return history.latest
    if isinstance(which, int) or which.isdigit():
        n = int(which)
        if 1 <= n <= len(history.versions):
            return history.versions[n - 1]
    if isinstance(which, str):  # an all-digit string out of range may still be a sha prefix
        for v in history.versions:
            if which in (v.label, v.source) or (
                len(which) >= 4 and version_sha(v) is not None and v.source.startswith(which)
            ):
                return v
    labels = ", ".join(v.label for v in history.versions[-5:])
    raise HistoryError(
        f"prompt {history.name!r} has no version {which!r} (last ones: {labels})",
        file=history.origin,
        hint="pass an index (1..n), a version label or a commit sha",
    )


def current_view(history: PromptHistory, which: str | int | None = None) -> CurrentView:
    """The checked version's instruction sentences with their origins, and the retired ones."""
    checked = pick_version(history, which)
    upto = PromptHistory(
        name=history.name,
        versions=history.versions[: checked.index],
        origin=history.origin,
    )
    found = deltas(upto)
    by_version = {v.index: v for v in history.versions}
    origin: dict[str, Delta] = {}
    for d in found:  # later re-additions win: "when it was (last) added"
        origin[_key(d.text)] = d
    units = split_units_with_kinds(checked.text)
    present = {_key(u) for u, _k in units}
    out: list[CurrentUnit] = []
    seen: set[str] = set()
    for i, (unit, kind) in enumerate(units):
        key = _key(unit)
        if key in seen or _is_label(unit, kind) or _is_noise(unit):
            continue
        seen.add(key)
        added = origin.get(key)
        version = added.version if added is not None else checked.index
        out.append(
            CurrentUnit(
                index=i,
                text=unit,
                kind=kind,
                origin=version,
                origin_sha=version_sha(by_version[version]),
                change=added.kind if added is not None else "added",
                previous=added.previous if added is not None else None,
            )
        )
    retired: dict[str, Delta] = {}
    for d in found:
        if _key(d.text) not in present:
            retired[_key(d.text)] = d
    return CurrentView(
        version=checked,
        units=tuple(out),
        all_units=tuple(units),
        retired=tuple(retired.values()),
    )
