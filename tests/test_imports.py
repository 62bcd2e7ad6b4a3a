"""The package's import graph: every module imports first, and module-level imports form no cycle.

Two checks:

- **import first**: each module is imported as the first llmassert module of a fresh process.
  One helper interpreter pre-imports the third-party libraries the package uses (they cannot
  take part in an llmassert cycle, and importing them once keeps this test to seconds) and then
  forks one child per module; the child imports its module and nothing else.
- **acyclic**: the graph of module-level imports (``if TYPE_CHECKING:`` blocks and imports inside
  functions left out: neither runs when the module loads), built with :mod:`ast`, where importing
  ``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__``, has no cycle.  Nor has the graph with
  the imports inside functions added: a lazy import must not hide a cycle (layers point down).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "llmassert"


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports that run when the module loads (not in functions, not under TYPE_CHECKING)."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node):
                yield from _module_level_imports(node.body)
            yield from _module_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _module_level_imports(block)
            for handler in node.handlers:
                yield from _module_level_imports(handler.body)
        elif isinstance(node, ast.ClassDef | ast.With):
            yield from _module_level_imports(node.body)


def _all_imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import under ``node``, inside functions and classes too (not under TYPE_CHECKING)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        elif isinstance(child, ast.If) and _is_type_checking(child):
            for stmt in child.orelse:
                yield from _all_imports(ast.Module(body=[stmt], type_ignores=[]))
        else:
            yield from _all_imports(child)


def _imported(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        package = module.split(".")
        if MODULES[module].name != "__init__.py":
            package = package[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    yield base
    for alias in node.names:  # `from pkg import module`
        if f"{base}.{alias.name}" in MODULES:
            yield f"{base}.{alias.name}"


def import_graph(*, in_functions: bool = False) -> dict[str, set[str]]:
    """module -> the llmassert modules (packages included) its loading runs first.

    With ``in_functions``: also those its functions import when they run.
    """
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        edges: set[str] = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found = _all_imports(tree) if in_functions else _module_level_imports(tree.body)
        for node in found:
            for target in _imported(module, node):
                parts = target.split(".")
                for i in range(1, len(parts) + 1):
                    name = ".".join(parts[:i])
                    # Own parent packages are already loading when a module runs: no edge.
                    if name in MODULES and name != module and not module.startswith(name + "."):
                        edges.add(name)
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (as a path that returns to its start), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_find_cycle_sees_a_cycle() -> None:
    # The checker itself: a cycle through a package __init__ is found, a chain is not.
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_module_level_imports_are_acyclic() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_imports_inside_functions_close_no_cycle() -> None:
    cycle = find_cycle(import_graph(in_functions=True))
    assert cycle is None, "import cycle through a function-level import: " + " -> ".join(
        cycle or []
    )


def test_function_level_imports_are_seen() -> None:
    # The walker itself: an import inside a function body is an edge, one under TYPE_CHECKING
    # is not.
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import llmassert.errors\n"
        "def f():\n    import llmassert.config\n"
    )
    names = [n.names[0].name for n in _all_imports(tree) if isinstance(n, ast.Import)]
    assert names == ["llmassert.config"]


def _third_party() -> list[str]:
    names: set[str] = set()
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in _module_level_imports(tree.body):
            for target in _imported(module, node):
                top = target.split(".")[0]
                if top and top != "llmassert":
                    names.add(top)
    return sorted(names)


_FORK_EACH = r"""
import importlib, json, os, sys, traceback
preload, modules = json.loads(sys.argv[1])
for name in preload:
    try:
        importlib.import_module(name)
    except Exception:
        pass  # an optional dependency (ray, ...): the child reports it if it matters
assert not [m for m in sys.modules if m == "llmassert" or m.startswith("llmassert.")]
failed = {}
for module in modules:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            importlib.import_module(module)
            code, message = 0, b""
        except BaseException:
            code, message = 1, traceback.format_exc().encode()
        os.write(write, message)
        os._exit(code)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        failed[module] = b"".join(chunks).decode(errors="replace")[-2000:]
print(json.dumps(failed))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="uses os.fork")
def test_every_module_imports_first() -> None:
    optional = {"ray"}  # the Ray executor's module imports ray lazily; ray itself is optional
    preload = [name for name in _third_party() if name not in optional]
    done = subprocess.run(
        [sys.executable, "-c", _FORK_EACH, json.dumps([preload, sorted(MODULES)])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    failed = json.loads(done.stdout.strip().splitlines()[-1])
    assert not failed, "\n\n".join(f"{m} does not import first:\n{tb}" for m, tb in failed.items())
