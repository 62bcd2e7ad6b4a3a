"""What a synthesis run tells the user: a rich table and a ``--json`` summary (the HTML report
is :mod:`llmassert.synth.report_html`)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmassert.synth.manifest import Manifest
from llmassert.synth.writer import PendingFile
from llmassert.text import plural


@dataclass
class PromptReport:
    """One prompt's outcome."""

    name: str
    versions: int
    criteria: int
    candidates: int
    selected: int
    coverage: float | None
    ffr: float | None
    test_coverage: float | None = None
    test_ffr: float | None = None
    labeled: int = 0
    status: str = "optimal"
    sources: Counter[str] = field(default_factory=Counter)  # rules / llm / judge
    # Criteria the rule library has no check for: they need an LLM judge (or --model).
    needs_judge: list[str] = field(default_factory=list)
    # Sentences of the checked version that are not output instructions: (role, text).
    not_instructions: list[tuple[str, str]] = field(default_factory=list)
    retired: int = 0
    checked: str = ""
    validated: bool = True
    warnings: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    manifest: Manifest | None = None

    def summary(self) -> dict[str, Any]:
        """The ``--json`` entry of this prompt."""
        return {
            "name": self.name,
            "versions": self.versions,
            "criteria": self.criteria,
            "candidates": self.candidates,
            "selected": self.selected,
            "coverage": self.coverage,
            "ffr": self.ffr,
            "test_coverage": self.test_coverage,
            "test_ffr": self.test_ffr,
            "checked_version": self.checked,
            "retired": self.retired,
            "validated": self.validated,
            "not_instructions": dict(Counter(role for role, _t in self.not_instructions)),
        }


@dataclass
class SynthReport:
    prompts: list[PromptReport]
    out_dir: Path
    model: str | None = None
    cost: float | None = None
    written: bool = True
    # Rendered, validated outputs not yet on disk (``synthesize(write=False)``).
    pending: list[PendingFile] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        return [f"{p.name}: {w}" for p in self.prompts for w in p.warnings]

    def to_json(self) -> dict[str, Any]:
        return {"prompts": [p.summary() for p in self.prompts]}

    def dumps_json(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"


_SHOWN_ROLES = 8  # sentences listed by role in the terminal; the manifest has all


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def print_table(report: SynthReport, console: Any) -> None:
    """The terminal summary (a rich Table) followed by warnings and the files written."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("prompt", no_wrap=True)
    for col in ("vers", "crit", "cand", "sel", "cov", "FFR", "test cov", "test FFR"):
        table.add_column(col, justify="right")
    for p in report.prompts:
        table.add_row(
            p.name,
            str(p.versions),
            str(p.criteria),
            str(p.candidates),
            str(p.selected),
            _num(p.coverage),
            _num(p.ffr),
            _num(p.test_coverage),
            _num(p.test_ffr),
        )
    console.print(table)
    for p in report.prompts:
        if p.needs_judge and not report.model:
            n = len(p.needs_judge)
            what = "1 criterion has" if n == 1 else f"{n} criteria have"
            console.print(
                f"[dim]{escape(p.name)}: {what} no offline check; --model adds LLM judges[/dim]",
                highlight=False,
            )
    for p in report.prompts:
        if p.not_instructions or p.retired:
            roles = Counter(role for role, _t in p.not_instructions)
            parts = [f"{n} {role}" for role, n in sorted(roles.items())]
            if p.retired:
                parts.append(f"{p.retired} retired by later versions")
            console.print(
                escape(
                    f"{p.name}: checked {p.checked or 'latest'}; not checked: "
                    + ", ".join(parts)
                    + " (see the manifest's history)"
                ),
                style="dim",
                highlight=False,
            )
            for role, text in p.not_instructions[:_SHOWN_ROLES]:
                short = text if len(text) <= 70 else text[:69] + "…"
                console.print(escape(f"  {role:8} {short}"), style="dim", highlight=False)
            if len(p.not_instructions) > _SHOWN_ROLES:
                console.print(
                    escape(f"  ... and {len(p.not_instructions) - _SHOWN_ROLES} more"),
                    style="dim",
                    highlight=False,
                )
    for line in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(line)}", highlight=False)
    if report.written:
        n = len(report.prompts)
        console.print(
            escape(f"wrote {plural(n, 'module')} and {plural(n, 'manifest')} to {report.out_dir}"),
            highlight=False,
        )
    if report.cost:
        console.print(f"LLM cost: ${report.cost:.4f}")


__all__ = ["PromptReport", "SynthReport", "print_table"]
