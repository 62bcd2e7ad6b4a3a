"""Progress of a run on stderr: one rich bar per operation (nothing when stderr is not a TTY).

Each bar counts the operation's units (rows, groups) and moves as their LLM calls complete
(:class:`llmassert.pipeline.context.UnitCredit`), with the rows done, the calls, tokens and cost
so far, and an ETA from the rate of progress.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID


@dataclass
class _OpTally:
    total: int = 0
    done: float = 0.0  # whole units finished plus the credit of units in progress
    finished: int = 0  # whole units finished
    calls: int = 0
    tokens: int = 0
    cost: float = 0.0


def _tokens(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 10_000 else str(n)


class RichProgress:
    """Implements :class:`llmassert.pipeline.context.Progress` with ``rich.progress``."""

    def __init__(self, console: Callable[[], Console], *, enabled: bool = True) -> None:
        # A factory, called on first use: a quiet run that has nothing to warn about never
        # builds a console (importing rich and building one: ~30 ms before the first request).
        self._console = console
        self.enabled = enabled and console().is_terminal
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._tally: dict[str, _OpTally] = {}
        self._warned: set[str] = set()

    @property
    def console(self) -> Console:
        return self._console()

    def __enter__(self) -> RichProgress:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description:<24}"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[rows]}"),
                TextColumn("{task.fields[llm]}"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
                refresh_per_second=5,
            )
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def _update(self, op: str) -> None:
        if self._progress is None:
            return
        t = self._tally[op]
        llm = (
            f"{t.calls} call{'s' if t.calls != 1 else ''} {_tokens(t.tokens)} tok ${t.cost:.4f}"
            if t.calls
            else ""
        )
        rows = f"{t.finished}/{t.total}"
        task = self._tasks.get(op)
        if task is None:
            self._tasks[op] = self._progress.add_task(op, total=t.total, rows=rows, llm=llm)
        else:
            self._progress.update(task, total=t.total, completed=t.done, rows=rows, llm=llm)

    def add_total(self, op: str, n: int) -> None:
        self._tally.setdefault(op, _OpTally()).total += n
        self._update(op)

    def advance(self, op: str, n: int = 1, credited: float = 0.0) -> None:
        t = self._tally.setdefault(op, _OpTally())
        t.finished += n
        t.done = min(t.done + n - credited, float(t.total))
        self._update(op)

    def credit(self, op: str, amount: float) -> None:
        t = self._tally.setdefault(op, _OpTally())
        t.done = min(t.done + amount, float(t.total))
        self._update(op)

    def llm_call(self, op: str, tokens: int, cost: float) -> None:
        t = self._tally.setdefault(op, _OpTally())
        t.calls += 1
        t.tokens += tokens
        t.cost += cost
        self._update(op)

    def warn(self, message: str) -> None:
        if message not in self._warned:  # one line per distinct warning, not per row
            self._warned.add(message)
            self.console.print(f"[yellow]warning: {message}[/]")
