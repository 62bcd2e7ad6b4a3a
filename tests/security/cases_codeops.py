"""Code-operation payloads (issue 10, code ops): ``code_map``/``code_filter``/``code_reduce`` source.

Each case loads its ``transform`` through :class:`llmassert.sandbox.code.CodeRunner` -- the
component the operators use: the allowlist (``code`` profile), the inline-safe decision, the
in-process bounds or the real process sandbox -- applies it to one row and reports:

- ``refused``: the allowlist stopped it before any row was read;
- ``contained``: it ran where the case says (``inline`` or ``box``), the row came back as the
  specific error the case names (a one-line reason matching ``expect``) or as the exact value
  ``expect`` gives, within the bound, with host modules and the caller's row unchanged;
- ``escaped``: anything else; ``traceback``: an exception escaped ``CodeRunner``.

Classes: ``codeops-time`` (loops, recursion, backtracking), ``codeops-memory`` (one C call that
would allocate without bound), ``codeops-spike`` (an allocation that would come and go between two
samples of the memory watchdog: only the size guards see it; also for checks), ``codeops-imports``
(the curated stdlib: what works, what stays out).
"""

from __future__ import annotations

import copy
import re
import textwrap
import time
from typing import Any

from llmassert.errors import SandboxError, UnsafeCodeError
from llmassert.sandbox import load_inline
from llmassert.sandbox.code import CodeRunner

try:
    from security._case import Case, Outcome
    from security.cases_code import _changed, _host_snapshot, _verdict
except ImportError:  # loaded by path from bench/security.py with tests/ on sys.path
    from tests.security._case import Case, Outcome  # type: ignore[no-redef]
    from tests.security.cases_code import (  # type: ignore[no-redef]
        _changed,
        _host_snapshot,
        _verdict,
    )

TIMEOUT_S = 1.0
MEMORY_MB = 256
BOUND_S = 60.0  # hang detection only (a shared, loaded machine)
ROW: dict[str, Any] = {"id": "r1", "text": "hello world", "n": 3, "tags": ["a", "b"]}
BIG_ROW: dict[str, Any] = {"id": "r2", "text": "a" * 100_000}
EVIL_ROW: dict[str, Any] = {"id": "r3", "text": "a" * 45 + "!"}
LAST: list[str] = []

TIME, MEM, SPIKE, IMP = "codeops-time", "codeops-memory", "codeops-spike", "codeops-imports"
HELPER = "helper-regex-hostile"
HELPER_TIMEOUT_S = (
    5.0  # linear helpers take ~0.1 s on these inputs; the quadratic ones took minutes
)
TIMED_OUT = r"^transform (failed|stopped): (transform: )?(timed out after|killed after)"
GUARD = r"^transform (failed|stopped): (SizeLimitError: |transform: )?\S+ would build"
BOX_MEMORY = r"^transform failed: (MemoryError|killed after|timed out after|worker died)"


def _run(source: str, row: dict[str, Any], where: str, expect: Any) -> Outcome:
    row = copy.deepcopy(row)
    pristine = copy.deepcopy(row)
    before = _host_snapshot()
    start = time.monotonic()
    try:
        runner = CodeRunner(
            source, filename="payload.yaml:operations[0].code", timeout_s=TIMEOUT_S,
            memory_mb=MEMORY_MB,
        )  # fmt: skip
    except UnsafeCodeError as e:
        LAST[:] = [f"refused: {e.message}"]
        return "refused"
    except SandboxError as e:
        LAST[:] = [f"module level: {e.message}"]
        return "escaped"
    try:
        ran = "inline" if runner.inline else "box"
        [(value, error)] = runner.apply([(row,)])
    except Exception as e:
        LAST[:] = [f"traceback: {type(e).__name__}: {e}"]
        return "traceback"
    finally:
        runner.close()
    elapsed = time.monotonic() - start
    LAST[:] = [f"{ran}: value={str(value)[:200]!r} error={error!r} ({elapsed:.1f} s)"]
    if _changed(before) or row != pristine or elapsed > BOUND_S or ran != where:
        return "escaped"
    if isinstance(expect, str):
        ok = error is not None and "\n" not in error and re.search(expect, error) is not None
    else:
        ok = error is None and value == expect
    return "contained" if ok else "escaped"


def op(cls: str, name: str, body: str, where: str, expect: Any, row: dict[str, Any] = ROW) -> Case:
    """``body`` defines ``transform(doc)``; it must run ``where`` and end as ``expect``."""
    source = textwrap.dedent(body).strip() + "\n"
    return Case(cls, name, lambda _tmp: _run(source, row, where, expect), "contained")


def refused(name: str, body: str) -> Case:
    source = textwrap.dedent(body).strip() + "\n"
    return Case(IMP, name, lambda _tmp: _run(source, ROW, "box", None), "refused")


def _check_spike(body: str) -> Outcome:
    return _verdict(textwrap.dedent(body).strip() + "\n", response="a" * 100_000)


def _helper(helper: str, text: str, expect: Any) -> Outcome:
    """``helper(text)`` as a rule-library check calls it (in-process, under its deadline) must
    give ``expect``: a super-linear helper would meet the deadline and fail the case."""
    source = (
        f"from llmassert.assertions.helpers import {helper}\n"
        f"def probe(example, response):\n    return {helper}(response)\n"
    )
    # Loaded as AssertionSet loads a module (a regex call that cannot be bounded in-process
    # would re-run in the process sandbox): on the main thread the helper's own regexes then run
    # on stdlib under the deadline.
    probe = load_inline(
        source, filename="probe.py", timeout_s=HELPER_TIMEOUT_S, process_fallback=True
    )["probe"]
    try:
        value = probe({}, text)
    except SandboxError as e:
        LAST[:] = [f"{helper}: {e.message}"]
        return "escaped"
    except Exception as e:
        LAST[:] = [f"traceback: {type(e).__name__}: {e}"]
        return "traceback"
    LAST[:] = [f"{helper}: {str(value)[:100]!r}"]
    return "contained" if value == expect else "escaped"


def hostile(helper: str, name: str, text: str, expect: Any) -> Case:
    return Case(
        HELPER, f"{helper}: {name}", lambda _tmp: _helper(helper, text, expect), "contained"
    )


N = 50_000
REPLACEMENT = "x" * 999  # a literal replacement: inline-safe (<= 1000 chars), 1000x the text

CASES: list[Case] = [
    # --- helper regexes on hostile responses (were quadratic: ^\\s* under re.M, "[" runs, fences)
    hostile("is_markdown", "newlines", "\n" * N, False),
    hostile("is_markdown", "spaces then newline", " " * N + "\n", False),
    hostile("is_markdown", "newline-space runs", "\n " * N, False),
    hostile("is_markdown", "open brackets", "[" * N, False),
    hostile("is_markdown", "bullet after newlines", "\n" * N + "- item", True),
    hostile("has_markdown_table", "newlines", "\n" * N, False),
    hostile("has_markdown_table", "spaces", " " * N, False),
    hostile("has_markdown_table", "pipes on one line", "|" * N, False),
    hostile("has_markdown_table", "pipe rows", "|\n" * N, False),
    hostile(
        "has_markdown_table", "a table after blank lines", "\n" * N + "|a|b|\n|---|---|\n", True
    ),
    hostile("code_blocks", "newlines", "\n" * N, ()),
    hostile("code_blocks", "unclosed fences", "```x\n" * (N // 5), ()),
    hostile("code_blocks", "a block after newlines", "\n" * N + "```py\ncode\n```\n", ("code\n",)),
    hostile("is_uppercase", "newlines then text", "\n" * N + "ABC", True),
    hostile("is_lowercase", "unclosed fences then text", "```x\n" * (N // 5) + "ABC", False),
    hostile("bullets", "newlines", "\n" * N, ()),
    hostile("headers", "hashes", "#" * N, ()),
    hostile("word_count", "apostrophes", "a'" * N, 1),
    # --- time: Python-level loops stop at the deadline; a regex that backtracks runs in the box
    op(TIME, "while True", "def transform(doc):\n    while True:\n        pass", "box", TIMED_OUT),
    op(
        TIME,
        "loop in finally",
        """
        def transform(doc):
            try:
                while True:
                    pass
            finally:
                while True:
                    pass
        """,
        "box",
        TIMED_OUT,
    ),
    op(
        TIME,
        "nested literal ranges (inline-safe, still too long)",
        """
        def transform(doc):
            t = 0
            for i in range(1000000):
                for j in range(1000000):
                    t = t + 1
            return {"t": t}
        """,
        "inline",
        TIMED_OUT,
    ),
    op(
        TIME,
        "recursion",
        "def transform(doc):\n    return transform(doc)",
        "box",
        r"^transform failed: RecursionError",
    ),
    op(
        TIME,
        "catastrophic regex",
        """
        import re
        def transform(doc):
            return {"m": bool(re.search("(?=(a|aa)+$)", doc["text"]))}
        """,
        "box",
        TIMED_OUT,
        EVIL_ROW,
    ),
    op(
        TIME,
        "exception swallowed in a loop",
        """
        def transform(doc):
            while True:
                try:
                    while True:
                        pass
                except Exception:
                    pass
        """,
        "box",
        TIMED_OUT,
    ),
    # --- memory: one C call that would allocate without bound is refused before it runs
    op(
        MEM,
        "'x' * n",
        "def transform(doc):\n    n = doc['n'] * 10**9\n    return {'x': 'x' * n}",
        "box",
        GUARD,
    ),
    op(
        MEM,
        "list * n",
        "def transform(doc):\n    return {'x': len([0] * (doc['n'] * 10**8))}",
        "box",
        GUARD,
    ),
    op(
        MEM,
        "s *= n",
        "def transform(doc):\n    s = doc['text']\n    s *= 10**8\n    return {'x': len(s)}",
        "box",
        GUARD,
    ),
    op(MEM, "10**10**8", "def transform(doc):\n    return {'x': 10**10**8 > 0}", "box", GUARD),
    op(
        MEM, "1 << 10**10", "def transform(doc):\n    return {'x': (1 << 10**10) > 0}", "box", GUARD
    ),
    op(
        MEM,
        "big int product",
        "def transform(doc):\n    a = 7**100000\n    return {'x': a * a * a > 0}",
        "box",
        GUARD,
    ),
    op(
        MEM,
        "sum(lists, [])",
        "def transform(doc):\n    return {'x': len(sum([[0] * 1000] * 100000, []))}",
        "box",
        GUARD,
    ),
    op(
        MEM,
        "'x'.ljust(10**10)",
        "def transform(doc):\n    return {'x': len('x'.ljust(10**10))}",
        "box",
        GUARD,
    ),
    op(
        MEM,
        "center via a bound method",
        "def transform(doc):\n    f = doc['text'].center\n    return {'x': len(f(10**10))}",
        "inline",
        GUARD,
    ),
    op(
        MEM,
        "zfill",
        "def transform(doc):\n    return {'x': len('1'.zfill(doc['n'] * 10**9))}",
        "box",
        GUARD,
    ),
    op(
        MEM,
        "expandtabs",
        "def transform(doc):\n    return {'x': len(('\\t' * 1000).expandtabs(10**8))}",
        "box",
        GUARD,
    ),
    op(
        MEM,
        "replace with itself",
        "def transform(doc):\n    s = doc['text'] * 2000\n    return {'x': len(s.replace('l', s))}",
        "box",
        GUARD,
    ),
    op(
        MEM,
        "str.join of a repeated list",
        "def transform(doc):\n    p = [doc['text'] * 1000] * 10000\n    return {'x': len('-'.join(p))}",
        "box",
        GUARD,
    ),
    op(
        MEM,
        "str.join unbound",
        "def transform(doc):\n    p = [doc['text'] * 1000] * 10000\n    return {'x': len(str.join('', p))}",
        "box",
        GUARD,
    ),
    op(
        MEM,
        "bytes(n)",
        "def transform(doc):\n    return {'x': len(bytes(doc['n'] * 10**9))}",
        "box",
        GUARD,
    ),
    op(
        MEM,
        "f-string width",
        "def transform(doc):\n    n = doc['n'] * 10**9\n    return {'x': len(f'{1:>{n}}')}",
        "box",
        r"^transform failed: SizeLimitError: format spec",
    ),
    op(
        MEM,
        "list(range(10**9))",
        "def transform(doc):\n    return {'x': len(list(range(10**9)))}",
        "box",
        r"range of 1000000000 items is over the sandbox limit",
    ),
    op(
        MEM,
        "math.factorial",
        "import math\ndef transform(doc):\n    return {'x': math.factorial(doc['n'] * 10**6) > 0}",
        "box",
        GUARD,
    ),
    op(
        MEM,
        "math.prod",
        "import math\ndef transform(doc):\n    return {'x': math.prod([10**1000] * 1000) > 0}",
        "box",
        GUARD,
    ),
    op(
        MEM,
        "operator.mul",
        "from operator import mul\ndef transform(doc):\n    return {'x': len(mul('x', 10**10))}",
        "box",
        GUARD,
    ),
    op(
        MEM,
        "'%*d' width",
        "def transform(doc):\n    return {'x': len('%*d' % (2 * 10**9, 1))}",
        "box",
        r"^transform failed: SizeLimitError: '%' width",
    ),
    op(
        MEM,
        "'%d' literal width",
        "def transform(doc):\n    return {'x': len('%999999999d' % 1)}",
        "box",
        r"^transform failed: SizeLimitError: '%' width",
    ),
    op(
        MEM,
        "Counter.elements() listed (the box's rlimit)",
        "from collections import Counter\ndef transform(doc):\n    return {'x': len(list(Counter(a=10**10).elements()))}",
        "box",
        BOX_MEMORY,
    ),
    op(
        MEM,
        "huge result",
        "def transform(doc):\n    return {'x': [doc['text'] * 100000] * 200}",
        "box",
        r"^transform failed: (MemoryError|timed out|killed after|the result is over)",
    ),
    # --- spikes: a 100 MB allocation gone within a tick; the guard refuses it before it exists
    op(
        SPIKE,
        "literal 1000x replace (inline-safe code)",
        f"def transform(doc):\n    return {{'x': len(doc['text'].replace('a', '{REPLACEMENT}'))}}",
        "inline",
        r"^transform stopped: transform: '.replace' would build",
        BIG_ROW,
    ),
    op(
        SPIKE,
        "replace then discard (box)",
        "def transform(doc):\n    n = len(doc['text'].replace('a', doc['text'][:1000]))\n    return {'x': n}",
        "box",
        GUARD,
        BIG_ROW,
    ),
    Case(
        SPIKE,
        "check: literal 1000x replace (in-process)",
        lambda _tmp: _check_spike(
            f"def check(example, response):\n    return len(response.replace('a', '{REPLACEMENT}')) < 0"
        ),
        "contained",
    ),
    Case(
        SPIKE,
        "check: join of a repeated response",
        lambda _tmp: _check_spike(
            "def check(example, response):\n    return len(' '.join([response] * 1000)) < 0"
        ),
        "contained",
    ),
    # --- imports: the curated stdlib works (exact values), everything else is refused
    op(
        IMP,
        "typing + collections + datetime (DocETL demos)",
        """
        from collections import Counter, defaultdict
        from datetime import datetime, timedelta
        from typing import Any, Dict, List
        def transform(doc: Dict[str, Any]) -> Dict[str, Any]:
            c = Counter(doc["text"].split() + ["world"])
            d = defaultdict(list)
            d["k"].append(1)
            day = datetime.strptime("2020-01-31", "%Y-%m-%d") + timedelta(days=1)
            out: List[Any] = [c.most_common(1)[0][0], dict(d), day.strftime("%Y-%m-%d")]
            return {"out": out}
        """,
        "box",
        {"out": ["world", {"k": [1]}, "2020-02-01"]},
    ),
    op(
        IMP,
        "itertools + functools + operator + statistics",
        """
        import itertools
        import statistics
        from functools import reduce
        from operator import add, itemgetter
        def transform(doc):
            pairs = list(itertools.pairwise([1, 2, 4]))
            return {
                "p": [list(p) for p in pairs],
                "s": reduce(add, [1, 2, 3]),
                "m": statistics.median([3, 1, 2]),
                "g": itemgetter(1)(["a", "b"]),
            }
        """,
        "box",
        {"p": [[1, 2], [2, 4]], "s": 6, "m": 2, "g": "b"},
    ),
    op(
        IMP,
        "hashlib + unicodedata + decimal + fractions + string",
        """
        import hashlib
        import string
        import unicodedata
        from decimal import Decimal, ROUND_HALF_UP
        from fractions import Fraction
        def transform(doc):
            return {
                "h": hashlib.sha256(doc["text"].encode()).hexdigest()[:8],
                "u": unicodedata.normalize("NFKC", "\\uff21"),
                "d": str(Decimal("2.675").quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)),
                "f": str(Fraction(1, 3) + Fraction(1, 6)),
                "w": string.capwords(doc["text"]),
            }
        """,
        "box",
        {"h": "b94d27b9", "u": "A", "d": "2.68", "f": "1/2", "w": "Hello World"},
    ),
    refused(
        "typing.get_type_hints (evaluates strings)",
        "from typing import get_type_hints\ndef transform(doc):\n    return {}",
    ),
    refused(
        "typing.ForwardRef",
        "import typing\ndef transform(doc):\n    return {'x': typing.ForwardRef('x')}",
    ),
    refused(
        "typing.NamedTuple", "from typing import NamedTuple\ndef transform(doc):\n    return {}"
    ),
    refused(
        "collections.namedtuple (execs source)",
        "from collections import namedtuple\ndef transform(doc):\n    return {}",
    ),
    refused(
        "itertools.count (unbounded C iterator)",
        "from itertools import count\ndef transform(doc):\n    return {}",
    ),
    refused(
        "functools.lru_cache (state across rows)",
        "import functools\ndef transform(doc):\n    return {'x': functools.lru_cache}",
    ),
    refused(
        "operator.attrgetter (attribute walk)",
        "from operator import attrgetter\ndef transform(doc):\n    return {}",
    ),
    refused(
        "operator.methodcaller",
        "from operator import methodcaller\ndef transform(doc):\n    return {}",
    ),
    refused(
        "hashlib.file_digest (I/O)",
        "import hashlib\ndef transform(doc):\n    return {'x': hashlib.file_digest}",
    ),
    refused(
        "decimal.getcontext (global state)",
        "from decimal import getcontext\ndef transform(doc):\n    return {}",
    ),
    refused("import os", "import os\ndef transform(doc):\n    return {}"),
    refused("import sys", "import sys\ndef transform(doc):\n    return {}"),
    refused("import importlib", "import importlib\ndef transform(doc):\n    return {}"),
    refused("import time", "import time\ndef transform(doc):\n    return {}"),
    refused(
        "from datetime import sys", "from datetime import sys\ndef transform(doc):\n    return {}"
    ),
    refused(
        "collections module walk",
        "import collections\ndef transform(doc):\n    return {'x': collections.abc}",
    ),
    refused(
        "attribute store on a proxy",
        "import datetime\ndef transform(doc):\n    datetime.datetime = None\n    return {}",
    ),
    refused(
        "attribute store on a curated class",
        "from collections import Counter\ndef transform(doc):\n    Counter.most_common = None\n    return {}",
    ),
    refused(
        "dunder on a curated class",
        "from collections import Counter\ndef transform(doc):\n    return {'x': Counter.__init__}",
    ),
    refused(
        "module passed around", "import math\ndef transform(doc):\n    m = math\n    return {}"
    ),
    Case(
        IMP,
        "checks do not get the curated set",
        lambda _tmp: _verdict(
            "from collections import Counter\ndef check(example, response):\n    return False\n"
        ),
        "refused",
    ),
]
