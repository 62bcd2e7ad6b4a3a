"""Deadlines and memory bounds for bounded calls on threads that cannot use SIGALRM.

Python delivers signals only to the main thread, so a check running on a worker thread (an
application's request thread, ``asyncio.to_thread``, the judge pool, llmassert's background
loop) cannot be stopped by the alarm ``inline.py`` uses. Here a single daemon thread watches
every such call and, once it is over its time or memory budget, raises :class:`WatchdogStop` in
the calling thread with ``PyThreadState_SetAsyncExc`` -- again every :data:`TICK_S` until the
call returns, so code that survives one (a loop in ``finally:``) meets the next.

What this can and cannot stop: the exception is delivered between bytecodes (loop back-edges,
calls, generator resumptions), so Python-level work of any shape stops within a tick. It cannot
interrupt one long C call: a regex match is the one such call checks can make without a static
size bound, and ``_regex.py`` runs those only where their worst case is bounded. Costs nothing
while the calls run: arming is a dict insert under a lock, the thread wakes every tick only while
something is armed.

Memory is the process's resident set (``/proc/self/statm``), sampled each tick: a call fails
once the process has grown by more than its budget since the call started. Other threads'
allocations in that window count too, as they do for wall-clock time.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time

TICK_S = 0.01
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_set_async_exc.argtypes = (ctypes.c_ulong, ctypes.py_object)
_set_async_exc.restype = ctypes.c_int


class WatchdogStop(BaseException):
    """Raised inside a watched call at its limit; not an ``Exception``: checks cannot catch it."""


class _Rss:
    """The process's resident set in bytes, read with one ``pread`` (about 2 µs)."""

    def __init__(self) -> None:
        try:
            self.fd: int | None = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:  # not Linux: no memory sampling, time bounds still hold
            self.fd = None

    def __call__(self) -> int:
        if self.fd is None:
            return 0
        try:
            fields = os.pread(self.fd, 128, 0).split()
            return int(fields[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            return 0


rss = _Rss()


class Watch:
    """One armed call: its thread, start, limits, and why it was stopped (once it is)."""

    __slots__ = ("ident", "memory_bytes", "reason", "rss0", "started", "timeout_s")

    def __init__(self, ident: int, timeout_s: float, memory_bytes: int) -> None:
        self.ident = ident
        self.timeout_s = timeout_s
        self.memory_bytes = memory_bytes
        self.rss0 = rss()
        self.started = time.monotonic()
        self.reason = ""


class Watchdog:
    """The process's watchdog thread (started on first use)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active: dict[int, Watch] = {}
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def arm(self, watch: Watch) -> None:
        with self.lock:
            self.active[watch.ident] = watch
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="llmassert-watchdog", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def disarm(self, watch: Watch) -> None:
        """Forget ``watch`` and drop a stop that is pending but not yet delivered.

        Callers run this in a loop that retries on :class:`WatchdogStop` (see ``inline.py``):
        a stop may be delivered while this very function runs, and must never reach the caller.
        """
        with self.lock:
            if self.active.get(watch.ident) is watch:
                del self.active[watch.ident]
            # NULL clears a pending asynchronous exception of that thread.
            _set_async_exc(watch.ident, ctypes.py_object())

    def _run(self) -> None:
        while True:
            if not self.active:
                self._wake.wait()
                self._wake.clear()
                continue
            time.sleep(TICK_S)
            now = time.monotonic()
            current = rss()
            with self.lock:
                for watch in self.active.values():
                    if now - watch.started >= watch.timeout_s:
                        watch.reason = watch.reason or "time"
                    elif current and current - watch.rss0 > watch.memory_bytes:
                        watch.reason = watch.reason or "memory"
                    if watch.reason:
                        _set_async_exc(watch.ident, WatchdogStop)


WATCHDOG = Watchdog()
