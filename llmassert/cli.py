"""Command-line entry point: parse, call the library, map errors to exit codes.

Exit codes (documented in README.md, "Exit codes"):
  0  success
  1  assertions failed / regression detected
  2  error (bad input, config, LLM, pipeline) — one line on stderr naming file and field
  3  budget exhausted (--max-cost / --max-tokens); a report of what was done is printed

Each subcommand lives in ``llmassert.commands.<name>`` and must import cheaply: heavy modules
(litellm above all) are imported inside the command body, so ``llmassert --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from typing import NoReturn

import typer

from llmassert.errors import EXIT_ERROR, LlmAssertError
from llmassert.secrets import scrub

app = typer.Typer(
    name="llmassert",
    help="Turn prompt histories into assertions for LLM outputs, and enforce them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMAND_MODULES = ("synth", "select", "run", "test", "report", "cache", "schema", "label")


def _register() -> None:
    import importlib

    for name in COMMAND_MODULES:
        module = importlib.import_module(f"llmassert.commands.{name}")
        module.register(app)


_register()


def _click_error_types() -> tuple[tuple[type[Exception], ...], tuple[type[BaseException], ...]]:
    """Usage-error and abort classes of the click that typer runs on.

    typer >= 0.20 vendors click as ``typer._click``; older releases use ``click`` itself.
    """
    errors: list[type[Exception]] = []
    aborts: list[type[BaseException]] = [typer.Abort]
    try:
        from typer._click import exceptions as vendored

        errors.append(vendored.ClickException)
        # click itself is not what this typer runs on: not imported (~20 ms of start-up).
        return tuple(errors), tuple(aborts)
    except ImportError:
        pass
    try:
        import click

        errors.append(click.ClickException)
        aborts.append(click.Abort)
    except ImportError:
        pass
    return tuple(errors), tuple(aborts)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (the console script passes it to sys.exit)."""
    command = typer.main.get_command(app)
    usage_errors, aborts = _click_error_types()
    interrupts: tuple[type[BaseException], ...] = (*aborts, KeyboardInterrupt)
    try:
        result = command.main(args=argv, prog_name="llmassert", standalone_mode=False)
    except LlmAssertError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except usage_errors as e:
        e.show()  # type: ignore[attr-defined]
        return int(e.exit_code)  # type: ignore[attr-defined]
    except interrupts:
        print("aborted", file=sys.stderr)
        return 130
    except Exception:
        # A bug: shown with its traceback (exit 1, as Python would), but through the scrubber,
        # since frames and messages can quote a key or a URL with credentials.
        print(scrub(traceback.format_exc()), file=sys.stderr, end="")
        return 1
    return result if isinstance(result, int) else 0


__all__ = ["EXIT_ERROR", "app", "entry", "exit_process", "main"]


def exit_process(code: int) -> NoReturn:
    """End the process with ``code`` after the at-exit handlers, without the interpreter's
    teardown (freeing every module and object one by one, and a last full collection over
    them): 0.2-0.4 s after a pipeline run's last write, as long as its ~3 s of LLM calls.

    Nothing is skipped that a command needs: our files are written and closed before the
    command returns, the at-exit handlers run (logging, connection pools), stdout and stderr
    are flushed.  A live non-daemon thread (someone else's work) or a profiler or tracer
    (``python -m cProfile``, debuggers: they report after the program returns) gets the
    normal exit.
    """
    import atexit
    import os
    import threading

    main_thread = threading.main_thread()
    watched = sys.getprofile() is not None or sys.gettrace() is not None
    if watched or any(
        t.is_alive() and not t.daemon for t in threading.enumerate() if t is not main_thread
    ):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(code)


def entry() -> NoReturn:
    """The console script: :func:`main`, then :func:`exit_process`."""
    exit_process(main())


if __name__ == "__main__":
    entry()
