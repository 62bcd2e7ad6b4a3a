"""Every file llmassert reads as JSON/JSONL and every file it writes goes through here.

Reading (:func:`read_json`, :func:`read_jsonl`, :func:`parse_json`): one error wording for every
user file, ``<file>: line N: <field>: <message>`` on one line, raised as the caller's
:class:`~llmassert.errors.InputError` subclass.  Malformed input never escapes as a traceback:
invalid UTF-8, nesting deeper than the parser's stack (``[`` x 100000), numbers past Python's
digit limit, and ``NaN`` / ``Infinity`` (not JSON; writing them back would make an invalid file)
are all refused with the line they are on.

Writing (:func:`atomic_write_text`): whole or not at all (temp file in the same folder, fsync,
rename), with the permissions an ordinary ``open()`` would give (``0o666 & ~umask``; a file that
is replaced keeps its mode), known secret values scrubbed, and one-line
:class:`~llmassert.errors.OutputError` s for a folder where a file goes or a file where a folder
goes.  :func:`check_output_file` / :func:`check_output_dir` find those problems up front, before
any LLM call; :func:`ensure_distinct` refuses an output that is one of the inputs;
:class:`OutputLock` keeps two runs from writing one output at once.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import socket
import stat
import sys
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from llmassert.errors import InputError, LlmAssertError, OutputError
from llmassert.secrets import scrub_bytes, scrub_values, secret_values

# -- reading ---------------------------------------------------------------------------------------


class _NotJSON(ValueError):
    """NaN / Infinity / -Infinity: Python's json accepts them, JSON does not."""


def _refuse_constant(name: str) -> Any:
    raise _NotJSON(name)


def _where(line: int | None, field: str | None) -> str | None:
    parts = [f"line {line}" if line is not None else None, field]
    return ": ".join(p for p in parts if p) or None


def parse_json(
    text: str | bytes,
    *,
    file: str | Path | None = None,
    line: int | None = None,
    error: type[LlmAssertError] = InputError,
) -> Any:
    """Parse one JSON document; any problem is ``error`` naming ``file`` and the line."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except _NotJSON as e:
        message = f"{e} is not valid JSON (write null, or the number as a string)"
        at = line
    except json.JSONDecodeError as e:
        message = f"invalid JSON: {e.msg} (column {e.colno})"
        at = e.lineno if line is None else line
    except RecursionError:
        message = f"nested too deeply to read (more than about {sys.getrecursionlimit()} levels)"
        at = line
    except UnicodeDecodeError as e:
        message = f"not UTF-8 text (byte {e.start})"
        at = line
    except ValueError as e:
        if "digits" in str(e):  # an integer past sys.get_int_max_str_digits()
            message = f"a number has more than {sys.get_int_max_str_digits()} digits"
        else:
            message = f"invalid JSON: {' '.join(str(e).split())}"
        at = line
    raise error(message, file=file, field=_where(at, None)) from None


def read_bytes(path: str | Path, error: type[LlmAssertError] = InputError) -> bytes:
    """The content of ``path``, or ``error`` saying why it cannot be read."""
    p = Path(path)
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise error("does not exist", file=p) from None
    except IsADirectoryError:
        raise error("is a folder, expected a file", file=p) from None
    except OSError as e:
        raise error(f"cannot read: {e.strerror or e}", file=p) from None


def decode_text(data: bytes, path: str | Path, error: type[LlmAssertError] = InputError) -> str:
    """UTF-8 (a BOM is dropped); invalid bytes are an error naming their line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise error(
            f"not UTF-8 text (byte {e.start})",
            file=path,
            field=f"line {line}",
            hint="re-save it as UTF-8",
        ) from None


def read_text(path: str | Path, error: type[LlmAssertError] = InputError) -> str:
    """UTF-8 text of ``path`` (see :func:`read_bytes` and :func:`decode_text`)."""
    return decode_text(read_bytes(path, error), path, error)


def read_json(path: str | Path, error: type[LlmAssertError] = InputError) -> Any:
    """The JSON document in ``path``."""
    return parse_json(read_text(path, error), file=path, error=error)


def read_jsonl(
    path: str | Path,
    error: type[LlmAssertError] = InputError,
    *,
    objects: bool = True,
    text: str | None = None,
) -> list[tuple[int, Any]]:
    """``(line number, value)`` of every non-blank line; ``objects``: each must be an object."""
    if text is None:
        text = read_text(path, error)
    out: list[tuple[int, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        value = parse_json(line, file=path, line=number, error=error)
        if objects and not isinstance(value, dict):
            raise error(
                f"expected a JSON object, got {_kind(value)}", file=path, field=f"line {number}"
            )
        out.append((number, value))
    return out


def _kind(value: Any) -> str:
    names = {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def validated(
    model: type[BaseModel],
    data: Any,
    *,
    file: str | Path,
    line: int | None = None,
    error: type[LlmAssertError] = InputError,
    unknown: str | None = None,
) -> Any:
    """``model.model_validate(data)``; the first problem becomes ``file: line N: field: msg``.

    ``unknown`` replaces pydantic's "Extra inputs are not permitted" (e.g. the expected fields).
    """
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or None
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden" and unknown:
            message = unknown
        raise error(message, file=file, field=_where(line, where)) from None


def dumps_json(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` that never writes NaN/Infinity (invalid JSON): they become null."""
    kwargs.setdefault("ensure_ascii", False)
    kwargs.setdefault("default", str)
    try:
        return json.dumps(value, allow_nan=False, **kwargs)
    except ValueError:
        return json.dumps(_finite(value), allow_nan=False, **kwargs)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


# -- writing ---------------------------------------------------------------------------------------


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (thread-safe)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: the classic read-by-setting, restored at once
    os.umask(mask)
    return mask


def file_mode(path: Path) -> int:
    """Mode for a (re)written file: the old file's, else what open() would give."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o666 & ~current_umask()


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((a for a in path.parents if a.exists() and not a.is_dir()), path.parent)
        raise OutputError(
            f"cannot create it: {blocker} is a file, not a folder", file=path
        ) from None
    except OSError as e:
        raise OutputError(f"cannot create its folder: {e.strerror or e}", file=path) from None


def atomic_write_bytes(path: str | Path, data: bytes, *, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder, then rename.

    The rename is atomic on POSIX, so readers (and a rerun after a crash) see the old file or
    the new one, never a mix.  ``fsync=False`` for caches, where losing an entry is harmless.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError("is a folder, expected a file", file=path)
    _make_parent(path)
    mode = file_mode(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise OutputError(f"cannot write: {e.strerror or e}", file=path) from None
    try:
        try:
            # mkstemp creates 0600 whatever the umask; the user's umask decides, as for open().
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, IsADirectoryError):
            raise OutputError("is a folder, expected a file", file=path) from None
        if isinstance(e, OSError):
            raise OutputError(f"cannot write: {e.strerror or e}", file=path) from None
        raise


class AtomicStream:
    """A file written piece by piece that appears whole or not at all (:func:`atomic_write_bytes`
    for output too large to hold): pieces go to a temp file beside ``path``, secrets scrubbed;
    :meth:`commit` renames it into place, :meth:`abort` (or an exception in a ``with``) removes
    it.  ``sha256`` is the digest of what was written."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise OutputError("is a folder, expected a file", file=self.path)
        _make_parent(self.path)
        self._mode = file_mode(self.path)
        try:
            fd, self._tmp = tempfile.mkstemp(
                dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
            )
        except OSError as e:
            raise OutputError(f"cannot write: {e.strerror or e}", file=self.path) from None
        self._fd: int | None = fd
        self._hash = hashlib.sha256()
        self._secrets = secret_values()
        self.size = 0

    def write(self, data: bytes) -> None:
        if self._fd is None:
            raise OutputError("written after it was closed", file=self.path)
        if self._secrets:
            data = scrub_bytes(data, self._secrets)
        self._hash.update(data)
        self.size += len(data)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as e:
            self.abort()
            raise OutputError(f"cannot write: {e.strerror or e}", file=self.path) from None

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def commit(self, *, fsync: bool = True) -> None:
        if self._fd is None:
            raise OutputError("committed after it was closed", file=self.path)
        fd, self._fd = self._fd, None
        try:
            try:
                os.fchmod(fd, self._mode)
                if fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(self._tmp, self.path)
        except OSError as e:
            with contextlib.suppress(OSError):
                os.unlink(self._tmp)
            raise OutputError(f"cannot write: {e.strerror or e}", file=self.path) from None

    def abort(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(self._tmp)

    def __enter__(self) -> AtomicStream:
        return self

    def __exit__(self, kind: object, *rest: object) -> None:
        if kind is not None:
            self.abort()


def atomic_write_text(path: str | Path, text: str, *, fsync: bool = True) -> None:
    """:func:`atomic_write_bytes` of UTF-8 ``text``, with known secret values scrubbed."""
    atomic_write_bytes(path, scrub_values(text).encode("utf-8"), fsync=fsync)


# -- output paths, checked before any work ---------------------------------------------------------


def _existing_ancestor(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return Path(path.anchor or ".")


def _probe_writable(folder: Path, path: Path, field: str | None) -> None:
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".llmassert-probe-")
    except OSError as e:
        raise OutputError(
            f"cannot write in {folder}: {e.strerror or e}", file=path, field=field
        ) from None
    os.close(fd)
    os.unlink(tmp)


def check_output_file(path: str | Path, field: str | None = None) -> None:
    """Refuse, before any work, an output file that could not be written where it points."""
    p = Path(path)
    if p.is_dir():
        raise OutputError("is a folder, expected a file", file=p, field=field)
    base = _existing_ancestor(p.parent)
    if not base.is_dir():
        raise OutputError(f"cannot create it: {base} is not a folder", file=p, field=field)
    _probe_writable(base, p, field)


def check_output_dir(path: str | Path, field: str | None = None) -> None:
    """Refuse, before any work, an output folder that is a file or cannot be written."""
    p = Path(path)
    base = _existing_ancestor(p)
    if not base.is_dir():
        what = "is not a folder" if base == p else f"cannot create it: {base} is not a folder"
        raise OutputError(what, file=p, field=field)
    _probe_writable(base, p, field)


def same_or_inside(output: Path, input_: Path) -> bool:
    """True if writing ``output`` would overwrite ``input_`` or write into it (a folder)."""
    out = output.resolve()
    src = input_.resolve()
    if out == src:
        return True
    with contextlib.suppress(OSError):
        if output.exists() and input_.exists() and os.path.samefile(output, input_):
            return True
    return input_.is_dir() and out.is_relative_to(src)


def ensure_distinct(
    outputs: Iterable[tuple[str, Path]], inputs: Iterable[tuple[str, Path]]
) -> None:
    """Refuse an output that is one of the inputs (or inside an input folder): one line."""
    inputs = [(label, p) for label, p in inputs if p.exists()]
    for out_label, out in outputs:
        for in_label, src in inputs:
            if same_or_inside(out, src):
                inside = src.is_dir() and out.resolve() != src.resolve()
                relation = "is inside the input folder" if inside else "is the input"
                raise OutputError(
                    f"{relation} {in_label} ({src}): refusing to overwrite an input",
                    file=out,
                    field=out_label,
                )


# -- one writer per output -------------------------------------------------------------------------


def _process_start(pid: int) -> str | None:
    """The start time of ``pid`` in clock ticks (Linux), to tell a reused pid from its holder."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if start is not None:
        now = _process_start(pid)
        return now is None or now == start
    return True


class OutputLock:
    """``<output>.lock`` held while a run writes ``output``; a second run refuses with one line.

    The lock file names its holder (pid, host, start time).  It is held with ``flock`` too, so a
    holder that died releases it; a left-over file whose pid is gone (or reused by another
    process) on this host is stale and taken over.  A lock from another host is never guessed
    stale: the message says which file to delete.
    """

    def __init__(self, output: str | Path) -> None:
        self.output = Path(output)
        self.path = self.output.with_name(self.output.name + ".lock")
        self._fd: int | None = None

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _holder(self, fd: int) -> dict[str, Any]:
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, 4096)
        try:
            data = json.loads(raw) if raw.strip() else {}
        except ValueError:
            data = {}
        return data if isinstance(data, dict) else {}

    def _refuse(self, holder: dict[str, Any]) -> OutputError:
        who = (
            f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} "
            f"since {holder.get('started', '?')}"
        )
        return OutputError(
            f"is locked by another run ({who}); if that run is gone, delete {self.path}",
            file=self.output,
        )

    def acquire(self) -> None:
        import fcntl

        _make_parent(self.path)
        for _ in range(20):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as e:
                raise OutputError(
                    f"cannot create its lock file {self.path}: {e.strerror or e}", file=self.output
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                holder = self._holder(fd)
                os.close(fd)
                if e.errno in (errno.EAGAIN, errno.EACCES):
                    raise self._refuse(holder) from None
                raise OutputError(
                    f"cannot lock {self.path}: {e.strerror}", file=self.output
                ) from None
            # The file may have been removed (a holder releasing) between open and flock.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            holder = self._holder(fd)
            pid = holder.get("pid")
            if (
                isinstance(pid, int)
                and pid != os.getpid()
                and (
                    holder.get("host") != socket.gethostname()
                    or _alive(pid, holder.get("pid_start"))
                )
            ):
                # A live holder that does not flock (another filesystem, another host).
                os.close(fd)
                raise self._refuse(holder)
            me = {
                "pid": os.getpid(),
                "pid_start": _process_start(os.getpid()),
                "host": socket.gethostname(),
                "started": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, (json.dumps(me) + "\n").encode())
            self._fd = fd
            return
        raise OutputError(f"could not take the lock {self.path}", file=self.output)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            if os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                os.unlink(self.path)
        os.close(fd)
