"""Holdout findings in the phrase, placeholder and kinds rules: format samples, tool names,
negation scope, qualified bans, one-word variables, quoted replies at the end, catalogue
entries, JSON-only replies. Sentences are invented; each asserts what synthesis produces."""

from __future__ import annotations

from _rules_support import criterion, names, verdicts

from llmassert.synth.models import Category


def _literal(found: list[str]) -> list[str]:
    return [n for n in found if n.startswith(("require_", "forbid_"))]


# --- 6: format samples, numbered slots, the trigger next to the term ---------------------------


def test_quoted_slots_of_a_format_sample_are_no_required_phrases() -> None:
    text = 'Write two slogans, given in the following format: ["my slogan", "your slogan"]'
    assert _literal(names(text)) == []
    text = 'Write the answers as a JSON array like ["first answer", "second answer"].'
    assert _literal(names(text)) == []


def test_numbered_series_of_one_word_are_placeholder_slots() -> None:
    assert _literal(names('Include "option 1", "option 2" and "option 3" in your answer.')) == []
    # Different words are real phrases.
    assert "require_red_blue_ci" in names('Include "red" and "blue" in your answer.')


def test_trigger_verb_must_be_near_the_quoted_term() -> None:
    text = 'Write a reply to the customer who complained that the "Pro Plan" was too expensive.'
    assert _literal(names(text)) == []
    assert "require_pro_plan_ci" in names('Mention the "Pro Plan" in your reply.')


def test_respond_with_a_list_of_strings() -> None:
    text = 'You must respond with a list of strings in the following format: ["name 1", "name 2"]'
    assert names(text) == ["json_list_of_strings"]
    assert verdicts(text, '["alpha", "beta"]') == {"json_list_of_strings": True}
    assert verdicts(text, '[\n  "alpha",\n  "beta"\n]\n') == {"json_list_of_strings": True}
    assert verdicts(text, 'Here you go: ["alpha", "beta"]') == {"json_list_of_strings": False}
    assert verdicts(text, '[{"name": "alpha"}]') == {"json_list_of_strings": False}
    assert verdicts(text, "1. alpha\n2. beta") == {"json_list_of_strings": False}


# --- 12: a backticked tool name ----------------------------------------------------------------


def test_a_named_tool_is_a_choice_not_text() -> None:
    assert _literal(names("Between two edits, think it over with the `note` action.")) == []
    assert _literal(names("Use the `lookup` tool when a price is missing.")) == []


# --- 13: negation scope ends at instead / rather -----------------------------------------------


def test_negation_ends_at_instead() -> None:
    found = names('Do not write long paragraphs, instead use words like "first" and "then".')
    assert not [n for n in found if n.startswith("forbid_")]
    assert "require_first_then_ci" in found
    # "instead of" still negates what follows it.
    found = names('Use plain words instead of "leverage".')
    assert "forbid_leverage_ci" in found


# --- 14: qualified bans -------------------------------------------------------------------------


def test_a_ban_with_a_restrictive_clause_is_not_a_blanket_ban() -> None:
    assert _literal(names("Never use the `reset` command for a branch that others share.")) == []
    assert _literal(names('Do not say "maybe" once the facts are known.')) == []
    assert "forbid_maybe_ci" in names('Do not say "maybe".')


# --- 11: one-word variables ---------------------------------------------------------------------


def test_one_word_variable_needs_an_echo_verb() -> None:
    keep = criterion("Keep the recipe simple.", Category.INCLUSION, variables=("recipe",))
    assert not [n for n in names(keep) if n.startswith("mentions_")]
    mention = criterion("Mention the recipe by name.", Category.INCLUSION, variables=("recipe",))
    assert "mentions_recipe_strict" in names(mention)
    about = criterion(
        "Gather details about the vendor.", Category.INCLUSION, variables=("vendors",)
    )
    assert "mentions_vendors_strict" in names(about)


def test_no_echo_from_a_ban() -> None:
    ban = criterion(
        "Don't widen the scope of your ticket at all.", Category.EXCLUSION, variables=("ticket",)
    )
    assert not [n for n in names(ban) if n.startswith("mentions_")]


# --- 9: a quoted reply at the end ----------------------------------------------------------------


def test_quoted_reply_at_the_end_is_an_ending() -> None:
    text = 'Say "OVER" at the end.'
    assert names(text) == ["ends_with_ci"]
    assert verdicts(text, "The job ran.\n\nOVER") == {"ends_with_ci": True}
    assert verdicts(text, "The job ran.") == {"ends_with_ci": False}


def test_quoted_reply_under_a_trailing_condition_gives_nothing() -> None:
    found = names('Reply "OVER" at the end once the whole job is finished.')
    assert not [n for n in found if n.startswith(("equals", "ends_with"))]


def test_equals_only_when_the_reply_is_only_that() -> None:
    assert not [n for n in names('Say "thanks" to the volunteers.') if n.startswith("equals")]
    assert verdicts("Reply only with 'OK'.", "OK") == {"equals_exact": True, "equals_ci": True}


# --- 10: catalogue entries -------------------------------------------------------------------------


def test_catalogue_entry_gives_no_concept_or_echo_check() -> None:
    assert names("`link` - the URL to fetch") == []
    entry = criterion(
        "`done` - once you have completed your ticket, use this to stop.",
        Category.INCLUSION,
        variables=("ticket",),
    )
    assert names(entry) == []


# --- JSON-only replies ---------------------------------------------------------------------------


def test_reply_with_json_and_only_with_json() -> None:
    text = "Remember: reply with JSON, and only with JSON."
    assert "only_json" in names(text)
    assert verdicts(text, '{"a": 1}')["only_json"] is True
    assert verdicts(text, 'Sure: {"a": 1}')["only_json"] is False
    assert "only_json" in names("Respond only with JSON.")


def test_a_single_object() -> None:
    crit = criterion(
        "It must be a single object holding the name and the score.",
        Category.INCLUSION,
        context="Answer in JSON. It must be a single object holding the name and the score.",
    )
    assert names(crit) == ["json_single_object"]
    assert verdicts(crit, '{"a": 1, "b": 2}') == {"json_single_object": True}
    assert verdicts(crit, '[{"a": 1}, {"b": 2}]') == {"json_single_object": False}
    other = criterion("It must be a single object.", Category.INCLUSION)
    assert names(other) == []


def test_a_stated_number_of_strings() -> None:
    text = (
        "Write four taglines for the shop. You must respond with a list of strings in the "
        'following format: ["tagline 1", "tagline 2"]'
    )
    assert names(text) == ["json_list_of_4_strings", "json_list_of_strings"]
    assert verdicts(text, '["a", "b", "c", "d"]')["json_list_of_4_strings"] is True
    assert verdicts(text, '["a", "b"]')["json_list_of_4_strings"] is False
    assert names("Write up to 3 taglines. Respond with a list of strings.")[-1:] == [
        "json_list_of_strings"
    ]


# --- prohibitions: two verbs sharing one object --------------------------------------------------


def test_ban_on_telling_the_reader_a_verb_pair() -> None:
    text = "Never ask the reader to sign and return the form."
    assert names(text) == ["no_instruction_sign_and_return"]
    assert verdicts(text, "Please sign and return the form by Friday.") == {
        "no_instruction_sign_and_return": False
    }
    assert verdicts(text, "The form is attached; we will collect it.") == {
        "no_instruction_sign_and_return": True
    }


def test_quoted_alternatives_are_one_of() -> None:
    text = 'Respond only with "YES" or "NO".'
    assert names(text) == ["equals_one_of_exact", "equals_one_of_ci"]
    assert all(verdicts(text, "NO").values())
    assert not any(verdicts(text, "NO, because it rained.").values())


# --- negation and concepts ------------------------------------------------------------------------


def test_a_leading_condition_does_not_negate_the_main_clause() -> None:
    found = names('If there are no open issues, simply say "All clear."')
    assert not [n for n in found if n.startswith("forbid_")]


def test_no_blanket_concept_ban_from_a_count_limit_or_a_condition() -> None:
    assert not [n for n in names("Don't add multiple emojis in one reply.") if n.startswith("no_")]
    assert not [n for n in names("Don't use emojis if the tone is formal.") if n.startswith("no_")]
    assert "no_emojis_strict" in names("Don't use emojis.")


def test_function_references_are_not_citations() -> None:
    found = names("Write questions that involve function references and class names.")
    assert not [n for n in found if "links" in n]
    assert "has_links_strict" in names("Include references for every claim.")
