"""Round-3 holdout: state shown to an agent, environment statements, schemas, purpose clauses
(invented sentences)."""

from __future__ import annotations

import pytest
from _rules_support import checks_of, conditional, roles_of

from llmassert.textunits import split_units_with_kinds

# -- placeholders name input values, not instructions ---------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "The puzzle is a {{kind_label}} riddle named {{name}}, worth {{score}} coins.",
        "Operation '{{name}}' cannot be run in this sandbox.",
    ],
)
def test_a_statement_with_placeholders_is_an_input_value(line: str) -> None:
    assert roles_of(f"You are a robot.\n\n{line}\n")[line] == "input"


@pytest.mark.parametrize(
    "line",
    [
        "(Current folder: <dir>) <host> %",
        "[Selected item: <item>]",
    ],
)
def test_a_line_of_labels_and_slots_is_state_not_an_instruction(line: str) -> None:
    text = f"Your terminal shows a status line like this:\n{line}\n\nAnswer briefly.\n"
    assert roles_of(text)[line] == "input"
    assert checks_of(text).get(line, []) == []


# -- process steps behind an opener ------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "Always make sure to look at the selected folder before moving anything.",
        "Please be sure to read the whole ticket first.",
    ],
)
def test_a_process_verb_after_an_opener_is_a_process_step(line: str) -> None:
    assert roles_of(f"You are a robot.\n\n{line}\n")[line] == "process"


@pytest.mark.parametrize(
    "line",
    [
        "Everything you put in the NOTES part will be saved for later reference.",
        "Each answer you give will be logged for the audit.",
    ],
)
def test_what_happens_to_the_output_is_not_an_instruction(line: str) -> None:
    assert roles_of(f"You are a robot.\n\n{line}\n")[line] == "process"
    assert checks_of(f"You are a robot.\n\n{line}\n").get(line, []) == []


def test_a_kept_output_with_an_obligation_stays_output() -> None:
    line = "The summary must be short, since it will be stored in a database."
    assert roles_of(f"You are a robot.\n\n{line}\n")[line] == "output"


def test_an_unpunctuated_line_before_a_capitalised_imperative_is_not_joined() -> None:
    text = (
        "Check that no helper in the module is left empty, every helper needs a body\n"
        "Return the whole module with every gap closed\n"
    )
    assert [u for u, _k in split_units_with_kinds(text)] == [
        "Check that no helper in the module is left empty, every helper needs a body",
        "Return the whole module with every gap closed",
    ]


# Guards (held before the change too): what the new rules must not take away.


def test_an_output_verb_after_an_opener_stays_output() -> None:
    line = "Always make sure to write the summary in English."
    assert roles_of(f"You are a robot.\n\n{line}\n")[line] == "output"


# -- statements about the environment ----------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "The selected folder might be somewhere else than the home folder!",
        "A job that crashed once will crash again unless you change its settings.",
        "The sandbox cannot reach the network.",
    ],
)
def test_a_statement_about_the_environment_is_not_an_instruction(line: str) -> None:
    assert roles_of(f"You are a robot.\n\n{line}\n")[line] != "output"


@pytest.mark.parametrize(
    "line",
    [
        "The summary must be under fifty words.",
        "The answer is always a single number.",
        "Each bullet starts with a verb.",
    ],
)
def test_statements_about_the_response_stay_output(line: str) -> None:
    assert roles_of(f"You are a robot.\n\n{line}\n")[line] == "output"


def test_a_demonstrative_subject_points_back_and_keeps_the_output_role() -> None:
    text = "List the risks of the deal.\nThese may include delays and price changes.\n"
    assert roles_of(text)["These may include delays and price changes."] == "output"


def test_a_capability_after_a_leading_phrase_is_not_an_instruction() -> None:
    line = "Besides the usual shell tools, you can also call the helpers listed below."
    assert roles_of(f"You are a robot.\n\n{line}\n")[line] == "persona"


# -- an unfenced JSON schema after its intro is the output template ----------------------------

SCHEMA = """You are a planner.
Reply with valid JSON matching the following schema:
{
    "type": "object",
    "properties": {
        "steps": {
            "type": "string",
            "description": "- one step\\n- per dashed\\n- line"
        },
        "mood": {"type": "string", "description": "a word"}
    },
    "required": ["steps", "mood"]
}
Never add prose outside the JSON.
"""


def test_an_unfenced_json_schema_after_its_intro_is_template() -> None:
    roles = roles_of(SCHEMA)
    line = '"description": "- one step\\n- per dashed\\n- line"'
    assert roles[line] == "example"
    assert roles['"required": ["steps", "mood"]'] == "example"
    assert roles["Never add prose outside the JSON."] == "output"
    assert not any("bullet" in n for n in checks_of(SCHEMA).get(line, []))
    # The schema's keywords ("type", "properties") are not keys the response must have.
    assert not any("template_keys" in n for names in checks_of(SCHEMA).values() for n in names)


# -- a leading purpose clause naming an optional action makes a sentence conditional -----------


@pytest.mark.parametrize(
    "sentence",
    [
        "To call a helper, write exactly this format:",
        "To run a command, put it on its own line.",
    ],
)
def test_a_purpose_clause_on_an_optional_action_is_a_condition(sentence: str) -> None:
    assert conditional(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "Prefer the `view` helper over `dump` for records.",
        "Instead, try to call `summarize` on the log.",
        "Preferably answer with a table.",
    ],
)
def test_a_preference_or_attempt_is_not_a_requirement(sentence: str) -> None:
    assert conditional(sentence)
    assert checks_of(f"You are a robot.\n\n{sentence}\n")[sentence] == []


def test_alternative_actions_require_neither() -> None:
    sentence = "You MUST either call one helper OR write your final reply."
    assert conditional(sentence)


def test_alternative_labels_are_still_a_requirement() -> None:
    sentence = "Answer with either YES or NO."
    assert not conditional(sentence)


def test_a_purpose_clause_on_the_task_is_not_a_condition() -> None:
    sentence = "To answer, write one short paragraph."
    assert not conditional(sentence)
