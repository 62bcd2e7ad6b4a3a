"""One payload of the security suite: what it tries, and the safe outcome it must end in.

Shared by tests/security/ (parametrized, asserting `expected`) and bench/security.py (tallies outcomes
per class). `run` executes the payload in the scratch folder it is given and reports what happened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Outcome = Literal["refused", "contained", "escaped", "traceback"]


@dataclass(frozen=True)
class Case:
    cls: str  # payload class, e.g. "module-rebinding", "live-rows", "unbounded", "user-files"
    name: str  # unique within the class
    run: Callable[[Path], Outcome]
    expected: Outcome  # "refused" (stopped before it ran) or "contained" (ran, no effect beyond its own verdict)
