"""`llmassert test`: exit codes, the table, JUnit XML shape, baselines, judges in replay."""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from llmassert.cli import main
from llmassert.config import Settings
from llmassert.testing.fake_server import FakeLLMServer, Reply

CHECKS = '''
from llmassert.assertions.helpers import word_count


def max_words(example, response):
    """Answer in at most {max_words} words."""
    return word_count(response) <= int(example["max_words"])


def no_feature(example, response):
    """Never use the word 'feature'."""
    return "feature" not in response.lower()
'''

GOOD = [
    {"id": "a", "input": {"max_words": 5}, "response": "Short and sweet."},
    {"id": "b", "input": {"max_words": 5}, "response": "All good here."},
]
ONE_BAD = [*GOOD, {"input": {"max_words": 3}, "response": "A new feature that is long."}]


def _write(tmp_path: Path, records: list[dict[str, Any]], name: str = "rec.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture
def checks(tmp_path: Path) -> Path:
    path = tmp_path / "checks.py"
    path.write_text(CHECKS)
    return path


def _junit_shape(path: Path) -> ET.Element:
    """Parse and check what JUnit consumers rely on; return the root."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for suite in root:
        assert suite.tag == "testsuite"
        assert suite.get("name") and float(suite.get("time", "x")) >= 0
        assert suite.get("timestamp") and suite.get("hostname") is not None
        cases = suite.findall("testcase")
        counts = dict.fromkeys(totals, 0)
        for case in cases:
            assert case.get("classname") and case.get("name")
            assert float(case.get("time", "x")) >= 0
            outcome = [child for child in case if child.tag != "system-out"]
            assert len(outcome) <= 1
            for child in outcome:
                assert child.tag in ("failure", "error", "skipped")
                assert child.get("message")
                key = {"failure": "failures", "error": "errors", "skipped": "skipped"}[child.tag]
                counts[key] += 1
        counts["tests"] = len(cases)
        for key, value in counts.items():
            assert int(suite.get(key, "-1")) == value, key
            totals[key] += value
    for key, value in totals.items():
        assert int(root.get(key, "-1")) == value, key
    return root


def test_all_passing_exits_0_and_writes_junit(
    tmp_path: Path, checks: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit = tmp_path / "reports" / "junit.xml"
    code = main(["test", str(_write(tmp_path, GOOD)), "-a", str(checks), "--junit", str(junit)])
    assert code == 0
    out = capsys.readouterr().out
    assert "max_words" in out and "100.0%" in out
    root = _junit_shape(junit)
    assert root.get("tests") == "4" and root.get("failures") == "0"
    assert [s.get("name") for s in root] == ["checks.max_words", "checks.no_feature"]
    assert [c.get("name") for c in root[0].findall("testcase")] == ["a", "b"]


def test_a_failing_assertion_exits_1_with_failure_elements(
    tmp_path: Path, checks: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit = tmp_path / "junit.xml"
    code = main(["test", str(_write(tmp_path, ONE_BAD)), "-a", str(checks), "--junit", str(junit)])
    assert code == 1
    out = capsys.readouterr().out
    assert "line-3 max_words: returned False" in out and "FAIL" in out
    root = _junit_shape(junit)
    assert root.get("failures") == "2" and root.get("tests") == "6"
    failure = root.find("./testsuite[@name='checks.no_feature']/testcase[@name='line-3']/failure")
    assert failure is not None and failure.get("type") == "failed"
    assert "criterion: Never use the word 'feature'." in (failure.text or "")


def test_baseline_gates_only_on_regressions(
    tmp_path: Path, checks: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tmp_path / "baseline.json"
    known = _write(tmp_path, ONE_BAD)
    assert main(["test", str(known), "-a", str(checks), "--write-baseline", str(base)]) == 0
    saved = json.loads(base.read_text())
    assert saved["records"] == 3 and saved["pass_rates"]["max_words"] == pytest.approx(2 / 3)

    junit = tmp_path / "junit.xml"
    assert (
        main(
            ["test", str(known), "-a", str(checks), "--baseline", str(base), "--junit", str(junit)]
        )
        == 0
    )
    assert "no regressions" in capsys.readouterr().out
    root = _junit_shape(junit)  # known failures are reported as skipped, not failures
    assert (root.get("failures"), root.get("skipped")) == ("0", "2")

    worse = _write(
        tmp_path, [*ONE_BAD, {"input": {"max_words": 1}, "response": "two words"}], "worse.jsonl"
    )
    assert main(["test", str(worse), "-a", str(checks), "--baseline", str(base)]) == 1
    out = capsys.readouterr().out
    assert "REGRESSED" in out and "1 assertion(s) regressed" in out
    assert (
        main(["test", str(worse), "-a", str(checks), "--baseline", str(base), "--tolerance", "0.2"])
        == 0
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda d: (d / "missing.jsonl", d / "checks.py"),
            "missing.jsonl: does not exist",
        ),
        (lambda d: (d / "bad.jsonl", d / "checks.py"), "bad.jsonl: line 2: invalid JSON"),
        (lambda d: (d / "noresp.jsonl", d / "checks.py"), "noresp.jsonl: line 1: response: Field"),
        (lambda d: (d / "rec.jsonl", d / "evil.py"), "evil.py: line 2: refused: import of 'os'"),
        (lambda d: (d / "rec.jsonl", d / "none.py"), "none.py: assertion module not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, checks: Path, capsys: pytest.CaptureFixture[str], make: Any, message: str
) -> None:
    _write(tmp_path, GOOD)
    (tmp_path / "bad.jsonl").write_text(json.dumps(GOOD[0]) + "\n{nope\n")
    (tmp_path / "noresp.jsonl").write_text(json.dumps({"input": {}}) + "\n")
    (tmp_path / "evil.py").write_text("\nimport os\n\ndef a(example, response):\n    return True\n")
    recorded, module = make(tmp_path)
    junit = tmp_path / "junit.xml"
    assert main(["test", str(recorded), "-a", str(module), "--junit", str(junit)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not junit.exists()  # nothing half-written


def test_a_module_that_loops_forever_fails_its_check_instead_of_hanging(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = tmp_path / "loops.py"
    module.write_text(
        textwrap.dedent("""
        def spins(example, response):
            while True:
                pass
    """)
    )
    assert (
        main(["test", str(_write(tmp_path, GOOD[:1])), "-a", str(module), "--timeout", "0.3"]) == 1
    )
    assert "timed out after 0.3 s" in capsys.readouterr().out


JUDGED = """
from llmassert.assertions.judge import llm_judge


def polite(example, response):
    return llm_judge("Is the response polite?", example, response)
"""


def test_judge_assertions_record_then_replay_offline(
    tmp_path: Path,
    llm_server: FakeLLMServer,
    llm_settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = tmp_path / "judged.py"
    module.write_text(JUDGED)
    llm_server.handler = lambda body: Reply(
        tool_args={"answer": "no" if "rude" in json.dumps(body) else "yes", "reason": "ok"}
    )
    recorded = _write(
        tmp_path,
        [
            {"input": {}, "response": "Thank you kindly."},
            {"input": {}, "response": "That is rude."},
        ],
    )
    cassettes = tmp_path / "cassettes"
    common = [
        "test",
        str(recorded),
        "-a",
        str(module),
        "--model",
        "openai/fake-model",
        "--api-base",
        str(llm_settings.api_base),
        "--no-cache",
    ]
    assert main([*common, "--record", str(cassettes)]) == 1
    asked = len(llm_server.requests)
    assert asked == 2 and list(cassettes.glob("*.yaml"))
    capsys.readouterr()
    monkeypatch.delenv("OPENAI_API_KEY")  # CI replays without a key
    assert main([*common, "--replay", str(cassettes)]) == 1
    assert "polite: judge answered no: ok" in capsys.readouterr().out
    assert len(llm_server.requests) == asked


PIPELINE = """\
default_model: openai/fake-model
datasets:
  docs: {type: file, path: data.json}
operations:
  - name: summarize
    type: map
    prompt: "Summarize: {{ input.text }}"
    output:
      schema:
        summary: string
pipeline:
  steps:
    - {name: s, input: docs, operations: [summarize]}
  output: {type: file, path: out.json}
"""


def test_pipeline_outputs_can_be_checked_in_replay(
    tmp_path: Path,
    llm_server: FakeLLMServer,
    llm_settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "data.json").write_text(
        json.dumps(
            [
                {"text": "quarterly results", "max_words": 3},
                {"text": "the new feature", "max_words": 3},
            ]
        )
    )
    pipeline = tmp_path / "pipe.yaml"
    pipeline.write_text(PIPELINE)
    module = tmp_path / "checks.py"
    module.write_text(CHECKS)
    llm_server.handler = lambda body: Reply(
        tool_args={
            "summary": "A feature recap." if "feature" in json.dumps(body) else "Results are up."
        }
    )
    cassettes = tmp_path / "cassettes"
    common = [
        "test",
        "--pipeline",
        str(pipeline),
        "--response-key",
        "summary",
        "-a",
        str(module),
        "--api-base",
        str(llm_settings.api_base),
        "--no-cache",
    ]
    assert main([*common, "--record", str(cassettes)]) == 1
    asked = len(llm_server.requests)
    out = capsys.readouterr().out
    assert "row-2 no_feature: returned False" in out
    assert main([*common, "--replay", str(cassettes)]) == 1
    assert len(llm_server.requests) == asked
    assert not (tmp_path / "out.json").exists()  # the pipeline's own output is left alone


def test_either_recorded_or_pipeline(checks: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", "-a", str(checks)]) == 2
    assert "either a RECORDED.jsonl file or --pipeline" in capsys.readouterr().err
