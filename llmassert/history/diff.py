"""Sentence-level deltas between consecutive prompt versions (P0 is the empty prompt).

Each added or changed sentence of version k is a :class:`Delta`, the raw material of a
criterion. Sentences are the units of :func:`llmassert.textunits.split_units` (list
items and headers are units; abbreviations, decimals and quotes do not split). Units are compared
after collapsing whitespace and straightening quotes, so whitespace-only edits and moved
sentences produce nothing. A new unit similar enough to a removed one is ``changed`` and carries
``previous``; otherwise it is ``added``.
"""

from __future__ import annotations

import difflib
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

from llmassert.history.models import PromptHistory
from llmassert.textunits import split_units_with_kinds

CHANGED_SIMILARITY = 0.6  # difflib ratio above which an edit is "changed" rather than "added"
_CONTEXT_BEFORE = 2
_CONTEXT_AFTER = 1
_MAX_CONTEXT = 600


class Delta(BaseModel):
    """One added or changed sentence of a prompt version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str
    version: int  # 1-based index of the version that introduced it
    kind: Literal["added", "changed"]
    text: str
    context: str  # the nearest heading and neighbouring sentences, the sentence itself included
    previous: str | None = None  # for "changed": the sentence it replaced
    # Placeholders of the whole history (what an example provides), for rules reading them.
    variables: tuple[str, ...] = ()


_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"'})


def _key(unit: str) -> str:
    return " ".join(unit.translate(_QUOTES).split())


def _is_label(unit: str, kind: str) -> bool:
    """A heading for what follows ("Instructions:", "## Format", "Input format"), not an instruction."""
    if kind == "header":
        return True
    if kind != "line" or re.search(r"[.!?]", unit):
        return False
    n = len(unit.split())
    return (unit.endswith(":") and n <= 5) or (
        n <= 3 and unit[:1].isupper() and not unit.endswith((",", ";"))
    )


def _is_noise(unit: str) -> bool:
    # Separators and literal escapes ('"""', '\\n\\n', '----') carry no instruction.
    return re.search(r"[^\W\d_]{2,}", unit.replace("\\n", " ")) is None


def _context(units: list[tuple[str, str]], i: int) -> str:
    start = max(0, i - _CONTEXT_BEFORE)
    window = [u for u, _k in units[start : i + 1 + _CONTEXT_AFTER]]
    # The nearest heading or list introduction ("... the following headers:") above the window.
    heading = next(
        (u for u, k in reversed(units[:start]) if _is_label(u, k) or u.endswith(":")), None
    )
    text = " ".join(([heading] if heading else []) + window)
    return text if len(text) <= _MAX_CONTEXT else text[: _MAX_CONTEXT - 1] + "…"


def _similarity(a: str, b: str) -> float:
    matcher = difflib.SequenceMatcher(None, a.casefold(), b.casefold(), autojunk=False)
    if (
        matcher.real_quick_ratio() < CHANGED_SIMILARITY
        or matcher.quick_ratio() < CHANGED_SIMILARITY
    ):
        return 0.0
    return matcher.ratio()


def diff_units(
    old: str, new: str
) -> list[tuple[int, Literal["added", "changed"], str, str | None]]:
    """``(unit index in new, kind, unit, previous)`` for each added/changed unit of ``new``.

    Headings, separators and repeats of a unit already reported for ``new`` are left out.
    """
    old_units = [u for u, _k in split_units_with_kinds(old) if not _is_noise(u)]
    new_units = split_units_with_kinds(new)
    old_keys = [_key(u) for u in old_units]
    new_keys = [_key(u) for u, _k in new_units]
    known = set(old_keys)
    matcher = difflib.SequenceMatcher(None, old_keys, new_keys, autojunk=False)
    removed: list[str] = []
    fresh: list[int] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            removed.extend(old_units[i1:i2])
        if tag in ("replace", "insert"):
            fresh.extend(j for j in range(j1, j2) if new_keys[j] not in known)
    still_there = set(new_keys)
    removed = [u for u in removed if _key(u) not in still_there]  # moved, not removed
    out: list[tuple[int, Literal["added", "changed"], str, str | None]] = []
    reported: set[str] = set()
    for j in fresh:
        unit, kind = new_units[j]
        if _is_label(unit, kind) or _is_noise(unit) or new_keys[j] in reported:
            continue
        reported.add(new_keys[j])
        best, score = None, 0.0
        for candidate in removed:
            s = _similarity(_key(candidate), new_keys[j])
            if s > score:
                best, score = candidate, s
        if best is not None and score >= CHANGED_SIMILARITY:
            out.append((j, "changed", unit, best))
        else:
            out.append((j, "added", unit, None))
    return out


def deltas(history: PromptHistory) -> list[Delta]:
    """Deltas of every version against the one before it (the first against the empty prompt)."""
    out: list[Delta] = []
    previous_text = ""
    for version in history.versions:
        units = split_units_with_kinds(version.text)
        for j, kind, unit, before in diff_units(previous_text, version.text):
            out.append(
                Delta(
                    prompt=history.name,
                    version=version.index,
                    kind=kind,
                    text=unit,
                    context=_context(units, j),
                    previous=before,
                    variables=history.variables,
                )
            )
        previous_text = version.text
    return out
