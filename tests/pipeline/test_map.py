"""map over the loopback server: fields merged per row, order kept, drop_keys, batches, cache."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline_kit import chat_requests, last_user, read_json, run_pipeline, write_pipeline

from llmassert.config import Settings
from llmassert.testing.fake_server import FakeLLMServer, Reply

MAP = """\
default_model: openai/fake-model
system_prompt:
  dataset_description: short product notes
  persona: a careful analyst
datasets:
  docs: {type: file, path: data.json}
operations:
  - name: shout
    type: map
    drop_keys: [secret]
    prompt: "Upper-case this: {{ input.text }}"
    output:
      schema:
        upper: string
        length: int
pipeline:
  steps:
    - {name: s, input: docs, operations: [shout]}
  output: {type: file, path: out.json}
"""
ROWS = [{"id": i, "text": f"note number {i}", "secret": "s3cr3t"} for i in range(12)]


def shout(body: dict[str, Any]) -> Reply:
    text = last_user(body).split(": ", 1)[1]
    return Reply(tool_args={"upper": text.upper(), "length": len(text)})


def test_map_merges_outputs_in_input_order(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = shout
    report = run_pipeline(write_pipeline(tmp_path, MAP, ROWS), llm_settings)
    out = read_json(tmp_path / "out.json")
    assert out == [
        {
            "id": i,
            "text": f"note number {i}",
            "upper": f"NOTE NUMBER {i}",
            "length": len(f"note number {i}"),
        }
        for i in range(12)
    ]
    reqs = chat_requests(llm_server)
    assert len(reqs) == 12
    system = reqs[0].body["messages"][0]
    assert system["role"] == "system" and "a careful analyst" in system["content"]
    assert "short product notes" in system["content"]
    assert all("s3cr3t" not in json.dumps(r.body) for r in reqs)  # the prompt never reads it
    (op,) = report.ops
    assert (op.stats.rows_in, op.stats.rows_out, op.stats.calls) == (12, 12, 12)
    assert op.stats.usage.total_tokens > 0


def test_drop_keys_leave_the_output_but_the_prompt_still_reads_them(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    # DocETL renders the prompt from the whole row and drops the keys from the finished row
    # (its website demos summarize `input.text` with `drop_keys: [text]`).
    llm_server.handler = shout
    text = MAP.replace("{{ input.text }}", "{{ input.text }} ({{ input.secret }})")
    text = text.replace("drop_keys: [secret]", "drop_keys: [secret, upper]")
    run_pipeline(write_pipeline(tmp_path, text, ROWS), llm_settings)
    reqs = chat_requests(llm_server)
    assert len(reqs) == 12 and all("(s3cr3t)" in last_user(r.body) for r in reqs)
    out = read_json(tmp_path / "out.json")
    assert [sorted(r) for r in out] == [["id", "length", "text"]] * 12  # output keys drop too
    assert out[0]["length"] == len("note number 0 (s3cr3t)")


def test_rerun_is_answered_from_the_cache(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = shout
    path = write_pipeline(tmp_path, MAP, ROWS)
    run_pipeline(path, llm_settings)
    first = (tmp_path / "out.json").read_text()
    llm_server.reset()
    report = run_pipeline(path, llm_settings)
    assert llm_server.requests == []
    assert (tmp_path / "out.json").read_text() == first
    assert report.ops[0].stats.cached == 12


def test_bypass_cache_calls_again(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = shout
    path = write_pipeline(tmp_path, "bypass_cache: true\n" + MAP, ROWS)
    run_pipeline(path, llm_settings)
    llm_server.reset()
    llm_server.handler = shout
    run_pipeline(path, llm_settings)
    assert len(chat_requests(llm_server)) == 12


def test_batch_prompt_answers_several_rows_in_one_call(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    text = MAP.replace(
        "    drop_keys: [secret]\n",
        """    drop_keys: [secret]
    max_batch_size: 5
    batch_prompt: |
      Upper-case each:
      {% for d in inputs %}- {{ d.text }}
      {% endfor %}
""",
    )

    def handler(body: dict[str, Any]) -> Reply:
        prompt = last_user(body)
        if prompt.startswith("Upper-case each"):
            items = [line[2:] for line in prompt.splitlines() if line.startswith("- ")]
            return Reply(
                tool_args={"results": [{"upper": t.upper(), "length": len(t)} for t in items]}
            )
        return shout(body)

    llm_server.handler = handler
    run_pipeline(write_pipeline(tmp_path, text, ROWS), llm_settings)
    out = read_json(tmp_path / "out.json")
    assert [r["upper"] for r in out] == [f"NOTE NUMBER {i}" for i in range(12)]
    assert len(chat_requests(llm_server)) == 3  # 5 + 5 + 2


def test_batch_answer_of_the_wrong_length_falls_back_to_one_prompt_per_row(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    text = MAP.replace(
        "    drop_keys: [secret]\n",
        """    drop_keys: [secret]
    max_batch_size: 4
    batch_prompt: "Upper-case each: {% for d in inputs %}{{ d.text }};{% endfor %}"
""",
    )

    def handler(body: dict[str, Any]) -> Reply:
        if last_user(body).startswith("Upper-case each"):
            return Reply(tool_args={"results": [{"upper": "X", "length": 1}]})
        return shout(body)

    llm_server.handler = handler
    run_pipeline(write_pipeline(tmp_path, text, ROWS[:4]), llm_settings)
    assert [r["upper"] for r in read_json(tmp_path / "out.json")] == [
        f"NOTE NUMBER {i}" for i in range(4)
    ]
    assert len(chat_requests(llm_server)) == 1 + 4


def test_a_row_missing_a_prompt_key_goes_to_the_errors_file(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = shout
    rows = [*ROWS[:3], {"id": 99}]
    report = run_pipeline(write_pipeline(tmp_path, MAP, rows), llm_settings)
    assert len(read_json(tmp_path / "out.json")) == 3
    errors = [json.loads(line) for line in (tmp_path / "out.errors.jsonl").read_text().splitlines()]
    assert errors[0]["row"] == {"id": 99} and "text" in errors[0]["reason"]
    assert report.errored == 1


def test_csv_and_jsonl_datasets_and_outputs(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = shout
    (tmp_path / "data.csv").write_text('id,text\n1,alpha\n2,"beta, gamma"\n')
    text = MAP.replace("path: data.json", "path: data.csv").replace("out.json", "out.csv")
    run_pipeline(write_pipeline(tmp_path, text), llm_settings)
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0] == "id,text,upper,length" and lines[2] == '2,"beta, gamma","BETA, GAMMA",11'
    (tmp_path / "d.jsonl").write_text('{"text": "x"}\n\n{"text": "y"}\n')
    text = MAP.replace("path: data.json", "path: d.jsonl").replace("out.json", "o.jsonl")
    run_pipeline(write_pipeline(tmp_path, text, name="p2.yaml"), llm_settings)
    assert [json.loads(x)["upper"] for x in (tmp_path / "o.jsonl").read_text().splitlines()] == [
        "X",
        "Y",
    ]


def test_folder_of_text_files(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = shout
    docs = tmp_path / "notes"
    (docs / "sub").mkdir(parents=True)
    (docs / "a.txt").write_text("first")
    (docs / "sub" / "b.md").write_text("second")
    (docs / ".hidden").write_text("no")
    text = MAP.replace("path: data.json", "path: notes")
    run_pipeline(write_pipeline(tmp_path, text), llm_settings)
    out = read_json(tmp_path / "out.json")
    assert [(r["path"], r["filename"], r["upper"]) for r in out] == [
        ("notes/a.txt", "a.txt", "FIRST"),
        ("notes/sub/b.md", "b.md", "SECOND"),
    ]
