"""The JSONL failure log guards append to, so production failure rates can be monitored.

Two kinds of line, one JSON object each:

- ``{"event": "failure", ...}``: one per failed assertion per checked response, with the
  timestamp, assertion name and criterion, failure kind, prompt name/version, the guard's policy
  and attempt number, and SHA-256 hashes of the input (canonical JSON) and the response.  Raw text
  (and the failure message, which can quote it) is written only with ``log_raw=True``.
- ``{"event": "checks", ...}``: how many responses were checked, per day, prompt, version and
  assertion list: the denominators of failure *rates*.  Counted in memory and flushed every
  ``flush_every`` checks, every ``flush_interval_s`` seconds, on :meth:`FailureLog.flush` and at
  interpreter exit, so a passing call costs a dictionary increment, not a disk write.

Appends are safe across threads (a lock) and processes: each line is one ``write`` on an
``O_APPEND`` descriptor under an exclusive ``flock`` where the platform has it.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from llmassert.assertions.results import CheckResult
from llmassert.secrets import scrub, scrub_values

try:
    import fcntl
except ImportError:  # Windows: O_APPEND alone
    fcntl = None  # type: ignore[assignment]

DEFAULT_PATH = Path(".llmassert/failures.jsonl")
ENV_PATH = "LLMASSERT_FAILURE_LOG"
_ERROR_TYPE = re.compile(r"^raised (\w+)")


def default_path() -> Path:
    return Path(os.environ.get(ENV_PATH) or DEFAULT_PATH)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FailureLog:
    """Appends failures and check counts to one JSONL file. Use :meth:`for_path` to share one."""

    _instances: ClassVar[dict[Path, FailureLog]] = {}
    _instances_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self, path: str | Path, *, flush_every: int = 1000, flush_interval_s: float = 60.0
    ) -> None:
        self.path = Path(path)
        self.flush_every = flush_every
        self.flush_interval_s = flush_interval_s
        self._lock = threading.Lock()
        # (day, prompt, version, module, assertion names) -> responses checked
        self._counts: dict[
            tuple[int, str | None, str | None, str | None, tuple[str, ...]], int
        ] = {}
        self._pending = 0
        self._last_flush = time.monotonic()
        atexit.register(self.flush)

    @classmethod
    def for_path(cls, path: str | Path | None = None) -> FailureLog:
        """The process-wide log for ``path`` (default ``$LLMASSERT_FAILURE_LOG`` or
        ``.llmassert/failures.jsonl``), so guards sharing a file share counters."""
        key = Path(path) if path is not None else default_path()
        key = key.absolute()
        with cls._instances_lock:
            log = cls._instances.get(key)
            if log is None:
                log = cls._instances[key] = cls(key)
            return log

    def record(
        self,
        result: CheckResult,
        *,
        example: dict[str, Any] | None,
        response: str,
        prompt: str | None = None,
        prompt_version: str | None = None,
        module: str | None = None,
        policy: str | None = None,
        attempt: int = 0,
        log_raw: bool = False,
    ) -> None:
        """Count one checked response and append a line per failure."""
        key = (int(time.time() // 86400), prompt, prompt_version, module, tuple(result.results))
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
            self._pending += 1
            due = (
                self._pending >= self.flush_every
                or time.monotonic() - self._last_flush >= self.flush_interval_s
            )
        if result.failures:
            self._append(
                self._failure_lines(
                    result,
                    example,
                    response,
                    prompt,
                    prompt_version,
                    module,
                    policy,
                    attempt,
                    log_raw,
                )
            )
        if due:
            self.flush()

    def flush(self) -> None:
        """Write the pending check counts."""
        with self._lock:
            counts, self._counts = self._counts, {}
            self._pending = 0
            self._last_flush = time.monotonic()
        if not counts:
            return
        ts = now_iso()
        lines = [
            {
                "event": "checks",
                "ts": ts,
                "day": datetime.fromtimestamp(day * 86400, UTC).date().isoformat(),
                "prompt": prompt,
                "prompt_version": version,
                "module": module,
                "assertions": list(names),
                "checks": n,
            }
            for (day, prompt, version, module, names), n in counts.items()
        ]
        self._append(lines)

    def _failure_lines(
        self,
        result: CheckResult,
        example: dict[str, Any] | None,
        response: str,
        prompt: str | None,
        version: str | None,
        module: str | None,
        policy: str | None,
        attempt: int,
        log_raw: bool,
    ) -> list[dict[str, Any]]:
        ts = now_iso()
        input_json = canonical_json(example or {})
        hashes = {"input_sha256": sha256_text(input_json), "response_sha256": sha256_text(response)}
        lines = []
        for failure in result.failures:
            line: dict[str, Any] = {
                "event": "failure",
                "ts": ts,
                "assertion": failure.name,
                "criterion": failure.criterion,
                "kind": failure.kind,
                "prompt": prompt,
                "prompt_version": version,
                "module": module,
                "policy": policy,
                "attempt": attempt,
                **hashes,
            }
            error = _ERROR_TYPE.match(failure.message)
            if error:
                line["error_type"] = error.group(1)
            if log_raw:
                line.update(message=scrub(failure.message), input=example or {}, response=response)
            lines.append(line)
        return lines

    def _append(self, lines: list[dict[str, Any]]) -> None:
        text = "".join(canonical_json(line) + "\n" for line in lines)
        data = scrub_values(text).encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                view = memoryview(data)
                while view:  # one write in practice; loop for short writes
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)  # also releases the flock
