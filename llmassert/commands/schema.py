"""``llmassert schema``: the JSON Schema of pipeline YAML files, for editors and CI linters.

Point an editor at it (VS Code YAML: ``# yaml-language-server: $schema=pipeline.schema.json``)
to get completion and inline errors for every operator's keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)


def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Print the JSON Schema of pipeline YAML (operations as a union on `type`)."""
    import json

    from llmassert.fileio import atomic_write_text, check_output_file
    from llmassert.pipeline.spec import pipeline_json_schema

    if output is not None:
        check_output_file(output, field="--output")
    text = json.dumps(pipeline_json_schema(), indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        atomic_write_text(output, text)
