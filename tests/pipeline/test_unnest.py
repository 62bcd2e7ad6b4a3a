"""unnest: DocETL's list and dict semantics, keep_empty, expand_fields, recursive/depth."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from llmassert.config import Settings
from llmassert.pipeline.context import OpContext, PipelineEnv
from llmassert.pipeline.operators.base import Outcome
from llmassert.pipeline.operators.unnest import UnnestOperator, UnnestSpec
from llmassert.pipeline.templates import KeySet


def make(tmp_path: Path, **spec: Any) -> UnnestOperator:
    return UnnestOperator(
        UnnestSpec.model_validate({"name": "un", "unnest_key": "v", **spec}),
        PipelineEnv(spec_file="p.yaml", base_dir=tmp_path),
    )


def run(op: UnnestOperator, row: dict[str, Any]) -> Outcome:
    ctx = OpContext(op.name, env=op.env, settings=Settings(), client=None)
    return asyncio.run(op.process_row(row, ctx))


def test_list_of_scalars_gives_one_row_per_item_under_the_same_key(tmp_path: Path) -> None:
    row = {"id": 1, "v": ["a", "b", "c"]}
    out = run(make(tmp_path), row)
    assert out.rows == [{"id": 1, "v": "a"}, {"id": 1, "v": "b"}, {"id": 1, "v": "c"}]
    assert row == {"id": 1, "v": ["a", "b", "c"]}  # the input row is not modified


def test_list_of_dicts_stays_nested_unless_fields_are_expanded(tmp_path: Path) -> None:
    row = {"id": 1, "v": [{"name": "x", "qty": 2}, {"name": "y"}]}
    assert run(make(tmp_path), row).rows == [
        {"id": 1, "v": {"name": "x", "qty": 2}},
        {"id": 1, "v": {"name": "y"}},
    ]
    expanded = run(make(tmp_path, expand_fields=["name", "qty"]), row).rows
    assert expanded == [
        {"id": 1, "v": {"name": "x", "qty": 2}, "name": "x", "qty": 2},
        {"id": 1, "v": {"name": "y"}, "name": "y", "qty": None},
    ]
    # recursive: dict elements are expanded, all of their keys by default (DocETL).
    recursive = run(make(tmp_path, recursive=True), row).rows
    assert recursive[0] == {"id": 1, "v": {"name": "x", "qty": 2}, "name": "x", "qty": 2}
    assert recursive[1] == {"id": 1, "v": {"name": "y"}, "name": "y"}


def test_dict_value_keeps_the_dict_and_lifts_fields(tmp_path: Path) -> None:
    row = {"id": 1, "v": {"name": "Ann", "age": 30, "email": "a@x"}}
    out = run(make(tmp_path, expand_fields=["name", "age", "city"]), row).rows
    assert out == [{**row, "name": "Ann", "age": 30, "city": None}]
    assert run(make(tmp_path), row).rows == [{**row, "name": "Ann", "age": 30, "email": "a@x"}]


def test_empty_lists_are_kept_or_counted_as_filtered(tmp_path: Path) -> None:
    for empty in ([], None):
        dropped = run(make(tmp_path), {"id": 1, "v": empty})
        assert dropped.rows == [] and dropped.filtered == 1
        kept = run(make(tmp_path, keep_empty=True), {"id": 1, "v": empty})
        assert kept.rows == [{"id": 1, "v": None}] and kept.filtered == 0


def test_recursive_flattens_nested_lists_down_to_depth(tmp_path: Path) -> None:
    row = {"v": [[1, [2, 3]], 4]}
    assert [r["v"] for r in run(make(tmp_path), row).rows] == [[1, [2, 3]], 4]
    assert [r["v"] for r in run(make(tmp_path, recursive=True), row).rows] == [1, 2, 3, 4]
    assert [r["v"] for r in run(make(tmp_path, recursive=True, depth=2), row).rows] == [
        1,
        [2, 3],
        4,
    ]


def test_bad_values_are_errors_not_crashes(tmp_path: Path) -> None:
    op = make(tmp_path)
    assert run(op, {"id": 1}).errors[0].reason == "unnest_key 'v' is missing"
    assert run(op, {"v": "abc"}).errors[0].reason == "unnest_key 'v' is str, not a list or dict"


def test_output_keys_know_expanded_fields(tmp_path: Path) -> None:
    keys = make(tmp_path, expand_fields=["name"]).output_keys(KeySet.of(["id", "v"]))
    assert keys == KeySet.of(["id", "v", "name"])
    assert make(tmp_path).output_keys(KeySet.of(["id", "v"])).open
