"""`llmassert test`: run an assertion set over recorded responses, for CI.

Exit codes: 0 all assertions pass (or, with ``--baseline``, no pass rate dropped below the
baseline's); 1 a failure / regression; 2 bad input (missing file, bad JSONL line, unsafe module).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from llmassert.commands._options import llm_options
from llmassert.config import Settings

if TYPE_CHECKING:
    from rich.console import Console

    from llmassert.assertions import AssertionSet
    from llmassert.testing.regression import Baseline, Record, Regression, SuiteResult


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
            help="Fail only when a pass rate drops below this baseline's.",
        ),
    ] = None,
    write_baseline: Annotated[
        Path | None,
        typer.Option(
            "--write-baseline", metavar="FILE", help="Save this run's pass rates as the baseline."
        ),
    ] = None,
    tolerance: Annotated[
        float,
        typer.Option(
            "--tolerance",
            min=0.0,
            max=1.0,
            help="With --baseline: allowed drop in pass rate (e.g. 0.02 for judge noise).",
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
    import asyncio

    from rich.console import Console

    from llmassert.assertions import AssertionSet
    from llmassert.commands._options import llm_session
    from llmassert.errors import ConfigError
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
    err = Console(stderr=True)
    out = Console()
    known = reg.load_baseline(baseline) if baseline is not None else None
    with AssertionSet.load(assertions, timeout_s=timeout) as checks:
        if pipeline is not None:
            # The cassette name `llmassert run` records under, so its recordings replay here.
            with llm_session(settings, f"run-{pipeline.stem}"):
                records, note = asyncio.run(reg.apipeline_records(pipeline, settings, response_key))
                err.print(note, highlight=False)
                suite = asyncio.run(_run(checks, records, err))
        else:
            assert recorded is not None
            records = reg.load_records(recorded)
            if checks.judge_names:
                with llm_session(settings, f"test-{recorded.stem}"):
                    suite = asyncio.run(_run(checks, records, err))
            else:
                suite = asyncio.run(_run(checks, records, err))
    regressed = reg.regressions(suite, known, tolerance=tolerance) if known is not None else []
    _print(out, suite, known, regressed, show)
    if junit is not None:
        from llmassert.testing.junit import write_junit

        tolerated = frozenset(
            name
            for name, s in suite.stats.items()
            if known is not None and s.passed < s.total and name not in {r.name for r in regressed}
        )
        write_junit(junit, suite, known_failures=tolerated)
        err.print(f"JUnit report written to {junit}")
    if write_baseline is not None:
        reg.write_baseline(write_baseline, reg.make_baseline(suite))
        err.print(f"baseline written to {write_baseline}")
        return 0
    if known is not None:
        return 1 if regressed else 0
    return 1 if suite.failed else 0


def _check_outputs(outputs: dict[str, Path | None], inputs: dict[str, Path | None]) -> None:
    """Before any check or judge call: reports can be written and overwrite no input."""
    from llmassert.fileio import check_output_file, ensure_distinct

    given = [(flag, p) for flag, p in outputs.items() if p is not None]
    ensure_distinct(given, [(flag, p) for flag, p in inputs.items() if p is not None])
    for flag, p in given:
        check_output_file(p, field=flag)


async def _run(checks: AssertionSet, records: list[Record], err: Console) -> SuiteResult:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from llmassert.testing.regression import arun_suite

    # A bar only where it helps: many records or LLM judges (seconds per record).
    if len(records) < 200 and not checks.judge_names:
        return await arun_suite(checks, records)
    with Progress(
        TextColumn("checking"), BarColumn(), MofNCompleteColumn(), console=err, transient=True
    ) as progress:
        task = progress.add_task("check", total=len(records))
        return await arun_suite(checks, records, on_result=lambda _i, _r: progress.advance(task))


def _print(
    out: Console,
    suite: SuiteResult,
    baseline: Baseline | None,
    regressed: list[Regression],
    show: int,
) -> None:
    from rich.markup import escape
    from rich.table import Table

    from llmassert.secrets import scrub

    bad = {r.name for r in regressed}
    title = f"{Path(suite.module).name if suite.module else 'assertions'} on {len(suite.records)} "
    title += f"recorded responses ({suite.seconds:.2f} s)"
    table = Table(title=title, title_justify="left")
    table.add_column("assertion", overflow="fold", min_width=16)
    table.add_column("kind", no_wrap=True)
    for col in ("pass", "fail", "error", "rate", *(("baseline",) if baseline else ())):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for name, s in suite.stats.items():
        row = [
            name,
            "judge" if s.kind == "llm_judge" else "code",
            str(s.passed),
            str(s.failed),
            str(s.errors),
            f"{s.pass_rate:.1%}",
        ]
        if baseline is not None:
            before = baseline.pass_rates.get(name)
            row.append("new" if before is None else f"{before:.1%}")
            status = (
                "[red]REGRESSED[/]"
                if name in bad
                else "[yellow]known[/]"
                if s.passed < s.total
                else "[green]ok[/]"
            )
        else:
            status = "[green]ok[/]" if s.passed == s.total else "[red]FAIL[/]"
        table.add_row(*row, status)
    out.print(table)
    listed = 0
    for i, result in enumerate(suite.results):
        for f in result.failures:
            if listed >= show:
                break
            out.print(
                f"  [bold]{suite.record_id(i)}[/] {f.name}: {escape(scrub(f.message))}",
                markup=True,
                highlight=False,
            )
            listed += 1
    hidden = sum(len(r.failures) for r in suite.results) - listed
    if hidden > 0:
        out.print(f"  ... and {hidden} more failures (--show N to list more)")
    if baseline is not None:
        verdict = (
            f"{len(regressed)} assertion(s) regressed below the baseline"
            if regressed
            else "no regressions against the baseline"
        )
        out.print(verdict)
