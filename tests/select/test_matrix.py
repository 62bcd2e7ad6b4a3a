"""Loading matrices: SPADE's layout, synthesis manifests, and one-line errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmassert.errors import MatrixError
from llmassert.select import Matrix, coverage, ffr

GOOD: dict[str, Any] = {
    "assertions": ["a", "b"],
    "M": [[1, 0], [0, 1], [1, 1]],
    "y": [0, 0, 1],
    "K": [[0, 1], [0, 0]],
}


def write(tmp_path: Path, data: Any, name: str = "matrix.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_spade_layout_loads_and_ignores_responses_and_semantics(tmp_path: Path) -> None:
    path = write(tmp_path, {**GOOD, "responses": ["r0", "r1", "r2"], "semantics": "M[i][j]=1 ..."})
    m = Matrix.load(path)
    assert m.assertions == ["a", "b"]
    assert m.M == [[1, 0], [0, 1], [1, 1]]
    assert m.y == [0, 0, 1] and m.K == [[0, 1], [0, 0]]
    assert (m.n_assertions, m.n_responses) == (2, 3)


def test_labels_and_subsumption_are_optional(tmp_path: Path) -> None:
    m = Matrix.load(write(tmp_path, {"assertions": ["a"], "M": [[1], [0]], "y": None}))
    assert m.y is None and m.K is None


def test_true_and_false_count_as_one_and_zero(tmp_path: Path) -> None:
    m = Matrix.load(write(tmp_path, {"assertions": ["a"], "M": [[True], [False]], "y": [1, 0]}))
    assert m.M == [[1], [0]]


def test_manifest_layout_reads_its_matrix_and_candidates(tmp_path: Path) -> None:
    manifest = {
        "format": "llmassert.manifest",
        "prompt": "p",
        "assertions": ["a", "b"],
        "M": [[1, 0], [0, 1]],
        "y": [],
        "K": None,
        "groups": ["c1", "c2"],
        "candidates": [
            {"name": "a", "kind": "llm_judge", "cost": 10.0, "criterion_id": "c1"},
            {"name": "b", "kind": "deterministic", "cost": 1.0, "criterion_id": "c2"},
        ],
        "selection": {"selected": []},
        "anything_else": 1,
    }
    m = Matrix.load(write(tmp_path, manifest))
    assert m.y is None  # a manifest without labeled responses
    assert m.kinds == ["llm_judge", "deterministic"]
    assert m.costs == [10.0, 1.0]
    assert m.groups == ["c1", "c2"]


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({**GOOD, "M": [[1, 0], [0], [1, 1]]}, "M[1]", "has 1 values, expected 2"),
        ({**GOOD, "M": [[1, 0], [0, 2], [1, 1]]}, "M[1][1]", "must be 0 or 1, got 2"),
        ({**GOOD, "M": [[1, 0.5], [0, 1], [1, 1]]}, "M[0][1]", "must be 0 or 1, got 0.5"),
        ({**GOOD, "M": [[1, "1"], [0, 1], [1, 1]]}, "M[0][1]", "must be 0 or 1, got '1'"),
        ({**GOOD, "M": [[1, [1]], [0, 1], [1, 1]]}, "M[0][1]", "must be 0 or 1"),
        ({**GOOD, "M": "rows"}, "M", "must be a list of rows"),
        ({**GOOD, "M": [[1, 0], 7, [1, 1]]}, "M[1]", "must be a list of 0/1 values"),
        ({**GOOD, "y": [0, 1]}, "y", "has 2 labels but M has 3 rows"),
        ({**GOOD, "y": [0, 1, 3]}, "y[2]", "must be 0 or 1, got 3"),
        ({**GOOD, "K": [[0, 1]]}, "K", "must be 2x2"),
        ({**GOOD, "K": [[0, 1], [0]]}, "K[1]", "has 1 values, expected 2"),
        ({**GOOD, "assertions": ["a", "a"]}, "assertions[1]", "duplicate name 'a'"),
        ({**GOOD, "assertions": "a,b"}, "assertions", "must be a list of assertion names"),
        ({**GOOD, "kinds": ["deterministic", "regex"]}, "kinds[1]", "'deterministic' or"),
        ({**GOOD, "costs": [1.0, -1]}, "costs[1]", "a finite number >= 0"),
        ({**GOOD, "groups": ["c1"]}, "groups", "one value per assertion (2), got 1"),
        ({**GOOD, "labels": [0, 0, 1]}, "labels", "unknown key 'labels'"),
    ],
)
def test_malformed_matrix_is_a_one_line_error_naming_file_and_field(
    tmp_path: Path, data: dict[str, Any], field: str, words: str
) -> None:
    path = write(tmp_path, data)
    with pytest.raises(MatrixError) as info:
        Matrix.load(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {field}: ")
    assert words in message


@pytest.mark.parametrize(
    ("text", "words"),
    [("{not json", "line 1: invalid JSON"), ("[1, 2]", "must be a JSON object")],
)
def test_unreadable_files_are_one_line_errors(tmp_path: Path, text: str, words: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(MatrixError, match=words) as info:
        Matrix.load(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MatrixError, match="does not exist"):
        Matrix.load(tmp_path / "absent.json")


def test_programmatic_construction_validates_too() -> None:
    with pytest.raises(MatrixError, match=r"M\[0\]: has 1 values"):
        Matrix(assertions=["a", "b"], M=[[1]])


def test_coverage_and_ffr_helpers() -> None:
    M = [[1, 0], [0, 1], [1, 1], [0, 1]]
    y = [0, 0, 0, 1]
    assert coverage(M, y, [0]) == pytest.approx(1 / 3)
    assert coverage(M, y, [0, 1]) == pytest.approx(2 / 3)
    assert ffr(M, y, [0]) == 1.0
    assert ffr(M, y, [1]) == 0.0
    assert coverage(M, y, []) == 0.0
    # vacuous denominators: nothing to catch, nothing to fail falsely
    assert coverage([[0]], [1], [0]) == 1.0
    assert ffr([[0]], [0], [0]) == 0.0
