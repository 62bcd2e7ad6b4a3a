"""Options shared by every command that calls an LLM, and the session that wraps such a command.

Two ways to use them in a command module::

    from llmassert.commands._options import llm_options, llm_session

    @app.command()
    @llm_options
    def run(pipeline: Path, settings: Settings) -> None:   # `settings` is built from the flags
        with llm_session(settings, "run-" + pipeline.stem) as client:
            ...

or declare ``flags: LLMFlags`` instead of ``settings`` and call ``flags.settings(base)``.
Imports stay cheap: nothing here imports litellm (the client is built inside ``llm_session``).
"""

from __future__ import annotations

import functools
import inspect
import sys
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from llmassert.config import Settings
from llmassert.errors import ConfigError
from llmassert.fileio import check_output_dir

if TYPE_CHECKING:
    from llmassert.llm.client import LLMClient

PANEL = "LLM options"


def share_option(*flags: str, help: str | None = None) -> Any:
    """An option taking a share between 0 and 1 (coverage alpha, false-failure ceiling tau...)."""
    return typer.Option(*flags, min=0.0, max=1.0, help=help)


# Not an LLM option: shared by the commands that write assertions/<name>.py (synth, select).
ForceOpt = Annotated[
    bool,
    typer.Option("--force", help="Overwrite <name>.py even if it was edited since it was written."),
]


def _flag(flag: str, help: str, **kw: Any) -> dict[str, Any]:
    """Metadata of an :class:`LLMFlags` field: its command-line option (LLM options panel)."""
    return {"option": typer.Option(flag, help=help, rich_help_panel=PANEL, **kw)}


@dataclass(frozen=True)
class LLMFlags:
    """The shared LLM options, as given on the command line (None: not given).

    Each option is declared once, here: ``@llm_options`` adds these fields to a command's
    signature (in this order) and hands the command ``settings`` built from them, or the
    flags themselves when it declares ``flags: LLMFlags`` (``run`` layers them over the
    pipeline's ``default_lm_api_base``).
    """

    model: str | None = field(
        default=None,
        metadata=_flag(
            "--model", "litellm model string, e.g. openai/gpt-4o-mini (env LLMASSERT_MODEL)."
        ),
    )
    embedding_model: str | None = field(
        default=None,
        metadata=_flag(
            "--embedding-model",
            "Embedding model, e.g. openai/text-embedding-3-small (env LLMASSERT_EMBEDDING_MODEL).",
        ),
    )
    api_base: str | None = field(
        default=None,
        metadata=_flag(
            "--api-base",
            "OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 "
            "(env LLMASSERT_API_BASE, OPENAI_API_BASE, OPENAI_BASE_URL).",
        ),
    )
    max_concurrency: int | None = field(
        default=None,
        metadata=_flag(
            "--max-concurrency", "Most LLM requests in flight at once (default 32).", min=1
        ),
    )
    rpm: int | None = field(
        default=None, metadata=_flag("--rpm", "Request limit per minute.", min=1)
    )
    tpm: int | None = field(default=None, metadata=_flag("--tpm", "Token limit per minute.", min=1))
    record: Path | None = field(
        default=None,
        metadata=_flag("--record", "Record LLM HTTP traffic into cassettes in DIR.", metavar="DIR"),
    )
    replay: Path | None = field(
        default=None,
        metadata=_flag(
            "--replay",
            "Answer LLM calls only from cassettes in DIR (offline; a "
            "request not recorded is an error).",
            metavar="DIR",
        ),
    )
    max_cost: float | None = field(
        default=None,
        metadata=_flag(
            "--max-cost", "Stop starting LLM calls once this many USD are spent.", min=0
        ),
    )
    max_tokens: int | None = field(
        default=None,
        metadata=_flag(
            "--max-tokens", "Stop starting LLM calls once this many tokens are used.", min=1
        ),
    )
    cache_dir: Path | None = field(
        default=None,
        metadata=_flag(
            "--cache-dir",
            "LLM response cache (default .llmassert/cache) (env LLMASSERT_CACHE_DIR).",
        ),
    )
    no_cache: bool = field(
        default=False,
        metadata=_flag("--no-cache", "Neither read nor write the LLM response cache."),
    )

    def settings(self, base: Settings | None = None) -> Settings:
        """Settings from these flags on top of ``base`` (default: the environment).

        ``base`` lets a command layer flags over settings from a file (e.g. a pipeline's
        ``default_model``): flags win.
        """
        if self.record is not None and self.replay is not None:
            raise ConfigError("--record and --replay cannot be used together", field="--replay")
        plain = {f: v for f, v in asdict(self).items() if f not in ("record", "replay", "no_cache")}
        overrides: dict[str, Any] = {_SETTING.get(f, f): v for f, v in plain.items()}
        if self.record is not None:
            # A file there would surface only when the cassette is saved, after every call.
            check_output_dir(self.record, field="--record")
            overrides |= {"mode": "record", "cassette_dir": self.record}
        elif self.replay is not None:
            overrides |= {"mode": "replay", "cassette_dir": self.replay}
        given = {k: v for k, v in overrides.items() if v is not None}
        settings = base.replace(**given) if base is not None else Settings.from_env(**given)
        if self.no_cache:
            settings = settings.replace(cache_dir=None)
        return settings


# Flags whose Settings field has another name.
_SETTING = {"max_tokens": "max_tokens_total"}

# name → (annotation, default) of every shared option, in --help order.
_HINTS = typing.get_type_hints(LLMFlags)
OPTIONS: dict[str, tuple[Any, Any]] = {
    f.name: (Annotated[_HINTS[f.name], f.metadata["option"]], f.default) for f in fields(LLMFlags)
}


def settings_from_options(*, base: Settings | None = None, **flags: Any) -> Settings:
    """Settings from flags (the :class:`LLMFlags` fields; None: not given) on top of ``base``."""
    return LLMFlags(**flags).settings(base)


F = TypeVar("F", bound=Callable[..., Any])


def llm_options(func: F) -> F:
    """Add the shared LLM options to a typer command; it receives ``settings: Settings`` instead.

    The decorated function must have a parameter named ``settings`` (built from the flags and
    the environment) or ``flags`` (the :class:`LLMFlags` as given).
    """
    sig = inspect.signature(func)
    target = next((n for n in ("settings", "flags") if n in sig.parameters), None)
    if target is None:
        raise TypeError(
            f"{func.__name__} needs a `settings` or `flags` parameter to use @llm_options"
        )
    # Resolve string annotations (PEP 563) in the command's own module, where its names live.
    hints = typing.get_type_hints(func, include_extras=True)
    own = [
        p.replace(annotation=hints.get(name, p.annotation))
        for name, p in sig.parameters.items()
        if name != target
    ]
    extra = [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
        )
        for name, (annotation, default) in OPTIONS.items()
    ]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        flags = LLMFlags(**{name: kwargs.pop(name) for name in OPTIONS if name in kwargs})
        given = flags if target == "flags" else flags.settings()
        return func(*args, **{target: given}, **kwargs)

    wrapper.__signature__ = sig.replace(parameters=[*own, *extra])  # type: ignore[attr-defined]
    hints.pop(target, None)
    hints.pop("return", None)
    wrapper.__annotations__ = {**hints, **{n: a for n, (a, _) in OPTIONS.items()}}
    del wrapper.__wrapped__  # typer must see the new signature, not the original
    return wrapper  # type: ignore[return-value]


@contextmanager
def llm_session(settings: Settings, name: str, *, quiet: bool = False) -> Iterator[LLMClient]:
    """Build the client, activate record/replay (cassette ``name``) and report usage on exit.

    Every ``llmassert.llm.get_client(settings)`` inside the block returns the same client, so the
    concurrency bound, rate limits and budget hold for the whole command.
    """
    from llmassert.llm.session import session

    with session(settings, name) as client:
        try:
            yield client
        finally:
            summary = getattr(client, "summary", None)
            if not quiet and summary is not None:
                report = summary()
                if report.calls:
                    print(report.line(), file=sys.stderr)
