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
while the calls run: arming is a dict insert, the thread wakes every tick only while something is
armed. A call that must not be interrupted halfway (an LLM judge inside a check: the LLM layer
holds locks) pauses its watch for its duration (:meth:`Watchdog.pause`).

Memory is the process's resident set (``/proc/self/statm``), read when the call starts and
sampled each tick: a call fails once the process has grown by more than its budget since it
started. Other threads'
allocations in that window count too, as they do for wall-clock time.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
import time
from typing import Any

TICK_S = 0.01
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_set_async_exc.argtypes = (ctypes.c_ulong, ctypes.py_object)
_set_async_exc.restype = ctypes.c_int


class WatchdogStop(BaseException):
    """Raised inside a watched call at its limit; not an ``Exception``: checks cannot catch it."""


class _Absorb(BaseException):
    """Takes the place of a pending stop at disarm time, and is taken at once (see _quiesce)."""


def _poll() -> None:
    """A Python call: entering it checks for pending asynchronous exceptions."""


class _Rss:
    """The process's resident set in bytes: one ``pread`` of ``/proc/self/statm`` (a few µs).

    Called through ``ctypes.PyDLL``, which keeps the GIL during the call: ``os.pread`` would
    release it, and a thread that releases the GIL may wait a whole switch interval (5 ms) to
    get it back when another thread is runnable -- too much for a per-call baseline.
    """

    def __init__(self) -> None:
        self.fd = -1
        self.buf = ctypes.create_string_buffer(128)
        try:
            self._pread: Any = ctypes.PyDLL(None).pread
            self._pread.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_long)
            self._pread.restype = ctypes.c_ssize_t
            self.fd = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
        except (OSError, AttributeError):  # not Linux: no memory sampling, time bounds hold
            self.fd = -1

    def __call__(self) -> int:
        if self.fd < 0:
            return 0
        size = self._pread(self.fd, self.buf, 127, 0)
        if size <= 0:
            return 0
        fields = self.buf.raw[:size].split()
        try:
            return int(fields[1]) * _PAGE
        except (IndexError, ValueError):
            return 0


rss = _Rss()


class Watch:
    """One armed call: its thread, start, limits, and why it was stopped (once it is)."""

    __slots__ = (
        "done",
        "ident",
        "memory_bytes",
        "paused",
        "reason",
        "rss0",
        "started",
        "timeout_s",
    )

    def __init__(self, ident: int, timeout_s: float, memory_bytes: int) -> None:
        self.ident = ident
        self.timeout_s = timeout_s
        self.memory_bytes = memory_bytes
        self.rss0 = rss()
        self.started = time.monotonic()
        self.reason = ""
        self.done = False
        self.paused = False  # inside a call that must not be interrupted (an LLM judge)


class Watchdog:
    """The process's watchdog thread (started on first use).

    No lock is ever held by a watched thread: a stop can be delivered at any bytecode, also
    right after a lock was acquired and before the ``with`` block that would release it, so
    the two sides agree through the GIL instead. The watchdog raises into a thread only while
    ``scanning`` and only for a watch not ``done``; :meth:`disarm` marks the watch done, waits
    out a scan in progress, and then clears whatever stop is still pending: after that nothing
    can be delivered (Dekker's handshake; the GIL makes these stores sequentially consistent).
    """

    def __init__(self) -> None:
        self.active: dict[int, Watch] = {}
        self.scanning = False
        self._start_lock = threading.Lock()
        # Released (by any thread, a single C call) to wake the idle watchdog.
        self._wake = threading.Lock()
        self._wake.acquire()
        self._thread: threading.Thread | None = None

    def arm(self, watch: Watch) -> None:
        if self._thread is None:
            with self._start_lock:  # nothing is armed on this thread yet: no stop can land here
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="llmassert-watchdog", daemon=True
                    )
                    self._thread.start()
        self.active[watch.ident] = watch
        with contextlib.suppress(RuntimeError):  # already released: it is awake or will be
            self._wake.release()

    def disarm(self, watch: Watch) -> None:
        """Make sure no stop for ``watch`` is delivered after this returns.

        Idempotent; callers run it in a loop that retries on :class:`WatchdogStop` (a stop may
        be delivered while it runs, see ``inline.py``).
        """
        watch.done = True
        self._quiesce(watch)
        if self.active.get(watch.ident) is watch:
            self.active.pop(watch.ident, None)

    def pause(self, watch: Watch) -> None:
        """No stop for ``watch`` until ``watch.paused`` is set back to False (same handshake)."""
        watch.paused = True
        self._quiesce(watch)

    def _quiesce(self, watch: Watch) -> None:
        # Called by the watched thread itself.
        while self.scanning:
            time.sleep(0)  # let the watchdog finish its scan (it may be about to raise)
        # Whatever stop is still pending is replaced by _Absorb and taken here. (Clearing it with
        # NULL instead would leave the interpreter's "async exception pending" flag set for good,
        # sending every thread down the slow path of the eval loop at every check.) Re-signalled
        # until taken: another thread taking its own async exception resets that shared flag.
        while True:
            try:
                _set_async_exc(watch.ident, _Absorb)
                _poll()
            except _Absorb:
                return

    def _run(self) -> None:
        while True:
            if not self.active:
                self._wake.acquire(timeout=1.0)
                continue
            time.sleep(TICK_S)
            now = time.monotonic()
            current = rss()
            self.scanning = True
            try:
                for watch in list(self.active.values()):
                    if watch.done or watch.paused:
                        continue
                    if now - watch.started >= watch.timeout_s:
                        watch.reason = watch.reason or "time"
                    elif current and current - watch.rss0 > watch.memory_bytes:
                        watch.reason = watch.reason or "memory"
                    if watch.reason and not (watch.done or watch.paused):
                        _set_async_exc(watch.ident, WatchdogStop)
            finally:
                self.scanning = False


WATCHDOG = Watchdog()
