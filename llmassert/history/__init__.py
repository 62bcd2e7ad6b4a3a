"""Prompt histories: load versions (folders, YAML/JSON, git) and diff them into deltas."""

from __future__ import annotations

from llmassert.history.diff import Delta, deltas, diff_units
from llmassert.history.labels import load_labels
from llmassert.history.loaders import load_histories, natural_key
from llmassert.history.models import LabeledExample, PromptHistory, PromptVersion, placeholders

__all__ = [
    "Delta",
    "LabeledExample",
    "PromptHistory",
    "PromptVersion",
    "deltas",
    "diff_units",
    "load_histories",
    "load_labels",
    "natural_key",
    "placeholders",
]
