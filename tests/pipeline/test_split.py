"""split: chunks, stable content-derived doc ids, chunk numbers, DocETL's delimiter rules."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llmassert.config import Settings
from llmassert.errors import SpecError
from llmassert.pipeline.context import OpContext, PipelineEnv
from llmassert.pipeline.operators.base import Outcome
from llmassert.pipeline.operators.split import SplitOperator, SplitSpec, doc_id
from llmassert.pipeline.spec import load_pipeline
from llmassert.pipeline.tokens import get_tokenizer

REPORT = " ".join(
    f"Sentence {i} of the post-mortem describes step {i} of the outage." for i in range(60)
)


def make(tmp_path: Path, **spec: Any) -> SplitOperator:
    env = PipelineEnv(spec_file="p.yaml", base_dir=tmp_path, default_model="openai/fake-model")
    return SplitOperator(SplitSpec.model_validate({"name": "split_doc", **spec}), env)


def run(op: SplitOperator, row: dict[str, Any]) -> Outcome:
    ctx = OpContext(op.name, env=op.env, settings=Settings(), client=None)
    return asyncio.run(op.process_row(row, ctx))


def test_token_chunks_keep_parent_fields_and_number_from_one(tmp_path: Path) -> None:
    op = make(tmp_path, split_key="text", method="token_count", method_kwargs={"num_tokens": 40})
    row = {"title": "Gateway outage", "text": REPORT}
    out = run(op, row)
    chunks = out.rows
    assert len(chunks) > 5
    assert "".join(c["text_chunk"] for c in chunks) == REPORT
    assert [c["split_doc_chunk_num"] for c in chunks] == list(range(1, len(chunks) + 1))
    assert {c["split_doc_id"] for c in chunks} == {doc_id(row)}
    assert all(c["title"] == "Gateway outage" and c["text"] == REPORT for c in chunks)
    tok = get_tokenizer("openai/fake-model")
    assert sum(tok.count(c["text_chunk"]) for c in chunks) <= len(chunks) * 40 + len(chunks)
    assert out.meta == {"chunks": len(chunks)}


def test_doc_ids_depend_on_content_not_position_or_run(tmp_path: Path) -> None:
    rows = [{"id": i, "text": f"document number {i}"} for i in range(3)]
    ids = [doc_id(r) for r in rows]
    assert len(set(ids)) == 3 and all(len(i) == 32 for i in ids)
    assert [doc_id(r) for r in reversed(rows)] == ids[::-1]
    assert doc_id({"text": "document number 0", "id": 0}) == ids[0]  # key order is irrelevant
    # Another interpreter (new hash seed, new process) computes the same ids.
    code = (
        "import json,sys; from llmassert.pipeline.operators.split import doc_id; "
        "print(json.dumps([doc_id(r) for r in json.loads(sys.argv[1])]))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code, json.dumps(rows)],
        check=True,
        capture_output=True,
        text=True,
        env={"PYTHONHASHSEED": "123"},
    )
    assert json.loads(other.stdout) == ids


def test_delimiter_groups_pieces_and_drops_blank_ones(tmp_path: Path) -> None:
    text = "para one\n\npara two\n\n   \n\npara three\n\npara four\n\npara five"
    op = make(
        tmp_path,
        split_key="body",
        method="delimiter",
        method_kwargs={"delimiter": "\n\n", "num_splits_to_group": 2},
    )
    chunks = [r["body_chunk"] for r in run(op, {"body": text}).rows]
    assert chunks == ["para one\n\npara two", "para three\n\npara four", "para five"]
    # DocETL's docs also show num_splits_to_group at the operation's top level.
    top = make(
        tmp_path,
        split_key="body",
        method="delimiter",
        num_splits_to_group=3,
        method_kwargs={"delimiter": "\n\n"},
    )
    assert len(run(top, {"body": text}).rows) == 2


def test_rows_without_text_are_reported_never_dropped_silently(tmp_path: Path) -> None:
    op = make(tmp_path, split_key="text", method="token_count", method_kwargs={"num_tokens": 5})
    missing = run(op, {"title": "no text"})
    assert not missing.rows and missing.errors[0].reason == "split_key 'text' is missing"
    wrong = run(op, {"text": 42})
    assert wrong.errors[0].reason == "split_key 'text' is int, not a string"
    empty = run(op, {"text": ""})
    assert not empty.rows and empty.filtered == 1


def test_spec_errors_name_the_operation_and_field(tmp_path: Path) -> None:
    (tmp_path / "d.json").write_text('[{"text": "x"}]')
    base = (
        "datasets: {d: {type: file, path: d.json}}\n"
        "pipeline: {steps: [{name: s, input: d, operations: [sp]}], output: {path: o.json}}\n"
    )
    cases = {
        "method_kwargs: {}": "method token_count needs method_kwargs.num_tokens",
        "method_kwargs: {num_tokens: 0}": "greater than or equal to 1",
        "method_kwargs: {num_tokens: 5, chunk_size: 3}": "unknown key 'chunk_size'",
    }
    for kwargs, message in cases.items():
        (tmp_path / "p.yaml").write_text(
            base + f"operations:\n- {{name: sp, type: split, split_key: text, "
            f"method: token_count, {kwargs}}}\n"
        )
        with pytest.raises(SpecError) as e:
            load_pipeline(tmp_path / "p.yaml")
        assert str(e.value).startswith(f"{tmp_path / 'p.yaml'}: operations[0] (sp)")
        assert message in str(e.value) and "\n" not in str(e.value)
