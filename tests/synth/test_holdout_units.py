"""Round-2 holdout: conditions, catalogue lines and sentence splitting (invented sentences)."""

from __future__ import annotations

import pytest
from _rules_support import checks_of, conditional, extraction, roles_of

from llmassert.textunits import split_units, split_units_with_kinds

# -- 1. conditions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "Never put a table in your reply if the data has fewer than three rows.",
        'Write "ALL DONE" at the very end when the whole job is finished.',
        "Say GOODBYE once you are done with the conversation.",
        "For complicated questions, begin by restating the question.",
        "For coding tasks, answer with a single code block.",
    ],
)
def test_trailing_or_input_conditions_yield_no_unconditional_check(sentence: str) -> None:
    assert conditional(sentence, "You are a helpful assistant.")
    assert checks_of(sentence)[sentence] == []


@pytest.mark.parametrize(
    "sentence",
    [
        "Answer in English even if the question is in Spanish.",
        "For this task, answer in English.",
        "Check if the answer is short, then answer in English.",
    ],
)
def test_not_conditions(sentence: str) -> None:
    found = extraction(f"{sentence}\n")
    crit = [c for c in found.criteria if c.text == sentence]
    assert crit and crit[0].id not in found.conditional


# -- 2. catalogue entries -----------------------------------------------------------------

CATALOGUE = """You are a careful agent.

Your reply must be one JSON object naming one of the commands below.

Here are the commands you can call:
* `fetch` - downloads a page. Arguments:
  * `link` - the URL of the page to download
* `note` - writes down a thought, or asks the operator a question. Arguments:
  * `text` - the note itself
* `stop` - once the job is complete, use this to end the session.

Never call `fetch` twice in a row.
"""


def test_catalogue_entries_are_reference_not_instructions() -> None:
    roles = roles_of(CATALOGUE)
    assert roles["`link` - the URL of the page to download"] == "reference"
    assert roles["`note` - writes down a thought, or asks the operator a question."] == "reference"
    assert roles["`stop` - once the job is complete, use this to end the session."] == "reference"
    assert roles["Arguments:"] == "reference"
    assert roles["Never call `fetch` twice in a row."] == "output"
    assert roles["Your reply must be one JSON object naming one of the commands below."] == "output"
    found = checks_of(CATALOGUE)
    assert not any(t.startswith("`") for t in found)


def test_an_entry_announcing_its_arguments_opens_a_catalogue_without_lead_in() -> None:
    text = "Tips.\n\n- `save` - stores the file. Arguments:\n  - `where` - the target URL\n"
    roles = roles_of(text)
    assert roles["`save` - stores the file."] == "reference"
    assert roles["`where` - the target URL"] == "reference"

    # The response's own fields are not a catalogue.
    text = "Your answer must contain these fields:\n- `title` - a short title in Title Case\n"
    assert roles_of(text)["`title` - a short title in Title Case"] == "output"


# -- 3. splitting -------------------------------------------------------------------------


def test_closing_quote_glued_to_a_capitalised_word_ends_a_sentence() -> None:
    units = split_units('Topic: "{subject}"Reply with one short poem.')
    assert units == ['Topic: "{subject}"', "Reply with one short poem."]


def test_emphasis_before_a_capital_after_punctuation_is_a_boundary() -> None:
    units = split_units("Keep answers short. **Always end with a summary.** Be kind.")
    assert units == ["Keep answers short.", "**Always end with a summary.**", "Be kind."]


def test_hard_wrapped_prose_keeps_its_if_clause() -> None:
    text = (
        "If the notes below disagree with what the reader said earlier, you\n"
        "MUST point out the disagreement in the first sentence.\n"
    )
    assert split_units_with_kinds(text) == [
        (
            "If the notes below disagree with what the reader said earlier, you MUST point "
            "out the disagreement in the first sentence.",
            "line",
        )
    ]
    found = extraction(text)
    assert [c.id in found.conditional for c in found.criteria] == [True]
    # Not joined: labelled lines, and unpunctuated capitalised lines of a response (a verse).
    text = "Persona: a patient teacher who explains things to young pupils\nTone: Warm and calm.\n"
    assert len(split_units_with_kinds(text)) == 2
    verse = "Silver rivers run beneath the quiet hills tonight\nStars remember every name"
    assert len(split_units(verse)) == 2


# -- 4. misclassifications ----------------------------------------------------------------


def test_a_complete_for_example_sentence_does_not_swallow_later_rules() -> None:
    text = (
        "Answer in the reader's language.\n"
        "For example, if the reader writes in Dutch, answer in Dutch.\n"
        "Never use more than two headings.\n"
    )
    assert roles_of(text)["Never use more than two headings."] == "output"


def test_an_imperative_heading_makes_an_output_section() -> None:
    text = (
        "## Source: {path}. Write a docstring for every public function in the source.\n"
        "1. Keep each docstring under five lines.\n"
    )
    assert roles_of(text)["Keep each docstring under five lines."] == "output"


@pytest.mark.parametrize(
    ("line", "role"),
    [
        ("Role: You are a cheerful tour guide who loves old castles.", "persona"),
        ("Visitor's city: {visitor.city()}", "input"),
        ("%(ticket)s", "input"),
        ("prompt_text: |", "input"),
        ('engine: "big-model-2"', "input"),
        ("First, write a short outline of the story.", "output"),
        ("Think it over step by step and write at most two search phrases.", "output"),
        ("Given the meeting notes, write a three-line summary.", "output"),
    ],
)
def test_line_roles(line: str, role: str) -> None:
    assert roles_of(f"Intro line for the prompt.\n\n{line}\n")[line] == role


def test_configuration_lines_are_not_joined() -> None:
    assert split_units_with_kinds("verbose: false\nengine: big\n") == [
        ("verbose: false", "line"),
        ("engine: big", "line"),
    ]


def test_a_condition_on_a_nested_verb_keeps_the_instruction_unconditional() -> None:
    sentence = "Invite the reader to write back if anything is unclear."
    found = extraction(f"{sentence}\n")
    assert [c.id in found.conditional for c in found.criteria] == [False]


def test_lines_inside_an_unfenced_output_skeleton_are_template_lines() -> None:
    text = (
        "Review the patch below.\n"
        "Use this format:\n"
        "<verdict>\n"
        "Write Good or Bad, formatted with bold markdown.\n"
        "</verdict>\n"
        "\n"
        "- Never mention the author's name.\n"
    )
    roles = roles_of(text)
    assert roles["Write Good or Bad, formatted with bold markdown."] == "example"
    assert roles["Never mention the author's name."] == "output"
    # An unpunctuated list item followed by a capitalised line: two rules, not one.
    units = split_units_with_kinds("- never add a closing remark\nBe sure to quote the title\n")
    assert len(units) == 2


def test_intros_of_pasted_material_are_input() -> None:
    text = "Here's the current outline in YAML:\n\n{outline}\n\nThis is your draft so far, in JSON format:\n\n{draft}\n"
    roles = roles_of(text)
    assert roles["Here's the current outline in YAML:"] == "input"
    assert roles["This is your draft so far, in JSON format:"] == "input"
