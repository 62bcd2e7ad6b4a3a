"""Code operations run through a real pipeline under containment: a hostile row's transform goes
to the error report with a one-line reason, every other row comes out, nothing is lost.

Real components: the runner, real files, the real process sandbox (the code below is not
inline-safe: a ``while`` loop, a curated import, a computed ``*``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_kit import read_json, read_jsonl, run_pipeline, write_pipeline

from llmassert.config import Settings
from llmassert.errors import SpecError

ROWS = [{"id": i, "text": "word " * (i + 1), "n": i} for i in range(6)]


def _pipeline(ops: str, names: str) -> str:
    return (
        "default_model: openai/fake-model\n"
        "datasets:\n  docs: {type: file, path: data.json}\n"
        f"operations:\n{ops}"
        f"pipeline:\n  steps:\n    - {{name: s, input: docs, operations: [{names}]}}\n"
        "  output: {type: file, path: out.json}\n"
    )


HOSTILE_MAP = """\
  - name: hostile
    type: code_map
    code: |
      from collections import Counter
      from typing import Any, Dict

      def transform(doc: Dict[str, Any]) -> Dict[str, Any]:
          if doc["n"] == 1:
              while True:
                  pass
          if doc["n"] == 2:
              return {"x": "x" * (doc["n"] * 10**9)}
          if doc["n"] == 3:
              return {"x": 10**10**8}
          return {"top": Counter(doc["text"].split()).most_common(1)[0][1]}
"""


def _accounted(
    tmp_path: Path, errors: list[dict[str, object]], out: list[dict[str, object]]
) -> None:
    ids = sorted([r["id"] for r in out] + [e["row"]["id"] for e in errors])  # type: ignore[index]
    assert ids == [r["id"] for r in ROWS]  # every input row ends in the output or the errors
    assert all("\n" not in str(e["reason"]) for e in errors)


def test_hostile_code_map_rows_go_to_the_error_report(
    tmp_path: Path, llm_settings: Settings
) -> None:
    path = write_pipeline(tmp_path, _pipeline(HOSTILE_MAP, "hostile"), ROWS)
    run_pipeline(path, llm_settings)
    out = read_json(tmp_path / "out.json")
    errors = read_jsonl(tmp_path / "out.errors.jsonl")
    _accounted(tmp_path, errors, out)
    reasons = {e["row"]["id"]: e["reason"] for e in errors}
    assert set(reasons) == {1, 2, 3}
    assert "timed out after" in reasons[1] or "killed after" in reasons[1]
    assert "'*' would build" in reasons[2]
    assert "'**' would build" in reasons[3]
    assert {r["id"]: r["top"] for r in out} == {0: 1, 4: 5, 5: 6}


def test_hostile_code_filter_and_reduce(tmp_path: Path, llm_settings: Settings) -> None:
    ops = """\
  - name: keep
    type: code_filter
    code: |
      def transform(doc):
          if doc["n"] == 0:
              return len(sum([[0] * 1000] * 100000, [])) > 0
          return doc["n"] % 2 == 1
  - name: total
    type: code_reduce
    code: |
      import statistics
      def transform(items):
          n = len(items)
          return {"mean": statistics.mean([i["n"] for i in items]), "big": len("y".ljust(n * 10**10))}
"""
    path = write_pipeline(tmp_path, _pipeline(ops, "keep, total"), ROWS)
    report = run_pipeline(path, llm_settings)
    errors = read_jsonl(tmp_path / "out.errors.jsonl")
    assert read_json(tmp_path / "out.json") == []
    by_op: dict[str, list[str]] = {}
    for e in errors:
        by_op.setdefault(e["operation"], []).append(e["reason"])
    assert len(by_op["keep"]) == 1 and "sum() would build" in by_op["keep"][0]
    # The reduce group (rows 1, 3, 5) errs as a whole: each of its rows is in the report.
    assert len(by_op["total"]) == 3 and all("'.ljust' would build" in r for r in by_op["total"])
    stats = {o.name: o.stats for o in report.ops}
    assert stats["keep"].filtered == 2  # rows 2 and 4: honestly False


def test_curated_import_outside_the_set_is_refused_before_any_row(
    tmp_path: Path, llm_settings: Settings
) -> None:
    ops = """\
  - name: evil
    type: code_map
    code: |
      from collections import namedtuple
      def transform(doc):
          return {}
"""
    path = write_pipeline(tmp_path, _pipeline(ops, "evil"), ROWS)
    with pytest.raises(SpecError, match=r"code refused: .*collections\.namedtuple is not allowed"):
        run_pipeline(path, llm_settings)
    assert not (tmp_path / "out.json").exists()


def test_inline_safe_code_keeps_running_in_process(tmp_path: Path, llm_settings: Settings) -> None:
    ops = """\
  - name: words
    type: code_map
    code: |
      def transform(doc):
          return {"w": len(doc["text"].split())}
"""
    path = write_pipeline(tmp_path, _pipeline(ops, "words"), ROWS)
    run_pipeline(path, llm_settings)
    assert [r["w"] for r in read_json(tmp_path / "out.json")] == [r["n"] + 1 for r in ROWS]
    assert not (tmp_path / "out.errors.jsonl").exists() or not read_jsonl(
        tmp_path / "out.errors.jsonl"
    )
