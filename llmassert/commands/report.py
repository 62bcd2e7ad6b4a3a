"""`llmassert report`: summarize a guard failure log (counts and rates)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.table import Table

    from llmassert.hooks.failure_report import ReportRow


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    log: Annotated[
        Path,
        typer.Argument(
            help="Failure log written by guards (default location .llmassert/failures.jsonl).",
            show_default=False,
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    prompt: Annotated[str | None, typer.Option("--prompt", help="Only this prompt name.")] = None,
) -> None:
    """Failure counts and rates per assertion, prompt version and day."""
    from llmassert.hooks.failure_report import summarize

    summary = summarize(log, prompt=prompt)
    if as_json:
        import json

        typer.echo(json.dumps(summary.to_dict(), indent=2))
        return
    from rich.console import Console

    out = Console()
    rate = f"{summary.failures / summary.checks:.2%}" if summary.checks else "n/a"
    out.print(
        f"{log}: {summary.failures} failed responses out of "
        f"{summary.checks or 'an unknown number of'} checked (rate {rate})",
        highlight=False,
        soft_wrap=True,
    )
    out.print(_table("By prompt version", summary.by_prompt, ("prompt", "version")))
    out.print(_table("By assertion", summary.by_assertion, ("prompt", "version", "assertion")))
    out.print(_table("By day", summary.by_day, ("day", "prompt", "version")))


def _table(title: str, rows: list[ReportRow], keys: tuple[str, ...]) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for key in keys:
        table.add_column(key, overflow="fold")
    for col in ("failures", "checks", "rate"):
        table.add_column(col, justify="right", no_wrap=True)
    for row in rows:
        values = {
            "prompt": row.prompt,
            "version": row.prompt_version,
            "assertion": row.assertion,
            "day": row.day,
        }
        cells = [str(values[k]) if values[k] is not None else "-" for k in keys]
        rate = "n/a" if row.rate is None else f"{row.rate:.2%}"
        table.add_row(*cells, str(row.failures), str(row.checks or "-"), rate)
    return table
