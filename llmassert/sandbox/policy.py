"""Static policy for assertion code: the AST allowlist and the stricter "inline-safe" rules.

Two levels, both pure analysis of source text (nothing here runs the code):

1. :func:`validate` — may this code run at all (in the process sandbox, or in-process for code a
   human reviewed)? An allowlist of syntax, names, imports and module attributes; anything that
   reaches interpreter internals (dunders, frames, ``str.format`` attribute walks) is refused.
2. :func:`check_inline_safe` — may it run in-process (its Python-level work is bounded by the
   deadline on any thread, but no timer can stop one C call)? Additionally no
   ``while`` loops, no recursion, bounded ``range``, no size-amplifying operators, regexes without
   nested quantifiers. This is a static approximation meant to catch accidents in reviewed code;
   untrusted (LLM-written) code always runs in the process sandbox whatever this says.
"""

from __future__ import annotations

import ast
import math
import string
from collections.abc import Iterator
from typing import Any

from llmassert.errors import UnsafeCodeError
from llmassert.sandbox._worker import CODE_MODULES, HELPERS_PATH, RE_NAMES

MAX_SOURCE_CHARS = 200_000
HELPERS = "llmassert.assertions.helpers"
JUDGE = "llmassert.assertions.judge"


PARSE = "llmassert.assertions.parse"
FORMATS = "llmassert.assertions.formats"
_FILES = {HELPERS: "helpers.py", PARSE: "parse.py", FORMATS: "formats.py"}


def _helper_names(module: str = HELPERS) -> frozenset[str]:
    # Read the helper module's literal __all__ rather than importing it: the sandbox sits below
    # assertions/ and must not import that package (whose __init__ imports the sandbox's users).
    path = HELPERS_PATH.parent / _FILES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for stmt in tree.body:
        if (
            isinstance(stmt, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in stmt.targets)
            and isinstance(stmt.value, (ast.List, ast.Tuple))
        ):
            return frozenset(
                e.value
                for e in stmt.value.elts
                if isinstance(e, ast.Constant) and isinstance(e.value, str)
            )
    raise ImportError(f"{path} has no literal __all__")  # pragma: no cover


MODULE_ATTRS: dict[str, frozenset[str]] = {
    "re": RE_NAMES,
    "json": frozenset({"loads", "dumps", "JSONDecodeError"}),
    "math": frozenset(n for n in dir(math) if not n.startswith("_")),
    "string": frozenset(
        [
            "ascii_letters",
            "ascii_lowercase",
            "ascii_uppercase",
            "digits",
            "hexdigits",
            "octdigits",
            "punctuation",
            "printable",
            "whitespace",
            "capwords",
            "Template",
        ]
    ),
    HELPERS: _helper_names(),
    PARSE: _helper_names(PARSE),
    FORMATS: _helper_names(FORMATS),
    JUDGE: frozenset({"llm_judge"}),
}
assert all(hasattr(string, n) for n in MODULE_ATTRS["string"])
# What code operations may import on top (``profile="code"``; see _worker.CODE_MODULES).
CODE_MODULE_ATTRS: dict[str, frozenset[str]] = {
    **MODULE_ATTRS,
    **{name: frozenset(names) for name, names in CODE_MODULES.items()},
}
_PLAIN_MODULES = ("re", "json", "math", "string")

# Builtins and names that reach the interpreter, the file system or introspection.
FORBIDDEN_NAMES = frozenset(
    [
        "exec",
        "eval",
        "compile",
        "open",
        "__import__",
        "globals",
        "locals",
        "vars",
        "getattr",
        "setattr",
        "delattr",
        "hasattr",
        "input",
        "breakpoint",
        "memoryview",
        "help",
        "exit",
        "quit",
        "dir",
        "super",
        "object",
        "classmethod",
        "staticmethod",
        "property",
        "iter",
        "aiter",
        "anext",
        "format",
    ]
)
# Exceptions that only the sandbox's own timer and the interpreter raise.
_UNCATCHABLE = frozenset(
    {"BaseException", "KeyboardInterrupt", "SystemExit", "GeneratorExit", "MemoryError"}
)
_MUTABLE_TYPES = frozenset({"dict", "list", "set", "bytearray"})
# Attribute names that lead from ordinary objects to frames, code objects or class hierarchies.
_FORBIDDEN_ATTR_PREFIXES = ("_", "gi_", "cr_", "ag_", "f_", "tb_", "co_", "func_", "im_")
_FORBIDDEN_ATTRS = frozenset({"mro"})

_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Module, ast.FunctionDef, ast.arguments, ast.arg, ast.Return, ast.Assign, ast.AugAssign,
    ast.AnnAssign, ast.For, ast.While, ast.If, ast.Try, ast.ExceptHandler, ast.Raise, ast.Assert,
    ast.Expr, ast.Pass, ast.Break, ast.Continue, ast.Import, ast.ImportFrom, ast.alias,
    ast.Delete, ast.BoolOp, ast.NamedExpr, ast.BinOp, ast.UnaryOp, ast.Lambda, ast.IfExp,
    ast.Dict, ast.Set, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Compare,
    ast.Call, ast.keyword, ast.FormattedValue, ast.JoinedStr, ast.Constant, ast.Attribute,
    ast.Subscript, ast.Starred, ast.Name, ast.List, ast.Tuple, ast.Slice, ast.comprehension,
    ast.Yield, ast.expr_context, ast.boolop, ast.operator, ast.unaryop, ast.cmpop,
)  # fmt: skip
_REFUSED_WHY: dict[type[ast.AST], str] = {
    ast.ClassDef: "class definitions",
    ast.Global: "'global'",
    ast.Nonlocal: "'nonlocal'",
    ast.AsyncFunctionDef: "async functions",
    ast.Await: "'await'",
    ast.With: "'with' blocks",
    ast.AsyncWith: "'with' blocks",
    ast.AsyncFor: "'async for'",
    ast.Match: "'match' statements",
    ast.YieldFrom: "'yield from'",
}


class _Refused(Exception):
    def __init__(self, node: ast.AST | None, what: str) -> None:
        self.line = getattr(node, "lineno", None)
        self.what = what
        super().__init__(what)


def _raise(filename: str, refused: _Refused, hint: str | None = None) -> UnsafeCodeError:
    field = f"line {refused.line}" if refused.line else None
    return UnsafeCodeError(refused.what, file=filename, field=field, hint=hint)


def parse(source: str, filename: str) -> ast.Module:
    """Parse ``source`` or raise :class:`UnsafeCodeError` naming the file and line."""
    if not isinstance(source, str):
        raise UnsafeCodeError("source is not text", file=filename)
    if len(source) > MAX_SOURCE_CHARS:
        raise UnsafeCodeError(f"source is over {MAX_SOURCE_CHARS} characters", file=filename)
    try:
        return ast.parse(source, filename=filename)
    except SyntaxError as e:
        raise UnsafeCodeError(
            f"syntax error: {e.msg}", file=filename, field=f"line {e.lineno}"
        ) from None
    except (RecursionError, MemoryError, ValueError) as e:
        raise UnsafeCodeError(f"cannot parse: {type(e).__name__}", file=filename) from None


def _parents(tree: ast.AST) -> dict[int, ast.AST]:
    return {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _is_const_expr(node: ast.AST) -> bool:
    """Literals and containers of literals (what a module-level constant may hold)."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_is_const_expr(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and _is_const_expr(k) for k in node.keys) and all(
            _is_const_expr(v) for v in node.values
        )
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return isinstance(node.operand, ast.Constant)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        # Long regexes split over lines: "a" + "b".
        return all(
            isinstance(x, ast.Constant) and isinstance(x.value, str)
            for x in (node.left, node.right)
        ) or (
            isinstance(node.left, ast.BinOp)
            and _is_const_expr(node.left)
            and _is_const_expr(node.right)
        )
    return False


def _is_flag_expr(node: ast.AST, modules: dict[str, str]) -> bool:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _is_flag_expr(node.left, modules) and _is_flag_expr(node.right, modules)
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and modules.get(node.value.id) == "re"
    ) or isinstance(node, ast.Constant)


def _module_value_ok(node: ast.AST, modules: dict[str, str], imported: dict[str, str]) -> bool:
    if _is_const_expr(node):
        return True
    if isinstance(node, ast.Call) and not node.keywords:
        func = node.func
        # re.compile("...", re.I) and frozenset({...}) are constants too.
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and modules.get(func.value.id) == "re"
            and func.attr == "compile"
        ) or (
            isinstance(func, ast.Name) and func.id == "compile" and imported.get(func.id) == "re"
        ):
            return (
                bool(node.args)
                and _is_const_expr(node.args[0])
                and all(_is_flag_expr(a, modules) for a in node.args[1:])
            )
        if isinstance(func, ast.Name) and func.id in ("frozenset", "tuple", "set"):
            return all(_is_const_expr(a) for a in node.args)
    return False


class _Validator:
    """Walks a module and raises :class:`_Refused` at the first construct outside the policy."""

    def __init__(self, tree: ast.Module, profile: str = "check") -> None:
        self.tree = tree
        self.attrs = CODE_MODULE_ATTRS if profile == "code" else MODULE_ATTRS
        self.plain = (*_PLAIN_MODULES, *CODE_MODULES) if profile == "code" else _PLAIN_MODULES
        self.parents = _parents(tree)
        self.modules: dict[str, str] = {}  # local alias -> allowlisted module name
        self.imported: dict[str, str] = {}  # name bound by "from m import name" -> m

    def run(self) -> None:
        for node in ast.walk(self.tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                self._import(node)
        for stmt in self.tree.body:
            self._module_statement(stmt)
        for node in ast.walk(self.tree):
            self._node(node)

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name not in self.plain:
                    hint = (
                        " (use 'from ... import name')"
                        if alias.name in (HELPERS, PARSE, FORMATS, JUDGE)
                        else ""
                    )
                    raise _Refused(node, f"import of {alias.name!r} is not allowed{hint}")
                self.modules[alias.asname or alias.name] = alias.name
            return
        module = node.module or ""
        if module == "__future__" and node.level == 0:
            if any(a.name != "annotations" for a in node.names):
                raise _Refused(node, "only 'from __future__ import annotations' is allowed")
            return
        if node.level != 0 or module not in self.attrs:
            raise _Refused(node, f"import from {'.' * node.level}{module!r} is not allowed")
        for alias in node.names:
            if alias.name == "*":
                raise _Refused(node, "'import *' is not allowed")
            if alias.name not in self.attrs[module]:
                raise _Refused(node, f"{module}.{alias.name} is not allowed")
            if alias.asname and alias.asname.startswith("__"):
                raise _Refused(node, f"name {alias.asname!r} is not allowed")
            self.imported[alias.asname or alias.name] = module

    def _function_list(self, value: ast.AST) -> bool:
        """``ASSERTIONS = [check_a, check_b]``: a list of the module's own functions."""
        defined = {s.name for s in self.tree.body if isinstance(s, ast.FunctionDef)}
        return isinstance(value, (ast.List, ast.Tuple)) and all(
            isinstance(e, ast.Name) and e.id in defined for e in value.elts
        )

    def _module_statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.FunctionDef)):
            return
        if (
            isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str)
        ):
            return  # docstring
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            value = stmt.value
            if all(isinstance(t, ast.Name) for t in targets) and value is not None:
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                if (
                    names == ["__all__"]
                    and isinstance(value, (ast.List, ast.Tuple))
                    and all(
                        isinstance(e, ast.Constant) and isinstance(e.value, str) for e in value.elts
                    )
                ):
                    return
                if _module_value_ok(value, self.modules, self.imported) or self._function_list(
                    value
                ):
                    return
            raise _Refused(
                stmt,
                "module level may only assign constants (literals, re.compile(...), lists of its functions)",
            )
        raise _Refused(
            stmt, "module level may only hold imports, functions, constants and docstrings"
        )

    def _node(self, node: ast.AST) -> None:
        kind = type(node)
        if kind in _REFUSED_WHY:
            raise _Refused(node, f"{_REFUSED_WHY[kind]} are not allowed")
        if not isinstance(node, _ALLOWED_NODES):
            raise _Refused(node, f"{kind.__name__} is not allowed")
        if isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(
            node.ctx, (ast.Store, ast.Del)
        ):
            self._store(node)
        if isinstance(node, ast.Name):
            self._name(node)
        elif isinstance(node, ast.Attribute):
            self._attribute(node)
        elif isinstance(node, ast.Call):
            self._call(node)
        elif isinstance(node, (ast.FunctionDef, ast.Lambda)):
            self._function(node)
        elif isinstance(node, ast.ExceptHandler):
            self._handler(node)
        elif isinstance(node, ast.Try) and node.finalbody:
            self._finally(node)
        elif isinstance(node, ast.arg) and node.arg.startswith("__"):
            raise _Refused(node, f"name {node.arg!r} is not allowed")

    def _name(self, node: ast.Name) -> None:
        if node.id.startswith("__") and not (
            node.id == "__all__" and isinstance(node.ctx, ast.Store)
        ):
            raise _Refused(node, f"name {node.id!r} is not allowed")
        if node.id in FORBIDDEN_NAMES and node.id not in self.imported:
            raise _Refused(node, f"{node.id!r} is not allowed")
        module = self.modules.get(node.id)
        if module is not None and isinstance(node.ctx, ast.Load):
            parent = self.parents.get(id(node))
            if not (isinstance(parent, ast.Attribute) and parent.value is node):
                raise _Refused(node, f"module {module!r} may only be used as {module}.<name>")
            if parent.attr not in self.attrs[module]:
                raise _Refused(node, f"{module}.{parent.attr} is not allowed")

    def _store(self, node: ast.Attribute | ast.Subscript) -> None:
        """Stores and deletes only on containers the function itself created.

        Attributes: nothing assertion code can create has settable attributes, so any attribute
        store targets something it was given (a module, an argument, a helper). Items: the
        container must be a local name of the enclosing function(s) that is not a parameter; a
        local that *aliases* an input is caught at run time (inputs are frozen).
        """
        verb = "deleting" if isinstance(node.ctx, ast.Del) else "assigning to"
        if isinstance(node, ast.Attribute):
            raise _Refused(node, f"{verb} an attribute ('.{node.attr}') is not allowed")
        root: ast.expr = node
        while isinstance(root, ast.Subscript):
            root = root.value
        if not isinstance(root, ast.Name):
            raise _Refused(node, f"{verb} an item of a value it did not create is not allowed")
        params, local = self._scope_names(node)
        if root.id in params:
            raise _Refused(
                node,
                f"{verb} an item of argument {root.id!r} is not allowed "
                f"(inputs are read-only: copy first, e.g. d = dict({root.id}))",
            )
        if root.id not in local:
            raise _Refused(
                node,
                f"{verb} an item of {root.id!r}, which the function did not create, is not allowed",
            )

    def _scope_names(self, node: ast.AST) -> tuple[set[str], set[str]]:
        """Parameters and other local names of the functions enclosing ``node``."""
        params: set[str] = set()
        local: set[str] = set()
        parent = self.parents.get(id(node))
        while parent is not None:
            if isinstance(parent, (ast.FunctionDef, ast.Lambda)):
                args = parent.args
                params |= {
                    a.arg
                    for a in [
                        *args.posonlyargs,
                        *args.args,
                        *args.kwonlyargs,
                        args.vararg,
                        args.kwarg,
                    ]
                    if a is not None
                }
                for sub in ast.walk(parent):
                    if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                        local.add(sub.id)
            parent = self.parents.get(id(parent))
        return params, local - params

    def _handler(self, node: ast.ExceptHandler) -> None:
        if node.type is None:
            raise _Refused(node, "a bare 'except:' is not allowed (catch Exception)")
        caught = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
        for kind in caught:
            if isinstance(kind, ast.Name) and kind.id in _UNCATCHABLE:
                raise _Refused(node, f"catching {kind.id} is not allowed (catch Exception)")

    def _finally(self, node: ast.Try) -> None:
        # `finally: return True` would turn the timeout that stops the code into a pass.
        for stmt in node.finalbody:
            for sub in ast.walk(stmt):
                if isinstance(sub, (ast.Return, ast.Break, ast.Continue)):
                    kind = type(sub).__name__.lower()
                    raise _Refused(sub, f"'{kind}' inside 'finally:' is not allowed")

    def _attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        receiver = node.value
        if (
            isinstance(receiver, ast.Name)
            and receiver.id in _MUTABLE_TYPES
            and receiver.id not in self.imported
            and attr != "fromkeys"
        ):
            # dict.update(x, ...) would bypass the read-only inputs' overrides.
            raise _Refused(
                node, f"'{receiver.id}.{attr}' is not allowed (call the method on a value)"
            )
        if attr.startswith(_FORBIDDEN_ATTR_PREFIXES) or attr in _FORBIDDEN_ATTRS:
            raise _Refused(node, f"attribute {attr!r} is not allowed")
        if attr in ("format", "format_map"):
            parent = self.parents.get(id(node))
            receiver = node.value
            if not (
                attr == "format"
                and isinstance(parent, ast.Call)
                and parent.func is node
                and isinstance(receiver, ast.Constant)
                and isinstance(receiver.value, str)
                and _format_fields_safe(receiver.value)
            ):
                raise _Refused(
                    node,
                    f"'.{attr}' is only allowed as \"literal\".format(...) without attribute lookups (use an f-string)",
                )

    def _call(self, node: ast.Call) -> None:
        if (
            isinstance(node.func, ast.Name)
            and node.func.id == "type"
            and len(node.args) + len(node.keywords) != 1
        ):
            raise _Refused(node, "type() with more than one argument is not allowed")

    def _function(self, node: ast.FunctionDef | ast.Lambda) -> None:
        if isinstance(node, ast.FunctionDef):
            if node.decorator_list:
                raise _Refused(node, "decorators are not allowed")
            if node.name.startswith("__"):
                raise _Refused(node, f"function name {node.name!r} is not allowed")
        for default in [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]:
            if not _is_const_expr(default):
                raise _Refused(default, "default argument values must be literals")
            if any(isinstance(n, (ast.List, ast.Dict, ast.Set)) for n in ast.walk(default)):
                # One mutable default is shared by every call: state across rows.
                raise _Refused(default, "default argument values must be immutable (use a tuple)")


def _format_fields_safe(template: str) -> bool:
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return False
    for _text, field, spec, _conv in fields:
        if field and any(c in field for c in ".[_"):
            return False
        if spec and "{" in spec:
            return False
    return True


def _validated(source: str, filename: str, profile: str = "check") -> _Validator:
    tree = parse(source, filename)
    validator = _Validator(tree, profile)
    try:
        validator.run()
    except _Refused as refused:
        raise _raise(filename, refused) from None
    return validator


def validate(source: str, filename: str, profile: str = "check") -> ast.Module:
    """Check ``source`` against the allowlist; return its AST or raise :class:`UnsafeCodeError`.

    ``profile="code"`` (code operations) also allows the curated modules of ``CODE_MODULES``.
    """
    return _validated(source, filename, profile).tree


# --- inline safety --------------------------------------------------------------------------------

BOUND = 1_000_000  # the largest integer literal accepted as a range bound or size
_SIZE_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})
_REGEX_FUNCS = frozenset(
    {"compile", "search", "match", "fullmatch", "split", "findall", "finditer", "sub", "subn"}
)
_REGEX_RULE = "regex patterns must be literals without nested quantifiers, or re.escape(...)"
_MAX_LOOP_DEPTH = 2
_MAX_WIDTH = 1000


def _int_const(node: ast.AST) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _int_const(node.operand)
        return -inner if inner is not None else None
    return None


def _bounded(node: ast.AST) -> bool:
    """An integer expression with a static bound: small literals, len(...), and sums of those."""
    value = _int_const(node)
    if value is not None:
        return abs(value) <= BOUND
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id == "len" and len(node.args) == 1:
            return True
        if node.func.id == "min":
            return any(_bounded(a) for a in node.args)
        if node.func.id in ("max", "abs"):
            return bool(node.args) and all(_bounded(a) for a in node.args)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.FloorDiv)):
        return _bounded(node.left) and _bounded(node.right)
    return False


def _short_literal(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and len(node.value) <= _MAX_WIDTH
    )


def _regex_nested_repeat(pattern: str) -> bool:
    """True when an unbounded quantifier covers another quantifier or an alternation: ``(a+)+``, ``(a|aa)+``."""
    try:
        import re._parser as sre  # private, but stable across 3.11+; fall back to refusal

        parsed = sre.parse(pattern)
    except Exception:
        return True

    def walk(items: Any, inside_repeat: bool) -> bool:
        for op, arg in items:
            name = str(op)
            if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
                _low, high, sub = arg
                unbounded = high > 1 and name != "POSSESSIVE_REPEAT"
                if inside_repeat and name != "POSSESSIVE_REPEAT":
                    return True  # any quantifier under an unbounded one: (a+)+, (a?b?)*
                if walk(sub, inside_repeat or unbounded):
                    return True
            elif name == "SUBPATTERN":
                if walk(arg[-1], inside_repeat):
                    return True
            elif name == "BRANCH":
                if inside_repeat:
                    return True  # alternatives under a quantifier backtrack exponentially: (a|aa)+$
                if any(walk(branch, inside_repeat) for branch in arg[1]):
                    return True
            elif name in ("ASSERT", "ASSERT_NOT") and walk(arg[1], inside_repeat):
                return True
        return False

    return walk(parsed, False)


def _targets(node: ast.Assign | ast.NamedExpr) -> list[ast.expr]:
    return node.targets if isinstance(node, ast.Assign) else [node.target]


def _format_spec_ok(spec: str) -> bool:
    digits = "".join(c if c.isdigit() else " " for c in spec).split()
    return all(int(d) <= _MAX_WIDTH for d in digits if len(d) <= 6) and all(
        len(d) <= 6 for d in digits
    )


class _InlineChecker:
    def __init__(self, validated: _Validator) -> None:
        self.tree = validated.tree
        self.modules = validated.modules
        self.imported = validated.imported
        self.parents = validated.parents
        # Every value each name is assigned anywhere; names bound otherwise (arguments, loop
        # targets, augmented assignment) can hold anything and are never trusted as patterns.
        self.assigned: dict[str, list[ast.AST]] = {}
        self.rebound: set[str] = set()
        for node in ast.walk(self.tree):
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
            ):
                self.assigned.setdefault(node.targets[0].id, []).append(node.value)
            elif isinstance(node, ast.NamedExpr):
                self.assigned.setdefault(node.target.id, []).append(node.value)
            elif isinstance(node, ast.arg):
                self.rebound.add(node.arg)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                parent = self.parents.get(id(node))
                if not (
                    isinstance(parent, (ast.Assign, ast.NamedExpr)) and node in _targets(parent)
                ):
                    self.rebound.add(node.id)

    def run(self) -> None:
        self._no_recursion()
        for node in ast.walk(self.tree):
            self._node(node)
        for fn in self.tree.body:
            if isinstance(fn, ast.FunctionDef):
                self._loop_depth(fn, 0)

    def _no_recursion(self) -> None:
        functions = {s.name: s for s in self.tree.body if isinstance(s, ast.FunctionDef)}
        # A module-level list of functions (ASSERTIONS = [...]) reaches every function in it.
        reaches: dict[str, set[str]] = {name: {name} for name in functions}
        for stmt in self.tree.body:
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and isinstance(
                stmt.value, (ast.List, ast.Tuple)
            ):
                members = {
                    e.id for e in stmt.value.elts if isinstance(e, ast.Name) and e.id in functions
                }
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    if isinstance(target, ast.Name) and members:
                        reaches[target.id] = members
        edges: dict[str, set[str]] = {}
        for name, fn in functions.items():
            refs: set[str] = set()
            for node in ast.walk(fn):
                if (
                    node is not fn
                    and isinstance(node, (ast.FunctionDef, ast.Lambda))
                    and self._assigned_or_nested(node)
                ):
                    raise _Refused(node, "nested functions and named lambdas are not inline-safe")
                if (
                    isinstance(node, ast.Name)
                    and node.id in reaches
                    and isinstance(node.ctx, ast.Load)
                ):
                    refs |= reaches[node.id]
            edges[name] = refs
        state: dict[str, int] = {}

        def visit(name: str) -> None:
            state[name] = 1
            for nxt in sorted(edges.get(name, ())):
                if state.get(nxt) == 1:
                    raise _Refused(functions[nxt], f"recursion through {nxt!r} is not inline-safe")
                if nxt not in state:
                    visit(nxt)
            state[name] = 2

        for name in sorted(functions):
            if name not in state:
                visit(name)

    def _assigned_or_nested(self, node: ast.AST) -> bool:
        if isinstance(node, ast.FunctionDef):
            return True
        parent = self.parents.get(id(node))
        return isinstance(parent, (ast.Assign, ast.NamedExpr, ast.AnnAssign, ast.keyword)) and not (
            isinstance(parent, ast.keyword) and parent.arg in ("key", "default")
        )

    def _loop_depth(self, node: ast.AST, depth: int) -> None:
        for child in ast.iter_child_nodes(node):
            extra = 0
            if isinstance(child, ast.For):
                extra = 1
            elif isinstance(child, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                extra = len(child.generators)
            if depth + extra > _MAX_LOOP_DEPTH:
                raise _Refused(
                    child, f"loops nested more than {_MAX_LOOP_DEPTH} deep are not inline-safe"
                )
            self._loop_depth(child, depth + extra)

    def _node(self, node: ast.AST) -> None:
        if isinstance(node, ast.While):
            raise _Refused(node, "'while' loops are not inline-safe")
        if self._self_doubling(node):
            raise _Refused(node, "'x = x + x' grows geometrically in a loop: not inline-safe")
        if isinstance(node, (ast.BinOp, ast.AugAssign)):
            left = node.left if isinstance(node, ast.BinOp) else node.target
            right = node.right if isinstance(node, ast.BinOp) else node.value
            self._binop(node, node.op, left, right)
        elif isinstance(node, ast.Call):
            self._call(node)
        elif isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            spec = node.format_spec
            if not (
                isinstance(spec, ast.JoinedStr)
                and all(isinstance(v, ast.Constant) for v in spec.values)
                and _format_spec_ok(
                    "".join(str(v.value) for v in spec.values if isinstance(v, ast.Constant))
                )
            ):
                raise _Refused(
                    node, "f-string format specs must be literal and narrow to be inline-safe"
                )

    def _self_doubling(self, node: ast.AST) -> bool:
        """``x = x + x`` / ``x += x`` (any number of operands naming x twice) inside a loop."""
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
            extra = 0
        elif isinstance(node, ast.AugAssign):
            target, value = node.target, node.value
            extra = 1  # x += x: the target itself is one operand
        else:
            return False
        if not isinstance(target, ast.Name):
            return False
        uses = sum(
            isinstance(n, ast.Name) and n.id == target.id and isinstance(n.ctx, ast.Load)
            for n in ast.walk(value)
        )
        if uses + extra < 2:
            return False
        parent = self.parents.get(id(node))
        while parent is not None:
            if isinstance(parent, (ast.For, ast.comprehension)):
                return True
            parent = self.parents.get(id(parent))
        return False

    def _binop(self, node: ast.AST, op: ast.operator, left: ast.AST, right: ast.AST) -> None:
        if isinstance(op, (ast.Pow, ast.LShift)):
            base, exp = _int_const(left), _int_const(right)
            if base is None or exp is None or abs(base) > BOUND or not 0 <= exp <= 64:
                raise _Refused(node, "'**' and '<<' need small literal operands to be inline-safe")
        elif isinstance(op, ast.Mult):
            if not (self._small_factor(left, right) or self._small_factor(right, left)):
                raise _Refused(
                    node, "'*' needs a small literal factor to be inline-safe (sequence repetition)"
                )
        elif isinstance(op, ast.Mod):
            if isinstance(left, ast.Constant) and isinstance(left.value, str):
                if not _format_spec_ok(left.value) or "*" in left.value:
                    raise _Refused(node, "'%' format widths must be narrow to be inline-safe")
            elif not (isinstance(right, ast.Constant) and type(right.value) in (int, float)):
                raise _Refused(node, "'%' formatting of a non-literal template is not inline-safe")

    @staticmethod
    def _small_factor(factor: ast.AST, other: ast.AST) -> bool:
        if isinstance(factor, ast.Constant) and type(factor.value) is float:
            return True
        value = _int_const(factor)
        if value is None:
            return False
        if isinstance(other, ast.Constant) and isinstance(other.value, (str, bytes)):
            return len(other.value) * abs(value) <= _MAX_WIDTH
        return abs(value) <= 10

    def _call(self, node: ast.Call) -> None:
        problem = self._call_problem(node)
        if problem:
            raise _Refused(node, f"{problem} to be inline-safe")

    def _call_problem(self, node: ast.Call) -> str | None:
        func = node.func
        args = node.args
        for kw in node.keywords:
            if kw.arg == "indent" and not 0 <= (_int_const(kw.value) or -1) <= 16:
                return "json indent must be a small literal"
        if isinstance(func, ast.Name):
            if func.id == "range" and not (args and all(_bounded(a) for a in args)):
                return "range() needs literal or len()-bounded arguments"
            if func.id == "sum" and (
                len(args) > 1 or any(kw.arg == "start" for kw in node.keywords)
            ):
                # sum(lists, []) copies quadratically inside one C call no timer can stop.
                start = args[1] if len(args) > 1 else node.keywords[0].value
                if not (isinstance(start, ast.Constant) and type(start.value) in (int, float)):
                    return "sum() needs a numeric literal start (no sum(lists, []))"
            if (
                func.id in ("bytes", "bytearray")
                and len(args) == 1
                and not (isinstance(args[0], ast.Constant) and not isinstance(args[0].value, int))
            ):
                # bytes(n) allocates n bytes in one C call: use str.encode()
                return f"{func.id}(x) of a computed value is not allowed (use str.encode())"
            if (
                self.imported.get(func.id) == "re"
                and func.id in _REGEX_FUNCS
                and not self._pattern_ok(args)
            ):
                return _REGEX_RULE
            return None
        if not isinstance(func, ast.Attribute):
            return None
        module = self.modules.get(func.value.id) if isinstance(func.value, ast.Name) else None
        if module == "math" and func.attr in ("factorial", "comb", "perm"):
            if not all(0 <= (_int_const(a) or -1) <= 1000 for a in args):
                return f"math.{func.attr} needs small literal arguments"
        elif module == "re" and func.attr in _REGEX_FUNCS:
            if not self._pattern_ok(args):
                return _REGEX_RULE
        elif module is None and func.attr in _SIZE_METHODS:
            if not all(_bounded(a) and (_int_const(a) or 0) <= _MAX_WIDTH for a in args[:1]):
                return f"'.{func.attr}' needs a small width"
        elif (
            module is None
            and func.attr == "replace"
            and args
            and isinstance(args[0], ast.Constant)
            and args[0].value == ""
        ):
            return "'.replace(\"\", ...)' is not allowed"
        elif (
            module is None
            and func.attr == "replace"
            and len(args) >= 2
            and not _short_literal(args[1])
        ):
            # s.replace("a", s) builds len(s)**2 characters in one C call no timer can stop.
            return "'.replace' needs a literal replacement of at most 1000 characters"
        elif module is None and func.attr == "join" and not _short_literal(func.value):
            # s.join(parts) repeats the separator len(parts) times in one C call.
            return "'.join' needs a literal separator of at most 1000 characters"
        return None

    def _pattern_ok(self, args: list[ast.expr]) -> bool:
        return bool(args) and self._safe_pattern(args[0])

    def _is_re_compile(self, node: ast.AST) -> bool:
        # A compiled pattern's own pattern is checked where re.compile(...) is called.
        func = node.func if isinstance(node, ast.Call) else None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            return self.modules.get(func.value.id) == "re" and func.attr == "compile"
        return (
            isinstance(func, ast.Name)
            and func.id == "compile"
            and self.imported.get(func.id) == "re"
        )

    def _safe_pattern(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return not _regex_nested_repeat(node.value)
        if isinstance(node, ast.Name) and node.id in self.assigned and node.id not in self.rebound:
            return all(
                self._safe_pattern(v) or self._is_re_compile(v) for v in self.assigned[node.id]
            )
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "escape"
        ):
            return True
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self._safe_pattern(node.left) and self._safe_pattern(node.right)
        if isinstance(node, ast.JoinedStr):
            literal = "".join(
                v.value
                for v in node.values
                if isinstance(v, ast.Constant) and isinstance(v.value, str)
            )
            return not _regex_nested_repeat(literal) and all(
                isinstance(v, ast.Constant)
                or (isinstance(v, ast.FormattedValue) and self._safe_pattern(v.value))
                for v in node.values
            )
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "join"
            and isinstance(node.func.value, ast.Constant)
            and len(node.args) == 1
            and isinstance(node.args[0], (ast.GeneratorExp, ast.ListComp))
        ):
            return self._safe_pattern(node.args[0].elt)
        return False


def check_inline_safe(source: str, filename: str) -> None:
    """Raise :class:`UnsafeCodeError` unless ``source`` passes :func:`validate` *and* the inline rules."""
    validator = _validated(source, filename)
    try:
        _InlineChecker(validator).run()
    except _Refused as refused:
        raise _raise(filename, refused, hint="run it in the process sandbox") from None


def iter_function_names(tree: ast.Module) -> Iterator[str]:
    """Public module-level function names, in source order."""
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef) and not stmt.name.startswith("_"):
            yield stmt.name
