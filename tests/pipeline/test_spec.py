"""Pipeline YAML: DocETL's shape accepted, every mistake a one-line error before any LLM call."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
import yaml
from pipeline_kit import write_pipeline

from llmassert.config import Settings
from llmassert.errors import SpecError
from llmassert.pipeline.runner import Runner
from llmassert.pipeline.spec import load_pipeline, pipeline_json_schema
from llmassert.testing.fake_server import FakeLLMServer

# The shared benchmark's DocETL templates (outside the repo; the test skips without them).
BENCH = (
    Path(
        os.environ.get(
            "LLMASSERT_SHARED_BENCH", Path(__file__).resolve().parents[3] / "shared" / "bench"
        )
    )
    / "docetl"
)

GOOD = """\
default_model: openai/fake-model
datasets:
  docs:
    type: file
    path: data.json
operations:
  - name: summarize
    type: map
    prompt: "Summarize {{ input.text }}"
    output:
      schema:
        summary: string
pipeline:
  steps:
    - name: s1
      input: docs
      operations: [summarize]
  output:
    type: file
    path: out.json
"""
ROWS = [{"id": 1, "text": "hello"}]


def error_of(tmp_path: Path, text: str, settings: Settings | None = None) -> str:
    path = write_pipeline(tmp_path, text, ROWS)
    with pytest.raises(SpecError) as info:
        loaded = load_pipeline(path)
        Runner(loaded, settings or Settings(model="openai/fake-model")).prepare()
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path)), message
    return message


def test_good_pipeline_loads_with_paths_relative_to_the_yaml(tmp_path: Path) -> None:
    sub = tmp_path / "pipelines"
    sub.mkdir()
    path = write_pipeline(sub, GOOD, ROWS)
    loaded = load_pipeline(path)
    runner = Runner(loaded, Settings(model="openai/fake-model"))
    runner.prepare()
    assert runner.output_path == sub / "out.json"
    assert runner.datasets["docs"].rows == ROWS


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD.replace("    type: map", "    type: map\n   bad: [1,"))
    assert "invalid YAML" in msg and "line " in msg


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD.replace("    type: map\n", "    type: map\n    type: map\n"))
    assert "duplicate key 'type'" in msg


def test_unknown_operator_type_lists_the_known_ones(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD.replace("type: map", "type: mapp"))
    assert "operations[0] (summarize).type: unknown operator type 'mapp'" in msg
    assert "map" in msg and "reduce" in msg and "filter" in msg


def test_scan_is_refused_with_its_reason(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD.replace("type: map", "type: scan"))
    assert "operations[0] (summarize).type: operator type 'scan' is refused:" in msg
    assert "`input:`" in msg and "\n" not in msg.strip()


def test_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD.replace("    prompt:", "    promt: x\n    prompt:"))
    assert "operations[0] (summarize).promt: unknown key 'promt'; did you mean 'prompt'?" in msg


def test_unknown_top_level_key(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD + "defualt_model: x\n")
    assert "defualt_model: unknown key" in msg


def test_missing_dataset_file(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD.replace("path: data.json", "path: nope.json"))
    assert "datasets.docs.path: dataset file not found" in msg


def test_prompt_variable_not_in_rows(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD.replace("input.text", "input.txt"))
    assert "operations[0] (summarize).prompt: input.txt is not a key of the rows here" in msg
    assert "(keys: id, text)" in msg


def test_prompt_unknown_top_level_variable(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD.replace("input.text", "inputs[0].text"))
    assert "unknown template variable 'inputs'" in msg


def test_template_syntax_error_names_the_template_line(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD.replace("{{ input.text }}", "{{ input.text }"))
    assert "(summarize).prompt: template syntax error on line 1" in msg


def test_bad_output_type(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD.replace("summary: string", "summary: strng"))
    assert "(summarize).output.schema" in msg and "unknown type 'strng'" in msg


def test_unknown_operation_in_step(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD.replace("operations: [summarize]", "operations: [sumarize]"))
    assert (
        "pipeline.steps[0] (s1).operations[0]: unknown operation 'sumarize'; did you mean "
        "'summarize'?" in msg
    )


def test_unknown_step_input(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD.replace("input: docs", "input: doc"))
    assert "(s1).input: unknown input 'doc'" in msg


def test_reduce_key_must_exist(tmp_path: Path) -> None:
    text = GOOD.replace(
        """    type: map
    prompt: "Summarize {{ input.text }}"
""",
        """    type: reduce
    reduce_key: topic
    prompt: "Summarize {% for i in inputs %}{{ i.text }}{% endfor %}"
""",
    )
    msg = error_of(tmp_path, text)
    assert "(summarize).reduce_key: 'topic' is not a key" in msg


def test_loop_variable_keys_are_checked(tmp_path: Path) -> None:
    text = GOOD.replace(
        """    type: map
    prompt: "Summarize {{ input.text }}"
""",
        """    type: reduce
    reduce_key: id
    prompt: "{% for i in inputs %}{{ i.body }}{% endfor %}"
""",
    )
    msg = error_of(tmp_path, text)
    assert "inputs.body is not a key" in msg


def test_downstream_prompt_sees_upstream_output_fields(tmp_path: Path) -> None:
    text = GOOD.replace(
        """pipeline:""",
        """  - name: judge
    type: filter
    prompt: "Is {{ input.summary }} about {{ input.topic }}?"
    output: {schema: {keep: boolean}}
pipeline:""",
    ).replace("operations: [summarize]", "operations: [summarize, judge]")
    msg = error_of(tmp_path, text)
    assert "operations[1] (judge).prompt: input.topic is not a key" in msg
    assert "summary" in msg  # the map's output field is listed as available


def test_validate_expression_must_be_safe(tmp_path: Path) -> None:
    text = GOOD.replace("    output:", "    validate:\n      - __import__('os')\n    output:")
    msg = error_of(tmp_path, text)
    assert "(summarize).validate[0]" in msg and "not allowed" in msg


def test_filter_needs_one_boolean(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD.replace("type: map", "type: filter"))
    assert "exactly one boolean field" in msg


def test_no_model_anywhere(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD.replace("default_model: openai/fake-model\n", ""), Settings())
    assert "(summarize).model: no model" in msg


def test_output_suffix(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD.replace("path: out.json", "path: out.xml"))
    assert "pipeline.output.path: must end in one of .json, .jsonl, .csv" in msg


def test_errors_come_before_any_llm_call(tmp_path: Path, llm_server: FakeLLMServer) -> None:
    settings = Settings(
        model="openai/fake-model", api_base=llm_server.base_url, cache_dir=tmp_path / "cache"
    )
    error_of(tmp_path, GOOD.replace("input.text", "input.txt"), settings)
    assert llm_server.requests == []


@pytest.mark.parametrize("template", ["map_reduce.yaml.tmpl", "split_gather.yaml.tmpl"])
def test_benchmark_templates_load_unchanged(tmp_path: Path, template: str) -> None:
    src = BENCH / template
    if not src.exists():
        pytest.skip("shared bench templates not present")
    text = src.read_text()
    for k, v in {
        "__DATA__": "data.json",
        "__OUT__": "out.json",
        "__INTER__": "inter",
        "__MODEL__": "openai/fake-model",
        "__API_BASE__": "http://127.0.0.1:1/v1",
    }.items():
        text = text.replace(k, v)
    rows = [{"id": 1, "category": "a", "title": "t", "text": "some words here"}]
    path = write_pipeline(tmp_path, text, rows)
    runner = Runner(load_pipeline(path), Settings())
    runner.prepare()
    # ... and the editor schema accepts it too.
    jsonschema.validate(yaml.safe_load(text), pipeline_json_schema())


def test_json_schema_rejects_unknown_keys() -> None:
    schema = pipeline_json_schema()
    doc = yaml.safe_load(GOOD)
    jsonschema.validate(doc, schema)
    doc["operations"][0]["promt"] = "x"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)
    assert json.dumps(schema)  # serializable
