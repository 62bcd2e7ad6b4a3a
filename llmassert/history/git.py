"""Versions of one file from its git history (``git log --follow``), via the ``git`` command."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from llmassert.errors import HistoryError


def _git(args: list[str], cwd: Path, file: Path) -> bytes:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, env=env, timeout=120, check=False
        )
    except FileNotFoundError:
        raise HistoryError(
            "git is not installed", file=file, hint="install git, or use a folder of versions"
        ) from None
    except subprocess.TimeoutExpired:
        raise HistoryError(f"git {args[0]} took over 120 s", file=file) from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise HistoryError(
            f"git {args[0]} failed: {message[-1] if message else done.returncode}", file=file
        )
    return done.stdout


def repo_root(path: Path) -> Path | None:
    """The top folder of the git work tree holding ``path``, or None (also when git is missing)."""
    folder = path if path.is_dir() else path.parent
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=folder,
            capture_output=True,
            env={**os.environ, "LC_ALL": "C"},
            timeout=30,
            check=False,
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return Path(done.stdout.decode().strip()).resolve()


def git_versions(path: Path) -> list[tuple[str, str, str]]:
    """``(sha, short label, text)`` per commit touching ``path``, oldest first.

    Follows renames. Commits whose content equals the previous one are skipped, and an
    uncommitted working-tree edit becomes a last version labelled ``working tree``.
    """
    path = path.resolve()
    root = repo_root(path)
    if root is None:
        # Tell "no git" apart from "not a repo": both are common first-run mistakes.
        _git(["--version"], path.parent, path)
        raise HistoryError(
            "is not inside a git repository",
            file=path,
            hint="pass a folder of versions or a .yaml file instead",
        )
    relative = path.relative_to(root).as_posix()
    log = _git(
        ["log", "--follow", "--name-only", "--format=%x01%H", "--", relative], root, path
    ).decode("utf-8", "replace")
    commits: list[tuple[str, str]] = []
    for record in log.split("\x01")[1:]:
        lines = [line for line in record.splitlines() if line.strip()]
        if len(lines) >= 2:
            commits.append((lines[0], lines[1]))
    if not commits:
        raise HistoryError(
            "has no commits in git",
            file=path,
            hint="commit it, or pass --labels/versions another way",
        )
    versions: list[tuple[str, str, str]] = []
    previous: str | None = None
    for sha, name in reversed(commits):
        try:
            blob = _git(["show", f"{sha}:{name}"], root, path)
        except HistoryError:
            continue  # the commit deleted the file
        text = _decode(blob, path, sha)
        if text != previous:
            versions.append((sha, sha[:7], text))
            previous = text
    if path.is_file():
        text = _decode(path.read_bytes(), path, "working tree")
        if text != previous:
            versions.append(("working tree", "working tree", text))
    return versions


def _decode(blob: bytes, path: Path, where: str) -> str:
    try:
        return blob.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise HistoryError(
            f"is not UTF-8 text at {where} (byte {e.start})", file=path, hint="re-save it as UTF-8"
        ) from None
