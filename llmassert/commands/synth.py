"""`llmassert synth PATH`: synthesize assertions from prompt histories.

Offline by default (the rule library, no network); ``--model`` adds LLM-written checks, LLM
judges and LLM subsumption claims.  Exit codes: 0 when assertions were written — also when the
targets had to be relaxed to the nearest feasible ones, which the report says in a warning line —
and 2 on bad input, or with ``--strict`` when the targets cannot be met (nothing is written then).
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from llmassert.commands._options import ForceOpt, llm_options, llm_session, share_option
from llmassert.config import Settings

if TYPE_CHECKING:
    from rich.console import Console

PATH_HELP = (
    "A folder of prompts (version folders, <name>.yaml/.json with versions:, "
    "git-tracked prompt files) or one prompt."
)


class SelectMethod(StrEnum):
    sub = "sub"
    cov = "cov"
    base = "base"


class Severity(StrEnum):
    warn = "warn"
    block = "block"


class RichProgress:
    """One progress line per prompt on stderr: stage, then evaluating n/N candidates."""

    def __init__(self, console: Console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=True,
        )
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> RichProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def _task(self, prompt: str) -> Any:
        if prompt not in self.tasks:
            self.tasks[prompt] = self.bar.add_task(prompt, total=None)
        return self.tasks[prompt]

    def stage(self, prompt: str, text: str) -> None:
        self.bar.update(self._task(prompt), description=f"{prompt}: {text}")

    def evaluating(self, prompt: str, done: int, total: int) -> None:
        self.bar.update(self._task(prompt), completed=done, total=total)

    def finished(self, prompt: str) -> None:
        self.bar.update(self._task(prompt), description=f"{prompt}: done", visible=False)


def _check_outputs(out: Path, html: Path | None, inputs: dict[str, Path | None]) -> None:
    """Before any work (and any LLM call): the module folder and the HTML report can be
    written, and neither overwrites an input (nothing is written when one cannot be)."""
    from llmassert.fileio import check_output_dir, check_output_file, ensure_distinct

    given = [(flag, p) for flag, p in inputs.items() if p is not None]
    check_output_dir(out, field="--out")
    if html is not None:
        ensure_distinct([("--html", html)], given)
        check_output_file(html, field="--html")


def register(app: typer.Typer) -> None:
    @app.command("synth")
    @llm_options
    def synth(
        path: Annotated[Path, typer.Argument(help=PATH_HELP, show_default=False)],
        settings: Settings,
        out: Annotated[
            Path, typer.Option("--out", help="Folder for <name>.py and <name>.json.")
        ] = Path("assertions"),
        alpha: Annotated[
            float, share_option(help="Coverage target: share of bad responses to catch.")
        ] = 0.6,
        tau: Annotated[
            float, share_option(help="False-failure ceiling: share of good responses failed.")
        ] = 0.25,
        method: Annotated[
            SelectMethod,
            typer.Option(help="SPADE selection: sub (coverage + subsumption), cov, or base."),
        ] = SelectMethod.sub,
        holdout: Annotated[
            float,
            typer.Option(
                min=0.0,
                max=0.95,
                help="Share of labeled inputs held out to report test "
                "coverage / FFR (split by input).",
            ),
        ] = 0.0,
        seed: Annotated[int, typer.Option(help="Seed of the holdout split.")] = 0,
        labels: Annotated[
            Path | None,
            typer.Option(
                help="Labeled responses (JSONL: input, response, label) for the one prompt at PATH."
            ),
        ] = None,
        git: Annotated[
            bool | None,
            typer.Option(
                "--git/--no-git",
                help="Read prompt files' versions from git history (default: auto-detect).",
            ),
        ] = None,
        as_json: Annotated[
            bool,
            typer.Option("--json", help="Print a machine-readable summary instead of the table."),
        ] = False,
        html: Annotated[
            Path | None,
            typer.Option(
                "--html",
                metavar="FILE",
                help="Also write an HTML report with the coverage/FFR trade-off.",
            ),
        ] = None,
        ffr_confidence: Annotated[
            float,
            typer.Option(
                "--ffr-confidence",
                min=0.0,
                max=0.999,
                help="Select so that the true FFR <= tau "
                "holds at this confidence (one-sided Clopper-Pearson bound), not only on the labeled "
                "sample; 0 = in-sample, as SPADE does.",
            ),
        ] = 0.9,
        prompt_version: Annotated[
            str | None,
            typer.Option(
                "--prompt-version",
                metavar="VERSION",
                help="The version whose instructions are checked: an index (1 = oldest), a "
                "version label or a commit sha. Default: the latest. Instructions it no longer "
                "has are never checked.",
            ),
        ] = None,
        strict: Annotated[
            bool,
            typer.Option(
                help="Fail (exit 2, nothing written) when alpha/tau cannot be met instead of "
                "relaxing them to the nearest feasible targets."
            ),
        ] = False,
        unvalidated: Annotated[
            Severity,
            typer.Option(
                "--unvalidated",
                help="Severity of the checks of a prompt without labeled responses: warn "
                "reports their failures without enforcing them (nothing measured how often they "
                "fail good outputs); block enforces them.",
            ),
        ] = Severity.warn,
        force: ForceOpt = False,
    ) -> None:
        """Synthesize assertions from prompt version histories (offline unless --model)."""
        from rich.console import Console

        from llmassert.commands._console import console as make_console
        from llmassert.synth.engine import commit, synthesize
        from llmassert.synth.report import print_table
        from llmassert.synth.report_html import render_html
        from llmassert.synth.writer import PendingFile

        _check_outputs(out, html, {"PATH": path, "--labels": labels})
        err = Console(stderr=True)
        progress = RichProgress(err) if err.is_terminal else None
        kwargs: dict[str, Any] = dict(
            out_dir=out,
            alpha=alpha,
            tau=tau,
            method=method.value,
            holdout=holdout,
            seed=seed,
            labels=labels,
            git=git,
            strict=strict,
            write=False,
            progress=progress,
            ffr_confidence=ffr_confidence or None,
            force=force,
            version=prompt_version,
            unvalidated=unvalidated.value,
        )

        def run(client: Any = None) -> Any:
            if progress is None:
                return synthesize(path, settings=settings, client=client, **kwargs)
            with progress:
                return synthesize(path, settings=settings, client=client, **kwargs)

        if settings.model:
            with llm_session(settings, "synth", quiet=as_json) as client:
                report = run(client)
        else:
            report = run()
        extra = [PendingFile(html, render_html(report))] if html is not None else []
        commit(report, extra, force=force)
        if as_json:
            sys.stdout.write(report.dumps_json())
            for line in report.warnings:
                print(f"warning: {line}", file=sys.stderr)
        else:
            out_console = make_console()
            print_table(report, out_console)
            if html is not None:
                out_console.print(f"HTML report: {html}", highlight=False)
