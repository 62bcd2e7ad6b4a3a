"""Restricted runtime for assertion code, and the sandbox worker process that uses it.

This file is stdlib-only on purpose: :class:`llmassert.sandbox.ProcessSandbox` runs it as a
script (``python -I .../sandbox/_worker.py``) so that a worker starts in ~30 ms without importing
the ``llmassert`` package (pydantic, config) or litellm. The in-process loader
(:func:`llmassert.sandbox.load_inline`) imports the same runtime from here.

Protocol (one JSON document per line; requests on stdin, replies on stdout):

- worker start: ``{"ready": true}``
- ``{"op": "load", "id": ID, "source": SRC, "filename": F}`` ->
  ``{"ok": true, "functions": [...]}`` or ``{"ok": false, "error": "..."}``
- ``{"op": "call", "id": ID, "fns": [...], "items": [[example, response], ...], "start": K,
  "timeout": T}`` -> one line ``[value, error, kind]`` per call, item-major, beginning at call
  ``K``. ``value`` is true/false, or null with ``error`` set and ``kind`` "error" (the code
  raised) or "limit" (time or memory limit). Each line is flushed as soon as its
  call ends, so the parent knows exactly which call was running if it must kill the worker.
- ``{"op": "unload", "id": ID}`` -> ``{"ok": true}``
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import re
import string
import sys
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

HELPERS = "llmassert.assertions.helpers"
JUDGE = "llmassert.assertions.judge"
# Stdlib-only helper modules generated code may import, loaded by path in this order (later ones
# import earlier ones): the text helpers, the response parser, the format/similarity checks.
HELPER_FILES = {
    HELPERS: "helpers.py",
    "llmassert.assertions.parse": "parse.py",
    "llmassert.assertions.formats": "formats.py",
}
ALLOWED_MODULES = ("re", "json", "math", "string", *HELPER_FILES, JUDGE)
MAX_RANGE = 10_000_000
# The worker loads helpers.py by path (it never imports the llmassert package).
HELPERS_PATH = Path(__file__).resolve().parent.parent / "assertions" / "helpers.py"


def _bounded_range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise ValueError(f"range of {len(r)} items is over the sandbox limit of {MAX_RANGE}")
    return r


def _safe_type(obj: object) -> type:
    # type(obj) of a class is its metaclass, whose 3-argument call builds new classes.
    t = type(obj)
    if issubclass(t, type):
        raise TypeError("type() of a class is not allowed in assertion code")
    return t


def _no_print(*_args: object, **_kwargs: object) -> None:
    """print() is accepted and ignored: assertion output would corrupt the worker protocol."""


_PLAIN_BUILTINS = [
    "abs",
    "all",
    "any",
    "ascii",
    "bin",
    "bool",
    "bytes",
    "chr",
    "dict",
    "divmod",
    "enumerate",
    "filter",
    "float",
    "frozenset",
    "hex",
    "int",
    "isinstance",
    "len",
    "list",
    "map",
    "max",
    "min",
    "next",
    "oct",
    "ord",
    "repr",
    "reversed",
    "round",
    "set",
    "slice",
    "sorted",
    "str",
    "sum",
    "tuple",
    "zip",
    "Exception",
    "ArithmeticError",
    "AssertionError",
    "IndexError",
    "KeyError",
    "LookupError",
    "NotImplementedError",
    "OverflowError",
    "RuntimeError",
    "StopIteration",
    "TypeError",
    "UnicodeError",
    "ValueError",
    "ZeroDivisionError",
    "True",
    "False",
    "None",
]


def safe_builtins(importer: Callable[..., Any]) -> dict[str, Any]:
    """The builtins assertion code sees: a small pure subset plus a guarded ``__import__``."""
    import builtins

    table: dict[str, Any] = {name: getattr(builtins, name) for name in _PLAIN_BUILTINS}
    table.update(range=_bounded_range, type=_safe_type, print=_no_print, __import__=importer)
    return table


def make_importer(resolve: Callable[[str], Any]) -> Callable[..., Any]:
    """A ``__import__`` that only hands out the allowlisted modules, via ``resolve(name)``."""

    def guarded_import(
        name: str,
        globals: Mapping[str, Any] | None = None,
        locals: Mapping[str, Any] | None = None,
        fromlist: tuple[str, ...] | None = (),
        level: int = 0,
    ) -> Any:
        if name == "__future__" and fromlist:
            return importlib.import_module("__future__")
        if level != 0 or name not in ALLOWED_MODULES or ("." in name and not fromlist):
            raise ImportError(f"import of {name!r} is not allowed in assertion code")
        return resolve(name)

    return guarded_import


def exec_source(source: str, filename: str, builtins_table: Mapping[str, Any]) -> dict[str, Any]:
    """Execute already-validated source in a fresh namespace; return its namespace."""
    namespace: dict[str, Any] = {
        "__builtins__": dict(builtins_table),
        "__name__": "llmassert_sandboxed",
    }
    exec(compile(source, filename, "exec"), namespace)
    return namespace


def public_functions(namespace: Mapping[str, Any]) -> dict[str, Callable[..., Any]]:
    """Functions defined by the source (not imported helpers), by name."""
    return {
        name: value
        for name, value in namespace.items()
        if isinstance(value, types.FunctionType)
        and not name.startswith("_")
        and value.__module__ == "llmassert_sandboxed"
    }


# --- the worker process ------------------------------------------------------------------------


class _CallTimeout(BaseException):
    """Raised by SIGALRM; a BaseException so assertion code (``except Exception``) cannot catch it."""


def _load_helpers_by_path(name: str = HELPERS) -> types.ModuleType:
    # Load the helper modules without importing the llmassert package (pydantic, config): fast
    # start. Registered in sys.modules first, so `from llmassert.assertions.helpers import x`
    # inside a later helper module finds it without importing the package.
    path = HELPERS_PATH.parent / HELPER_FILES[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - broken install
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _judge_stub() -> types.ModuleType:
    module = types.ModuleType(JUDGE)

    def llm_judge(*_args: Any, **_kwargs: Any) -> bool:
        raise RuntimeError("LLM-judge assertions do not run in the process sandbox")

    module.llm_judge = llm_judge  # type: ignore[attr-defined]
    return module


def _set_limits(memory_mb: int) -> None:
    import resource

    limit = memory_mb * 1024 * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _cpu_budget(seconds: float) -> None:
    # RLIMIT_CPU is cumulative for the process: move the soft limit to "used so far + budget"
    # per batch, a backstop (SIGXCPU kills us) for code that ignores SIGALRM inside C calls.
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(used + seconds) + 2
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def serve(memory_mb: int) -> None:
    """Worker main loop: read requests from stdin, answer on stdout until EOF."""
    import signal

    out = sys.stdout.buffer
    # Nothing the sandboxed code does may write to the protocol stream.
    sys.stdout = sys.stderr
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.setrecursionlimit(500)
    _set_limits(memory_mb)

    modules: dict[str, Any] = {"re": re, "json": json, "math": math, "string": string}
    for name in HELPER_FILES:
        modules[name] = _load_helpers_by_path(name)
    modules[JUDGE] = _judge_stub()
    table = safe_builtins(make_importer(modules.__getitem__))
    loaded: dict[str, dict[str, Callable[..., Any]]] = {}

    def on_alarm(_signum: int, _frame: Any) -> None:
        raise _CallTimeout

    signal.signal(signal.SIGALRM, on_alarm)

    def send(obj: Any) -> None:
        out.write(json.dumps(obj).encode() + b"\n")
        out.flush()

    send({"ready": True})
    for raw in sys.stdin.buffer:
        request = json.loads(raw)
        op = request["op"]
        if op == "load":
            try:
                namespace = exec_source(request["source"], request["filename"], table)
                loaded[request["id"]] = public_functions(namespace)
                send({"ok": True, "functions": sorted(loaded[request["id"]])})
            except BaseException as e:  # the source's module level failed
                send({"ok": False, "error": f"{type(e).__name__}: {e}"})
        elif op == "unload":
            loaded.pop(request["id"], None)
            send({"ok": True})
        elif op == "call":
            _run_calls(request, loaded, send)


def _run_calls(
    request: dict[str, Any],
    loaded: Mapping[str, Mapping[str, Callable[..., Any]]],
    send: Callable[[Any], None],
) -> None:
    import signal

    functions = loaded.get(request["id"], {})
    fns = request["fns"]
    items = request["items"]
    timeout = float(request["timeout"])
    start = int(request.get("start", 0))
    _cpu_budget(timeout * max(1, len(fns) * len(items) - start) + 1)
    for k in range(start, len(fns) * len(items)):
        example, response = items[k // len(fns)]
        fn = functions.get(fns[k % len(fns)])
        if fn is None:
            send([None, f"no function {fns[k % len(fns)]!r} in this source", "error"])
            continue
        try:
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                # A shallow copy: one candidate mutating the example must not change the next one's.
                value = fn(dict(example) if isinstance(example, dict) else example, response)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            send([bool(value), None, None])
        except _CallTimeout:
            send([None, f"timed out after {timeout:g} s", "limit"])
        except MemoryError:
            send([None, "MemoryError: over the sandbox memory limit", "limit"])
        except BaseException as e:
            send([None, f"{type(e).__name__}: {e}"[:300], "error"])


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else 512)
