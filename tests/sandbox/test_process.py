"""The sandbox: hostile code is refused statically or contained at run time, never harming the caller."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from llmassert.errors import SandboxError, SandboxTimeoutError, UnsafeCodeError
from llmassert.sandbox import (
    ProcessSandbox,
    check_inline_safe,
    is_inline_safe,
    load_inline,
    validate_source,
)

GOOD = '''
"""A module of checks."""
import re
import json as j
from llmassert.assertions.helpers import word_count, contains_phrase

LIMIT = 5
PATTERN = re.compile(r"^\\s*dear\\b", re.I | re.M)
WORDS = frozenset({"a", "b"})


def short(example: dict, response: str) -> bool:
    """At most LIMIT words."""
    return word_count(response) <= LIMIT


def greets(example: dict, response: str) -> bool:
    return PATTERN.search(response) is not None and not contains_phrase(response, "sorry")


def is_json(example: dict, response: str) -> bool:
    try:
        j.loads(response)
    except ValueError:
        return False
    return True


def _private(example, response):
    return True
'''


@pytest.fixture(scope="module")
def box() -> Iterator[ProcessSandbox]:
    with ProcessSandbox(timeout_s=0.5, memory_mb=256) as sandbox:
        yield sandbox


# --- validation ---------------------------------------------------------------------------------

HOSTILE = {
    "import os": "import os\ndef f(example, response):\n    return True\n",
    "from os import": "from os import system\n",
    "relative import": "from . import helpers\n",
    "dunder import": "def f(example, response):\n    return __import__('os')\n",
    "class walk": "def f(example, response):\n    return ().__class__.__bases__\n",
    "open": "def f(example, response):\n    return open('/etc/passwd').read()\n",
    "eval": "def f(example, response):\n    return eval('1')\n",
    "exec alias": "def f(example, response):\n    g = exec\n    return True\n",
    "getattr": "def f(example, response):\n    return getattr(response, 'upper')()\n",
    "globals": "def f(example, response):\n    return globals()\n",
    "frame via generator": "def f(example, response):\n    g = (x for x in [1])\n    return g.gi_frame.f_back\n",
    "format walk": "def f(example, response):\n    return '{0.__class__}'.format(response)\n",
    "format on data": "def f(example, response):\n    return response.format(example)\n",
    "type 3 args": "def f(example, response):\n    return type('X', (), {})\n",
    "class def": "class X:\n    pass\n",
    "global": "def f(example, response):\n    global LIMIT\n    return True\n",
    "module code": "print('hi')\ndef f(example, response):\n    return True\n",
    "module call": "X = len('abc')\n",
    "module alias": "import re\nR = re\n",
    "module attr": "import json\ndef f(example, response):\n    return json.codecs.open('/etc/passwd')\n",
    "module passed": "import re\ndef f(example, response):\n    return str(re)\n",
    "with": "def f(example, response):\n    with x:\n        pass\n",
    "bare except": "def f(example, response):\n    try:\n        return True\n    except:\n        return False\n",
    "decorator": "@len\ndef f(example, response):\n    return True\n",
    "default lambda": "def f(example, response, g=lambda: 1):\n    return True\n",
    "mro": "def f(example, response):\n    return str.mro()\n",
    "helpers plain import": "import llmassert.assertions.helpers\n",
    "unknown helper": "from llmassert.assertions.helpers import re\n",
    "async": "async def f(example, response):\n    return True\n",
    "syntax": "def f(:\n",
    "future other": "from __future__ import braces\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_validation_refuses_hostile_code(name: str) -> None:
    with pytest.raises(UnsafeCodeError) as info:
        validate_source(HOSTILE[name], filename="evil.py")
    message = str(info.value)
    assert message.startswith("evil.py: ")
    assert "\n" not in message


def test_validation_names_the_line() -> None:
    source = "import re\n\n\ndef f(example, response):\n    return open('x')\n"
    with pytest.raises(UnsafeCodeError, match=r"evil\.py: line 5: 'open' is not allowed"):
        validate_source(source, filename="evil.py")


def test_validation_accepts_ordinary_assertion_code() -> None:
    validate_source(GOOD)
    validate_source(
        "from __future__ import annotations\n__all__ = ['f']\ndef f(example, response):\n    return '{} {x}'.format(1, x=2) != ''\n"
    )
    validate_source("def f(example, response):\n    return True\n\n\nASSERTIONS: list = [f]\n")
    with pytest.raises(UnsafeCodeError, match="line 1: module level may only assign"):
        validate_source("ASSERTIONS = [len]\n")


# --- in-process loading --------------------------------------------------------------------------


def test_load_inline_returns_public_functions_that_run() -> None:
    functions = load_inline(GOOD, filename="good.py")
    assert sorted(functions) == ["greets", "is_json", "short"]
    assert functions["short"]({}, "one two three") is True
    assert functions["short"]({}, "one two three four five six") is False
    assert functions["greets"]({}, "Dear Ann,\nhello") is True
    assert functions["greets"]({}, "Dear Ann, sorry") is False
    assert functions["is_json"]({}, '{"a": 1}') is True
    assert functions["is_json"]({}, "{a: 1}") is False


def test_load_inline_has_restricted_builtins() -> None:
    functions = load_inline("def f(example, response):\n    return len(range(10**8))\n")
    with pytest.raises(ValueError, match="sandbox limit"):
        functions["f"]({}, "")
    functions = load_inline("def f(example, response):\n    return type(str)\n")
    with pytest.raises(TypeError):
        functions["f"]({}, "")
    # Names that validation lets through but builtins do not provide fail at call time.
    functions = load_inline("def f(example, response):\n    return hash(response)\n")
    with pytest.raises(NameError):
        functions["f"]({}, "")


def test_load_inline_reports_module_level_failure() -> None:
    with pytest.raises(SandboxError, match=r"bad\.py: module level failed: .*error"):
        load_inline("import re\nP = re.compile('(')\n", filename="bad.py")


# --- inline safety -------------------------------------------------------------------------------

NOT_INLINE = {
    "while": "def f(example, response):\n    while True:\n        pass\n",
    "self recursion": "def f(example, response):\n    return f(example, response)\n",
    "mutual recursion": "def f(example, response):\n    return g(example, response)\n\n\ndef g(example, response):\n    return f(example, response)\n",
    "recursion via a list": "def f(example, response):\n    return CHECKS[0](example, response) or CHECKS[0](example, response)\n\n\nCHECKS = [f]\n",
    "nested def": "def f(example, response):\n    def g():\n        return 1\n    return g() == 1\n",
    "named lambda": "def f(example, response):\n    g = lambda: 1\n    return g() == 1\n",
    "unbounded range": "def f(example, response):\n    return len(range(int(example['n']))) > 0\n",
    "huge range": "def f(example, response):\n    return sum(range(10**10)) > 0\n",
    "string bomb": "def f(example, response):\n    return len('x' * 10**10) > 0\n",
    "list bomb": "def f(example, response):\n    return len([0] * 10**10) > 0\n",
    "variable repeat": "def f(example, response):\n    return len(response * int(example['n'])) > 0\n",
    "pow": "def f(example, response):\n    return 10 ** int(example['n']) > 0\n",
    "redos": "import re\ndef f(example, response):\n    return re.match(r'(a+)+$', response) is not None\n",
    "dynamic regex": "import re\ndef f(example, response):\n    return re.search(example['p'], response) is not None\n",
    "wide format": "def f(example, response):\n    return len(f'{response:>999999999}') > 0\n",
    "percent width": "def f(example, response):\n    return len('%999999999d' % 1) > 0\n",
    "ljust": "def f(example, response):\n    return len(response.ljust(10**9)) > 0\n",
    "deep loops": "def f(example, response):\n    return any(a == b == c for a in response for b in response for c in response)\n",
    "factorial": "import math\ndef f(example, response):\n    return math.factorial(len(response) * 9) > 0\n",
}


@pytest.mark.parametrize("name", sorted(NOT_INLINE))
def test_inline_safety_refuses_unbounded_code(name: str) -> None:
    source = NOT_INLINE[name]
    validate_source(source)  # valid code: it may run in the process sandbox
    assert not is_inline_safe(source)
    with pytest.raises(UnsafeCodeError, match="process sandbox"):
        check_inline_safe(source, filename="slow.py")


def test_inline_safety_accepts_bounded_code() -> None:
    assert is_inline_safe(GOOD)
    source = (
        "import re\nfrom llmassert.assertions.helpers import words\n"
        "def f(example, response):\n"
        "    ws = words(response)\n"
        "    pat = '|'.join(re.escape(w) for w in ['a', 'b'])\n"
        "    hits = [w for w in ws if re.fullmatch(pat, w)]\n"
        "    return len(hits) * 2 <= len(ws) * 1.5 and all(i < len(ws) for i in range(len(ws)))\n"
    )
    assert is_inline_safe(source)
    assert not is_inline_safe("import os\n")  # invalid code is never inline-safe


def test_load_inline_can_require_inline_safety() -> None:
    with pytest.raises(UnsafeCodeError):
        load_inline(NOT_INLINE["while"], require_inline_safe=True)
    assert "short" in load_inline(GOOD, require_inline_safe=True)


# --- the process sandbox -------------------------------------------------------------------------

RUNTIME_HOSTILE = """
import re

def ok(example: dict, response: str) -> bool:
    return "yes" in response

def spin(example, response):
    while True:
        pass

def swallow_timeout(example, response):
    while True:
        try:
            while True:
                pass
        except Exception:
            pass

def string_bomb(example, response):
    return len("x" * 10**10) > 0

def list_bomb(example, response):
    return len([0] * 10**10) > 0

def grow(example, response):
    out = []
    for i in range(10**7):
        out.append(list(range(1000)))
    return True

def recurse(example, response):
    return recurse(example, response)

def redos(example, response):
    # A lookahead keeps it off RE2: stdlib backtracks exponentially until the timer stops it.
    return re.match(r"(?=(a+)+$)", "a" * 40 + "b") is not None

def redos_linear(example, response):
    # The same search without the lookahead: RE2 gives stdlib's answer at once.
    return re.match(r"(a+)+$", "a" * 40 + "b") is None

def raises(example, response):
    return 1 / 0

def mutate(example, response):
    example.clear()
    return True

def reads(example, response):
    return example.get("n") == 1

def not_bool(example, response):
    return re.search("y", response)
"""


def test_hostile_calls_fail_and_the_sandbox_serves_the_next_call(box: ProcessSandbox) -> None:
    sid = box.load(RUNTIME_HOSTILE, filename="hostile.py")
    hostile = [
        "spin",
        "swallow_timeout",
        "string_bomb",
        "list_bomb",
        "grow",
        "recurse",
        "redos",
        "raises",
    ]
    names = [n for h in hostile for n in ("ok", h)] + ["ok", "redos_linear"]
    rows = box.call_many_detailed(sid, names, [({}, "yes")])
    assert len(rows) == 1 and len(rows[0]) == len(names)
    for name, result in zip(names, rows[0], strict=True):
        if name in ("ok", "redos_linear"):
            assert result.value is True, (name, result)
        else:
            assert result.value is None and result.error, (name, result)
    by_name = dict(zip(names, rows[0], strict=True))
    assert "timed out" in (by_name["spin"].error or "") and by_name["spin"].kind == "limit"
    assert by_name["raises"].kind == "error" and by_name["string_bomb"].kind == "limit"
    assert "would build" in (
        by_name["string_bomb"].error or ""
    )  # the size guard, before allocating
    assert "Recursion" in (by_name["recurse"].error or "")
    assert "timed out" in (by_name["redos"].error or "")
    assert "ZeroDivision" in (by_name["raises"].error or "")
    assert box.call(sid, "ok", {}, "yes") is True


def test_batches_are_item_major_and_examples_are_isolated(box: ProcessSandbox) -> None:
    sid = box.load(RUNTIME_HOSTILE, filename="hostile.py")
    items = [({"n": 1}, "yes"), ({"n": 2}, "no")]
    # The example is read-only: `mutate` fails (TypeError) and `reads` still sees "n".
    assert box.call_many(sid, ["mutate", "reads", "ok", "not_bool"], items) == [
        [None, True, True, True],
        [None, False, False, False],
    ]
    detail = box.call_many_detailed(sid, ["mutate"], items[:1])[0][0]
    assert detail.kind == "error" and "read-only" in (detail.error or "")


def test_single_call_api_raises(box: ProcessSandbox) -> None:
    sid = box.load(RUNTIME_HOSTILE, filename="hostile.py")
    with pytest.raises(SandboxTimeoutError, match=r"hostile\.py: spin: timed out"):
        box.call(sid, "spin", {}, "x")
    with pytest.raises(SandboxError, match="ZeroDivisionError"):
        box.call(sid, "raises", {}, "x")
    with pytest.raises(SandboxError, match="no function 'missing'"):
        box.call(sid, "missing", {}, "x")


def test_example_values_json_cannot_carry_arrive_as_text(box: ProcessSandbox) -> None:
    import datetime

    sid = box.load("def f(example, response):\n    return example['d'] == '2024-01-02'\n")
    assert box.call(sid, "f", {"d": datetime.date(2024, 1, 2)}, "") is True


def test_source_text_is_accepted_in_place_of_an_id(box: ProcessSandbox) -> None:
    assert box.call_many(GOOD, ["short"], [({}, "a b"), ({}, "a b c d e f g")]) == [[True], [False]]
    with pytest.raises(UnsafeCodeError):
        box.call_many("import os\ndef f(e, r):\n    return 1\n", ["f"], [({}, "")])
    with pytest.raises(SandboxError, match="unknown source id"):
        box.call_many("abc123", ["f"], [({}, "")])


def test_load_refuses_unsafe_and_broken_sources(box: ProcessSandbox) -> None:
    with pytest.raises(UnsafeCodeError, match=r"evil\.py"):
        box.load(HOSTILE["import os"], filename="evil.py")
    with pytest.raises(SandboxError, match="module level failed"):
        box.load("import re\nP = re.compile('(')\n", filename="broken.py")
    sid = box.load(GOOD, filename="good.py")
    assert box.functions(sid) == ("short", "greets", "is_json")


def _worker_pid(sandbox: ProcessSandbox) -> int:
    sandbox.start()
    pid = sandbox.worker_pid
    assert pid is not None
    return pid


def test_a_worker_that_stops_answering_is_killed_and_replaced() -> None:
    # SIGSTOP stands in for code stuck inside a C call that ignores the worker's own timer.
    with ProcessSandbox(timeout_s=0.2) as sandbox:
        sid = sandbox.load(RUNTIME_HOSTILE)
        first = _worker_pid(sandbox)
        os.kill(first, signal.SIGSTOP)
        rows = sandbox.call_many_detailed(sid, ["ok", "ok"], [({}, "yes"), ({}, "no")])
        assert rows[0][0].value is None and "killed" in (rows[0][0].error or "")
        assert rows[0][0].kind == "limit"
        assert [r.value for r in rows[0][1:]] + [r.value for r in rows[1]] == [True, False, False]
        assert sandbox.restarts == 1 and _worker_pid(sandbox) != first


def test_a_worker_that_dies_is_replaced() -> None:
    with ProcessSandbox(timeout_s=0.5) as sandbox:
        sid = sandbox.load(RUNTIME_HOSTILE)
        dead = _worker_pid(sandbox)
        os.kill(dead, signal.SIGKILL)
        rows = sandbox.call_many_detailed(sid, ["ok"], [({}, "yes"), ({}, "yes")])
        # Whether the first call meets the dead worker depends on when the kill lands relative
        # to the write; either it is reported as a crash or it is answered by the replacement.
        first = rows[0][0]
        if first.value is None:
            assert first.kind == "crash" and "SIGKILL" in (first.error or "")
        else:
            assert first.value is True
        assert rows[1][0].value is True
        assert _worker_pid(sandbox) != dead
        assert sandbox.call(sid, "ok", {}, "yes") is True


def test_the_worker_has_no_environment_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    with ProcessSandbox() as sandbox:
        pid = _worker_pid(sandbox)
        with open(f"/proc/{pid}/environ", "rb") as f:
            assert b"sk-secret" not in f.read()


def test_closed_sandbox_refuses_work_and_stops_its_worker() -> None:
    sandbox = ProcessSandbox()
    sid = sandbox.load(GOOD)
    pid = _worker_pid(sandbox)
    sandbox.close()
    with pytest.raises(SandboxError, match="closed"):
        sandbox.call_many(sid, ["short"], [({}, "")])
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


TEMPLATE_CHECKS = """
from llmassert.assertions.parse import section_text, items
from llmassert.assertions.formats import is_sql, rouge_l


def ideas_within(example, response):
    part = section_text(response, 'IDEAS', ('SUMMARY', 'IDEAS'))
    return part is not None and len(items(part)) == 2


def sql_close(example, response):
    return is_sql(response) and rouge_l(response, example['ref']) > 0.5
"""


def test_parser_and_format_helpers_load_in_the_worker() -> None:
    # The worker loads parse.py and formats.py by path, without the llmassert package.
    with ProcessSandbox(timeout_s=2.0, memory_mb=256) as box:
        sid = box.load(TEMPLATE_CHECKS, filename="template.py")
        good = "SUMMARY: x\n\nIDEAS:\n- a\n- b\n"
        assert box.call(sid, "ideas_within", {}, good) is True
        assert box.call(sid, "ideas_within", {}, "IDEAS:\n- a\n") is False
        ref = {"ref": "SELECT name FROM users;"}
        assert box.call(sid, "sql_close", ref, "SELECT name FROM users WHERE id = 2;") is True
        assert box.call(sid, "sql_close", ref, "Select a name.") is False
