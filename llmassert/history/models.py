"""Prompt histories: versions of one prompt plus optional labeled responses."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

# {var} (str.format / LangChain) and {{ var }} (Jinja, DocETL's {{ input.var }}).
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}|(?<!\{)\{([A-Za-z_]\w*)\}(?!\})")


def placeholders(text: str) -> tuple[str, ...]:
    """Placeholder names in ``text``, in order of first appearance, without duplicates.

    ``{topic}`` and ``{{ topic }}`` give ``topic``; DocETL's ``{{ input.topic }}`` gives
    ``topic`` too (the example's key). JSON such as ``{"a": 1}`` is not a placeholder.
    """
    seen: dict[str, None] = {}
    for m in _PLACEHOLDER.finditer(text):
        name = m.group(1) or m.group(2)
        if name.startswith("input."):
            name = name[len("input.") :]
        seen.setdefault(name, None)
    return tuple(seen)


class PromptVersion(BaseModel):
    """One version of a prompt."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: int = Field(ge=1)  # 1-based position in the history (P0 is the empty prompt)
    text: str
    source: str  # the file it came from, or the git commit sha
    label: str  # short human name: file stem ("v3"), YAML label, or short sha


_GOOD = {"good", "1", "true", "pass", "yes"}
_BAD = {"bad", "0", "false", "fail", "no"}


class LabeledExample(BaseModel):
    """A response with a human verdict, and the inputs (``example``) that produced it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: dict[str, Any]
    response: str
    label: int  # 1 good, 0 bad
    model: str | None = None
    id: str | None = None

    @field_validator("label", mode="before")
    @classmethod
    def _label(cls, value: Any) -> int:
        text = str(value).strip().casefold()
        if isinstance(value, bool) or text in _GOOD | _BAD:
            return 1 if text in _GOOD else 0
        raise ValueError(f"must be good|bad, 1|0 or true|false, got {value!r}")

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @property
    def good(self) -> bool:
        return self.label == 1


class PromptHistory(BaseModel):
    """All versions of one prompt, oldest first, and its labeled examples."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    versions: tuple[PromptVersion, ...]
    origin: str  # the folder, file, or git-tracked file it was read from
    labeled: tuple[LabeledExample, ...] = ()
    # Requirements graders wrote down while labeling (criterion notes of notes.jsonl).
    notes: tuple[str, ...] = ()

    @property
    def latest(self) -> PromptVersion:
        return self.versions[-1]

    @property
    def variables(self) -> tuple[str, ...]:
        """Placeholders of every version, in order of first appearance (the example's keys)."""
        seen: dict[str, None] = {}
        for version in self.versions:
            for name in placeholders(version.text):
                seen.setdefault(name, None)
        return tuple(seen)
