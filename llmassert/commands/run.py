"""``llmassert run PIPELINE.yaml``: run a DocETL-style pipeline with checks, checkpoints, summary.

Exit codes: 0 done (rows quarantined, errored or flagged are reported as a warning; ``--strict``
turns them into exit 1), 1 ``--strict`` and some row did not pass cleanly, or a policy ``raise``
fired, 2 bad input / LLM / pipeline error (one line naming file and field), 3 budget spent
(``--max-cost`` / ``--max-tokens``; the checkpoint keeps what was done: rerun to resume).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from llmassert.commands._options import LLMFlags, llm_options
from llmassert.errors import EXIT_ASSERTIONS_FAILED, EXIT_OK, CassetteMissError, ConfigError
from llmassert.text import plural

if TYPE_CHECKING:
    from rich.console import Console

    from llmassert.pipeline.runner import RunReport


def register(app: typer.Typer) -> None:
    app.command("run")(llm_options(run))


def run(
    pipeline: Annotated[
        Path, typer.Argument(help="Pipeline YAML (DocETL format).", show_default=False)
    ],
    flags: LLMFlags,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Check the pipeline and estimate LLM calls per operation; call nothing.",
        ),
    ] = False,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume/--no-resume", help="Continue an interrupted run from its checkpoints."
        ),
    ] = True,
    executor: Annotated[str, typer.Option("--executor", help="local (asyncio) or ray.")] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="With --executor ray: auto (the cluster `ray start` made on this "
            "node), ray://HOST:10001, or unset for RAY_ADDRESS / a local Ray.",
            show_default=False,
        ),
    ] = None,
    ray_workers: Annotated[
        int | None,
        typer.Option(
            "--ray-workers",
            min=1,
            help="With --executor ray: worker actors (default: the cluster's CPUs).",
            show_default=False,
        ),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Exit 1 if any row was quarantined, errored or flagged."),
    ] = False,
    lineage: Annotated[
        bool,
        typer.Option(
            "--lineage/--no-lineage",
            help="Write <output>.lineage.jsonl (calls, cost, gleaning per row).",
        ),
    ] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress, no summary.")] = False,
) -> int:
    """Run a pipeline: map / filter / reduce / split / gather / resolve ... with assertions."""
    from llmassert.commands._console import console as make_console
    from llmassert.config import Settings
    from llmassert.pipeline.runner import Runner, RunOptions
    from llmassert.pipeline.spec import load_pipeline

    console = make_console(stderr=True, highlight=False)
    loaded = load_pipeline(pipeline)
    # YAML's default_lm_api_base sits between the environment and the flags.
    base = Settings.from_env(api_base=loaded.spec.default_lm_api_base)
    # --model is the run's model override (RunOptions), not the client's default model.
    settings = replace(flags, model=None).settings(base)
    executor_options = _executor_options(executor, ray_address, ray_workers)
    options = RunOptions(
        resume=resume,
        dry_run=dry_run,
        executor=executor,
        executor_options=executor_options,
        model=flags.model,
        lineage=lineage,
    )
    runner = Runner(loaded, settings, options)
    runner.prepare()  # every spec / dataset / template error surfaces here, before any call
    if dry_run:
        report = runner.run()
        if not quiet:
            _print_estimate(console, report)
        return EXIT_OK

    from llmassert.commands._options import llm_session
    from llmassert.pipeline.progress import RichProgress

    started = time.perf_counter()
    with (
        llm_session(settings, f"run-{pipeline.stem}", quiet=True) as client,
        RichProgress(console, enabled=not quiet) as progress,
    ):
        runner.client = client
        runner.progress = progress
        try:
            report = runner.run()
        except BaseException as e:
            # A replay miss happens again on every rerun (the cassette is what is missing), so
            # resuming cannot help; its own line says to re-record.
            if (
                not quiet
                and runner.checkpoint_root.exists()
                and not isinstance(e, CassetteMissError)
            ):
                again = (
                    f"rerun the same command to resume from {runner.checkpoint_root}"
                    if runner.resumes
                    else "a rerun with --record starts over (a recording holds every request)"
                )
                console.print(f"[yellow]interrupted: {again}[/]", soft_wrap=True)
            raise
    if not quiet:
        _print_summary(console, report, time.perf_counter() - started)
    bad = report.quarantined + report.errored + report.flagged
    return EXIT_ASSERTIONS_FAILED if strict and bad else EXIT_OK


def _executor_options(
    executor: str, ray_address: str | None, ray_workers: int | None
) -> dict[str, Any]:
    """Checked before anything runs: a missing Ray or a misplaced flag is a one-line error."""
    from llmassert.pipeline.executor import check_executor_name

    check_executor_name(executor)
    ray_flags = {"address": ray_address, "workers": ray_workers}
    if executor != "ray":
        if any(v is not None for v in ray_flags.values()):
            raise ConfigError(
                "--ray-address / --ray-workers need --executor ray", field="--executor"
            )
        return {}
    from llmassert.pipeline.executor_ray import import_ray

    import_ray()
    return {k: v for k, v in ray_flags.items() if v is not None}


def _print_summary(console: Console, report: RunReport, wall: float) -> None:
    from rich.table import Table

    from llmassert.pipeline.operators.base import OpStats

    columns: list[tuple[str, Callable[[OpStats], str]]] = [
        ("in", lambda s: str(s.rows_in)),
        ("out", lambda s: str(s.rows_out)),
        ("filtered", lambda s: _n(s.filtered)),
        ("quarant.", lambda s: _n(s.quarantined)),
        ("errors", lambda s: _n(s.errored)),
        ("flagged", lambda s: _n(s.flagged)),
        ("calls", lambda s: _n(s.calls)),
        ("cached", lambda s: _n(s.cached)),
        ("tokens", lambda s: _n(s.usage.total_tokens)),
        ("cost $", lambda s: f"{s.usage.cost:.4f}" if s.usage.cost else ""),
        ("retries", lambda s: _n(s.retries)),
        ("check re.", lambda s: _n(s.check_retries)),
        ("glean", lambda s: _n(s.gleaning_rounds)),
        ("resumed", lambda s: _n(s.resumed)),
    ]
    total = report.totals
    total.rows_in, total.rows_out = report.rows_in, report.rows_out
    shown = [(name, fn) for name, fn in columns if name in ("in", "out") or fn(total)]
    table = Table(title="pipeline run", title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("operation")
    for name, _ in shown:
        table.add_column(name, justify="right")
    table.add_column("s", justify="right")
    for op in report.ops:
        table.add_row(
            f"{op.name} [dim]{op.type}[/]",
            *(fn(op.stats) for _, fn in shown),
            f"{op.stats.seconds:.1f}",
        )
    table.add_section()
    table.add_row("total", *(fn(total) for _, fn in shown), f"{wall:.1f}")
    console.print(table)
    console.print(f"output: {report.output} ({plural(report.rows_out, 'row')})", soft_wrap=True)
    if report.resumed:
        console.print(
            f"[dim]resumed an interrupted run ({total.resumed} units from checkpoints)[/]"
        )
    if total.damaged:
        were, their = ("was", "its") if total.damaged == 1 else ("were", "their")
        console.print(
            f"[yellow]resumed: {plural(total.damaged, 'journal entry', 'journal entries')} "
            f"{were} damaged and {their} rows were run again[/]",
            soft_wrap=True,
        )
    if report.quarantined:
        console.print(
            f"[yellow]warning: {plural(report.quarantined, 'row')} failed their checks → "
            f"{report.quarantine_file}[/]",
            soft_wrap=True,
        )
    if report.errored:
        console.print(
            f"[yellow]warning: {plural(report.errored, 'row')} could not be processed → "
            f"{report.errors_file}[/]",
            soft_wrap=True,
        )
    if report.flagged:
        console.print(
            f"[yellow]warning: {plural(report.flagged, 'output row')} flagged "
            "(_llmassert_failures)[/]"
        )


def _print_estimate(console: Console, report: RunReport) -> None:
    from rich.table import Table

    from llmassert.pipeline.estimate import ASSUMPTION

    table = Table(title="dry run: no LLM call made", title_justify="left", show_edge=False)
    columns = ("step", "operation", "rows in", "rows out", "LLM calls", "prompt tok", "output tok")
    for col in (*columns, "cost $", "note"):
        left = col in ("step", "operation", "note")
        table.add_column(col, justify="left" if left else "right")
    total = prompt_total = output_total = 0
    cost_total: float | None = 0.0
    unknown_price: list[str] = []
    undercounted = False
    for op in report.ops:
        est, tok = op.estimate, op.tokens
        calls = op.stats.calls
        total += calls
        out = f"≤{op.stats.rows_out}" if est and est.upper_bound else str(op.stats.rows_out)
        if tok is not None:
            prompt_total += tok.prompt_tokens
            output_total += tok.output_tokens
            undercounted |= tok.reads_unknown
            if tok.cost is None:
                cost_total = None
                unknown_price.append(tok.model)
            elif cost_total is not None:
                cost_total += tok.cost
        elif calls:
            cost_total = None
        cost = "" if tok is None else ("unknown price" if tok.cost is None else f"{tok.cost:.4f}")
        table.add_row(
            op.step,
            f"{op.name} [dim]{op.type}[/]",
            str(op.stats.rows_in),
            out,
            str(calls),
            f"{tok.prompt_tokens:,}" if tok else "",
            f"~{tok.output_tokens:,}" if tok else "",
            cost,
            est.note if est else "",
        )
    table.add_section()
    table.add_row(
        "total",
        "",
        str(report.rows_in),
        "",
        str(total),
        f"{prompt_total:,}",
        f"~{output_total:,}",
        "unknown price" if cost_total is None and total else f"{cost_total or 0.0:.4f}",
        "",
    )
    console.print(table)
    if total:
        console.print(f"[dim]{ASSUMPTION}; retries and gleaning rounds not included[/]")
        if undercounted:
            console.print(
                "[dim]prompts that read fields an earlier LLM operation writes are undercounted"
                " (those values are unknown in a dry run)[/]"
            )
        for model in dict.fromkeys(unknown_price):
            console.print(
                f"[yellow]unknown price for {model}: litellm's price map does not list it "
                "(set one with llmassert.llm.usage.set_price)[/]"
            )


def _n(v: float) -> str:
    return str(v) if v else ""
