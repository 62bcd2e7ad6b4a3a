"""`llmassert test`: run an assertion set over recorded responses, for CI.

Exit codes: 0 all assertions pass (or, with ``--baseline``, no (record, assertion) that passed in
the baseline fails now); 1 a failure / regression; 2 bad input (missing file, bad JSONL line,
unsafe module, an old baseline).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from llmassert.commands._options import llm_options, share_option
from llmassert.config import Settings
from llmassert.text import plural

if TYPE_CHECKING:
    from rich.console import Console

    from llmassert.assertions import AssertionSet
    from llmassert.testing.baseline import Comparison
    from llmassert.testing.regression import Record, RowIssue, SuiteResult


def register(app: typer.Typer) -> None:
    app.command("test")(test)


@llm_options
def test(
    assertions: Annotated[
        Path,
        typer.Option(
            "--assertions",
            "-a",
            help="Assertion module (e.g. assertions/summary.py).",
            show_default=False,
        ),
    ],
    settings: Settings,
    recorded: Annotated[
        Path | None,
        typer.Argument(
            help='JSONL of recorded responses: {"input": {...}, "response": "...", "id": ...} '
            "per line.",
            show_default=False,
        ),
    ] = None,
    junit: Annotated[
        Path | None, typer.Option("--junit", metavar="FILE", help="Write a JUnit XML report.")
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            metavar="FILE",
            help="Fail only on regressions: a (record, assertion) that passed in this baseline "
            "and fails now.",
        ),
    ] = None,
    write_baseline: Annotated[
        Path | None,
        typer.Option(
            "--write-baseline",
            metavar="FILE",
            help="Save this run's failures per record as the baseline.",
        ),
    ] = None,
    tolerance: Annotated[
        float,
        share_option(
            "--tolerance",
            help="With --baseline, for judge noise: the fraction of records per assertion "
            "allowed to flip from pass to fail (0.02 of 100 records = 2 per assertion).",
        ),
    ] = 0.0,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout", min=0.01, help="Seconds per sandboxed check before it counts as failed."
        ),
    ] = 2.0,
    show: Annotated[
        int, typer.Option("--show", min=0, help="How many individual failures to list.")
    ] = 10,
    pipeline: Annotated[
        Path | None,
        typer.Option(
            "--pipeline",
            metavar="YAML",
            help="Check the output rows of this pipeline instead of a JSONL (run it with --replay "
            "DIR to answer from the cassettes `llmassert run --record DIR` wrote).",
        ),
    ] = None,
    response_key: Annotated[
        str,
        typer.Option(
            "--response-key", help="With --pipeline: the output field holding the response."
        ),
    ] = "response",
) -> int:
    """Check recorded responses with an assertion module; exit 1 on failures or regressions."""
    from llmassert.aio import run_sync
    from llmassert.assertions import AssertionSet
    from llmassert.commands._console import console
    from llmassert.commands._options import llm_session
    from llmassert.errors import ConfigError
    from llmassert.testing import baseline as bl
    from llmassert.testing import regression as reg

    if (recorded is None) == (pipeline is None):
        raise ConfigError(
            "give either a RECORDED.jsonl file or --pipeline YAML (not both)", field="RECORDED"
        )
    _check_outputs(
        {"--junit": junit, "--write-baseline": write_baseline},
        {
            "RECORDED": recorded,
            "--assertions": assertions,
            "--baseline": baseline,
            "--pipeline": pipeline,
        },
    )
    err = console(stderr=True)
    out = console()
    known = bl.load_baseline(baseline) if baseline is not None else None
    issues: dict[int, reg.RowIssue] = {}
    with AssertionSet.load(assertions, timeout_s=timeout) as checks:
        if pipeline is not None:
            # The cassette name `llmassert run` records under, so its recordings replay here.
            with llm_session(settings, f"run-{pipeline.stem}"):
                piped = run_sync(reg.apipeline_records(pipeline, settings, response_key), here=True)
                err.print(piped.note, highlight=False)
                records, issues = piped.records, piped.issues
                suite = run_sync(_run(checks, records, issues, err, piped.labels), here=True)
        else:
            assert recorded is not None
            records = reg.load_records(recorded)
            if checks.judge_names:
                with llm_session(settings, f"test-{recorded.stem}"):
                    suite = run_sync(_run(checks, records, issues, err), here=True)
            else:
                suite = run_sync(_run(checks, records, issues, err), here=True)
    gating = frozenset(suite.stats) - suite.warn_names
    comparison = (
        bl.compare(suite, known, tolerance=tolerance, gating=gating) if known is not None else None
    )
    _print(out, suite, comparison, show)
    if junit is not None:
        from llmassert.testing.junit import write_junit

        write_junit(junit, suite, comparison=comparison, warn=suite.warn_names)
        err.print(f"JUnit report written to {junit}", highlight=False)
    if write_baseline is not None:
        bl.write_baseline(write_baseline, bl.make_baseline(suite))
        err.print(f"baseline written to {write_baseline}", highlight=False)
        return 0
    if comparison is not None:
        return 1 if comparison.failed else 0
    return 1 if suite.failed else 0


def _check_outputs(outputs: dict[str, Path | None], inputs: dict[str, Path | None]) -> None:
    """Before any check or judge call: reports can be written and overwrite no input."""
    from llmassert.fileio import check_output_file, ensure_distinct

    given = [(flag, p) for flag, p in outputs.items() if p is not None]
    ensure_distinct(given, [(flag, p) for flag, p in inputs.items() if p is not None])
    for flag, p in given:
        check_output_file(p, field=flag)


async def _run(
    checks: AssertionSet,
    records: list[Record],
    issues: dict[int, RowIssue],
    err: Console,
    labels: list[str] | None = None,
) -> SuiteResult:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from llmassert.testing.regression import arun_suite

    # A bar only where it helps: many records or LLM judges (seconds per record).
    if len(records) < 200 and not checks.judge_names:
        return await arun_suite(checks, records, issues=issues, labels=labels)
    with Progress(
        TextColumn("checking"), BarColumn(), MofNCompleteColumn(), console=err, transient=True
    ) as progress:
        task = progress.add_task("check", total=len(records))
        return await arun_suite(
            checks,
            records,
            issues=issues,
            labels=labels,
            on_result=lambda _i, _r: progress.advance(task),
        )


def _print(out: Console, suite: SuiteResult, comparison: Comparison | None, show: int) -> None:
    from rich.markup import escape
    from rich.table import Table

    from llmassert.secrets import scrub

    bad = comparison.regressed_names() if comparison is not None else set()
    fixed: dict[str, int] = {}
    for flip in comparison.fixed if comparison is not None else []:
        fixed[flip.assertion] = fixed.get(flip.assertion, 0) + 1
    title = f"{Path(suite.module).name if suite.module else 'assertions'} on "
    title += f"{plural(len(suite.records), 'recorded response')} ({suite.seconds:.2f} s)"
    table = Table(title=title, title_justify="left")
    table.add_column("assertion", overflow="fold", min_width=16)
    table.add_column("kind", no_wrap=True)
    for col in ("pass", "fail", "error", "rate"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    kinds = {"llm_judge": "judge", "pipeline": "pipeline"}
    for name, s in suite.stats.items():
        row = [
            name,
            kinds.get(s.kind, "code"),
            str(s.passed),
            str(s.failed),
            str(s.errors),
            f"{s.pass_rate:.1%}",
        ]
        if s.severity == "warn":
            status = "[yellow]warn[/]" if s.passed < s.total else "[green]ok[/] [dim]warn[/]"
        elif comparison is not None:
            n_bad = sum(1 for f in comparison.regressed if f.assertion == name)
            parts = []
            if name in bad:
                parts.append(f"[red]REGRESSED {n_bad}[/]")
            elif s.passed < s.total:
                parts.append("[yellow]known[/]")
            else:
                parts.append("[green]ok[/]")
            if fixed.get(name):
                parts.append(f"[green]fixed {fixed[name]}[/]")
            status = " ".join(parts)
        else:
            status = "[green]ok[/]" if s.passed == s.total else "[red]FAIL[/]"
        table.add_row(*row, status)
    out.print(table)
    if comparison is None:
        _list_failures(out, suite, show)
        return
    for flip in comparison.regressed[: max(show, 1)]:
        out.print(
            f"  [red]REGRESSED[/] [bold]{flip.label}[/] {flip.assertion}: "
            f"{escape(scrub(flip.message))} "
            f"({flip.why})",
            highlight=False,
        )
    if len(comparison.regressed) > max(show, 1):
        out.print(f"  ... and {len(comparison.regressed) - max(show, 1)} more (--show N)")
    warn = suite.warn_names
    for flip in comparison.tolerated[:show]:
        why = "severity warn" if flip.assertion in warn else "within --tolerance"
        out.print(
            f"  tolerated {flip.label} {flip.assertion}: {escape(scrub(flip.message))} ({why})",
            highlight=False,
        )
    for flip in comparison.fixed[:show]:
        out.print(f"  [green]fixed[/] {flip.label} {flip.assertion}", highlight=False)
    if comparison.missing:
        out.print(
            f"  note: {plural(len(comparison.missing), 'baseline record')} not in this run: "
            + ", ".join(comparison.missing[:5])
            + (" ..." if len(comparison.missing) > 5 else ""),
            highlight=False,
        )
    extra = [
        plural(len(comparison.fixed), "fixed check"),
        plural(len(comparison.known), "known failure"),
    ]
    if comparison.tolerated:
        extra.append(f"{len(comparison.tolerated)} tolerated")
    if comparison.regressed:
        records = sorted({f.label for f in comparison.regressed})
        verdict = (
            f"{plural(len(comparison.regressed), 'regression')} against the baseline "
            f"(in {', '.join(records[:10])}{' ...' if len(records) > 10 else ''}); "
            + ", ".join(extra)
        )
    else:
        verdict = "no regressions against the baseline; " + ", ".join(extra)
    out.print(verdict, highlight=False)


def _list_failures(out: Console, suite: SuiteResult, show: int) -> None:
    from rich.markup import escape

    from llmassert.secrets import scrub

    listed = 0
    warn = suite.warn_names
    for i, result in enumerate(suite.results):
        for f in result.failures:
            if listed >= show:
                break
            tag = "[yellow]warning[/] " if f.name in warn else ""
            out.print(
                f"  {tag}[bold]{suite.record_id(i)}[/] {f.name}: {escape(scrub(f.message))}",
                markup=True,
                highlight=False,
            )
            listed += 1
    hidden = sum(len(r.failures) for r in suite.results) - listed
    if hidden > 0:
        out.print(f"  ... and {plural(hidden, 'more failure')} (--show N to list more)")
