"""Jinja2 prompts: sandboxed, strict, compiled once per operation, checked before any LLM call.

Every prompt in a pipeline is a :class:`Prompt`.  It is compiled when the spec loads (a syntax
error is a one-line ``SpecError`` with the template line), analysed for the variables it reads
(``input.title``, ``inputs[0].category``, ``item.topic`` inside ``{% for item in inputs %}``) so
that the runner can reject a prompt that reads a key no row has, and rendered in a
``SandboxedEnvironment`` with ``StrictUndefined`` so a missing variable is an error, never an
empty string in a prompt.

Templates come from pipeline YAML, which may be someone else's, so rendering is contained:

- rows are read-only: the environment is Jinja's *immutable* sandbox (``input.clear()``,
  ``list.append`` ... raise ``SecurityError``), and no attribute or item can be assigned;
- every render is bounded: ``MAX_RENDER_SECONDS`` of wall clock (checked at every call, filter,
  attribute lookup, loop step over ``range`` and output chunk), ``MAX_RENDER_CHARS`` of output,
  and no intermediate string or list over ``MAX_VALUE`` items: ``*``, ``+``, ``**``, ``%``, ``~``,
  ``join``/``replace`` and namespace assignments are checked before they build a value, integer
  filter arguments (``center(10**10)``) are capped, ``lipsum`` is capped;
- anything that still fails (MemoryError, RecursionError from a recursive macro, OverflowError)
  is a one-line :class:`~llmassert.errors.TemplateError` naming the prompt.
"""

from __future__ import annotations

import ast
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace, generate_lorem_ipsum

from llmassert.errors import SpecError, TemplateError
from llmassert.pipeline.validation import EvalError, guard_binop, guard_method

MAX_RENDER_SECONDS = 5.0
MAX_RENDER_CHARS = 20_000_000
MAX_VALUE = 1_000_000  # longest string or list a template may build along the way
MAX_LIPSUM = 100
_BINOPS = {"+": ast.Add(), "*": ast.Mult(), "**": ast.Pow(), "%": ast.Mod(), "//": ast.FloorDiv()}


class _Budget(threading.local):
    deadline: float = 0.0


_BUDGET = _Budget()


def _tick() -> None:
    if _BUDGET.deadline and time.monotonic() > _BUDGET.deadline:
        raise SecurityError(f"the template ran past {MAX_RENDER_SECONDS:g} s")


def _size_ok(value: Any) -> Any:
    if isinstance(value, str | list | tuple) and len(value) > MAX_VALUE:
        raise SecurityError(f"the template built a value over {MAX_VALUE} items")
    return value


def _bounded_concat(parts: Iterable[Any]) -> str:
    items = [str(p) for p in parts]
    if sum(len(p) for p in items) > MAX_VALUE:
        raise SecurityError(f"the template built a value over {MAX_VALUE} items")
    return "".join(items)


class _BoundedCodeGenerator(CodeGenerator):
    """Compiles ``a ~ b`` to a size-checked join (Jinja's own ``str_join`` cannot be hooked)."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _BoundedNamespace(Namespace):
    def __setitem__(self, name: str, value: Any) -> None:
        _tick()
        super().__setitem__(name, _size_ok(value))


def _bounded_range(*args: int) -> Iterator[int]:
    for i in range(*args):
        if not i & 1023:
            _tick()
        yield i


def _bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if n > MAX_LIPSUM or max > MAX_LIPSUM * 10:
        raise SecurityError(f"lipsum() is limited to {MAX_LIPSUM} paragraphs")
    return str(generate_lorem_ipsum(n=n, html=html, min=min, max=max))


_FORMAT_FIELD = re.compile(r"%[^a-zA-Z%]*|\{[^{}]*\}")


def _check_format(template: Any) -> None:
    """Refuse ``%``/``{}`` format fields whose width or precision could be any size."""
    if not isinstance(template, str):
        return
    for spec in _FORMAT_FIELD.findall(template):
        numbers = re.findall(r"\d+", spec)
        if (
            (spec.startswith("%") and "*" in spec)
            or any(len(n) > 6 for n in numbers)
            or any(int(n) > MAX_VALUE for n in numbers)
        ):
            raise SecurityError(f"format field {spec[:40]!r} is too wide")


def _bounded_filter(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        _tick()
        for value in [*args, *kwargs.values()]:
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_VALUE:
                raise SecurityError(f"|{name}: argument {value} is over {MAX_VALUE}")
        values = [a for a in args if not hasattr(a, "autoescape")]  # skip the eval context
        if name == "format" and values:
            _check_format(values[0])
        if name in ("join", "replace") and values:
            rest = [values[0]] if name == "join" else values[1:3]
            try:
                target = (
                    (str(values[1]) if len(values) > 1 else "") if name == "join" else values[0]
                )
                if name == "join":
                    parts = list(values[0])
                    guard_method(target, "join", [parts])
                elif isinstance(target, str):
                    guard_method(target, "replace", list(rest))
            except EvalError as e:
                raise SecurityError(f"|{name}: {e}") from None
        return _size_ok(fn(*args, **kwargs))

    call.__dict__.update(
        getattr(fn, "__dict__", {})
    )  # keep jinja's pass_context/eval_context marks
    return call


class _BoundedEnvironment(ImmutableSandboxedEnvironment):
    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset(_BINOPS)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {n: _bounded_filter(n, f) for n, f in self.filters.items()}
        self.globals.update(
            range=_bounded_range, lipsum=_bounded_lipsum, namespace=_BoundedNamespace
        )

    @staticmethod
    def bounded_concat(parts: Iterable[Any]) -> str:
        return _bounded_concat(parts)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _tick()
        try:
            guard_binop(_BINOPS[operator], left, right)
        except EvalError as e:
            raise SecurityError(str(e)) from None
        return _size_ok(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _tick()
        return _size_ok(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        # "...".format(...) and .format_map(...): check widths and arguments before formatting.
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        template = value.__self__

        def bounded(*args: Any, **kwargs: Any) -> str:
            _check_format(template)
            mapping = args[0] if len(args) == 1 and isinstance(args[0], Mapping) else {}
            for item in [*args, *kwargs.values(), *mapping.values()]:
                if isinstance(item, int) and abs(item) > MAX_VALUE:
                    raise SecurityError(f"format argument {item} is over {MAX_VALUE}")
            return str(_size_ok(wrapped(*args, **kwargs)))

        return bounded

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        return super().getitem(obj, argument)


_ENV = _BoundedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


@dataclass(frozen=True)
class KeySet:
    """The keys rows are known to carry at some point of a pipeline.

    ``open`` means more keys may exist than listed (an operator whose output keys cannot be
    known before running), so a reference to an unlisted key is not an error there.
    """

    keys: frozenset[str] = frozenset()
    open: bool = False

    @classmethod
    def of(cls, keys: Iterable[str], open: bool = False) -> KeySet:
        return cls(frozenset(keys), open)

    def __or__(self, other: Iterable[str]) -> KeySet:
        return KeySet(self.keys | frozenset(other), self.open)

    def without(self, keys: Iterable[str]) -> KeySet:
        return KeySet(self.keys - frozenset(keys), self.open)

    def missing(self, wanted: Iterable[str]) -> list[str]:
        return [] if self.open else sorted(set(wanted) - self.keys)


@dataclass
class References:
    """What a template reads: top-level names, and keys of rows reached through them."""

    names: set[str] = field(default_factory=set)
    # variable -> keys read from it ("input" -> {"title"}, "inputs" -> {"category"})
    keys: dict[str, set[str]] = field(default_factory=dict)


class Prompt:
    """A compiled prompt template.  ``where`` names it in errors (``operations[2] (x).prompt``)."""

    def __init__(self, source: str, *, where: str, file: str | Path | None = None) -> None:
        self.source = source
        self.where = where
        self.file = file
        try:
            tree = _ENV.parse(source)
            self._template = _ENV.from_string(source)
            # A plain dict, not the ChainMap over the environment's globals (never changed
            # after import): every render copies it, and iterating a ChainMap costs ~5 µs.
            self._template.globals = dict(self._template.globals)
        except TemplateSyntaxError as e:
            raise SpecError(
                f"template syntax error on line {e.lineno}: {e.message}", file=file, field=where
            ) from None
        except (RecursionError, MemoryError):
            raise SpecError(
                "template nests too deeply to compile", file=file, field=where
            ) from None
        self.refs = _analyse(tree)

    def check(self, available: Mapping[str, KeySet | None]) -> None:
        """Raise ``SpecError`` if the template reads a variable or row key that cannot exist.

        ``available`` maps each variable the template may use to the keys its rows carry
        (``None``: a variable that is not a row, e.g. ``reduce_key``).
        """
        unknown = sorted(self.refs.names - set(available))
        if unknown:
            can = ", ".join(sorted(available)) or "nothing"
            raise SpecError(
                f"unknown template variable {unknown[0]!r} (this prompt can use {can})",
                file=self.file,
                field=self.where,
            )
        for var, keys in sorted(self.refs.keys.items()):
            known = available.get(var)
            if known is None:
                continue
            missing = known.missing(keys)
            if missing:
                shown = ", ".join(sorted(known.keys)) or "none"
                raise SpecError(
                    f"{var}.{missing[0]} is not a key of the rows here (keys: {shown})",
                    file=self.file,
                    field=self.where,
                )

    def render(self, **variables: Any) -> str:
        outer = _BUDGET.deadline
        if not outer:  # a render inside a render keeps the outer deadline
            _BUDGET.deadline = time.monotonic() + MAX_RENDER_SECONDS
        try:
            chunks: list[str] = []
            size = 0
            for chunk in self._template.generate(**variables):
                size += len(chunk)
                if size > MAX_RENDER_CHARS:
                    raise SecurityError(
                        f"the rendered prompt is over {MAX_RENDER_CHARS} characters"
                    )
                _tick()
                chunks.append(chunk)
            return "".join(chunks)
        except UndefinedError as e:
            raise TemplateError(
                f"template variable missing: {e.message}", file=self.file, field=self.where
            ) from None
        except SecurityError as e:
            raise TemplateError(
                f"unsafe template operation: {e}", file=self.file, field=self.where
            ) from None
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError) as e:
            raise TemplateError(
                f"template failed: {type(e).__name__}: {' '.join(str(e).split())[:200]}",
                file=self.file,
                field=self.where,
            ) from None
        except MemoryError:
            raise TemplateError(
                "template failed: out of memory", file=self.file, field=self.where
            ) from None
        except RecursionError:
            raise TemplateError(
                "template failed: recursion too deep (a macro calling itself?)",
                file=self.file,
                field=self.where,
            ) from None
        finally:
            _BUDGET.deadline = outer


def _analyse(tree: nodes.Template) -> References:
    from jinja2 import meta

    refs = References(names=set(meta.find_undeclared_variables(tree)) - set(_ENV.globals))
    # Loop variables that iterate over a row list read row keys of that list.
    aliases: dict[str, str] = {}
    for loop in tree.find_all(nodes.For):
        source = _root_name(loop.iter)
        if source and isinstance(loop.target, nodes.Name):
            aliases[loop.target.name] = source
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        key = _key_of(node)
        if key is None:
            continue
        base = getattr(node, "node", None)
        if (
            isinstance(base, nodes.Getitem)
            and isinstance(base.node, nodes.Name)
            and isinstance(base.arg, nodes.Const)
            and isinstance(base.arg.value, int)
        ):
            base = base.node  # inputs[0].key reads a row key of `inputs`
        if not isinstance(base, nodes.Name):
            continue
        var = aliases.get(base.name, base.name)
        if base.name in aliases or var in refs.names:
            refs.keys.setdefault(var, set()).add(key)
    return refs


def _root_name(node: nodes.Node) -> str | None:
    while isinstance(node, nodes.Filter) and node.node is not None:
        node = node.node
    return node.name if isinstance(node, nodes.Name) else None


def _key_of(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Getattr):
        return node.attr
    if (
        isinstance(node, nodes.Getitem)
        and isinstance(node.arg, nodes.Const)
        and isinstance(node.arg.value, str)
    ):
        return node.arg.value
    return None
