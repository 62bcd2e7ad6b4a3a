"""Bounds on any thread (issue 10, item 3 continued): time and memory of in-process checks run on
the main thread, on an application's worker thread and in an asyncio task on llmassert's
background loop (what ``check_many`` uses), plus ``validate:`` and templates off the main thread.

Each payload is a check whose honest verdict is False, loaded the way ``llmassert test`` loads a
module (``AssertionSet.from_source``: in-process when inline-safe, else the process sandbox), and
run in one of the three contexts. ``contained`` means all of:

- the call returned within :data:`BOUND_S` (no hang);
- the check failed, with the failure kind and a one-line reason matching what the payload
  expects in that context (``timeout``, the memory limit, a refused regex, or an honest False
  from the linear-time engine);
- nothing else in the process was left armed (no stray stop reaches the next call: each case
  runs a trivial passing check right after, in the same context, which must pass).

``escaped`` is anything else; ``traceback`` an exception out of ``check``.
"""

from __future__ import annotations

import re
import textwrap
import threading
import time
from collections.abc import Callable
from typing import Any

from llmassert.aio import run_sync
from llmassert.assertions import AssertionSet

try:
    from security._case import Case, Outcome
    from security.cases_code import _expr, _template
except ImportError:  # loaded by path from bench/security.py with tests/ on sys.path
    from tests.security._case import Case, Outcome  # type: ignore[no-redef]
    from tests.security.cases_code import _expr, _template  # type: ignore[no-redef]

TIMEOUT_S = 1.0
MEMORY_TIMEOUT_S = 60.0  # memory payloads: long enough that only the memory bound can stop them
MEMORY_MB = 128
BOUND_S = 60.0  # hang detection only (a shared, loaded machine): the bounds are the checks' own
CONTEXTS = ("main", "thread", "asyncio")

TIME, MEM, EXPR = "deadline-any-thread", "memory-any-thread", "expr-template-any-thread"
# In-process: "check: timed out after 1 s"; in the process sandbox the reason names its limits.
# Under heavy load the sandbox's parent may kill a worker whose own alarm did not answer in time.
TIMED_OUT = (
    r"^timeout: (check: )?(timed out after [\d.]+ s($|;| \(sandbox limits)"
    r"|killed after [\d.]+ s without an answer|worker died on SIGXCPU)"
)
# The memory bound, or a size guard refusing one operation first (sandbox/_guards.py).
GUARDED = r"SizeLimitError: .* would build [^\n]*|.* would build [^\n]*"
OVER_MEMORY = rf"^error: check: (over the memory limit of {MEMORY_MB} MB|{GUARDED})$"
FALSE = r"^failed: returned False$"
SANDBOX_MEMORY = rf"^error: raised (MemoryError: over the sandbox memory limit|{GUARDED})$"
NOT_STOPPABLE = r"^error: check: regex '.*' can backtrack without bound on this text and has no exact linear-time equivalent \(RE2\) to run it in-process$"
PASS_AFTER = "def after(example, response):\n    return True\n"


def _in_context(context: str, fn: Callable[[], Any]) -> Any:
    """``fn()`` on the main thread, a fresh worker thread, or in a task on the background loop."""
    if context == "main":
        return fn()
    if context == "thread":
        box: list[Any] = []

        def target() -> None:
            try:
                box.append(("ok", fn()))
            except BaseException as e:  # carried back to the caller
                box.append(("raised", e))

        worker = threading.Thread(target=target, name="app-worker")
        worker.start()
        worker.join(BOUND_S * 4)
        if worker.is_alive() or not box:
            raise TimeoutError("the worker thread did not finish")
        kind, value = box[0]
        if kind == "raised":
            raise value
        return value

    async def task() -> Any:
        return fn()  # in a task on llmassert's background loop thread, as check_many runs

    return run_sync(task())


def _run_check(source: str, response: str, context: str, timeout_s: float) -> tuple[str, float]:
    """``kind: message`` of the one failure of ``check`` (``passed`` if none), and seconds taken."""
    checks = AssertionSet.from_source(
        source + "\n\n" + PASS_AFTER, timeout_s=timeout_s, memory_mb=MEMORY_MB
    )
    with checks:
        start = time.monotonic()
        result = _in_context(context, lambda: checks.check(response, {"id": "r1"}))
        elapsed = time.monotonic() - start
        # A stop left armed would land here: the trivial check must pass in the same context.
        after = _in_context(context, lambda: checks.select(["after"]).check("x"))
    if not after.passed:
        return "a later call was hit: " + after.failures[0].message, elapsed
    failures = [f for f in result.failures if f.name == "check"]
    if not failures:
        return "passed", elapsed
    return f"{failures[0].kind}: {failures[0].message}", elapsed


LAST: list[str] = []  # what the last payload ended in (test_threads.py shows it on failure)


def _outcome(source: str, response: str, context: str, expect: str, timeout_s: float) -> Outcome:
    LAST.clear()
    try:
        got, elapsed = _run_check(source, response, context, timeout_s)
    except Exception as e:
        LAST.append(f"{type(e).__name__}: {e}")
        return "traceback"
    LAST.append(f"{got} ({elapsed:.1f} s)")
    if elapsed > BOUND_S or not re.match(expect, got) or "\n" in got:
        return "escaped"
    return "contained"


def check(
    cls: str,
    name: str,
    body: str,
    response: str,
    expect: dict[str, str],
    *,
    timeout_s: float = TIMEOUT_S,
) -> list[Case]:
    """One payload, one case per context; ``expect[context]`` (or ``expect["*"]``): the
    ``kind: message`` pattern its failure must match there."""
    source = textwrap.dedent(body).strip() + "\n"
    return [
        Case(
            cls,
            f"{name} [{context}]",
            lambda _tmp, ctx=context: _outcome(
                source, response, ctx, expect.get(ctx, expect.get("*", "")), timeout_s
            ),
            "contained",
        )
        for context in CONTEXTS
    ]


OFF_MAIN = ("thread", "asyncio")


A_RUN = "a" * 3000
LOOP_RUN = "a" * 30000  # 9 * 10**8 iterations for two nested loops: far past any timeout
NEWLINES = "\n" * 30000

# --- time: Python-level loops and regexes, on every thread ---------------------------------------

_TIME = [
    *check(
        TIME,
        "polynomial regex a*a*a*a*b",
        """
        import re
        def check(example, response):
            return re.search(r"a*a*a*a*b", response) is not None
        """,
        A_RUN,
        # On every thread (main included: the verdict must not depend on it): RE2, exact
        # for this pattern on any text, answers the honest False in linear time.
        {"*": FALSE},
    ),
    *check(
        TIME,
        "compiled polynomial regex, findall",
        """
        import re
        PATTERN = re.compile(r"\\s*\\s*x")
        def check(example, response):
            return len(PATTERN.findall(response)) > 0
        """,
        " " * 3000,
        {"*": FALSE},
    ),
    *check(
        TIME,
        "polynomial regex with IGNORECASE on ASCII text",
        """
        import re
        def check(example, response):
            return re.search(r"A*A*A*A*B", response, re.I) is not None
        """,
        A_RUN,
        {"*": FALSE},
    ),
    *check(
        TIME,
        "backreference regex (no linear engine): process sandbox",
        """
        import re
        def check(example, response):
            return re.search(r"(a+)a*a*b\\1", response) is not None
        """,
        A_RUN,
        # On every thread the check re-runs in the process sandbox, under its own alarm.
        {"*": TIMED_OUT},
    ),
    *check(
        TIME,
        "lookahead regex: process sandbox",
        """
        import re
        def check(example, response):
            return re.search(r"(?=a*a*a*a*b)", response) is not None
        """,
        A_RUN,
        {"*": TIMED_OUT},
    ),
    *check(
        TIME,
        "exponential pattern given to a helper (matches_regex)",
        """
        from llmassert.assertions.formats import matches_regex
        def check(example, response):
            return matches_regex(response, "(a|aa)+$")
        """,
        "a" * 45 + "!",
        # The helper's own `re` is the router too: RE2 answers on every thread.
        {"*": FALSE},
    ),
    *check(
        TIME,
        "lookahead pattern given to a helper: process sandbox",
        """
        from llmassert.assertions.formats import matches_regex
        def check(example, response):
            return matches_regex(response, "(?=(a|aa)+$)")
        """,
        "a" * 45 + "!",
        {"*": TIMED_OUT},
    ),
    *check(
        TIME,
        "nested loops over the response",
        """
        def check(example, response):
            n = 0
            for i in range(len(response)):
                for j in range(len(response)):
                    n += 1
            return n < 0
        """,
        LOOP_RUN,
        {"*": TIMED_OUT},
    ),
    *check(
        TIME,
        "generator consumed by a C builtin",
        """
        def check(example, response):
            return sum(1 for i in range(len(response)) for j in range(len(response))) < 0
        """,
        LOOP_RUN,
        {"*": TIMED_OUT},
    ),
    *check(
        TIME,
        "sorted with a key over a large product (process sandbox)",
        """
        def check(example, response):
            return sorted([i * j for i in range(len(response)) for j in range(len(response))],
                          key=lambda v: -v)[0] < 0
        """,
        A_RUN,
        {"*": TIMED_OUT + "|" + SANDBOX_MEMORY},
    ),
    *check(
        TIME,
        "except Exception around the loop",
        """
        def check(example, response):
            n = 0
            for i in range(len(response)):
                try:
                    for j in range(len(response)):
                        n += 1
                except Exception:
                    n = -1
            return n < 0
        """,
        LOOP_RUN,
        {"*": TIMED_OUT},
    ),
    *check(
        TIME,
        "while True (process sandbox on every thread)",
        """
        def check(example, response):
            while True:
                pass
            return False
        """,
        "x",
        {"*": TIMED_OUT},
    ),
    *check(
        TIME,
        "module that may call llm_judge: no sandbox re-run, one-line reason",
        """
        import re
        from llmassert.assertions.judge import llm_judge
        def check(example, response):
            if len(response) < 0:
                return llm_judge("never asked", response)
            return re.search(r"(?=a*a*a*a*b)", response) is not None
        """,
        A_RUN,
        {"*": NOT_STOPPABLE},
    ),
]

# --- memory: growth of the process while a check runs ---------------------------------------------

BIG = "m" * 20000
_MEMORY = [
    *check(
        MEM,
        "list of fresh strings",
        """
        def check(example, response):
            parts = []
            for i in range(len(response)):
                for j in range(len(response)):
                    parts.append(response + str(j))
            return len(parts) < 0
        """,
        BIG,
        {"*": OVER_MEMORY},
        timeout_s=MEMORY_TIMEOUT_S,
    ),
    *check(
        MEM,
        "string grown in a loop",
        """
        def check(example, response):
            s = ""
            for i in range(len(response)):
                for j in range(len(response)):
                    s = s + response
            return len(s) < 0
        """,
        BIG,
        {"*": OVER_MEMORY},
        timeout_s=MEMORY_TIMEOUT_S,
    ),
    *check(
        MEM,
        "dict comprehension of pairs",
        """
        def check(example, response):
            d = {(i, j): [i, j] for i in range(len(response)) for j in range(len(response))}
            return len(d) < 0
        """,
        BIG,
        {"*": OVER_MEMORY},
        timeout_s=MEMORY_TIMEOUT_S,
    ),
    *check(
        MEM,
        "join of many copies (one C call; stopped once it returns)",
        """
        def check(example, response):
            parts = []
            for i in range(len(response)):
                parts.append(response)
            big = "".join(parts)
            n = 0
            for i in range(len(response)):
                for j in range(len(response)):
                    n += len(big)
            return n < 0
        """,
        "j" * 40000,  # 40,000 copies of 40 KB: one 1.6 GB string
        {"*": OVER_MEMORY},
        timeout_s=MEMORY_TIMEOUT_S,
    ),
]

# --- validate: expressions and templates: their own step and size limits, any thread ---------------


def _in_context_outcome(run: Callable[[], Outcome], context: str) -> Outcome:
    try:
        outcome: Outcome = _in_context(context, run)
    except Exception:
        return "traceback"
    return outcome


_EXPR = [
    Case(
        EXPR,
        f"{name} [{ctx}]",
        lambda _t, s=src, c=ctx, f=fn: _in_context_outcome(lambda: f(s), c),
        "contained",
    )
    for name, src, fn in [
        ("((10**1000)**1000)**1000", "((10**1000)**1000)**1000 > 0", _expr),
        ("sum of huge lists", "len(sum([[0]*10**6]*10**6, [])) > 0", _expr),
        ("center(10**10)", "{{ 'x'|center(10**10) }}", _template),
        ("lipsum(n=10**7)", "{{ lipsum(n=10**7) }}", _template),
    ]
    for ctx in OFF_MAIN
]

CASES: list[Case] = [*_TIME, *_MEMORY, *_EXPR]
