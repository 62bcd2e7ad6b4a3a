"""DocETL compatibility suite: DocETL's own documented pipelines, run unchanged by `llmassert run`.

    python bench/docetl_compat.py DOCETL_GIT_DIR [--out /tmp/docetl_compat] [--only SUBSTR]
        [--json results.json] [--docetl-venv /tmp/venv-peer] [--jobs 2] [-v]

``DOCETL_GIT_DIR`` is a (bare) git directory of github.com/ucbepic/docetl, e.g. the one the
``fetch`` tool gives.  Nothing from it is stored in this repository: at run time the script reads
``HEAD``'s Markdown docs (fenced ``yaml`` blocks, including ones indented under tabs), README,
website demo configs and test configs, and sorts each parseable block into

* **pipeline** — a complete pipeline (``datasets`` + ``operations`` + ``pipeline``), run as is;
* **operator example** — an operation (or a list of them) on its own, wrapped into a one-step
  pipeline over a generated dataset (an equijoin gets two inputs);
* anything else (a dataset or a config fragment) is counted and skipped.

Each run gets a small generated dataset written where the pipeline's ``datasets.*.path`` points
(relative to the YAML's folder; absolute paths are re-rooted into the run folder and reported as a
change).  Field names come from the templates (``input.x``, ``input['x']``, ``item.x`` inside
``inputs`` loops), the code (``doc['x']``) and the key parameters (``reduce_key``, ``split_key``,
``doc_id_key``, ``unnest_key``, ``embedding_keys``, ...), so every referenced field exists.

Every pipeline then runs with ``llmassert run --api-base <loopback fake server> --model
openai/fake-model`` (``--model`` replaces the YAML's ``default_model``; models named on operations
are sent to the same server).  First ``--dry-run`` (loads and checks, no call): an error there is
*refused at load*, with its one line (the key or operator).  Then the real run: *ran* (with the
output row count) or *failed at run*.  The tally is printed per item and in total.

``--docetl-venv VENV`` (a venv with docetl 0.3.0: ``VENV=/tmp/venv-peer bash
../shared/bench/docetl/run.sh`` builds one) runs the complete pipelines (``--docetl-kinds
pipeline,operator``: every item) with DocETL too: the same generated
data in a folder of its own, ``docetl run`` with the fake model as ``default_model`` and every
model sent to the same loopback server (``default_lm_api_base``), stdin closed.  Where both ran,
the output row counts are compared: *match*; *llm-dependent* when the item's count depends on
what the model answers (a filter, an equijoin, ``validate``, unnesting or grouping by a field the
model wrote: the two tools send different prompts, so the fake model's answers differ), with
those reasons; *MISMATCH* otherwise.  Items DocETL itself fails are listed with its error line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from llmassert.testing.documents import make_pdf  # noqa: E402
from llmassert.testing.fake_server import ServerProcess  # noqa: E402

SOURCE_GLOBS = (
    re.compile(r"^docs/.*\.md$"),
    re.compile(r"^README\.md$"),
    re.compile(r"^docs/.*\.ya?ml$"),
    re.compile(r"^website/public/demos/.*\.ya?ml$"),
    re.compile(r"^tests/.*\.ya?ml$"),
    re.compile(r"^example.*\.ya?ml$"),
)
FENCE = re.compile(r"^(?P<indent>[ \t]*)```ya?ml[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.M | re.S)
TEMPLATE_FIELD = re.compile(
    r"\b(?:input|item|doc|document|row|left|right|input1|input2|x)\s*"
    r"(?:\.(?P<a>[A-Za-z_]\w*)|\[\s*['\"](?P<b>[^'\"]+)['\"]\s*\])"
)
LOOP_VAR = re.compile(r"{%-?\s*for\s+(\w+)\s+in\s+(?:inputs|input\.\w+|\w+)\b")
KEY_PARAMS = (
    "reduce_key",
    "split_key",
    "doc_id_key",
    "order_key",
    "content_key",
    "stratify_key",
    "embedding_keys",
    "blocking_keys",
    "id_key",
    "document_keys",
    "input_keys",
    "keys",
    "pdf_url_key",
    "link_key",
)
NUMBER_HINTS = ("score", "value", "count", "amount", "price", "rating", "age", "year", "num")
ROWS = 6
SKIP_KEYS = {"_all"}


@dataclass
class Item:
    source: str
    index: int
    kind: str  # pipeline | operator
    config: Any
    status: str = ""
    reason: str = ""
    rows_out: int | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    # --docetl-venv: the same item run by DocETL 0.3.0 itself.
    docetl_status: str = ""
    docetl_rows: int | None = None
    docetl_reason: str = ""
    parity: str = ""  # match | llm-dependent | MISMATCH | "" (not compared)
    parity_reason: str = ""

    @property
    def label(self) -> str:
        return f"{self.source}#{self.index}"


# -- extraction ----------------------------------------------------------------------------------


def git(git_dir: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(git_dir), *args], check=True, capture_output=True, text=True
    ).stdout


def extract(git_dir: Path) -> tuple[list[Item], int]:
    files = [
        f
        for f in git(git_dir, "ls-tree", "-r", "--name-only", "HEAD").splitlines()
        if any(g.match(f) for g in SOURCE_GLOBS) and "node_modules" not in f
    ]
    items: list[Item] = []
    fragments = 0
    for f in sorted(files):
        text = git(git_dir, "show", f"HEAD:{f}")
        blocks = (
            [textwrap.dedent(m.group("body")) for m in FENCE.finditer(text)]
            if f.endswith(".md")
            else [text]
        )
        for i, block in enumerate(blocks):
            try:
                doc = yaml.safe_load(block)
            except yaml.YAMLError:
                fragments += 1
                continue
            kind = classify(doc)
            if kind is None:
                fragments += 1
                continue
            items.append(Item(source=f, index=i, kind=kind, config=doc))
    return items, fragments


def is_op(d: Any) -> bool:
    return isinstance(d, dict) and isinstance(d.get("type"), str) and isinstance(d.get("name"), str)


def classify(doc: Any) -> str | None:
    if isinstance(doc, dict) and {"datasets", "operations", "pipeline"} <= set(doc):
        return "pipeline"
    if is_op(doc):
        return "operator"
    if isinstance(doc, list) and doc and all(is_op(d) for d in doc):
        return "operator"
    if isinstance(doc, dict) and isinstance(doc.get("operations"), list) and "pipeline" not in doc:
        ops = doc["operations"]
        return "operator" if ops and all(is_op(d) for d in ops) else None
    return None


# -- wrapping operator examples ------------------------------------------------------------------


def wrap_operator(doc: Any) -> dict[str, Any]:
    ops = doc if isinstance(doc, list) else doc.get("operations", [doc])
    steps_ops: list[Any] = []
    datasets = {"docs": {"type": "file", "path": "docs.json"}}
    for op in ops:
        if op.get("type") == "equijoin":
            datasets["docs_right"] = {"type": "file", "path": "docs_right.json"}
            steps_ops.append({op["name"]: {"left": "docs", "right": "docs_right"}})
        else:
            steps_ops.append(op["name"])
    step: dict[str, Any] = {"name": "example_step", "operations": steps_ops}
    if isinstance(steps_ops[0], str):
        step["input"] = "docs"
    wrapped: dict[str, Any] = {
        "default_model": "gpt-4o-mini",
        "datasets": datasets,
        "operations": ops,
        "pipeline": {"steps": [step], "output": {"type": "file", "path": "output.json"}},
    }
    if isinstance(doc, dict) and "operations" in doc:
        # A fragment with its own top level (retrievers, datasets, models): keep it.
        for key, value in doc.items():
            if key == "datasets" and isinstance(value, dict):
                wrapped["datasets"] = {**value, **datasets}
            elif key not in ("operations", "pipeline"):
                wrapped[key] = value
    return wrapped


# -- dataset generation --------------------------------------------------------------------------


def _strings(obj: Any) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in _strings(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in _strings(v)]
    return []


def _param_keys(obj: Any, out: set[str], list_keys: set[str]) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in KEY_PARAMS:
                for name in [v] if isinstance(v, str) else v if isinstance(v, list) else []:
                    if isinstance(name, str):
                        out.add(name)
            if k in ("unnest_key", "link_key") and isinstance(v, str):
                list_keys.add(v)
            _param_keys(v, out, list_keys)
    elif isinstance(obj, list):
        for v in obj:
            _param_keys(v, out, list_keys)


def infer_fields(config: dict[str, Any]) -> tuple[set[str], set[str]]:
    fields: set[str] = set()
    list_keys: set[str] = set()
    for s in _strings(config.get("operations", [])) + _strings(config.get("retrievers", {})):
        for m in TEMPLATE_FIELD.finditer(s):
            name = m.group("a") or m.group("b")
            if name and name not in ("items", "keys", "values", "get", "strip", "lower"):
                fields.add(name)
        for m in LOOP_VAR.finditer(s):
            var = m.group(1)
            for fm in re.finditer(rf"\b{re.escape(var)}\.(\w+)", s):
                fields.add(fm.group(1))
    _param_keys(config.get("operations", []), fields, list_keys)
    _param_keys(config.get("retrievers", {}), fields, list_keys)
    return (fields | list_keys) - SKIP_KEYS, list_keys


WORDS = [
    "the",
    "contract",
    "requires",
    "annual",
    "review",
    "of",
    "safety",
    "data",
    "while",
    "the",
    "committee",
    "debates",
    "funding",
    "for",
    "rural",
    "clinics",
    "and",
    "new",
    "privacy",
    "rules",
    "for",
    "customer",
    "records",
]


def value_for(name: str, i: int, list_keys: set[str], group_keys: set[str]) -> Any:
    low = name.lower()
    if name in list_keys:
        return [f"{name} item {i}-{j}" for j in range(2)]
    if name in group_keys:
        return f"{name}_{i % 2}"
    if low.endswith(("_id", "id")) and low != "id":
        return f"{name}-{i}"
    if any(h in low for h in NUMBER_HINTS):
        return i + 1
    text = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(40))
    return f"{name} {i}: {text}. " * 3


def pdf_keys(config: dict[str, Any]) -> set[str]:
    return {
        op["pdf_url_key"].split(".")[0]
        for op in config.get("operations", []) or []
        if isinstance(op, dict) and isinstance(op.get("pdf_url_key"), str)
    }


def make_rows(config: dict[str, Any]) -> list[dict[str, Any]]:
    fields, list_keys = infer_fields(config)
    group_keys: set[str] = set()
    for op in config.get("operations", []) or []:
        if isinstance(op, dict):
            for k in ("reduce_key", "stratify_key"):
                v = op.get(k)
                group_keys.update([v] if isinstance(v, str) else v or [])
    fields = fields or {"text"}
    rows = []
    for i in range(ROWS):
        row = {f: value_for(f, i, list_keys, group_keys) for f in sorted(fields)}
        for key in pdf_keys(config):
            row[key] = f"pdfs/doc{i}.pdf"  # written by materialize (a real PDF)
        row.setdefault("id", i)
        rows.append(row)
    return rows


def materialize(item: Item, work: Path) -> Path:
    config = item.config if item.kind == "pipeline" else wrap_operator(item.config)
    config = json.loads(json.dumps(config, default=str))
    rows = make_rows(config)
    for name, ds in (config.get("datasets") or {}).items():
        if not isinstance(ds, dict) or not isinstance(ds.get("path"), str):
            continue
        p = Path(ds["path"])
        if p.is_absolute():
            # A path on DocETL's author's machine: re-rooted into the run folder.
            ds["path"] = str(Path("abs") / p.relative_to(p.anchor))
            item.notes.append(f"datasets.{name}.path re-rooted")
            p = Path(ds["path"])
        target = work / p
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.suffix == ".csv":
            import csv

            with target.open("w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=list(rows[0]))
                w.writeheader()
                for r in rows:
                    w.writerow(
                        {k: json.dumps(v) if isinstance(v, list) else v for k, v in r.items()}
                    )
        elif target.suffix == ".jsonl":
            target.write_text("".join(json.dumps(r) + "\n" for r in rows))
        elif target.suffix in (".json", ""):
            if target.suffix == "":
                target.mkdir(parents=True, exist_ok=True)
                for i, r in enumerate(rows):
                    (target / f"doc{i}.txt").write_text(str(next(iter(r.values()))))
            else:
                target.write_text(json.dumps(rows))
        else:
            target.write_text(json.dumps(rows))
    if pdf_keys(config):
        (work / "pdfs").mkdir(exist_ok=True)
        for i in range(ROWS):
            text = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(60))
            (work / "pdfs" / f"doc{i}.pdf").write_bytes(make_pdf([f"Report {i}", text[:80]]))
    out = (config.get("pipeline") or {}).get("output") or {}
    for key in ("path", "intermediate_dir"):
        v = out.get(key)
        if isinstance(v, str) and Path(v).is_absolute():
            out[key] = str(Path("abs") / Path(v).relative_to(Path(v).anchor))
            item.notes.append(f"pipeline.output.{key} re-rooted")
    path = work / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


# -- running -------------------------------------------------------------------------------------


def first_error_line(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in lines:
        if ln.lower().startswith(("error", "llmassert: error")) or (
            ": " in ln and "Traceback" not in ln
        ):
            if "warning" in ln.lower() and "error" not in ln.lower():
                continue
            return ln[:300]
    return (lines[-1] if lines else "no message")[:300]


def count_rows(path: Path) -> int | None:
    if not path.exists():
        return None
    text = path.read_text()
    if path.suffix == ".jsonl":
        return sum(1 for ln in text.splitlines() if ln.strip())
    if path.suffix == ".csv":
        return max(0, len(text.splitlines()) - 1)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    return len(data) if isinstance(data, list) else None


def run_item(item: Item, root: Path, api_base: str, timeout: float) -> None:
    work = root / re.sub(r"[^A-Za-z0-9_.-]", "_", item.label)
    work.mkdir(parents=True, exist_ok=True)
    path = materialize(item, work)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OPENAI_API_KEY": "sk-fake",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LLMASSERT_CACHE_DIR": str(work / ".cache"),
    }
    base = [sys.executable, "-m", "llmassert.cli", "run", str(path), "-q"]
    llm = ["--api-base", api_base, "--model", "openai/fake-model", "--no-cache", "--no-resume"]
    started = time.perf_counter()
    try:
        dry = subprocess.run(
            [*base, "--dry-run", *llm],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if dry.returncode != 0:
            item.status, item.reason = "refused", first_error_line(dry.stderr)
            return
        real = subprocess.run(
            [*base, *llm], cwd=work, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        item.status, item.reason = "failed", f"timeout after {timeout:.0f}s"
        return
    finally:
        item.seconds = time.perf_counter() - started
    if real.returncode != 0:
        item.status, item.reason = "failed", first_error_line(real.stderr)
        return
    config = yaml.safe_load(path.read_text())
    item.status = "ran"
    item.rows_out = count_rows(work / config["pipeline"]["output"]["path"])


# -- DocETL itself (--docetl-venv) -------------------------------------------------------------


def llm_fields(config: dict[str, Any]) -> set[str]:
    """Keys whose values come from a model's answer (output schemas, parallel_map outputs)."""
    out: set[str] = set()
    for op in config.get("operations", []) or []:
        if not isinstance(op, dict):
            continue
        schema = (
            (op.get("output") or {}).get("schema") if isinstance(op.get("output"), dict) else None
        )
        if isinstance(schema, dict):
            out.update(schema)
        for prompt in op.get("prompts") or []:
            if isinstance(prompt, dict):
                out.update(prompt.get("output_keys") or [])
    return out


def llm_dependent(config: dict[str, Any]) -> list[str]:
    """Why an item's output row count may legitimately depend on what the model answers.

    Both tools talk to the same fake server, but they send different prompts (system text,
    schema wording), so the answers differ: a filter keeps other rows, lists have other lengths.
    An item without any of these has a row count fixed by its data and operators alone.
    """
    fields = llm_fields(config)
    why: list[str] = []
    for op in config.get("operations", []) or []:
        if not isinstance(op, dict):
            continue
        name, kind = op.get("name"), op.get("type")
        if kind == "filter":
            why.append(f"{name}: a filter keeps the rows the model answers true")
        elif kind == "equijoin":
            why.append(f"{name}: the model decides which pairs join")
        elif kind == "unnest" and op.get("unnest_key") in fields:
            why.append(f"{name}: unnests a list the model wrote")
        elif kind == "reduce":
            keys = op.get("reduce_key")
            keys = [keys] if isinstance(keys, str) else keys or []
            if any(k in fields for k in keys):
                why.append(f"{name}: groups by a key the model wrote")
        elif kind == "split" and op.get("split_key") in fields:
            why.append(f"{name}: splits text the model wrote")
        elif kind in ("code_filter", "code_map", "code_reduce") and fields & set(
            re.findall(r"['\"](\w+)['\"]", str(op.get("code", "")))
        ):
            why.append(f"{name}: user code over fields the model wrote")
        if op.get("validate"):
            why.append(
                f"{name}: rows failing validate leave the output (DocETL drops, llmassert "
                "quarantines)"
            )
    return why


def docetl_env(venv: Path, work: Path, api_base: str) -> dict[str, str]:
    site = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {
        **env,
        "OPENAI_API_KEY": "sk-fake",
        "OPENAI_API_BASE": api_base,
        "DOCETL_HOME_DIR": str(work / ".docetl-home"),  # a fresh cache per run
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        # DocETL calls tiktoken before litellm points it at its bundled files: point it there.
        "TIKTOKEN_CACHE_DIR": str(Path(site) / "litellm" / "litellm_core_utils" / "tokenizers"),
        "COLUMNS": "120",
        "NO_COLOR": "1",
    }


def docetl_error(text: str) -> str:
    """The line that says why DocETL stopped (the exception at the end of its traceback)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if re.match(r"^[\w.]*(Error|Exception|Abort|Interrupt)\b", ln) or ln.startswith(
            ("Error", "error:")
        ):
            return ln[:300]
    return (lines[-1] if lines else "no message")[:300]


def run_docetl(item: Item, root: Path, api_base: str, venv: Path, timeout: float) -> None:
    """The item, materialized again (the same data) into its own folder, run by ``docetl run``
    with what ``--model``/``--api-base`` mean for llmassert: the default model is the fake
    one, every model is sent to the loopback server."""
    work = root / (re.sub(r"[^A-Za-z0-9_.-]", "_", item.label) + "__docetl")
    work.mkdir(parents=True, exist_ok=True)
    notes = list(item.notes)
    path = materialize(item, work)
    item.notes = notes
    config = yaml.safe_load(path.read_text())
    config["default_model"] = "openai/fake-model"
    if "model" in config:
        config["model"] = "openai/fake-model"
    config["default_lm_api_base"] = api_base
    config["default_embedding_api_base"] = api_base
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    out = (config.get("pipeline") or {}).get("output") or {}
    out_path = work / out["path"] if isinstance(out.get("path"), str) else None
    with (
        open(work / "docetl.stdout", "w") as so,
        open(work / "docetl.stderr", "w") as se,
        subprocess.Popen(
            [str(venv / "bin" / "docetl"), "run", str(path)],
            cwd=work,  # DocETL resolves paths against the working directory
            env=docetl_env(venv, work, api_base),
            stdin=subprocess.DEVNULL,  # a confirmation prompt gets no answer
            stdout=so,
            stderr=se,
            text=True,
        ) as proc,
    ):
        # DocETL 0.3.0 sometimes writes its output, prints "Saved to ..." and its summary, and
        # then does not exit: such a run is counted (with a note) once the summary is there.
        deadline, hung = time.monotonic() + timeout, False
        while proc.poll() is None:
            if "Execution Summary" in (work / "docetl.stdout").read_text(errors="replace"):
                time.sleep(5)
                if proc.poll() is None:
                    proc.kill()
                    hung = True
                break
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                item.docetl_status, item.docetl_reason = "failed", f"timeout after {timeout:.0f}s"
                return
            time.sleep(0.5)
        proc.wait()
    stdout = (work / "docetl.stdout").read_text(errors="replace")
    stderr = (work / "docetl.stderr").read_text(errors="replace")
    (work / "docetl.log").write_text(stdout + "\n--- stderr ---\n" + stderr)
    rows = count_rows(out_path) if out_path is not None else None
    if hung and rows is not None:
        item.docetl_status, item.docetl_rows = "ran", rows
        item.docetl_reason = "did not exit after writing its output and summary (killed)"
        return
    if proc.returncode != 0 or rows is None:
        item.docetl_status = "failed"
        item.docetl_reason = docetl_error(stderr + "\n" + stdout)
        return
    item.docetl_status, item.docetl_rows = "ran", rows


def compare(item: Item) -> None:
    if item.status != "ran" or item.docetl_status != "ran":
        return
    if item.rows_out == item.docetl_rows:
        item.parity = "match"
        return
    config = item.config if item.kind == "pipeline" else wrap_operator(item.config)
    why = llm_dependent(config)
    item.parity = "llm-dependent" if why else "MISMATCH"
    item.parity_reason = "; ".join(why)


def run_both(item: Item, root: Path, api_base: str, args: argparse.Namespace) -> Item:
    run_item(item, root, api_base, args.timeout)
    if args.docetl_venv is not None and item.kind in args.docetl_kinds.split(","):
        run_docetl(item, root, api_base, args.docetl_venv, args.timeout)
        compare(item)
    return item


def describe(item: Item, verbose: bool) -> str:
    line = f"{item.status:8} {item.kind:8} {item.label}"
    if item.rows_out is not None:
        line += f" rows={item.rows_out}"
    if item.reason:
        line += f"  {item.reason}"
    if item.docetl_status:
        line += f"\n         docetl: {item.docetl_status}"
        if item.docetl_rows is not None:
            line += f" rows={item.docetl_rows}"
        if item.docetl_reason:
            line += f"  {item.docetl_reason}"
        if item.parity:
            line += f"  [{item.parity}{': ' + item.parity_reason if item.parity_reason else ''}]"
    if item.notes and verbose:
        line += f"  ({'; '.join(item.notes)})"
    return line


def check_expected(items: list[Item], expected: dict[str, dict[str, Any]]) -> None:
    """Each listed item against its expected outcome (``--expected``); prints what misses."""
    found = {i.label: i for i in items}
    held, missed = 0, []
    for label, want in expected.items():
        item = found.get(label)
        if want.get("expect") == "any":
            continue
        why = ""
        if item is None:
            why = "not found in DOCETL_GIT_DIR"
        elif item.status != want["expect"]:
            why = f"{item.status} ({item.reason or item.rows_out}), expected {want['expect']}"
        elif want.get("error") and want["error"] not in item.reason:
            why = f"error line lacks {want['error']!r}: {item.reason}"
        elif want.get("rows") is not None and item.rows_out != want["rows"]:
            why = f"rows {item.rows_out}, expected {want['rows']}"
        if why:
            missed.append(f"  {label}: {why}")
        else:
            held += 1
    print(f"expected outcomes: {held} hold, {len(missed)} do not")
    print("\n".join(missed))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("git_dir", type=Path)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument(
        "--only", default=None, help="run items whose label contains this (or one of a,b,...)"
    )
    ap.add_argument("--kind", choices=("pipeline", "operator"), help="run only these items")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--timeout", type=float, default=180.0)
    ap.add_argument(
        "--docetl-venv",
        type=Path,
        default=None,
        help="a venv with docetl 0.3.0 (e.g. /tmp/venv-peer): run every item with DocETL "
        "too, against the same server, and compare output row counts",
    )
    ap.add_argument(
        "--docetl-kinds",
        default="pipeline",
        help="with --docetl-venv: which items DocETL runs too (pipeline, operator, or both "
        "comma-separated; default: the complete pipelines)",
    )
    ap.add_argument(
        "--expected",
        type=Path,
        default=None,
        help="a YAML of label -> {expect: ran|refused|any, error, rows} (e.g. "
        "bench/docetl_compat_expected.yaml): run those items and check each",
    )
    ap.add_argument("--jobs", type=int, default=1, help="items run at the same time")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if args.docetl_venv is not None and not (args.docetl_venv / "bin" / "docetl").exists():
        ap.error(f"--docetl-venv: no bin/docetl in {args.docetl_venv}")
    items, fragments = extract(args.git_dir)
    expected: dict[str, dict[str, Any]] = (
        yaml.safe_load(args.expected.read_text()) if args.expected else {}
    )
    if expected:
        items = [i for i in items if i.label in expected]
    if args.only:
        wanted = args.only.split(",")
        items = [i for i in items if any(w in i.label for w in wanted)]
    if args.kind:
        items = [i for i in items if i.kind == args.kind]
    root = args.out or Path(tempfile.mkdtemp(prefix="docetl_compat_"))
    # Comparing with DocETL: answers that depend only on the output's field names, so both
    # tools get the same answer for the same schema although their prompts differ.
    server = ServerProcess(0, answers="fields" if args.docetl_venv is not None else "request")
    try:
        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            futures = [pool.submit(run_both, item, root, server.base_url, args) for item in items]
            for future in as_completed(futures):
                print(describe(future.result(), args.verbose), flush=True)
    finally:
        server.stop()
    print(f"\nskipped {fragments} YAML blocks that are neither a pipeline nor an operation")
    for kind in ("pipeline", "operator"):
        group = [i for i in items if i.kind == kind]
        counts = {s: sum(1 for i in group if i.status == s) for s in ("ran", "refused", "failed")}
        print(
            f"{kind + 's':10} {len(group):3}: ran {counts['ran']}, refused at load "
            f"{counts['refused']}, failed at run {counts['failed']}"
        )
        if args.docetl_venv is None:
            continue
        d = {s: sum(1 for i in group if i.docetl_status == s) for s in ("ran", "failed")}
        both = [i for i in group if i.status == "ran" and i.docetl_status == "ran"]
        p = {
            s: sum(1 for i in both if i.parity == s) for s in ("match", "llm-dependent", "MISMATCH")
        }
        print(
            f"{'':10}      DocETL 0.3.0 ran {d['ran']}, failed {d['failed']}; both ran "
            f"{len(both)}: rows equal {p['match']}, differ where the model decides "
            f"{p['llm-dependent']}, differ with deterministic operators {p['MISMATCH']}; "
            f"DocETL ran what llmassert refused: "
            f"{sum(1 for i in group if i.status != 'ran' and i.docetl_status == 'ran')}"
        )
    if expected:
        check_expected(items, expected)
    if args.json:
        args.json.write_text(
            json.dumps(
                [{k: v for k, v in asdict(i).items() if k != "config"} for i in items], indent=1
            )
        )


if __name__ == "__main__":
    main()
