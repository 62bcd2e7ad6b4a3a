"""Progress of a run on stderr: one rich bar per operation (nothing when stderr is not a TTY)."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID


class RichProgress:
    """Implements :class:`llmassert.pipeline.context.Progress` with ``rich.progress``."""

    def __init__(self, console: Console, *, enabled: bool = True) -> None:
        self.console = console
        self.enabled = enabled and console.is_terminal
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._warned: set[str] = set()

    def __enter__(self) -> RichProgress:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description:<24}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
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

    def add_total(self, op: str, n: int) -> None:
        if self._progress is None:
            return
        task = self._tasks.get(op)
        if task is None:
            self._tasks[op] = self._progress.add_task(op, total=n)
        else:
            total = self._progress.tasks[task].total or 0
            self._progress.update(task, total=total + n)

    def advance(self, op: str, n: int = 1) -> None:
        if self._progress is not None and op in self._tasks:
            self._progress.advance(self._tasks[op], n)

    def warn(self, message: str) -> None:
        if message not in self._warned:  # one line per distinct warning, not per row
            self._warned.add(message)
            self.console.print(f"[yellow]warning: {message}[/]")
