"""Code containment (issue 10, items 1-3): every payload in cases_code.py ends as expected, and the
issue's reproductions, rerun as written through the CLI, now fail the gate and leave rows alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llmassert.testing.fake_server import FakeLLMServer, Reply
from security._case import Case
from security.cases_code import CASES

ROOT = Path(__file__).resolve().parents[2]


def test_the_table_is_large_and_names_are_unique() -> None:
    assert len(CASES) >= 70
    keys = [(c.cls, c.name) for c in CASES]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.cls}: {c.name}")
def test_payload(case: Case, tmp_path: Path) -> None:
    assert case.run(tmp_path) == case.expected


# --- the reproductions, through the real CLI in a subprocess ------------------------------

LLMASSERT = [sys.executable, "-m", "llmassert.cli"]


def _cli(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OPENAI_API_KEY": "sk-test-security", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [*LLMASSERT, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout
    )


def _records(tmp_path: Path, n: int = 5) -> Path:
    path = tmp_path / "rec.jsonl"
    rows = [{"id": i, "input": {"n": i}, "response": f"answer {i}"} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


FORGER_REBINDS = '''
import json


def forge(example, response):
    while False:
        pass
    json.dumps = lambda *args, **kwargs: "[true, null, null]"
    return False


def always_false(example, response):
    """Fails every record."""
    return False
'''

FORGER_FRAMES = '''
def always_false(example, response):
    """Fails every record, and tries to report a pass through the worker's output."""
    while False:
        pass
    print("C" * 64)
    raise ValueError("\\n[true, null, null]\\n" * 20)
'''


def test_item1_a_forger_cannot_pass_the_ci_gate(tmp_path: Path) -> None:
    rec = _records(tmp_path)
    (tmp_path / "forged.py").write_text(FORGER_REBINDS)
    done = _cli("test", str(rec), "-a", "forged.py", cwd=tmp_path)
    # Refused before anything runs: one line naming the file and line, exit 2.
    assert done.returncode == 2, done.stdout + done.stderr
    assert "forged.py" in done.stderr and "attribute" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    (tmp_path / "frames.py").write_text(FORGER_FRAMES)
    done = _cli("test", str(rec), "-a", "frames.py", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr  # every record fails
    assert "0/5" in done.stdout or "0 / 5" in done.stdout or "0%" in done.stdout


def test_item3_catastrophic_regex_is_bounded_by_timeout(tmp_path: Path) -> None:
    rec = _records(tmp_path, 3)
    # A lookahead keeps it off RE2 (which answers the plain `(a|aa)+$` at once, as it would
    # in-process): stdlib backtracks exponentially, and only the worker's timer stops it.
    (tmp_path / "redos.py").write_text(
        "import re\n\n\ndef redos(example, response):\n"
        "    return re.search(r'(?=(a|aa)+$)', 'a' * 45 + '!') is not None\n"
    )
    start = time.monotonic()
    done = _cli("test", str(rec), "-a", "redos.py", "--timeout", "1", cwd=tmp_path)
    assert time.monotonic() - start < 60
    assert done.returncode == 1, done.stdout + done.stderr
    assert "timed out" in done.stdout + done.stderr


PIPE = """\
default_model: openai/fake-model
default_lm_api_base: {base}
datasets:
  docs: {{type: file, path: data.json}}
operations:
  - name: summarize
    type: map
    prompt: "Summarize: {{{{ input.text }}}}"
    output: {{schema: {{summary: string}}}}
    assertions:
      module: checks.py
      on_fail: flag
pipeline:
  steps:
    - {{name: s, input: docs, operations: [summarize]}}
  output: {{type: file, path: out.json}}
"""


def _pipeline(tmp_path: Path, server: FakeLLMServer, checks: str) -> Path:
    server.handler = lambda body: Reply(tool_args={"summary": "a summary"})
    rows = [{"id": i, "text": f"document {i}"} for i in range(4)]
    (tmp_path / "data.json").write_text(json.dumps(rows))
    (tmp_path / "checks.py").write_text(checks)
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPE.format(base=server.base_url))
    return path


def test_item1_a_guard_module_cannot_tamper_with_the_host(
    tmp_path: Path, llm_server: FakeLLMServer
) -> None:
    checks = (
        "import json\n\n\ndef tamper(example, response):\n"
        "    json.dumps = lambda *a, **k: '{\"tampered\": true}'\n    return True\n"
    )
    pipeline = _pipeline(tmp_path, llm_server, checks)
    done = _cli("run", str(pipeline), cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "checks.py" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.json").exists()
    assert not [r for r in llm_server.requests if r.path.endswith("chat/completions")]


def test_item2_a_guard_module_cannot_rewrite_rows(
    tmp_path: Path, llm_server: FakeLLMServer
) -> None:
    checks = (
        "def rewrite(example, response):\n"
        "    example.pop('text')\n    return True\n\n\n"
        "def alias(example, response):\n"
        "    row = example\n    row['id'] = 'HACKED'\n    return True\n"
    )
    pipeline = _pipeline(tmp_path, llm_server, checks)
    done = _cli("run", str(pipeline), cwd=tmp_path)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    out = json.loads((tmp_path / "out.json").read_text())
    assert [(r["id"], r["text"]) for r in out] == [(i, f"document {i}") for i in range(4)]
    assert "HACKED" not in (tmp_path / "out.json").read_text()


BOUNDED_PIPE = """\
default_model: openai/fake-model
default_lm_api_base: {base}
datasets:
  docs: {{type: file, path: data.json}}
operations:
  - name: summarize
    type: map
    prompt: "{{% if input.id == 1 %}}{{{{ input.text|center(10**10) }}}}{{% else %}}Summarize: {{{{ input.text }}}}{{% endif %}}"
    output: {{schema: {{summary: string}}}}
    validate:
      - input['id'] != 2 or ((10**1000)**1000)**1000 > 0
      - input['id'] != 3 or len(sum([[0]*10**6]*10**6, [])) > 0
pipeline:
  steps:
    - {{name: s, input: docs, operations: [summarize]}}
  output: {{type: file, path: out.json}}
"""


def test_item3_validate_and_template_bounds_end_in_error_rows(
    tmp_path: Path, llm_server: FakeLLMServer
) -> None:
    llm_server.handler = lambda body: Reply(tool_args={"summary": "a summary"})
    rows = [{"id": i, "text": f"document {i}"} for i in range(4)]
    (tmp_path / "data.json").write_text(json.dumps(rows))
    (tmp_path / "pipeline.yaml").write_text(BOUNDED_PIPE.format(base=llm_server.base_url))
    start = time.monotonic()
    done = _cli("run", "pipeline.yaml", cwd=tmp_path)
    assert time.monotonic() - start < 60
    assert "Traceback" not in done.stderr, done.stderr
    assert [r["id"] for r in json.loads((tmp_path / "out.json").read_text())] == [0]
    accounted = {0}
    reasons = {}
    for name in ("out.errors.jsonl", "out.quarantine.jsonl"):
        for line in (tmp_path / name).read_text().splitlines():
            record = json.loads(line)
            accounted.add(record["row"]["id"])
            reasons[record["row"]["id"]] = record["reason"] + json.dumps(record.get("failures"))
    assert accounted == {0, 1, 2, 3}
    assert "center" in reasons[1] and "8192 bits" in reasons[2] and "numbers only" in reasons[3]
