"""Process-wide values built on first use: :func:`once`.

For what costs start-up time or must exist only once per process (the background event loop,
litellm configured), built by the first caller; threads racing that first call wait for it and
all get the same value.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def once(build: Callable[[], T]) -> Callable[[], T]:
    """``build()`` on the first call (under a lock), its value on every call after."""
    lock = threading.Lock()
    built: list[T] = []

    @functools.wraps(build)
    def get() -> T:
        if not built:  # fast path: one list check once built
            with lock:
                if not built:
                    built.append(build())
        return built[0]

    return get
