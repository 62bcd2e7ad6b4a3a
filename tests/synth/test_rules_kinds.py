"""The vocabulary rule family (synth/rules/kinds.py): each kind recognized, passing and failing."""

from __future__ import annotations

from _rules_support import criterion, names, verdicts

from llmassert.synth.models import Category


def test_equals_and_regex() -> None:
    assert verdicts("Reply only with 'OK'.", "OK") == {"equals_exact": True, "equals_ci": True}
    assert not any(verdicts("Reply only with 'OK'.", "OK, done").values())
    v = verdicts("The id must match the pattern `^[A-Z]{3}-\\d+$`.", "ABC-12")
    assert v == {"matches_pattern": True}
    assert verdicts("The id must match the pattern `^[A-Z]{3}-\\d+$`.", "abc") == {
        "matches_pattern": False
    }


def test_inline_slot_template_with_allowed_values() -> None:
    crit = criterion(
        "The commit message should be structured as follows: <type>: <description>",
        Category.PRESENTATION_FORMAT,
        context="The commit message should be structured as follows: <type>: <description> "
        "Use these for <type>: fix, feat, docs",
    )
    assert verdicts(crit, "fix: handle empty input") == {
        "first_line_template_values": True,
        "first_line_follows_template": True,
    }
    assert verdicts(crit, "update: handle empty input")["first_line_template_values"] is False
    assert not any(verdicts(crit, "Handle empty input").values())


def test_html_xml_sql_and_negations() -> None:
    assert verdicts("Respond in HTML.", "<p>Hi</p>") == {
        "is_html_strict": True,
        "has_html_lenient": True,
    }
    assert verdicts("Respond in HTML.", "Hi") == {
        "is_html_strict": False,
        "has_html_lenient": False,
    }
    assert verdicts("Do not use HTML tags.", "<b>x</b>") == {"no_html": False}
    assert verdicts("Put the answer inside <answer></answer> tags.", "<answer>4</answer>") == {
        "in_answer_tags": True
    }
    assert (
        verdicts("Write a SQL query that answers it.", "SELECT * FROM t;")["is_sql_strict"] is True
    )
    assert (
        verdicts("Write a SQL query that answers it.", "Use the table.")["has_sql_lenient"] is False
    )


def test_schema_tool_call_refusal() -> None:
    schema = 'Return JSON matching this schema: {"type": "object", "required": ["a"]}'
    assert verdicts(schema, '{"a": 1}')["matches_json_schema"] is True
    assert verdicts(schema, '{"b": 1}')["matches_json_schema"] is False
    assert verdicts("Respond with a tool call.", '{"name": "f", "arguments": {}}') == {
        "is_tool_call": True
    }
    assert verdicts("Respond with a tool call.", "I will call f.") == {"is_tool_call": False}
    assert verdicts("Never refuse a request.", "I'm sorry, but I can't help with that.") == {
        "no_refusal": False
    }
    assert verdicts("Never refuse a request.", "Here it is.") == {"no_refusal": True}


def test_similarity_to_an_input() -> None:
    crit = criterion("Keep the rewrite similar to {original}.", variables=("original",))
    example = {"original": "The quick brown fox jumps over the lazy dog."}
    close = verdicts(crit, "The quick brown fox leaps over the lazy dog.", example)
    assert close["similar_to_original_rouge"] and close["similar_to_original_bleu"]
    far = verdicts(crit, "Completely unrelated words here.", example)
    assert not far["similar_to_original_rouge"] and not far["similar_to_original_bleu"]
    fix = criterion("Fix the spelling of {text}.", variables=("text",))
    ex = {"text": "Teh cat sat on teh mat."}
    assert verdicts(fix, "The cat sat on the mat.", ex) == {"close_to_text_edit": True}
    assert verdicts(fix, "A dog ran far away from home today.", ex) == {"close_to_text_edit": False}


def test_reading_level_ascii_language_overall() -> None:
    easy, hard = (
        "The cat sat. We had fun.",
        (
            "Notwithstanding institutional heterogeneity, comparative organizational analyses "
            "demonstrate systematically differentiated implementation trajectories."
        ),
    )
    assert names("Write at a 5th grade reading level.") == [
        "reading_grade_5",
        "reading_grade_5_slack",
    ]
    assert all(verdicts("Write at a 5th grade reading level.", easy).values())
    assert not any(verdicts("Write at a 5th grade reading level.", hard).values())
    assert verdicts("Use only ASCII characters.", "naïve") == {"ascii_only": False}
    assert verdicts("Use only ASCII characters.", "naive") == {"ascii_only": True}
    lang = criterion("Reply in the same language as the user.")
    ex = {"message": "¿Dónde está la estación de tren más cercana, por favor?"}
    assert verdicts(lang, "La estación está a dos calles de aquí.", ex) == {
        "same_language_as_input": True
    }
    assert verdicts(lang, "The station is two streets from here.", ex) == {
        "same_language_as_input": False
    }
    # review_final.csv: placeholders filled with English system text do not tell the user's
    # language, so a Spanish reply is not judged against them
    system = {"lazy_prompt": "Write complete code and leave no placeholder comments for the user."}
    spanish = "La estación está a dos calles de aquí, junto a la plaza."
    assert verdicts(lang, spanish, system) == {"same_language_as_input": True}
    both = {**system, "user_input": "¿Dónde está la estación de tren más cercana, por favor?"}
    assert verdicts(lang, spanish, both) == {"same_language_as_input": True}
    assert verdicts(lang, "The station is two streets from here.", both) == {
        "same_language_as_input": False
    }
    overall = criterion(
        "The overall rating equals the lowest grade.",
        context="Grade each part A, B, C, D, or F. The overall rating equals the lowest grade.",
    )
    assert verdicts(overall, "Clarity: B\nDepth: C\nOverall: C") == {
        "overall_is_lowest_grade": True
    }
    assert verdicts(overall, "Clarity: B\nDepth: C\nOverall: A") == {
        "overall_is_lowest_grade": False
    }


def test_list_length_against_an_input_and_json_only() -> None:
    crit = criterion(
        "You are tasked with writing up to {max_queries} search queries.",
        variables=("max_queries",),
    )
    assert verdicts(crit, '{"queries": ["a", "b"]}', {"max_queries": 2}) == {
        "at_most_queries": True
    }
    assert verdicts(crit, '{"queries": ["a", "b", "c"]}', {"max_queries": 2}) == {
        "at_most_queries": False
    }
    only = criterion(
        "Do not say anything else.",
        context="Provide them as a JSON object. Do not say anything else.",
    )
    assert verdicts(only, '{"a": 1}') == {"only_json": True}
    assert verdicts(only, 'Sure! {"a": 1}') == {"only_json": False}
    fence = "Your response should contain Python code wrapped in markdown code blocks (starting with ```python)"
    assert verdicts(fence, "```python\nprint(1)\n```")["code_block_python"] is True
    assert verdicts(fence, "```\nprint(1)\n```")["code_block_python"] is False
