"""Reading datasets and writing outputs.

Inputs: a JSON list of objects, JSONL, CSV (header row), or a folder of documents (one row per
non-hidden file: ``path``, ``filename``, ``text``, like DocETL's ``read_dir``: text files as they
are, PDF / docx / pptx / xlsx through :mod:`~llmassert.pipeline.documents`, other binary files
skipped).  Every problem is
a one-line ``InputError`` naming the file and the row/line.  Outputs (json, jsonl, csv by
suffix) are written to a temporary file in the same folder and renamed into place, so a killed
run never leaves a half-written output.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from llmassert.errors import InputError
from llmassert.fileio import (
    AtomicStream,
    atomic_write_text,
    decode_text,
    dumps_json,
    parse_json,
    read_bytes,
    read_jsonl,
)
from llmassert.pipeline import documents
from llmassert.pipeline.types import Row


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
    """Rows of a dataset and the sha256 of its content (for checkpoint fingerprints).

    An empty dataset is an error: a run over no rows is almost always a wrong path or an
    unfinished export, and it would otherwise surface as a confusing missing-key error.
    """
    fmt = fmt or detect_format(path)
    if fmt == "text":
        rows, digest = _load_folder(path)
    else:
        data = read_bytes(path)
        digest = hashlib.sha256(data).hexdigest()
        text = decode_text(data, path)
        if fmt == "json":
            rows = _load_json(text, path)
        elif fmt == "jsonl":
            rows = [row for _n, row in read_jsonl(path, text=text)]
        else:
            rows = _load_csv(text, path)
    if not rows:
        raise InputError("the dataset is empty: no rows to process", file=path)
    return rows, digest


def _load_json(text: str, path: Path) -> list[Row]:
    data = parse_json(text, file=path)
    if not isinstance(data, list):
        raise InputError("expected a JSON list of objects", file=path)
    for i, row in enumerate(data):
        if not isinstance(row, dict):
            raise InputError(
                f"expected an object, got {type(row).__name__}", file=path, field=f"[{i}]"
            )
    return data


def _load_csv(text: str, path: Path) -> list[Row]:
    # strict: an unterminated quote is an error, not a field that swallows the rest of the file.
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    rows: list[Row] = []
    try:
        if not reader.fieldnames:
            raise InputError("CSV has no header row", file=path)
        for row in reader:
            if None in row:
                raise InputError(
                    "more values than header columns", file=path, field=f"line {reader.line_num}"
                )
            rows.append(dict(row))
    except csv.Error as e:
        message = str(e)
        if "unexpected end of data" in message or "EOF" in message:
            message = 'unterminated quote (a field opened with " never closes)'
        start = _record_start(text, reader.reader.line_num)
        raise InputError(f"invalid CSV: {message}", file=path, field=f"line {start}") from None
    return rows


def _record_start(text: str, line_num: int) -> int:
    """The line where the record the CSV reader choked on began (it reports where it stopped)."""
    lines = text.splitlines()
    quotes = 0
    start = 1
    for i, line in enumerate(lines[: max(line_num, 1)], start=1):
        if quotes % 2 == 0:
            start = i
        quotes += line.count('"')
    return start


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
        data = read_bytes(p)
        if p.suffix.lower() in documents.FOLDER_SUFFIXES:
            try:
                text = documents.file_text(p.suffix, data)
            except documents.DocumentError as e:
                raise InputError(str(e), file=p) from None
        else:
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
    """Rows as text; NaN/Infinity (a model may answer them) are written as null, never as
    invalid JSON."""
    if fmt == "json":
        return dumps_json(rows, indent=2) + "\n"
    if fmt == "jsonl":
        return "".join(dumps_json(r) + "\n" for r in rows)
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
        return dumps_json(value)
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
    atomic_write_text(path, "".join(dumps_json(r) + "\n" for r in records))


class RowsFile:
    """Rows written to ``path`` as they come (json / jsonl; csv is held and written at the end:
    its header needs every column), whole or not at all (:class:`AtomicStream`).

    The same text :func:`write_rows` writes, without holding the rows: a JSON array of rows
    indented by 2.
    """

    def __init__(self, path: Path, fmt: str | None = None) -> None:
        self.fmt = fmt or path.suffix.lower().lstrip(".")
        if self.fmt not in ("json", "jsonl", "csv"):
            self.fmt = "json"
        self.stream = AtomicStream(path)
        self.count = 0
        self._held: list[Row] = []

    def write(self, rows: list[Row]) -> None:
        if not rows:
            return
        if self.fmt == "csv":
            self._held.extend(rows)
        elif self.fmt == "jsonl":
            self.stream.write(b"".join(_jsonl_line(r) for r in rows))
        else:
            self.stream.write(
                b"".join(
                    (b"[\n  " if self.count + i == 0 else b",\n  ") + _indented(r)
                    for i, r in enumerate(rows)
                )
            )
        self.count += len(rows)

    @property
    def sha256(self) -> str:
        return self.stream.sha256

    def commit(self, *, fsync: bool = True) -> None:
        if self.fmt == "csv":
            self.stream.write(dumps_rows(self._held, "csv").encode())
            self._held = []
        elif self.fmt == "json":
            self.stream.write(b"\n]\n" if self.count else b"[]\n")
        self.stream.commit(fsync=fsync)

    def abort(self) -> None:
        self.stream.abort()


def _jsonl_line(row: Row) -> bytes:
    return (dumps_json(row) + "\n").encode()  # the stdlib's C encoder: fast without indent


def _indented(row: Row) -> bytes:
    """``row`` as ``json.dumps(rows, indent=2)`` writes an element (NaN as null)."""
    try:
        text = orjson.dumps(row, option=orjson.OPT_INDENT_2)
    except (TypeError, orjson.JSONEncodeError):
        text = dumps_json(row, indent=2).encode()
    return text.replace(b"\n", b"\n  ")
