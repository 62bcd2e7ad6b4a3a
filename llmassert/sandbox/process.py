"""Running untrusted assertion code: validation, in-process loading, and a process sandbox.

The model, in three layers (docs/synthesis.md has the user-facing version):

1. :func:`validate_source` — an AST allowlist. Imports only ``re``, ``json``, ``math``,
   ``string`` and ``from llmassert.assertions.helpers|judge import name``; no dunder names, no
   ``_``-attributes or frame/code attributes, no ``exec``/``eval``/``open``/``getattr``/...,
   no classes, ``global``, ``with``, decorators; module level holds only imports, functions,
   literal constants (and ``re.compile`` of literals) and docstrings. Violations raise
   :class:`~llmassert.errors.UnsafeCodeError` naming the file and line.
2. :func:`load_inline` — validated code executed in this process with restricted builtins (a
   guarded ``__import__``, a bounded ``range``, no ``type()`` of classes), each call under a
   deadline and a memory bound on any thread (``inline.py``). Meant for code that also passes
   :func:`is_inline_safe` (no single C call it makes can run long) or that a human reviewed.
3. :class:`ProcessSandbox` — a persistent worker process with an address-space limit
   (RLIMIT_AS), a CPU backstop (RLIMIT_CPU), a per-call SIGALRM timer, a watchdog in the parent
   that kills a worker stuck in C code, and an empty environment. A call that errors, times out
   or kills the worker is reported as a failure (``None`` plus a reason); the worker is restarted
   and the batch continues. LLM-written code is always evaluated here.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
import types
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from llmassert.errors import SandboxError, SandboxTimeoutError, UnsafeCodeError
from llmassert.sandbox import _regex, policy
from llmassert.sandbox import _worker as wire
from llmassert.sandbox._worker import (
    exec_source,
    make_importer,
    public_functions,
    read_only_module,
    safe_builtins,
)
from llmassert.sandbox.inline import DEFAULT_MEMORY_MB, bounded, unwatched

AssertionFn = Callable[[dict[str, Any], str], Any]
_WORKER = Path(__file__).with_name("_worker.py")


def validate_source(source: str, *, filename: str = "<generated>") -> None:
    """Raise :class:`UnsafeCodeError` (file, line, reason) unless ``source`` passes the allowlist."""
    policy.validate(source, filename)


def check_inline_safe(source: str, *, filename: str = "<generated>") -> None:
    """Raise :class:`UnsafeCodeError` unless ``source`` may run in-process (see ``inline.py``).

    On top of :func:`validate_source`: no ``while`` loops; no recursion (no cycle in the call
    graph of module functions, no nested functions or named lambdas); ``range()`` arguments are
    literals up to 1e6, ``len(...)`` or sums/min of those; ``*`` needs a float or small int
    literal factor (no unbounded sequence repetition); ``**``/``<<`` only on small literals;
    format widths (f-strings, ``%``, ``.ljust``...) at most 1000; regex patterns are literals
    without nested unbounded quantifiers, ``re.escape(...)``, or joins of those; loops nest at
    most 2 deep (comprehension generators count); no ``math.factorial``/``comb``/``perm`` on
    non-literals; ``json.dumps(indent=)`` small; no ``sum(x, [])``, ``.join`` on a non-literal
    separator, ``.replace`` with a non-literal replacement or ``bytes(n)`` of a computed value
    (one C call building quadratic output). Cost then stays polynomial in the response size.
    """
    policy.check_inline_safe(source, filename)


def is_inline_safe(source: str) -> bool:
    """True when :func:`check_inline_safe` accepts ``source``."""
    try:
        policy.check_inline_safe(source, "<inline>")
    except UnsafeCodeError:
        return False
    return True


_PROXIES: dict[str, Any] = {}


def _resolve_module(name: str) -> Any:
    # In-process code gets the same read-only proxies as the worker's, never the host's modules.
    proxy = _PROXIES.get(name)
    if proxy is None:
        # `re` is the bounded router (its calls are restricted off the signal deadline).
        module: Any = _regex if name == "re" else importlib.import_module(name)
        if name == wire.JUDGE:  # never stopped halfway: see inline.unwatched
            module = types.SimpleNamespace(
                __name__=wire.JUDGE, llm_judge=unwatched(module.llm_judge)
            )
        # Helper modules expose only their __all__, never the modules they import themselves.
        names = frozenset(module.__all__) if name in wire.HELPER_FILES else None
        if name == wire.JUDGE:
            names = frozenset({"llm_judge"})
        if name == "re":
            names = policy.MODULE_ATTRS["re"]
        proxy = _PROXIES[name] = read_only_module(module, names)
    return proxy


_INLINE_BUILTINS = safe_builtins(make_importer(_resolve_module))
# Bound at import, before any assertion code can run: the parent's encoder for requests.
_ENCODE_REQUEST = json.JSONEncoder(default=str, ensure_ascii=True).encode
_DECODE_VALUE = json.JSONDecoder().decode


def load_inline(
    source: str,
    *,
    filename: str = "<generated>",
    require_inline_safe: bool = False,
    timeout_s: float = 1.0,
    memory_mb: int = DEFAULT_MEMORY_MB,
    process_fallback: bool = False,
) -> dict[str, AssertionFn]:
    """Validate ``source`` and execute it in-process with restricted builtins.

    Returns the public functions it defines, by name, each wrapped by
    :func:`llmassert.sandbox.inline.bounded`: it receives a deep-frozen example, runs under a
    ``timeout_s`` deadline and a ``memory_mb`` bound on any thread, and turns a timeout, the
    memory bound, MemoryError or RecursionError into :class:`SandboxTimeoutError` /
    :class:`SandboxError`. ``require_inline_safe`` applies :func:`check_inline_safe` instead of
    :func:`validate_source`. A module level that raises gives :class:`SandboxError`.

    ``process_fallback``: a call that cannot be bounded in-process (a regex whose worst case is
    not bounded, on whatever thread: see ``_regex.py``) re-runs in a :class:`ProcessSandbox` of
    this source, started on first need: checks ``(example, response) -> bool`` by verdict, other
    functions (code operations) by value. Not for code that calls ``llm_judge`` (the worker
    cannot): such a call fails with a reason instead.
    """
    if require_inline_safe:
        policy.check_inline_safe(source, filename)
    else:
        policy.validate(source, filename)
    try:
        namespace = exec_source(source, filename, _INLINE_BUILTINS)
    except Exception as e:
        raise SandboxError(f"module level failed: {wire.describe(e)}", file=filename) from None
    fallback = None
    if process_fallback and wire.JUDGE not in source:
        fallback = _ProcessFallback(source, filename, timeout_s, memory_mb).call
    return {
        name: bounded(fn, timeout_s=timeout_s, name=name, memory_mb=memory_mb, fallback=fallback)
        for name, fn in public_functions(namespace).items()
    }


class _ProcessFallback:
    """Runs one in-process check in a process sandbox of its source (started on first need)."""

    def __init__(self, source: str, filename: str, timeout_s: float, memory_mb: int) -> None:
        self.source = source
        self.filename = filename
        self.timeout_s = timeout_s
        self.memory_mb = max(64, memory_mb)
        self._box: ProcessSandbox | None = None
        self._id = ""
        self._lock = threading.Lock()

    def call(self, name: str, args: tuple[Any, ...]) -> Any:
        with self._lock:
            if self._box is None:
                box = ProcessSandbox(timeout_s=self.timeout_s, memory_mb=self.memory_mb)
                self._id = box.load(self.source, filename=self.filename)
                self._box = box
        if len(args) == 2 and isinstance(args[1], str):  # a check: (example, response) -> bool
            return self._box.call(self._id, name, args[0], args[1])
        # A code operation's transform: its value, or its failure as one line.
        result = self._box.apply_many(self._id, name, [args])[0]
        if result.error is not None:
            error = SandboxError if result.kind == "error" else SandboxTimeoutError
            raise error(f"{name}: {result.error}", file=self.filename)
        return result.value


@dataclass(frozen=True)
class CallResult:
    """One call's outcome: ``value`` True/False, or None with ``error`` (a failure).

    ``kind`` says why a call failed: ``"error"`` (the code raised), ``"limit"`` (time or memory
    limit), ``"crash"`` (the worker died or was killed during the call).
    """

    value: bool | None
    error: str | None = None
    kind: Literal["error", "limit", "crash"] | None = None

    @property
    def passed(self) -> bool:
        return self.value is True


@dataclass(frozen=True)
class ApplyResult:
    """One :meth:`ProcessSandbox.apply_many` call: ``value``, or ``error`` (one line) and
    ``kind`` as in :class:`CallResult`."""

    value: Any
    error: str | None = None
    kind: Literal["error", "limit", "crash"] | None = None


class _WorkerGone(Exception):
    pass


class _ProtocolViolation(Exception):
    """The worker sent something other than the frame the parent expected next."""


@dataclass(frozen=True)
class _Frame:
    tag: int
    index: int
    status: int
    text: str


class _Worker:
    """One worker process: JSON requests on its stdin, binary reply frames on its stdout."""

    def __init__(self, memory_mb: int, start_timeout_s: float) -> None:
        env = {"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C.UTF-8"}
        self.proc = subprocess.Popen(
            # -I: no user site, no PYTHON* variables, no cwd on sys.path; -S: no site-packages
            # (the worker needs only the stdlib, and loads helpers.py and RE2 by path): fast start.
            [sys.executable, "-I", "-S", str(_WORKER), str(memory_mb)]
            + ([_regex.RE2_DIR] if _regex.RE2_DIR else []),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=tempfile.gettempdir(),
            env=env,
            start_new_session=True,
        )
        self.loaded: set[str] = set()
        self._buf = b""
        try:
            frame = self.read_frame(time.monotonic() + start_timeout_s, wire.READY, 0)
        except (_WorkerGone, _ProtocolViolation):
            frame = None
        if frame is None or frame.status != wire.TRUE:
            self.kill()
            raise SandboxError("the sandbox worker did not start")

    def send(self, obj: Any, body: bytes | None = None) -> None:
        assert self.proc.stdin is not None
        try:
            # default=str: an example value JSON cannot carry (a date) reaches the code as text.
            self.proc.stdin.write((body or _ENCODE_REQUEST(obj).encode()) + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise _WorkerGone from None

    def _read_exactly(self, size: int, deadline: float) -> bytes | None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while len(self._buf) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise _WorkerGone
            self._buf += chunk
        data, self._buf = self._buf[:size], self._buf[size:]
        return data

    def read_frame(self, deadline: float, tag: int, index: int) -> _Frame | None:
        """The next frame, which must carry ``tag`` and ``index``; None at the deadline.

        Raises _WorkerGone at EOF and _ProtocolViolation for any other frame: wrong tag or
        index (out of order, repeated, skipped), unknown status, oversized or non-UTF-8 text.
        """
        head = self._read_exactly(wire.FRAME.size, deadline)
        if head is None:
            return None
        got_tag, got_index, status, length = wire.FRAME.unpack(head)
        if got_tag != tag or got_index != index:
            raise _ProtocolViolation(f"expected frame {tag}/{index}, got {got_tag}/{got_index}")
        if status not in (wire.FALSE, wire.TRUE, wire.ERROR, wire.LIMIT):
            raise _ProtocolViolation(f"unknown status {status}")
        if length > (
            wire.MAX_VALUE if tag == wire.VALUE and status == wire.TRUE else wire.MAX_TEXT * 4
        ):
            raise _ProtocolViolation(f"text of {length} bytes")
        if (
            tag == wire.VALUE
            and status in (wire.FALSE, wire.TRUE)
            and (status == wire.FALSE or not length)
        ):
            raise _ProtocolViolation("a value frame without a value")
        if tag == wire.RESULT and (status in (wire.FALSE, wire.TRUE)) != (length == 0):
            raise _ProtocolViolation("a verdict carries text, or an error none")
        body = self._read_exactly(length, deadline) if length else b""
        if body is None:
            return None
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise _ProtocolViolation("text is not UTF-8") from None
        return _Frame(got_tag, got_index, status, text)

    def death_reason(self) -> str:
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.returncode
        if code is not None and code < 0:
            import signal

            name = signal.Signals(-code).name
            why = {"SIGXCPU": " (CPU limit)", "SIGSEGV": " (crash)", "SIGKILL": " (killed)"}.get(
                name, ""
            )
            return f"worker died on {name}{why}"
        return f"worker exited with code {code}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def _kill_worker(holder: list[_Worker | None]) -> None:
    if holder[0] is not None:
        holder[0].kill()
        holder[0] = None


class ProcessSandbox:
    """A persistent, restartable worker process that evaluates validated assertion code.

    ::

        with ProcessSandbox(timeout_s=1.0, memory_mb=512) as box:
            sid = box.load(code, filename="candidates.py")
            rows = box.call_many(sid, ["max_words_150", "no_apology"], [(example, response)])
            # rows[i][j]: item i, function j -> True / False / None (error or timeout)

    Thread-safe (calls are serialized); use one sandbox per worker thread for parallelism.
    """

    def __init__(
        self, timeout_s: float = 1.0, memory_mb: int = 512, *, start_timeout_s: float = 20.0
    ) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        if memory_mb < 64:
            raise ValueError("memory_mb must be at least 64")
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.start_timeout_s = start_timeout_s
        self.restarts = 0
        self._sources: dict[str, tuple[str, str, tuple[str, ...]]] = {}
        self._profiles: dict[str, str] = {}
        self._holder: list[_Worker | None] = [None]
        self._lock = threading.RLock()
        self._closed = False
        self._finalizer = weakref.finalize(self, _kill_worker, self._holder)

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> ProcessSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start the worker now instead of on first use."""
        with self._lock:
            self._worker()

    @property
    def worker_pid(self) -> int | None:
        """The running worker's process id, or None."""
        worker = self._holder[0]
        return worker.proc.pid if worker is not None and worker.proc.poll() is None else None

    def close(self) -> None:
        """Stop the worker. The sandbox cannot be used afterwards."""
        with self._lock:
            self._closed = True
            _kill_worker(self._holder)

    def _worker(self) -> _Worker:
        if self._closed:
            raise SandboxError("the sandbox is closed")
        worker = self._holder[0]
        if worker is None or worker.proc.poll() is not None:
            if worker is not None:
                worker.kill()
            worker = _Worker(self.memory_mb, self.start_timeout_s)
            self._holder[0] = worker
        return worker

    def _restart(self) -> None:
        _kill_worker(self._holder)
        self.restarts += 1

    @property
    def _deadline_s(self) -> float:
        # The worker's own SIGALRM fires at timeout_s; the parent kills only if that fails
        # (code stuck inside a C call such as a huge regex or allocation).
        return self.timeout_s + max(0.5, self.timeout_s)

    # --- sources -----------------------------------------------------------------------------

    def load(self, source: str, *, filename: str = "<generated>", profile: str = "check") -> str:
        """Validate ``source`` and load it in the worker; return its id (a content hash).

        ``profile="code"``: a code operation's source, which may import the curated modules
        (``_worker.CODE_MODULES``). Raises :class:`UnsafeCodeError` if validation refuses it,
        :class:`SandboxError` if its module level fails, :class:`SandboxTimeoutError` if loading
        hangs.
        """
        tree = policy.validate(source, filename, profile)
        key = f"{profile}\0{filename}\0{source}"
        source_id = hashlib.sha256(key.encode()).hexdigest()[:20]
        with self._lock:
            if source_id not in self._sources:
                self._profiles[source_id] = profile
                self._sources[source_id] = (
                    source,
                    filename,
                    tuple(policy.iter_function_names(tree)),
                )
                try:
                    self._ensure_loaded(source_id)
                except BaseException:
                    del self._sources[source_id]
                    raise
        return source_id

    def functions(self, source_id: str) -> tuple[str, ...]:
        """Public function names of a loaded source."""
        return self._source(source_id)[2]

    def unload(self, source_id: str) -> None:
        """Forget a source (frees the worker's memory for it)."""
        with self._lock:
            self._sources.pop(source_id, None)
            worker = self._holder[0]
            if worker is not None and source_id in worker.loaded:
                worker.loaded.discard(source_id)
                try:
                    worker.send({"op": "unload", "id": source_id})
                    frame = worker.read_frame(time.monotonic() + self._deadline_s, wire.UNLOADED, 0)
                    if frame is None:
                        self._restart()
                except (_WorkerGone, _ProtocolViolation):
                    self._restart()

    def _source(self, source_id: str) -> tuple[str, str, tuple[str, ...]]:
        try:
            return self._sources[source_id]
        except KeyError:
            raise SandboxError(f"unknown source id {source_id[:40]!r} (load it first)") from None

    def _resolve(self, source_or_id: str) -> str:
        # Callers may pass the source text itself instead of an id from load().
        if source_or_id in self._sources:
            return source_or_id
        if "\n" in source_or_id or "def " in source_or_id:
            return self.load(source_or_id)
        self._source(source_or_id)  # raises: unknown id
        return source_or_id

    def _ensure_loaded(self, source_id: str) -> _Worker:
        worker = self._worker()
        if source_id in worker.loaded:
            return worker
        source, filename, _names = self._source(source_id)
        try:
            profile = self._profiles.get(source_id, "check")
            request = {"op": "load", "id": source_id, "source": source, "filename": filename}
            worker.send({**request, "profile": profile})
            frame = worker.read_frame(
                time.monotonic() + self._deadline_s + self.start_timeout_s, wire.LOADED, 0
            )
        except _WorkerGone:
            reason = worker.death_reason()
            self._restart()
            raise SandboxError(f"loading failed: {reason}", file=filename) from None
        except _ProtocolViolation as e:
            self._restart()
            raise SandboxError(f"loading failed: protocol violation ({e})", file=filename) from None
        if frame is None:
            self._restart()
            raise SandboxTimeoutError(f"loading took over {self._deadline_s:g} s", file=filename)
        if frame.status != wire.TRUE:
            raise SandboxError(f"module level failed: {frame.text}", file=filename)
        worker.loaded.add(source_id)
        return worker

    # --- calls -------------------------------------------------------------------------------

    def call_many_detailed(
        self, source_id: str, fn_names: Sequence[str], items: Sequence[tuple[dict[str, Any], str]]
    ) -> list[list[CallResult]]:
        """Run every function on every ``(example, response)``; ``result[i][j]`` is item i, fn j.

        ``source_id`` is an id from :meth:`load` or the source text itself (loaded on first use).

        Never raises for what the code does: errors, timeouts and worker deaths become
        ``CallResult(None, reason)`` for the call concerned and the rest of the batch continues.
        """
        if self._closed:
            raise SandboxError("the sandbox is closed")
        fns = list(fn_names)
        source_id = self._resolve(source_id)
        payload_items = [[example, response] for example, response in items]
        total = len(fns) * len(payload_items)
        flat: list[CallResult] = []
        with self._lock:
            while len(flat) < total:
                flat.extend(self._run_from(source_id, fns, payload_items, start=len(flat)))
        return [flat[i * len(fns) : (i + 1) * len(fns)] for i in range(len(payload_items))]

    def _run_from(
        self, source_id: str, fns: list[str], items: list[list[Any]], start: int
    ) -> list[CallResult]:
        """Run calls from ``start`` until the batch ends or one call kills the worker."""
        request = {
            "op": "call",
            "id": source_id,
            "fns": fns,
            "items": items,
            "start": start,
            "timeout": self.timeout_s,
        }
        results = self._stream(source_id, request, wire.RESULT, len(fns) * len(items), start)
        return [
            CallResult(r.value == wire.TRUE)
            if r.error is None
            else CallResult(None, r.error, r.kind)
            for r in results
        ]

    def _stream(
        self, source_id: str, request: dict[str, Any], tag: int, total: int, start: int
    ) -> list[ApplyResult]:
        """Send ``request``; read one ``tag`` frame per call from ``start`` until the batch ends
        or one call kills the worker. ``value``: the status (RESULT) or the decoded JSON (VALUE).

        Every frame is checked against the call it must answer (tag, index = the next call,
        status, text); anything else fails that call, and the worker is replaced.
        """
        try:
            worker = self._ensure_loaded(source_id)
            body = _ENCODE_REQUEST(request).encode()
        except Exception as e:  # reloading after a restart failed, or unencodable input
            reason = e.message if isinstance(e, SandboxError) else wire.describe(e)
            return [ApplyResult(None, reason, "error")] * (total - start)
        out: list[ApplyResult] = []
        try:
            worker.send(request, body)
            # Parsing a large request takes time before the first call starts.
            deadline = time.monotonic() + self._deadline_s + len(body) / 20e6
            while start + len(out) < total:
                frame = worker.read_frame(deadline, tag, start + len(out))
                if frame is None:
                    self._restart()
                    why = f"killed after {self._deadline_s:g} s without an answer"
                    out.append(ApplyResult(None, why, "limit"))
                    return out
                if frame.status in (wire.TRUE, wire.FALSE):
                    if tag == wire.VALUE:
                        try:
                            value = _DECODE_VALUE(frame.text)
                        except ValueError:
                            raise _ProtocolViolation("a value that is not JSON") from None
                        out.append(ApplyResult(value))
                    else:
                        out.append(ApplyResult(frame.status))
                else:
                    kind: Literal["error", "limit"] = (
                        "limit" if frame.status == wire.LIMIT else "error"
                    )
                    out.append(ApplyResult(None, frame.text or "failed", kind))
                deadline = time.monotonic() + self._deadline_s
        except _WorkerGone:
            reason = worker.death_reason()
            self._restart()
            out.append(ApplyResult(None, reason, "crash"))
        except _ProtocolViolation as e:
            self._restart()
            out.append(ApplyResult(None, f"sandbox protocol violation ({e})", "crash"))
        return out

    def apply_many(
        self, source_id: str, fn_name: str, arg_lists: Sequence[Sequence[Any]]
    ) -> list[ApplyResult]:
        """``fn_name(*args)`` for each ``args`` (a code operation's rows or groups), in order.

        Values travel as JSON (what JSON cannot carry arrives as ``str``). Never raises for
        what the code does: an error, a limit or a worker death is that call's ``ApplyResult``
        (``value`` None, ``error`` one line) and the rest of the batch continues.
        """
        if self._closed:
            raise SandboxError("the sandbox is closed")
        source_id = self._resolve(source_id)
        items = [list(args) for args in arg_lists]
        out: list[ApplyResult] = []
        with self._lock:
            while len(out) < len(items):
                request = {
                    "op": "apply",
                    "id": source_id,
                    "fn": fn_name,
                    "items": items,
                    "start": len(out),
                    "timeout": self.timeout_s,
                }
                out.extend(self._stream(source_id, request, wire.VALUE, len(items), len(out)))
        return out

    def call_many(
        self, source_id: str, fn_names: Sequence[str], items: Sequence[tuple[dict[str, Any], str]]
    ) -> list[list[bool | None]]:
        """Like :meth:`call_many_detailed`, values only (None = the call failed)."""
        return [
            [r.value for r in row] for row in self.call_many_detailed(source_id, fn_names, items)
        ]

    def call(self, source_id: str, fn_name: str, example: dict[str, Any], response: str) -> bool:
        """One call. Raises :class:`SandboxTimeoutError` on timeout/limit, :class:`SandboxError` on error."""
        source_id = self._resolve(source_id)
        result = self.call_many_detailed(source_id, [fn_name], [(example, response)])[0][0]
        if result.value is not None:
            return result.value
        _source, filename, _names = self._source(source_id)
        error = SandboxError if result.kind == "error" else SandboxTimeoutError
        raise error(f"{fn_name}: {result.error or 'failed'}", file=filename)
