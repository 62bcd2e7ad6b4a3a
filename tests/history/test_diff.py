"""Sentence-level deltas between prompt versions."""

from __future__ import annotations

from llmassert.assertions.helpers import split_units
from llmassert.history import PromptHistory, PromptVersion, deltas, diff_units


def history(*texts: str) -> PromptHistory:
    versions = tuple(
        PromptVersion(index=i, text=t, source=f"v{i}", label=f"v{i}")
        for i, t in enumerate(texts, 1)
    )
    return PromptHistory(name="p", versions=versions, origin="mem")


def test_sentence_units_handle_bullets_abbreviations_quotes_and_wrapping() -> None:
    text = (
        'You are an assistant. Use examples, e.g. the one below. Dr. Smith said "Stop." Then go.\n'
        "It costs 3.5 dollars.\n"
        "- Answer in short form.\n"
        "-Be concise\n"
        "* Keep it\n  under 100 words.\n"
        "2) Sign off.\n"
        "## Format\n"
        "Reduce verbosity. but keep the facts."
    )
    assert split_units(text) == [
        "You are an assistant.",
        "Use examples, e.g. the one below.",
        'Dr. Smith said "Stop."',
        "Then go.",
        "It costs 3.5 dollars.",
        "Answer in short form.",
        "Be concise",
        "Keep it under 100 words.",
        "Sign off.",
        "Format",
        "Reduce verbosity. but keep the facts.",
    ]


def test_first_version_is_all_added_against_the_empty_prompt() -> None:
    found = deltas(history("Write a poem. Keep it short.", "Write a poem. Keep it short."))
    assert [(d.version, d.kind, d.text) for d in found] == [
        (1, "added", "Write a poem."),
        (1, "added", "Keep it short."),
    ]


def test_identical_and_whitespace_only_versions_produce_nothing() -> None:
    assert diff_units("Write a poem.  Keep it short.", "Write a poem.\n\nKeep   it short.\n") == []
    assert diff_units("A “quoted” word.", 'A "quoted" word.') == []


def test_moved_sentences_produce_nothing() -> None:
    assert diff_units("One thing. Two things.", "Two things. One thing.") == []


def test_added_and_changed_sentences() -> None:
    old = "Write a summary of the article.\nKeep it short.\nUse a friendly tone."
    new = "Write a summary of the article in 3 bullets.\nKeep it short.\nUse a friendly tone.\nNever use the word 'synergy'."
    found = diff_units(old, new)
    assert found == [
        (
            0,
            "changed",
            "Write a summary of the article in 3 bullets.",
            "Write a summary of the article.",
        ),
        (3, "added", "Never use the word 'synergy'.", None),
    ]


def test_unrelated_replacement_is_added_not_changed() -> None:
    found = diff_units("Be polite.", "Respond only in JSON with keys name and age.")
    assert found == [(0, "added", "Respond only in JSON with keys name and age.", None)]


def test_headings_separators_and_repeats_are_not_criteria() -> None:
    new = "Instructions:\n- Be concise\n- Be concise\n----\n\\n\\n\nInput format\nThe input is a diff."
    assert [u for _j, _k, u, _p in diff_units("", new)] == ["Be concise", "The input is a diff."]


def test_delta_context_carries_the_heading_and_neighbours() -> None:
    text = (
        "You write reports.\nThe report must contain the following headers:\n"
        "Summary: a short summary.\nRisks: the risks.\nNext steps: what to do.\nQuestions: open questions."
    )
    found = {d.text: d for d in deltas(history("You write reports.", text))}
    questions = found["Questions: open questions."]
    assert questions.version == 2 and questions.kind == "added"
    assert questions.context.startswith("The report must contain the following headers:")
    assert "Next steps: what to do." in questions.context and questions.text in questions.context
