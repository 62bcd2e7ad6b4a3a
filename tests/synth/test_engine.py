"""Offline synthesis end to end on the shipped examples: importable modules, valid manifests,
byte-identical reruns, holdout split by input, infeasible targets, nothing written on error."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from llmassert.errors import HistoryError, InfeasibleError, LabelsError
from llmassert.history import LabeledExample, load_histories
from llmassert.select import Matrix
from llmassert.synth.engine import conservative_tau, split_by_input, synthesize
from llmassert.synth.manifest import load_manifest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "prompts"
NAMES = ["code_review_commenter", "product_update_email", "ticket_summarizer"]


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    return Path(shutil.copytree(EXAMPLES, tmp_path / "prompts"))


def import_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_examples_synthesize_offline_into_working_modules(prompts: Path, tmp_path: Path) -> None:
    out = tmp_path / "assertions"
    report = synthesize(prompts, out_dir=out)
    assert [p.name for p in report.prompts] == NAMES
    assert sorted(f.name for f in out.iterdir()) == sorted(
        f"{n}.{ext}" for n in NAMES for ext in ("py", "json")
    )
    histories = {h.name: h for h in load_histories(prompts)}
    for p in report.prompts:
        manifest = load_manifest(out / f"{p.name}.json")
        assert manifest.model is None and manifest.prompt == p.name
        assert manifest.versions == len(histories[p.name].versions)
        assert Matrix.load(out / f"{p.name}.json").assertions == manifest.assertions
        # A meaningful selection: some bad responses caught, within the FFR ceiling.
        assert 0 < p.selected < p.candidates
        assert p.coverage is not None and p.coverage > 0
        assert p.ffr is not None and p.ffr <= 0.25
        # The module imports alone, lists the selected functions, and they run on real data.
        module = import_module(out / f"{p.name}.py")
        assert [f.__name__ for f in module.ASSERTIONS] == manifest.selection.selected
        labeled = histories[p.name].labeled
        column = {name: j for j, name in enumerate(manifest.assertions)}
        for i, ex in enumerate(labeled):
            for check in module.ASSERTIONS:
                verdict = check(dict(ex.input), ex.response)
                assert verdict is True or verdict is False
                assert int(verdict) == manifest.M[i][column[check.__name__]]  # M: what code does


def test_rerun_is_byte_identical(prompts: Path, tmp_path: Path) -> None:
    out = tmp_path / "a"  # the same folder: module headers name the manifest path they sit by
    synthesize(prompts, out_dir=out, holdout=0.5, seed=7)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    synthesize(prompts, out_dir=out, holdout=0.5, seed=7)  # unedited: rewritten in place
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_holdout_reports_test_metrics_on_unseen_inputs(prompts: Path, tmp_path: Path) -> None:
    report = synthesize(
        prompts / "product_update_email", out_dir=tmp_path / "o", holdout=0.5, seed=1
    )
    (p,) = report.prompts
    assert p.test_coverage is not None and p.test_ffr is not None
    manifest = load_manifest(tmp_path / "o" / "product_update_email.json")
    train = {e.input_id for e in manifest.examples if e.split == "train"}
    test = {e.input_id for e in manifest.examples if e.split == "test"}
    assert train and test and not train & test
    assert len(manifest.M) + len(manifest.test_M) == p.labeled
    assert manifest.metrics.holdout == 0.5 and manifest.metrics.seed == 1


def ex(inp: dict[str, int], label: int = 1) -> LabeledExample:
    return LabeledExample(input=inp, response=f"r{label}", label=label)


def test_split_by_input_keeps_inputs_together_and_is_seeded() -> None:
    examples = [ex({"k": i % 10}, label=i % 2) for i in range(40)]  # 10 inputs x 4 responses
    train, test = split_by_input(examples, 0.5, seed=3)
    assert sorted(train + test) == list(range(40))
    test_inputs = {examples[i].input["k"] for i in test}
    assert len(test_inputs) == 5
    assert not test_inputs & {examples[i].input["k"] for i in train}
    assert split_by_input(examples, 0.5, seed=3) == (train, test)
    others = {tuple(split_by_input(examples, 0.5, seed=s)[1]) for s in range(6)}
    assert len(others) > 1
    assert split_by_input(examples, 0.0, seed=3) == (list(range(40)), [])
    # at least one input group on each side, even for extreme fractions
    assert len({examples[i].input["k"] for i in split_by_input(examples, 0.01, 0)[1]}) == 1
    assert split_by_input([ex({"k": 1}), ex({"k": 1})], 0.5, 0) == ([0, 1], [])


def test_unreachable_targets_relax_to_the_nearest_feasible(prompts: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    report = synthesize(prompts / "code_review_commenter", out_dir=out, alpha=1.0, tau=0.0)
    (p,) = report.prompts
    assert any("best reachable coverage" in w for w in p.warnings)
    manifest = load_manifest(out / "code_review_commenter.json")
    assert manifest.selection.relaxed
    assert (manifest.alpha, manifest.tau) == (1.0, 0.0)  # what was asked stays on record
    # tau is kept (no good response may fail), alpha lowered to the best coverage reachable
    assert manifest.selection.tau == 0.0 and 0 < manifest.selection.alpha < 1.0
    assert p.ffr == 0.0 and p.coverage == pytest.approx(manifest.selection.alpha)
    assert "nearest feasible alpha" in (out / "code_review_commenter.py").read_text()


def test_conservative_tau_bounds_the_true_ffr() -> None:
    # 0 of 12 good failed: the 90 % upper bound is 1 - 0.1 ** (1 / 12) = 0.175; 1 failure: 0.28
    assert conservative_tau(0.25, 12, 0.9) == 0.0
    assert conservative_tau(0.25, 30, 0.9) == pytest.approx(4 / 30)
    assert conservative_tau(0.25, 1000, 0.9) == pytest.approx(0.232)  # converges to tau
    assert conservative_tau(0.25, 30, 0.5) >= conservative_tau(0.25, 30, 0.9)
    assert conservative_tau(0.25, 0, 0.9) == 0.25


def test_ffr_confidence_tightens_the_selection(prompts: Path, tmp_path: Path) -> None:
    plain = synthesize(
        prompts / "product_update_email", out_dir=tmp_path / "a", ffr_confidence=None
    ).prompts[0]
    sure = synthesize(prompts / "product_update_email", out_dir=tmp_path / "b").prompts[0]
    assert sure.ffr is not None and plain.ffr is not None and sure.ffr <= plain.ffr
    manifest = load_manifest(tmp_path / "b" / "product_update_email.json")
    assert manifest.selection.ffr_confidence == 0.9 and manifest.selection.tau < 0.25
    assert load_manifest(tmp_path / "a" / "product_update_email.json").selection.tau == 0.25


def test_strict_infeasible_writes_nothing(prompts: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    with pytest.raises(InfeasibleError, match="nothing written"):
        synthesize(prompts, out_dir=out, alpha=1.0, tau=0.0, strict=True)
    assert not out.exists()


def test_without_labels_every_checkable_criterion_gets_an_assertion(
    prompts: Path, tmp_path: Path
) -> None:
    (prompts / "product_update_email" / "labeled.jsonl").unlink()
    out = tmp_path / "o"
    report = synthesize(prompts / "product_update_email", out_dir=out, holdout=0.5)
    (p,) = report.prompts
    manifest = load_manifest(out / "product_update_email.json")
    assert manifest.y == [] and manifest.selection.basis == "criteria"
    # Every criterion with candidates is covered by a selected check of its own or by a selected
    # check that subsumes one of its checks (the same code offered for two sentences).
    K, chosen = manifest.K or [], manifest.selected_indices
    for group in set(manifest.groups):
        members = [j for j, g in enumerate(manifest.groups) if g == group]
        assert any(a in members or any(K[a][b] for b in members) for a in chosen), group
    assert 0 < p.selected <= len(set(manifest.groups))
    assert p.coverage is None and p.test_coverage is None
    assert any("--holdout ignored" in w for w in p.warnings)


def test_one_bad_prompt_means_nothing_is_written(prompts: Path, tmp_path: Path) -> None:
    (prompts / "ticket_summarizer.labeled.jsonl").write_text('{"input": {}, "response": 3}\n')
    out = tmp_path / "o"
    with pytest.raises(LabelsError, match=r"ticket_summarizer\.labeled\.jsonl"):
        synthesize(prompts, out_dir=out)
    assert not out.exists()


def test_a_prompt_with_one_version_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "solo"
    folder.mkdir()
    (folder / "v1.txt").write_text("Answer in one sentence.")
    with pytest.raises(HistoryError, match="only one version"):
        synthesize(folder, out_dir=tmp_path / "o")
    assert not (tmp_path / "o").exists()
