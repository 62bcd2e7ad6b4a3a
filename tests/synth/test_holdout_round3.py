"""Round-3 holdout findings in the placeholder, phrase and kinds rules: echo checks only from
instructions on the output, tool and command choices, idioms, tool-call formats. Sentences are
invented; each asserts what synthesis produces."""

from __future__ import annotations

from _rules_support import criterion, names, verdicts

from llmassert.synth.models import Category


def _echo(found: list[str]) -> list[str]:
    return [n for n in found if n.startswith("mentions_")]


# --- echo checks need an instruction that puts the value in the response ------------------------


def test_a_statement_about_the_input_asks_no_echo() -> None:
    fact = criterion(
        "The puzzle is a {{difficulty}} riddle titled {{title}}.",
        Category.COUNT,
        ("difficulty", "title"),
    )
    assert _echo(names(fact)) == []
    fact = criterion("Command '{{cmd}}' is not available here.", variables=("cmd",))
    assert _echo(names(fact)) == []
    # An instruction still echoes.
    told = criterion("Write a short riddle about {{title}}.", variables=("title",))
    assert "mentions_title_strict" in names(told)


def test_a_workflow_step_on_a_variable_asks_no_echo() -> None:
    step = criterion(
        "The selected row may be on another page than the current page.",
        Category.WORKFLOW_DESCRIPTION,
        ("selected_row",),
    )
    assert _echo(names(step)) == []
    label = criterion(
        "[Selected row: <id>] <page> >", Category.WORKFLOW_DESCRIPTION, ("selected_row",)
    )
    assert _echo(names(label)) == []
    look = criterion(
        "Always be sure to inspect the selected row before you edit anything.",
        variables=("selected_row",),
    )
    assert _echo(names(look)) == []


def test_a_set_to_choose_from_is_not_echoed() -> None:
    pick = criterion(
        "You must use one of the following colors, only one: {palette}.", variables=("palette",)
    )
    assert _echo(names(pick)) == []
    source = criterion(
        'Write 2 titles that summarise the following: "{article}"', variables=("article",)
    )
    assert _echo(names(source)) == []
    source = criterion(
        'Write 2 titles that sum up the topic from the following: "{article}"',
        variables=("article",),
    )
    assert _echo(names(source)) == []


# --- named commands: a preference or a choice, not required text --------------------------------


def _literal(found: list[str]) -> list[str]:
    return [n for n in found if n.startswith(("require_", "forbid_"))]


def test_a_preferred_command_is_no_required_phrase() -> None:
    text = "Prefer using `ls` instead of `dir` and `less` instead of `more`."
    assert _literal(names(text)) == []
    assert _literal(names("Try to use `gzip` for large archives.")) == []


def test_a_sentence_opening_with_instead_replaces_an_earlier_ban() -> None:
    assert _literal(names("Instead use `tail` or `head`.")) == []


def test_alternatives_joined_by_or_need_only_one() -> None:
    found = _literal(names('Include "Regards" or "Cheers" in your reply.'))
    assert found == ["require_regards_cheers_any"]
    assert "require_red_blue_ci" in names('Include "red" and "blue" in your answer.')


def test_for_future_reference_is_no_request_for_links() -> None:
    found = names("Whatever goes in the NOTES part is kept for future reference.")
    assert not [n for n in found if n.startswith("has_links")]
    assert "has_links_strict" in names("Include links to your sources.")


# --- tool calls ---------------------------------------------------------------------------------


def test_how_to_call_a_tool_does_not_make_every_reply_a_call() -> None:
    assert "is_tool_call" not in names("To use a tool, write it in the exact following format:")
    assert "is_tool_call" not in names("You must either use a tool or give your final answer.")
    text_call = criterion(
        "Always call the search tool first.",
        context="Always call the search tool first.\nTool: the tool name\nInput: its argument",
    )
    assert "is_tool_call" not in names(text_call)
    assert "is_tool_call" in names("Always call the search tool first.")


# --- placeholders in code are stubs -----------------------------------------------------------


def test_placeholders_in_code_are_stubs_not_template_slots() -> None:
    code = "Return complete methods, replacing every placeholder with working logic."
    assert not [n for n in names(code) if n.startswith("no_unfilled")]
    assert "no_unfilled_placeholders_strict" in names("Fill in every placeholder of the letter.")


# --- the language of a conversation's user turns ------------------------------------------------


def test_same_language_reads_the_user_turns_of_a_conversation() -> None:
    text = "Write the notes in the same language as the user."
    dialogue = (
        "system: You are a helpful assistant.\n"
        "user: Bonjour, je cherche un hôtel pas cher à Lyon pour le week-end.\n"
        "assistant: Avec plaisir."
    )
    example = {"conversation": dialogue}
    english = "The user is looking for a cheap hotel in Lyon for the weekend."
    french = "L'utilisateur cherche un hôtel pas cher à Lyon pour le week-end."
    assert verdicts(text, english, example)["same_language_as_input"] is False
    assert verdicts(text, french, example)["same_language_as_input"] is True
    assert verdicts(text, english, {"conversation": "no turns marked here at all"})[
        "same_language_as_input"
    ]


# --- a list of strings, a limit on steps --------------------------------------------------------


def test_submit_as_an_array_of_strings() -> None:
    text = "Submit your response as a formatted ARRAY of strings, ready for a JSON parser."
    assert "json_list_of_strings" in names(text)
    assert verdicts(text, '["a", "b"]')["json_list_of_strings"] is True
    assert verdicts(text, '[{"step": "a"}]')["json_list_of_strings"] is False


def test_not_exceeding_n_items_is_a_limit() -> None:
    text = "Draft a plan of tasks, not exceeding 4 tasks, to reach the goal."
    assert "at_most_tasks" in names(text)
    assert verdicts(text, '["a", "b"]')["at_most_tasks"] is True
    assert verdicts(text, '["a", "b", "c", "d", "e"]')["at_most_tasks"] is False


def test_a_permission_asks_no_echo() -> None:
    allowed = criterion(
        "Besides plain shell tools, you can also use the following helpers to move around.",
        variables=("helpers",),
    )
    assert _echo(names(allowed)) == []
    asked = criterion("Mention the helpers you relied on.", variables=("helpers",))
    assert "mentions_helpers_strict" in names(asked)
