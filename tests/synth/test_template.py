"""The output template as a structure, and its filled-in self-test response."""

from __future__ import annotations

from llmassert.assertions.parse import has_all_sections, items, section_text, sections_in_order
from llmassert.synth.roles import classify
from llmassert.synth.template import filled, parse, scale_of, scope_of

SECTIONS = """Create the following output sections:

- KEY EVENTS: what happened
- THE BIG IDEA - the one lesson

In a section called SUMMARY, write a single sentence.
Extract 20 to 50 ideas into a section called IDEAS.
Each IDEAS bullet must be 8 words or less.
Output all sections above in order.
"""

TEMPLATE_BLOCK = """Use this format:

```
## OFFICIAL SPONSORS
- sponsor

**RISKS:**
- risk
```
"""


def test_sections_limits_and_order() -> None:
    tpl = parse(SECTIONS, classify(SECTIONS))
    assert tpl.names == ("KEY EVENTS", "THE BIG IDEA", "SUMMARY", "IDEAS")
    assert tpl.ordered
    ideas = tpl.section("ideas")
    assert ideas is not None and (ideas.min_items, ideas.max_items) == (20, 50)
    assert ideas.max_words_per_item == 8
    summary = tpl.section("SUMMARY")
    assert summary is not None and summary.sentences == (1, 1)


def test_template_block_titles_in_order() -> None:
    tpl = parse(TEMPLATE_BLOCK, classify(TEMPLATE_BLOCK))
    assert tpl.names == ("OFFICIAL SPONSORS", "RISKS") and tpl.sections_by == "template"


def test_scope_of_a_sentence() -> None:
    tpl = parse(SECTIONS, classify(SECTIONS))
    assert scope_of("In a section called SUMMARY, write a single sentence.", tpl) == (
        "section",
        "SUMMARY",
    )
    assert scope_of("Each bullet must be 8 words or less.", tpl) == ("item", None)
    assert scope_of("Never use emojis.", tpl) == ("response", None)


def test_scales() -> None:
    caps = scale_of("Rate it NONE DETECTED, LOW, MEDIUM, HIGH, or CRITICAL.")
    assert caps is not None and caps.labels == (
        "NONE DETECTED",
        "LOW",
        "MEDIUM",
        "HIGH",
        "CRITICAL",
    )
    num = scale_of("Give a score from 1 - 10, in .1 intervals.")
    assert num is not None and (num.low, num.high, num.decimals) == (1, 10, 1)
    assert scale_of("Write 3 - 5 bullets.") is None  # not a rating


def test_filled_template_follows_itself() -> None:
    tpl = parse(SECTIONS, classify(SECTIONS))
    sample = filled(tpl)
    assert sample is not None
    assert has_all_sections(sample, tpl.names) and sections_in_order(sample, tpl.names)
    ideas = items(section_text(sample, "IDEAS", tpl.names))
    assert 20 <= len(ideas) <= 50 and all(len(i.split()) <= 8 for i in ideas)
    assert parse("Just answer the question.").sections == [] and filled(parse("x")) is None
