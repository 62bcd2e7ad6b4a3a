"""Structure, style and placeholder rules: formats, sections, language, case, positions, echoes."""

from __future__ import annotations

import json

import pytest
from _rules_support import criterion, names, verdicts

from llmassert.synth.models import Category

REPORT = """## Executive Summary
We aim for 20% savings with TechCo.

## Negotiation Strategy
- Anchor at a low price
- Offer a longer contract
- Escalate to the VP if needed

## Risks and Opportunities
Supply is tight.
"""
PROSE = "We aim for 20% savings with TechCo. Supply is tight, so we should move soon."


def only(found: dict[str, bool], prefix: str) -> dict[str, bool]:
    return {k: v for k, v in found.items() if k.startswith(prefix)}


# --- structure ----------------------------------------------------------------------------------


def test_bullets() -> None:
    text = "Response must be in bullets."
    assert names(text) == ["bullets_mostly_strict", "has_bullets_lenient"]
    assert all(verdicts(text, "- a\n- b\n* c").values())
    assert not any(verdicts(text, PROSE).values())
    assert verdicts(text, PROSE + "\n- one aside") == {
        "bullets_mostly_strict": False,
        "has_bullets_lenient": True,
    }
    assert all(verdicts("Do not use bullet points.", PROSE).values())
    assert not any(verdicts("Do not use bullet points.", "- a\n- b").values())


def test_numbered_list() -> None:
    assert all(verdicts("Give a numbered list of steps.", "1. a\n2. b").values())
    assert not any(verdicts("Give a numbered list of steps.", "- a\n- b").values())


def test_markdown_and_plain_text() -> None:
    text = "Your report should have markdown notation."
    assert only(verdicts(text, REPORT), "markdown") == {
        "markdown_headers_strict": True,
        "markdown_lenient": True,
    }
    assert only(verdicts(text, PROSE), "markdown") == {
        "markdown_headers_strict": False,
        "markdown_lenient": False,
    }
    assert only(verdicts(text, "**Bold** idea"), "markdown") == {
        "markdown_headers_strict": False,
        "markdown_lenient": True,
    }
    plain = "Answer in plain text."
    assert all(verdicts(plain, PROSE).values()) and not any(verdicts(plain, REPORT).values())


def test_named_sections_from_a_list() -> None:
    text = "The report must contain the following sections: 'Executive Summary', 'Negotiation Strategy'."
    key = "executive_summary_negotiation_strategy"
    assert names(text) == [f"sections_{key}_strict", f"sections_{key}_lenient", f"mentions_{key}"]
    assert all(verdicts(text, REPORT).values())
    assert not any(verdicts(text, PROSE).values())
    unquoted = "Include headers: Executive Summary, Risks and Opportunities, and Market Insights"
    sections = [n for n in names(unquoted) if n.startswith("sections")]
    assert len(sections) == 2
    assert not any(only(verdicts(unquoted, REPORT), "sections").values())  # no Market Insights
    assert all(
        only(verdicts(unquoted, REPORT + "\n## Market Insights\nTight."), "sections").values()
    )


def test_section_label_lines_need_header_context() -> None:
    with_context = criterion(
        "Risks and Opportunities: This section identifies the potential risks.",
        Category.PRESENTATION_FORMAT,
        context="Your output should contain the following headers: Risks and Opportunities: This section ...",
    )
    found = verdicts(with_context, REPORT)
    assert (
        found["sections_risks_and_opportunities_strict"]
        and found["sections_risks_and_opportunities_lenient"]
    )
    assert not any(verdicts(with_context, PROSE).values())
    assert (
        names(
            criterion(
                "Pain: Introduce a common problem.",
                context="Body: Pain: Introduce a common problem.",
            )
        )
        == []
    )


def test_generic_headers() -> None:
    text = "Organize the answer with headers."
    assert all(verdicts(text, REPORT).values()) and not any(verdicts(text, PROSE).values())


def test_code_block_and_table() -> None:
    fenced = "```python\nprint(1)\n```"
    assert all(verdicts("Return the code in a code block.", fenced).values())
    assert verdicts("Return the code in a code block.", f"Here:\n{fenced}") == {
        "code_block_only_strict": False,
        "has_code_block_lenient": True,
        "has_code_strict": True,
        "has_code_lenient": True,
    }
    assert not any(verdicts("Return the code in a code block.", "print(1)").values())
    table = "| a | b |\n|---|---|\n| 1 | 2 |"
    assert all(verdicts("Present the results as a table.", table).values())
    assert not any(verdicts("Present the results as a table.", PROSE).values())
    assert verdicts("Do not use a table.", table) == {"no_table": False}


def test_json_and_keys() -> None:
    text = 'Respond only in JSON with keys "name" and "age".'
    assert names(text) == [
        "json_strict",
        "json_lenient",
        "json_keys_name_age_strict",
        "json_keys_name_age_lenient",
        "only_json",  # "only in JSON": the whole reply is JSON (kinds.py)
    ]
    assert all(verdicts(text, json.dumps({"name": "A", "age": 3})).values())
    assert verdicts(text, 'Sure:\n```json\n{"Name": "A", "Age": 3}\n```') == {
        "json_strict": False,
        "json_lenient": True,
        "json_keys_name_age_strict": False,
        "json_keys_name_age_lenient": True,
        "only_json": False,
    }
    assert not any(verdicts(text, json.dumps({"name": "A"})[:-1]).values())
    assert verdicts("Return a JSON object.", "[1]")["is_json_object"] is False
    assert verdicts("Return a JSON array of names.", '["a"]')["is_json_array"] is True
    assert verdicts("Do not answer in JSON.", '{"a": 1}') == {"not_json": False}


# --- style ----------------------------------------------------------------------------------------


def test_language() -> None:
    english = "The team is on track and we will ship it in time for the launch."
    spanish = "El equipo va bien y lo vamos a entregar a tiempo para el lanzamiento del producto."
    assert all(verdicts("Respond in English.", english).values())
    assert not any(
        verdicts("Respond in English.", "Команда работает хорошо и всё будет вовремя.").values()
    )
    assert verdicts("Respond in English.", spanish)["english_strict"] is False
    assert all(verdicts("Answer in Spanish only.", spanish).values())
    assert not any(verdicts("Answer in Spanish only.", english).values())


def test_case() -> None:
    assert verdicts("Write everything in lowercase.", "all good here") == {"lowercase_strict": True}
    assert verdicts("Write everything in lowercase.", "Not good") == {"lowercase_strict": False}
    assert verdicts("Reply in ALL CAPS.", "DONE!") == {"uppercase_strict": True}
    assert verdicts("Do not write in uppercase.", "DONE!") == {"not_uppercase": False}
    title = "Give the post a title in title case."
    assert all(verdicts(title, "# The Art of War\nbody").values())
    assert not any(verdicts(title, "# the art of war\nbody").values())


def test_start_and_end_phrases() -> None:
    start = "Start the email with 'Dear Customer'."
    assert names(start) == [
        "starts_with_dear_customer_exact",
        "starts_with_dear_customer_ci",
        "first_line_has_dear_customer",
    ]
    assert all(verdicts(start, "Dear Customer,\nHello.").values())
    assert verdicts(start, "dear customer, hi") == {
        "starts_with_dear_customer_exact": False,
        "starts_with_dear_customer_ci": True,
        "first_line_has_dear_customer": True,
    }
    assert not any(verdicts(start, "Hello,\nDear Customer").values())
    end = 'Sign off with "Best regards".'
    assert verdicts(end, "Thanks.\nBest regards")["ends_with_best_regards_exact"] is True
    signed = verdicts(end, "Thanks.\nBest regards,\nAnn")  # the name comes last
    assert (
        signed["ends_with_best_regards_exact"] is False
        and signed["last_lines_have_best_regards"] is True
    )
    assert not any(verdicts(end, "See you.").values())
    greet = "Begin your reply with a greeting."
    assert all(verdicts(greet, "Hi Sam,\nthanks").values()) and not any(
        verdicts(greet, "Thanks Sam").values()
    )


def test_positions_with_placeholders_use_the_examples_values() -> None:
    start = criterion('Start the email with "Hi {customer_name},".', variables=("customer_name",))
    assert [n for n in names(start) if n.startswith(("starts", "first"))] == [
        "starts_with_hi_customer_name_exact", "starts_with_hi_customer_name_ci", "first_line_has_hi_customer_name",
    ]  # fmt: skip
    example = {"customer_name": "Priya"}
    assert all(only(verdicts(start, "Hi Priya,\nNews.", example), "starts").values())
    assert not any(only(verdicts(start, "Hi Sam,\nNews.", example), "starts").values())
    end = criterion(
        "End the email with the sender's name, {sender_name}.", variables=("sender_name",)
    )
    found = verdicts(end, "Thanks!\nDana Kim", {"sender_name": "Dana Kim"})
    assert found["ends_with_sender_name_exact"] and found["last_lines_have_sender_name"]
    assert not verdicts(end, "Dana Kim says hi.\nBye", {"sender_name": "Dana Kim"})[
        "ends_with_sender_name_ci"
    ]


def test_json_field_values_and_counts() -> None:
    enum = criterion(
        'Set "priority" to one of "low", "medium", "high" or "urgent".',
        context="Return a JSON object.",
    )
    assert names(enum) == ["json_priority_in_values_strict", "json_priority_in_values_lenient"]
    assert all(verdicts(enum, '{"priority": "high"}').values())
    assert verdicts(enum, '{"priority": "High"}') == {
        "json_priority_in_values_strict": False,
        "json_priority_in_values_lenient": True,
    }
    assert not any(verdicts(enum, '{"priority": "p1"}').values()) and not any(
        verdicts(enum, "high").values()
    )
    count = 'List at most 3 items in "next_steps".'
    assert "json_next_steps_count_max_3" in names(count)
    assert verdicts(count, '{"next_steps": ["a", "b"]}')["json_next_steps_count_max_3"] is True
    assert (
        verdicts(count, '{"next_steps": ["a", "b", "c", "d"]}')["json_next_steps_count_max_3"]
        is False
    )
    assert names(criterion('Set "tone" to "friendly" or "formal".')) == []  # no JSON in sight


def test_end_with_a_question() -> None:
    text = "End your answer with a question."
    assert all(verdicts(text, "Here it is. Does that help?").values())
    assert not any(verdicts(text, "Does that help? Here it is.\n\nBye.").values())


def test_asking() -> None:
    text = "I want you to ask me for a summary of my understanding of it before we start."
    assert names(text) == ["asks_question_strict", "asks_question_lenient", "asks_for_summary"]
    assert all(verdicts(text, "Could you summarize what you know about it?").values())
    assert verdicts(text, "Please provide a summary of your understanding.") == {
        "asks_question_strict": False,
        "asks_question_lenient": True,
        "asks_for_summary": True,
    }
    assert not any(verdicts(text, "Chi-squared tests compare counts.").values())
    assert verdicts("Do not ask the user questions.", "What now?") == {
        "no_questions_strict": False,
        "no_questions_lenient": False,
    }


def test_plain_language() -> None:
    text = "The document needs to be easily read in simple and clear language."
    assert all(verdicts(text, "We save money. We act fast. We win.").values())
    long_sentence = " ".join(["word"] * 40) + "."
    assert not any(verdicts(text, long_sentence).values())


# --- placeholders -----------------------------------------------------------------------------------


def test_echo_of_named_variables() -> None:
    crit = criterion(
        "Showcase [topic] as the solution.", variables=("topic", "context", "word_count")
    )
    assert names(crit) == ["mentions_topic_strict", "mentions_topic_lenient"]
    example = {"topic": "Project Management Software"}
    assert all(verdicts(crit, "Our project management software helps.", example).values())
    assert not any(verdicts(crit, "Our CRM helps.", example).values())
    assert all(verdicts(crit, "Anything.", {}).values())  # no value: nothing to check


def test_echo_by_words_and_single_input() -> None:
    crit = criterion(
        "Make sure the plan achieves the target price reduction.",
        variables=("suppliers", "target_price_reduction"),
    )
    assert [n for n in names(crit) if n.startswith("mentions")] == [
        "mentions_target_price_reduction_strict",
        "mentions_target_price_reduction_lenient",
    ]
    topic = criterion("I will tell you a topic from statistics.", variables=("question",))
    assert names(topic) == ["mentions_question_strict", "mentions_question_lenient"]
    assert all(
        verdicts(
            topic, "Let's discuss chi-squared tests.", {"question": "chi-squared tests"}
        ).values()
    )
    generic = criterion(
        "Supplier Summary: an overview of supplier risks.", variables=("suppliers",)
    )
    assert not [n for n in names(generic) if n.startswith("mentions_suppliers")]


def test_counts_are_not_echoed() -> None:
    crit = criterion(
        "No more than [word_count] words about [topic].", Category.COUNT, ("topic", "word_count")
    )
    assert [n for n in names(crit) if n.startswith("mentions")] == [
        "mentions_topic_strict",
        "mentions_topic_lenient",
    ]


def test_placeholder_criteria_and_template_slots() -> None:
    crit = criterion("[topic]: {topic}", Category.DATA_PLACEHOLDERS, ("topic",))
    assert names(crit) == [
        "mentions_topic_strict", "mentions_topic_lenient",
        "no_unfilled_placeholders_strict", "no_unfilled_placeholders_lenient",
    ]  # fmt: skip
    assert (
        verdicts(crit, "Hi {name}, about {topic}", {"topic": "x"})[
            "no_unfilled_placeholders_lenient"
        ]
        is False
    )
    assert (
        verdicts(crit, "Hi [Your Name]", {"topic": "x"})["no_unfilled_placeholders_strict"] is False
    )
    slot = criterion("[Your Name]", Category.PRESENTATION_FORMAT)
    assert names(slot) == ["keeps_slot_your_name_strict", "keeps_slot_your_name_lenient"]
    assert all(verdicts(slot, "Best,\n[Your Name]").values())
    assert not any(verdicts(slot, "Best,\nAnn").values())


@pytest.mark.parametrize("category", [Category.PROMPT_REPHRASING])
def test_rephrasings_have_no_candidates(category: Category) -> None:
    assert names(criterion("Never use the word 'Feature'.", category)) == []
