"""Offline categorization of deltas into SPADE's taxonomy, and criteria from deltas."""

from __future__ import annotations

import pytest

from llmassert.history import Delta, PromptHistory, PromptVersion, deltas
from llmassert.synth.models import Category
from llmassert.synth.taxonomy import categorize, criteria, criterion_id, to_criterion


def delta(text: str, previous: str | None = None) -> Delta:
    return Delta(
        prompt="p",
        version=2,
        kind="changed" if previous else "added",
        text=text,
        context=text,
        previous=previous,
    )


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("{pr_webhook_payload}", Category.DATA_PLACEHOLDERS),
        ("[topic]: {topic}", Category.DATA_PLACEHOLDERS),
        ("Example: Subject: Welcome aboard!", Category.EXAMPLE_DEMONSTRATION),
        ("For instance, a good answer names the author.", Category.EXAMPLE_DEMONSTRATION),
        ("The email should be no more than [word_count] words long.", Category.COUNT),
        ("Summarize in 3 bullet points.", Category.COUNT),
        ("Answer in at most two sentences.", Category.COUNT),
        ('Never use words like: "Feature", "Religion"', Category.EXCLUSION),
        ("do not give an overall assessment or conclusion", Category.EXCLUSION),
        ("Avoid general statements", Category.EXCLUSION),
        ("Response must be in bullets.", Category.PRESENTATION_FORMAT),
        ("Return the answer as JSON.", Category.PRESENTATION_FORMAT),
        ("[Your Name]", Category.PRESENTATION_FORMAT),
        ("Always include a Call To Action.", Category.INCLUSION),
        ("Include code snippets if necessary.", Category.INCLUSION),
        ("Use the get_diff function to fetch the code changes", Category.WORKFLOW_DESCRIPTION),
        ("Then generate a toy dataset and pose a problem.", Category.WORKFLOW_DESCRIPTION),
        ("Answer in short form.", Category.QUALITATIVE_ASSESSMENT),
        ("Keep a friendly, professional tone.", Category.QUALITATIVE_ASSESSMENT),
        ("You are a statistics teacher.", Category.QUALITATIVE_ASSESSMENT),
        ("Our goal is a {target_price_reduction} this year.", Category.INCLUSION),
        # "don't have access" is not an instruction to leave something out.
        (
            "Take into account that you don’t have access to the full code.",
            Category.WORKFLOW_DESCRIPTION,
        ),
    ],
)
def test_added_sentences(text: str, category: Category) -> None:
    assert categorize(delta(text)) is category


@pytest.mark.parametrize(
    ("previous", "text", "category"),
    [
        (
            "Adhere to the languages code conventions",
            "Adhere to the languages code conventions.",
            Category.PROMPT_REPHRASING,
        ),
        (
            "You are an Ai asst at reviewing PRs.",
            "You are an AI Assistant at reviewing PRs.",
            Category.PROMPT_REPHRASING,
        ),
        (
            "Review the below pull request.",
            "Review the below pull request that you receive.",
            Category.PROMPT_REPHRASING,
        ),
        # Rewordings that add a requirement are not rephrasings.
        (
            "Always close with a Call To Action.",
            "Always include a Call To Action.",
            Category.INCLUSION,
        ),
        (
            "Don't do this more than 3 iterations",
            "Don't do this more than 1 iteration",
            Category.COUNT,
        ),
        (
            "Craft a user onboarding email.",
            'Craft an "existing user" onboarding email.',
            Category.INCLUSION,
        ),
        (
            "Our {target} is key.",
            "Our goal is {target} and {budget} is key.",
            Category.DATA_PLACEHOLDERS,
        ),
    ],
)
def test_changed_sentences(previous: str, text: str, category: Category) -> None:
    assert categorize(delta(text, previous)) is category


def test_criteria_have_stable_ids_and_the_histories_variables() -> None:
    history = PromptHistory(
        name="email",
        origin="mem",
        versions=(
            PromptVersion(index=1, text="Write about {topic}.", source="v1", label="v1"),
            PromptVersion(
                index=2,
                text="Write about {topic}. Use at most {word_count} words.",
                source="v2",
                label="v2",
            ),
        ),
    )
    found = criteria(deltas(history))
    assert [(c.version, c.category, c.text) for c in found] == [
        (1, Category.INCLUSION, "Write about {topic}."),
        (2, Category.COUNT, "Use at most {word_count} words."),
    ]
    assert all(c.variables == ("topic", "word_count") for c in found)
    assert (
        found[1].id
        == criterion_id("email", 2, "Use at most {word_count} words.")
        == criteria(deltas(history))[1].id
    )
    assert found[0].id != found[1].id and found[0].id.startswith("c") and len(found[0].id) == 13
    assert to_criterion(deltas(history)[0], Category.COUNT, ("x",)).variables == ("x",)
