"""Code-containment payloads (issue 10, items 1-3): assertion code, `validate:`, templates.

Each case runs a payload through the real component that would meet it (the AST allowlist, the
in-process loader with its deadline, the process sandbox worker, the synthesis evaluator, the
`validate:` interpreter, the Jinja sandbox) and reports what happened:

- ``refused``: stopped before it ran (the allowlist, the expression checker, the template
  compiler);
- ``contained``: it ran, and nothing changed beyond its own verdict: every check of the payload
  fails (they are all written so that their honest verdict is False), the host's modules and the
  caller's rows are unchanged, and it ended within its bound;
- ``escaped``: any of those did not hold; ``traceback``: an exception escaped the component.

The CLI reproductions of the issue (``llmassert test`` / ``llmassert run`` as subprocesses) are in
``test_code.py``; these cases are shared with ``bench/security.py``.
"""

from __future__ import annotations

import copy
import json
import math
import re
import string
import textwrap
import time
from dataclasses import dataclass
from typing import Any

from llmassert.assertions import AssertionSet
from llmassert.assertions import helpers as host_helpers
from llmassert.errors import AssertionModuleError, SpecError, TemplateError, UnsafeCodeError
from llmassert.pipeline.templates import Prompt
from llmassert.pipeline.validation import SafeExpr, UnsafeExpressionError
from llmassert.sandbox import ProcessSandbox, validate_source
from llmassert.synth.evaluate import evaluate
from llmassert.synth.models import Candidate

try:
    from security._case import Case, Outcome
except ImportError:  # loaded by path from bench/security.py with tests/ on sys.path
    from tests.security._case import Case, Outcome  # type: ignore[no-redef]

TIMEOUT_S = 1.0
BOUND_S = 15.0  # a payload still running (or returning) after this has escaped its bound
ROW: dict[str, Any] = {"id": "r1", "text": "the quick brown fox", "meta": {"tags": ["a", "b"]}}
RESPONSE = "a short honest answer"


def _host_snapshot() -> dict[str, Any]:
    """Identity of every host attribute a payload might rebind."""
    modules = {"json": json, "re": re, "math": math, "string": string, "helpers": host_helpers}
    return {
        f"{m}.{n}": getattr(mod, n) for m, mod in modules.items() for n in dir(mod) if n[:1] != "_"
    }


def _changed(before: dict[str, Any]) -> list[str]:
    after = _host_snapshot()
    return [k for k in before if after.get(k) is not before[k]]


def _verdict(
    source: str, *, row: dict[str, Any] | None = None, response: str = RESPONSE
) -> Outcome:
    """Load ``source`` as an assertion module the way ``llmassert test`` does; check one row."""
    row = copy.deepcopy(ROW) if row is None else row
    pristine = copy.deepcopy(row)
    before = _host_snapshot()
    start = time.monotonic()
    try:
        validate_source(source, filename="payload.py")
    except UnsafeCodeError:
        return "refused"
    try:
        checks = AssertionSet.from_source(source, filename="payload.py", timeout_s=TIMEOUT_S)
    except AssertionModuleError as e:
        return "refused" if "refused" in e.message else "contained"
    try:
        with checks:
            result = checks.check(response, row)
    except Exception:
        return "traceback"
    if _changed(before) or row != pristine or time.monotonic() - start > BOUND_S:
        return "escaped"
    return "escaped" if any(result.results.values()) else "contained"


def _module(body: str) -> str:
    return textwrap.dedent(body).strip() + "\n"


def code(cls: str, name: str, body: str, expected: Outcome, **kw: Any) -> Case:
    # The payload is `f(e, r)`; `check(example, response)` is the assertion the loader finds.
    source = _module(body) + "\n\ndef check(example, response):\n    return f(example, response)\n"
    return Case(cls, name, lambda _tmp: _verdict(source, **kw), expected)


# --- cross-candidate: one worker, several sources, as synthesis runs them ----------------------

VICTIM = _module(
    '''
    import json
    from llmassert.assertions.helpers import parse_json

    def victim(example, response):
        """Honestly False on RESPONSE: it is not JSON with ok=true, and the row has no flag."""
        value = parse_json(response)
        return (isinstance(value, dict) and value.get("ok") is True) or "flag" in example \
            or json.dumps([1]) == "X"
    '''
)


def _cross(forger: str, response: str = RESPONSE) -> Outcome:
    """Run the forger, then an honest victim, in one worker: the victim must still fail."""
    start = time.monotonic()
    try:
        with ProcessSandbox(timeout_s=TIMEOUT_S) as box:
            try:
                fid = box.load(_module(forger), filename="forger.py")
            except UnsafeCodeError:
                return "refused"
            vid = box.load(VICTIM, filename="victim.py")
            row = copy.deepcopy(ROW)
            forged = box.call_many_detailed(fid, box.functions(fid), [(row, response)] * 2)
            honest = box.call_many(vid, ["victim"], [(row, response)] * 3)
    except Exception:
        return "traceback"
    if time.monotonic() - start > BOUND_S or row != ROW:
        return "escaped"
    if any(v for line in honest for v in line) or any(r.passed for line in forged for r in line):
        return "escaped"
    return "contained"


def cross(name: str, forger: str, expected: Outcome, response: str = RESPONSE) -> Case:
    return Case("cross-candidate", name, lambda _tmp: _cross(forger, response), expected)


@dataclass(frozen=True)
class _Example:
    input: dict[str, Any]
    response: str


def _synth_forger() -> Outcome:
    """synth --model's path: LLM-written candidates in the sandbox; a forger then `return False`."""
    forger = Candidate(
        name="forger",
        criterion_id="c1",
        kind="deterministic",
        source="llm",
        code=_module(
            """
            def forger(example, response):
                print('\\x43\\x00\\x00\\x00\\x01\\x01\\x00\\x00')
                raise ValueError('\\n[true, null, null]\\n' * 50)
            """
        ),
    )
    honest = Candidate(
        name="honest",
        criterion_id="c1",
        kind="deterministic",
        source="llm",
        code="def honest(example, response):\n    return False\n",
    )
    examples = [_Example(input={"i": i}, response=f"r{i}") for i in range(40)]
    try:
        matrix = evaluate([forger, honest], examples, timeout_s=TIMEOUT_S).M
    except Exception:
        return "traceback"
    return "escaped" if any(row[0] or row[1] for row in matrix) else "contained"


# --- `validate:` expressions --------------------------------------------------------------------


def _expr(source: str) -> Outcome:
    output = {"summary": "a summary", "items": [1, 2, 3]}
    row = copy.deepcopy(ROW)
    start = time.monotonic()
    try:
        expr = SafeExpr(source)
    except UnsafeExpressionError:
        return "refused"
    except Exception:
        return "traceback"
    try:
        holds, reason = expr.holds(output=output, input=row)
    except Exception:
        return "traceback"
    if time.monotonic() - start > BOUND_S or row != ROW or output["items"] != [1, 2, 3]:
        return "escaped"
    return "escaped" if holds or not reason or "\n" in reason else "contained"


def expr(name: str, source: str, expected: Outcome) -> Case:
    return Case("validate-expr", name, lambda _tmp: _expr(source), expected)


# --- templates ------------------------------------------------------------------------------------


def _template(source: str) -> Outcome:
    row = copy.deepcopy(ROW)
    start = time.monotonic()
    try:
        prompt = Prompt(source, where="operations[0] (payload).prompt")
    except SpecError:
        return "refused"
    except Exception:
        return "traceback"
    try:
        prompt.render(input=row)
        failed = False
    except TemplateError as e:
        failed = "\n" not in str(e)
    except Exception:
        return "traceback"
    if time.monotonic() - start > BOUND_S or row != ROW:
        return "escaped"
    return "contained" if failed else "escaped"


def template(cls: str, name: str, source: str, expected: Outcome) -> Case:
    return Case(cls, name, lambda _tmp: _template(source), expected)


# --- the table ------------------------------------------------------------------------------------

R, C = "refused", "contained"
MR, LR, TS = "module-rebinding", "live-rows", "timeout-swallowing"
UT, UM, RX = "unbounded-time", "unbounded-memory", "regex-redos"

CASES: list[Case] = [
    # module rebinding: a store on an imported module (or through one) never runs
    code(
        MR,
        "json.dumps = str",
        "import json\ndef f(e, r):\n    json.dumps = str\n    return False",
        R,
    ),
    code(
        MR,
        "re.search = re.fullmatch",
        "import re\ndef f(e, r):\n    re.search = re.fullmatch\n    return False",
        R,
    ),
    code(
        MR,
        "module level json.loads",
        "import json\njson.loads = None\ndef f(e, r):\n    return False",
        R,
    ),
    code(
        MR, "del json.dumps", "import json\ndef f(e, r):\n    del json.dumps\n    return False", R
    ),
    code(
        MR, "math.pi augmented", "import math\ndef f(e, r):\n    math.pi += 1\n    return False", R
    ),
    code(
        MR,
        "string.digits",
        "import string\ndef f(e, r):\n    string.digits = ''\n    return False",
        R,
    ),
    code(
        MR,
        "aliased module",
        "import json as j\ndef f(e, r):\n    j.dumps = str\n    return False",
        R,
    ),
    code(
        MR,
        "helper function attribute",
        "from llmassert.assertions.helpers import word_count\ndef f(e, r):\n    word_count.cache = 1\n    return False",
        R,
    ),
    code(
        MR,
        "type() of a module proxy",
        "import json\ndef f(e, r):\n    t = type(json)\n    t.dumps = str\n    return False",
        R,
    ),
    code(
        MR,
        "tuple-unpacking store",
        "import json, re\ndef f(e, r):\n    json.dumps, re.search = str, str\n    return False",
        R,
    ),
    code(
        MR,
        "walrus then attribute",
        "import json\ndef f(e, r):\n    (m := json).dumps = str\n    return False",
        R,
    ),
    code(
        MR,
        "for-loop target attribute",
        "import json\ndef f(e, r):\n    for json.dumps in [str]:\n        pass\n    return False",
        R,
    ),
    code(
        MR,
        "json.dumps rebinding is harmless at run time",
        "import json\ndef f(e, r):\n    return json.dumps({'a': 1}) == 'X'",
        C,
    ),
    # live rows: the caller's example is never changed, whatever the check tries
    code(
        LR, 'example["id"] = "HACKED"', "def f(e, r):\n    e['id'] = 'HACKED'\n    return False", R
    ),
    code(LR, "del example[key]", "def f(e, r):\n    del e['text']\n    return False", R),
    code(LR, "nested item store", "def f(e, r):\n    e['meta']['tags'] = []\n    return False", R),
    code(LR, "example.pop", "def f(e, r):\n    e.pop('text')\n    return False", C),
    code(LR, "example.clear", "def f(e, r):\n    e.clear()\n    return False", C),
    code(LR, "example.update", "def f(e, r):\n    e.update({'id': 'x'})\n    return False", C),
    code(LR, "example.setdefault", "def f(e, r):\n    e.setdefault('new', 1)\n    return False", C),
    code(
        LR,
        "alias then store",
        "def f(e, r):\n    m = e['meta']\n    m['x'] = 1\n    return False",
        C,
    ),
    code(
        LR,
        "nested list append",
        "def f(e, r):\n    e['meta']['tags'].append('z')\n    return False",
        C,
    ),
    code(
        LR,
        "nested list sort in place",
        "def f(e, r):\n    e['meta']['tags'].sort(reverse=True)\n    return False",
        C,
    ),
    code(
        LR,
        "augmented list",
        "def f(e, r):\n    t = e['meta']['tags']\n    t += ['z']\n    return False",
        C,
    ),
    code(LR, "dict |= on the example", "def f(e, r):\n    e |= {'id': 'x'}\n    return False", C),
    code(
        LR,
        "dict.update(example)",
        "def f(e, r):\n    dict.update(e, {'id': 'x'})\n    return False",
        R,
    ),
    code(
        LR,
        "list.append(tags)",
        "def f(e, r):\n    list.append(e['meta']['tags'], 'z')\n    return False",
        R,
    ),
    code(
        LR,
        "type(example).update",
        "def f(e, r):\n    type(e).update(e, {'id': 'x'})\n    return False",
        C,
    ),
    code(
        LR,
        "mutable default carries state",
        "def f(e, r, seen=[]):\n    seen.append(1)\n    return len(seen) > 1",
        R,
    ),
    code(
        LR,
        "module constant carries state",
        "SEEN = []\ndef f(e, r):\n    SEEN.append(r)\n    return len(SEEN) > 5",
        C,
    ),
    code(
        LR,
        "module dict constant store",
        "TABLE = {}\ndef f(e, r):\n    TABLE['x'] = 1\n    return False",
        R,
    ),
    code(
        LR,
        "module dict through alias",
        "TABLE = {}\ndef f(e, r):\n    t = TABLE\n    t['x'] = 1\n    return False",
        C,
    ),
    code(
        LR,
        "parse_json cache poisoned",
        "from llmassert.assertions.helpers import parse_json\ndef f(e, r):\n    v = parse_json(r)\n    v['ok'] = True\n    return False",
        C,
        response='{"ok": false}',
    ),
    code(
        LR,
        "json_object cache pop",
        "from llmassert.assertions.helpers import json_object\ndef f(e, r):\n    json_object(r).pop('ok')\n    return False",
        C,
        response='{"ok": false}',
    ),
    code(
        LR,
        "worker: pop in a sandboxed check",
        "def f(e, r):\n    while False:\n        pass\n    e.pop('text')\n    return False",
        C,
    ),
    code(
        LR,
        "worker: alias store in a sandboxed check",
        "def f(e, r):\n    while False:\n        pass\n    m = e['meta']\n    m['x'] = 1\n    return False",
        C,
    ),
    # cross-candidate: a forger in the same worker cannot change another candidate's verdict
    cross(
        "poison a helper cache",
        "from llmassert.assertions.helpers import parse_json\ndef forger(e, r):\n    while False:\n        pass\n    v = parse_json(r)\n    v['ok'] = True\n    return False",
        C,
        response='{"ok": false}',
    ),
    cross(
        "flag the shared example",
        "def forger(e, r):\n    while False:\n        pass\n    d = e\n    d['flag'] = True\n    return False",
        C,
    ),
    cross(
        "rebind json for the victim",
        "import json\ndef forger(e, r):\n    json.dumps = lambda v: 'X'\n    return False",
        R,
    ),
    cross(
        "fake frames on stdout",
        "def forger(e, r):\n    while False:\n        pass\n    print('C' * 64)\n    return False",
        C,
    ),
    cross(
        "fake replies in an error message",
        "def forger(e, r):\n    while False:\n        pass\n    raise ValueError('\\n[true, null, null]\\n' * 100)",
        C,
    ),
    cross(
        "huge error message",
        "def forger(e, r):\n    while False:\n        pass\n    raise ValueError('x' * 10**6)",
        C,
    ),
    cross(
        "kill the worker mid-batch",
        "def forger(e, r):\n    x = []\n    while True:\n        x.append('y' * 10**6)",
        C,
    ),
    cross("forger times out", "def forger(e, r):\n    while True:\n        pass", C),
    Case(
        "cross-candidate",
        "synth --model: forger then return False",
        lambda _tmp: _synth_forger(),
        C,
    ),
    # unbounded time: in-process checks have a deadline, sandboxed ones a timer and a watchdog
    code(UT, "while True (worker)", "def f(e, r):\n    while True:\n        pass", C),
    code(
        UT,
        "nested range loops (worker)",
        "def f(e, r):\n    n = 0\n    for i in range(10**7):\n        for j in range(10**7):\n            n += 1\n    return False",
        C,
    ),
    code(
        UT,
        "string doubling loop (worker)",
        "def f(e, r):\n    s = 'x'\n    while len(s) < 10**12:\n        s = s + s\n    return False",
        C,
    ),
    code(UT, "deep recursion", "def g(n):\n    return g(n + 1)\ndef f(e, r):\n    return g(0)", C),
    code(
        UT,
        "polynomial regex inline (deadline)",
        "import re\ndef f(e, r):\n    return re.search(r'a*a*a*a*b', 'a' * 200) is not None",
        C,
    ),
    code(
        UT,
        "inline-safe loops under a deadline",
        "def f(e, r):\n    n = 0\n    for i in range(1000000):\n        for j in range(1000000):\n            n += 1\n    return False",
        C,
    ),
    code(
        UT,
        "sorted of a huge range",
        "def f(e, r):\n    return len(sorted(range(10**7), reverse=True)) < 0",
        C,
    ),
    code(
        UT,
        "math.factorial of a huge number",
        "import math\ndef f(e, r):\n    return math.factorial(10**7) < 0",
        C,
    ),
    # unbounded memory
    code(UM, "string times 10**10", "def f(e, r):\n    return len('x' * 10**10) < 0", C),
    code(UM, "list times 10**9", "def f(e, r):\n    return len([0] * 10**9) < 0", C),
    code(
        UM,
        "list doubling",
        "def f(e, r):\n    x = [0]\n    for i in range(60):\n        x = x + x\n    return False",
        C,
    ),
    code(UM, "huge integer power", "def f(e, r):\n    return 10 ** 10 ** 8 < 0", C),
    code(UM, "bytes of 10**10", "def f(e, r):\n    return len(bytes(10**10)) < 0", C),
    code(UM, "join of a billion", "def f(e, r):\n    return len(' '.join(['x'] * 10**9)) < 0", C),
    code(UM, "wide format", "def f(e, r):\n    return len(f'{1:>{10**10}}') < 0", C),
    # timeout swallowing: the timer's exception cannot be caught or overridden
    code(
        TS,
        "finally: return True",
        "def f(e, r):\n    try:\n        while True:\n            pass\n    finally:\n        return True",
        R,
    ),
    code(
        TS,
        "finally: break",
        "def f(e, r):\n    for i in range(2):\n        try:\n            while True:\n                pass\n        finally:\n            break\n    return True",
        R,
    ),
    code(
        TS,
        "finally: continue",
        "def f(e, r):\n    for i in range(2):\n        try:\n            while True:\n                pass\n        finally:\n            continue\n    return True",
        R,
    ),
    code(
        TS,
        "except BaseException",
        "def f(e, r):\n    try:\n        while True:\n            pass\n    except BaseException:\n        return True",
        R,
    ),
    code(
        TS,
        "bare except",
        "def f(e, r):\n    try:\n        while True:\n            pass\n    except:\n        return True",
        R,
    ),
    code(
        TS,
        "except (Exception, KeyboardInterrupt)",
        "def f(e, r):\n    try:\n        while True:\n            pass\n    except (ValueError, KeyboardInterrupt):\n        return True",
        R,
    ),
    code(
        TS,
        "except Exception around a loop",
        "def f(e, r):\n    try:\n        while True:\n            pass\n    except Exception:\n        return True",
        C,
    ),
    code(
        TS,
        "finally with another loop",
        "def f(e, r):\n    try:\n        while True:\n            pass\n    finally:\n        while True:\n            pass",
        C,
    ),
    code(
        TS,
        "retry loop around the timeout",
        "def f(e, r):\n    for i in range(1000):\n        try:\n            while True:\n                pass\n        except Exception:\n            pass\n    return True",
        C,
    ),
    code(
        TS,
        "generator finally",
        "def g():\n    try:\n        yield 1\n        while True:\n            pass\n    finally:\n        pass\ndef f(e, r):\n    return sum(g()) < 0",
        C,
    ),
    # catastrophic regex: refused from the in-process path; in the worker RE2 answers where it
    # is exact, the timer stops the rest (contained either way)
    code(
        RX,
        "(a|aa)+$",
        "import re\ndef f(e, r):\n    return re.search(r'(a|aa)+$', 'a' * 45 + '!') is not None",
        C,
    ),
    code(
        RX,
        "(a+)+$ on the response",
        "import re\ndef f(e, r):\n    return re.search(r'(a+)+$', r) is not None",
        C,
        response="a" * 40 + "!",
    ),
    code(
        RX,
        "(\\w+\\s?)+$",
        "import re\ndef f(e, r):\n    return re.match(r'(\\w+\\s?)+$', r) is not None",
        C,
        response="word " * 20 + "!",
    ),
    code(
        RX,
        "compiled at module level",
        "import re\nP = re.compile(r'(x+x+)+y')\ndef f(e, r):\n    return P.search('x' * 40) is not None",
        C,
    ),
    code(
        RX,
        "pattern built at run time",
        "import re\ndef f(e, r):\n    p = '(' + 'a' + '|aa)+$'\n    return re.search(p, 'a' * 45 + '!') is not None",
        C,
    ),
    # validate: expressions
    expr("power tower", "((10**1000)**1000)**1000 > 0", C),
    expr("sum of lists", "len(sum([[0]*10**6]*10**6, [])) > 0", C),
    expr("str of a shared nested list", "len(str([[0]*10**6]*10**6)) > 0", C),
    expr("join of repeated strings", "len(','.join(['x'*10**6]*10**6)) > 0", C),
    expr("replace with empty pattern", "len(output['summary'].replace('', 'x'*10**6)) > 0", C),
    expr("percent format width", "len('%0999999999d' % 1) > 0", C),
    expr("nested comprehension", "len([x for x in range(10**6) for y in range(10**6)]) > 0", C),
    expr("int to str over the digit limit", "len(str(10**5000)) > 0", C),
    expr("deep nesting", "(" * 500 + "1" + ")" * 500, R),
    expr("mutating method on input", "input.clear() is None", R),
    expr("attribute walk", "output.__class__ is None", R),
    expr("range of 10**12", "len(range(10**12)) > 0", C),
    # templates: rows are read-only, renders are bounded
    template(
        "template-mutation", "set r = input; r.clear()", "{% set r = input %}{{ r.clear() }}", C
    ),
    template("template-mutation", "input.pop", "{{ input.pop('text') }}", C),
    template("template-mutation", "input.update", "{{ input.update({'id': 'x'}) }}", C),
    template("template-mutation", "input.setdefault", "{{ input.setdefault('x', 1) }}", C),
    template("template-mutation", "nested list append", "{{ input.meta.tags.append('z') }}", C),
    template(
        "template-mutation", "nested list sort", "{% set t = input.meta.tags %}{{ t.sort() }}", C
    ),
    template("template-mutation", "dunder setitem", "{{ input.__setitem__('id', 'x') }}", C),
    template(
        "template-mutation",
        "loop alias clear",
        "{% for k in [input] %}{{ k.clear() }}{% endfor %}",
        C,
    ),
    template("template-bounds", "lipsum(n=10**7)", "{{ lipsum(n=10**7) }}", C),
    template("template-bounds", "center(10**10)", "{{ 'x'|center(10**10) }}", C),
    template("template-bounds", "string times 10**10", "{{ 'x' * 10**10 }}", C),
    template(
        "template-bounds",
        "namespace doubling",
        "{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
        C,
    ),
    template(
        "template-bounds",
        "concat doubling",
        "{% set s = 'x' %}"
        + "{% set s = s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s %}" * 8
        + "{{ s|length }}",
        C,
    ),
    template(
        "template-bounds",
        "nested range loops",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        C,
    ),
    template(
        "template-bounds",
        "recursive macro",
        "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
        C,
    ),
    template("template-bounds", "format width", "{{ '%0999999999d'|format(1) }}", C),
    template("template-bounds", "str.format width", "{{ '{:>999999999}'.format('x') }}", C),
    template(
        "template-bounds",
        "join of a million copies",
        "{{ ([input.text] * 1000000)|join('x' * 1000) }}",
        C,
    ),
    template("template-bounds", "indent(10**10)", "{{ input.text|indent(10**10) }}", C),
    template("template-bounds", "deep nesting", "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", R),
]
