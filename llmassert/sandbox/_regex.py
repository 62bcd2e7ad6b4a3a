"""Regular expressions with a worst case that holds on any thread: the ``re`` that checks see.

Stdlib ``re`` backtracks: ``re.search(r"a*a*a*a*b", "a" * 200)`` runs for ~30 s, and a match runs
inside one C call. On the main thread the SIGALRM deadline still stops it (the engine checks for
signals); on any other thread nothing can, and the engine holds the GIL, freezing every thread.

So every regex call made while a bounded call runs, **on any thread** (the main thread under its
SIGALRM deadline too, a worker thread, an asyncio-to-thread judge: :data:`RESTRICTED`), goes
through one routing that decides from the pattern and the text alone, so that a check's verdict
does not depend on the thread that runs it:

1. **stdlib**, when the crude bound ``size * (1 + forced) * (n + 1) ** k`` (``k`` unbounded
   quantifiers, each counted as if it could take the whole text, one more for the start
   positions of a search) is within :data:`STEP_BUDGET`. It depends only on the text's length:
   the longest text it allows is worked out once per pattern (``_Plan.limits``, kept on a
   :class:`BoundedPattern` and in ``_FAST``), so this costs a lookup and a length test. A repeat
   nested in a repeat is exponential and never qualifies.
2. **RE2** (``google-re2``, linear time), when the pattern translates to RE2 with *identical*
   results on this text: literals and ranges by code point; classes that depend on Unicode
   tables (``\\w``, ``\\d``, ``\\s``, ``\\b``) or on case folding (``re.I``) only when the text is
   ASCII (``str.isascii`` is O(1)), where each such atom is replaced by the exact set of ASCII
   characters stdlib itself matches with it; ``$`` only when the text does not end in a newline;
   methods that iterate (findall, sub, split, ...) only for patterns that cannot match empty.
   No backreferences, lookarounds, possessive or atomic groups, conditionals (RE2 has none).
3. **stdlib**, when the bound measured on this text (the longest run of each quantifier's class)
   is within :data:`STEP_BUDGET`.
4. Otherwise :class:`RegexUnbounded` (a ``BaseException``: check code cannot catch it). The
   bounded call then re-runs in the process sandbox, or fails with a one-line reason.

On the main thread under its alarm, when the call would re-run in the process sandbox
(:data:`ALARMED`), steps 3 and 4 both end in stdlib under an alarm: the text is not measured.

The sandbox worker routes as the alarmed main thread does (it loads the host's RE2 by path,
:data:`RE2_DIR`), so a check's verdict does not depend on the process either. Outside bounded
calls (trusted code) calls go straight to stdlib: the hot path pays one truthiness test of
:data:`RESTRICTED`.

Stdlib-only except the optional ``re2`` import; the sandbox worker loads this file by path.
"""

from __future__ import annotations

import array
import functools
import os
import re
import re._constants as _c  # private, stable across 3.11+; a pattern it cannot parse stays stdlib-only
import re._parser as _p
import sys
import threading
from collections.abc import Callable
from typing import Any, cast

# Threads (``threading.get_ident()``) running a bounded call under the thread watchdog. Process
# state on purpose: the deadline it stands for is per thread, and helpers read it without being
# passed anything.
RESTRICTED: set[int] = set()
# The subset of RESTRICTED whose bounded call runs under the main thread's SIGALRM deadline and
# would re-run in the process sandbox if a regex were refused: the re-run would use stdlib under
# an alarm, which is what this thread already has, so the bound on the text is not measured
# (the scan costs more than most checks) and stdlib runs: the same verdict, at less cost.
ALARMED: set[int] = set()
STEP_BUDGET = 100_000_000  # ~0.3-1 s of backtracking at worst (a few ns a step)
_get_ident = threading.get_ident

error = re.error
Pattern = re.Pattern
Match = re.Match
escape = re.escape
NOFLAG = re.NOFLAG
IGNORECASE = I = re.IGNORECASE  # noqa: E741 - the `re` API
MULTILINE = M = re.MULTILINE
DOTALL = S = re.DOTALL
VERBOSE = X = re.VERBOSE
ASCII = A = re.ASCII
UNICODE = U = re.UNICODE


class RegexUnbounded(BaseException):
    """A regex call whose worst case is not bounded on this thread (see the module doc)."""

    def __init__(self, pattern: str) -> None:
        shown = pattern if len(pattern) <= 60 else pattern[:57] + "..."
        super().__init__(
            f"regex {shown!r} can backtrack without bound on this text and has no exact "
            "linear-time equivalent (RE2) to run it in-process"
        )


try:  # optional: without it, rule 2 never applies
    import re2 as _re2
except ImportError:  # pragma: no cover - google-re2 is a dependency
    _re2 = None
# Where the sandbox worker (no site-packages) loads the same RE2 from.
RE2_DIR: str | None = None if _re2 is None else os.path.dirname(_re2.__file__)
# google-re2's low-level match (spans only), for calls that find nothing; None if this version
# does not have it (the public wrapper answers those calls too, only slower).
_ANCHOR: Any = getattr(_re2, "_Anchor", None)
_NO_SPAN = (-1, -1)
if _ANCHOR is not None and getattr(_re2, "_NULL_SPAN", None) != _NO_SPAN:  # pragma: no cover
    _ANCHOR = None
_UNANCHORED, _ANCHOR_START, _ANCHOR_BOTH = (
    (_ANCHOR.UNANCHORED, _ANCHOR.ANCHOR_START, _ANCHOR.ANCHOR_BOTH) if _ANCHOR else (0, 1, 2)
)

_MAXREPEAT = _c.MAXREPEAT
_END = sys.maxsize  # stdlib's default endpos
_ITERATING = frozenset({"findall", "finditer", "sub", "subn", "split"})
_ANCHORED = frozenset({"match", "fullmatch"})
# What RE2 has no equivalent of (``_translate`` refuses them).
_NO_RE2 = frozenset(
    {
        _c.POSSESSIVE_REPEAT,
        _c.ATOMIC_GROUP,
        _c.ASSERT,
        _c.ASSERT_NOT,
        _c.GROUPREF,
        _c.GROUPREF_EXISTS,
    }
)


class _Plan:
    """What is known about one (pattern, flags): its step bound and its RE2 translations."""

    __slots__ = (
        "any_text",
        "ascii_text",
        "closing",
        "dollar",
        "empty",
        "first",
        "forced",
        "groups",
        "k",
        "limits",
        "names",
        "nested",
        "no_re2",
        "parsed",
        "runs",
        "size",
    )

    def __init__(self) -> None:
        self.size = 1
        # Unbounded quantifiers (lookaround bodies included), as factors of the step bound:
        # `runs`: single-character classes (source, flags) that can trade characters with what
        # follows (factor: 1 + the longest run of that class in the text); `forced`: ones that
        # cannot (``[^x]*x``: additive, 1 + their runs); `k`: anything else, backreferences
        # included (factor n + 1 each).
        self.k = 0
        self.runs: list[tuple[str, int]] = []
        self.forced: list[tuple[str, int]] = []
        self.nested = False  # a quantifier under an unbounded one: exponential
        # Uses what RE2 lacks (lookarounds, backreferences, possessive or atomic groups,
        # conditionals, LOCALE), or RE2 is missing: known without translating the pattern.
        self.no_re2 = _re2 is None
        self.any_text: str | None = None  # RE2 source exact for every text
        self.ascii_text: str | None = None  # RE2 source exact for ASCII text
        self.dollar = False  # uses non-multiline `$` (exact in RE2 only without a final "\n")
        self.empty = True  # can match the empty string
        self.groups = 0
        self.closing: dict[int, int] = {}  # group -> rank of its ")" in the pattern
        self.names: dict[int, str] = {}
        # The longest text on which the crude step bound (every count at most the text's
        # length) is within STEP_BUDGET, for (match/fullmatch, every other method); -1: none.
        self.limits = (-1, -1)
        self.parsed: Any = None  # the parsed pattern until its RE2 translation is made
        # The ASCII characters a match can start with (None: unknown, or it can match empty):
        # an anchored match of a text starting with another ASCII character fails at once.
        self.first: frozenset[str] | None = None


class _NoRe2(Exception):
    pass


_CATEGORY_SRC = {
    _c.CATEGORY_DIGIT: r"\d",
    _c.CATEGORY_NOT_DIGIT: r"\D",
    _c.CATEGORY_SPACE: r"\s",
    _c.CATEGORY_NOT_SPACE: r"\S",
    _c.CATEGORY_WORD: r"\w",
    _c.CATEGORY_NOT_WORD: r"\W",
}


def _atom_source(op: Any, av: Any) -> str:
    """Stdlib source of one single-character atom (to ask stdlib which characters it matches)."""
    if op is _c.LITERAL:
        return re.escape(chr(av))
    if op is _c.NOT_LITERAL:
        return "[^" + re.escape(chr(av)) + "]"
    if op is _c.ANY:
        return "."
    parts = []
    negate = ""
    for iop, iav in av:
        if iop is _c.NEGATE:
            negate = "^"
        elif iop is _c.LITERAL:
            parts.append(re.escape(chr(iav)))
        elif iop is _c.RANGE:
            parts.append(re.escape(chr(iav[0])) + "-" + re.escape(chr(iav[1])))
        elif iop is _c.CATEGORY and iav in _CATEGORY_SRC:
            parts.append(_CATEGORY_SRC[iav])
        else:
            raise _NoRe2
    return "[" + negate + "".join(parts) + "]"


@functools.cache
def _universe(ascii_only: bool) -> str:
    """Every code point (or every ASCII one) as one string, for stdlib to scan.

    Surrogates are left out: RE2 works on UTF-8, which cannot hold them (text with one is never
    given to RE2).
    """
    if ascii_only:
        return "".join(map(chr, range(128)))
    points = array.array("I", range(0xD800))
    points.extend(range(0xE000, 0x110000))
    return points.tobytes().decode("utf-32-le" if sys.byteorder == "little" else "utf-32-be")


@functools.lru_cache(maxsize=1024)
def _exact_class(source: str, flags: int, ascii_only: bool) -> str:
    """The RE2 class of exactly the code points stdlib's atom ``source`` matches under ``flags``.

    Exact by construction: stdlib itself is asked, over every code point (one linear scan, tens
    of ms, once per distinct atom and process) or, for text known to be ASCII, over the 128 ASCII
    characters, so Unicode tables and case folding are Python's own.
    """
    compiled = re.compile(f"(?:{source})+", flags & ~(re.MULTILINE | re.VERBOSE))
    return _ranges_class([m.span() for m in compiled.finditer(_universe(ascii_only))])


def _ranges_class(spans: list[tuple[int, int]]) -> str:
    if not spans:
        return r"[^\x00-\x{10FFFF}]"
    parts = [f"\\x{{{lo:X}}}" + (f"-\\x{{{hi - 1:X}}}" if hi - 1 > lo else "") for lo, hi in spans]
    return "[" + "".join(parts) + "]"


def _literal_class(op: Any, av: Any, flags: int) -> str | None:
    """The cheap exact cases: a literal, a negated literal or `.` without case folding."""
    if flags & re.IGNORECASE and op is not _c.ANY:
        return None
    if op is _c.LITERAL:
        return f"\\x{{{av:X}}}"
    if op is _c.NOT_LITERAL:
        return f"[^\\x{{{av:X}}}]"
    if op is _c.ANY:
        return r"(?s:.)" if flags & re.DOTALL else r"[^\n]"
    return None


def _translate(items: Any, flags: int, plan: _Plan, ascii_text: bool, depth: int) -> str:
    out = []
    for op, av in items:
        plan.size += 1
        if op in (_c.LITERAL, _c.NOT_LITERAL, _c.ANY, _c.IN):
            cheap = _literal_class(op, av, flags)
            if cheap is None and flags & re.IGNORECASE and not ascii_text:
                # Case folding over all of Unicode: a scan per letter is too slow to be worth
                # it; such patterns get RE2 only for ASCII text.
                raise _NoRe2
            source = _atom_source(op, av)
            out.append(cheap if cheap is not None else _exact_class(source, flags, ascii_text))
        elif op is _c.SUBPATTERN:
            group, add, remove, sub = av
            inner = _translate(sub, (flags | add) & ~remove, plan, ascii_text, depth)
            out.append(f"({inner})" if group is not None else f"(?:{inner})")
        elif op is _c.BRANCH:
            out.append(
                "(?:" + "|".join(_translate(b, flags, plan, ascii_text, depth) for b in av[1]) + ")"
            )
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
            low, high, sub = av
            if low > 1000 or (high != _MAXREPEAT and high > 1000):
                raise _NoRe2
            inner = _translate(sub, flags, plan, ascii_text, depth + 1)
            bound = f"{{{low},}}" if high == _MAXREPEAT else f"{{{low},{high}}}"
            out.append(f"(?:{inner}){bound}" + ("?" if op is _c.MIN_REPEAT else ""))
        elif op is _c.AT:
            out.append(_anchor(av, flags, plan, ascii_text))
        else:  # backreferences, lookarounds, possessive/atomic, conditionals
            raise _NoRe2
    return "".join(out)


def _anchor(code: Any, flags: int, plan: _Plan, ascii_text: bool) -> str:
    multiline = bool(flags & re.MULTILINE)
    if code is _c.AT_BEGINNING:
        return "(?m:^)" if multiline else r"\A"
    if code is _c.AT_BEGINNING_STRING:
        return r"\A"
    if code is _c.AT_END:
        if multiline:
            return "(?m:$)"
        plan.dollar = True  # Python's `$` also matches before a final "\n": RE2's does not
        return r"\z"
    if code is _c.AT_END_STRING:
        return r"\z"
    if code in (_c.AT_BOUNDARY, _c.AT_NON_BOUNDARY) and ascii_text and not flags & re.LOCALE:
        # For ASCII text both engines use the ASCII word characters.
        return r"\b" if code is _c.AT_BOUNDARY else r"\B"
    raise _NoRe2


_SINGLE = (_c.LITERAL, _c.NOT_LITERAL, _c.IN, _c.ANY)


def _char_set(item: Any, flags: int) -> tuple[tuple[int, int], ...] | None:
    """Code point spans a single-character item (or a repeat of one) matches; None if unknown."""
    op, av = item
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
        sub = list(av[2])
        if len(sub) != 1:
            return None
        op, av = sub[0]
    if op not in _SINGLE or flags & re.IGNORECASE:
        return None  # case folding: scanning all of Unicode per letter costs too much
    if op is _c.LITERAL:
        return ((av, av + 1),)
    try:
        source = _atom_source(op, av)
    except _NoRe2:
        return None
    return _spans(source, flags)


@functools.lru_cache(maxsize=1024)
def _spans(source: str, flags: int) -> tuple[tuple[int, int], ...]:
    compiled = re.compile(f"(?:{source})+", flags & ~(re.MULTILINE | re.VERBOSE))
    return tuple(m.span() for m in compiled.finditer(_universe(False)))


def _disjoint(a: tuple[tuple[int, int], ...], b: tuple[tuple[int, int], ...]) -> bool:
    i = j = 0
    while i < len(a) and j < len(b):
        if a[i][1] <= b[j][0]:
            i += 1
        elif b[j][1] <= a[i][0]:
            j += 1
        else:
            return False
    return True


def _forced(items: list[Any], index: int, flags: int) -> bool:
    r"""A repeat of one character class whose next item needs a character it cannot match.

    Backtracking it then fails at once at every shorter length (the next character is in its
    own class), so it adds O(n) per attempt, not a factor n: ``[^x]*x``, ``['"]*\s+``.
    """
    if index + 1 >= len(items):
        return False
    nxt = items[index + 1]
    if nxt[0] in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT) and nxt[1][0] < 1:
        return False
    if nxt[0] not in (*_SINGLE, _c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
        return False
    mine, theirs = _char_set(items[index], flags), _char_set(nxt, flags)
    return mine is not None and theirs is not None and _disjoint(mine, theirs)


def _single_atom(sub: Any, flags: int) -> tuple[str, int] | None:
    """(stdlib source, flags) of a repeat's body when it is one character class."""
    body = list(sub)
    if len(body) != 1 or body[0][0] not in _SINGLE:
        return None
    try:
        return _atom_source(*body[0]), flags & ~(re.MULTILINE | re.VERBOSE)
    except _NoRe2:
        return None


def _union_atom(sub: Any, flags: int) -> tuple[str, int] | None:
    """For a body made only of character classes (and repeats of them): one class matching any
    of them. Whatever the body's iterations consume is a run of that class."""
    sources = []
    for op, av in sub:
        if op in _SINGLE:
            atom = _single_atom([(op, av)], flags)
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
            atom = _single_atom(av[2], flags)
        else:
            return None
        if atom is None:
            return None
        sources.append(atom[0])
    if not sources:
        return None
    return "(?:" + "|".join(sources) + ")", flags & ~(re.MULTILINE | re.VERBOSE)


@functools.lru_cache(maxsize=512)
def _longest_run(source: str, flags: int, text: str) -> int:
    """The longest run of characters of one class in ``text``: one linear scan (a repeat of a
    single class cannot backtrack), cached per text so the helpers' many calls share it.
    An empty ``source`` stands for any character (the whole text)."""
    if not source:
        return len(text)
    return max(map(len, _run_of(source, flags).findall(text)), default=0)


@functools.lru_cache(maxsize=256)
def _run_of(source: str, flags: int) -> re.Pattern[str]:
    return re.compile(f"(?:{source})+", flags)


def _steps(plan: _Plan, method: str, text: str) -> int:
    """An upper bound on stdlib's backtracking steps for this call on ``text``.

    Per attempt, backtracking enumerates each combination of counts of the quantifiers that can
    trade characters once; a count is at most the longest run of its class in this text.
    """
    n = len(text)
    search = method not in ("match", "fullmatch")
    # Every count at most n: when even that is within budget, skip scanning the text.
    crude = len(plan.runs) + bool(plan.forced) + plan.k + search
    if plan.size * (1 + len(plan.forced)) * int((n + 1) ** crude) <= STEP_BUDGET:
        return 0
    steps: int = plan.size * int((n + 1) ** plan.k)
    if steps > STEP_BUDGET:
        return steps
    for source, flags in plan.runs:
        steps *= 1 + _longest_run(source, flags, text)
        if steps > STEP_BUDGET:
            return steps
    if plan.forced:
        steps *= 1 + sum(_longest_run(source, flags, text) for source, flags in plan.forced)
    if search:
        steps *= n + 1  # every start position
    return steps


@functools.lru_cache(maxsize=1024)
def _ascii_matches(source: str, flags: int) -> frozenset[str]:
    """The ASCII characters stdlib's single-character atom ``source`` matches under ``flags``."""
    compiled = re.compile(f"(?:{source})", flags & ~(re.MULTILINE | re.VERBOSE))
    return frozenset(c for c in map(chr, range(128)) if compiled.fullmatch(c))


def _starts(items: Any, flags: int) -> tuple[frozenset[str], bool] | None:
    """(the ASCII characters a match of ``items`` can start with, whether it can match empty);
    None where that is not known cheaply (lookarounds, backreferences, word boundaries...).

    With no quantifier nested in another (checked by the caller), an anchored match whose first
    character is none of these consumes nothing: stdlib fails it in O(pattern size) steps.
    """
    first: set[str] = set()
    for op, av in items:
        if op is _c.AT and av in (_c.AT_BEGINNING, _c.AT_BEGINNING_STRING):
            continue  # zero-width, and true where an anchored match starts
        if op in _SINGLE:
            try:
                first |= _ascii_matches(_atom_source(op, av), flags)
            except _NoRe2:
                return None
            return frozenset(first), False
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
            inner = _starts(av[2], flags)
            if inner is None:
                return None
            first |= inner[0]
            if av[0] >= 1 and not inner[1]:
                return frozenset(first), False
        elif op is _c.SUBPATTERN:
            inner = _starts(av[3], (flags | av[1]) & ~av[2])
            if inner is None:
                return None
            first |= inner[0]
            if not inner[1]:
                return frozenset(first), False
        elif op is _c.BRANCH:
            branches = [_starts(b, flags) for b in av[1]]
            if any(b is None for b in branches):
                return None
            for b in branches:
                first |= b[0]  # type: ignore[index]
            if not any(b[1] for b in branches):  # type: ignore[index]
                return frozenset(first), False
        else:
            return None
    return frozenset(first), True


def _fails_at_once(first: frozenset[str] | None, text: str) -> bool:
    """An anchored match (at 0) of a pattern whose start set is ``first`` fails at once."""
    head = text[:1]
    return first is not None and head.isascii() and bool(head) and head not in first


def _limit(plan: _Plan, *, search: bool) -> int:
    """The largest text length ``n`` with ``size * (1 + forced) * (n + 1) ** e <= STEP_BUDGET``
    (the bound :func:`_steps` checks first, before scanning the text); -1 if there is none."""
    if plan.nested:
        return -1
    base = plan.size * (1 + len(plan.forced))
    exponent = len(plan.runs) + bool(plan.forced) + plan.k + search
    if base > STEP_BUDGET:
        return -1
    if exponent == 0:
        return sys.maxsize
    n = int((STEP_BUDGET / base) ** (1 / exponent)) - 1
    while n >= 0 and base * (n + 1) ** exponent > STEP_BUDGET:  # float rounding
        n -= 1
    while base * (n + 2) ** exponent <= STEP_BUDGET:
        n += 1
    return n


def _measure(items: Any, plan: _Plan, under_repeat: bool, flags: int) -> None:
    items = list(items)
    for index, (op, av) in enumerate(items):
        plan.size += 1
        if op in _NO_RE2:
            plan.no_re2 = True
        if op is _c.POSSESSIVE_REPEAT and (av[1] == _MAXREPEAT or av[1] > 1000):
            # Never backtracked into: all its iterations cost O(n) in all, added once; only
            # backtracking inside one iteration attempt remains, measured on its body.
            plan.forced.append(_single_atom(av[2], flags) or _union_atom(av[2], flags) or ("", 0))
            _measure(av[2], plan, False, flags)
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
            low, high, sub = av
            unbounded = high == _MAXREPEAT or high > 1000
            variable = high != low
            if under_repeat and variable:
                plan.nested = True
            if unbounded:
                atom = _single_atom(sub, flags)
                if atom is None:
                    plan.k += 1
                elif _forced(items, index, flags):
                    plan.forced.append(atom)
                else:
                    plan.runs.append(atom)
            else:
                plan.size *= max(1, high - low + 1)
            _measure(sub, plan, under_repeat or unbounded, flags)
        elif op is _c.SUBPATTERN:
            _measure(av[3], plan, under_repeat, (flags | av[1]) & ~av[2])
        elif op is _c.ATOMIC_GROUP:
            _measure(av, plan, under_repeat, flags)
        elif op is _c.BRANCH:
            if under_repeat:
                plan.nested = True
            plan.size *= max(1, len(av[1]))
            for branch in av[1]:
                _measure(branch, plan, under_repeat, flags)
        elif op in (_c.ASSERT, _c.ASSERT_NOT):
            _measure(av[1], plan, under_repeat, flags)
        elif op is _c.GROUPREF_EXISTS:
            plan.nested = plan.nested or under_repeat
            _measure(av[1], plan, under_repeat, flags)
            if av[2] is not None:
                _measure(av[2], plan, under_repeat, flags)
        elif op is _c.GROUPREF:
            plan.k += 1  # a backreference scans up to n characters per attempt


def _closing_order(items: Any, order: dict[int, int]) -> None:
    """Groups in the order their ")" closes them (what `lastindex` reports)."""
    for op, av in items:
        if op is _c.SUBPATTERN:
            _closing_order(av[3], order)
            if av[0] is not None:
                order[av[0]] = len(order)
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
            _closing_order(av[2], order)
        elif op is _c.BRANCH:
            for branch in av[1]:
                _closing_order(branch, order)
        elif op in (_c.ASSERT, _c.ASSERT_NOT):
            _closing_order(av[1], order)
        elif op is _c.ATOMIC_GROUP:
            _closing_order(av, order)


class _Re2Match:
    """An RE2 match that answers as stdlib's would: ``lastindex``/``lastgroup`` are computed
    from the spans (the group that closed last), everything else is the wrapper's own."""

    __slots__ = ("_m", "_plan")

    def __init__(self, match: Any, plan: _Plan) -> None:
        self._m = match
        self._plan = plan

    def __getattr__(self, name: str) -> Any:
        return getattr(self._m, name)

    def __getitem__(self, group: Any) -> Any:
        return self._m[group]

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"<re.Match object; span={self._m.span()!r}, match={self._m.group()!r}>"

    @property
    def lastindex(self) -> int | None:
        best: tuple[int, int] | None = None
        found = None
        for group in range(1, self._plan.groups + 1):
            end = self._m.end(group)
            if end < 0:
                continue
            key = (end, self._plan.closing.get(group, 0))
            if best is None or key > best:
                best, found = key, group
        return found

    @property
    def lastgroup(self) -> str | None:
        index = self.lastindex
        return None if index is None else self._plan.names.get(index)


class _Re2Pattern:
    """RE2's compiled pattern, with stdlib's match objects' answers (see :class:`_Re2Match`)."""

    __slots__ = ("_p", "_plan")

    def __init__(self, compiled: Any, plan: _Plan) -> None:
        self._p = compiled
        self._plan = plan

    def _wrap(self, match: Any) -> Any:
        return None if match is None else _Re2Match(match, self._plan)

    def _misses(self, anchor: Any, text: str) -> bool:
        """True when RE2 finds no match in ASCII ``text``, asked directly: the wrapper's
        offset bookkeeping costs several µs a call, and most calls (a header pattern on each
        line of prose) miss."""
        if _ANCHOR is None or not text.isascii():
            return False
        return bool(
            self._p._regexp.Match(anchor, text.encode("ascii"), 0, len(text))[0] == _NO_SPAN
        )

    def search(self, text: str) -> Any:
        if self._misses(_UNANCHORED, text):
            return None
        return self._wrap(self._p.search(text))

    def match(self, text: str) -> Any:
        if self._misses(_ANCHOR_START, text):
            return None
        return self._wrap(self._p.match(text))

    def fullmatch(self, text: str) -> Any:
        if self._misses(_ANCHOR_BOTH, text):
            return None
        return self._wrap(self._p.fullmatch(text))

    def finditer(self, text: str) -> Any:
        return iter([_Re2Match(m, self._plan) for m in self._p.finditer(text)])

    def findall(self, text: str) -> Any:
        return self._p.findall(text)

    def split(self, text: str, maxsplit: int = 0) -> Any:
        return self._p.split(text, maxsplit)

    def sub(self, repl: Any, text: str, count: int = 0) -> Any:
        return self.subn(repl, text, count)[0]

    def subn(self, repl: Any, text: str, count: int = 0) -> Any:
        if callable(repl):
            plan = self._plan
            return self._p.subn(lambda m: repl(_Re2Match(m, plan)), text, count)
        return self._p.subn(repl, text, count)


@functools.lru_cache(maxsize=2048)
def _plan(pattern: str, flags: int) -> _Plan:
    plan = _Plan()
    try:
        parsed = _p.parse(pattern, flags)
    except Exception:
        plan.nested = True  # stdlib will raise re.error itself: let it, at the smallest cost
        plan.k = 0
        return plan
    flags = parsed.state.flags
    plan.no_re2 = plan.no_re2 or bool(flags & re.LOCALE)
    plan.groups = parsed.state.groups - 1
    plan.names = {index: name for name, index in parsed.state.groupdict.items()}
    _closing_order(parsed, plan.closing)
    plan.empty = parsed.getwidth()[0] == 0
    _measure(parsed, plan, False, flags)
    plan.limits = (_limit(plan, search=False), _limit(plan, search=True))
    if not plan.nested:
        start = _starts(parsed, flags)
        plan.first = start[0] if start is not None and not start[1] else None
    plan.parsed = parsed  # translated to RE2 on first need (most patterns never need it)
    return plan


def _translated(plan: _Plan) -> _Plan:
    """``plan`` with its RE2 translations, made on first need (stdlib scans Unicode for some
    classes). Published only once complete: a thread that finds ``parsed`` still set (another
    thread at work, or a deadline that stopped the last attempt) translates it again itself."""
    parsed = plan.parsed
    if parsed is None:
        return plan
    flags = parsed.state.flags
    any_text = ascii_text_body = None
    dollar = False
    if _re2 is not None and not flags & re.LOCALE:
        names = {index: name for name, index in parsed.state.groupdict.items()}
        for ascii_text in (False, True):
            probe = _Plan()
            try:
                body = _translate(parsed, flags, probe, ascii_text, 0)
            except (_NoRe2, re.error, ValueError):
                continue
            if names:
                body = _name_groups(body, names)
            if ascii_text:
                ascii_text_body = body
            else:
                any_text = body
            dollar = probe.dollar
            break  # exact for every text: the ASCII-only variant adds nothing
    plan.any_text, plan.ascii_text, plan.dollar = any_text, ascii_text_body, dollar
    plan.parsed = None
    return plan


def _name_groups(body: str, names: dict[int, str]) -> str:
    # Our translation writes groups as "(" in order (escapes never produce a bare "(").
    out, index, i = [], 0, 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            out.append(body[i : i + 2])
            i += 2
            continue
        if ch == "(" and not body.startswith("(?", i):
            index += 1
            if index in names:
                out.append(f"(?P<{names[index]}>")
                i += 1
                continue
        out.append(ch)
        i += 1
    return "".join(out)


@functools.lru_cache(maxsize=1024)
def _re2_compile(body: str) -> Any:
    assert _re2 is not None
    return _re2.compile(body)


def _route(method: str, pattern: Any, flags: int, text: Any, positions: bool = False) -> Any:
    """The RE2 pattern object to use, or None for stdlib; raises RegexUnbounded.

    Decided from the pattern and the text alone, so every thread decides alike (``ALARMED``
    only skips work whose outcome is stdlib either way): stdlib when the crude bound holds for
    this text's length; else RE2 when it is exact on this text; else stdlib when the bound
    measured on this text holds; else refused.
    """
    if isinstance(pattern, BoundedPattern):
        pattern = pattern._p
    if isinstance(pattern, re.Pattern):
        flags, pattern = pattern.flags, pattern.pattern
    if not isinstance(pattern, str) or not isinstance(text, str):
        return None  # bytes, wrong types: stdlib raises or matches a short non-text value
    plan = _plan(pattern, flags)
    if len(text) <= plan.limits[method not in _ANCHORED]:
        return None
    if method in _ANCHORED and not positions and _fails_at_once(plan.first, text):
        return None
    alarmed = bool(ALARMED) and _get_ident() in ALARMED
    if alarmed and plan.no_re2:
        return None  # stdlib whatever the bound: measured or refused, it ends in stdlib here
    # RE2 before measuring the text: where it is exact its answer is stdlib's, and one RE2
    # call costs less than the scans the measure needs.
    if plan.parsed is not None:
        _translated(plan)
    body = None
    if not (
        (method in _ITERATING and plan.empty)
        # `$` before a final newline, and pos/endpos (where `^`/`\A` differ), are stdlib-only.
        or (plan.dollar and text.endswith("\n"))
        or positions
    ):
        body = plan.any_text
        if body is None and plan.ascii_text is not None and text.isascii():
            body = plan.ascii_text
    if body is not None:
        return _Re2Pattern(_re2_compile(body), plan)
    if alarmed or (not plan.nested and _steps(plan, method, text) <= STEP_BUDGET):
        return None
    raise RegexUnbounded(pattern)


def _without_re2(method: str, pattern: Any, flags: int, text: str) -> Any:
    """Stdlib where RE2 was chosen but cannot read the text (lone surrogates are not UTF-8):
    where the bound on this text holds, or where a refusal would end in stdlib anyway."""
    if isinstance(pattern, re.Pattern):
        plan = _plan(pattern.pattern, pattern.flags)
    else:
        plan = _plan(pattern, flags)
    if (ALARMED and _get_ident() in ALARMED) or (
        not plan.nested and _steps(plan, method, text) <= STEP_BUDGET
    ):
        return _stdlib(pattern, flags)
    raise RegexUnbounded(str(getattr(pattern, "pattern", pattern)))


def _stdlib(pattern: Any, flags: int) -> Any:
    if isinstance(pattern, BoundedPattern):
        return pattern._p
    return pattern if isinstance(pattern, re.Pattern) else re.compile(pattern, flags)


# (pattern, flags) -> (crude limit for match/fullmatch, for the other methods, stdlib's pattern):
# what routing needs that does not depend on the text, once per pattern. A call on a text no
# longer than its limit is stdlib's at the cost of a dict lookup and a length test.
_FAST: dict[tuple[Any, int], tuple[int, int, Any]] = {}
_FAST_MAX = 4096


def _fast(pattern: Any, flags: int) -> tuple[int, int, Any]:
    key = (pattern, flags)
    entry = _FAST.get(key)
    if entry is None:
        compiled = _stdlib(pattern, flags)  # raises re.error, as stdlib would
        if isinstance(compiled.pattern, str):
            limits = _plan(compiled.pattern, compiled.flags).limits
        else:
            limits = (sys.maxsize, sys.maxsize)  # bytes: stdlib's, as routing leaves them
        entry = (*limits, compiled)
        if len(_FAST) >= _FAST_MAX:
            _FAST.clear()
        _FAST[key] = entry
    return entry


def _restricted(method: str, pattern: Any, flags: int, text: Any, *args: Any) -> Any:
    if type(pattern) is BoundedPattern:
        pattern = pattern._p
    if type(text) is str:
        entry = _fast(pattern, flags)
        if len(text) <= entry[method not in _ANCHORED]:
            return getattr(entry[2], method)(text, *args)
    positional = method not in ("split",) and bool(args)
    compiled = _route(method, pattern, flags, text, positional)
    if compiled is None:
        return getattr(_stdlib(pattern, flags), method)(text, *args)
    try:
        return getattr(compiled, method)(text, *args)
    except UnicodeEncodeError:  # lone surrogates: not UTF-8, RE2 cannot see this text
        return getattr(_without_re2(method, pattern, flags, text), method)(text, *args)


def _restricted_sub(method: str, pattern: Any, flags: int, repl: Any, text: Any, count: int) -> Any:
    if type(pattern) is BoundedPattern:
        pattern = pattern._p
    if type(text) is str:
        entry = _fast(pattern, flags)
        if len(text) <= entry[1]:
            return getattr(entry[2], method)(repl, text, count)
    compiled = _route(method, pattern, flags, text)
    if compiled is None:
        return getattr(_stdlib(pattern, flags), method)(repl, text, count)
    try:
        return getattr(compiled, method)(repl, text, count)
    except UnicodeEncodeError:
        return getattr(_without_re2(method, pattern, flags, text), method)(repl, text, count)


def _module_function(method: str) -> Callable[..., Any]:
    stdlib = getattr(re, method)

    def call(pattern: Any, string: Any, flags: int = 0) -> Any:
        if RESTRICTED and _get_ident() in RESTRICTED:
            return _restricted(method, pattern, flags, string)
        if type(pattern) is BoundedPattern:
            pattern = pattern._p
        return stdlib(pattern, string, flags)

    call.__name__ = call.__qualname__ = method
    return call


def _plain(pattern: Any) -> Any:
    return pattern._p if type(pattern) is BoundedPattern else pattern


search = _module_function("search")
match = _module_function("match")
fullmatch = _module_function("fullmatch")
findall = _module_function("findall")
finditer = _module_function("finditer")


def split(pattern: Any, string: Any, maxsplit: int = 0, flags: int = 0) -> Any:
    if RESTRICTED and _get_ident() in RESTRICTED:
        return _restricted("split", pattern, flags, string, maxsplit)
    return re.split(_plain(pattern), string, maxsplit=maxsplit, flags=flags)


def sub(pattern: Any, repl: Any, string: Any, count: int = 0, flags: int = 0) -> Any:
    if RESTRICTED and _get_ident() in RESTRICTED:
        return _restricted_sub("sub", pattern, flags, repl, string, count)
    return re.sub(_plain(pattern), repl, string, count=count, flags=flags)


def subn(pattern: Any, repl: Any, string: Any, count: int = 0, flags: int = 0) -> Any:
    if RESTRICTED and _get_ident() in RESTRICTED:
        return _restricted_sub("subn", pattern, flags, repl, string, count)
    return re.subn(_plain(pattern), repl, string, count=count, flags=flags)


def _positional(method: str) -> Callable[..., Any]:
    """A :class:`BoundedPattern` method taking ``(string, pos, endpos)``, routed when restricted."""

    searching = method not in _ANCHORED

    def call(self: BoundedPattern, string: Any, pos: int = 0, endpos: int = _END) -> Any:
        if RESTRICTED and _get_ident() in RESTRICTED:
            if type(string) is str and self._stdlib_on(string, searching, pos == 0):
                return getattr(self._p, method)(string, pos, endpos)
            if pos or endpos != _END:
                return _restricted(method, self._p, 0, string, pos, endpos)
            return _restricted(method, self._p, 0, string)
        return getattr(self._p, method)(string, pos, endpos)

    call.__name__ = method
    return call


def _substituting(method: str) -> Callable[..., Any]:
    """``sub``/``subn`` of a :class:`BoundedPattern`, routed when restricted."""

    def call(self: BoundedPattern, repl: Any, string: Any, count: int = 0) -> Any:
        if RESTRICTED and _get_ident() in RESTRICTED:
            if type(string) is str and self._stdlib_on(string, True):
                return getattr(self._p, method)(repl, string, count)
            return _restricted_sub(method, self._p, 0, repl, string, count)
        return getattr(self._p, method)(repl, string, count)

    call.__name__ = method
    return call


class BoundedPattern:
    """A compiled pattern whose calls are routed like the module functions (see the module doc)."""

    __slots__ = ("_first", "_limits", "_no_re2", "_p")
    _p: re.Pattern[str]
    # What of the plan routing needs before it looks further at the text.
    _limits: tuple[int, int]
    _no_re2: bool
    _first: frozenset[str] | None

    def __init__(self, compiled: re.Pattern[str]) -> None:
        plan = _plan(compiled.pattern, compiled.flags)
        object.__setattr__(self, "_p", compiled)
        object.__setattr__(self, "_limits", plan.limits)
        object.__setattr__(self, "_no_re2", plan.no_re2)
        object.__setattr__(self, "_first", plan.first)

    def _stdlib_on(self, text: str, searching: bool, at_start: bool = True) -> bool:
        """What :func:`_route` would answer at once, from the text's length or first character
        (an anchored match at its start): stdlib."""
        return (
            len(text) <= self._limits[searching]
            or (not searching and at_start and _fails_at_once(self._first, text))
            or (self._no_re2 and bool(ALARMED) and _get_ident() in ALARMED)
        )

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("compiled patterns are read-only")

    @property
    def pattern(self) -> Any:
        return self._p.pattern

    @property
    def flags(self) -> int:
        return int(self._p.flags)

    @property
    def groups(self) -> int:
        return int(self._p.groups)

    @property
    def groupindex(self) -> Any:
        return self._p.groupindex

    def __repr__(self) -> str:
        return repr(self._p)

    search = _positional("search")
    match = _positional("match")
    fullmatch = _positional("fullmatch")
    findall = _positional("findall")
    finditer = _positional("finditer")

    def split(self, string: Any, maxsplit: int = 0) -> Any:
        if RESTRICTED and _get_ident() in RESTRICTED:
            if type(string) is str and self._stdlib_on(string, True):
                return self._p.split(string, maxsplit)
            return _restricted("split", self._p, 0, string, maxsplit)
        return self._p.split(string, maxsplit)

    sub = _substituting("sub")
    subn = _substituting("subn")


def compile(pattern: Any, flags: int = 0) -> re.Pattern[str]:
    """``re.compile`` whose pattern routes its calls (bytes patterns are stdlib's as they are).

    Typed as stdlib's pattern: :class:`BoundedPattern` has the same methods and attributes.
    """
    compiled = re.compile(
        pattern.pattern if isinstance(pattern, BoundedPattern) else pattern, flags
    )
    if isinstance(compiled.pattern, str):
        return cast("re.Pattern[str]", BoundedPattern(compiled))
    return compiled


__all__ = [
    "ASCII",
    "DOTALL",
    "IGNORECASE",
    "MULTILINE",
    "NOFLAG",
    "UNICODE",
    "VERBOSE",
    "A",
    "I",
    "M",
    "Match",
    "Pattern",
    "S",
    "U",
    "X",
    "compile",
    "error",
    "escape",
    "findall",
    "finditer",
    "fullmatch",
    "match",
    "search",
    "split",
    "sub",
    "subn",
]
