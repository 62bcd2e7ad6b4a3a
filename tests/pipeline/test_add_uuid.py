"""add_uuid: every row (duplicates included) gets a distinct id, the same on every run."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pipeline_kit import read_json, run_pipeline, write_pipeline

from llmassert.config import Settings
from llmassert.errors import SpecError
from llmassert.testing.fake_server import FakeLLMServer

PIPELINE = """\
datasets:
  docs: {type: file, path: data.json}
operations:
  - name: tag
    type: add_uuid
pipeline:
  steps:
    - {name: s, input: docs, operations: [tag]}
  output: {type: file, path: out.json}
"""


def test_ids_are_distinct_uuids_and_stable_across_runs(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    rows = [{"text": "a"}, {"text": "a"}, {"text": "b"}]
    path = write_pipeline(tmp_path, PIPELINE, rows)
    run_pipeline(path, llm_settings)
    first = read_json(tmp_path / "out.json")
    ids = [r["tag_id"] for r in first]
    assert len(set(ids)) == 3 and all(uuid.UUID(i).version == 4 for i in ids)
    assert [{k: v for k, v in r.items() if k != "tag_id"} for r in first] == rows
    run_pipeline(path, llm_settings, resume=False)
    assert read_json(tmp_path / "out.json") == first
    assert llm_server.requests == []


def test_add_uuid_takes_no_keys(tmp_path: Path, llm_settings: Settings) -> None:
    path = write_pipeline(
        tmp_path, PIPELINE.replace("type: add_uuid", "type: add_uuid\n    id_key: x"), [{"a": 1}]
    )
    with pytest.raises(SpecError, match="id_key"):
        run_pipeline(path, llm_settings)
