"""The HTML synthesis report: per prompt, the coverage / false-failure trade-off and the selection.

The trade-off is a sweep over in-sample FFR ceilings tau: at each, the best coverage reachable
and the selection that reaches it, chosen by the same ``select()`` synthesis uses (so the same
tie-break among equally small sets: fewest good responses failed), drawn as an inline SVG (no
JavaScript, no network).  The dashed line is the tau the run actually solved at; with
``--ffr-confidence`` that is stricter than the ``--tau`` asked for, and the page says why.  Every
plotted point carries its numbers as ``data-*`` attributes, so tests (and a headless browser)
check what is drawn, not only what is written.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass

from llmassert.synth.manifest import Manifest
from llmassert.synth.report import PromptReport, SynthReport
from llmassert.text import plural

SWEEP_TAUS = tuple(round(k / 20, 2) for k in range(11))  # 0, 0.05, ..., 0.5
COLORS = {
    "coverage": "#1f77b4",
    "ffr": "#d62728",
    "test_coverage": "#9ecae1",
    "test_ffr": "#f4a6a6",
}


@dataclass(frozen=True)
class SweepPoint:
    tau: float
    count: int | None  # None: nothing feasible at this tau
    coverage: float | None
    ffr: float | None
    test_coverage: float | None = None
    test_ffr: float | None = None
    selected: tuple[str, ...] = ()


def sweep(manifest: Manifest, taus: tuple[float, ...] = SWEEP_TAUS) -> list[SweepPoint]:
    """The trade-off: for each FFR ceiling tau (plus the tau the run solved at), the best
    coverage reachable with the run's method, and what that selection does on both splits."""
    from llmassert.select import Matrix
    from llmassert.select.tradeoff import best_coverage

    if not manifest.y or not manifest.candidates:
        return []
    matrix = Matrix.from_json_data(json.loads(manifest.dumps()))
    points = []
    for t in sorted({*taus, round(manifest.selection.tau, 6)}):
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
                tuple(sel.selected),
            )
        )
    return points


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def _svg(points: list[SweepPoint], solved: float, requested: float) -> str:
    """A small line chart: best coverage and its FFR against the FFR ceiling tau."""
    w, h, pad = 460, 240, 40
    top = max(SWEEP_TAUS[-1], requested, solved)

    def x(t: float) -> float:
        return pad + t / top * (w - 2 * pad)

    def y(v: float) -> float:
        return h - pad - v * (h - 2 * pad)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" role="img" aria-label="best coverage and its FFR versus tau">',
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
        f'<text x="{w / 2}" y="{h - 6}" font-size="11" text-anchor="middle">'
        "in-sample false-failure ceiling tau</text>"
    )
    parts.append(
        f'<line class="solved-tau" data-tau="{solved:.4f}" x1="{x(solved):.1f}" '
        f'x2="{x(solved):.1f}" y1="{pad}" y2="{h - pad}" stroke="#444" stroke-dasharray="5 3"/>'
        f'<text x="{x(solved) + 3:.1f}" y="{pad - 6}" font-size="10">'
        f"solved tau = {solved:.3g}</text>"
    )
    if abs(requested - solved) > 1e-9:
        parts.append(
            f'<line class="requested-tau" data-tau="{requested:.4f}" x1="{x(requested):.1f}" '
            f'x2="{x(requested):.1f}" y1="{pad}" y2="{h - pad}" stroke="#aaa" '
            'stroke-dasharray="1 3"/>'
            f'<text x="{x(requested) + 3:.1f}" y="{pad + 10}" font-size="10" fill="#777">'
            f"--tau {requested:g}</text>"
        )
    for key, color in COLORS.items():
        pts = [(p.tau, getattr(p, key)) for p in points if getattr(p, key) is not None]
        if pts:
            path = " ".join(f"{x(a):.1f},{y(v):.1f}" for a, v in pts)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>'
            )
            parts += [
                f'<circle class="point {key}" data-tau="{a:.4f}" data-value="{v:.4f}" '
                f'cx="{x(a):.1f}" cy="{y(v):.1f}" r="2.5" fill="{color}"/>'
                for a, v in pts
            ]
    parts.append("</svg>")
    return "".join(parts)


def _explain_tau(m: Manifest) -> str:
    """Which tau the run solved at, and why it is not the --tau asked for (if it is not)."""
    sel = m.selection
    e = html.escape
    if sel.relaxed:
        return (
            f"The dashed line is the tau this run solved at, <b>{sel.tau:.3g}</b>: the targets "
            f"asked for (alpha = {m.alpha:g}, tau = {m.tau:g}) could not be met, so the nearest "
            f"feasible pair (alpha = {sel.alpha:.3g}, tau = {sel.tau:.3g}) was used."
        )
    if sel.ffr_confidence is not None and sel.tau < m.tau - 1e-12:
        good = m.metrics.train.good
        allowed = round(sel.tau * good)
        return (
            f"The dashed line is the tau this run solved at, <b>{sel.tau:.3g}</b>, not the "
            f"<code>--tau {m.tau:g}</code> asked for (dotted line). With "
            f"<code>--ffr-confidence {sel.ffr_confidence:g}</code> (the default), tau bounds "
            f"the <i>true</i> false-failure rate at {sel.ffr_confidence:.0%} confidence, not "
            f"only the rate on the {plural(good, 'good labeled response')}: failing at most "
            f"{allowed} of them (an in-sample FFR of at most {sel.tau:.3g}) is what keeps the "
            f"one-sided Clopper-Pearson upper bound within {m.tau:g}. More good labels let the "
            "effective tau approach the one asked for; <code>--ffr-confidence 0</code> selects "
            "in-sample, as SPADE does."
        )
    return (
        f"The dashed line is the tau this run solved at, <b>{sel.tau:.3g}</b> "
        f"(<code>--tau {e(f'{m.tau:g}')}</code>, in-sample)."
    )


def _tradeoff(m: Manifest) -> list[str]:
    e = html.escape
    points = sweep(m)
    if not points:
        return []
    sel = m.selection
    body = [
        "<h3>Coverage / false-failure trade-off</h3>"
        f"<p>For each in-sample FFR ceiling tau, the best coverage {e(m.method)} reaches on the "
        "selection split, chosen as synthesis chooses (the method's objective, then the fewest "
        "good responses failed among equally good sets), and what that selection does on the "
        "held-out split. "
        f"{_explain_tau(m)}</p>",
        '<div class="chart">' + _svg(points, sel.tau, m.tau) + "</div>",
        '<p class="legend">'
        + " ".join(
            f'<span style="color:{COLORS[k]}">■ {label}</span>'
            for k, label in (
                ("coverage", "coverage"),
                ("ffr", "false-failure rate"),
                ("test_coverage", "held-out coverage"),
                ("test_ffr", "held-out FFR"),
            )
        )
        + "</p>",
    ]
    rows = []
    for pt in points:
        mark = abs(pt.tau - sel.tau) < 1e-6
        rows.append(
            f'<tr class="sweep{" solved" if mark else ""}" data-tau="{pt.tau:.4f}" '
            f'data-selected="{e(" ".join(pt.selected))}">'
            f"<td>{pt.tau:.3g}{' (solved)' if mark else ''}</td>"
            f"<td>{'infeasible' if pt.count is None else pt.count}</td>"
            f"<td>{_num(pt.coverage)}</td><td>{_num(pt.ffr)}</td>"
            f"<td>{_num(pt.test_coverage)}</td><td>{_num(pt.test_ffr)}</td></tr>"
        )
    body.append(
        '<table class="sweep"><tr><th>tau</th><th>selected</th><th>best coverage</th><th>FFR</th>'
        f"<th>test cov</th><th>test FFR</th></tr>{''.join(rows)}</table>"
    )
    train = m.metrics.train
    body.append(
        f'<p class="run">This run (alpha = {sel.alpha:.3g}, tau = {sel.tau:.3g}): '
        f"{plural(sel.count, 'assertion')}, coverage {_num(train.coverage)}, "
        f"FFR {_num(train.ffr)} — the fewest assertions reaching alpha, so its coverage can be "
        "below the best reachable.</p>"
    )
    return body


def _prompt(p: PromptReport) -> list[str]:
    e = html.escape
    m = p.manifest
    body = [
        f"<h2>{e(p.name)}</h2>",
        f"<p>{plural(p.versions, 'version')}, {plural(p.criteria, 'criterion', 'criteria')}, "
        f"{plural(p.candidates, 'candidate')}, <b>{p.selected} selected</b>; selection split "
        f"coverage {_num(p.coverage)}, FFR {_num(p.ffr)}; held-out coverage "
        f"{_num(p.test_coverage)}, FFR {_num(p.test_ffr)}.</p>",
    ]
    body += [f'<p class="warn">warning: {e(w)}</p>' for w in p.warnings]
    if m is None:
        return body
    body += _tradeoff(m)
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
    return body


def render_html(report: SynthReport) -> str:
    """A self-contained HTML page (deterministic: no timestamps)."""
    e = html.escape
    body = [
        f"<h1>llmassert synth: {plural(len(report.prompts), 'prompt')}</h1>",
        f"<p>Model: {e(report.model or 'none (offline rule library)')}. "
        f"Output folder: <code>{e(str(report.out_dir))}</code>.</p>",
    ]
    for p in report.prompts:
        body += _prompt(p)
    style = (
        "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;"
        "padding:3px 8px;text-align:left}.warn{color:#a15c00}code{font-size:90%}"
        "tr.solved{background:#f3f3f3;font-weight:bold}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>llmassert synth report</title><style>{style}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


__all__ = ["SweepPoint", "render_html", "sweep"]
