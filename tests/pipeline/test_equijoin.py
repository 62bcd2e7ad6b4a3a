"""equijoin over loopback HTTP: matches, DocETL's key suffixes, blocking, limits, validate."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

from llmassert.config import Settings
from llmassert.llm import get_client
from llmassert.pipeline.context import OpContext, PipelineEnv
from llmassert.pipeline.operators.base import Outcome
from llmassert.pipeline.operators.equijoin import EquijoinOperator, EquijoinSpec, join_rows
from llmassert.pipeline.runner import Runner
from llmassert.pipeline.spec import load_pipeline
from llmassert.testing.fake_server import FakeLLMServer, Reply

PEOPLE = [
    {"name": "Ana", "skill": "python"},
    {"name": "Bo", "skill": "rust"},
    {"name": "Cy", "skill": "python"},
    {"name": "Di", "skill": "cobol"},
]
JOBS = [
    {"name": "Backend", "needs": "python"},
    {"name": "Systems", "needs": "rust"},
    {"name": "Frontend", "needs": "typescript"},
]
SPEC = {
    "name": "match",
    "comparison_prompt": "Candidate skill: {{ left.skill }}\nJob needs: {{ right.needs }}\nA match?",
}


def answer(body: dict[str, Any]) -> Reply:
    prompt = body["messages"][-1]["content"]
    skill = re.search(r"skill: (\w+)", prompt)[1]  # type: ignore[index]
    needs = re.search(r"needs: (\w+)", prompt)[1]  # type: ignore[index]
    return Reply(tool_args={"is_match": skill == needs})


def join(
    settings: Settings, tmp_path: Path, left: list[dict[str, Any]] = PEOPLE, **extra: Any
) -> Outcome:
    env = PipelineEnv(spec_file="p.yaml", base_dir=tmp_path, default_model=settings.model)
    op = EquijoinOperator(EquijoinSpec.model_validate({**SPEC, **extra}), env)

    async def go() -> Outcome:
        client = get_client(settings)
        try:
            ctx = OpContext(op.name, env=env, settings=settings, client=client)
            return await op.run_join(left, JOBS, ctx)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_matching_pairs_are_merged_with_docetl_suffixes(
    llm_server: FakeLLMServer, llm_settings: Settings, tmp_path: Path
) -> None:
    llm_server.handler = answer
    out = join(llm_settings, tmp_path)
    assert out.rows == [
        {"name_left": "Ana", "skill": "python", "name_right": "Backend", "needs": "python"},
        {"name_left": "Bo", "skill": "rust", "name_right": "Systems", "needs": "rust"},
        {"name_left": "Cy", "skill": "python", "name_right": "Backend", "needs": "python"},
    ]
    assert out.meta["comparisons"] == len(llm_server.requests) == 12
    assert out.filtered == 2  # Di and Frontend matched nothing: counted, not silently gone
    assert join_rows({"a": 1}, {"b": 2}) == {"a": 1, "b": 2}


def test_blocking_conditions_and_limits_cut_comparisons(
    llm_server: FakeLLMServer, llm_settings: Settings, tmp_path: Path
) -> None:
    llm_server.handler = answer
    blocked = join(
        llm_settings, tmp_path, blocking_conditions=["left['skill'][0] == right['needs'][0]"]
    )
    assert blocked.meta["candidate_pairs"] == blocked.meta["comparisons"] == 3
    assert len(blocked.rows) == 3
    limited = join(llm_settings, tmp_path, limits={"right": 1}, compare_batch_size=1)
    assert [(r["name_left"], r["name_right"]) for r in limited.rows] == [
        ("Ana", "Backend"),
        ("Bo", "Systems"),
    ]
    # Once Backend and Systems have their one match, their other pairs are never asked.
    assert limited.meta["skipped_at_limit"] == 5 and limited.meta["comparisons"] == 7


def test_rows_the_prompt_cannot_read_are_errors(
    llm_server: FakeLLMServer, llm_settings: Settings, tmp_path: Path
) -> None:
    llm_server.handler = answer
    out = join(llm_settings, tmp_path, left=[*PEOPLE[:2], {"name": "Ed"}])  # Ed: no skill
    assert [(r["name_left"], r["name_right"]) for r in out.rows] == [
        ("Ana", "Backend"),
        ("Bo", "Systems"),
    ]
    assert [e.row for e in out.errors] == [{"name": "Ed"}]
    assert len(llm_server.requests) == 6  # Ed was never compared


def test_validate_quarantines_joined_rows(
    llm_server: FakeLLMServer, llm_settings: Settings, tmp_path: Path
) -> None:
    llm_server.handler = answer
    out = join(llm_settings, tmp_path, validate=["output['name_left'] != 'Cy'"])
    assert [r["name_left"] for r in out.rows] == ["Ana", "Bo"]
    assert out.quarantined[0].row["name_left"] == "Cy"


def test_a_pipeline_step_joins_two_datasets(
    llm_server: FakeLLMServer, llm_settings: Settings, tmp_path: Path
) -> None:
    llm_server.handler = answer
    (tmp_path / "people.json").write_text(json.dumps(PEOPLE))
    (tmp_path / "jobs.json").write_text(json.dumps(JOBS))
    prompt = json.dumps(SPEC["comparison_prompt"])  # a YAML double-quoted string
    (tmp_path / "p.yaml").write_text(f"""
default_model: openai/fake-model
datasets:
  people: {{type: file, path: people.json}}
  jobs: {{type: file, path: jobs.json}}
operations:
  - name: match
    type: equijoin
    comparison_prompt: {prompt}
pipeline:
  steps:
    - name: joined
      operations:
        - match: {{left: people, right: jobs}}
  output: {{path: out.json}}
""")
    Runner(load_pipeline(tmp_path / "p.yaml"), llm_settings).run()
    rows = json.loads((tmp_path / "out.json").read_text())
    assert [(r["name_left"], r["name_right"]) for r in rows] == [
        ("Ana", "Backend"),
        ("Bo", "Systems"),
        ("Cy", "Backend"),
    ]
