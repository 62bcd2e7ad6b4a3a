"""Size guards: every operation that can allocate without bound checks the size first.

No timer stops one C call, and the memory watchdogs sample the resident set every 10 ms, so
``"x" * n``, ``10 ** 10 ** 8``, ``sum(lists, [])`` or ``s.ljust(10**10)`` could take seconds or
gigabytes inside a single call, or spike and free between two samples. Sandboxed code therefore
never runs those operations directly: :func:`guard_tree` rewrites its AST (after the allowlist
accepted it, before it is compiled) so that

- ``a * b``, ``a ** b``, ``a << b``, ``a % b`` (and their augmented forms) call ``__g_mul__``,
  ``__g_pow__``, ``__g_lshift__``, ``__g_mod__`` (``%`` formatting: widths). (``a + b`` is not guarded: it at most doubles its largest
  operand, and guarding it would defeat CPython's in-place ``s = s + t``, making such loops
  quadratic; growth by repeated ``+`` takes one bytecode per step and meets the watchdogs);
- ``x.ljust``/``rjust``/``center``/``zfill``/``expandtabs``/``join``/``replace`` (as calls or as
  values) go through ``__g_attr__``; ``bytes(n)`` through ``__g_bytes__``;
- an f-string field with a format spec goes through ``__g_fmt__``;

and the builtins table's ``sum`` is :func:`guarded_sum`. Each guard computes the size of the result
from its operands (lengths, bit lengths, widths) *before* computing it and raises
:class:`SizeLimitError` when it is over :data:`MAX_BYTES` (sequences and text) or
:data:`MAX_INT_BITS` (integers: a product of two 262,144-bit integers takes ~20 ms). The names
are dunders, which the allowlist refuses in user code: it can neither call nor shadow them.

Stdlib-only and import-free: the sandbox worker loads it by path.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Iterable
from typing import Any

MAX_BYTES = 32 << 20  # one operation builds at most this much (estimated; refs count 8 bytes)
MAX_INT_BITS = 1 << 18
MAX_WIDTH = 1 << 20  # format widths and precisions


class SizeLimitError(MemoryError):
    """An operation would build a value over the size bound (a ``MemoryError``: not catchable by
    checks, which the allowlist forbids to catch ``MemoryError``)."""


def _size(value: Any) -> int:
    """Estimated bytes of a sequence (-1: not a sized sequence the guards care about)."""
    kind = type(value)
    if kind is str or kind is bytes or kind is bytearray:
        return len(value)
    if isinstance(value, (list, tuple)):
        return len(value) * 8
    if isinstance(value, (str, bytes, bytearray)):
        return len(value)
    return -1


def _over(what: str, size: int) -> SizeLimitError:
    return SizeLimitError(f"{what} would build ~{size >> 20} MB (limit {MAX_BYTES >> 20} MB)")


def _int_over(what: str, bits: int) -> SizeLimitError:
    return SizeLimitError(f"{what} would build a {bits}-bit integer (limit {MAX_INT_BITS} bits)")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def g_mul(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is float or tb is float:
        return a * b
    if ta is int and tb is int:
        bits = a.bit_length() + b.bit_length()
        if bits > MAX_INT_BITS:
            raise _int_over("'*'", bits)
        return a * b
    for seq, n in ((a, b), (b, a)):
        if _is_int(n):
            size = _size(seq)
            if size > 0 and size * max(n, 0) > MAX_BYTES:
                raise _over("'*'", size * n)
    return a * b


def g_pow(a: Any, b: Any) -> Any:
    if (
        _is_int(a)
        and _is_int(b)
        and b > 0
        and abs(a) > 1
        and (b > MAX_INT_BITS or math.log2(abs(a)) * b > MAX_INT_BITS)
    ):
        raise _int_over("'**'", int(min(math.log2(abs(a)) * b, 1e18)))
    return a**b


def g_mod(a: Any, b: Any) -> Any:
    """``%``: a ``str``/``bytes`` template's widths and precisions (literal or ``*``) are checked."""
    if isinstance(a, (str, bytes)):
        template = a if isinstance(a, str) else a.decode("latin-1")
        specs = _PERCENT.findall(template) if "%" in template else ()
        if any(not _spec_ok(spec) for spec in specs):
            raise SizeLimitError(f"'%' widths are limited to {MAX_WIDTH}")
        if any("*" in spec for spec in specs):
            values = b if isinstance(b, tuple) else (b,)
            if any(_is_int(v) and abs(v) > MAX_WIDTH for v in values):
                raise SizeLimitError(f"'%' widths are limited to {MAX_WIDTH}")
    return a % b


# A '%' conversion's flags, width and precision (the text between them is not a width).
_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d*))?")


def g_lshift(a: Any, b: Any) -> Any:
    if _is_int(a) and _is_int(b) and a and b > 0 and a.bit_length() + b > MAX_INT_BITS:
        raise _int_over("'<<'", a.bit_length() + b)
    return a << b


def g_add(a: Any, b: Any) -> Any:
    ta = type(a)
    if ta is int or ta is float:
        return a + b
    sa = _size(a)
    if sa >= 0:
        sb = _size(b)
        if sb > 0 and sa + sb > MAX_BYTES:
            raise _over("'+'", sa + sb)
    return a + b


_AUG = {
    ast.Mult: "__g_mul__",
    ast.Pow: "__g_pow__",
    ast.LShift: "__g_lshift__",
    ast.Mod: "__g_mod__",
}


def guarded_sum(iterable: Iterable[Any], /, start: Any = 0) -> Any:
    """``sum`` whose non-numeric accumulation is linear and size-checked (``sum(lists, [])``)."""
    if _is_int(start) or type(start) is float:
        return sum(iterable, start)
    size = max(_size(start), 0)
    parts = []
    for item in iterable:
        item_size = _size(item)
        if item_size > 0:
            size += item_size
            if size > MAX_BYTES:
                raise _over("sum()", size)
        parts.append(item)
    if type(start) in (list, tuple) and all(type(p) is type(start) for p in parts):
        out = list(start)
        for part in parts:  # linear, where the builtin copies the total at every step
            out.extend(part)
        return out if type(start) is list else tuple(out)
    return sum(parts, start)  # the builtin's semantics and errors, on a bounded total


def _width(value: Any) -> int:
    return value if _is_int(value) else 0


def _checked_method(receiver: Any, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` (bound to ``receiver``, or unbound when ``receiver`` is None: ``str.join``)
    with the size of its result checked first."""

    def call(*args: Any, **kwargs: Any) -> Any:
        if receiver is None and not args:
            return method(*args, **kwargs)
        text, rest = (receiver, args) if receiver is not None else (args[0], args[1:])
        size = _size(text)
        if size < 0:
            return method(*args, **kwargs)
        if name in ("ljust", "rjust", "center", "zfill"):
            width = _width(rest[0] if rest else kwargs.get("width", 0))
            if width > MAX_BYTES:
                raise _over(f"'.{name}'", width)
        elif name == "expandtabs":
            tab = _width(rest[0] if rest else kwargs.get("tabsize", 8))
            tabs = text.count("\t" if isinstance(text, str) else b"\t")
            if size + tab * tabs > MAX_BYTES:
                raise _over("'.expandtabs'", size + tab * tabs)
        elif name == "replace" and len(rest) >= 2:
            old, new = rest[0], rest[1]
            count = rest[2] if len(rest) > 2 else kwargs.get("count", -1)
            hits = (len(text) + 1) if len(old) == 0 else text.count(old)
            if _is_int(count) and count >= 0:
                hits = min(hits, count)
            grown = size + hits * max(len(new) - len(old), 0)
            if grown > MAX_BYTES:
                raise _over("'.replace'", grown)
        elif name == "join" and len(rest) == 1 and not kwargs:
            parts = list(rest[0])  # a generator runs here, in Python: the deadline stops it
            total = size * max(len(parts) - 1, 0) + sum(max(_size(p), 0) for p in parts)
            if total > MAX_BYTES:
                raise _over("'.join'", total)
            return method(parts) if receiver is not None else method(text, parts)
        return method(*args, **kwargs)

    return call


GUARDED_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs", "join", "replace"})


def g_attr(obj: Any, name: str) -> Any:
    value = getattr(obj, name)
    if isinstance(obj, (str, bytes, bytearray)):
        return _checked_method(obj, name, value)
    if obj is str or obj is bytes or obj is bytearray:  # str.join(sep, parts)
        return _checked_method(None, name, value)
    return value


def g_bytes(*args: Any, **kwargs: Any) -> bytes:
    if args and _is_int(args[0]) and args[0] > MAX_BYTES:
        raise _over("bytes()", args[0])
    return bytes(*args, **kwargs)


def _spec_ok(spec: str) -> bool:
    number = ""
    for ch in spec + " ":
        if ch.isdigit():
            number += ch
            continue
        if number and (len(number) > 7 or int(number) > MAX_WIDTH):
            return False
        number = ""
    return True


def g_fmt(value: Any, conversion: int, spec: str) -> str:
    if conversion == ord("r"):
        value = repr(value)
    elif conversion == ord("s"):
        value = str(value)
    elif conversion == ord("a"):
        value = ascii(value)
    if not _spec_ok(spec):
        raise SizeLimitError(f"format spec {spec[:40]!r}: widths are limited to {MAX_WIDTH}")
    return format(value, spec)


def g_factorial(n: Any) -> Any:
    if _is_int(n) and n > 20_000:
        raise _int_over("math.factorial", int(n * math.log2(max(n, 2))))
    return math.factorial(n)


def g_comb(n: Any, k: Any) -> Any:
    if _is_int(n) and n > 20_000:
        raise _int_over("math.comb", n)
    return math.comb(n, k)


def g_perm(n: Any, k: Any = None) -> Any:
    if _is_int(n) and n > 20_000:
        raise _int_over("math.perm", n)
    return math.perm(n, k)


def g_prod(iterable: Iterable[Any], /, *, start: Any = 1) -> Any:
    items = list(iterable)
    bits = sum(x.bit_length() for x in items if _is_int(x))
    if bits > MAX_INT_BITS:
        raise _int_over("math.prod", bits)
    total = start
    for x in items:  # sequences multiplied in: the same checks as '*'
        total = g_mul(total, x)
    return total


# Replacements inside module proxies (by module name, then attribute).
MODULE_GUARDS: dict[str, dict[str, Callable[..., Any]]] = {
    "math": {"factorial": g_factorial, "comb": g_comb, "perm": g_perm, "prod": g_prod},
    "operator": {
        "mul": g_mul,
        "add": g_add,
        "concat": g_add,
        "lshift": g_lshift,
        "pow": g_pow,
    },
}
assert all(hasattr(operator, n) for n in MODULE_GUARDS["operator"])

BUILTINS: dict[str, Callable[..., Any]] = {
    "__g_mul__": g_mul,
    "__g_pow__": g_pow,
    "__g_lshift__": g_lshift,
    "__g_mod__": g_mod,
    "__g_attr__": g_attr,
    "__g_bytes__": g_bytes,
    "__g_fmt__": g_fmt,
    "sum": guarded_sum,
}


def _name(id_: str, node: ast.AST) -> ast.Name:
    return ast.copy_location(ast.Name(id=id_, ctx=ast.Load()), node)


def _call(func: str, args: list[ast.expr], node: ast.AST) -> ast.Call:
    return ast.copy_location(ast.Call(func=_name(func, node), args=args, keywords=[]), node)


def _load_copy(target: ast.expr) -> ast.expr:
    copied = ast.parse(ast.unparse(target), mode="eval").body
    for sub in ast.walk(copied):
        if hasattr(sub, "ctx"):
            sub.ctx = ast.Load()
    return ast.copy_location(copied, target)


class _Rewriter(ast.NodeTransformer):
    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        self.generic_visit(node)
        func = _AUG.get(type(node.op))
        if func is None:
            return node
        return _call(func, [node.left, node.right], node)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.stmt:
        self.generic_visit(node)
        func = _AUG.get(type(node.op))
        if func is None or not isinstance(node.target, (ast.Name, ast.Subscript)):
            return node
        # x *= n -> x = __g_mul__(x, n); a subscript target's key is evaluated twice.
        value = _call(func, [_load_copy(node.target), node.value], node)
        return ast.copy_location(ast.Assign(targets=[node.target], value=value), node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        self.generic_visit(node)
        if node.attr in GUARDED_METHODS and isinstance(node.ctx, ast.Load):
            return _call(
                "__g_attr__", [node.value, ast.copy_location(ast.Constant(node.attr), node)], node
            )
        return node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "bytes":
            node.func = _name("__g_bytes__", node.func)
        return node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.expr:
        self.generic_visit(node)
        if node.format_spec is None:
            return node
        spec = node.format_spec
        conv = ast.copy_location(ast.Constant(node.conversion), node)
        call = _call("__g_fmt__", [node.value, conv, spec], node)
        return ast.copy_location(ast.FormattedValue(value=call, conversion=-1), node)


def guard_tree(tree: ast.Module) -> ast.Module:
    """``tree`` with every unbounded-allocation operation routed through a guard (in place)."""
    rewritten: ast.Module = _Rewriter().visit(tree)
    return ast.fix_missing_locations(rewritten)
