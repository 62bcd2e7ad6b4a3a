"""gather: DocETL's markers and layout, windows at document edges, summaries, headers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from llmassert.config import Settings
from llmassert.pipeline.context import OpContext, PipelineEnv
from llmassert.pipeline.operators.base import Outcome
from llmassert.pipeline.operators.gather import GatherOperator, GatherSpec


def make(tmp_path: Path, **extra: Any) -> GatherOperator:
    spec = {
        "name": "ctx",
        "content_key": "text_chunk",
        "doc_id_key": "doc",
        "order_key": "n",
        **extra,
    }
    return GatherOperator(
        GatherSpec.model_validate(spec), PipelineEnv(spec_file="p.yaml", base_dir=tmp_path)
    )


def doc(name: str, n: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"doc": name, "n": i, "text_chunk": f"{name}-{i}", **extra} for i in range(1, n + 1)]


def gather(op: GatherOperator, rows: list[dict[str, Any]]) -> Outcome:
    """Run the operator as the executor does: one call per document, in first-seen order."""
    ctx = OpContext(op.name, env=op.env, settings=Settings(), client=None)
    groups: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(op.group_key(row), []).append(row)
    out = Outcome()
    for key, members in groups.items():
        out.extend(asyncio.run(op.process_group(key, members, ctx)))
    return out


def rendered(op: GatherOperator, rows: list[dict[str, Any]]) -> dict[tuple[str, int], str]:
    return {(r["doc"], r["n"]): r["text_chunk_rendered"] for r in gather(op, rows).rows}


NEIGHBOURS = {"previous": {"tail": {"count": 1}}, "next": {"head": {"count": 1}}}


def test_markers_and_layout_match_docetl(tmp_path: Path) -> None:
    out = rendered(make(tmp_path, peripheral_chunks=NEIGHBOURS), doc("a", 3))
    assert out[("a", 2)] == (
        "--- Previous Context ---\n[Chunk 1]\na-1\n--- End Previous Context ---\n\n"
        "--- Begin Main Chunk ---\na-2\n--- End Main Chunk ---\n\n"
        "--- Next Context ---\n[Chunk 3]\na-3\n--- End Next Context ---"
    )


def test_windows_stop_at_document_edges(tmp_path: Path) -> None:
    rows = doc("a", 3) + doc("b", 2)
    rows = [rows[i] for i in (3, 0, 4, 2, 1)]  # interleaved and out of order
    out = rendered(make(tmp_path, peripheral_chunks=NEIGHBOURS), rows)
    first, last = out[("a", 1)], out[("a", 3)]
    assert first.startswith("--- Previous Context ---\n--- End Previous Context ---\n")
    assert "[Chunk 2]\na-2\n[... 3 characters skipped ...]\n--- End Next Context ---" in first
    assert last.endswith("--- Next Context ---\n--- End Next Context ---")
    assert "[Chunk 2]\na-2\n--- End Previous Context ---" in last
    assert "b-" not in first + last and "a-" not in out[("b", 1)] + out[("b", 2)]
    # One output row per input row, each document's rows in their input order.
    assert [(r["doc"], r["n"]) for r in gather(make(tmp_path), rows).rows] == [
        ("b", 1),
        ("b", 2),
        ("a", 1),
        ("a", 3),
        ("a", 2),
    ]


def test_head_middle_tail_summaries_and_skipped_characters(tmp_path: Path) -> None:
    rows = [{**r, "summary": f"sum{r['n']}"} for r in doc("a", 8)]
    windows = {
        "previous": {
            "head": {"count": 1},
            "middle": {"content_key": "summary"},
            "tail": {"count": 2},
        },
        "next": {"head": {"count": 1}},
    }
    out = rendered(make(tmp_path, peripheral_chunks=windows), rows)[("a", 6)]
    previous = out.split("--- End Previous Context ---")[0]
    assert previous.splitlines() == [
        "--- Previous Context ---",
        "[Chunk 1]",
        "a-1",
        "[Chunk 2 (Summary)]",
        "sum2",
        "[Chunk 3 (Summary)]",
        "sum3",
        "[Chunk 4]",
        "a-4",
        "[Chunk 5]",
        "a-5",
    ]
    nxt = out.split("--- Next Context ---")[1]
    # Chunk 7 shown, chunk 8 (3 characters) skipped: no middle configured on this side.
    assert nxt.splitlines()[1:] == [
        "[Chunk 7]",
        "a-7",
        "[... 3 characters skipped ...]",
        "--- End Next Context ---",
    ]


def test_no_peripheral_chunks_renders_the_chunk_itself(tmp_path: Path) -> None:
    for op in (make(tmp_path), make(tmp_path, peripheral_chunks={})):
        assert rendered(op, doc("a", 2)) == {("a", 1): "a-1", ("a", 2): "a-2"}


def test_custom_main_markers_and_header_path(tmp_path: Path) -> None:
    rows = doc("a", 3)
    rows[0]["headers"] = [{"header": "Incident", "level": 1}, {"header": "Summary", "level": 2}]
    rows[1]["headers"] = [{"header": "Timeline", "level": 2}]
    rows[2]["headers"] = []
    op = make(
        tmp_path,
        peripheral_chunks={"previous": {"tail": {"count": 1}}},
        doc_header_key="headers",
        main_chunk_start="<<",
        main_chunk_end=">>",
    )
    out = rendered(op, rows)
    assert (
        "--- End Previous Context ---\n\n_Current Section:_ # Incident\n<<\na-2\n>>"
        in out[("a", 2)]
    )
    # A chunk without headers of its own sits under the whole current path.
    assert "_Current Section:_ # Incident > ## Timeline\n<<\na-3" in out[("a", 3)]


def test_rows_missing_keys_are_errors_and_duplicates_share_context(tmp_path: Path) -> None:
    rows = doc("a", 3)
    rows.append(dict(rows[1]))  # the same chunk twice (an identical document split twice)
    rows.append({"doc": "a", "text_chunk": "no order"})
    result = gather(make(tmp_path, peripheral_chunks=NEIGHBOURS), rows)
    assert len(result.rows) == 4 and len(result.errors) == 1
    assert result.errors[0].reason == "row has no 'n' (needed by gather)"
    twins = [r["text_chunk_rendered"] for r in result.rows if r["n"] == 2]
    assert twins[0] == twins[1] and "[Chunk 1]\na-1" in twins[0] and "[Chunk 3]\na-3" in twins[0]


def test_head_and_tail_need_a_count(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="tail needs a count"):
        make(tmp_path, peripheral_chunks={"previous": {"tail": {"content_key": "x"}}})
