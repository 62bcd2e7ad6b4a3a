"""The operators that need their whole input (cascade, calibrate, cluster, ...) pickle: the Ray
executor ships operators to its workers, where they are rebuilt from spec + env."""

from __future__ import annotations

import pickle
from pathlib import Path

from pipeline_kit import write_pipeline

from llmassert.config import Settings
from llmassert.pipeline.runner import Runner, RunOptions
from llmassert.pipeline.spec import load_pipeline

PIPELINE = """\
default_model: openai/fake-model
datasets:
  docs: {type: file, path: data.json}
operations:
  - name: keep
    type: filter
    prompt: "Keep {{ input.text }}?"
    output: {schema: {keep: bool}}
    cascade: {proxy_model: openai/proxy, target: 0.9}
  - name: tune
    type: map
    calibrate: true
    prompt: "Rate {{ input.text }}"
    output: {schema: {rating: int}}
  - name: pull
    type: extract
    prompt: "Pull the dates."
    document_keys: [text]
  - name: tree
    type: cluster
    embedding_keys: [text]
    summary_prompt: "{% for i in inputs %}{{ i.text }}{% endfor %}"
    summary_schema: {text: str}
  - name: links
    type: link_resolve
    id_key: text
    link_key: refs
    blocking_threshold: 0.5
    comparison_prompt: "{{ link_value }} / {{ id_value }}"
  - name: ids
    type: add_uuid
pipeline:
  steps:
    - {name: s, input: docs, operations: [keep, tune, pull, tree, links, ids]}
  output: {type: file, path: out.json}
"""


def test_new_operators_survive_pickling(tmp_path: Path, llm_settings: Settings) -> None:
    path = write_pipeline(tmp_path, PIPELINE, [{"text": "a", "refs": []}])
    runner = Runner(load_pipeline(path), llm_settings, RunOptions(dry_run=True))
    runner.prepare()  # builds the operators and checks every key, no call
    assert {type(op).__name__ for op in runner.ops.values()} == {
        "CascadeFilterOperator",
        "CalibratedMapOperator",
        "ExtractOperator",
        "ClusterOperator",
        "LinkResolveOperator",
        "AddUuidOperator",
    }
    for op in runner.ops.values():
        copy = pickle.loads(pickle.dumps(op))
        assert type(copy) is type(op)
        assert copy.spec == op.spec and copy.type_name == op.type_name
