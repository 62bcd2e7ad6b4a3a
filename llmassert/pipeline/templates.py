"""Jinja2 prompts: sandboxed, strict, compiled once per operation, checked before any LLM call.

Every prompt in a pipeline is a :class:`Prompt`.  It is compiled when the spec loads (a syntax
error is a one-line ``SpecError`` with the template line), analysed for the variables it reads
(``input.title``, ``inputs[0].category``, ``item.topic`` inside ``{% for item in inputs %}``) so
that the runner can reject a prompt that reads a key no row has, and rendered in a
``SandboxedEnvironment`` with ``StrictUndefined`` so a missing variable is an error, never an
empty string in a prompt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from llmassert.errors import SpecError, TemplateError

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


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
        except TemplateSyntaxError as e:
            raise SpecError(
                f"template syntax error on line {e.lineno}: {e.message}", file=file, field=where
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
        try:
            return self._template.render(**variables)
        except UndefinedError as e:
            raise TemplateError(
                f"template variable missing: {e.message}", file=self.file, field=self.where
            ) from None
        except SecurityError as e:
            raise TemplateError(
                f"unsafe template operation: {e}", file=self.file, field=self.where
            ) from None
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as e:
            raise TemplateError(
                f"template failed: {type(e).__name__}: {e}", file=self.file, field=self.where
            ) from None


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
