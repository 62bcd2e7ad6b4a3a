"""Security cases for files and secrets (issue 10, items 4-6): user files, output-is-input, umask,
journal tampering, concurrent runs, secrets in artifacts and error lines, malformed input.

Every case runs the real CLI in a subprocess inside its scratch folder (real files, the loopback
fake LLM server where a provider is needed) and classifies what happened:

- ``refused``: exit 2, one ``error: ...`` line naming the problem, user files untouched, no LLM call
  made where the refusal could come before one;
- ``contained``: the command ran and nothing beyond its own outputs changed (files kept, secrets
  absent from every file and stream, every row accounted for);
- ``escaped``: anything else (damage done, a secret leaked, a wrong or multi-line error);
- ``traceback``: Python's traceback reached the user.

Loaded by pytest (``test_files.py``) and by path from ``bench/security.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__:
    from ._case import Case, Outcome
else:  # loaded by path (bench/security.py): the shared type sits beside this file
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _case import Case, Outcome  # type: ignore[no-redef]

from llmassert.testing.fake_server import FakeLLMServer, Reply

REPO = Path(__file__).resolve().parents[2]
KEY = "sk-test-FILESEC-0123456789abcdefXYZ"
URL_PW = "hunter2-url-password"
URL_KEY = "sk-urlkey-0123456789abcdefghij"
BOOT = "import sys; from llmassert.cli import main; sys.exit(main())"


# -- running the CLI -------------------------------------------------------------------------------


@dataclass
class Result:
    rc: int
    out: str
    err: str

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.out + self.err

    def one_line_error(self, *needles: str) -> bool:
        """Exit 2 and exactly one ``error:`` line on stderr containing every needle."""
        lines = [line for line in self.err.splitlines() if line.strip()]
        return (
            self.rc == 2
            and len(lines) == 1
            and lines[0].startswith("error: ")
            and all(n.lower() in lines[0].lower() for n in needles)
        )


def env_for(tmp: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPENAI_API_BASE", "OPENAI_BASE_URL", "LLMASSERT_API_BASE", "LLMASSERT_MODEL")
    }
    env.update(
        PYTHONPATH=str(REPO),
        OPENAI_API_KEY=KEY,
        LLMASSERT_CACHE_DIR=str(tmp / ".cache"),
        COLUMNS="200",
        NO_COLOR="1",
    )
    env.update(extra)
    return env


def cli(
    tmp: Path, *args: str, umask: int | None = None, timeout: float = 180, **env: str
) -> Result:
    def pre() -> None:
        if umask is not None:
            os.umask(umask)

    proc = subprocess.run(
        [sys.executable, "-c", BOOT, *args],
        cwd=tmp,
        env=env_for(tmp, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=pre if umask is not None else None,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def start_cli(tmp: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", BOOT, *args],
        cwd=tmp,
        env=env_for(tmp),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def refused(res: Result, *needles: str, intact: bool = True, calls: int = 0) -> Outcome:
    if res.traceback:
        return "traceback"
    return "refused" if res.one_line_error(*needles) and intact and calls == 0 else "escaped"


def contained(res: Result, ok: bool) -> Outcome:
    if res.traceback:
        return "traceback"
    return "contained" if ok else "escaped"


# -- fixtures written per case ---------------------------------------------------------------------

PIPE = """\
default_model: openai/fake-model
default_lm_api_base: {api_base}
datasets:
  docs: {{type: file, path: {data}}}
operations:
  - name: summarize
    type: map
    prompt: "Summarize: {{{{ input.text }}}}"
    output: {{schema: {{summary: string}}}}{op_extra}
pipeline:
  steps:
    - {{name: s, input: docs, operations: [summarize]}}
  output: {{type: file, path: {out}{extra}}}
"""


def rows(n: int) -> list[dict[str, Any]]:
    return [{"id": i, "text": f"document number {i}"} for i in range(n)]


def write_pipeline(
    tmp: Path,
    server: FakeLLMServer | None,
    *,
    data: str = "data.json",
    out: str = "out.json",
    n: int = 5,
    extra: str = "",
    write_data: bool = True,
    skip_on_error: bool = False,
) -> Path:
    if write_data:
        (tmp / data).parent.mkdir(parents=True, exist_ok=True)
        body = rows(n)
        text = "".join(json.dumps(r) + "\n" for r in body) if data.endswith(".jsonl") else None
        (tmp / data).write_text(text if text is not None else json.dumps(body))
    api_base = server.base_url if server else "http://127.0.0.1:9/v1"
    path = tmp / "pipeline.yaml"
    op_extra = "\n    skip_on_error: true" if skip_on_error else ""
    path.write_text(
        PIPE.format(api_base=api_base, data=data, out=out, extra=extra, op_extra=op_extra)
    )
    return path


def summarize(body: dict[str, Any]) -> Reply:
    text = str(body["messages"][-1]["content"]).split(": ", 1)[-1]
    return Reply(tool_args={"summary": text[:30]})


@contextlib.contextmanager
def fake_server(handler: Callable[[dict[str, Any]], Reply] = summarize) -> Iterator[FakeLLMServer]:
    server = FakeLLMServer().start()
    server.handler = handler
    try:
        yield server
    finally:
        server.stop()


def chat_calls(server: FakeLLMServer) -> int:
    return sum(1 for r in server.requests if r.path.endswith("chat/completions"))


def write_module(tmp: Path, body: str = "return len(response) < 1000") -> Path:
    path = tmp / "checks.py"
    path.write_text(
        textwrap.dedent(
            f'''\
            def short_enough(example, response):
                """The response is short.

                Criterion: keep it short.
                Category: Count
                """
                {body}
            '''
        )
    )
    return path


def write_records(tmp: Path, name: str = "rec.jsonl", n: int = 3) -> Path:
    path = tmp / name
    path.write_text(
        "".join(json.dumps({"input": {"q": i}, "response": f"answer {i}"}) + "\n" for i in range(n))
    )
    return path


def write_prompts(tmp: Path) -> Path:
    folder = tmp / "prompts" / "p"
    folder.mkdir(parents=True)
    (folder / "v1.txt").write_text("Summarize the text.\n")
    (folder / "v2.txt").write_text('Summarize the text. Never use the word "Feature".\n')
    return tmp / "prompts"


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".cache" not in p.parts
    }


def all_text(root: Path, skip: tuple[str, ...] = ()) -> str:
    """Every file under ``root`` but the inputs named in ``skip``."""
    return "\n".join(
        p.read_bytes().decode("utf-8", "replace")
        for p in root.rglob("*")
        if p.is_file() and p.name not in skip
    )


# -- user-files: `cache clear` and checkpoint folders ------------------------------------------------

USER_JSON = {
    "ui/package.json": '{"name": "web"}',
    "db/schema.json": '{"tables": []}',
    "ci/config.json": '{"jobs": 3}',
}


def _plant(tmp: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp / rel).write_text(text)


def cache_clear_project_root(tmp: Path) -> Outcome:
    """The issue's reproduction: `cache clear --cache-dir .` in a project."""
    _plant(tmp, USER_JSON)
    before = snapshot(tmp)
    res = cli(tmp, "cache", "clear", "--cache-dir", ".")
    return refused(res, "not an llmassert cache", intact=snapshot(tmp) == before)


def cache_clear_hexlike_user_files(tmp: Path) -> Outcome:
    """User files shaped like cache entries (two-char folder, hex name) in an unmarked folder."""
    name = "ab" + "0" * 62
    _plant(tmp, {f"ab/{name}.json": '{"mine": 1}', "cd/notes.json": "{}"})
    before = snapshot(tmp)
    res = cli(tmp, "cache", "clear", "--cache-dir", ".")
    return refused(res, "not an llmassert cache", intact=snapshot(tmp) == before)


def _real_cache(tmp: Path) -> Path:
    """A cache filled by a real run against the fake server."""
    with fake_server() as server:
        write_pipeline(tmp, server, n=3)
        res = cli(tmp, "run", "pipeline.yaml", "-q")
    assert res.rc == 0, res.err
    return tmp / ".cache"


def cache_clear_keeps_foreign_files_inside(tmp: Path) -> Outcome:
    """A real cache with user files dropped into it: only the entries go."""
    cache = _real_cache(tmp)
    entries = [p for p in cache.rglob("*.json")]
    shard = entries[0].parent
    foreign = {
        shard / "notes.json": "{}",
        shard / (shard.name + "f" * 62 + ".json"): '{"not": "ours"}',  # right name, wrong content
        cache / "README.md": "my notes",
        cache / "zz" / "data.json": "[]",
    }
    for p, text in foreign.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    res = cli(tmp, "cache", "clear")
    kept = all(p.read_text() == text for p, text in foreign.items())
    gone = not any(p.exists() for p in entries)
    return contained(res, res.rc == 0 and kept and gone and "removed 3" in res.out)


def cache_clear_at_a_file(tmp: Path) -> Outcome:
    (tmp / "notes.json").write_text("{}")
    res = cli(tmp, "cache", "clear", "--cache-dir", "notes.json")
    return refused(res, "notes.json", intact=(tmp / "notes.json").read_text() == "{}")


def checkpoint_dir_over_user_folder(tmp: Path) -> Outcome:
    """intermediate_dir: . and a step named like a user folder: a fresh run cleared it."""
    _plant(tmp, {"s/keep.txt": "precious", "s/more/data.json": "[1]"})
    with fake_server() as server:
        write_pipeline(tmp, server, extra=", intermediate_dir: .")
        before = {k: v for k, v in snapshot(tmp).items() if k.startswith("s/")}
        res = cli(tmp, "run", "pipeline.yaml", "-q")
        calls = chat_calls(server)
    after = {k: v for k, v in snapshot(tmp).items() if k.startswith("s/")}
    return refused(res, "s", intact=after == before, calls=calls)


# -- output-is-input -------------------------------------------------------------------------------


def _output_is_input(tmp: Path, out: str, *needles: str, data: str = "data.json") -> Outcome:
    with fake_server() as server:
        write_pipeline(tmp, server, data=data, out=out, n=100)
        before = (tmp / data).read_bytes()
        res = cli(tmp, "run", "pipeline.yaml", "-q")
        calls = chat_calls(server)
    return refused(res, *needles, intact=(tmp / data).read_bytes() == before, calls=calls)


def output_is_dataset(tmp: Path) -> Outcome:
    """The issue's reproduction: output path = dataset path (100 rows were replaced by 1)."""
    return _output_is_input(tmp, "data.json", "data.json", "input")


def output_is_dataset_other_spelling(tmp: Path) -> Outcome:
    (tmp / "sub").mkdir()
    return _output_is_input(tmp, "./sub/../data.json", "input")


def output_is_symlink_to_dataset(tmp: Path) -> Outcome:
    (tmp / "link.json").symlink_to("data.json")
    return _output_is_input(tmp, "link.json", "input")


def sidecar_is_dataset(tmp: Path) -> Outcome:
    """The errors sidecar of out.json is out.errors.jsonl: here that is the dataset."""
    return _output_is_input(tmp, "out.json", "input", data="out.errors.jsonl")


def output_inside_folder_dataset(tmp: Path) -> Outcome:
    docs = tmp / "docs"
    docs.mkdir()
    for i in range(3):
        (docs / f"d{i}.txt").write_text(f"document {i}")
    with fake_server() as server:
        path = write_pipeline(tmp, server, data="docs", out="docs/out.json", write_data=False)
        path.write_text(
            path.read_text().replace(
                "type: file, path: docs}", "type: file, path: docs, format: text}"
            )
        )
        before = snapshot(docs)
        res = cli(tmp, "run", "pipeline.yaml", "-q")
        calls = chat_calls(server)
    return refused(res, "input", intact=snapshot(docs) == before, calls=calls)


def junit_over_recorded(tmp: Path) -> Outcome:
    rec = write_records(tmp)
    write_module(tmp)
    before = rec.read_bytes()
    res = cli(tmp, "test", "rec.jsonl", "-a", "checks.py", "--junit", "rec.jsonl")
    return refused(res, "input", intact=rec.read_bytes() == before)


def baseline_over_module(tmp: Path) -> Outcome:
    write_records(tmp)
    module = write_module(tmp)
    before = module.read_bytes()
    res = cli(tmp, "test", "rec.jsonl", "-a", "checks.py", "--write-baseline", "checks.py")
    return refused(res, "input", intact=module.read_bytes() == before)


def synth_html_over_prompt(tmp: Path) -> Outcome:
    write_prompts(tmp)
    version = tmp / "prompts" / "p" / "v2.txt"
    before = version.read_bytes()
    res = cli(tmp, "synth", "prompts", "--out", "out", "--html", str(version))
    return refused(
        res, "input", intact=version.read_bytes() == before and not (tmp / "out").exists()
    )


# -- umask: every written file follows it ------------------------------------------------------------


def _modes(paths: list[Path]) -> set[int]:
    return {stat.S_IMODE(p.stat().st_mode) for p in paths}


def umask_run_outputs(tmp: Path, mask: int = 0o022) -> Outcome:
    with fake_server() as server:
        write_pipeline(tmp, server, extra=", intermediate_dir: ckpt")
        (tmp / "data.json").write_text(json.dumps([*rows(3), {"id": 9, "textx": "x"}]))
        path = tmp / "pipeline.yaml"
        res = cli(tmp, "run", str(path), "-q", umask=mask)
    written = [
        p for p in tmp.rglob("*") if p.is_file() and p.name not in ("data.json", "pipeline.yaml")
    ]
    want = 0o666 & ~mask
    ok = res.rc == 0 and (tmp / "out.json").exists() and _modes(written) == {want}
    return contained(res, ok)


def umask_run_outputs_group_writable(tmp: Path) -> Outcome:
    return umask_run_outputs(tmp, 0o002)


def umask_synth_module_and_html(tmp: Path) -> Outcome:
    write_prompts(tmp)
    res = cli(tmp, "synth", "prompts", "--out", "out", "--html", "report.html", umask=0o022)
    written = [*(tmp / "out").iterdir(), tmp / "report.html"]
    return contained(res, res.rc == 0 and len(written) == 3 and _modes(written) == {0o644})


def umask_test_reports(tmp: Path) -> Outcome:
    write_records(tmp)
    write_module(tmp)
    res = cli(
        tmp,
        "test",
        "rec.jsonl",
        "-a",
        "checks.py",
        "--junit",
        "j.xml",
        "--write-baseline",
        "b.json",
        umask=0o027,
    )
    written = [tmp / "j.xml", tmp / "b.json"]
    ok = res.rc == 0 and all(p.exists() for p in written) and _modes(written) == {0o640}
    return contained(res, ok)


def umask_schema_file(tmp: Path) -> Outcome:
    res = cli(tmp, "schema", "-o", "schema.json", umask=0o022)
    ok = res.rc == 0 and _modes([tmp / "schema.json"]) == {0o644}
    return contained(res, ok)


def replaced_file_keeps_stricter_mode(tmp: Path) -> Outcome:
    """A file the user locked down to 0600 stays 0600 when llmassert replaces it."""
    (tmp / "schema.json").write_text("{}")
    (tmp / "schema.json").chmod(0o600)
    res = cli(tmp, "schema", "-o", "schema.json", umask=0o022)
    ok = res.rc == 0 and _modes([tmp / "schema.json"]) == {0o600}
    return contained(res, ok and len((tmp / "schema.json").read_text()) > 2)


# -- journal-tamper: resumed journals are validated, bad entries redone -------------------------------


def _interrupted_run(tmp: Path, server: FakeLLMServer, n: int = 100) -> Path:
    """A finished run turned into an interrupted one: the operation's saved result is gone (as
    after a kill before it was saved) and run.json says running, so a rerun resumes from the
    journal."""
    write_pipeline(tmp, server, n=n, extra=", intermediate_dir: ckpt")
    res = cli(tmp, "run", "pipeline.yaml", "-q", "--no-cache")
    assert res.rc == 0, res.err
    step = tmp / "ckpt" / "s"
    for p in step.glob("summarize.json"):
        p.unlink()
    for p in step.glob("summarize.state.json"):
        p.unlink()
    run = tmp / "ckpt" / "run.json"
    run.write_text(run.read_text().replace('"complete"', '"running"'))
    return step / "summarize.journal.jsonl"


def _edit_entry(journal: Path, index: int, edit: Callable[[dict[str, Any]], None]) -> None:
    lines = journal.read_text().splitlines()
    entry = json.loads(lines[1 + index])
    edit(entry)
    lines[1 + index] = json.dumps(entry)
    journal.write_text("\n".join(lines) + "\n")


def _resume_after(tmp: Path, edit: Callable[[dict[str, Any]], None], redo: int = 1) -> Outcome:
    with fake_server() as server:
        journal = _interrupted_run(tmp, server)
        _edit_entry(journal, 7, edit)
        server.requests.clear()
        res = cli(tmp, "run", "pipeline.yaml", "-q", "--no-cache")
        calls = chat_calls(server)
    out = json.loads((tmp / "out.json").read_text()) if (tmp / "out.json").exists() else []
    ok = res.rc == 0 and sorted(r["id"] for r in out) == list(range(100)) and calls == redo
    ok = ok and all(r.get("summary") for r in out)
    return contained(res, ok)


def journal_rows_emptied(tmp: Path) -> Outcome:
    """The issue's reproduction: one entry edited to "rows": [] dropped a row (100 in, 99 out)."""
    return _resume_after(tmp, lambda e: e["v"].__setitem__("rows", []))


def journal_rows_emptied_and_counted_filtered(tmp: Path) -> Outcome:
    """Consistent-looking edit: the row moved to "filtered" (a map filters nothing)."""

    def edit(e: dict[str, Any]) -> None:
        e["v"]["rows"] = []
        e["v"]["filtered"] = 1

    return _resume_after(tmp, edit)


def journal_rows_duplicated(tmp: Path) -> Outcome:
    return _resume_after(tmp, lambda e: e["v"].__setitem__("rows", e["v"]["rows"] * 2))


def journal_wrong_types(tmp: Path) -> Outcome:
    return _resume_after(tmp, lambda e: e["v"].__setitem__("filtered", "many"))


def journal_value_not_an_object(tmp: Path) -> Outcome:
    return _resume_after(tmp, lambda e: e.__setitem__("v", [1, 2, 3]))


def journal_summary_forged(tmp: Path) -> Outcome:
    """A changed output value (not a count) is detected too: the entry no longer matches."""

    def edit(e: dict[str, Any]) -> None:
        rows_ = e["v"]["rows"]
        target = rows_[0]["+"] if e["v"].get("delta") else rows_[0]
        target["summary"] = "FORGED"

    with fake_server() as server:
        journal = _interrupted_run(tmp, server)
        _edit_entry(journal, 7, edit)
        res = cli(tmp, "run", "pipeline.yaml", "-q", "--no-cache")
    out = json.loads((tmp / "out.json").read_text()) if (tmp / "out.json").exists() else []
    ok = res.rc == 0 and len(out) == 100 and all(r["summary"] != "FORGED" for r in out)
    return contained(res, ok)


def saved_rows_file_edited(tmp: Path) -> Outcome:
    """A finished operation's saved rows lose one row: the operation is redone, not trusted."""
    with fake_server() as server:
        write_pipeline(tmp, server, n=20, extra=", intermediate_dir: ckpt")
        assert cli(tmp, "run", "pipeline.yaml", "-q", "--no-cache").rc == 0
        saved = tmp / "ckpt" / "s" / "summarize.json"
        saved.write_text(json.dumps(json.loads(saved.read_text())[:-1]))
        run = tmp / "ckpt" / "run.json"
        run.write_text(run.read_text().replace('"complete"', '"running"'))
        res = cli(tmp, "run", "pipeline.yaml", "-q", "--no-cache")
    out = json.loads((tmp / "out.json").read_text())
    return contained(res, res.rc == 0 and len(out) == 20)


# -- concurrent-run: one lock per output -----------------------------------------------------------------


def second_concurrent_run(tmp: Path) -> Outcome:
    """Two runs of one pipeline at once: the second refuses, naming the holder.

    Deterministic under any load: the first run's first LLM call is held by the server until
    the second run has exited, so the first run holds its lock for the whole second run.
    """
    release = threading.Event()
    held: list[bool] = []

    def held_first(body: dict[str, Any]) -> Reply:
        reply = summarize(body)
        if not held:
            held.append(True)
            reply.hold = release
        return reply

    with fake_server(held_first) as server:
        write_pipeline(tmp, server, n=12)
        first = start_cli(tmp, "run", "pipeline.yaml", "-q", "--max-concurrency", "1")
        try:
            deadline = time.monotonic() + 120
            while chat_calls(server) == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            res = cli(tmp, "run", "pipeline.yaml", "-q", "--max-concurrency", "1")
        finally:
            release.set()
            first.communicate(timeout=180)
    out = json.loads((tmp / "out.json").read_text()) if (tmp / "out.json").exists() else []
    intact = first.returncode == 0 and len(out) == 12 and chat_calls(server) == 12
    return refused(res, "locked", str(first.pid), socket.gethostname(), intact=intact)


def lock_held_by_live_process(tmp: Path) -> Outcome:
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with fake_server() as server:
            write_pipeline(tmp, server)
            lock = {"pid": holder.pid, "host": socket.gethostname(), "started": "2026-01-01T00:00Z"}
            (tmp / "out.json.lock").write_text(json.dumps(lock))
            res = cli(tmp, "run", "pipeline.yaml", "-q")
            calls = chat_calls(server)
    finally:
        holder.kill()
        holder.wait()
    return refused(
        res, "locked", str(holder.pid), intact=not (tmp / "out.json").exists(), calls=calls
    )


def stale_lock_is_taken_over(tmp: Path) -> Outcome:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with fake_server() as server:
        write_pipeline(tmp, server)
        lock = {"pid": gone.pid, "host": socket.gethostname(), "started": "2026-01-01T00:00Z"}
        (tmp / "out.json.lock").write_text(json.dumps(lock))
        res = cli(tmp, "run", "pipeline.yaml", "-q")
    ok = res.rc == 0 and (tmp / "out.json").exists() and not (tmp / "out.json.lock").exists()
    return contained(res, ok)


# -- secrets-in-artifacts and secrets-in-errors ---------------------------------------------------------


def _no_secret(tmp: Path, res: Result, *secrets: str, skip: tuple[str, ...] = ()) -> bool:
    text = all_text(tmp, skip) + res.out + res.err
    return not any(s in text for s in secrets)


def provider_error_echoes_key(tmp: Path) -> Outcome:
    """The issue's reproduction: a provider error body that echoes the key, on every row."""
    body = json.dumps(
        {"error": {"message": f"Incorrect API key provided: {KEY}. Authorization: Bearer {KEY}"}}
    ).encode()
    with fake_server(lambda _b: Reply(status=400, raw_body=body)) as server:
        write_pipeline(tmp, server, extra=", intermediate_dir: ckpt", skip_on_error=True)
        res = cli(tmp, "run", "pipeline.yaml")
    errors = tmp / "out.errors.jsonl"
    ok = errors.exists() and "Incorrect API key" in errors.read_text()
    return contained(res, ok and _no_secret(tmp, res, KEY, skip=("checks.py",)))


def provider_error_echoes_key_fragment(tmp: Path) -> Outcome:
    """Providers often echo the key partly masked; the visible part is not the whole key but an
    unmasked copy in a header dump is."""
    body = json.dumps({"error": {"message": f"bad request; headers: {{'api-key': '{KEY}'}}"}})
    with fake_server(lambda _b: Reply(status=400, raw_body=body.encode())) as server:
        write_pipeline(tmp, server, skip_on_error=True)
        res = cli(tmp, "run", "pipeline.yaml")
    return contained(res, (tmp / "out.errors.jsonl").exists() and _no_secret(tmp, res, KEY))


def provider_error_fails_synth(tmp: Path) -> Outcome:
    """A 401 echoing the key during `synth --model`: the error line has no key."""
    body = json.dumps({"error": {"message": f"invalid x-api-key {KEY}"}}).encode()
    write_prompts(tmp)
    with fake_server(lambda _b: Reply(status=401, raw_body=body)) as server:
        res = cli(
            tmp,
            "synth",
            "prompts",
            "--out",
            "out",
            "--model",
            "openai/fake-model",
            "--api-base",
            server.base_url,
        )
    return contained(res, _no_secret(tmp, res, KEY))


def api_base_with_credentials(tmp: Path) -> Outcome:
    """The issue's reproduction: `--api-base http://user:pw@host/v1?api_key=...` error line."""
    write_pipeline(tmp, None)
    base = f"http://alice:{URL_PW}@127.0.0.1:9/v1?api_key={URL_KEY}"
    res = cli(tmp, "run", "pipeline.yaml", "-q", "--api-base", base, "--no-cache")
    return contained(res, _no_secret(tmp, res, URL_PW, URL_KEY, KEY))


def api_base_credentials_connection_error(tmp: Path) -> Outcome:
    """User and password in the endpoint (aiohttp raised a traceback on them): refused up
    front, the line names the problem without the password."""
    write_pipeline(tmp, None, skip_on_error=True)
    base = f"http://alice:{URL_PW}@127.0.0.1:9/v1"
    res = cli(tmp, "run", "pipeline.yaml", "-q", "--api-base", base, "--no-cache")
    return refused(res, "api_base", "password") if _no_secret(tmp, res, URL_PW) else "escaped"


def api_base_bad_scheme_with_credentials(tmp: Path) -> Outcome:
    write_pipeline(tmp, None)
    base = f"ftp://alice:{URL_PW}@example.invalid/v1?token={URL_KEY}"
    res = cli(tmp, "run", "pipeline.yaml", "--api-base", base)
    return refused(res, "api_base") if _no_secret(tmp, res, URL_PW, URL_KEY) else "escaped"


def key_in_dataset_row_reaches_errors_file(tmp: Path) -> Outcome:
    """A row that quotes the key and then errors: the key is not copied into artifacts."""
    with fake_server(lambda _b: Reply(status=400, raw_body=b'{"error": {"message": "no"}}')) as s:
        write_pipeline(tmp, s, extra=", intermediate_dir: ckpt", skip_on_error=True)
        (tmp / "data.json").write_text(json.dumps([{"id": 1, "text": f"my key is {KEY}"}]))
        res = cli(tmp, "run", "pipeline.yaml", "-q")
    files = [p for p in tmp.rglob("*") if p.is_file() and p.name != "data.json"]
    leaked = any(KEY in p.read_text(errors="replace") for p in files)
    return contained(res, (tmp / "out.errors.jsonl").exists() and not leaked and KEY not in res.err)


def check_exception_quotes_key(tmp: Path) -> Outcome:
    """An assertion that fails with the key in its message: JUnit report and stdout are clean."""
    write_records(tmp)
    write_module(tmp, f'raise ValueError("token {KEY} rejected")')
    res = cli(tmp, "test", "rec.jsonl", "-a", "checks.py", "--junit", "j.xml", "--show", "5")
    ok = res.rc == 1 and (tmp / "j.xml").exists() and "rejected" in (tmp / "j.xml").read_text()
    return contained(res, ok and _no_secret(tmp, res, KEY, skip=("checks.py",)))


# -- malformed input and misplaced outputs: one line, exit 2 ---------------------------------------------


def _dataset_case(
    tmp: Path, name: str, content: bytes, *needles: str, extra_yaml: str = ""
) -> Outcome:
    with fake_server() as server:
        write_pipeline(tmp, server, data=name, write_data=False)
        (tmp / name).write_bytes(content)
        res = cli(tmp, "run", "pipeline.yaml", "-q")
        calls = chat_calls(server)
    return refused(res, name, *needles, intact=not (tmp / "out.json").exists(), calls=calls)


DEEP = b"[" * 100_000


def deep_json_dataset(tmp: Path) -> Outcome:
    return _dataset_case(tmp, "data.json", DEEP, "nested")


def deep_jsonl_dataset(tmp: Path) -> Outcome:
    return _dataset_case(tmp, "data.jsonl", b'{"text": "ok"}\n' + DEEP + b"\n", "line 2", "nested")


def invalid_utf8_dataset(tmp: Path) -> Outcome:
    return _dataset_case(tmp, "data.jsonl", b'{"text": "ok"}\n{"text": "\xff\xfe"}\n', "line 2")


def nan_in_jsonl_dataset(tmp: Path) -> Outcome:
    return _dataset_case(tmp, "data.jsonl", b'{"text": "a", "score": NaN}\n', "line 1", "NaN")


def infinity_in_json_dataset(tmp: Path) -> Outcome:
    return _dataset_case(tmp, "data.json", b'[{"text": "a", "x": -Infinity}]', "Infinity")


def huge_integer_dataset(tmp: Path) -> Outcome:
    return _dataset_case(tmp, "data.jsonl", b'{"text": "a", "n": ' + b"9" * 5000 + b"}\n", "line 1")


def unterminated_quote_csv(tmp: Path) -> Outcome:
    """The issue's reproduction: a CSV with an unterminated quote was read silently wrong."""
    return _dataset_case(tmp, "data.csv", b'id,text\n1,"hello\n2,world\n3,last\n', "quote")


def empty_jsonl_dataset(tmp: Path) -> Outcome:
    """The issue's reproduction: an empty dataset said `input.text is not a key (keys: none)`."""
    return _dataset_case(tmp, "data.jsonl", b"", "empty")


def empty_json_list_dataset(tmp: Path) -> Outcome:
    return _dataset_case(tmp, "data.json", b"[]", "empty")


def model_answers_nan(tmp: Path) -> Outcome:
    """The model's JSON holds NaN: the output file stays valid JSON."""
    with fake_server(lambda _b: Reply(tool_args='{"summary": "s", "score": NaN}')) as server:
        write_pipeline(tmp, server)
        path = tmp / "pipeline.yaml"
        path.write_text(
            path.read_text().replace("{summary: string}", "{summary: string, score: float}")
        )
        res = cli(tmp, "run", "pipeline.yaml", "-q")
    try:
        text = (tmp / "out.json").read_text()
        json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
        valid = True
    except (OSError, ValueError):
        valid = False
    return contained(res, res.rc == 0 and valid)


def deep_recorded_file(tmp: Path) -> Outcome:
    (tmp / "rec.jsonl").write_bytes(DEEP)
    write_module(tmp)
    return refused(cli(tmp, "test", "rec.jsonl", "-a", "checks.py"), "rec.jsonl", "line 1")


def deep_matrix_file(tmp: Path) -> Outcome:
    (tmp / "m.json").write_bytes(DEEP)
    return refused(cli(tmp, "select", "m.json"), "m.json", "nested")


def deep_labels_file(tmp: Path) -> Outcome:
    write_prompts(tmp)
    (tmp / "labels.jsonl").write_bytes(DEEP)
    res = cli(tmp, "synth", "prompts/p", "--labels", "labels.jsonl", "--out", "out")
    return refused(res, "labels.jsonl", "line 1", intact=not (tmp / "out").exists())


def deep_baseline_file(tmp: Path) -> Outcome:
    write_records(tmp)
    write_module(tmp)
    (tmp / "b.json").write_bytes(DEEP)
    return refused(
        cli(tmp, "test", "rec.jsonl", "-a", "checks.py", "--baseline", "b.json"), "b.json"
    )


def deep_history_file(tmp: Path) -> Outcome:
    (tmp / "p.json").write_bytes(DEEP)
    res = cli(tmp, "synth", "p.json", "--out", "out")
    return refused(res, "p.json", intact=not (tmp / "out").exists())


def output_under_a_file(tmp: Path) -> Outcome:
    (tmp / "results").write_text("not a folder")
    with fake_server() as server:
        write_pipeline(tmp, server, out="results/out.json")
        res = cli(tmp, "run", "pipeline.yaml", "-q")
        calls = chat_calls(server)
    return refused(
        res, "results", intact=(tmp / "results").read_text() == "not a folder", calls=calls
    )


def unwritable_output_folder(tmp: Path) -> Outcome:
    """Found before the first paid call (root can write almost anywhere, but not into /sys)."""
    with fake_server() as server:
        write_pipeline(tmp, server, out="/sys/llmassert-security-case/out.json")
        res = cli(tmp, "run", "pipeline.yaml", "-q")
        calls = chat_calls(server)
    return refused(res, "/sys", calls=calls)


def _test_output_at_folder(tmp: Path, flag: str) -> Outcome:
    write_records(tmp)
    write_module(tmp)
    (tmp / "reports").mkdir()
    res = cli(tmp, "test", "rec.jsonl", "-a", "checks.py", flag, "reports")
    return refused(res, "reports", "folder", intact=not any((tmp / "reports").iterdir()))


def junit_at_folder(tmp: Path) -> Outcome:
    return _test_output_at_folder(tmp, "--junit")


def write_baseline_at_folder(tmp: Path) -> Outcome:
    return _test_output_at_folder(tmp, "--write-baseline")


def synth_html_at_folder(tmp: Path) -> Outcome:
    """The issue's reproduction: the module was written, then the HTML write crashed."""
    write_prompts(tmp)
    (tmp / "h").mkdir()
    res = cli(tmp, "synth", "prompts", "--out", "out", "--html", "h")
    return refused(res, "folder", intact=not (tmp / "out").exists())


def schema_output_at_folder(tmp: Path) -> Outcome:
    (tmp / "schemas").mkdir()
    res = cli(tmp, "schema", "-o", "schemas")
    return refused(res, "schemas", "folder", intact=not any((tmp / "schemas").iterdir()))


def synth_out_at_file(tmp: Path) -> Outcome:
    write_prompts(tmp)
    (tmp / "out").write_text("mine")
    res = cli(tmp, "synth", "prompts", "--out", "out")
    return refused(res, "out", "not a folder", intact=(tmp / "out").read_text() == "mine")


def run_record_at_file(tmp: Path) -> Outcome:
    (tmp / "cassettes").write_text("mine")
    with fake_server() as server:
        write_pipeline(tmp, server)
        res = cli(tmp, "run", "pipeline.yaml", "-q", "--record", "cassettes")
        calls = chat_calls(server)
    return refused(
        res,
        "cassettes",
        "not a folder",
        intact=(tmp / "cassettes").read_text() == "mine",
        calls=calls,
    )


def executor_path_traversal(tmp: Path) -> Outcome:
    with fake_server() as server:
        write_pipeline(tmp, server)
        res = cli(tmp, "run", "pipeline.yaml", "-q", "--executor", "../../etc/passwd")
        calls = chat_calls(server)
    return refused(res, "--executor", intact=not (tmp / "out.json").exists(), calls=calls)


def _cassette_case(tmp: Path, content: bytes) -> Outcome:
    with fake_server() as server:
        write_pipeline(tmp, server)
        (tmp / "cas").mkdir()
        (tmp / "cas" / "run-pipeline.yaml").write_bytes(content)
        res = cli(tmp, "run", "pipeline.yaml", "-q", "--replay", "cas", "--no-cache")
        calls = chat_calls(server)
    return refused(res, "run-pipeline.yaml", intact=not (tmp / "out.json").exists(), calls=calls)


def cassette_raw_yaml_error(tmp: Path) -> Outcome:
    return _cassette_case(tmp, b"interactions: [\n  - {request: \n")


def cassette_wrong_types(tmp: Path) -> Outcome:
    return _cassette_case(tmp, b"version: 1\ninteractions: 5\n")


def cassette_interaction_missing_keys(tmp: Path) -> Outcome:
    return _cassette_case(tmp, b"version: 1\ninteractions:\n  - {request: 3}\n")


def cassette_invalid_utf8(tmp: Path) -> Outcome:
    return _cassette_case(tmp, b"version: 1\ninteractions: []\n# \xff\xfe\n")


def cassette_deep_nesting(tmp: Path) -> Outcome:
    return _cassette_case(tmp, b"interactions: " + b"[" * 100_000)


# -- the table ---------------------------------------------------------------------------------------------


def _cases() -> list[Case]:
    table: dict[str, list[tuple[Callable[[Path], Outcome], Outcome]]] = {
        "user-files": [
            (cache_clear_project_root, "refused"),
            (cache_clear_hexlike_user_files, "refused"),
            (cache_clear_keeps_foreign_files_inside, "contained"),
            (cache_clear_at_a_file, "refused"),
            (checkpoint_dir_over_user_folder, "refused"),
        ],
        "output-is-input": [
            (output_is_dataset, "refused"),
            (output_is_dataset_other_spelling, "refused"),
            (output_is_symlink_to_dataset, "refused"),
            (sidecar_is_dataset, "refused"),
            (output_inside_folder_dataset, "refused"),
            (junit_over_recorded, "refused"),
            (baseline_over_module, "refused"),
            (synth_html_over_prompt, "refused"),
        ],
        "umask": [
            (umask_run_outputs, "contained"),
            (umask_run_outputs_group_writable, "contained"),
            (umask_synth_module_and_html, "contained"),
            (umask_test_reports, "contained"),
            (umask_schema_file, "contained"),
            (replaced_file_keeps_stricter_mode, "contained"),
        ],
        "journal-tamper": [
            (journal_rows_emptied, "contained"),
            (journal_rows_emptied_and_counted_filtered, "contained"),
            (journal_rows_duplicated, "contained"),
            (journal_wrong_types, "contained"),
            (journal_value_not_an_object, "contained"),
            (journal_summary_forged, "contained"),
            (saved_rows_file_edited, "contained"),
        ],
        "concurrent-run": [
            (second_concurrent_run, "refused"),
            (lock_held_by_live_process, "refused"),
            (stale_lock_is_taken_over, "contained"),
        ],
        "secrets-in-artifacts": [
            (provider_error_echoes_key, "contained"),
            (provider_error_echoes_key_fragment, "contained"),
            (key_in_dataset_row_reaches_errors_file, "contained"),
            (check_exception_quotes_key, "contained"),
        ],
        "secrets-in-errors": [
            (provider_error_fails_synth, "contained"),
            (api_base_with_credentials, "contained"),
            (api_base_credentials_connection_error, "refused"),
            (api_base_bad_scheme_with_credentials, "refused"),
        ],
        "malformed-input": [
            (deep_json_dataset, "refused"),
            (deep_jsonl_dataset, "refused"),
            (invalid_utf8_dataset, "refused"),
            (nan_in_jsonl_dataset, "refused"),
            (infinity_in_json_dataset, "refused"),
            (huge_integer_dataset, "refused"),
            (unterminated_quote_csv, "refused"),
            (empty_jsonl_dataset, "refused"),
            (empty_json_list_dataset, "refused"),
            (model_answers_nan, "contained"),
            (deep_recorded_file, "refused"),
            (deep_matrix_file, "refused"),
            (deep_labels_file, "refused"),
            (deep_baseline_file, "refused"),
            (deep_history_file, "refused"),
            (cassette_raw_yaml_error, "refused"),
            (cassette_wrong_types, "refused"),
            (cassette_interaction_missing_keys, "refused"),
            (cassette_invalid_utf8, "refused"),
            (cassette_deep_nesting, "refused"),
        ],
        "misplaced-output": [
            (output_under_a_file, "refused"),
            (unwritable_output_folder, "refused"),
            (junit_at_folder, "refused"),
            (write_baseline_at_folder, "refused"),
            (synth_html_at_folder, "refused"),
            (schema_output_at_folder, "refused"),
            (synth_out_at_file, "refused"),
            (run_record_at_file, "refused"),
            (executor_path_traversal, "refused"),
        ],
    }
    return [
        Case(cls, fn.__name__.replace("_", "-"), fn, expected)
        for cls, entries in table.items()
        for fn, expected in entries
    ]


CASES: list[Case] = _cases()
