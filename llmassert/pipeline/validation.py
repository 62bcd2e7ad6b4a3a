"""Safe evaluation of DocETL ``validate:`` expressions and gleaning ``if:`` conditions.

Expressions such as ``len(output["summary"].split()) <= 50`` come from pipeline YAML, so they are
parsed once, checked against an AST allowlist, and run by a small tree-walking interpreter: no
``eval``/``exec``, no attribute access except an allowlist of pure methods on str/list/dict
values, no names except the bound variables (``output``, ``input``) and a few pure builtins, and
size guards on ``*``/``**`` so ``"x" * 10**12`` cannot exhaust memory.
"""

from __future__ import annotations

import ast
import operator
import time
from collections.abc import Callable, Iterator
from typing import Any

MAX_SEQ = 1_000_000  # longest str/list a validate expression may build
MAX_STEPS = 200_000  # interpreter steps per evaluation (comprehensions over huge lists)
MAX_INT_BITS = 8_192  # largest integer result (~2,466 digits): 10**1000**1000 is refused
MAX_SECONDS = 1.0  # wall-clock bound per evaluation, checked every few hundred steps
MAX_SOURCE = 10_000  # characters of one expression
MAX_DEPTH = 100  # AST nesting (the interpreter recurses once per level)


class UnsafeExpressionError(ValueError):
    """The expression uses something outside the allowlist (or does not parse)."""


class EvalError(ValueError):
    """The expression failed while running (bad key, wrong type, too large...)."""


def _weight(value: Any, budget: int = MAX_SEQ) -> int:
    """Elements reachable in ``value`` (strings count their length), stopping past ``budget``.

    ``[[0] * 10**6] * 10**6`` is cheap to build (one inner list, shared) but a million times
    larger to print or flatten; this sees the difference before the C code runs.
    """
    total = 0
    stack = [value]
    while stack and total <= budget:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, dict):
            total += len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += len(item)
            stack.extend(item)
        else:
            total += 1
    return total


def _sum(values: Any, start: Any = 0) -> Any:
    # sum(lists, []) concatenates: quadratic, and its result can be any size.
    items = list(values)
    if not isinstance(start, int | float) or not all(isinstance(v, int | float) for v in items):
        raise EvalError("sum() adds numbers only")
    return sum(items, start)


def _str(value: Any = "") -> str:
    if _weight(value) > MAX_SEQ:
        raise EvalError("value too large to convert to text")
    return str(value)


BUILTINS: dict[str, Callable[..., Any]] = {
    "len": len,
    "all": all,
    "any": any,
    "min": min,
    "max": max,
    "sum": _sum,
    "abs": abs,
    "round": round,
    "sorted": sorted,
    "str": _str,
    "int": int,
    "float": float,
    "bool": bool,
    "list": list,
    "dict": dict,
    "set": set,
    "tuple": tuple,
    "isinstance": isinstance,
    "range": range,
    "enumerate": enumerate,
    "zip": zip,
    "reversed": reversed,
}
CONSTS: dict[str, Any] = {"True": True, "False": False, "None": None}

METHODS: frozenset[str] = frozenset(
    {
        # str
        "split",
        "rsplit",
        "splitlines",
        "strip",
        "lstrip",
        "rstrip",
        "lower",
        "upper",
        "title",
        "startswith",
        "endswith",
        "count",
        "find",
        "rfind",
        "index",
        "replace",
        "join",
        "isdigit",
        "isalpha",
        "isalnum",
        "isspace",
        "islower",
        "isupper",
        "isnumeric",
        "casefold",
        # dict
        "get",
        "keys",
        "values",
        "items",
    }
)

_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMPOPS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.Not: operator.not_,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
_ALLOWED = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.Call,
    ast.Name,
    ast.Load,
    ast.Store,
    ast.Constant,
    ast.Subscript,
    ast.Slice,
    ast.List,
    ast.Tuple,
    ast.Set,
    ast.Dict,
    ast.IfExp,
    ast.Attribute,
    ast.GeneratorExp,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.comprehension,
    ast.keyword,
    *_BINOPS,
    *_CMPOPS,
    *_UNARY,
)


class SafeExpr:
    """A parsed, allowlisted expression; call :meth:`evaluate` with the variables it may read."""

    def __init__(self, source: str, variables: tuple[str, ...] = ("output", "input")) -> None:
        self.source = source.strip()
        self.variables = variables
        if len(self.source) > MAX_SOURCE:
            raise UnsafeExpressionError(f"expression over {MAX_SOURCE} characters")
        try:
            tree = ast.parse(self.source, mode="eval")
        except SyntaxError as e:
            raise UnsafeExpressionError(f"invalid expression: {e.msg}") from None
        except (MemoryError, RecursionError, ValueError):  # the parser's own nesting limits
            raise UnsafeExpressionError("expression nests too deeply") from None
        if _depth(tree) > MAX_DEPTH:
            raise UnsafeExpressionError(f"expression nests more than {MAX_DEPTH} deep")
        self._check(tree, set(variables))
        self._tree = tree.body

    def _check(self, tree: ast.AST, bound: set[str]) -> None:
        for node in ast.walk(tree):
            if not isinstance(node, _ALLOWED):
                raise UnsafeExpressionError(f"{type(node).__name__} is not allowed")
            if isinstance(node, ast.Attribute) and (
                node.attr.startswith("_") or node.attr not in METHODS
            ):
                raise UnsafeExpressionError(f"attribute .{node.attr} is not allowed")
            if isinstance(node, ast.Call):
                fn = node.func
                if isinstance(fn, ast.Name):
                    if fn.id not in BUILTINS:
                        raise UnsafeExpressionError(f"function {fn.id}() is not allowed")
                elif not isinstance(fn, ast.Attribute):
                    raise UnsafeExpressionError("only builtins and value methods can be called")
            if isinstance(node, ast.Constant) and isinstance(node.value, bytes):
                raise UnsafeExpressionError("bytes literals are not allowed")
        comp_vars = {
            t.id
            for n in ast.walk(tree)
            if isinstance(n, ast.comprehension)
            for t in ast.walk(n.target)
            if isinstance(t, ast.Name)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                known = bound | comp_vars | set(BUILTINS) | set(CONSTS)
                if node.id not in known:
                    allowed = ", ".join(sorted(bound))
                    raise UnsafeExpressionError(f"unknown name {node.id!r} (use {allowed})")

    def evaluate(self, **variables: Any) -> Any:
        interp = _Interpreter(variables)
        try:
            return interp.eval(self._tree)
        except EvalError:
            raise
        except (KeyError, IndexError) as e:
            raise EvalError(f"missing key or index {e}") from None
        except (TypeError, ValueError, AttributeError, ZeroDivisionError, OverflowError) as e:
            raise EvalError(str(e) or type(e).__name__) from None
        except RecursionError:
            raise EvalError("expression nests too deeply") from None
        except MemoryError:
            raise EvalError("expression ran out of memory") from None
        except Exception as e:  # anything else a value method raises: one line, never a traceback
            raise EvalError(f"{type(e).__name__}: {e}"[:200]) from None

    def holds(self, **variables: Any) -> tuple[bool, str | None]:
        """(passed, reason): a failing or erroring expression does not hold."""
        try:
            return bool(self.evaluate(**variables)), None
        except EvalError as e:
            return False, str(e)


def _depth(tree: ast.AST) -> int:
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


class _Interpreter:
    def __init__(self, variables: dict[str, Any]) -> None:
        self.scopes: list[dict[str, Any]] = [variables]
        self.steps = 0
        self.deadline = time.monotonic() + MAX_SECONDS

    def lookup(self, name: str) -> Any:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        if name in CONSTS:
            return CONSTS[name]
        if name in BUILTINS:
            return BUILTINS[name]
        raise EvalError(f"name {name!r} is not bound")

    def tick(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise EvalError("expression runs too long")
        if not self.steps & 255 and time.monotonic() > self.deadline:
            raise EvalError(f"expression ran past {MAX_SECONDS:g} s")

    def eval(self, node: ast.AST) -> Any:
        self.tick()
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.lookup(node.id)
        if isinstance(node, ast.BoolOp):
            result: Any = None
            for value in node.values:
                result = self.eval(value)
                if isinstance(node.op, ast.And) and not result:
                    return result
                if isinstance(node.op, ast.Or) and result:
                    return result
            return result
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](self.eval(node.operand))
        if isinstance(node, ast.BinOp):
            left, right = self.eval(node.left), self.eval(node.right)
            guard_binop(node.op, left, right)
            return _BINOPS[type(node.op)](left, right)
        if isinstance(node, ast.Compare):
            left = self.eval(node.left)
            for op, comp in zip(node.ops, node.comparators, strict=True):
                right = self.eval(comp)
                if not _CMPOPS[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return self.eval(node.body) if self.eval(node.test) else self.eval(node.orelse)
        if isinstance(node, ast.Subscript):
            target = self.eval(node.value)
            if isinstance(node.slice, ast.Slice):
                s = node.slice
                return target[
                    slice(*(self.eval(p) if p else None for p in (s.lower, s.upper, s.step)))
                ]
            return target[self.eval(node.slice)]
        if isinstance(node, ast.List):
            return [self.eval(e) for e in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(self.eval(e) for e in node.elts)
        if isinstance(node, ast.Set):
            return {self.eval(e) for e in node.elts}
        if isinstance(node, ast.Dict):
            return {
                self.eval(k) if k else None: self.eval(v)
                for k, v in zip(node.keys, node.values, strict=True)
            }
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.GeneratorExp | ast.ListComp):
            return [self.eval(node.elt) for _ in self.comprehend(node.generators)]
        if isinstance(node, ast.SetComp):
            return {self.eval(node.elt) for _ in self.comprehend(node.generators)}
        if isinstance(node, ast.DictComp):
            return {
                self.eval(node.key): self.eval(node.value) for _ in self.comprehend(node.generators)
            }
        raise EvalError(f"{type(node).__name__} is not supported")

    def call(self, node: ast.Call) -> Any:
        args = [self.eval(a) for a in node.args]
        kwargs = {k.arg: self.eval(k.value) for k in node.keywords if k.arg}
        if isinstance(node.func, ast.Name):
            fn = BUILTINS[node.func.id]
            if fn is range and args and max(abs(a) for a in args if isinstance(a, int)) > MAX_SEQ:
                raise EvalError("range too large")
            return fn(*args, **kwargs)
        assert isinstance(node.func, ast.Attribute)
        target = self.eval(node.func.value)
        if not isinstance(target, str | list | dict | tuple):
            raise EvalError(f".{node.func.attr}() is not available on {type(target).__name__}")
        method = getattr(target, node.func.attr, None)
        if method is None:
            raise EvalError(f"{type(target).__name__} has no method .{node.func.attr}()")
        guard_method(target, node.func.attr, args)
        result = method(*args, **kwargs)
        if isinstance(result, str) and len(result) > MAX_SEQ:
            raise EvalError("result too large")
        return result

    def comprehend(self, gens: list[ast.comprehension]) -> Iterator[None]:
        if not gens:
            yield None
            return
        gen, rest = gens[0], gens[1:]
        scope: dict[str, Any] = {}
        self.scopes.append(scope)
        try:
            for item in self.eval(gen.iter):
                self.tick()
                _bind(gen.target, item, scope)
                if all(self.eval(cond) for cond in gen.ifs):
                    yield from self.comprehend(rest)
        finally:
            self.scopes.pop()


def _bind(target: ast.AST, value: Any, scope: dict[str, Any]) -> None:
    if isinstance(target, ast.Name):
        scope[target.id] = value
    elif isinstance(target, ast.Tuple | ast.List):
        values = list(value)
        if len(values) != len(target.elts):
            raise EvalError("cannot unpack: wrong number of values")
        for t, v in zip(target.elts, values, strict=True):
            _bind(t, v, scope)
    else:
        raise EvalError("unsupported loop target")


def guard_method(target: Any, name: str, args: list[Any]) -> None:
    """Refuse the str methods whose result can dwarf their inputs, before they run."""
    if not isinstance(target, str):
        return
    if name == "join" and args:
        parts = args[0] = list(args[0])
        size = sum(len(p) if isinstance(p, str) else 1 for p in parts)
        if size + len(target) * len(parts) > MAX_SEQ:
            raise EvalError("result too large")
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str):
        old, new = args[0], args[1]
        count = len(target) + 1 if old == "" else target.count(old)
        if isinstance(new, str) and len(target) + count * max(0, len(new) - len(old)) > MAX_SEQ:
            raise EvalError("result too large")


def _guard_int(bits: float) -> None:
    if bits > MAX_INT_BITS:
        raise EvalError(f"number too large (over {MAX_INT_BITS} bits)")


def guard_binop(op: ast.operator, left: Any, right: Any) -> None:
    """Raise :class:`EvalError` before ``left op right`` builds an oversized value."""
    ints = isinstance(left, int) and isinstance(right, int)
    if ints and isinstance(op, ast.Pow) and right > 0:
        _guard_int(max(1, abs(left).bit_length() - 1) * right if abs(left) > 1 else 0)
    elif ints and isinstance(op, ast.Mult):
        _guard_int(abs(left).bit_length() + abs(right).bit_length())
    if isinstance(op, ast.Mod) and isinstance(left, str | bytes):
        raise EvalError("'%' formatting is not allowed (widths can be any size)")
    if isinstance(op, ast.Mult):
        for seq, n in ((left, right), (right, left)):
            if (
                isinstance(seq, str | list | tuple)
                and isinstance(n, int)
                and len(seq) * max(n, 0) > MAX_SEQ
            ):
                raise EvalError("sequence repetition too large")
    elif isinstance(op, ast.Pow) and isinstance(right, int | float) and abs(right) > 1000:
        raise EvalError("exponent too large")
    elif (
        isinstance(op, ast.Add)
        and isinstance(left, str | list | tuple)
        and isinstance(right, str | list | tuple)
        and len(left) + len(right) > MAX_SEQ
    ):
        raise EvalError("result too large")
