"""Restricted runtime for assertion code, and the sandbox worker process that uses it.

This file is stdlib-only on purpose: :class:`llmassert.sandbox.ProcessSandbox` runs it as a
script (``python -I -S .../sandbox/_worker.py``) so that a worker starts in ~30 ms without
importing the ``llmassert`` package (pydantic, config) or litellm. The in-process loader
(:func:`llmassert.sandbox.load_inline`) imports the same runtime from here.

What assertion code can reach: a copy of a small builtins table, and *read-only proxies* of the
allowlisted modules (never the modules themselves, so ``json.dumps = str`` cannot rebind
anything even if the static allowlist missed it). Its module-level constants are deep-frozen
after loading and every example it receives is deep-frozen (``_frozen.py``).

Protocol. Requests: one JSON document per line on stdin. Replies: fixed binary frames on a file
descriptor duplicated *before* any assertion code loads (``fd 1`` is then pointed at stderr);
each frame is ``struct ">BIBI"`` = (tag, index, status, length) followed by ``length`` bytes of
UTF-8 text (an error message, at most ``MAX_TEXT``; a code operation's JSON result, at most
``MAX_VALUE``, encoded by an encoder bound before any code loads). The frame is built only from ints the
worker computes and ``str.encode`` -- no serializer assertion code could reach -- and the
parent checks tag, index, status and length of every frame (``process.py``).

- worker start: ``(READY, 0, 0, 0)``
- ``{"op": "load", "id": ID, "source": SRC, "filename": F, "profile": "check"|"code"}`` ->
  ``(LOADED, 0, 1, 0)`` or
  ``(LOADED, 0, 0, n) + error``
- ``{"op": "call", "id": ID, "fns": [...], "items": [[example, response], ...], "start": K,
  "timeout": T}`` -> one ``(RESULT, k, status, n) + error`` per call ``k = K, K+1, ...``,
  item-major; ``status`` is ``FALSE``, ``TRUE``, ``ERROR`` (the code raised) or ``LIMIT`` (time or
  memory limit). Each frame is written as soon as its call ends, so the parent knows exactly
  which call was running if it must kill the worker.
- ``{"op": "apply", "id": ID, "fn": F, "items": [[arg, ...], ...], "start": K, "timeout": T}``
  (code operations) -> one ``(VALUE, k, status, n) + text`` per item: ``TRUE`` with the JSON of
  ``F(*args)``, or ``ERROR``/``LIMIT`` with a one-line reason.
- ``{"op": "unload", "id": ID}`` -> ``(UNLOADED, 0, 1, 0)``
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import math
import string
import struct
import sys
import threading
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

# The stdlib-only leaves helpers.py imports (and this file: _frozen), by module name.
LEAVES = {
    "llmassert.sandbox._frozen": Path(__file__).with_name("_frozen.py"),
    "llmassert.sandbox._regex": Path(__file__).with_name("_regex.py"),
    "llmassert.sandbox._guards": Path(__file__).with_name("_guards.py"),
    "llmassert.textunits": Path(__file__).resolve().parent.parent / "textunits.py",
}


def _register_leaves_by_path(re2_dir: str | None) -> None:
    # Run as the worker script there is no package on sys.path: load the leaves by path and
    # register them under their package names, where helpers.py (and the import below) find them.
    # `from llmassert.sandbox import _regex` also needs the package itself in sys.modules: a
    # bare namespace holding the sandbox leaves is enough.
    if re2_dir is not None:
        # The host's RE2, by path (no site-packages here), before _regex imports it: regex calls
        # route here as they do in the host, so a check's verdict does not depend on where it
        # ran. A failed load stops the worker from starting rather than change verdicts.
        spec = importlib.util.spec_from_file_location(
            "re2", Path(re2_dir) / "__init__.py", submodule_search_locations=[re2_dir]
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["re2"] = module
        spec.loader.exec_module(module)
    package = types.ModuleType("llmassert.sandbox")
    package.__path__ = []
    sys.modules.setdefault("llmassert.sandbox", package)
    for name, path in LEAVES.items():
        if name in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        if name.startswith("llmassert.sandbox."):
            setattr(package, name.rsplit(".", 1)[1], module)


if __name__ == "__main__":
    _register_leaves_by_path(sys.argv[2] if len(sys.argv) > 2 else None)
from llmassert.sandbox import _guards, _regex  # noqa: E402
from llmassert.sandbox._frozen import Sealed, freeze, thaw  # noqa: E402

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
# What assertion code may use of `re` (served by the bounded router, ``_regex.py``).
RE_NAMES = frozenset(
    [
        "compile", "search", "match", "fullmatch", "split", "findall", "finditer", "sub", "subn",
        "escape", "error", "Pattern", "Match", "IGNORECASE", "I", "MULTILINE", "M", "DOTALL",
        "S", "VERBOSE", "X", "ASCII", "A", "UNICODE", "U", "NOFLAG",
    ]
)  # fmt: skip
# Code operations (``code_map``/``code_filter``/``code_reduce``) may also import these pure stdlib
# modules, through proxies holding only the reviewed names below. Left out on purpose:
# typing.get_type_hints/ForwardRef/NamedTuple/TypedDict (evaluate strings or build classes),
# collections.namedtuple (execs generated source), itertools.count/cycle/repeat (unbounded C
# iterators), functools.lru_cache/cache (state across rows), operator.attrgetter/methodcaller
# (attribute walks by string), hashlib.new/file_digest (I/O), decimal contexts (global state),
# anything returning a module, frame or code object.
CODE_MODULES: dict[str, tuple[str, ...]] = {
    "typing": (
        "Any", "Dict", "List", "Tuple", "Set", "FrozenSet", "Optional", "Union", "Iterable",
        "Iterator", "Sequence", "Mapping", "MutableMapping", "Callable", "Literal", "DefaultDict",
        "Counter", "OrderedDict", "Deque", "cast",
    ),
    "collections": ("Counter", "defaultdict", "OrderedDict", "deque", "ChainMap"),
    "datetime": ("date", "datetime", "time", "timedelta", "timezone", "MINYEAR", "MAXYEAR"),
    "itertools": (
        "accumulate", "chain", "combinations", "combinations_with_replacement", "compress",
        "dropwhile", "filterfalse", "groupby", "islice", "pairwise", "permutations", "product",
        "starmap", "takewhile", "zip_longest",
    ),
    "functools": ("reduce", "partial", "cmp_to_key"),
    "statistics": (
        "mean", "fmean", "geometric_mean", "harmonic_mean", "median", "median_low",
        "median_high", "median_grouped", "mode", "multimode", "quantiles", "pstdev",
        "pvariance", "stdev", "variance", "StatisticsError",
    ),
    "operator": (
        "itemgetter", "add", "sub", "mul", "truediv", "floordiv", "mod", "neg", "pos", "abs",
        "eq", "ne", "lt", "le", "gt", "ge", "not_", "truth", "contains", "getitem", "countOf",
        "indexOf", "concat",
    ),
    "hashlib": (
        "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "blake2b", "blake2s", "sha3_256",
        "sha3_512",
    ),
    "unicodedata": (
        "normalize", "is_normalized", "category", "bidirectional", "combining", "decimal",
        "digit", "numeric", "name", "lookup", "east_asian_width", "mirrored", "unidata_version",
    ),
    "decimal": (
        "Decimal", "InvalidOperation", "DivisionByZero", "ROUND_HALF_UP", "ROUND_HALF_EVEN",
        "ROUND_HALF_DOWN", "ROUND_UP", "ROUND_DOWN", "ROUND_CEILING", "ROUND_FLOOR",
    ),
    "fractions": ("Fraction",),
}  # fmt: skip
CODE_ALLOWED_MODULES = (*ALLOWED_MODULES, *CODE_MODULES)
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
    table.update(_guards.BUILTINS)  # size-checked '*', '**', sum(), ... (see _guards.py)
    return table


def read_only_module(module: types.ModuleType, names: frozenset[str] | None = None) -> Any:
    """A read-only stand-in for ``module``: its public attributes (or ``names``), nothing else.

    Assertion code sees these, never the module: storing to an attribute of the proxy (or of its
    class, through ``type()``) raises ``AttributeError``, so code cannot rebind the stdlib that
    the host or the worker's own reporting path uses.
    """
    wanted = names if names is not None else [n for n in dir(module) if not n.startswith("_")]
    attrs: dict[str, Any] = {"__slots__": (), "__module__": module.__name__}
    for name in wanted:
        if not hasattr(module, name):
            continue
        value = _guards.MODULE_GUARDS.get(module.__name__, {}).get(name) or getattr(module, name)
        # A Python function stored on a class would bind as a method: keep it plain.
        attrs[name] = staticmethod(value) if isinstance(value, types.FunctionType) else value
    cls = Sealed(module.__name__.rsplit(".", 1)[-1], (), attrs)
    return cls()


_C_IMPORTS = frozenset({"_strptime", "time"})


def make_importer(
    resolve: Callable[[str], Any], allowed: tuple[str, ...] = ALLOWED_MODULES
) -> Callable[..., Any]:
    """A ``__import__`` that only hands out the ``allowed`` modules, via ``resolve(name)``."""

    def guarded_import(
        name: str,
        globals: Mapping[str, Any] | None = None,
        locals: Mapping[str, Any] | None = None,
        fromlist: tuple[str, ...] | None = (),
        level: int = 0,
    ) -> Any:
        if name == "__future__" and fromlist:
            return importlib.import_module("__future__")
        if name in _C_IMPORTS and level == 0:
            # C functions import helpers through the *calling frame's* builtins
            # (datetime.strptime -> _strptime, .strftime -> time); the allowlist refuses these
            # imports in the code itself, so only such C calls get here.
            return importlib.import_module(name)
        if level != 0 or name not in allowed or ("." in name and not fromlist):
            raise ImportError(f"import of {name!r} is not allowed in assertion code")
        return resolve(name)

    return guarded_import


def exec_source(source: str, filename: str, builtins_table: Mapping[str, Any]) -> dict[str, Any]:
    """Execute already-validated source in a fresh namespace; return its namespace.

    Module-level values are deep-frozen afterwards: a constant list or dict shared by every call
    must not carry state from one call (one row, one candidate) to the next.
    """
    namespace: dict[str, Any] = {
        "__builtins__": dict(builtins_table),
        "__name__": "llmassert_sandboxed",
    }
    tree = _guards.guard_tree(ast.parse(source, filename))
    exec(compile(tree, filename, "exec"), namespace)
    for name, value in list(namespace.items()):
        if isinstance(value, (dict, list, set)) and not name.startswith("__"):
            namespace[name] = freeze(value)
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


def describe(error: BaseException) -> str:
    """``Type: message`` on one line, at most 300 characters, without calling ``str()`` on
    arbitrary objects (an exception argument may be a huge container built by the code)."""
    first = error.args[0] if len(error.args) == 1 else None
    if isinstance(first, (str, int, float)) and not isinstance(first, bool):
        text = first[:300] if isinstance(first, str) else repr(first)[:300]
        text = " ".join(text.split())
        return f"{type(error).__name__}: {text}"[:300] if text else type(error).__name__
    return type(error).__name__


# --- the worker process ------------------------------------------------------------------------

FRAME = struct.Struct(">BIBI")  # tag, index, status, text length
READY, LOADED, UNLOADED, RESULT, VALUE = 0x52, 0x4C, 0x55, 0x43, 0x56  # "R", "L", "U", "C", "V"
FALSE, TRUE, ERROR, LIMIT = 0, 1, 2, 3
MAX_TEXT = 1024
MAX_VALUE = 64 << 20  # a VALUE frame's JSON (a code operation's result for one row)
TIMER_REFIRE_S = 0.05


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


def allowed_module_proxies(
    helpers: Mapping[str, types.ModuleType], judge: types.ModuleType
) -> dict[str, Any]:
    """Read-only proxies of every module assertion code may import, by name.

    Helper modules expose only their ``__all__``: the modules they import themselves (``re``,
    ``json``) must not be reachable through them.
    """
    proxies: dict[str, Any] = {
        "re": read_only_module(_regex, RE_NAMES),
        "json": read_only_module(json),
        "math": read_only_module(math),
        "string": read_only_module(string),
        JUDGE: read_only_module(judge, frozenset({"llm_judge"})),
    }
    for name, module in helpers.items():
        proxies[name] = read_only_module(module, frozenset(getattr(module, "__all__", ())))
    return proxies


def code_module_proxies() -> dict[str, Any]:
    """Read-only proxies of the extra modules code operations may import (reviewed names only)."""
    return {
        name: read_only_module(importlib.import_module(name), frozenset(names))
        for name, names in CODE_MODULES.items()
    }


def serve(memory_mb: int) -> None:
    """Worker main loop: read requests from stdin, answer on the reply fd until EOF.

    Everything the reporting path uses is bound to locals here, before any assertion code
    loads; assertion code never receives a reference to any of it.
    """
    import os
    import signal

    # The reply channel: a private duplicate of fd 1; fd 1 itself now points at stderr, so
    # nothing else in this process (a stray print in a helper) can write a reply frame.
    reply_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    write = os.write
    pack = FRAME.pack
    encode = str.encode
    decode_request = json.JSONDecoder().decode
    # Code operations' results: encoded here, by an encoder bound before any code loads.
    encode_value = json.JSONEncoder(default=str, ensure_ascii=False).encode
    thaw_value = thaw
    read_request = sys.stdin.buffer.readline
    setitimer = signal.setitimer
    real = signal.ITIMER_REAL
    frozen = freeze
    describe_error = describe
    call_timeout = _CallTimeout
    max_text = MAX_TEXT
    refire = TIMER_REFIRE_S

    def reply(tag: int, index: int, status: int, text: str = "") -> None:
        if tag == VALUE and status == TRUE:  # a result: whole (size checked by apply_one)
            data = encode(text, "utf-8", "replace")
        else:
            data = encode(text[:max_text], "utf-8", "replace")[: max_text * 4]
        frame = pack(tag, index, status, len(data)) + data
        while frame:
            frame = frame[write(reply_fd, frame) :]

    # Every call here runs under the SIGALRM timer and nothing re-runs it elsewhere: regex calls
    # route as on the host's alarmed main thread (stdlib when bounded, else RE2 where it gives
    # stdlib's answer, else stdlib under the timer), so verdicts match the in-process path's.
    _regex.RESTRICTED.add(threading.get_ident())
    _regex.ALARMED.add(threading.get_ident())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.setrecursionlimit(500)
    _set_limits(memory_mb)

    modules = allowed_module_proxies(
        {name: _load_helpers_by_path(name) for name in HELPER_FILES}, _judge_stub()
    )
    table = safe_builtins(make_importer(modules.__getitem__))
    code_tables: list[dict[str, Any]] = []  # built on the first code operation's load

    def code_table() -> dict[str, Any]:
        if not code_tables:
            code_modules = {**modules, **code_module_proxies()}
            importer = make_importer(code_modules.__getitem__, CODE_ALLOWED_MODULES)
            code_tables.append(safe_builtins(importer))
        return code_tables[0]

    loaded: dict[str, dict[str, Callable[..., Any]]] = {}
    armed = [False]

    def on_alarm(_signum: int, _frame: Any) -> None:
        # Raises only while a call runs: once the worker has disarmed, a late alarm is a no-op.
        if armed[0]:
            raise call_timeout

    signal.signal(signal.SIGALRM, on_alarm)

    def timed(thunk: Callable[[], tuple[int, str]], timeout: float) -> tuple[int, str]:
        """``thunk()`` under the call timer; any way it ends is a (status, one-line text)."""
        try:
            try:
                armed[0] = True
                # Re-fires every 50 ms until disarmed: code that survives one alarm (a loop in
                # a `finally:` clause) meets the next one; the policy refuses `return` there.
                setitimer(real, timeout, refire)
                outcome = thunk()
            finally:
                armed[0] = False
                setitimer(real, 0)
        except call_timeout:
            return LIMIT, f"timed out after {timeout:g} s"
        except MemoryError as e:  # the rlimit, or a size guard (which says what it refused)
            return LIMIT, describe_error(
                e
            ) if e.args else "MemoryError: over the sandbox memory limit"
        except RecursionError:
            return ERROR, "RecursionError: maximum recursion depth exceeded"
        except BaseException as e:
            try:
                return ERROR, describe_error(e)
            except BaseException:
                return ERROR, "the code raised an exception"
        return outcome

    def run_one(
        fn: Callable[..., Any], example: Any, response: str, timeout: float
    ) -> tuple[int, str]:
        return timed(lambda: (TRUE, "") if fn(example, response) else (FALSE, ""), timeout)

    def apply_one(fn: Callable[..., Any], args: list[Any], timeout: float) -> tuple[int, str]:
        # Encoded while the timer runs: a huge or deeply nested result is bounded too.
        status, text = timed(lambda: (TRUE, encode_value(thaw_value(fn(*args)))), timeout)
        if status == TRUE and len(text) > MAX_VALUE // 4 and len(text.encode()) > MAX_VALUE:
            return LIMIT, f"the result is over {MAX_VALUE >> 20} MB of JSON"
        return status, text

    def run_applies(request: dict[str, Any]) -> None:
        fn = loaded.get(str(request["id"]), {}).get(str(request["fn"]))
        items = request["items"]
        timeout = float(request["timeout"])
        start = int(request.get("start", 0))
        _cpu_budget(timeout * max(1, len(items) - start) + 1)
        for k in range(start, len(items)):
            if fn is None:
                reply(VALUE, k, ERROR, f"no function {str(request['fn'])[:80]!r} in this source")
                continue
            status, text = apply_one(fn, [frozen(a) for a in items[k]], timeout)
            reply(VALUE, k, status, text)

    def run_calls(request: dict[str, Any]) -> None:
        functions = loaded.get(str(request["id"]), {})
        fns = [str(f) for f in request["fns"]]
        raw_items = request["items"]
        timeout = float(request["timeout"])
        start = int(request.get("start", 0))
        total = len(fns) * len(raw_items)
        _cpu_budget(timeout * max(1, total - start) + 1)
        items: dict[int, tuple[Any, str]] = {}
        for k in range(start, total):
            i = k // len(fns)
            if i not in items:
                example, response = raw_items[i]
                items = {i: (frozen(example), response if type(response) is str else str(response))}
            example, response = items[i]
            fn = functions.get(fns[k % len(fns)])
            if fn is None:
                reply(RESULT, k, ERROR, f"no function {fns[k % len(fns)]!r} in this source")
                continue
            status, text = run_one(fn, example, response, timeout)
            reply(RESULT, k, status, text)

    reply(READY, 0, TRUE)
    while True:
        raw = read_request()
        if not raw:
            return
        request = decode_request(raw.decode("utf-8"))
        op = request["op"]
        if op == "load":
            try:
                profile = code_table() if request.get("profile") == "code" else table
                namespace = exec_source(request["source"], request["filename"], profile)
                loaded[str(request["id"])] = public_functions(namespace)
                reply(LOADED, 0, TRUE)
            except BaseException as e:  # the source's module level failed
                reply(LOADED, 0, FALSE, describe_error(e))
        elif op == "unload":
            loaded.pop(str(request["id"]), None)
            reply(UNLOADED, 0, TRUE)
        elif op == "call":
            run_calls(request)
        elif op == "apply":
            run_applies(request)


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else 512)
