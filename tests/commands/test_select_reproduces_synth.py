"""`llmassert synth`, then `llmassert select` on its manifest at the same targets: the same set.

Both end in select()'s one tie-break stage (fewest false failures, then preference), so nothing
synth chose can be lost by re-selecting. Real synthesis (rule library, sandbox), real solvers.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from llmassert.cli import main
from llmassert.select import Matrix, select
from llmassert.synth.manifest import load_manifest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "prompts"
NAMES = ["code_review_commenter", "product_update_email", "ticket_summarizer"]


def synth(prompts: Path, out: Path, *options: str) -> None:
    assert main(["synth", str(prompts), "--out", str(out), "--json", *options]) == 0


def reselect(
    manifest: Path, capsys: pytest.CaptureFixture[str], *options: str
) -> dict[str, object]:
    capsys.readouterr()
    code = main(["select", str(manifest), "--json", "--out", str(manifest.parent / "re"), *options])
    out = capsys.readouterr().out
    assert code == 0
    data: dict[str, object] = json.loads(out)
    return data


@pytest.mark.parametrize(
    "options",
    [
        [],  # defaults: sub, FFR at 90 % confidence
        ["--ffr-confidence", "0"],  # in-sample tau, as SPADE
        ["--method", "cov", "--ffr-confidence", "0"],
        ["--holdout", "0.5", "--seed", "1"],
        ["--alpha", "0.9", "--tau", "0.1", "--ffr-confidence", "0"],  # relaxed targets
    ],
)
def test_select_on_a_manifest_returns_what_synth_chose(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str]
) -> None:
    prompts = Path(shutil.copytree(EXAMPLES, tmp_path / "prompts"))
    out = tmp_path / "out"
    synth(prompts, out, *options)
    for name in NAMES:
        path = out / f"{name}.json"
        record = load_manifest(path).selection
        assert record.status in ("optimal", "feasible")
        # explicitly at the targets synth solved for ...
        explicit = reselect(
            path,
            capsys,
            "--alpha",
            repr(record.alpha),
            "--tau",
            repr(record.tau),
            "--method",
            record.method,
        )
        assert explicit["selected"] == record.selected, name
        # ... and by default: a manifest's defaults are those targets
        assert reselect(path, capsys)["selected"] == record.selected, name


def test_a_tie_is_broken_the_same_way_by_synth_and_select(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two instructions whose checks catch exactly the same bad responses and fail no good one:
    # every minimal cov set is a single check, so only the tie-break decides which.
    prompt = tmp_path / "prompts" / "notes"
    prompt.mkdir(parents=True)
    (prompt / "v1.txt").write_text("Summarize the meeting notes.\n")
    (prompt / "v2.txt").write_text(
        "Summarize the meeting notes.\nAnswer in at most 12 words.\nNever use the word 'synergy'.\n"
    )
    long_bad = "We discussed synergy across teams and agreed on many things for the next quarter."
    rows = [
        {"input": {"notes": f"n{i}"}, "response": long_bad, "label": "bad"} for i in range(4)
    ] + [
        {
            "input": {"notes": f"g{i}"},
            "response": "Budget approved; launch moves to May.",
            "label": "good",
        }
        for i in range(4)
    ]
    (prompt / "labeled.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    synth(tmp_path / "prompts", out, "--method", "cov", "--alpha", "1", "--ffr-confidence", "0")
    path = out / "notes.json"
    manifest = load_manifest(path)
    record = manifest.selection
    assert record.count == 1
    # the tie is real: more than one single check meets the targets on its own
    matrix = Matrix.load(path)
    alone = [
        j
        for j in range(matrix.n_assertions)
        if all(matrix.M[i][j] == 0 for i, v in enumerate(matrix.y or []) if v == 0)
        and all(matrix.M[i][j] == 1 for i, v in enumerate(matrix.y or []) if v == 1)
    ]
    assert len(alone) >= 2
    assert select(matrix, "cov", record.alpha, record.tau).selected == record.selected
    assert reselect(path, capsys)["selected"] == record.selected
