"""Consistency and self-test of offline candidates (real rule candidates, run for real)."""

from __future__ import annotations

from _rules_support import criterion

from llmassert.history.models import LabeledExample
from llmassert.synth import selftest
from llmassert.synth.evaluate import evaluate
from llmassert.synth.models import Category
from llmassert.synth.rules import candidates_for


def _run(crits: list, template: str | None, labeled: bool = False) -> selftest.SelfTestResult:
    taken: set[str] = set()
    cands = [c for crit in crits for c in candidates_for(crit, taken=taken)]
    rows = [LabeledExample(input={}, response=r, label=1) for r in selftest.responses(template)]
    M = evaluate(cands, rows).M
    return selftest.self_test(cands, crits, template, M, labeled=labeled)


def test_contradicting_formats_keep_the_better_founded_one() -> None:
    header = criterion(
        "Start with a markdown header and use markdown headers for sections.",
        Category.PRESENTATION_FORMAT,
    )
    plain = criterion("Respond in plain text.", Category.PRESENTATION_FORMAT)
    result = _run([header, plain], None)
    assert result.contradictions
    kept = {c.name for c in result.kept}
    for winner, loser in result.contradictions:
        assert winner in kept and loser not in kept
    # Checks that can live together (a header and a code block) are not called contradictory.
    code = criterion("Include a code block.", Category.PRESENTATION_FORMAT)
    assert not _run([header, code], None).contradictions


def test_a_check_failing_the_filled_template_is_dropped() -> None:
    caps = criterion("Write everything in lowercase.", Category.PRESENTATION_FORMAT)
    result = _run([caps], "SUMMARY:\n\nThe Talk Was Good.\n")
    assert result.failed_template and not result.kept


def test_without_labels_one_lenient_variant_per_criterion() -> None:
    crit = criterion('Never use the word "delve".', Category.EXCLUSION)
    result = _run([crit], None)
    assert [c.name for c in result.kept] == ["forbid_delve_stem"]  # bans every inflection
    assert {"forbid_delve_exact", "forbid_delve_ci"} <= set(result.loosened)
    labeled = _run([crit], None, labeled=True)
    assert len(labeled.kept) == 3 and not labeled.loosened  # labels decide instead
    explicit = criterion("Does not exceed 72 characters.", Category.COUNT)
    kept = [c.name for c in _run([explicit], None).kept]
    assert kept and not any("slack" in n for n in kept)  # strict where the prompt is explicit


def test_without_labels_the_kept_reading_enforces_the_stated_number() -> None:
    # "has_bullets" names the sentence's words better, but passes five bullets: the reading
    # that checks the stated 3 must win.
    crit = criterion("Use at most 3 bullet points.", Category.COUNT)
    result = _run([crit], None)
    kept = [c.name for c in result.kept]
    assert len(kept) == 1 and kept[0].startswith("max_items_3"), kept
    five = "- one\n- two\n- three\n- four\n- five"
    verdict = evaluate(result.kept, [LabeledExample(input={}, response=five, label=0)]).M[0][0]
    assert verdict == 0


def test_reading_names() -> None:
    assert selftest.reading("forbid_delve_ci_2") == "forbid_delve"
    assert selftest.reading("code_block_python") == "code_block_python"


def test_without_labels_a_stated_range_keeps_its_strict_variant() -> None:
    # The lenient variant of "1-2 sentences" (0-3) exists for labels to choose; without labels
    # it would pass an empty reply and three sentences (review_final.csv, s2c_agent_system).
    for text, name in (
        ("Respond with a one or two sentence summary.", "range_sentences_1_2_strict"),
        ("Answer in 2-3 sentences.", "range_sentences_2_3_strict"),
        ("List at least three bullet points.", "min_items_3_strict"),
    ):
        result = _run([criterion(text, Category.COUNT)], None)
        assert [c.name for c in result.kept] == [name], text
        assert not any(n.endswith(("_lenient", "_plus1")) for n in {c.name for c in result.kept})
    # With labels the lenient variants stay candidates: the labels decide.
    labeled = _run([criterion("Answer in 2-3 sentences.", Category.COUNT)], None, labeled=True)
    assert "range_sentences_2_3_lenient" in {c.name for c in labeled.kept}
