"""Synthesis with a model, end to end over real HTTP to the loopback server: categories, generated
checks (hostile ones rejected or timed out), judges, verified subsumption claims, cached reruns."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from llmassert.assertions import judge
from llmassert.assertions.assertion_set import AssertionSet
from llmassert.config import Settings
from llmassert.synth.engine import synthesize
from llmassert.synth.manifest import load_manifest
from llmassert.testing.fake_server import FakeLLMServer, Reply

EMAIL = Path(__file__).resolve().parents[2] / "examples" / "prompts" / "product_update_email"

CHECKS = [
    {
        "name": "has_greeting",
        "description": "opens with Hi and the customer's name",
        "code": "def has_greeting(example, response):\n"
        "    name = str(example.get('customer_name', ''))\n"
        "    return response.strip().startswith('Hi ' + name + ',')\n",
    },
    {
        "name": "reads_env",
        "description": "hostile: imports os",
        "code": "import os\n\ndef reads_env(example, response):\n    return 'HOME' in os.environ\n",
    },
    {
        "name": "spins",
        "description": "hostile: never returns",
        "code": "def spins(example, response):\n    n = 0\n    while True:\n        n += 1\n",
    },
    {
        "name": "hogs",
        "description": "hostile: allocates ~80 GB",
        "code": "def hogs(example, response):\n    return len([0] * (10 ** 10)) > 0\n",
    },
]


def scripted(body: dict[str, Any]) -> Reply:
    """Answers by the requested tool, like a cooperative (and once hostile) model."""
    tool = body["tools"][0]["function"]["name"]
    user = body["messages"][-1]["content"]
    if tool == "categorize":
        category = "Count" if "words." in user else "Inclusion"
        return Reply(tool_args={"category": category, "reason": "scripted"})
    if tool == "candidates":
        return Reply(
            tool_args={
                "checks": CHECKS,
                "judges": [
                    {"name": "warm_tone", "question": "Is the email warm and personal in tone?"}
                ],
            }
        )
    if tool == "judge_verdict":
        response = user.rsplit("<response>", 1)[1]
        cold = any(
            w in response.lower()
            for w in ("revolutionary", "game-changing", "synergy", "discount", "$")
        )
        return Reply(tool_args={"answer": "no" if cold else "yes", "reason": "scripted"})
    if tool == "subsumptions":
        names = [c["name"] for c in json.loads(user.split(":\n", 1)[1].rsplit("\n\n", 1)[0])]
        # one claim the data supports (the identical greeting check covers itself), one it
        # cannot (a never-failing check "subsuming" the judge)
        return Reply(
            tool_args={
                "pairs": [
                    {"stronger": "has_greeting", "weaker": "has_greeting_2"}
                    if "has_greeting_2" in names
                    else {"stronger": names[0], "weaker": names[1]},
                    {"stronger": names[0], "weaker": "warm_tone"},
                ]
            }
        )
    raise AssertionError(f"unexpected tool {tool}")


@pytest.fixture
def email(tmp_path: Path) -> Path:
    return Path(shutil.copytree(EMAIL, tmp_path / "prompts" / "product_update_email"))


def test_llm_synthesis_end_to_end(
    email: Path, tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = scripted
    out = tmp_path / "out"
    report = synthesize(email, out_dir=out, settings=llm_settings, sandbox_timeout_s=0.3)
    (p,) = report.prompts
    manifest = load_manifest(out / "product_update_email.json")
    assert manifest.model == "openai/fake-model"
    by_source = {c.name: c for c in manifest.candidates if c.source == "llm"}
    # one greeting check, one looping and one hogging check (deduplicated across criteria),
    # one judge; the import of os never got past the sandbox's allowlist
    assert {"has_greeting", "spins", "hogs", "warm_tone"} <= set(by_source)
    assert not any(name.startswith("reads_env") for name in manifest.assertions)
    assert p.sources["judge"] == 1 and p.sources["rules"] > 0
    warnings = " ".join(p.warnings)
    assert "unsafe code (sandbox allowlist)" in warnings
    assert "timing out" in warnings and "spins" in warnings
    # hostile candidates fail every response, so they are never selected
    column = {n: j for j, n in enumerate(manifest.assertions)}
    for name in ("spins", "hogs"):
        assert all(row[column[name]] == 0 for row in manifest.M)
        assert name not in manifest.selection.selected
    # the judge said "no" exactly to the banned-word and price emails
    judged = [row[column["warm_tone"]] for row in manifest.M]
    assert 0 < sum(judged) < len(judged)
    # subsumption: the claim contradicted by the labels was dropped
    assert "contradicted by the labeled data" in warnings
    assert manifest.K is not None
    assert manifest.K[0][column["warm_tone"]] == 0
    assert p.selected > 0 and p.ffr is not None and p.ffr <= 0.25


def test_llm_rerun_is_identical_and_served_from_the_cache(
    email: Path, tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    llm_server.handler = scripted
    first = synthesize(email, out_dir=tmp_path / "a", settings=llm_settings, sandbox_timeout_s=0.3)
    sent = len(llm_server.requests)
    assert sent > 0
    synthesize(email, out_dir=tmp_path / "b", settings=llm_settings, sandbox_timeout_s=0.3)
    assert len(llm_server.requests) == sent  # every call answered from the disk cache
    a_json, b_json = ((tmp_path / d / "product_update_email.json").read_bytes() for d in "ab")
    assert a_json == b_json
    # The modules differ only in the manifest path their header names (and so in the hash).
    a_py, b_py = ((tmp_path / d / "product_update_email.py").read_text() for d in "ab")
    a_body = a_py.split("\n", 1)[1].replace(str(tmp_path / "a"), "OUT")
    assert a_body == b_py.split("\n", 1)[1].replace(str(tmp_path / "b"), "OUT")
    # The module loads as an AssertionSet and its judges ask the configured model.
    checks = AssertionSet.load(tmp_path / "a" / "product_update_email.py")
    assert len(checks) == first.prompts[0].selected
    with judge.using(llm_settings):
        result = checks.check(
            "Hi Priya,\n\nOffline mode is here.\n\nBest regards,\nDana Kim",
            example={
                "customer_name": "Priya",
                "sender_name": "Dana Kim",
                "product_name": "Trailhead Notes",
                "word_count": 100,
                "feature_list": "offline mode",
            },
        )
    assert result is not None


def test_model_unreachable_stops_the_run_and_writes_nothing(
    email: Path, tmp_path: Path, llm_settings: Settings, llm_server: FakeLLMServer
) -> None:
    llm_server.handler = lambda body: Reply(status=500)
    from llmassert.errors import LLMTransportError

    with pytest.raises(LLMTransportError):
        synthesize(email, out_dir=tmp_path / "o", settings=llm_settings.replace(max_retries=0))
    assert not (tmp_path / "o").exists()


def test_the_models_category_adds_to_the_rule_candidates_never_removes_them(
    email: Path, tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    """A model that files every criterion under PromptRephrasing must not delete the
    offline checks (a bullet-count criterion once lost its rule candidates that way)."""
    offline = synthesize(email, out_dir=tmp_path / "offline", write=False)
    (offline_prompt,) = offline.prompts
    offline_manifest = load_manifest_from(offline)
    rule_names = {c.name for c in offline_manifest.candidates if c.source == "rules"}
    assert rule_names

    def recategorizing(body: dict[str, Any]) -> Reply:
        if body["tools"][0]["function"]["name"] == "categorize":
            return Reply(tool_args={"category": "PromptRephrasing", "reason": "scripted"})
        if body["tools"][0]["function"]["name"] == "candidates":
            return Reply(tool_args={"checks": [], "judges": []})
        return scripted(body)

    llm_server.handler = recategorizing
    report = synthesize(email, out_dir=tmp_path / "model", settings=llm_settings, write=False)
    manifest = load_manifest_from(report)
    assert rule_names <= {c.name for c in manifest.candidates if c.source == "rules"}
    assert all(c.category.value == "PromptRephrasing" for c in manifest.criteria)
    (p,) = report.prompts
    assert p.coverage == offline_prompt.coverage  # nothing the rules caught was lost


def load_manifest_from(report: Any) -> Any:
    from llmassert.synth.manifest import Manifest

    text = next(f.text for f in report.pending if f.path.suffix == ".json")
    return Manifest.model_validate_json(text)
