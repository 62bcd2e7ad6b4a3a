"""Length rules: limits with numbers, number words and example variables; brevity heuristics."""

from __future__ import annotations

import pytest
from _rules_support import criterion, names, verdicts

from llmassert.synth.models import Category
from llmassert.synth.rules.length import find_limits

WORDS_140 = " ".join(["word"] * 140)
WORDS_160 = " ".join(["word"] * 160)
WORDS_200 = " ".join(["word"] * 200)


@pytest.mark.parametrize(
    ("text", "kind", "unit", "low", "high"),
    [
        ("The email should be no more than 150 words long.", "max", "words", 150, None),
        ("Keep it under 200 characters.", "max", "chars", 200, None),
        ("Answer in at most three sentences.", "max", "sentences", 3, None),
        ("Write 100 words or less.", "max", "words", 100, None),
        ("Do not write more than 2 paragraphs.", "max", "paragraphs", 2, None),
        ("Use at least 5 bullet points.", "min", "items", 5, None),
        ("Write between 50 and 100 words.", "range", "words", 50, 100),
        ("Give 3-5 key bullet points.", "range", "items", 3, 5),
        ("Elaborate on the topic in about 200 words.", "about", "words", 200, None),
        ("Answer in a single sentence.", "exact", "sentences", 1, None),
        ("Write a 100-word summary.", "about", "words", 100, None),
        ("Ask exactly two questions.", "exact", "questions", 2, None),
        (
            "The email should be no more than [word_count] words long.",
            "max",
            "words",
            "word_count",
            None,
        ),
        ("Limit the answer to {{ n_lines }} lines.", "max", "lines", "n_lines", None),
    ],
)
def test_limits_are_found(text: str, kind: str, unit: str, low: object, high: object) -> None:
    (limit,) = find_limits(text)
    assert (limit.kind, limit.unit, limit.low, limit.high) == (kind, unit, low, high)


def test_no_limit_in_plain_sentences() -> None:
    assert find_limits("But don't do this more than 1 iteration") == []
    assert find_limits("Review the below pull request.") == []


def test_max_words_variants_fail_and_pass_around_the_limit() -> None:
    text = "The summary must be no more than 150 words."
    assert names(text) == ["max_words_150_strict", "max_words_150_slack10", "max_words_150_slack25"]
    assert all(verdicts(text, WORDS_140).values())
    assert verdicts(text, WORDS_160) == {
        "max_words_150_strict": False,
        "max_words_150_slack10": True,
        "max_words_150_slack25": True,
    }
    assert not any(verdicts(text, WORDS_200).values())


def test_limit_from_an_example_variable() -> None:
    text = "The email should be no more than [word_count] words long."
    crit = criterion(text, Category.COUNT, variables=("topic", "word_count"))
    assert names(crit) == [
        "max_words_word_count_strict",
        "max_words_word_count_slack10",
        "max_words_word_count_slack25",
    ]
    assert all(verdicts(crit, WORDS_140, {"word_count": 150}).values())
    assert all(verdicts(crit, WORDS_140, {"word_count": "150 words"}).values())  # strings tolerated
    assert not any(verdicts(crit, WORDS_200, {"word_count": "150"}).values())
    assert verdicts(crit, WORDS_160, {"word_count": 150})["max_words_word_count_strict"] is False
    # Nothing to compare with: the check cannot judge, so it does not fail the response.
    assert all(verdicts(crit, WORDS_200, {}).values())


def test_min_range_about_exact() -> None:
    three = "Use at least 3 bullet points."
    assert {k: v for k, v in verdicts(three, "- a\n- b\n- c").items() if k.startswith("min")} == {
        "min_items_3_strict": True,
        "min_items_3_lenient": True,
    }
    assert {k: v for k, v in verdicts(three, "- a").items() if k.startswith("min")} == {
        "min_items_3_strict": False,
        "min_items_3_lenient": False,
    }
    between = "Write between 50 and 100 words."
    assert all(verdicts(between, " ".join(["w"] * 75)).values())
    assert not any(verdicts(between, " ".join(["w"] * 20)).values())
    about = "Elaborate in about 200 words."
    assert all(verdicts(about, " ".join(["w"] * 190)).values())
    assert verdicts(about, " ".join(["w"] * 30)) == {
        "about_words_200_within20": False,
        "about_words_200_within35": False,
        "about_words_200_ceiling": True,  # only an upper bound
    }
    assert not any(verdicts(about, " ".join(["w"] * 400)).values())
    exact = "Answer in one sentence."
    assert all(verdicts(exact, "It is fine.").values())
    assert not any(verdicts(exact, "It is fine. It is great. It is done.").values())


def test_negated_minimum_is_a_maximum() -> None:
    assert names("Do not write more than 2 paragraphs.") == [
        "max_paragraphs_2_strict",
        "max_paragraphs_2_plus1",
    ]
    assert all(verdicts("Do not write more than 2 paragraphs.", "a\n\nb").values())
    assert not any(verdicts("Do not write more than 2 paragraphs.", "a\n\nb\n\nc\n\nd").values())


def test_brevity_heuristics() -> None:
    crit = criterion("Answer in short form.", Category.QUALITATIVE_ASSESSMENT, variables=("doc",))
    assert names(crit) == [
        "brief_max_words_150", "brief_max_words_250", "brief_max_words_400",
        "brief_vs_input_25pct", "brief_vs_input_50pct",
    ]  # fmt: skip
    doc = " ".join(["source"] * 1000)
    assert all(verdicts(crit, WORDS_140, {"doc": doc}).values())
    assert not any(verdicts(crit, " ".join(["w"] * 600), {"doc": doc}).values())
    # No input text to compare with: the relative checks pass.
    assert verdicts(crit, WORDS_200, {})["brief_vs_input_25pct"] is True


def test_brevity_not_taken_from_personas_or_section_descriptions() -> None:
    assert names("You are a concise and detailed assistant.") == []
    assert not [
        n
        for n in names("Executive Summary: A brief summary of the negotiation.")
        if n.startswith("brief")
    ]
    # Brevity/detail words bound the whole response only when the response is their subject.
    assert names("Provide detailed explanations where necessary") == []
    assert names("Keep *SEARCH/REPLACE* blocks concise.") == []
    assert names("Be detailed.") == ["detailed_min_words_100", "detailed_min_words_250"]
    assert "brief_max_words_150" in names("Keep your answer concise.")
