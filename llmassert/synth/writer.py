"""Write ``assertions/<name>.py`` (the reviewed, committed code) and ``assertions/<name>.json``.

The module is plain, readable Python: a header docstring saying where it came from and how well it
did, the imports its functions need (only the sandbox allowlist: re, json, math, string and
llmassert's assertion helpers / judge), one documented function per *selected* assertion and an
``ASSERTIONS`` list.  Everything is rendered and validated in memory first (the AST allowlist,
compilation, loading) and only then written, each file atomically (temp file + ``os.replace``), so
an error never leaves half an output behind.  Bytes are deterministic: reruns are identical.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from llmassert.errors import SynthesisError
from llmassert.fileio import atomic_write_text
from llmassert.synth.manifest import Manifest, SplitMetrics
from llmassert.synth.models import Candidate
from llmassert.text import plural

_METHOD_NAMES = {"sub": "SPADE_sub", "cov": "SPADE_cov", "base": "SPADE_base"}


@dataclass(frozen=True)
class PendingFile:
    """A rendered, validated output waiting to be written."""

    path: Path
    text: str


def module_stem(prompt: str) -> str:
    """A Python identifier for the prompt's module (``product-update`` -> ``product_update``)."""
    stem = re.sub(r"\W+", "_", prompt).strip("_").lower() or "prompt"
    return f"p_{stem}" if stem[0].isdigit() else stem


# -- rendering -----------------------------------------------------------------------------------


def render_module(manifest: Manifest, manifest_path: str | Path | None = None) -> str:
    """The source of ``assertions/<name>.py`` for the manifest's selected assertions.

    ``manifest_path`` is where the manifest is written (named in the header's ``llmassert
    select`` line); default ``assertions/<name>.json``.  The first line stamps the content hash
    (:func:`stamp`)."""
    chosen = [manifest.candidate(name) for name in manifest.selection.selected]
    imports: dict[str, set[str]] = {}  # module -> names ("" = plain `import module`)
    bodies: list[str] = []
    taken: set[str] = {c.name for c in chosen} | {"ASSERTIONS"}
    for cand in chosen:
        parts = _split_candidate(cand, taken)
        for module, names in parts.imports.items():
            imports.setdefault(module, set()).update(names)
        bodies.append(_with_docstring(parts.body, cand, manifest))
    bound = {n.split(" as ")[-1] for names in imports.values() for n in names if n}
    bound |= {m for m, names in imports.items() if "" in names}
    shadowed = sorted(bound & {c.name for c in chosen})
    if shadowed:  # one module namespace: the function would replace the import for everyone
        raise SynthesisError(
            f"assertion {shadowed[0]!r} has the name of an imported helper",
            field=shadowed[0],
            hint="rename the candidate",
        )
    head = _header(manifest, manifest_path)
    import_lines = _import_lines(imports)
    if import_lines:
        head += "\n\n" + "\n".join(import_lines)
    blocks = [head, *(body.strip("\n") for body in bodies)]
    listing = [
        "# The assertion functions of this module, in order (read by llmassert's loader).",
        "ASSERTIONS = [",
    ]
    listing += [f"    {c.name}," for c in chosen]
    listing.append("]")
    if not chosen:
        listing = ["# Nothing was selected; the manifest says why.", "ASSERTIONS: list = []"]
    blocks.append("\n".join(listing))
    return stamp("\n\n\n".join(blocks) + "\n")


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _split_line(label: str, m: SplitMetrics) -> str:
    return (
        f"{label} ({m.n} labeled responses, {m.bad} bad): coverage {_fmt(m.coverage)}, "
        f"false-failure rate {_fmt(m.ffr)}."
    )


def _header(manifest: Manifest, manifest_path: str | Path | None = None) -> str:
    sel = manifest.selection
    origin = f"model {manifest.model}" if manifest.model else "offline rule library"
    method = _METHOD_NAMES.get(sel.method, sel.method)
    lines = [
        f'Assertions for the prompt "{manifest.prompt}" ({plural(manifest.versions, "version")}), '
        "synthesized by llmassert.",
        "",
        f"Selected {sel.count} of {plural(len(manifest.candidates), 'candidate')} ({origin}) "
        f"with {method}",
        f"at alpha = {manifest.alpha:g} (coverage target) and tau = {manifest.tau:g} "
        "(false-failure ceiling).",
    ]
    if sel.ffr_confidence is not None and sel.tau < manifest.tau and not sel.relaxed:
        lines.append(
            f"Solved at tau = {sel.tau:.3g} so that FFR <= {manifest.tau:g} holds at "
            f"{sel.ffr_confidence:.0%} confidence."
        )
    if sel.relaxed:
        lines.append(
            f"The targets could not be met; solved at the nearest feasible alpha = "
            f"{sel.alpha:.3g}, tau = {sel.tau:.3g}."
        )
    if sel.basis == "criteria":
        lines.append("No labeled responses: one assertion per checkable criterion.")
    else:
        lines.append(_split_line("Selection split", manifest.metrics.train))
        if manifest.metrics.test is not None:
            lines.append(_split_line("Held-out split", manifest.metrics.test))
    where = manifest_path or f"assertions/{module_stem(manifest.prompt)}.json"
    lines += [
        "",
        "Generated by llmassert; review and commit. Each function takes (example, response), the",
        "prompt's input variables and the model's output, and returns True when the response",
        "passes. Re-select from the manifest without new LLM calls:",
        "",
        f"    llmassert select {Path(where).as_posix()} --alpha 0.8 --tau 0.1",
        "",
        "Edit freely: once edited (the hash on the first line no longer matches), llmassert",
        "select and synth refuse to overwrite this file unless given --force.",
    ]
    return '"""' + _escape_doc("\n".join(lines)) + '\n"""'


def _escape_doc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def _import_lines(imports: dict[str, set[str]]) -> list[str]:
    plain = sorted(m for m, names in imports.items() if "" in names)
    froms = sorted((m, sorted(n for n in names if n)) for m, names in imports.items())
    lines = [f"import {m}" for m in plain]
    # stdlib before llmassert, like isort would: the allowlist's stdlib modules have no dots.
    for module, names in froms:
        line = f"from {module} import {', '.join(names)}"
        if len(line) > 99:  # wrap long imports like ruff format would
            line = f"from {module} import (\n" + "".join(f"    {n},\n" for n in names) + ")"
        if names:
            lines.append(line)
    return lines


@dataclass
class _Parts:
    imports: dict[str, set[str]]
    body: str  # the candidate's code without its imports


def _split_candidate(cand: Candidate, taken: set[str]) -> _Parts:
    """Separate a candidate's imports from its code; rename module-level helpers that collide."""
    try:
        tree = ast.parse(cand.code)
    except SyntaxError as e:
        raise SynthesisError(f"candidate does not parse: {e.msg}", field=cand.name) from None
    imports: dict[str, set[str]] = {}
    kept: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                imports.setdefault(alias.name, set()).add(
                    "" if alias.asname is None else f"{alias.name} as {alias.asname}"
                )
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                imports.setdefault(node.module, set()).add(
                    alias.name if alias.asname is None else f"{alias.name} as {alias.asname}"
                )
        else:
            kept.append(node)
    if not any(isinstance(n, ast.FunctionDef) and n.name == cand.name for n in kept):
        raise SynthesisError(f"candidate code does not define {cand.name}()", field=cand.name)
    if cand.kind == "llm_judge":
        imports.setdefault("llmassert.assertions.judge", set()).add("llm_judge")
    # Module-level helpers/constants of two candidates may share a name: suffix the later ones.
    helpers = {name for n in kept for name in _defined_names(n)} - {cand.name}
    clashes = {h: f"{h}_{cand.name}" for h in helpers if h in taken}
    taken.update((helpers - clashes.keys()) | set(clashes.values()))
    if clashes:
        renamed = ast.Module(body=kept, type_ignores=[])
        renamed = _Renamer(clashes).visit(renamed)
        return _Parts(imports, ast.unparse(ast.fix_missing_locations(renamed)))
    lines = cand.code.splitlines()
    body = ""
    for k, node in enumerate(kept):
        if k:  # PEP 8: two blank lines around functions, none between constants
            plain = not isinstance(node, ast.FunctionDef) and not isinstance(
                kept[k - 1], ast.FunctionDef
            )
            body += "\n" if plain else "\n\n\n"
        body += "\n".join(lines[_first_line(node) - 1 : node.end_lineno])
    return _Parts(imports, body)


def _first_line(node: ast.stmt) -> int:
    decorators: list[ast.expr] = getattr(node, "decorator_list", None) or []
    return min([node.lineno, *(d.lineno for d in decorators)])


def _defined_names(node: ast.stmt) -> Iterable[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield node.name
    elif isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for t in targets:
            for sub in ast.walk(t):
                if isinstance(sub, ast.Name):
                    yield sub.id


class _Renamer(ast.NodeTransformer):
    def __init__(self, mapping: dict[str, str]) -> None:
        self.mapping = mapping

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self.mapping.get(node.id, node.id)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node.name = self.mapping.get(node.name, node.name)
        self.generic_visit(node)
        return node


def docstring_for(cand: Candidate, manifest: Manifest) -> str:
    """The docstring text of a selected assertion: what it checks and where the rule came from."""
    crit = manifest.criterion(cand.criterion_id)
    first = cand.description.strip() or (crit.text if crit else cand.name)
    first = first[0].upper() + first[1:] if first else first
    lines = [first if first.endswith((".", "?", "!")) else first + "."]
    lines.append("")
    if crit is not None:
        lines.append(f"Criterion (prompt version {crit.version}, {crit.category.value}):")
        lines.append(f"    {' '.join(crit.text.split())}")
    kind = "LLM judge" if cand.kind == "llm_judge" else "deterministic"
    origin = {
        "rules": "rule library",
        "llm": "generated by the model",
        "user": "written by the user",
    }[cand.source]
    lines.append(f"Kind: {kind} ({origin}).")
    if manifest.validated or manifest.unvalidated_severity == "block":
        lines.append("Severity: block (warn: report failures without enforcing them).")
    else:
        lines.append(
            "Severity: warn (no labeled responses measured how often it fails good outputs: "
            "reported, never enforced; block enforces it)."
        )
    if is_prefix_monotone(cand.code, cand.name):
        lines.append(
            "Monotone: yes (a failing prefix fails the whole response: streams stop early)."
        )
    if cand.judge_question:
        lines.append(f"Question asked: {cand.judge_question}")
    return "\n".join(lines)


# Exclusion shapes that are provably monotone on prefixes: once an excluded phrase appears in a
# prefix (streaming checks cut the prefix at its last whitespace, so a whole-word match is
# complete), it appears in every extension.
_MONOTONE_CALLS = frozenset({"contains_any", "contains_any_ci", "contains_phrase"})


def is_prefix_monotone(code: str, name: str) -> bool:
    """True only for ``return not contains_any(response, <constant>[, case=..., whole_word=...])``
    (or ``contains_any_ci`` / ``contains_phrase``) shaped checks.  Regular expressions are not
    recognized: an anchor or a lookahead (``foo$``) can match a prefix and not its extension."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name), None)
    if fn is None or len(fn.args.args) < 2:
        return False
    body = [
        s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
    ]
    if len(body) != 1 or not isinstance(body[0], ast.Return):
        return False
    value = body[0].value
    if not (isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.Not)):
        return False
    call = value.operand
    if not (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id in _MONOTONE_CALLS
        and len(call.args) == 2
    ):
        return False

    def constant(node: ast.expr) -> bool:
        return all(
            isinstance(n, ast.Constant | ast.Tuple | ast.List | ast.Load) for n in ast.walk(node)
        )

    response = fn.args.args[1].arg
    first = call.args[0]
    return (
        isinstance(first, ast.Name)
        and first.id == response
        and constant(call.args[1])
        and all(constant(k.value) for k in call.keywords)
    )


def _with_docstring(body: str, cand: Candidate, manifest: Manifest) -> str:
    """Insert (or replace) the docstring of the candidate's function, keeping its formatting."""
    tree = ast.parse(body)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == cand.name)
    first = fn.body[0]
    if first.lineno == fn.lineno:  # `def f(e, r): return x` on one line: reformat via the AST
        fn.body.insert(0, ast.Expr(ast.Constant(docstring_for(cand, manifest))))
        return ast.unparse(ast.fix_missing_locations(tree))
    lines = body.splitlines()
    indent = " " * first.col_offset
    doc = _escape_doc(docstring_for(cand, manifest)).splitlines()
    block = [f'{indent}"""{doc[0]}'] + [f"{indent}{d}" if d else "" for d in doc[1:]]
    block[-1] += '"""' if len(doc) == 1 else ""
    if len(doc) > 1:
        block.append(f'{indent}"""')
    has_doc = (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )
    start = first.lineno - 1
    end = first.end_lineno if has_doc and first.end_lineno else start
    # Right under the signature, above any comment that opens the body.
    while start > fn.lineno and lines[start - 1].strip().startswith("#"):
        start -= 1
    return "\n".join(lines[:start] + block + lines[start : first.lineno - 1] + lines[end:])


# -- hand-edit protection ----------------------------------------------------------------------

STAMP_PREFIX = "# llmassert-generated sha256:"


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def stamp(body: str) -> str:
    """``body`` with a first line carrying its hash, so an edit is detectable later."""
    return f"{STAMP_PREFIX}{_digest(body)} (edit freely; see below)\n{body}"


def edited_reason(path: Path) -> str | None:
    """Why an existing module must not be overwritten (None: absent, or exactly as we wrote it)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        return f"cannot read it ({e})"
    first, _, body = text.partition("\n")
    if not first.startswith(STAMP_PREFIX):
        return "it has no llmassert hash line (written by hand or by an older llmassert)"
    recorded = first[len(STAMP_PREFIX) :].split()[0] if first[len(STAMP_PREFIX) :] else ""
    if recorded != _digest(body):
        return "it was edited since llmassert wrote it"
    return None


def check_not_edited(paths: Iterable[Path], *, force: bool = False) -> None:
    """Refuse (one line, before anything is written) to overwrite an edited module."""
    if force:
        return
    for path in paths:
        if path.suffix != ".py":
            continue
        reason = edited_reason(path)
        if reason is not None:
            raise SynthesisError(
                f"not overwritten: {reason}",
                file=path,
                hint="keep your edits (write elsewhere with --out DIR), or pass --force",
            )


# -- validation and writing ----------------------------------------------------------------------


def check_module(source: str, *, filename: str, expected: Sequence[str]) -> None:
    """Refuse to write a module the sandbox would refuse, or that does not load as promised."""
    from llmassert.sandbox import load_inline, validate_source

    validate_source(source, filename=filename)
    try:
        namespace = load_inline(source, filename=filename)
    except SynthesisError:
        raise
    except Exception as e:  # the module is ours: anything here is a rendering bug, say where
        raise SynthesisError(
            f"generated module does not load: {type(e).__name__}: {e}", file=filename
        ) from None
    missing = [name for name in expected if name not in namespace]
    if missing:
        raise SynthesisError(f"generated module lacks {', '.join(missing)}", file=filename)


def prepare_outputs(manifest: Manifest, out_dir: str | Path) -> list[PendingFile]:
    """Render and validate both files of one prompt without touching the disk."""
    out = Path(out_dir)
    stem = module_stem(manifest.prompt)
    module_path, manifest_path = out / f"{stem}.py", out / f"{stem}.json"
    source = render_module(manifest, manifest_path)
    check_module(source, filename=str(module_path), expected=manifest.selection.selected)
    text = manifest.dumps()
    Manifest.model_validate_json(text)  # what we write must read back
    return [PendingFile(module_path, source), PendingFile(manifest_path, text)]


def commit_outputs(files: Sequence[PendingFile], *, force: bool = False) -> list[Path]:
    """Write every file atomically; the directory is created only now.  An edited module among
    the targets stops everything before the first write (unless ``force``)."""
    check_not_edited((f.path for f in files), force=force)
    written: list[Path] = []
    for f in files:
        atomic_write_text(f.path, f.text)
        written.append(f.path)
    return written


def write_outputs(manifest: Manifest, out_dir: str | Path, *, force: bool = False) -> list[Path]:
    """Render, validate and atomically write ``<out_dir>/<name>.py`` and ``<out_dir>/<name>.json``
    (an edited ``<name>.py`` is refused unless ``force``)."""
    return commit_outputs(prepare_outputs(manifest, out_dir), force=force)


__all__ = [
    "PendingFile",
    "check_module",
    "check_not_edited",
    "commit_outputs",
    "docstring_for",
    "module_stem",
    "prepare_outputs",
    "render_module",
    "write_outputs",
]
