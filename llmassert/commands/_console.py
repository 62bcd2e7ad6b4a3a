"""Rich consoles for command output: wide when not on a terminal, so CI logs keep whole tables."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

# Rich falls back to 80 columns without a terminal, which cuts table cells ("operati…") and
# borders in CI logs; logs have no width limit, so use a wide one (COLUMNS still wins).
LOG_WIDTH = 200


def console(*, stderr: bool = False, highlight: bool = True) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    tty = hasattr(stream, "isatty") and stream.isatty()
    width = None if tty or os.environ.get("COLUMNS") else LOG_WIDTH
    return Console(stderr=stderr, width=width, highlight=highlight)
