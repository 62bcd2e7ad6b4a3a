"""DocETL `validate:` expressions run by an allowlisting interpreter, never eval/exec."""

from __future__ import annotations

import pytest

from llmassert.pipeline.validation import EvalError, SafeExpr, UnsafeExpressionError

OUT = {
    "summary": "one two three",
    "items": [{"a": [1]}, {"a": [1, 2]}],
    "score": 7,
    "ok": True,
    "tags": ["x", "y"],
}


@pytest.mark.parametrize(
    "expr, expected",
    [
        ('len(output["summary"].split()) <= 3', True),
        ('all(len(i["a"]) >= 1 for i in output["items"])', True),
        ('output["score"] in [1, 2, 3]', False),
        ('1 <= output["score"] <= 10', True),
        ('isinstance(output["ok"], bool)', True),
        ('isinstance(output["score"], (int, float)) and output["score"] > 5', True),
        ('output.get("missing", 0) == 0', True),
        ('sum(len(i["a"]) for i in output["items"]) == 3', True),
        ('len({t.lower() for t in output["tags"]}) == 2', True),
        ('output["summary"].startswith("one") or False', True),
        ('[x for x in output["tags"] if x != "x"] == ["y"]', True),
        ('output["summary"][:3] == "one"', True),
        ('not output["tags"]', False),
        ('len(input["text"]) > 2', True),
    ],
)
def test_expressions(expr: str, expected: bool) -> None:
    assert SafeExpr(expr).evaluate(output=OUT, input={"text": "abc"}) is expected


@pytest.mark.parametrize(
    "expr",
    [
        "__import__('os').system('true')",
        "output.__class__",
        "().__class__.__bases__[0].__subclasses__()",
        "lambda: 1",
        'open("/etc/passwd").read()',
        'eval("1")',
        'output["summary"].format(x=1)',
        "exec",
        "[y := 1]",
    ],
)
def test_unsafe_expressions_are_refused_when_parsed(expr: str) -> None:
    with pytest.raises(UnsafeExpressionError):
        SafeExpr(expr)


@pytest.mark.parametrize(
    "expr",
    [
        '"x" * 10**9',
        "2 ** 100000",
        "list(range(10**9))",
        "sum(1 for a in range(1000) for b in range(1000))",
    ],
)
def test_resource_bombs_fail_cleanly(expr: str) -> None:
    with pytest.raises(EvalError):
        SafeExpr(expr).evaluate(output={})


def test_runtime_errors_make_the_check_fail_with_a_reason() -> None:
    ok, why = SafeExpr('output["nope"] > 1').holds(output={})
    assert not ok and why is not None and "nope" in why
    ok, why = SafeExpr('len(output["n"])').holds(output={"n": 3})
    assert not ok and why


def test_gleaning_condition_binds_only_output() -> None:
    with pytest.raises(UnsafeExpressionError, match="unknown name 'input'"):
        SafeExpr('input["x"]', variables=("output",))
    assert SafeExpr('len(output["tags"]) < 3', variables=("output",)).evaluate(output=OUT)
