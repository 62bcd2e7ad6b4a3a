"""Phrase rules: forbidden and required words, and content concepts, on real prompt wording."""

from __future__ import annotations

import pytest
from _rules_support import criterion, functions, names, verdicts

from llmassert.synth.rules.base import listed_terms, quoted


def test_quoted_and_listed_terms() -> None:
    assert quoted('Never use words like: "Feature", "Religion"') == ["Feature", "Religion"]
    assert quoted("Use ‘Hello’ and `x_id`, don't say 'nope'.") == ["Hello", "x_id", "nope"]
    assert quoted("the company's policy isn't here") == []
    assert listed_terms("Do not use the words synergy, leverage or paradigm.") == [
        "synergy",
        "leverage",
        "paradigm",
    ]
    assert listed_terms("Avoid words like delve and tapestry") == ["delve", "tapestry"]


FORBID = 'Never use words like: "Feature", "Religion"'


def test_forbidden_words_variants() -> None:
    assert names(FORBID) == [
        "forbid_feature_religion_exact",
        "forbid_feature_religion_ci",
        "forbid_feature_religion_stem",
    ]
    assert all(verdicts(FORBID, "Try our new tool today.").values())
    assert not any(verdicts(FORBID, "Our new Feature is here.").values())
    assert verdicts(FORBID, "our new feature is here") == {
        "forbid_feature_religion_exact": True,  # case-sensitive: lowercase slips through
        "forbid_feature_religion_ci": False,
        "forbid_feature_religion_stem": False,
    }
    assert verdicts(FORBID, "Three new Features ship today.") == {
        "forbid_feature_religion_exact": True,
        "forbid_feature_religion_ci": True,
        "forbid_feature_religion_stem": False,  # inflections count
    }


def test_required_phrase_variants() -> None:
    text = 'Include a "Call To Action" encouraging the user to try it.'
    found = verdicts(text, "Here is your Call To Action: click here to try it now.")
    assert {k: v for k, v in found.items() if k.startswith("require")} == {
        "require_call_to_action_exact": True,
        "require_call_to_action_ci": True,
        "require_call_to_action_stem": True,
    }
    found = verdicts(text, "Nothing to do here.")
    assert not any(v for k, v in found.items() if k.startswith("require"))
    found = verdicts(text, "here is your call to action")
    assert (
        found["require_call_to_action_exact"] is False
        and found["require_call_to_action_ci"] is True
    )


def test_required_symbol_and_several_terms() -> None:
    text = 'Make it personal and always show gratitude to the author using "@" when tagging.'
    assert {
        "require_at_exact",
        "require_at_ci",
        "has_handle_strict",
        "has_gratitude_strict",
    } <= set(names(text))
    good = verdicts(text, "Thanks @anna for the PR!")
    bad = verdicts(text, "The PR looks fine.")
    assert all(good.values()) and not any(bad.values())
    several = "Mention the words refund and warranty."
    assert names(several) == [
        "require_refund_warranty_exact",
        "require_refund_warranty_ci",
        "require_refund_warranty_stem",
        "require_refund_warranty_any",
    ]
    assert verdicts(several, "The warranty covers it.") == {
        "require_refund_warranty_exact": False,
        "require_refund_warranty_ci": False,
        "require_refund_warranty_stem": False,
        "require_refund_warranty_any": True,
    }


def test_quotes_without_an_inclusion_verb_are_not_requirements() -> None:
    assert names('Craft an "existing user" onboarding email.') == []
    assert names('Start with "Dear"') == [
        n for n in names('Start with "Dear"') if not n.startswith("require")
    ]


@pytest.mark.parametrize(
    ("text", "present", "absent"),
    [
        ("Always show gratitude to the author.", "Thank you for this!", "This is fine."),
        (
            "Always include a Call To Action.",
            "Sign up today and get started.",
            "Our product exists.",
        ),
        (
            "Encourage readers to contact your company if they have questions.",
            "Reach out to us anytime.",
            "Bye.",
        ),
        (
            "Include all reference data & links to back up your research.",
            "Source: https://x.org/report",
            "No proof.",
        ),
        (
            "Incorporate all available quantitative data.",
            "Revenue 10%, EBITDA $3M, 4 stores, 2 regions, 12 staff",
            "It grew.",
        ),
        (
            "Provide the improvement in code.",
            "Use this:\n```python\nx = 1\n```",
            "Rename the variable.",
        ),
        ("Include examples of each point.", "For example, cats.", "Cats are nice."),
        ("Use a subject line.", "Subject: Hello\nBody", "Hello there"),
    ],
)
def test_inclusion_concepts(text: str, present: str, absent: str) -> None:
    on_present, on_absent = verdicts(text, present), verdicts(text, absent)
    concept = {k for k in on_present if k.startswith("has_")}
    assert concept, names(text)
    assert all(on_present[k] for k in concept), on_present
    assert not any(on_absent[k] for k in concept), on_absent


@pytest.mark.parametrize(
    ("text", "clean", "dirty"),
    [
        (
            "do not give an overall assessment or conclusion",
            "Revenue rose 5%.",
            "Revenue rose.\n\nIn conclusion, strong.",
        ),
        (
            "Refrain from speculating unless it is stated.",
            "Revenue rose 5%.",
            "Presumably revenue will rise; I guess so.",
        ),
        ("Never apologize.", "Here is the answer.", "I'm sorry, I apologize for that."),
        (
            "Never mention that you are an AI.",
            "Here is the answer.",
            "As an AI language model, I cannot.",
        ),
        ("Do not use emojis.", "Great work.", "Great work 🎉 🚀"),
        ("Avoid hashtags.", "Launch day.", "Launch day #ai #ml"),
        ("Do not repeat yourself.", "One. Two. Three.", "Same thing. Same thing. Same thing."),
        ("Don't include links.", "Read the manual.", "Read https://x.org/m and www.y.com"),
        (
            "Do not mention prices, discounts or promo codes.",
            "Offline mode is here.",
            "Now $9 with 20% off, promo code X.",
        ),
        (
            "Do not include email addresses from the ticket.",
            "Customer reports an outage.",
            "Write to jan.r@north.example now.",
        ),
        ("Never share phone numbers.", "Call the customer back.", "Call +1 415 555 0199 today."),
    ],
)
def test_exclusion_concepts(text: str, clean: str, dirty: str) -> None:
    on_clean, on_dirty = verdicts(text, clean), verdicts(text, dirty)
    concept = {k for k in on_clean if k.startswith("no_")}
    assert concept, names(text)
    assert all(on_clean[k] for k in concept), on_clean
    assert not any(on_dirty[k] for k in concept), on_dirty


def test_phone_numbers_are_not_quantitative_data() -> None:
    assert not [
        n for n in names("Do not include phone numbers.") if "numbers_" in n and "phone" not in n
    ]


def test_exclusion_only_concepts_need_a_negation() -> None:
    assert not [
        n for n in names("As an AI financial analyst, synthesize the transcript.") if "ai_self" in n
    ]
    assert not [n for n in names("Speculate freely about the future.") if "speculation" in n]


def test_inline_code_naming_a_file_is_not_a_code_snippet() -> None:
    fns = functions(criterion("Never include code snippets in chat messages."))
    no_code = fns["no_code_strict"]
    assert no_code({}, "I updated `index.html` and `styles.css`.")
    assert not no_code({}, "Call `fetch(url)` first.")
    assert not no_code({}, "```js\nlet a = 1;\n```")
