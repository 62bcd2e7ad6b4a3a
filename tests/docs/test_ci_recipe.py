"""docs/ci.md's CI recipe, run verbatim: its shell block and the `run:` steps of its workflow, as
subprocesses, against the loopback server, with real files and a real git repository."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmassert.testing.fake_server import FakeLLMServer, Reply

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ci.md"

PIPELINE = """\
default_model: openai/gpt-4o-mini
datasets:
  docs: {type: file, path: docs.json}
operations:
  - name: summarize
    type: map
    prompt: "Summarize in at most {{ input.max_words }} words: {{ input.text }}"
    output:
      schema:
        summary: string
pipeline:
  steps:
    - {name: s, input: docs, operations: [summarize]}
  output: {type: file, path: ../out/summaries.json}
"""
CHECKS = '''
from llmassert.assertions.helpers import word_count


def max_words(example, response):
    """Answer in at most {max_words} words."""
    return word_count(response) <= int(example["max_words"])


def no_feature(example, response):
    """Never use the word 'feature'."""
    return "feature" not in response.lower()
'''
DOCS = [{"id": f"doc-{i}", "text": f"report number {i}", "max_words": 6} for i in range(1, 7)]


def _block(marker: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"<!-- ci-recipe:{marker} -->\n```\w*\n(.*?)```", text, re.S)
    assert match, f"docs/ci.md has no ci-recipe:{marker} block"
    return match.group(1)


def _answers(feature_in: set[str]) -> Any:
    def handler(body: dict[str, Any]) -> Reply:
        text = json.dumps(body["messages"])
        doc = next(d["id"] for d in DOCS if d["text"] in text)
        summary = "A feature recap." if doc in feature_in else "Results are up."
        return Reply(tool_args={"summary": summary})

    return handler


def _sh(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        shlex.split(command), cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "summaries.yaml").write_text(PIPELINE)
    (tmp_path / "pipelines" / "docs.json").write_text(json.dumps(DOCS))
    (tmp_path / "assertions").mkdir()
    (tmp_path / "assertions" / "summaries.py").write_text(CHECKS)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    return tmp_path


def test_the_ci_recipe_records_commits_gates_and_catches_a_swapped_failure(
    project: Path, llm_server: FakeLLMServer
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "LLMASSERT"))},
        "PYTHONPATH": str(ROOT),
        "LLMASSERT_API_BASE": llm_server.base_url,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    record = [line for line in _block("record").splitlines() if line.strip()]
    workflow = yaml.safe_load(_block("workflow"))
    gates = [
        step["run"]
        for step in workflow["jobs"]["assertions"]["steps"]
        if str(step.get("run", "")).startswith("llmassert")
    ]
    assert len(gates) == 1
    uploads = [s for s in workflow["jobs"]["assertions"]["steps"] if "upload" in s.get("uses", "")]
    junit_path = uploads[0]["with"]["path"]
    assert f"--junit {junit_path}" in gates[0]

    # 1. Record with a key: doc-5's summary breaks no_feature (a known failure).
    llm_server.handler = _answers({"doc-5"})
    with_key = {**env, "OPENAI_API_KEY": "sk-test-recipe-0123456789"}
    for command in record:
        done = _sh(command, project, with_key)
        assert done.returncode == 0, (command, done.stderr)
    recorded = len(llm_server.requests)
    assert recorded == len(DOCS)
    tracked = _sh("git ls-files", project, env).stdout.split()
    assert "tests/cassettes/run-summaries.yaml" in tracked
    assert "ci/llmassert-baseline.json" in tracked
    assert "sk-test-recipe" not in (project / "tests/cassettes/run-summaries.yaml").read_text()

    # 2. CI: no key; the model would now answer differently, but only the cassette is asked.
    llm_server.handler = _answers(set(DOCS[i]["id"] for i in range(6)))
    gate = _sh(gates[0], project, env)
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert "no regressions against the baseline; 0 fixed checks, 1 known failure" in gate.stdout
    assert len(llm_server.requests) == recorded
    cases = {c.get("name"): c for c in ET.parse(project / junit_path).getroot().iter("testcase")}
    assert set(cases) == {d["id"] for d in DOCS}
    skipped = cases["doc-5"].find("skipped")
    assert skipped is not None and "no_feature" in (skipped.get("message") or "")

    # 3. A change fixes doc-5 and breaks doc-2: same pass rate, and the gate still fails.
    llm_server.handler = _answers({"doc-2"})
    assert _sh(record[0], project, with_key).returncode == 0  # re-record only the cassette
    gate = _sh(gates[0], project, env)
    assert gate.returncode == 1, gate.stdout + gate.stderr
    shown = DOC.read_text(encoding="utf-8").split("names it:\n\n```\n", 1)[1].split("```")[0]
    for line in shown.strip().splitlines():  # the sample output in the docs, verbatim
        assert line in gate.stdout, (line, gate.stdout)
    failure = ET.parse(project / junit_path).getroot().find(".//testcase[@name='doc-2']/failure")
    assert failure is not None and failure.get("message") == "no_feature: returned False"

    # 4. A prompt the cassette never saw: CassetteMissError, exit 2, no model call.
    yaml_path = project / "pipelines" / "summaries.yaml"
    yaml_path.write_text(PIPELINE.replace("Summarize in", "Summarise in"))
    before = len(llm_server.requests)
    gate = _sh(gates[0], project, env)
    assert gate.returncode == 2
    assert "request not in cassette" in gate.stderr and "run-summaries.yaml" in gate.stderr
    errors = [x for x in gate.stderr.splitlines() if x.startswith("error:")]
    assert len(errors) == 1 and errors[0].endswith("did not change)"), gate.stderr
    assert "POST /v1/chat/completions (model gpt-4o-mini): no recorded request" in errors[0]
    assert len(llm_server.requests) == before
