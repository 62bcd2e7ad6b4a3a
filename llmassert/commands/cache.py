"""`llmassert cache clear|info`: manage the LLM response cache."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

cache_app = typer.Typer(
    help="Manage the content-addressed LLM response cache.", no_args_is_help=True
)

CacheDir = Annotated[
    Path | None, typer.Option("--cache-dir", help="Cache folder (default .llmassert/cache).")
]


def register(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")


@cache_app.command("clear")
def clear(cache_dir: CacheDir = None) -> None:
    """Delete every cached LLM response (only files llmassert provably wrote there)."""
    from llmassert.config import Settings
    from llmassert.llm.cache import DiskCache

    settings = Settings.from_env(cache_dir=cache_dir)
    removed = DiskCache(settings.cache_dir).clear() if settings.cache_dir else 0
    typer.echo(f"removed {removed} cached responses from {settings.cache_dir}")


@cache_app.command("info")
def info(cache_dir: CacheDir = None) -> None:
    """Show how many responses are cached and their size."""
    from llmassert.config import Settings
    from llmassert.llm.cache import DiskCache

    settings = Settings.from_env(cache_dir=cache_dir)
    if not settings.cache_dir:
        typer.echo("cache disabled")
        return
    count, size = DiskCache(settings.cache_dir).stats()
    typer.echo(f"{count} cached responses, {size / 1024:.1f} KiB in {settings.cache_dir}")
