"""Synthesis on real prompt histories: FFR on compliant responses, coverage of broken ones.

    python bench/synth_real.py /work/.mirror/Pythagora-io+gpt-pilot/repo \\
        /work/.mirror/paul-gauthier+aider/repo /work/.mirror/khoj-ai+khoj/repo \\
        /work/.mirror/abi+screenshot-to-code/repo [--json OUT] [--only ID ...]
    python bench/synth_real.py GIT_DIR... --sample-review 50 --seed 16   # pairs for a hand review

``bench/synth_real/prompts.yaml`` lists public prompt files (repo, path, the commit of the latest
version used, the number of versions).  Their text is never in this repository: for each entry the
script finds the repository among the git directories given (a bare mirror or a checkout), replays
the file's history with ``git log --follow`` up to the listed commit, and writes the distinct
versions, oldest first, into a temporary ``prompts/<id>/v001.txt ...`` folder — the layout
``llmassert synth`` reads.  A prompt kept as a string constant inside a Python file names it with
``extract: NAME`` (or ``Class.NAME``): each version's file is parsed with :mod:`ast` and the value
of that assignment is taken — a string literal, an implicit or ``+`` concatenation of literals, an
f-string (its ``{expr}`` parts kept as ``{expr}`` placeholders), or the first argument of a call
such as ``PromptTemplate.from_template("...")``; versions where the name does not exist yet are
skipped.  Consecutive identical texts count once.

Then ``llmassert synth`` runs on each folder offline (no model, no labels: the common first use),
the written module is loaded with ``AssertionSet.load``, and every selected check runs on the
hand-written responses in ``bench/synth_real/responses/<id>/``: ``compliant_*`` follow the latest
version exactly, ``broken_*`` each break one checkable instruction (``index.yaml`` says which).
``inputs.json`` there gives the example (the prompt's variables) the checks see.

FFR = compliant responses failing at least one selected check / compliant responses;
coverage = broken responses failing at least one selected check / broken responses;
clean coverage = broken responses failing a selected check that passes every compliant response
of the prompt / broken responses (a check that fails everything catches every broken response too).
These count every selected check, as if enforced (the quality of what synthesis reads); without
labels synthesis writes them as severity warn (reported, never enforced), so a last line gives
FFR and coverage over the checks that block by default.
``--prompts`` reads another list (``prompts_holdout2.yaml``, ``prompts_round3.yaml``: the holdout
rounds, whose responses were written before the tool's output on them was seen).
No network is needed; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import ast
import csv
import importlib.util
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent / "synth_real"


class BenchError(Exception):
    """A one-line problem with the benchmark's inputs."""


@dataclass(frozen=True)
class PromptSpec:
    id: str
    repo: str
    path: str
    commit: str
    versions: int
    extract: str | None = None


@dataclass
class PromptResult:
    id: str
    repo: str
    versions: int
    criteria: int = 0
    selected: list[str] = field(default_factory=list)
    compliant: int = 0
    broken: int = 0
    false_failures: int = 0
    caught: int = 0
    # broken responses failed by a check that passes every compliant response of the prompt: what
    # the selection catches without blocking good output (a check that fails everything "catches"
    # every broken response too)
    caught_clean: int = 0
    # the same counts over the checks that block by default (severity block); without labels,
    # synthesis writes every check as warn (reported, never enforced) unless --unvalidated block
    enforced: int = 0
    enforced_false_failures: int = 0
    enforced_caught: int = 0
    # response file -> names of the checks it failed
    failed: dict[str, list[str]] = field(default_factory=dict)
    # broken response file -> the instruction it breaks (index.yaml)
    breaks: dict[str, str] = field(default_factory=dict)
    # check name -> (criterion id, criterion text)
    check_criteria: dict[str, tuple[str, str]] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0

    @property
    def ffr(self) -> float | None:
        return self.false_failures / self.compliant if self.compliant else None

    @property
    def coverage(self) -> float | None:
        return self.caught / self.broken if self.broken else None

    @property
    def clean_coverage(self) -> float | None:
        return self.caught_clean / self.broken if self.broken else None


# -- the prompt list ----------------------------------------------------------------------------


def load_specs(path: Path) -> list[PromptSpec]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("prompts"), list):
        raise BenchError(f"{path}: prompts: expected a list")
    specs = []
    seen: set[str] = set()
    for i, row in enumerate(data["prompts"]):
        if not isinstance(row, dict):
            raise BenchError(f"{path}: prompts[{i}]: expected a mapping")
        unknown = set(row) - {"id", "repo", "path", "commit", "versions", "extract", "note"}
        if unknown:
            raise BenchError(f"{path}: prompts[{i}]: unknown field {sorted(unknown)[0]}")
        try:
            spec = PromptSpec(
                id=str(row["id"]),
                repo=str(row["repo"]),
                path=str(row["path"]),
                commit=str(row["commit"]),
                versions=int(row["versions"]),
                extract=str(row["extract"]) if row.get("extract") else None,
            )
        except KeyError as exc:
            raise BenchError(f"{path}: prompts[{i}]: missing field {exc.args[0]}") from None
        if spec.id in seen:
            raise BenchError(f"{path}: prompts[{i}]: id: duplicate {spec.id!r}")
        seen.add(spec.id)
        specs.append(spec)
    return specs


# -- git ----------------------------------------------------------------------------------------


def _git(git_dir: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "--git-dir", str(git_dir), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="surrogateescape",
        check=False,
    )
    if proc.returncode != 0:
        raise BenchError(f"{git_dir}: git {' '.join(args[:2])}: {proc.stderr.strip()[:200]}")
    return proc.stdout


def resolve_git_dir(path: Path) -> Path:
    """A checkout's ``.git`` or a bare repository itself."""
    if (path / ".git").exists():
        return path / ".git"
    if (path / "HEAD").exists() and (path / "objects").exists():
        return path
    raise BenchError(f"{path}: not a git directory")


def _has_commit(git_dir: Path, commit: str) -> bool:
    proc = subprocess.run(
        ["git", "--git-dir", str(git_dir), "cat-file", "-e", f"{commit}^{{commit}}"],
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0


def find_repo(spec: PromptSpec, git_dirs: list[Path]) -> Path | None:
    """The git directory holding ``spec.repo``: by mirror folder name or remote URL, else by commit."""
    owner_name = spec.repo.lower()
    for gd in git_dirs:
        names = {p.name.lower().replace("+", "/") for p in (gd, gd.parent, gd.parent.parent)}
        proc = subprocess.run(
            ["git", "--git-dir", str(gd), "config", "--get", "remote.origin.url"],
            capture_output=True,
            text=True,
            check=False,
        )
        url = proc.stdout.strip().lower().removesuffix(".git")
        named = owner_name in names or (url and url.endswith("/" + owner_name))
        if named and _has_commit(gd, spec.commit):
            return gd
    for gd in git_dirs:
        if _has_commit(gd, spec.commit):
            return gd
    return None


def file_history(git_dir: Path, path: str, commit: str) -> list[tuple[str, str]]:
    """(sha, path at that commit), oldest first, following renames, up to ``commit``."""
    out = _git(
        git_dir,
        "log",
        "--follow",
        "--format=%x00%H",
        "--name-only",
        "--diff-filter=AMR",
        commit,
        "--",
        path,
    )
    rows: list[tuple[str, str]] = []
    for chunk in out.split("\x00")[1:]:
        lines = [ln for ln in chunk.strip().splitlines() if ln.strip()]
        if len(lines) >= 2:
            rows.append((lines[0], lines[-1]))
    rows.reverse()
    return rows


# -- extraction of prompts kept in Python files -------------------------------------------------


def _string_value(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for v in node.values:
            if isinstance(v, ast.Constant) and isinstance(v.value, str):
                parts.append(v.value)
            elif isinstance(v, ast.FormattedValue):
                parts.append("{" + ast.unparse(v.value) + "}")
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _string_value(node.left), _string_value(node.right)
        if left is not None and right is not None:
            return left + right
        return None
    if isinstance(node, ast.Call):
        func = node.func
        # "...".strip() / .format(...) etc.: the literal itself (strip applied, as at run time)
        if isinstance(func, ast.Attribute) and (inner := _string_value(func.value)) is not None:
            return inner.strip() if func.attr == "strip" else inner
        if node.args:  # PromptTemplate.from_template("...")
            return _string_value(node.args[0])
    return None


def _assigned(body: list[ast.stmt], name: str) -> ast.expr | None:
    found = None
    for stmt in body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(stmt, ast.Assign):
            targets, value = list(stmt.targets), stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, value = [stmt.target], stmt.value
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            found = value  # the last assignment wins, as at import time
    return found


def extract_python(source: str, name: str) -> str | None:
    """The string assigned to ``name`` (module level) or ``Class.name``; None when absent."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    body: list[ast.stmt] = tree.body
    if "." in name:
        cls_name, name = name.split(".", 1)
        classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls_name]
        if not classes:
            return None
        body = classes[-1].body
    node = _assigned(body, name)
    return None if node is None else _string_value(node)


def replay(spec: PromptSpec, git_dir: Path, dest: Path) -> int:
    """Write the distinct versions of ``spec`` into ``dest`` (v001.txt, ...); return their count."""
    dest.mkdir(parents=True, exist_ok=True)
    previous: str | None = None
    n = 0
    for sha, path in file_history(git_dir, spec.path, spec.commit):
        text = _git(git_dir, "show", f"{sha}:{path}")
        if spec.extract:
            got = extract_python(text, spec.extract)
            if got is None:
                continue
            text = got
        if text == previous:
            continue
        previous = text
        n += 1
        (dest / f"v{n:03d}.txt").write_text(text, encoding="utf-8", errors="surrogateescape")
    if n == 0:
        what = f"{spec.path}" + (f" ({spec.extract})" if spec.extract else "")
        raise BenchError(f"{what}: no version found up to {spec.commit[:12]}")
    return n


# -- responses ----------------------------------------------------------------------------------


def load_responses(folder: Path) -> tuple[dict[str, Any], list[tuple[str, bool, str]]]:
    """(example, [(file name, compliant?, text)]) for one prompt's response folder."""
    example: dict[str, Any] = {}
    inputs = folder / "inputs.json"
    if inputs.exists():
        loaded = json.loads(inputs.read_text(encoding="utf-8"))
        if not isinstance(loaded, dict):
            raise BenchError(f"{inputs}: expected a JSON object")
        example = loaded
    rows = []
    for f in sorted(folder.iterdir()):
        if f.suffix not in (".md", ".txt", ".json") or f.name == "inputs.json":
            continue
        if f.name.startswith("compliant_"):
            rows.append((f.name, True, f.read_text(encoding="utf-8")))
        elif f.name.startswith("broken_"):
            rows.append((f.name, False, f.read_text(encoding="utf-8")))
    return example, rows


def load_index(folder: Path) -> dict[str, str]:
    """Broken response file -> the instruction it breaks (from ``index.yaml``), all listed."""
    path = folder / "index.yaml"
    if not path.exists():
        raise BenchError(f"{path}: missing (each broken response must say what it breaks)")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    breaks = {
        str(row.get("file")): str(row.get("breaks", ""))
        for row in data.get("broken", [])
        if isinstance(row, dict)
    }
    for f in folder.glob("broken_*"):
        if not breaks.get(f.name):
            raise BenchError(f"{path}: broken: {f.name} is not listed with what it breaks")
    return breaks


# -- one prompt ---------------------------------------------------------------------------------


def _synth(folder: Path, out: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LLMASSERT_MODEL"}
    # `python -m` puts the working directory first on sys.path: run in the scratch folder so the
    # llmassert imported is the one PYTHONPATH names (the one this process loads), not the cwd's.
    proc = subprocess.run(
        [sys.executable, "-m", "llmassert.cli", "synth", str(folder), "--out", str(out), "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder.parent,
        check=False,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise BenchError(f"llmassert synth exited {proc.returncode}: {last[:300]}")


def _criteria_of(manifest: dict[str, Any]) -> dict[str, tuple[str, str]]:
    texts = {c.get("id"): c.get("text", "") for c in manifest.get("criteria", [])}
    out = {}
    for cand in manifest.get("candidates", []):
        cid = cand.get("criterion_id") or cand.get("criterion") or ""
        out[cand.get("name", "")] = (str(cid), str(texts.get(cid, "")))
    return out


def run_prompt(spec: PromptSpec, git_dir: Path, work: Path, responses: Path) -> PromptResult:
    # Imported here so that `--help` and the replay helpers work without the package on the path.
    from llmassert.assertions.assertion_set import AssertionSet

    start = time.perf_counter()
    result = PromptResult(spec.id, spec.repo, 0)
    # The hand-written side is checked first: a bad response folder costs no synthesis run.
    example, rows = load_responses(responses / spec.id)
    result.breaks = load_index(responses / spec.id)
    folder = work / "prompts" / spec.id
    result.versions = replay(spec, git_dir, folder)
    out = work / "out"
    _synth(folder, out)
    manifest = json.loads((out / f"{spec.id}.json").read_text(encoding="utf-8"))
    result.criteria = len(manifest.get("criteria", []))
    result.check_criteria = _criteria_of(manifest)

    with AssertionSet.load(out / f"{spec.id}.py") as checks:
        result.selected = list(checks.names)
        result.enforced = len(result.selected) - len(checks.warn_names)
        for name, compliant, text in rows:
            res = checks.check(text, example=dict(example))
            failed = sorted({f.name for f in res.failures})
            blocked = not checks.blocking(res).passed
            result.failed[name] = failed
            if compliant:
                result.compliant += 1
                result.false_failures += bool(failed)
                result.enforced_false_failures += blocked
            else:
                result.broken += 1
                result.caught += bool(failed)
                result.enforced_caught += blocked
    blocking_good = set(_false_failing(result))
    result.caught_clean = sum(
        bool(set(names) - blocking_good)
        for name, names in result.failed.items()
        if name.startswith("broken_")
    )
    result.seconds = time.perf_counter() - start
    return result


# -- report -------------------------------------------------------------------------------------


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def print_table(results: list[PromptResult]) -> None:
    head = (
        f"{'prompt':<34} {'repo':<26} {'vers':>4} {'crit':>5} {'sel':>4} {'FFR':>11} "
        f"{'coverage':>11} {'clean cov':>11}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        if r.error:
            print(f"{r.id:<34} {r.repo:<26} ERROR {r.error}")
            continue
        ffr = f"{r.false_failures}/{r.compliant} {_fmt(r.ffr)}"
        cov = f"{r.caught}/{r.broken} {_fmt(r.coverage)}"
        clean = f"{r.caught_clean}/{r.broken} {_fmt(r.clean_coverage)}"
        print(
            f"{r.id:<34} {r.repo:<26} {r.versions:>4} {r.criteria:>5} {len(r.selected):>4} "
            f"{ffr:>11} {cov:>11} {clean:>11}"
        )
    ok = [r for r in results if not r.error]
    comp = sum(r.compliant for r in ok)
    brok = sum(r.broken for r in ok)
    ff = sum(r.false_failures for r in ok)
    ca = sum(r.caught for r in ok)
    cc = sum(r.caught_clean for r in ok)
    print("-" * len(head))
    print(
        f"{'total':<34} {len(ok)} prompts{'':<17} {sum(r.versions for r in ok):>4} "
        f"{sum(r.criteria for r in ok):>5} {sum(len(r.selected) for r in ok):>4} "
        f"{f'{ff}/{comp} {_fmt(ff / comp if comp else None)}':>11} "
        f"{f'{ca}/{brok} {_fmt(ca / brok if brok else None)}':>11} "
        f"{f'{cc}/{brok} {_fmt(cc / brok if brok else None)}':>11}"
    )
    enforced = sum(r.enforced for r in ok)
    eff = sum(r.enforced_false_failures for r in ok)
    eca = sum(r.enforced_caught for r in ok)
    print(
        f"the table counts every selected check; {enforced} of "
        f"{sum(len(r.selected) for r in ok)} block by default (severity block): FFR {eff}/{comp}, "
        f"coverage {eca}/{brok}"
    )
    errors = [r for r in results if r.error]
    if errors:
        print(f"{len(errors)} prompt(s) failed to run (see above)")


def _false_failing(r: PromptResult) -> dict[str, int]:
    """Check name -> how many compliant responses it failed."""
    counts: dict[str, int] = {}
    for f, names in r.failed.items():
        if f.startswith("compliant_"):
            for n in names:
                counts[n] = counts.get(n, 0) + 1
    return dict(sorted(counts.items()))


def to_json(results: list[PromptResult]) -> dict[str, Any]:
    ok = [r for r in results if not r.error]
    comp = sum(r.compliant for r in ok)
    brok = sum(r.broken for r in ok)
    return {
        "prompts": [
            {
                "id": r.id,
                "repo": r.repo,
                "versions": r.versions,
                "criteria": r.criteria,
                "selected": r.selected,
                "compliant": r.compliant,
                "false_failures": r.false_failures,
                "ffr": r.ffr,
                "broken": r.broken,
                "caught": r.caught,
                "coverage": r.coverage,
                "caught_clean": r.caught_clean,
                "clean_coverage": r.clean_coverage,
                "enforced": r.enforced,
                "enforced_false_failures": r.enforced_false_failures,
                "enforced_caught": r.enforced_caught,
                "failed": r.failed,
                "missed": {
                    f: r.breaks.get(f, "")
                    for f, names in r.failed.items()
                    if f.startswith("broken_") and not names
                },
                "false_failing_checks": _false_failing(r),
                "error": r.error,
                "seconds": round(r.seconds, 2),
            }
            for r in results
        ],
        "total": {
            "prompts": len(ok),
            "errors": len(results) - len(ok),
            "versions": sum(r.versions for r in ok),
            "criteria": sum(r.criteria for r in ok),
            "selected": sum(len(r.selected) for r in ok),
            "compliant": comp,
            "false_failures": sum(r.false_failures for r in ok),
            "ffr": sum(r.false_failures for r in ok) / comp if comp else None,
            "broken": brok,
            "caught": sum(r.caught for r in ok),
            "coverage": sum(r.caught for r in ok) / brok if brok else None,
            "caught_clean": sum(r.caught_clean for r in ok),
            "clean_coverage": sum(r.caught_clean for r in ok) / brok if brok else None,
            "enforced": sum(r.enforced for r in ok),
            "enforced_false_failures": sum(r.enforced_false_failures for r in ok),
            "enforced_caught": sum(r.enforced_caught for r in ok),
        },
    }


def sample_pairs(results: list[PromptResult], n: int, seed: int) -> list[dict[str, str]]:
    """A reproducible random sample of (prompt, criterion, selected check) pairs to review."""
    pairs = []
    for r in results:
        for name in r.selected:
            cid, text = r.check_criteria.get(name, ("", ""))
            pairs.append({"prompt": r.id, "criterion_id": cid, "criterion": text, "check": name})
    pairs.sort(key=lambda p: (p["prompt"], p["check"]))
    rng = random.Random(seed)
    return rng.sample(pairs, min(n, len(pairs)))


def _load_oracle() -> ModuleType:
    spec = importlib.util.spec_from_file_location("synth_real_oracle", HERE / "oracle.py")
    if spec is None or spec.loader is None:
        raise BenchError(f"{HERE / 'oracle.py'}: cannot load")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_oracle(prompts: Path, responses: Path) -> int:
    """Check the hand-written responses against ``oracle.py``; 0 when they all agree."""
    try:
        oracle = _load_oracle()
        loaded = {s.id: load_responses(responses / s.id) for s in load_specs(prompts)}
    except (BenchError, OSError, ValueError, yaml.YAMLError) as exc:
        print(f"synth_real: {exc}", file=sys.stderr)
        return 2
    problems: list[str] = oracle.validate(loaded)
    n_comp = sum(c for _, rows in loaded.values() for _, c, _ in rows)
    n_brok = sum(not c for _, rows in loaded.values() for _, c, _ in rows)
    print(f"oracle: {len(loaded)} prompts, {n_comp} compliant, {n_brok} broken responses")
    for p in problems:
        print(f"  {p}")
    print("oracle: all agree" if not problems else f"oracle: {len(problems)} disagreement(s)")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("git_dirs", nargs="*", type=Path, help="git directories (mirrors or checkouts)")
    ap.add_argument(
        "--oracle",
        action="store_true",
        help="only check the hand-written responses against the reference checks (no git, no synth)",
    )
    ap.add_argument("--prompts", type=Path, default=HERE / "prompts.yaml")
    ap.add_argument("--responses", type=Path, default=HERE / "responses")
    ap.add_argument("--only", nargs="*", default=None, help="prompt ids to run")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    ap.add_argument("--sample-review", type=int, default=0, help="print N pairs to review (CSV)")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--keep", type=Path, default=None, help="keep the replayed prompts and outputs")
    args = ap.parse_args(argv)
    if args.oracle:
        return run_oracle(args.prompts, args.responses)
    if not args.git_dirs:
        print("synth_real: give at least one git directory (or --oracle)", file=sys.stderr)
        return 2
    try:
        specs = load_specs(args.prompts)
        git_dirs = [resolve_git_dir(p) for p in args.git_dirs]
    except (BenchError, OSError, yaml.YAMLError) as exc:
        print(f"synth_real: {exc}", file=sys.stderr)
        return 2
    if args.only:
        specs = [s for s in specs if s.id in set(args.only)]
    import llmassert

    print(f"llmassert from {Path(llmassert.__file__).parent}", file=sys.stderr)
    results: list[PromptResult] = []
    with tempfile.TemporaryDirectory(prefix="synth_real_") as tmp:
        for i, spec in enumerate(specs, 1):
            print(f"[{i}/{len(specs)}] {spec.id} ({spec.repo}:{spec.path})", file=sys.stderr)
            git_dir = find_repo(spec, git_dirs)
            if git_dir is None:
                r = PromptResult(spec.id, spec.repo, 0, error=f"no git dir holds {spec.repo}")
                results.append(r)
                continue
            work = (args.keep / spec.id) if args.keep else Path(tmp) / spec.id
            try:
                r = run_prompt(spec, git_dir, work, args.responses)
            except Exception as exc:  # one prompt's failure is reported, the run goes on
                r = PromptResult(spec.id, spec.repo, 0, error=f"{type(exc).__name__}: {exc}")
            if r.versions and r.versions != spec.versions and not r.error:
                print(
                    f"  note: {r.versions} versions replayed, prompts.yaml says {spec.versions}",
                    file=sys.stderr,
                )
            print(
                f"  {r.versions} versions, {r.criteria} criteria, {len(r.selected)} checks, "
                f"FFR {_fmt(r.ffr)}, coverage {_fmt(r.coverage)} ({r.seconds:.1f}s)"
                + (f" ERROR {r.error}" if r.error else ""),
                file=sys.stderr,
            )
            if not r.error:
                ff = _false_failing(r)
                if ff:
                    shown = ", ".join(f"{k} ({v})" for k, v in ff.items())
                    print(f"  failing compliant responses: {shown}", file=sys.stderr)
                for f, names in r.failed.items():
                    if f.startswith("broken_") and not names:
                        print(f"  missed {f}: {r.breaks.get(f, '')}", file=sys.stderr)
            results.append(r)
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(to_json(results), indent=2, sort_keys=True) + "\n")
    if args.sample_review:
        print(f"\nreview sample: {args.sample_review} pairs, seed {args.seed}")
        w = csv.DictWriter(sys.stdout, fieldnames=["prompt", "criterion_id", "criterion", "check"])
        w.writeheader()
        for p in sample_pairs(results, args.sample_review, args.seed):
            w.writerow(p)
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
