"""`llmassert synth` through the CLI: summaries, the HTML report, and one-line errors that leave
--out untouched."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from llmassert.cli import main
from llmassert.config import Settings
from llmassert.testing.fake_server import FakeLLMServer, Reply

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "prompts"


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    return Path(shutil.copytree(EXAMPLES, tmp_path / "prompts"))


def test_json_summary(prompts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(
        ["synth", str(prompts), "--out", str(out), "--json", "--holdout", "0.5", "--seed", "2"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert [p["name"] for p in summary["prompts"]] == [
        "code_review_commenter",
        "product_update_email",
        "ticket_summarizer",
    ]
    for p in summary["prompts"]:
        assert set(p) == {
            "name",
            "versions",
            "criteria",
            "candidates",
            "selected",
            "coverage",
            "ffr",
            "test_coverage",
            "test_ffr",
            "checked_version",
            "retired",
            "validated",
            "not_instructions",
        }
        assert p["validated"] is True  # labeled responses measured the selection
        assert p["selected"] >= 1 and p["test_coverage"] is not None
    assert (out / "ticket_summarizer.py").is_file()


def test_table_and_html_report(
    prompts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html = tmp_path / "report.html"
    code = main(["synth", str(prompts), "--out", str(tmp_path / "out"), "--html", str(html)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "product_update_email" in captured.out and "FFR" in captured.out
    assert "wrote 3 modules and 3 manifests" in captured.out
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert page.count("<h2>") == 3 and "Coverage / false-failure trade-off" in page


def test_relaxed_targets_warn_but_succeed_and_strict_fails(
    prompts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = prompts / "code_review_commenter"
    out = tmp_path / "out"
    assert main(["synth", str(target), "--out", str(out), "--alpha", "1", "--tau", "0"]) == 0
    assert "best reachable coverage" in capsys.readouterr().out
    strict = tmp_path / "strict"
    code = main(
        ["synth", str(target), "--out", str(strict), "--alpha", "1", "--tau", "0", "--strict"]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert not strict.exists()


def make_bad_input(kind: str, tmp_path: Path, prompts: Path) -> list[str]:
    if kind == "empty folder":
        (tmp_path / "empty").mkdir()
        return [str(tmp_path / "empty")]
    if kind == "one version":
        solo = tmp_path / "solo"
        solo.mkdir()
        (solo / "v1.txt").write_text("Summarize the text in three bullets.\n")
        return [str(solo)]
    if kind == "unreadable file":
        (prompts / "product_update_email" / "v3.txt").write_bytes(b"Keep it \xff\xfe short.")
        return [str(prompts)]
    if kind == "bad labels":
        (prompts / "code_review_commenter" / "labeled.jsonl").write_text("{not json\n")
        return [str(prompts)]
    if kind == "labels flag":
        bad = tmp_path / "labels.jsonl"
        bad.write_text('{"input": {}, "response": "x", "label": "maybe"}\n')
        return [str(prompts / "product_update_email"), "--labels", str(bad)]
    if kind == "git outside repo":
        lone = tmp_path / "lone.txt"
        lone.write_text("Answer briefly.\n")
        return [str(lone), "--git"]
    if kind == "missing path":
        return [str(tmp_path / "nope")]
    raise AssertionError(kind)


@pytest.mark.parametrize(
    ("kind", "needle"),
    [
        ("empty folder", "empty"),
        ("one version", "only one version"),
        ("unreadable file", "v3.txt"),
        ("bad labels", "labeled.jsonl"),
        ("labels flag", "labels.jsonl"),
        ("git outside repo", "lone.txt"),
        ("missing path", "nope"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    kind: str, needle: str, prompts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if kind == "git outside repo" and shutil.which("git") is None:
        pytest.skip("git not installed")
    if kind == "git outside repo":
        probe = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=tmp_path, capture_output=True
        )
        if probe.returncode == 0:
            pytest.skip("tmp_path is inside a git repository")
    out = tmp_path / "out"
    code = main(["synth", *make_bad_input(kind, tmp_path, prompts), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert needle in err
    assert not out.exists()


def test_bad_option_values_are_usage_errors(prompts: Path, tmp_path: Path) -> None:
    for args in (["--alpha", "1.5"], ["--method", "magic"], ["--holdout", "-0.1"]):
        assert main(["synth", str(prompts), "--out", str(tmp_path / "o"), *args]) == 2
    assert not (tmp_path / "o").exists()


def test_model_flag_runs_the_llm_path_over_http(
    prompts: Path,
    tmp_path: Path,
    llm_server: FakeLLMServer,
    llm_settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    llm_server.handler = scripted
    out = tmp_path / "out"
    code = main(
        [
            "synth",
            str(prompts / "product_update_email"),
            "--out",
            str(out),
            "--json",
            "--model",
            "openai/fake-model",
            "--api-base",
            llm_server.base_url,
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    (summary,) = json.loads(captured.out)["prompts"]
    assert summary["candidates"] > 0
    manifest = json.loads((out / "product_update_email.json").read_text())
    assert manifest["model"] == "openai/fake-model"
    assert any(c["source"] == "llm" for c in manifest["candidates"])
    assert llm_server.requests  # real HTTP to the loopback server
    key = os.environ["OPENAI_API_KEY"]  # the fixture's recognizable fake key
    assert all(key not in f.read_text() for f in out.iterdir())


def scripted(body: dict[str, Any]) -> Reply:
    """A cooperative model: one check per criterion, no judges, no subsumption claims."""
    tool = body["tools"][0]["function"]["name"]
    if tool == "categorize":
        return Reply(tool_args={"category": "Inclusion", "reason": "scripted"})
    if tool == "candidates":
        code = "def non_empty(example, response):\n    return len(response.strip()) > 0\n"
        return Reply(
            tool_args={
                "checks": [{"name": "non_empty", "description": "says something", "code": code}],
                "judges": [],
            }
        )
    return Reply(tool_args={"pairs": []})
