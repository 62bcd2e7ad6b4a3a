"""The terminal driver: draws a response with rich, reads single keys, saves every grade at once.

Keys: g good, b bad, n note, s skip, u undo, q quit (Ctrl-C / Ctrl-D quit too). Keys are read in
cbreak mode (no Enter needed; Ctrl-C still interrupts); a note is read as a normal line. A grade
is recorded in the session only after the labels file was written, so what the screen counts is
what is on disk.
"""

from __future__ import annotations

import json
import os
import random
import sys
import termios
import tty
from collections.abc import Callable

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from llmassert.errors import OutputError
from llmassert.history.notes import Note, notes_path
from llmassert.label.prepare import Prepared
from llmassert.label.session import Status
from llmassert.label.store import add_note

KeyReader = Callable[[], str]
KEYS_HELP = "keys: g good · b bad · n note · s skip · u undo · q quit"
MAX_CHECKS_SHOWN = 30  # the rest summarized: a screen, not a report


def read_key() -> str:
    """One keypress from the terminal ('' on end of input)."""
    fd = sys.stdin.fileno()
    old = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        data = os.read(fd, 1)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)
    return data.decode("utf-8", "replace")


def _reason(e: Exception) -> str:
    # The shared writer raises OutputError("<file>: cannot write: <why>"); the path is on screen.
    if isinstance(e, OutputError):
        return e.message
    return str(getattr(e, "strerror", None) or e)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def status_line(s: Status) -> str:
    ffr = _pct(s.chosen.ffr)
    if s.ffr_upper is not None and s.confidence is not None:
        ffr += f" (true FFR ≤ {s.ffr_upper:.2f} at {s.confidence:.0%} confidence)"
    relaxed = " · targets relaxed: out of reach" if s.chosen.relaxed else ""
    return (
        f"{s.graded} graded ({s.good} good, {s.bad} bad) · {s.remaining} to go · "
        f"selection: {len(s.selected)} checks, coverage {_pct(s.chosen.coverage)}, FFR {ffr}{relaxed}"
    )


class LabelUI:
    def __init__(
        self,
        prepared: Prepared,
        strategy: str,
        *,
        seed: int = 0,
        console: Console | None = None,
        keys: KeyReader = read_key,
    ) -> None:
        self.p = prepared
        self.strategy = strategy
        self.rng = random.Random(seed)
        self.console = console or Console(highlight=False)
        self.keys = keys
        self.message = ""
        self.graded_now = 0

    def run(self) -> int:
        session = self.p.session
        forced: str | None = None  # after an undo, the undone response comes back
        while True:
            key = forced or session.next(self.strategy, self.rng)
            forced = None
            if key is None:
                self.console.print("[bold]Nothing left to grade.[/]")
                break
            self.draw(key)
            try:
                pressed = self.keys()
            except (KeyboardInterrupt, EOFError):
                break
            if pressed in ("q", "\x03", "\x04", ""):
                break
            if pressed in ("g", "b"):
                self.save(key, 1 if pressed == "g" else 0)
                if self.message.startswith("could not save"):
                    forced = key
            elif pressed == "s":
                session.skip(key)
                self.message = "skipped (asked again next time)"
            elif pressed == "u":
                forced = self.undo() or key
            elif pressed == "n":
                self.note(key)
                forced = key
            else:
                self.message = f"unknown key {pressed!r}: g b n s u q"
                forced = key
        self.console.print(status_line(session.status()))
        self.console.print(f"{self.graded_now} graded this session; labels in {self.p.store.path}")
        return 0

    def save(self, key: str, label: int) -> None:
        try:
            self.p.store.set(self.p.session.item(key), label)
        except (OSError, OutputError) as e:
            # Full disk, read-only folder: the grade is not recorded, the earlier ones are safe.
            self.message = f"could not save: {_reason(e)}; not recorded"
            return
        self.p.session.grade(key, label)
        self.graded_now += 1
        self.message = f"saved as {'good' if label else 'bad'}"

    def undo(self) -> str | None:
        action = self.p.session.undo()
        if action is None:
            self.message = "nothing to undo"
            return None
        what, key, before = action
        if what == "grade":
            try:
                self.p.store.set(self.p.session.item(key), before)
            except (OSError, OutputError) as e:
                self.p.session.grade(key, self.p.store.records[key].label)  # keep them in step
                self.message = f"could not undo: {_reason(e)}"
                return key
            self.graded_now -= 1
        self.message = f"undid the {what}"
        return key

    def note(self, key: str) -> None:
        text = self.ask("note: ").strip()
        if not text:
            self.message = "no note"
            return
        answer = self.ask("a new criterion for the next synth? [y/N] ").strip().casefold()
        criterion = answer in ("y", "yes")
        path = notes_path(self.p.store.path)
        try:
            add_note(path, Note(text=text, criterion=criterion, response=key))
        except (OSError, OutputError) as e:
            self.message = f"could not save the note: {_reason(e)}"
            return
        self.message = f"note saved to {path}" + (" as a criterion" if criterion else "")

    def ask(self, question: str) -> str:
        try:
            return input(question)
        except (EOFError, KeyboardInterrupt):
            return ""

    def draw(self, key: str) -> None:
        c, session = self.console, self.p.session
        item = session.item(key)
        c.clear()
        c.print(
            f"[bold]llmassert label[/] {escape(self.p.history.name)} · strategy "
            f"{self.strategy} · checks from {escape(self.p.candidates_from)}"
        )
        c.print(status_line(session.status()))
        if self.p.judges_left_out:
            c.print(f"[dim]{self.p.judges_left_out} LLM-judge checks not run (no model)[/]")
        variables = Text()
        for name, value in item.input.items():
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            variables.append(f"{name}: ", style="bold")
            variables.append(f"{shown}\n")
        c.print(Panel(variables, title="input", title_align="left"))
        c.print(Panel(Text(item.response), title="response", title_align="left"))
        verdicts = session.verdicts(key)
        # Failing checks first: they are what the grade is about.
        verdicts.sort(key=lambda v: (v[1], not v[2]))
        lines = Text()
        for check, passed, selected in verdicts[:MAX_CHECKS_SHOWN]:
            lines.append("✓ pass " if passed else "✗ FAIL ", style="green" if passed else "red")
            lines.append(check.name, style="bold" if selected else "")
            if selected:
                lines.append(" [selected]", style="cyan")
            why = check.description or self.p.criteria.get(check.criterion, "")
            if why:
                lines.append(f" — {why}", style="dim")
            lines.append("\n")
        if len(verdicts) > MAX_CHECKS_SHOWN:
            failing = sum(1 for v in verdicts if not v[1])
            lines.append(f"… {len(verdicts) - MAX_CHECKS_SHOWN} more ({failing} failing in all)\n")
        failing = sum(1 for v in verdicts if not v[1])
        c.print(
            Panel(
                lines or Text("no candidate checks"),
                title=f"checks: {failing} of {len(verdicts)} fail",
                title_align="left",
            )
        )
        if self.message:
            c.print(self.message, style="yellow", markup=False)
            self.message = ""
        c.print(KEYS_HELP, style="bold")


def is_terminal() -> bool:
    return sys.stdin.isatty()


__all__ = ["LabelUI", "is_terminal", "read_key", "status_line"]
