"""The bounded `re` (sandbox/_regex.py): off the signal deadline a call runs only where its worst
case is known, and wherever it runs its answer is stdlib's answer.

Differential: every (pattern, text, method) is run through stdlib and through the router on a
thread marked restricted, with the step budget at 0 so that every call that can take the
linear-time engine does. Same results, or RegexUnbounded: never a different answer.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from llmassert.sandbox import _regex

PATTERNS = [
    r"\w+",
    r"\d+",
    r"\s+",
    r"\W+",
    r"[^\W\d_]+",
    r"(\w+)@(\w+)",
    r"(?P<user>[\w.]+)@(?P<host>\w+)?",
    r"(?i)k+",
    r"(?i)straße",
    r"(?i)[a-z]+",
    r"(?i)hello\s+world",
    r"^\w+$",
    r"(?m)^\w+$",
    r"(?m)^\s*[-*]\s+\S+",
    r"\bfoo\b",
    r"\Bo\B",
    r"a{2,5}",
    r"a*?b",
    r".+",
    r"(?s).+",
    r"[a-zé]+",
    r"x|yy|zzz",
    r"(a|ab)(c|bcd)(d*)",
    r"\d+(?:\.\d+)?%?",
    r"\A\s+|\s+\Z",
    r"[^\x00-\x7f]+",
    r"(?x) \d + \s* # digits",
    r"(?a)\w+",
    r"[\u2018\u2019']",
    r"(?:ab)+",
]
TEXTS = [
    "",
    "hello world",
    "foo@bar baz_1@qux 12.5% of 3",
    "don’t stop — the café naïve résumé 1٣",
    "KELVIN \u212a kelvin k STRASSE straße ſ İ ı",
    "line one\n- item a\n  * item b\nend\n",
    "  padded  ",
    "aaab ab abcd abcdd x yy zzz",
    "emoji 😀 and \u00a0nbsp\u2003em space",
    "foo.foo foofoo _foo_",
]
METHODS = ["search", "match", "fullmatch", "findall", "finditer", "split", "sub", "subn"]


def _normalize(method: str, value: Any) -> Any:
    if value is None or isinstance(value, (str, list, tuple)):
        return value
    if method == "finditer":
        return [(m.span(), m.groups(), m.groupdict()) for m in value]
    return (value.span(), value.group(0), value.groups(), value.groupdict(), value.lastindex)


def _call(module: Any, method: str, pattern: str, text: str) -> Any:
    if method in ("sub", "subn"):
        return getattr(module, method)(pattern, "<\\g<0>>", text)
    return getattr(module, method)(pattern, text)


@pytest.fixture
def restricted(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This thread restricted as under the watchdog; budget 0: RE2 wherever it is exact."""
    monkeypatch.setattr(_regex, "STEP_BUDGET", 0)
    ident = threading.get_ident()
    _regex.RESTRICTED.add(ident)
    try:
        yield
    finally:
        _regex.RESTRICTED.discard(ident)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_restricted_calls_answer_as_stdlib_or_refuse(pattern: str, restricted: None) -> None:
    linear = 0
    for text in TEXTS:
        for method in METHODS:
            expected = _normalize(method, _call(re, method, pattern, text))
            try:
                got = _normalize(method, _call(_regex, method, pattern, text))
            except _regex.RegexUnbounded:
                continue
            assert got == expected, (method, text)
            linear += 1
    # Every pattern here has an exact translation for at least the ASCII texts.
    assert linear > 0


def test_most_calls_take_the_linear_engine(restricted: None) -> None:
    routed = refused = 0
    for pattern in PATTERNS:
        for text in TEXTS:
            try:
                engine = _regex._route("search", pattern, 0, text)
            except _regex.RegexUnbounded:
                refused += 1
                continue
            routed += engine is not None
    assert routed > 3 * refused


@pytest.mark.parametrize(
    "pattern",
    [r"(a+)b\1", r"(?=a*b)a", r"(?<=x)a+", r"a++b", r"(?>a+)b", r"(a)?(?(1)b|c)"],
)
def test_what_the_linear_engine_lacks_is_refused_not_approximated(
    pattern: str, restricted: None
) -> None:
    with pytest.raises(_regex.RegexUnbounded, match="has no exact linear-time equivalent"):
        _regex.search(pattern, "a" * 100)


def test_text_dependent_exactness(restricted: None) -> None:
    # `\b` is ASCII in RE2: exact only for ASCII text; `$` only without a final newline.
    assert _regex.search(r"\bfoo\b", "a foo b").span() == (2, 5)
    with pytest.raises(_regex.RegexUnbounded):
        _regex.search(r"\bfoo\b", "é foo b")
    assert _regex.search(r"\d+$", "abc 123").span() == (4, 7)
    with pytest.raises(_regex.RegexUnbounded):
        _regex.search(r"\d+$", "abc 123\n")
    # Case folding over all of Unicode: only for ASCII text.
    assert _regex.search(r"(?i)k", "xK").span() == (1, 2)
    with pytest.raises(_regex.RegexUnbounded):
        _regex.search(r"(?i)kelvin", "\u212aelvin")


def test_small_texts_stay_with_stdlib_by_the_step_bound() -> None:
    ident = threading.get_ident()
    _regex.RESTRICTED.add(ident)
    try:
        # Backreference, 50 characters: (n + 1) ** 3 steps at most, far under the budget.
        assert _regex.search(r"(a+)b\1", "a" * 20 + "b" + "a" * 20).span() == (0, 41)
        assert _regex._route("search", r"(a+)b\1", 0, "a" * 50) is None
    finally:
        _regex.RESTRICTED.discard(ident)


def test_polynomial_pattern_is_linear_when_restricted() -> None:
    """The issue's case: ~30 s in stdlib, milliseconds here, same (honest) answer."""
    ident = threading.get_ident()
    _regex.RESTRICTED.add(ident)
    try:
        start = time.monotonic()
        assert _regex.search(r"a*a*a*a*b", "a" * 200) is None
        assert _regex.compile(r"(a|aa)+$").search("a" * 45 + "!") is None
        assert time.monotonic() - start < 5
    finally:
        _regex.RESTRICTED.discard(ident)


def test_unrestricted_calls_are_stdlib_as_they_are() -> None:
    m = _regex.search(r"(\w+)", "hello")
    assert isinstance(m, re.Match)
    compiled = _regex.compile(r"\d+", _regex.I)
    assert compiled.pattern == r"\d+" and compiled.flags & re.I
    assert isinstance(compiled.search("a1"), re.Match)
    assert _regex.search(compiled, "x12").group() == "12"
    with pytest.raises(AttributeError):
        compiled.search = None  # type: ignore[method-assign]
