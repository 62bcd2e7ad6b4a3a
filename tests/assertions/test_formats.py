"""promptfoo's deterministic kinds as helpers: each passes and fails on real text."""

from __future__ import annotations

import pytest

from llmassert.assertions import formats as f


def test_equals_and_regex() -> None:
    assert f.equals(" OK\n", "OK") and not f.equals("ok", "OK")
    assert f.equals("ok", "OK", case=False)
    assert f.matches_regex("id: 2024-01", r"\d{4}-\d{2}")
    assert f.matches_regex("2024", r"\d{4}", full=True) and not f.matches_regex(
        "x2024", r"\d{4}", full=True
    )
    assert not f.matches_regex("x", "(")  # a broken pattern fails, never raises


def test_json_schema_subset() -> None:
    schema = {
        "type": "object",
        "required": ["name", "tags"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2},
            "score": {"type": "number", "minimum": 0, "maximum": 10},
        },
        "additionalProperties": False,
    }
    assert f.matches_schema('{"name": "x", "tags": ["a"]}', schema)
    assert f.matches_schema('```json\n{"name": "x", "tags": []}\n```', schema)
    assert not f.matches_schema('{"name": "x"}', schema)  # required
    assert not f.matches_schema('{"name": "x", "tags": ["c"]}', schema)  # enum
    assert not f.matches_schema('{"name": "x", "tags": [], "score": 11}', schema)  # maximum
    assert not f.matches_schema('{"name": "x", "tags": [], "other": 1}', schema)  # additional
    assert not f.matches_schema("not json", schema)


def test_html_xml_sql() -> None:
    assert f.is_html("<div><p>Hi</p></div>") and f.contains_html("text <b>bold</b>")
    assert not f.is_html("plain text") and not f.contains_html("a < b and c > d")
    assert not f.is_html("<div><span>unclosed</div></p>")
    assert f.is_xml('<?xml version="1.0"?><a><b x="1"/></a>') and not f.is_xml("<a><b></a>")
    assert f.contains_xml("Answer: <answer>42</answer>") and not f.contains_xml("no tags")
    assert f.is_sql("SELECT name FROM users WHERE id = 1;")
    assert f.is_sql("```sql\nUPDATE t SET a = 1;\n```")
    assert not f.is_sql("Select the best option from the list.")
    assert f.contains_sql("Run:\n```sql\nDELETE FROM logs;\n```\nthen restart.")
    assert not f.contains_sql("I would select a few rows from the table.")


def test_refusal_only_counts_at_the_start() -> None:
    assert f.is_refusal("I'm sorry, but I can't help with that.")
    assert f.is_refusal("I cannot assist with this request.")
    assert not f.is_refusal("Here is the summary. " + "x " * 200 + "I cannot provide legal advice.")
    assert not f.is_refusal("")


def test_tool_calls() -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "required": ["city"],
                    "properties": {"city": {"type": "string"}},
                },
            },
        }
    ]
    good = '{"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}'
    assert f.is_valid_tool_call(good) and f.is_valid_tool_call(good, tools)
    assert f.is_valid_tool_call(
        '{"tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "x"}}}]}', tools
    )
    assert not f.is_valid_tool_call('{"name": "get_weather", "arguments": {}}', tools)  # required
    assert not f.is_valid_tool_call('{"name": "other", "arguments": {}}', tools)
    assert not f.is_valid_tool_call("call get_weather(Paris)")


def test_similarity() -> None:
    assert f.levenshtein("kitten", "sitting") == 3 and f.levenshtein("", "ab") == 2
    assert f.levenshtein_ratio("abc", "abc") == 1.0 and f.levenshtein_ratio("abc", "xyz") == 0.0
    ref = "the cat sat on the mat"
    assert f.rouge_n(ref, ref) == pytest.approx(1.0) and f.rouge_n("dog", ref) == 0.0
    assert f.rouge_n("the cat sat", ref, 2) == pytest.approx(2 * (2 / 2) * (2 / 5) / (1 + 2 / 5))
    assert f.rouge_l("the cat on the mat", ref) > 0.8
    assert f.bleu(ref, ref) == pytest.approx(1.0)
    assert 0 < f.bleu("the cat sat on a rug", ref) < 0.7 and f.bleu("xyz", ref) == 0.0


def test_readability_ascii_labels_grades() -> None:
    easy = "The cat sat. The dog ran. We had fun."
    hard = (
        "Notwithstanding considerable institutional heterogeneity, comparative organizational "
        "analyses demonstrate systematically differentiated implementation trajectories."
    )
    assert f.flesch_kincaid_grade(easy) < 3 < 12 < f.flesch_kincaid_grade(hard)
    assert f.syllables("readability") >= 4 and f.syllables("cat") == 1
    assert f.is_ascii("plain") and not f.is_ascii("café")
    assert f.labels_within("bug, feature", ("Bug", "Feature", "Question"))
    assert f.labels_within("- bug\n- good_first_issue", ("bug", "good first issue"))
    assert not f.labels_within("bug, urgent", ("bug", "feature"))
    assert not f.labels_within("", ("bug",))
    scale = ("F", "D", "C", "B", "A")
    assert f.overall_is_lowest("Clarity: B\nDepth: C\nOverall: C", scale)
    assert not f.overall_is_lowest("Clarity: B\nDepth: C\nOverall: A", scale)
    assert f.overall_is_lowest("no grades at all", scale)
