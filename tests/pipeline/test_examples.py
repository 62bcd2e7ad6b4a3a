"""The example pipelines replay offline from their committed cassettes, and lose nothing.

Each example runs exactly as the docs say (``llmassert run pipelines/X.yaml --replay
fixtures/cassettes/X``), in a copy of ``pipelines/`` and ``fixtures/`` so outputs land in a
temporary folder, with no server running and no API key set.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmassert.assertions import AssertionSet
from llmassert.cli import main
from llmassert.pipeline.datasets import load_dataset
from llmassert.pipeline.operators.split import doc_id

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ("postmortem_actions", "ticket_products", "email_summaries")
ACTION = re.compile(r"^- \[ \] (.+) \(owner: ([^,]+), priority: (\w+)\)$", re.M)


def replay(work: Path, name: str, *extra: str) -> int:
    return main(
        [
            "run",
            f"pipelines/{name}.yaml",
            "--replay",
            f"fixtures/cassettes/{name}",
            "--cache-dir",
            str(work / "cache"),
            "--no-resume",
            "--quiet",
            *extra,
        ]
    )


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    work = tmp_path_factory.mktemp("examples")
    shutil.copytree(ROOT / "pipelines", work / "pipelines")
    shutil.copytree(ROOT / "fixtures", work / "fixtures")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        for var in (
            "OPENAI_API_KEY",
            "OPENAI_API_BASE",
            "OPENAI_BASE_URL",
            "LLMASSERT_API_BASE",
            "LLMASSERT_MODEL",
        ):
            mp.delenv(var, raising=False)
        for name in EXAMPLES:
            assert replay(work, name) == 0, name
        yield work


def output(work: Path, name: str, suffix: str = ".json") -> Any:
    path = work / "out" / f"{name}{suffix}"
    if suffix == ".json":
        return json.loads(path.read_text())
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_action_item_of_every_report_comes_out_once(work: Path) -> None:
    rows = output(work, "postmortem_actions")
    expected = sorted(
        (p.name, a, o, pr)
        for p in (ROOT / "fixtures" / "postmortems").glob("*.md")
        for a, o, pr in ACTION.findall(p.read_text())
    )
    assert len(expected) == 21
    assert sorted((r["filename"], r["action"], r["owner"], r["priority"]) for r in rows) == expected
    # The document ids are content hashes of the dataset rows: the same on every run.
    reports, _ = load_dataset(work / "fixtures" / "postmortems")
    ids = {r["filename"]: doc_id(r) for r in reports}
    assert all(r["split_report_id"] == ids[r["filename"]] for r in rows)
    assert {k for r in rows for k in r} == {
        "path",
        "filename",
        "split_report_id",
        "split_report_chunk_num",
        "action",
        "owner",
        "priority",
    }


def test_tickets_resolve_to_five_products_covering_every_ticket(work: Path) -> None:
    rows = output(work, "ticket_products")
    assert sorted(r["product"] for r in rows) == [
        "Acme Router X2",
        "CloudVault Backup",
        "Lumio Smart Bulb",
        "StreamBox 4K",
        "ZenPhone 5",
    ]
    counts = [int(re.match(r"(\d+) tickets about", r["summary"])[1]) for r in rows]  # type: ignore[index]
    assert sum(counts) == 24  # every ticket landed in exactly one product's summary
    assert all(isinstance(r["negative_tickets"], int) and r["top_issues"] for r in rows)
    lineage = output(work, "ticket_products", ".lineage.jsonl")
    assert len(lineage) == 5


def test_email_summaries_pass_their_assertions_or_are_quarantined(work: Path) -> None:
    rows = output(work, "email_summaries")
    quarantined = output(work, "email_summaries", ".quarantine.jsonl")
    emails = json.loads((ROOT / "fixtures" / "emails" / "emails.json").read_text())
    assert sorted(
        [r["email_id"] for r in rows] + [q["row"]["email_id"] for q in quarantined]
    ) == sorted(e["email_id"] for e in emails)
    checks = AssertionSet.load(ROOT / "fixtures" / "assertions" / "email_summary.py")
    assert all(checks.check(r["summary"], r).passed for r in rows)
    assert len(quarantined) == 1
    assert quarantined[0]["reason"] == "failed checks: no_apologetic_filler"
    # Gleaning ran on every email; the sloppy first answers needed retries.
    lineage = output(work, "email_summaries", ".lineage.jsonl")
    ops = [line["operations"]["summarize_email"] for line in lineage]
    assert all(op["gleaning_rounds"] >= 1 for op in ops)
    assert any(op.get("check_retries") for op in ops)


def test_replays_are_identical(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(work)
    first = (work / "out" / "postmortem_actions.json").read_bytes()
    assert replay(work, "postmortem_actions") == 0
    assert (work / "out" / "postmortem_actions.json").read_bytes() == first


def test_an_edited_prompt_is_not_answered_from_the_old_cassette(
    work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(work)
    path = work / "pipelines" / "email_summaries.yaml"
    original = path.read_text()
    try:
        path.write_text(original.replace("in one or two sentences", "in one sentence"))
        assert replay(work, "email_summaries", "--cache-dir", str(work / "other-cache")) == 2
    finally:
        path.write_text(original)
    assert "cassette" in capsys.readouterr().err
