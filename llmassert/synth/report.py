"""What a synthesis run tells the user: a rich table, a ``--json`` summary, and an HTML report.

The HTML report shows, per prompt, the coverage / false-failure trade-off — for a sweep of
coverage targets alpha, the fewest assertions reaching it and the FFR they cost — drawn as an
inline SVG (no JavaScript, no network), plus the selected assertions with their criteria.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmassert.synth.manifest import Manifest
from llmassert.synth.writer import PendingFile

SWEEP_TAUS = tuple(round(k / 20, 2) for k in range(11))  # 0, 0.05, ..., 0.5


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
            escape(f"wrote {n} modules and {n} manifests to {report.out_dir}"), highlight=False
        )
    if report.cost:
        console.print(f"LLM cost: ${report.cost:.4f}")


# -- HTML -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepPoint:
    tau: float
    count: int | None  # None: nothing feasible at this tau
    coverage: float | None
    ffr: float | None
    test_coverage: float | None = None
    test_ffr: float | None = None


def sweep(manifest: Manifest, taus: tuple[float, ...] = SWEEP_TAUS) -> list[SweepPoint]:
    """The trade-off: for each FFR ceiling tau, the best coverage reachable (the run's method)
    and what that selection does on both splits."""
    from llmassert.select import Matrix
    from llmassert.select.tradeoff import best_coverage

    if not manifest.y or not manifest.candidates:
        return []
    matrix = Matrix.from_json_data(json.loads(manifest.dumps()))
    points = []
    for t in taus:
        found = best_coverage(matrix, manifest.method, 1.0, t)
        if found is None:
            points.append(SweepPoint(t, None, None, None))
            continue
        a, sel = found
        redone = manifest.with_selection(sel.selected, method=sel.method, alpha=a, tau=t)
        test = redone.metrics.test
        points.append(
            SweepPoint(
                t,
                sel.count,
                redone.metrics.train.coverage,
                redone.metrics.train.ffr,
                test.coverage if test else None,
                test.ffr if test else None,
            )
        )
    return points


def _svg(points: list[SweepPoint], tau: float) -> str:
    """A small line chart: best coverage and its FFR against the FFR ceiling tau."""
    w, h, pad = 420, 220, 36

    def x(t: float) -> float:
        return pad + t / SWEEP_TAUS[-1] * (w - 2 * pad)

    def y(v: float) -> float:
        return h - pad - v * (h - 2 * pad)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" role="img" aria-label="coverage and FFR versus alpha">',
        f'<rect x="{pad}" y="{pad}" width="{w - 2 * pad}" height="{h - 2 * pad}" '
        'fill="none" stroke="#ccc"/>',
    ]
    for v in (0.0, 0.5, 1.0):
        parts.append(
            f'<text x="{pad - 6}" y="{y(v) + 4:.1f}" font-size="10" '
            f'text-anchor="end">{v:.1f}</text>'
        )
    for t in (0.0, 0.25, 0.5):
        parts.append(
            f'<text x="{x(t):.1f}" y="{h - pad + 14}" font-size="10" '
            f'text-anchor="middle">{t:g}</text>'
        )
    parts.append(
        f'<text x="{w / 2}" y="{h - 4}" font-size="11" text-anchor="middle">'
        "false-failure ceiling tau</text>"
    )
    parts.append(
        f'<line x1="{x(tau):.1f}" x2="{x(tau):.1f}" y1="{pad}" y2="{h - pad}" '
        'stroke="#888" stroke-dasharray="4 3"/>'
    )
    for key, color in (
        ("coverage", "#1f77b4"),
        ("ffr", "#d62728"),
        ("test_coverage", "#9ecae1"),
        ("test_ffr", "#f4a6a6"),
    ):
        pts = [(p.tau, getattr(p, key)) for p in points if getattr(p, key) is not None]
        if pts:
            path = " ".join(f"{x(a):.1f},{y(v):.1f}" for a, v in pts)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>'
            )
            parts += [
                f'<circle cx="{x(a):.1f}" cy="{y(v):.1f}" r="2.5" fill="{color}"/>' for a, v in pts
            ]
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: SynthReport) -> str:
    """A self-contained HTML page (deterministic: no timestamps)."""
    e = html.escape
    body = [
        f"<h1>llmassert synth: {len(report.prompts)} prompts</h1>",
        f"<p>Model: {e(report.model or 'none (offline rule library)')}. "
        f"Output folder: <code>{e(str(report.out_dir))}</code>.</p>",
    ]
    for p in report.prompts:
        m = p.manifest
        body.append(f"<h2>{e(p.name)}</h2>")
        body.append(
            f"<p>{p.versions} versions, {p.criteria} criteria, {p.candidates} candidates, "
            f"<b>{p.selected} selected</b>; selection split coverage {_num(p.coverage)}, "
            f"FFR {_num(p.ffr)}; held-out coverage {_num(p.test_coverage)}, "
            f"FFR {_num(p.test_ffr)}.</p>"
        )
        body += [f'<p class="warn">warning: {e(w)}</p>' for w in p.warnings]
        if m is None:
            continue
        points = sweep(m)
        if points:
            body.append(
                "<h3>Coverage / false-failure trade-off</h3><p>For each FFR ceiling "
                f"tau, the best coverage {e(m.method)} reaches on the selection split, "
                "and what that selection does on the held-out split; the dashed line "
                f"is this run's tau = {m.tau:g}.</p>"
            )
            body.append('<div class="chart">' + _svg(points, m.tau) + "</div>")
            body.append(
                '<p class="legend"><span style="color:#1f77b4">■ coverage</span> '
                '<span style="color:#d62728">■ false-failure rate</span> '
                '<span style="color:#9ecae1">■ held-out coverage</span> '
                '<span style="color:#f4a6a6">■ held-out FFR</span></p>'
            )
            rows = "".join(
                f"<tr><td>{pt.tau:.2f}</td><td>{'infeasible' if pt.count is None else pt.count}"
                f"</td><td>{_num(pt.coverage)}</td><td>{_num(pt.ffr)}</td>"
                f"<td>{_num(pt.test_coverage)}</td><td>{_num(pt.test_ffr)}</td></tr>"
                for pt in points
            )
            body.append(
                "<table><tr><th>tau</th><th>selected</th><th>coverage</th><th>FFR</th>"
                f"<th>test cov</th><th>test FFR</th></tr>{rows}</table>"
            )
        body.append(
            "<h3>Selected assertions</h3><table><tr><th>assertion</th><th>kind</th>"
            "<th>category</th><th>criterion</th></tr>"
        )
        for name in m.selection.selected:
            cand = m.candidate(name)
            crit = m.criterion(cand.criterion_id)
            body.append(
                f"<tr><td><code>{e(name)}</code></td><td>{e(cand.kind)}</td>"
                f"<td>{e(crit.category.value if crit else '')}</td>"
                f"<td>{e(crit.text if crit else '')}</td></tr>"
            )
        body.append("</table>")
        if p.needs_judge:
            body.append("<h3>Criteria without an offline check (need an LLM judge)</h3><ul>")
            body += [f"<li>{e(t)}</li>" for t in p.needs_judge]
            body.append("</ul>")
    style = (
        "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;"
        "padding:3px 8px;text-align:left}.warn{color:#a15c00}code{font-size:90%}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>llmassert synth report</title><style>{style}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


__all__ = ["PromptReport", "SweepPoint", "SynthReport", "print_table", "render_html", "sweep"]
