"""Load prompt histories from folders, YAML/JSON files, or a git-tracked file.

Accepted shapes (``load_histories(path)``):

- a folder of prompt folders: ``prompts/<name>/v1.txt ... v10.txt`` (any extension, natural
  order; ``labeled.jsonl`` beside them is not a version) and/or ``prompts/<name>.yaml`` files;
- one prompt folder (its files are the versions);
- ``<name>.yaml`` / ``.yml`` / ``.json`` with ``versions:`` (a list of strings or of
  ``{text: ..., label: ...}``), labels in ``<name>.labeled.jsonl`` beside it;
- one prompt file inside a git repository: its versions are its commits (``git log --follow``,
  oldest first), labels in ``<name>.labeled.jsonl`` beside it. Auto-detected for a single
  non-YAML file, forced with ``git=True``.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from llmassert.errors import HistoryError
from llmassert.fileio import parse_json, read_text
from llmassert.history.git import git_versions, repo_root
from llmassert.history.labels import load_labels
from llmassert.history.models import LabeledExample, PromptHistory, PromptVersion
from llmassert.history.notes import load_notes, notes_path

LABELS_FILE = "labeled.jsonl"
_STRUCTURED = (".yaml", ".yml", ".json")
_IGNORED_DIRS = {"__pycache__", "node_modules"}


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key putting ``v2`` before ``v10``."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part.casefold())
        for part in re.split(r"(\d+)", name)
        if part
    )


class _VersionEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    label: str | None = None


class _PromptFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    description: str | None = None
    versions: list[str | _VersionEntry]


def _is_labels(path: Path) -> bool:
    return path.name == LABELS_FILE or path.name.endswith(".labeled.jsonl")


def _is_notes(path: Path) -> bool:
    # A README beside the versions would otherwise sort in as "version 1".
    return path.stem.upper() in {"README", "LICENSE", "CHANGELOG", "NOTES"}


def _visible(path: Path) -> bool:
    return not path.name.startswith((".", "~")) and not path.name.endswith("~")


def load_histories(
    path: str | Path, *, git: bool | None = None, labels: str | Path | None = None
) -> list[PromptHistory]:
    """Every prompt history found at ``path`` (see the module docstring for the shapes).

    ``git``: True reads a single file's versions from git, False never does, None auto-detects.
    ``labels``: a JSONL file of labeled examples for the (single) prompt loaded, replacing any
    found beside it. Raises :class:`HistoryError` / :class:`LabelsError` on bad input.
    """
    root = Path(path)
    if not root.exists():
        raise HistoryError("does not exist", file=root)
    if root.is_dir():
        if git:
            raise HistoryError("--git needs a single prompt file, not a folder", file=root)
        histories = _load_folder(root)
    else:
        histories = [_load_file(root, git)]
    names = [h.name for h in histories]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise HistoryError(
            f"two prompts are named {duplicates[0]!r}", file=root, hint="rename one of them"
        )
    if labels is not None:
        if len(histories) != 1:
            raise HistoryError(
                f"--labels applies to one prompt, but {len(histories)} were found",
                file=root,
                hint="point at a single prompt, or put labeled.jsonl beside each prompt",
            )
        histories = [histories[0].model_copy(update={"labeled": load_labels(Path(labels))})]
    return histories


def _load_folder(folder: Path) -> list[PromptHistory]:
    entries = sorted(
        (p for p in folder.iterdir() if _visible(p)), key=lambda p: natural_key(p.name)
    )
    subfolders = [p for p in entries if p.is_dir() and p.name not in _IGNORED_DIRS]
    structured = [p for p in entries if p.is_file() and p.suffix.lower() in _STRUCTURED]
    if subfolders or structured:
        histories = [_load_prompt_folder(p) for p in subfolders]
        histories += [_load_structured(p) for p in structured]
        if histories:
            return sorted(histories, key=lambda h: natural_key(h.name))
    return [_load_prompt_folder(folder)]


def _load_prompt_folder(folder: Path) -> PromptHistory:
    files = sorted(
        (
            p
            for p in folder.iterdir()
            if p.is_file() and _visible(p) and not _is_labels(p) and not _is_notes(p)
        ),
        key=lambda p: natural_key(p.name),
    )
    if not files:
        raise HistoryError(
            "no prompt versions found (empty folder)", file=folder, hint="add v1.txt, v2.txt, ..."
        )
    versions = tuple(
        PromptVersion(index=i, text=read_text(p, HistoryError), source=str(p), label=p.stem)
        for i, p in enumerate(files, start=1)
    )
    return _history(folder.name, versions, folder, folder / LABELS_FILE)


def _load_file(path: Path, git: bool | None) -> PromptHistory:
    if _is_labels(path) or path.suffix.lower() == ".jsonl":
        raise HistoryError(
            "is a labels file, not a prompt", file=path, hint="pass it with --labels"
        )
    if path.suffix.lower() in _STRUCTURED and not git:
        return _load_structured(path)
    if git is False:
        raise HistoryError(
            "a single prompt file has one version",
            file=path,
            hint="use a folder of versions, a .yaml with versions:, or --git",
        )
    if git is None and shutil.which("git") is None:
        raise HistoryError(
            "is a single prompt file, and git is not installed to read its history",
            file=path,
            hint="install git, or use a folder of versions or a .yaml with versions:",
        )
    if git is None and repo_root(path) is None:
        raise HistoryError(
            "is a single file outside any git repository, so it has one version",
            file=path,
            hint="use a folder of versions, a .yaml with versions:, or commit it to git",
        )
    versions = tuple(
        PromptVersion(index=i, text=text, source=sha, label=label)
        for i, (sha, label, text) in enumerate(git_versions(path), start=1)
    )
    return _history(path.stem, versions, path, path.with_name(f"{path.stem}.labeled.jsonl"))


def _load_structured(path: Path) -> PromptHistory:
    text = read_text(path, HistoryError)
    data: Any
    try:
        if path.suffix.lower() == ".json":
            data = parse_json(text, file=path, error=HistoryError)
        else:
            data = yaml.safe_load(text)
    except RecursionError:
        raise HistoryError("nested too deeply to read", file=path) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        field = f"line {mark.line + 1}" if mark is not None else None
        raise HistoryError(
            f"not valid YAML ({getattr(e, 'problem', None) or e})", file=path, field=field
        ) from None
    if not isinstance(data, dict) or "versions" not in data:
        raise HistoryError(
            "expected a mapping with a 'versions:' list", file=path, field="versions"
        )
    try:
        parsed = _PromptFile.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"] if not str(p).startswith(("str", "_Version")))
        raise HistoryError(err["msg"], file=path, field=where or "versions") from None
    versions = tuple(
        PromptVersion(
            index=i,
            text=v if isinstance(v, str) else v.text,
            source=f"{path}#versions[{i - 1}]",
            label=(None if isinstance(v, str) else v.label) or f"v{i}",
        )
        for i, v in enumerate(parsed.versions, start=1)
    )
    name = parsed.name or path.stem
    return _history(name, versions, path, path.with_name(f"{path.stem}.labeled.jsonl"))


def _history(
    name: str, versions: tuple[PromptVersion, ...], origin: Path, labels: Path
) -> PromptHistory:
    if not versions:
        raise HistoryError("no prompt versions found", file=origin, field="versions")
    if len(versions) == 1:
        raise HistoryError(
            "only one version: there is no change to learn criteria from",
            file=origin,
            hint="add an earlier version (an empty file works as the starting point)",
        )
    labeled: tuple[LabeledExample, ...] = load_labels(labels) if labels.is_file() else ()
    notes = tuple(n.text for n in load_notes(notes_path(labels)) if n.criterion)
    return PromptHistory(
        name=name, versions=versions, origin=str(origin), labeled=labeled, notes=notes
    )
