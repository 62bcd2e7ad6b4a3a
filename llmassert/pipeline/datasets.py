"""Reading datasets and writing outputs.

Inputs: a JSON list of objects, JSONL, CSV (header row), or a folder of text files (one row per
non-hidden file: ``path``, ``filename``, ``text``, like DocETL's ``read_dir``).  Every problem is
a one-line ``InputError`` naming the file and the row/line.  Outputs (json, jsonl, csv by
suffix) are written to a temporary file in the same folder and renamed into place, so a killed
run never leaves a half-written output.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from llmassert.errors import InputError
from llmassert.fileio import atomic_write_text
from llmassert.pipeline.types import Row

FORMATS = ("json", "jsonl", "csv", "text")


def detect_format(path: Path) -> str:
    if path.is_dir():
        return "text"
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("json", "jsonl", "csv"):
        return suffix
    if suffix == "ndjson":
        return "jsonl"
    raise InputError(
        f"cannot tell the format of {path.name!r}: use .json, .jsonl, .csv or a "
        "folder (or set `format:`)",
        file=path,
    )


def load_dataset(path: Path, fmt: str | None = None) -> tuple[list[Row], str]:
    """Rows of a dataset and the sha256 of its content (for checkpoint fingerprints)."""
    fmt = fmt or detect_format(path)
    if fmt == "text":
        return _load_folder(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read dataset: {e.strerror or e}", file=path) from None
    digest = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text (byte {e.start})", file=path) from None
    if fmt == "json":
        return _load_json(text, path), digest
    if fmt == "jsonl":
        return _load_jsonl(text, path), digest
    return _load_csv(text, path), digest


def _load_json(text: str, path: Path) -> list[Row]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(
            f"invalid JSON: {e.msg}", file=path, field=f"line {e.lineno}, column {e.colno}"
        ) from None
    if not isinstance(data, list):
        raise InputError("expected a JSON list of objects", file=path)
    for i, row in enumerate(data):
        if not isinstance(row, dict):
            raise InputError(
                f"expected an object, got {type(row).__name__}", file=path, field=f"[{i}]"
            )
    return data


def _load_jsonl(text: str, path: Path) -> list[Row]:
    rows: list[Row] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"invalid JSON: {e.msg}", file=path, field=f"line {n}") from None
        if not isinstance(row, dict):
            raise InputError(
                f"expected an object, got {type(row).__name__}", file=path, field=f"line {n}"
            )
        rows.append(row)
    return rows


def _load_csv(text: str, path: Path) -> list[Row]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise InputError("CSV has no header row", file=path)
    rows: list[Row] = []
    for row in reader:
        if None in row:
            raise InputError(
                "more values than header columns", file=path, field=f"line {reader.line_num}"
            )
        rows.append(dict(row))
    return rows


def _load_folder(path: Path) -> tuple[list[Row], str]:
    rows: list[Row] = []
    h = hashlib.sha256()
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    for p in files:
        rel = p.relative_to(path.parent).as_posix()
        data = p.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            continue  # binary files are not documents we can read
        h.update(rel.encode() + b"\0" + data + b"\0")
        rows.append({"path": rel, "filename": p.name, "text": text})
    if not rows:
        raise InputError("folder has no readable text files", file=path)
    return rows, h.hexdigest()


# -- writing -------------------------------------------------------------------------------------


def dumps_rows(rows: list[Row], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2, default=str) + "\n"
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows)
    if fmt == "csv":
        columns: dict[str, None] = {}
        for r in rows:
            columns.update(dict.fromkeys(r))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: _csv_cell(v) for k, v in r.items()})
        return buf.getvalue()
    raise InputError(f"unknown output format {fmt!r}")


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def write_rows(path: Path, rows: list[Row]) -> None:
    """Write rows as json / jsonl / csv (by suffix), atomically."""
    atomic_write_text(path, dumps_rows(rows, path.suffix.lower().lstrip(".")))


def write_jsonl(path: Path, records: Iterable[Any]) -> None:
    """Write records as JSONL atomically; an empty iterable removes a stale file instead."""
    records = list(records)
    if not records:
        path.unlink(missing_ok=True)
        return
    atomic_write_text(
        path, "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in records)
    )
