"""`llmassert select`: JSON and table output, exit codes, and re-selection from a manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmassert.cli import main
from llmassert.synth.manifest import Manifest, Metrics, SelectionRecord, split_metrics
from llmassert.synth.models import Candidate, Category, Criterion

# rows 0-3 bad, 4-7 good; see tests/select/test_select.py for why {a, b} is the cov optimum
MATRIX: dict[str, Any] = {
    "assertions": ["a", "b", "c", "d"],
    "M": [
        [0, 1, 0, 1],
        [0, 1, 0, 1],
        [1, 0, 0, 0],
        [1, 0, 0, 1],
        [1, 0, 0, 1],
        [1, 1, 0, 1],
        [1, 1, 0, 1],
        [1, 1, 1, 1],
    ],
    "y": [0, 0, 0, 0, 1, 1, 1, 1],
    "K": None,
}


@pytest.fixture
def matrix_file(tmp_path: Path) -> Path:
    path = tmp_path / "matrix.json"
    path.write_text(json.dumps(MATRIX))
    return path


def test_json_output(matrix_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["select", str(matrix_file), "--method", "cov", "--alpha", "1", "--tau", "0.25", "--json"]
    )
    out = capsys.readouterr().out
    assert code == 0
    data = json.loads(out)  # exactly one JSON document on stdout, nothing else
    assert list(data)[:7] == ["method", "selected", "count", "coverage", "ffr", "status", "seconds"]
    assert data["method"] == "cov" and data["selected"] == ["a", "b"] and data["count"] == 2
    assert (data["coverage"], data["ffr"], data["status"]) == (1.0, 0.25, "optimal")
    assert isinstance(data["seconds"], float)
    assert data["written"] == []


@pytest.mark.parametrize("solver", ["cbc", "highs"])
def test_table_output(matrix_file: Path, capsys: pytest.CaptureFixture[str], solver: str) -> None:
    code = main(
        [
            "select",
            str(matrix_file),
            "--method",
            "sub",
            "--alpha",
            "0.5",
            "--tau",
            "0.25",
            "--solver",
            solver,
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "sub:" in out and "proven optimal" in out and solver in out
    assert "presolve: 4 x 8 ->" in out


def test_infeasible_targets_exit_2_with_the_nearest(
    matrix_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["select", str(matrix_file), "--method", "cov", "--alpha", "1", "--tau", "0", "--json"]
    )
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {matrix_file}: cov: cannot reach coverage >= 1")
    assert lines[0].endswith("nearest feasible: --alpha 0.75 --tau 0")


def test_malformed_matrix_exit_2_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps({**MATRIX, "y": [0, 1]}))
    assert main(["select", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {path}: y: has 2 labels but M has 8 rows (one label per response)"


def test_out_of_range_alpha_is_a_usage_error(matrix_file: Path) -> None:
    assert main(["select", str(matrix_file), "--alpha", "1.5"]) == 2


# -- a synthesis manifest: re-select without any LLM ---------------------------------------------

NO_FOO = Criterion(
    id="c-foo", prompt="demo", version=1, text="Never say foo.", category=Category.EXCLUSION
)
SHORT = Criterion(id="c-short", prompt="demo", version=2, text="Be brief.", category=Category.COUNT)


def candidate(name: str, criterion: str, body: str) -> Candidate:
    code = f"def {name}(example, response):\n    return {body}\n"
    return Candidate(name=name, criterion_id=criterion, kind="deterministic", code=code)


CANDIDATES = [
    candidate("no_foo", "c-foo", "'foo' not in response"),
    candidate("no_foo_ci", "c-foo", "'foo' not in response.lower()"),
    candidate("short", "c-short", "len(response) < 20"),
]
# responses: "foo" (bad), "FOO" (bad), "x" * 30 (bad), "fine" (good), "also fine" (good)
MANIFEST_M = [[0, 0, 1], [1, 0, 1], [1, 1, 0], [1, 1, 1], [1, 1, 1]]
MANIFEST_Y = [0, 0, 0, 1, 1]


@pytest.fixture
def manifest_file(tmp_path: Path) -> Path:
    manifest = Manifest(
        prompt="demo",
        versions=2,
        model=None,
        alpha=0.6,
        tau=0.25,
        method="sub",
        criteria=[NO_FOO, SHORT],
        candidates=CANDIDATES,
        assertions=[c.name for c in CANDIDATES],
        groups=[c.criterion_id for c in CANDIDATES],
        M=MANIFEST_M,
        y=MANIFEST_Y,
        K=None,
        selection=SelectionRecord(
            method="sub",
            alpha=0.6,
            tau=0.25,
            selected=["no_foo_ci"],
            count=1,
            coverage=None,
            ffr=None,
            status="optimal",
        ),
        metrics=Metrics(train=split_metrics(MANIFEST_M, MANIFEST_Y, [])),
    )
    path = tmp_path / "assertions" / "demo.json"
    path.parent.mkdir()
    path.write_text(manifest.dumps())
    return path


def test_reselecting_a_manifest_rewrites_module_and_manifest(
    manifest_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["select", str(manifest_file), "--method", "cov", "--alpha", "1", "--tau", "0", "--json"]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["selected"] == ["no_foo_ci", "short"]
    module = manifest_file.with_suffix(".py")
    assert sorted(data["written"]) == sorted([str(module), str(manifest_file)])
    saved = json.loads(manifest_file.read_text())
    assert saved["selection"]["selected"] == ["no_foo_ci", "short"]
    assert (saved["alpha"], saved["tau"], saved["method"]) == (1.0, 0.0, "cov")
    source = module.read_text()
    assert "def no_foo_ci(" in source and "def short(" in source and "def no_foo(" not in source


def test_manifest_defaults_are_its_own_targets(
    manifest_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "elsewhere"
    assert main(["select", str(manifest_file), "--json", "--out", str(out)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["method"], data["alpha"], data["tau"]) == ("sub", 0.6, 0.25)
    assert (out / "demo.py").exists() and (out / "demo.json").exists()


def test_infeasible_manifest_writes_nothing(
    manifest_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    relabeled = json.loads(manifest_file.read_text())
    relabeled["y"] = [0, 0, 0, 0, 0]  # all bad: coverage 1 needs rows 3-4, which nothing fails
    manifest_file.write_text(json.dumps(relabeled))
    assert main(["select", str(manifest_file), "--method", "cov", "--alpha", "1"]) == 2
    assert "nearest feasible" in capsys.readouterr().err
    assert not manifest_file.with_suffix(".py").exists()


# One bad response every assertion catches; eight good ones, tau 0.25 allows two false failures.
NEAR_TAU: dict[str, Any] = {
    "assertions": ["x", "y1", "y2", "y3"],
    "M": [[0, 0, 0, 0], [0, 1, 1, 1], [0, 1, 1, 1], [1, 0, 1, 1], [1, 1, 0, 1], [1, 1, 1, 0]]
    + [[1, 1, 1, 1]] * 3,
    "y": [0] + [1] * 8,
}


def test_sub_rule_option_switches_what_sub_optimizes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "near_tau.json"
    path.write_text(json.dumps(NEAR_TAU))
    args = ["select", str(path), "--method", "sub", "--alpha", "1", "--tau", "0.25", "--json"]
    assert main(args) == 0
    lexicographic = json.loads(capsys.readouterr().out)
    assert (lexicographic["selected"], lexicographic["unsubsumed"]) == (["y1", "y2"], 2)
    assert lexicographic["sub_rule"] == "lexicographic"
    assert main([*args, "--sub-rule", "exemption"]) == 0
    exemption = json.loads(capsys.readouterr().out)
    assert (exemption["selected"], exemption["unsubsumed"]) == (["x"], 3)
    assert exemption["sub_rule"] == "exemption"
    # the table names the rule and the unsubsumed count
    assert main(args[:-1]) == 0
    assert "left out and not subsumed: 2 of 2 (lexicographic rule)" in capsys.readouterr().out
    assert main([*args[:-1], "--sub-rule", "loose"]) == 2
