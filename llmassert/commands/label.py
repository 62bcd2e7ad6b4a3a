"""`llmassert label PROMPT`: grade responses in the terminal; every grade saved at once.

Grades go to the prompt's labels file (``labeled.jsonl`` in a prompt folder, else
``<name>.labeled.jsonl`` beside it: where ``synth`` reads them). Exit codes: 0 done or quit
(everything graded is saved), 2 bad input (one line naming file and field), 130 interrupted.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from llmassert.commands._options import llm_options, llm_session, share_option
from llmassert.config import Settings
from llmassert.errors import InputError


class StrategyName(StrEnum):
    active = "active"
    random = "random"
    order = "order"
    uncertainty = "uncertainty"


def register(app: typer.Typer) -> None:
    @app.command("label")
    @llm_options
    def label(
        prompt: Annotated[
            Path, typer.Argument(help="One prompt: a version folder, <name>.yaml, or a git file.")
        ],
        settings: Settings,
        responses: Annotated[
            Path | None,
            typer.Option(help="JSONL of responses to grade: {input: {...}, response: '...'}."),
        ] = None,
        from_log: Annotated[
            Path | None,
            typer.Option(
                "--from-log",
                help="Grade the responses of a failure log (needs guard(..., log_raw=True)).",
            ),
        ] = None,
        inputs: Annotated[
            Path | None,
            typer.Option(
                help="JSONL of inputs: run the prompt's latest version on each with --model "
                "(cached, recordable), then grade the answers."
            ),
        ] = None,
        strategy: Annotated[
            StrategyName, typer.Option(help="Which response next (see docs/labeling.md).")
        ] = StrategyName.active,
        assertions: Annotated[
            Path,
            typer.Option(help="Where synth wrote <prompt>.json: its candidates are the checks."),
        ] = Path("assertions"),
        alpha: Annotated[float, share_option()] = 0.6,
        tau: Annotated[float, share_option()] = 0.25,
        ffr_confidence: Annotated[float, typer.Option(min=0.0, max=0.999)] = 0.9,
        seed: Annotated[int, typer.Option(help="Seed of --strategy random.")] = 0,
    ) -> int:
        """Grade responses: g good, b bad, n note, s skip, u undo, q quit. Every grade is saved
        at once to the prompt's labels file; rerun to resume."""
        from llmassert.label.generate import generate, read_inputs
        from llmassert.label.prepare import load_history, prepare
        from llmassert.label.selection import Targets
        from llmassert.label.sources import read_failure_log, read_responses
        from llmassert.label.tui import LabelUI, is_terminal

        given = [p for p in (responses, from_log, inputs) if p is not None]
        if len(given) != 1:
            raise InputError(
                "give exactly one of --responses FILE.jsonl, --from-log FAILURE_LOG or "
                "--inputs FILE.jsonl (with --model)",
                field="--responses",
            )
        # Every input is checked before the terminal is taken over or a model is called.
        history = load_history(prompt)
        items = []
        xs = []
        if responses is not None:
            items = read_responses(responses)
        elif from_log is not None:
            items = read_failure_log(from_log)
        else:
            assert inputs is not None
            if not settings.model:
                raise InputError("--inputs needs a model to run the prompt", field="--model")
            xs = read_inputs(inputs, history)
        if not is_terminal():
            raise InputError("needs a terminal to read keys from", field="stdin")
        targets = Targets(alpha=alpha, tau=tau, ffr_confidence=ffr_confidence or None)
        if not settings.model:
            prepared = prepare(history, items, assertions=assertions, targets=targets)
            return LabelUI(prepared, strategy.value, seed=seed).run()
        with llm_session(settings, "label") as client:
            if xs:
                items = generate(history, xs, client, settings.model)
            prepared = prepare(
                history,
                items,
                assertions=assertions,
                targets=targets,
                client=client,
                model=settings.model,
            )
            return LabelUI(prepared, strategy.value, seed=seed).run()
