"""Read an assertion module's shape from its source, without running it.

Which functions are assertions: the names listed in a top-level ``ASSERTIONS = [...]``, else every
public top-level function whose first two parameters are ``(example, response)``.  A function
``fix_<name>(example, response) -> str`` offers a fix for assertion ``<name>``.

Metadata comes from each docstring.  Generated modules (``llmassert.synth.writer``) write
``Criterion (prompt version N, Category):`` followed by the indented criterion and a ``Kind:`` line;
plain ``Criterion:`` / ``Category:`` / ``Version:`` / ``Kind:`` lines work too, and otherwise the
docstring's first paragraph is the criterion.  An LLM-judge assertion whose body is ``return llm_judge(QUESTION, example, response)``
with a constant question is recognised, so async checks can ask it concurrently.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from llmassert.errors import AssertionModuleError

JUDGE_FUNCTIONS = frozenset({"llm_judge", "allm_judge", "judge_verdict", "ajudge_verdict"})
_META_RE = re.compile(
    r"^\s*(criterion|category|version|kind|prompt)\s*:[ \t]*(.+?)\s*$", re.IGNORECASE | re.MULTILINE
)
# The writer's form: "Criterion (prompt version 3, Count):" then the text, indented, on the next line.
_WRITER_RE = re.compile(
    r"^\s*Criterion \(prompt version (\d+), (\w+)\):[ \t]*\n[ \t]+(\S.*?)\s*$", re.MULTILINE
)


@dataclass(frozen=True, slots=True)
class Assertion:
    """One assertion of a set: its name and what its source says about it."""

    name: str
    criterion: str
    category: str | None = None
    version: int | None = None
    prompt: str | None = None
    kind: str = "deterministic"  # or "llm_judge"
    # The constant question of a plain `return llm_judge(QUESTION, example, response)` body.
    question: str | None = None
    lineno: int = 0


@dataclass(frozen=True, slots=True)
class ModuleInfo:
    assertions: tuple[Assertion, ...]
    fixes: frozenset[str]  # assertion names that have a fix_<name> function


def parse_module(source: str, filename: str) -> ModuleInfo:
    """The assertions a module defines. Raises AssertionModuleError (with the line) if broken."""
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as e:
        raise AssertionModuleError(
            f"line {e.lineno}: syntax error: {e.msg}", file=filename
        ) from None
    functions: dict[str, ast.FunctionDef] = {}
    constants: dict[str, str] = {}
    listed: list[str] | None = None
    listed_line = 0
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            functions[node.name] = node
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if not isinstance(target, ast.Name):
                continue
            if target.id == "ASSERTIONS":
                listed, listed_line = _listed_names(node.value, filename), node.lineno
            elif isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                constants[target.id] = node.value.value
        elif (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "ASSERTIONS"
            and node.value is not None
        ):
            # `ASSERTIONS: list = []`: what synth writes when nothing was selected.
            listed, listed_line = _listed_names(node.value, filename), node.lineno

    if listed is None:
        names = [
            name
            for name, fn in functions.items()
            if not name.startswith(("_", "fix_"))
            and _param_names(fn)[:2] == ["example", "response"]
        ]
    else:
        names = listed
        for name in names:
            if name not in functions:
                raise AssertionModuleError(
                    f"line {listed_line}: ASSERTIONS lists {name!r}, which is not a function "
                    "defined in the module",
                    file=filename,
                )
    if not names and listed is None:  # an explicit empty ASSERTIONS is an empty set
        raise AssertionModuleError(
            "no assertion functions found (list them in ASSERTIONS, or define functions "
            "taking (example, response))",
            file=filename,
        )
    infos = []
    for name in names:
        fn = functions[name]
        if len(_param_names(fn)) < 2 and fn.args.vararg is None:
            raise AssertionModuleError(
                f"line {fn.lineno}: {name} must take (example, response)", file=filename
            )
        infos.append(_info(fn, constants))
    fixes = frozenset(
        name
        for name in names
        if f"fix_{name}" in functions and len(_param_names(functions[f"fix_{name}"])) >= 2
    )
    return ModuleInfo(tuple(infos), fixes)


def read_source(path: str | Path) -> tuple[str, str]:
    """(source, filename) of a module file; AssertionModuleError when it cannot be read."""
    p = Path(path)
    if not p.is_file():
        raise AssertionModuleError("assertion module not found", file=p)
    try:
        return p.read_text(encoding="utf-8"), str(p)
    except (OSError, UnicodeDecodeError) as e:
        raise AssertionModuleError(f"cannot read: {e}", file=p) from None


def _listed_names(value: ast.expr, filename: str) -> list[str]:
    if not isinstance(value, ast.List | ast.Tuple):
        raise AssertionModuleError(
            f"line {value.lineno}: ASSERTIONS must be a list of functions or names", file=filename
        )
    names = []
    for elt in value.elts:
        if isinstance(elt, ast.Name):
            names.append(elt.id)
        elif isinstance(elt, ast.Constant) and isinstance(elt.value, str):
            names.append(elt.value)
        else:
            raise AssertionModuleError(
                f"line {elt.lineno}: ASSERTIONS entries must be function names", file=filename
            )
    return names


def _param_names(fn: ast.FunctionDef) -> list[str]:
    return [a.arg for a in (*fn.args.posonlyargs, *fn.args.args)]


def _info(fn: ast.FunctionDef, constants: dict[str, str]) -> Assertion:
    doc = ast.get_docstring(fn) or ""
    meta = {k.lower(): v for k, v in _META_RE.findall(doc)}
    written = _WRITER_RE.search(doc)
    if written:
        meta.update(version=written.group(1), category=written.group(2), criterion=written.group(3))
    criterion = meta.get("criterion") or _first_paragraph(doc) or fn.name
    version = meta.get("version", "").lstrip("vV")
    question = _judge_question(fn, constants)
    calls_judge = any(
        isinstance(n, ast.Call)
        and isinstance(n.func, ast.Name | ast.Attribute)
        and (n.func.id if isinstance(n.func, ast.Name) else n.func.attr) in JUDGE_FUNCTIONS
        for n in ast.walk(fn)
    )
    declared = meta.get("kind", "").lower()
    kind = "llm_judge" if calls_judge or "judge" in declared else "deterministic"
    return Assertion(
        name=fn.name,
        criterion=criterion,
        category=meta.get("category"),
        version=int(version) if version.isdigit() else None,
        prompt=meta.get("prompt"),
        kind=kind,
        question=question,
        lineno=fn.lineno,
    )


def _first_paragraph(doc: str) -> str:
    para = doc.strip().split("\n\n", 1)[0]
    return " ".join(para.split())


def _judge_question(fn: ast.FunctionDef, constants: dict[str, str]) -> str | None:
    body = list(fn.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    if len(body) != 1 or not isinstance(body[0], ast.Return):
        return None
    call = body[0].value
    if not (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id in ("llm_judge", "allm_judge")
        and len(call.args) == 3
        and not call.keywords
    ):
        return None
    params = _param_names(fn)[:2]
    if [a.id if isinstance(a, ast.Name) else None for a in call.args[1:]] != params:
        return None
    q = call.args[0]
    if isinstance(q, ast.Constant) and isinstance(q.value, str):
        return q.value
    if isinstance(q, ast.Name):
        return constants.get(q.id)
    return None
