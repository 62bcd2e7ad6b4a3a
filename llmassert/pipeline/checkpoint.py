"""Checkpoints: a killed run resumes where it stopped and makes no LLM call twice.

Layout under the checkpoint root (``pipeline.output.intermediate_dir``, else
``.llmassert/checkpoints/<hash of the YAML's path>/``)::

    run.json                      {"status": "running" | "complete", "pipeline": ...}
    <step>/<op>.journal.jsonl     row-level journal: header line, then {"k": key, "v": value}
    <step>/<op>.json              the operation's output rows (DocETL's intermediate file)
    <step>/<op>.state.json        version, fingerprint, lineage, quarantined/errored rows, stats

**Inside an operation** every finished unit (a row, a group, a fold step) is appended to the
journal with one ``os.write`` on an ``O_APPEND`` descriptor as it finishes — nothing is
buffered in the process, so SIGKILL loses no finished unit and a resumed run asks again only
what was in flight.  ``fsync`` runs at most every
``FSYNC_EVERY_S`` and when the operation ends (what a power cut can lose).  A torn last line
is ignored on load.  Values are read back from the file on a hit, never held in memory.
**Between operations** a finished operation's output and state are written atomically; a
resumed run loads them instead of running the operation.  Each journal/state carries the
operation's fingerprint (its spec, model and the fingerprint of its input), so an edited
operation — and everything after it — starts over while earlier ones are reused.

**Nothing read back is trusted.**  Every journal line carries a digest of its key and value; a
line that does not parse, has the wrong shape or a wrong digest is dropped (and its unit redone),
and the executor checks each replayed unit's row accounting (in = out + filtered + quarantined +
errored).  A saved operation is reused only if its rows file has the sha256 its state recorded and
its counts add up.  Step folders are marked (``.llmassert-step``): a fresh run clears only folders
it made, never a user folder that happens to share a step's name.

Resume happens only after an interrupted run (``run.json`` says ``running``); a completed run
leaves ``complete`` and the next run starts fresh (``--no-resume`` forces that).  Rows that
failed with an error are not journaled: a resumed run retries them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmassert import jsonx
from llmassert.errors import InputError, OutputError, PipelineError
from llmassert.fileio import atomic_write_text, parse_json, read_bytes, read_json
from llmassert.pipeline.types import Issue, OpStats, Row
from llmassert.secrets import scrub_bytes, scrub_values, secret_values

FSYNC_EVERY_S = 0.25
JOURNAL_VERSION = 3  # 2: every entry carries a digest ("h"); 3: digests of orjson's encoding
# A saved operation's state file; 2: its stats hold usage as one object ("usage": {...}).
# A state of another version is not reused: the operation runs again (from its journal).
STATE_VERSION = 2
STEP_MARKER = ".llmassert-step"
_OWN_FILE = re.compile(r"^[^/]+\.(journal(\.[^/]+)?\.jsonl|state\.json|json)$|^\..+\.tmp$")


def entry_digest(key: str, value: Any) -> str:
    """Digest of a journal entry: an edited key or value no longer matches it."""
    return hashlib.sha256(jsonx.dumps([key, value], sort_keys=True)).hexdigest()[:24]


def default_root(pipeline_path: Path, cwd: Path | None = None) -> Path:
    digest = hashlib.sha256(str(pipeline_path.resolve()).encode()).hexdigest()[:16]
    return (cwd or Path.cwd()) / ".llmassert" / "checkpoints" / digest


class Journal:
    """Append-only JSONL map ``key → JSON value`` of one operation's finished units.

    Values are not kept in memory: the journal holds where each entry's line is (offset,
    length) and reads it back on a hit, so a run's memory does not grow with its journal.
    Each entry is written with one ``os.write`` as it is put.
    """

    def __init__(
        self,
        path: Path,
        fingerprint: str,
        *,
        resume: bool,
        also_read: tuple[Path, ...] = (),
        shared: bool = False,
    ) -> None:
        self.path = path
        self.fingerprint = fingerprint
        # key -> (file, offset, length) of its line; file 0 is this journal, others also_read
        self._where: dict[str, tuple[int, int, int]] = {}
        self._files: list[Path] = [path, *also_read]
        self._pending: dict[str, Any] = {}  # put, not yet written
        self._lines: list[bytes] = []
        # Known secrets, read once (as AtomicStream does): every flush would otherwise compare
        # a snapshot of the whole environment.
        self._secrets = secret_values()
        # Entries read back that failed validation, whose units are redone (see take_rejected).
        self.rejected = 0
        self._taken = 0
        # ``shared``: other readers (the other workers of a Ray run) read the same files, so a
        # damaged line is counted only when its unit asks for its key and finds no valid entry
        # (each unit is asked for by one worker); a line whose key cannot be read is not
        # counted then.  Alone, a reader counts every damaged line as it loads.
        self._shared = shared
        self._damaged: set[str] = set()
        path.parent.mkdir(parents=True, exist_ok=True)
        keep = False
        if resume:
            for i, p in enumerate(self._files[1:], start=1):
                self._load(p, i)
            keep = self._load(path, 0)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (0 if keep else os.O_TRUNC)
        self._fd: int | None = os.open(path, flags, 0o666)  # the umask decides, as for open()
        self._size = os.fstat(self._fd).st_size
        self._readers: dict[int, int] = {}  # file index -> read descriptor (opened on a hit)
        self._last_sync = time.monotonic()
        self._syncing = False
        self._fd_lock = threading.Lock()
        if keep and not _ends_with_newline(path):
            self._append(b"\n")  # seal a line torn by a kill; it is skipped on load
        if not keep:
            self._append(
                jsonx.dumps({"journal": JOURNAL_VERSION, "fingerprint": fingerprint}) + b"\n"
            )

    def _load(self, path: Path, index: int) -> bool:
        """Index the valid entries of ``path``; False if it is missing or of another fingerprint."""
        try:
            with path.open("rb") as f:
                data = f.read()
        except OSError:
            return False
        lines = data.split(b"\n")
        try:
            head = jsonx.loads(lines[0])
        except (ValueError, RecursionError):
            return False
        if (
            not isinstance(head, dict)
            or head.get("fingerprint") != self.fingerprint
            or head.get("journal") != JOURNAL_VERSION
        ):
            return False  # the operation (or the journal format) changed: its old journal is void
        last = len(lines) - 1
        offset = len(lines[0]) + 1
        for number, line in enumerate(lines[1:], start=1):
            at, offset = offset, offset + len(line) + 1
            if not line.strip():
                continue
            entry = _valid_entry(line)
            if entry is None:
                # The last line may be torn by a kill; others are damage.
                if self._shared:
                    key = _key_of(line)
                    if key is not None:
                        self._damaged.add(key)
                elif number < last or _parses(line):
                    self.rejected += 1
                continue
            self._where[entry] = (index, at, len(line))
        return True

    @property
    def entries(self) -> dict[str, Any]:
        """Every entry, read back (for inspection; the runner asks ``get`` per key)."""
        return {k: self.get(k) for k in [*self._where, *self._pending]}

    def __len__(self) -> int:
        return len(self._where.keys() | self._pending.keys())

    def get(self, key: str, default: Any = None) -> Any:
        if key in self._pending:
            return self._pending[key]
        where = self._where.get(key)
        if where is None:
            if self._damaged and key in self._damaged:
                self._damaged.discard(key)
                self.rejected += 1
            return default
        index, offset, length = where
        fd = self._readers.get(index)
        if fd is None:
            fd = self._readers[index] = os.open(self._files[index], os.O_RDONLY)
        line = os.pread(fd, length, offset)
        try:
            entry = jsonx.loads(line)
            if entry.get("k") == key and entry.get("h") == entry_digest(key, entry["v"]):
                return entry["v"]
        except (ValueError, RecursionError, AttributeError, KeyError):
            pass
        self.discard(key)  # changed on disk since it was indexed
        return default

    def put(self, key: str, value: Any) -> None:
        # Written at once, not at the end of the loop's turn (a group commit saves one ~4 µs
        # syscall per unit, but the unit's concurrency slot is already free by then: a request
        # started in that turn would leave one answered unit unwritten behind it, and a kill
        # there would repeat more than what was in flight).
        line = jsonx.dumps({"k": key, "v": value, "h": entry_digest(key, value)})
        self._pending[key] = value
        self._lines.append(line)
        self.flush()

    def flush(self) -> None:
        """Write every entry put so far (one ``os.write``); secrets scrubbed on the way."""
        if not self._lines:
            return
        lines, self._lines = self._lines, []
        keys = list(self._pending)
        self._pending = {}
        block = b"\n".join(lines) + b"\n"
        if scrub_bytes(block, self._secrets) is not block:
            # Rare: a secret in a value.  Lines change length: index them one by one.
            lines = [scrub_bytes(line, self._secrets) for line in lines]
            block = b"\n".join(lines) + b"\n"
        at = self._size
        self._append(block)
        for key, line in zip(keys, lines, strict=True):
            self._where[key] = (0, at, len(line))
            at += len(line) + 1

    def take_rejected(self) -> int:
        """Rejected entries not yet taken (each is reported once, whoever takes it)."""
        n, self._taken = self.rejected - self._taken, self.rejected
        return n

    def discard(self, key: str) -> None:
        """Forget an entry a reader found invalid: its unit runs again (and is journaled anew)."""
        found = self._where.pop(key, None) is not None
        found = self._pending.pop(key, None) is not None or found
        if found:
            self.rejected += 1

    def _append(self, data: bytes) -> None:
        if self._fd is None:
            raise PipelineError(f"journal closed: {self.path}")
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        self._size += len(data)
        now = time.monotonic()
        if now - self._last_sync >= FSYNC_EVERY_S and not self._syncing:
            # fsync takes milliseconds: off the event loop, at most one at a time.
            self._last_sync = now
            self._syncing = True
            threading.Thread(target=self._fsync, daemon=True).start()

    def _fsync(self) -> None:
        with self._fd_lock:
            try:
                if self._fd is not None:
                    with contextlib.suppress(OSError):
                        os.fsync(self._fd)
            finally:
                self._syncing = False

    def close(self) -> None:
        if self._fd is not None:
            self.flush()
        with self._fd_lock:
            if self._fd is not None:
                fd, self._fd = self._fd, None
                os.fsync(fd)
                os.close(fd)
            for rfd in self._readers.values():
                os.close(rfd)
            self._readers.clear()


def _valid_entry(line: bytes) -> str | None:
    """The key of a well-formed journal line whose digest matches, else None."""
    try:
        entry = jsonx.loads(line)
    except (ValueError, RecursionError):
        return None
    if (
        isinstance(entry, dict)
        and set(entry) == {"k", "v", "h"}
        and isinstance(entry["k"], str)
        and entry["h"] == entry_digest(entry["k"], entry["v"])
    ):
        return entry["k"]
    return None


def _key_of(line: bytes) -> str | None:
    """The key a damaged line names, if it still parses as an entry with a string key."""
    try:
        entry = jsonx.loads(line)
    except (ValueError, RecursionError):
        return None
    key = entry.get("k") if isinstance(entry, dict) else None
    return key if isinstance(key, str) else None


def _parses(line: bytes) -> bool:
    try:
        jsonx.loads(line)
    except (ValueError, RecursionError):
        return False
    return True


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() == 0:
            return True
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


@dataclass
class OpState:
    """A finished operation, as saved for resume."""

    fingerprint: str
    rows: list[Row]
    lineage: list[dict[str, Any]]
    quarantined: list[Issue] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    stats: OpStats = field(default_factory=OpStats)


class CheckpointStore:
    """All checkpoints of one pipeline run (see the module docstring)."""

    def __init__(self, root: Path, *, resume: bool, pipeline: str = "") -> None:
        self.root = root
        self.pipeline = pipeline
        status = self._status()
        self.resuming = resume and status == "running"
        self._journals: list[Journal] = []

    def _status(self) -> str | None:
        try:
            status = read_json(self.root / "run.json")
        except InputError:
            return None
        return status.get("status") if isinstance(status, dict) else None

    def begin(self, steps: list[str]) -> None:
        """Mark the run as running; a fresh run first clears its steps' old checkpoints.

        Only ``<root>/<step>/`` folders of this pipeline's steps are removed: an
        ``intermediate_dir`` may be a folder the user keeps other things in.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        for step in steps:
            self._check_own(self._dir(step))
        if not self.resuming:
            for step in steps:
                shutil.rmtree(self._dir(step), ignore_errors=True)
        for step in steps:
            self._dir(step).mkdir(parents=True, exist_ok=True)
            marker = self._dir(step) / STEP_MARKER
            if not marker.exists():
                atomic_write_text(marker, "llmassert checkpoint folder of one pipeline step\n")
        self._set_status("running")

    def check(self, steps: list[str]) -> None:
        """Refuse, before any work, step folders that exist and are not checkpoint folders."""
        for step in steps:
            self._check_own(self._dir(step))

    @staticmethod
    def _check_own(folder: Path) -> None:
        if not folder.exists() or (folder / STEP_MARKER).is_file():
            return
        if not folder.is_dir():
            raise OutputError(
                "is in the way of a checkpoint folder (set output.intermediate_dir to a folder "
                "of its own)",
                file=folder,
            )
        foreign = [
            p.name for p in folder.iterdir() if not (p.is_file() and _OWN_FILE.match(p.name))
        ]
        if foreign:
            raise OutputError(
                f"is not a checkpoint folder llmassert made (it holds {foreign[0]!r}); refusing "
                "to clear it: set output.intermediate_dir to a folder of its own",
                file=folder,
            )

    def complete(self) -> None:
        self.close()
        self._set_status("complete")

    def _set_status(self, status: str) -> None:
        atomic_write_text(
            self.root / "run.json", json.dumps({"status": status, "pipeline": self.pipeline})
        )

    def _dir(self, step: str) -> Path:
        return self.root / step

    def journal(self, step: str, op: str, fingerprint: str, *, shard: str | None = None) -> Journal:
        """The journal of an operation; workers of a distributed executor pass a ``shard``.

        Every shard's entries are read on resume, whichever worker wrote them.
        """
        d = self._dir(step)
        name = f"{op}.journal.{shard}.jsonl" if shard else f"{op}.journal.jsonl"
        others = (
            tuple(p for p in sorted(d.glob(f"{op}.journal*.jsonl")) if p.name != name)
            if d.exists()
            else ()
        )
        j = Journal(
            d / name, fingerprint, resume=self.resuming, also_read=others, shared=bool(shard)
        )
        self._journals.append(j)
        return j

    def rows_path(self, step: str, op: str) -> Path:
        """Where an operation's output rows are saved (DocETL's intermediate file)."""
        return self._dir(step) / f"{op}.json"

    def load(self, step: str, op: str, fingerprint: str, *, rows: bool = True) -> OpState | None:
        """The saved result of a finished operation, if it matches ``fingerprint`` and checks
        out (rows file digest, counts); otherwise None and the operation runs again.

        ``rows=False``: only its state (counts, quarantined and errored rows) is needed — an
        operation inside a streamed stage whose rows were not kept.
        """
        if not self.resuming:
            return None
        try:
            state = read_json(self._dir(step) / f"{op}.state.json")
            if (
                not isinstance(state, dict)
                or state.get("state") != STATE_VERSION
                or state.get("fingerprint") != fingerprint
            ):
                return None
            saved_rows: Any = []
            if rows:
                digest = state.get("rows_sha256")
                if not isinstance(digest, str):
                    return None  # its rows were streamed on and not saved
                data = read_bytes(self.rows_path(step, op))
                if digest != hashlib.sha256(data).hexdigest():
                    return None
                saved_rows = parse_json(data)
            saved = OpState(
                fingerprint=fingerprint,
                rows=saved_rows,
                lineage=state.get("lineage") or [{}] * len(saved_rows),
                quarantined=[Issue.from_json(i) for i in state.get("quarantined", [])],
                errors=[Issue.from_json(i) for i in state.get("errors", [])],
                stats=OpStats.from_json(state.get("stats", {})),
            )
        except (InputError, KeyError, TypeError, ValueError, AttributeError):
            return None
        st = saved.stats
        counts = (st.rows_in, st.rows_out, st.filtered, st.quarantined, st.errored)
        if not all(type(c) is int and c >= 0 for c in counts):
            return None
        consistent = (
            isinstance(saved_rows, list)
            and all(isinstance(r, dict) for r in saved_rows)
            and isinstance(saved.lineage, list)
            and (not rows or len(saved.lineage) == len(saved_rows) == st.rows_out)
            and len(saved.quarantined) == st.quarantined
            and len(saved.errors) == st.errored
        )
        return saved if consistent else None

    def save(self, step: str, op: str, state: OpState) -> None:
        """Save a finished operation: its rows file and its state."""
        d = self._dir(step)
        d.mkdir(parents=True, exist_ok=True)
        rows = scrub_values(json.dumps(state.rows, ensure_ascii=False, default=str))
        atomic_write_text(self.rows_path(step, op), rows)
        self.save_state(step, op, state, hashlib.sha256(rows.encode()).hexdigest())

    def save_state(self, step: str, op: str, state: OpState, rows_sha256: str | None) -> None:
        """Save an operation's state; ``rows_sha256`` is its rows file's digest (written by
        :meth:`save` or streamed to :meth:`rows_path`), None when its rows were not saved."""
        d = self._dir(step)
        d.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            d / f"{op}.state.json",
            json.dumps(
                {
                    "state": STATE_VERSION,
                    "fingerprint": state.fingerprint,
                    "rows_sha256": rows_sha256,
                    "lineage": state.lineage if any(state.lineage) else None,
                    "quarantined": [i.to_json() for i in state.quarantined],
                    "errors": [i.to_json() for i in state.errors],
                    "stats": state.stats.to_json(),
                },
                ensure_ascii=False,
                default=str,
            ),
        )

    def close(self) -> None:
        for j in self._journals:
            j.close()
        self._journals.clear()
