"""The response parser: sections in every header style, items, fields, ratings."""

from __future__ import annotations

import pytest

from llmassert.assertions.parse import (
    all_items_within,
    field_value,
    find_sections,
    has_all_sections,
    item_count,
    items,
    list_length,
    rating_values,
    section_text,
    sections_in_order,
)

NAMES = ("SUMMARY", "IDEAS", "RATING")
STYLES = {
    "atx": "# SUMMARY\nOne line.\n\n## IDEAS\n- a b\n- c d\n\n### RATING\nHIGH\n",
    "bold": "**Summary:** One line.\n\n**Ideas**\n* a b\n* c d\n\n**RATING**\nHIGH\n",
    "caps": "SUMMARY:\nOne line.\n\nIDEAS:\n1. a b\n2. c d\n\nRATING: HIGH\n",
    "label": "Summary: One line.\nIdeas:\n• a b\n• c d\nRating: HIGH\n",
}


@pytest.mark.parametrize("style", sorted(STYLES))
def test_sections_found_in_every_header_style(style: str) -> None:
    text = STYLES[style]
    assert has_all_sections(text, NAMES)
    assert sections_in_order(text, NAMES)
    assert items(section_text(text, "ideas", NAMES)) == ("a b", "c d")
    assert "HIGH" in (section_text(text, "Rating", NAMES) or "")
    assert section_text(text, "summary", NAMES) == "One line."


def test_missing_and_misordered_sections() -> None:
    text = "# IDEAS\n- a\n\n# SUMMARY\nx\n"
    assert not has_all_sections(text, NAMES)
    assert section_text(text, "RATING", NAMES) is None
    assert not sections_in_order(text, NAMES)
    assert sections_in_order(text, ("IDEAS", "SUMMARY"))


def test_sub_headers_and_fences_stay_inside_a_known_section() -> None:
    text = "# IDEAS\n- a\n### Note\n- b\n```\n# not a header\n```\n# RATING\nLOW\n"
    body = section_text(text, "IDEAS", NAMES) or ""
    assert "Note" in body and "# not a header" in body
    assert item_count(body) == 2


def test_without_names_strong_titles_split() -> None:
    titles = [t for t, _b in find_sections("intro\n# A\nx\n## B\ny\n")]
    assert titles == ["", "A", "B"]


def test_items_without_markers_are_lines() -> None:
    assert items("first idea\n\nsecond idea\n") == ("first idea", "second idea")
    assert items(None) == ()


def test_item_limits_apply_per_item() -> None:
    text = "- one two three\n- four five"
    assert all_items_within(text, max_words=3)
    assert not all_items_within(text, max_words=2)
    assert not all_items_within("- Alpha beta. Gamma delta.", max_sentences=1)


def test_fields_from_json_and_labels() -> None:
    assert field_value('Here: {"Title": "x y", "n": 2}', "title") == "x y"
    assert field_value('{"a": 1}', "b") is None
    assert field_value("Title: hello\nBody: text", "Title") == "hello"


def test_list_length_reads_json_or_items() -> None:
    assert list_length('{"queries": ["a", "b", "c"]}') == 3
    assert list_length('["a"]') == 1
    assert list_length("- a\n- b") == 2
    assert list_length("prose only") == 0


def test_rating_values() -> None:
    scale = ("NONE DETECTED", "LOW", "MEDIUM", "HIGH", "CRITICAL")
    assert rating_values("Risk: NONE DETECTED", scale) == ("NONE DETECTED",)
    assert rating_values("it is Medium overall", scale) == ("MEDIUM",)
    assert rating_values("no level given", scale) == ()
    assert rating_values("Score: 7.5 / 10") == ("7.5", "10")


def test_total_on_odd_input() -> None:
    assert find_sections(None) == ()  # type: ignore[arg-type]
    assert section_text(3, "x") is None  # type: ignore[arg-type]
    assert not sections_in_order(None, NAMES)  # type: ignore[arg-type]
    assert list_length(None) == 0  # type: ignore[arg-type]
