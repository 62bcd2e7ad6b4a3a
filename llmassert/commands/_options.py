"""Options shared by every command that calls an LLM, and the session that wraps such a command.

Two ways to use them in a command module::

    from llmassert.commands._options import llm_options, llm_session

    @app.command()
    @llm_options
    def run(pipeline: Path, settings: Settings) -> None:   # `settings` is built from the flags
        with llm_session(settings, "run-" + pipeline.stem) as client:
            ...

or declare the ``Annotated`` aliases below yourself and call :func:`settings_from_options`.
Imports stay cheap: nothing here imports litellm (the client is built inside ``llm_session``).
"""

from __future__ import annotations

import functools
import inspect
import sys
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from llmassert.config import Settings
from llmassert.errors import ConfigError
from llmassert.fileio import check_output_dir

if TYPE_CHECKING:
    from llmassert.llm.client import LLMClient

PANEL = "LLM options"


def _llm_option(flag: str, help: str, **kw: Any) -> Any:
    """A typer option shown under the LLM options panel of ``--help``."""
    return typer.Option(flag, help=help, rich_help_panel=PANEL, **kw)


ModelOpt = Annotated[
    str | None,
    _llm_option("--model", "litellm model string, e.g. openai/gpt-4o-mini (env LLMASSERT_MODEL)."),
]
EmbeddingModelOpt = Annotated[
    str | None,
    _llm_option(
        "--embedding-model",
        "Embedding model, e.g. openai/text-embedding-3-small (env LLMASSERT_EMBEDDING_MODEL).",
    ),
]
ApiBaseOpt = Annotated[
    str | None,
    _llm_option(
        "--api-base",
        "OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 "
        "(env LLMASSERT_API_BASE, OPENAI_API_BASE, OPENAI_BASE_URL).",
    ),
]
MaxConcurrencyOpt = Annotated[
    int | None,
    _llm_option("--max-concurrency", "Most LLM requests in flight at once (default 32).", min=1),
]
RpmOpt = Annotated[int | None, _llm_option("--rpm", "Request limit per minute.", min=1)]
TpmOpt = Annotated[int | None, _llm_option("--tpm", "Token limit per minute.", min=1)]
RecordOpt = Annotated[
    Path | None,
    _llm_option("--record", "Record LLM HTTP traffic into cassettes in DIR.", metavar="DIR"),
]
ReplayOpt = Annotated[
    Path | None,
    _llm_option(
        "--replay",
        "Answer LLM calls only from cassettes in DIR (offline; a "
        "request not recorded is an error).",
        metavar="DIR",
    ),
]
MaxCostOpt = Annotated[
    float | None,
    _llm_option("--max-cost", "Stop starting LLM calls once this many USD are spent.", min=0),
]
MaxTokensOpt = Annotated[
    int | None,
    _llm_option("--max-tokens", "Stop starting LLM calls once this many tokens are used.", min=1),
]
CacheDirOpt = Annotated[
    Path | None,
    _llm_option(
        "--cache-dir", "LLM response cache (default .llmassert/cache) (env LLMASSERT_CACHE_DIR)."
    ),
]
NoCacheOpt = Annotated[
    bool, _llm_option("--no-cache", "Neither read nor write the LLM response cache.")
]


def share_option(*flags: str, help: str | None = None) -> Any:
    """An option taking a share between 0 and 1 (coverage alpha, false-failure ceiling tau...)."""
    return typer.Option(*flags, min=0.0, max=1.0, help=help)


# Not an LLM option: shared by the commands that write assertions/<name>.py (synth, select).
ForceOpt = Annotated[
    bool,
    typer.Option("--force", help="Overwrite <name>.py even if it was edited since it was written."),
]

# name → (annotation, default) of every shared option, in --help order.
OPTIONS: dict[str, tuple[Any, Any]] = {
    "model": (ModelOpt, None),
    "embedding_model": (EmbeddingModelOpt, None),
    "api_base": (ApiBaseOpt, None),
    "max_concurrency": (MaxConcurrencyOpt, None),
    "rpm": (RpmOpt, None),
    "tpm": (TpmOpt, None),
    "record": (RecordOpt, None),
    "replay": (ReplayOpt, None),
    "max_cost": (MaxCostOpt, None),
    "max_tokens": (MaxTokensOpt, None),
    "cache_dir": (CacheDirOpt, None),
    "no_cache": (NoCacheOpt, False),
}


@dataclass(frozen=True)
class LLMFlags:
    """The shared LLM options as given on the command line (None: not given).

    What ``@llm_options`` hands a command that declares ``flags: LLMFlags`` instead of
    ``settings``: for a command that layers the flags over settings of its own (``run``: the
    pipeline's ``default_lm_api_base``) or reads one flag itself.
    """

    model: str | None = None
    embedding_model: str | None = None
    api_base: str | None = None
    max_concurrency: int | None = None
    rpm: int | None = None
    tpm: int | None = None
    record: Path | None = None
    replay: Path | None = None
    max_cost: float | None = None
    max_tokens: int | None = None
    cache_dir: Path | None = None
    no_cache: bool = False

    def settings(self, base: Settings | None = None) -> Settings:
        """These flags on top of ``base`` (see :func:`settings_from_options`)."""
        return settings_from_options(**asdict(self), base=base)


def settings_from_options(
    *,
    model: str | None = None,
    embedding_model: str | None = None,
    api_base: str | None = None,
    max_concurrency: int | None = None,
    rpm: int | None = None,
    tpm: int | None = None,
    record: Path | None = None,
    replay: Path | None = None,
    max_cost: float | None = None,
    max_tokens: int | None = None,
    cache_dir: Path | None = None,
    no_cache: bool = False,
    base: Settings | None = None,
) -> Settings:
    """Settings from flags on top of ``base`` (default: the environment); None means "not given".

    ``base`` lets a command layer flags over settings from a file (e.g. a pipeline's
    ``default_model``): flags win.
    """
    if record is not None and replay is not None:
        raise ConfigError("--record and --replay cannot be used together", field="--replay")
    overrides: dict[str, Any] = {
        "model": model,
        "embedding_model": embedding_model,
        "api_base": api_base,
        "max_concurrency": max_concurrency,
        "rpm": rpm,
        "tpm": tpm,
        "max_cost": max_cost,
        "max_tokens_total": max_tokens,
        "cache_dir": cache_dir,
    }
    if record is not None:
        # A file there would surface only when the cassette is saved, after every call.
        check_output_dir(record, field="--record")
        overrides |= {"mode": "record", "cassette_dir": record}
    elif replay is not None:
        overrides |= {"mode": "replay", "cassette_dir": replay}
    given = {k: v for k, v in overrides.items() if v is not None}
    settings = base.replace(**given) if base is not None else Settings.from_env(**given)
    if no_cache:
        settings = settings.replace(cache_dir=None)
    return settings


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
