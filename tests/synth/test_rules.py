"""The rule library as a whole: valid, safe, stable, honest candidates."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from _rules_support import criterion, names, verdicts

from llmassert.assertions import helpers
from llmassert.synth.models import Category
from llmassert.synth.rules import candidates_for, candidates_for_all, recognizes

EXAMPLE = {
    "topic": "Project Management Software",
    "word_count": "60",
    "question": "chi-squared tests",
}
VARIABLES = ("topic", "word_count", "question")

# Instructions as they appear in real prompt histories.
CRITERIA = [
    ("The email should be no more than [word_count] words long.", Category.COUNT),
    ("Answer in at most 3 sentences.", Category.COUNT),
    ("Use at least 2 bullet points.", Category.COUNT),
    ("Write between 10 and 40 words.", Category.COUNT),
    ("Elaborate on the topic in about 50 words.", Category.COUNT),
    ("Answer in short form.", Category.QUALITATIVE_ASSESSMENT),
    ('Never use words like: "Feature", "Religion"', Category.EXCLUSION),
    (
        'Include a "Call To Action" encouraging the user to try [topic] with you.',
        Category.INCLUSION,
    ),
    (
        'Make it personal and always show gratitude to the author using "@" when tagging.',
        Category.INCLUSION,
    ),
    (
        "Closing: Encourage readers to contact your company if they have any questions.",
        Category.INCLUSION,
    ),
    ("do not give an overall assessment or conclusion", Category.EXCLUSION),
    ("Include all reference data & links to back up your research.", Category.INCLUSION),
    ("Response must be in bullets.", Category.PRESENTATION_FORMAT),
    ("Your report should have markdown notation.", Category.PRESENTATION_FORMAT),
    (
        "The report must contain the following headers: 'Summary', 'Risks'.",
        Category.PRESENTATION_FORMAT,
    ),
    ('Respond only in JSON with keys "name" and "age".', Category.PRESENTATION_FORMAT),
    ("Respond in English.", Category.PRESENTATION_FORMAT),
    ("Write everything in lowercase.", Category.PRESENTATION_FORMAT),
    ("Start the email with 'Dear'.", Category.PRESENTATION_FORMAT),
    ("End your answer with a question.", Category.PRESENTATION_FORMAT),
    (
        "I want you to ask me for a summary of my understanding of it.",
        Category.WORKFLOW_DESCRIPTION,
    ),
    ("Never apologize.", Category.EXCLUSION),
    ("Provide the improvement in code.", Category.INCLUSION),
    ("Showcase [topic] as the solution.", Category.INCLUSION),
    ("[Your Name]", Category.PRESENTATION_FORMAT),
    ("[topic]: {topic}", Category.DATA_PLACEHOLDERS),
    (
        "The document needs to be easily read in simple and clear language.",
        Category.QUALITATIVE_ASSESSMENT,
    ),
]

RESPONSES = [
    "",
    "Subject: Hello\n\nDear Anna,\n\nOur project management software is here. Feature drop! Call To Action: "
    "try it now at https://example.com. Contact us with questions. Thanks @anna!\n\nBest regards,\n[Your Name]",
    "i'm sorry, in conclusion this is all lowercase and rather long prose without much structure at all, "
    "going on and on about nothing in particular for a good many words, far more than anybody asked for.",
    '{"name": "Ann", "age": 3}',
    "## Summary\n- point one\n- point two\n\n## Risks\n- none\n\nCould you summarize what you know?",
    "Please provide a summary of your understanding of chi-squared tests. Here:\n```python\nx = 1\n```\nOK?",
    "Das ist kein Englisch, und die Antwort ist auf Deutsch geschrieben für die Leser.",
    "One. Two. Three. Four. Five. Six.",
    " ".join(["word"] * 90) + ".",
    " ".join(["word"] * 50),
    "Dear team, " + " ".join(["long"] * 500) + " {name}",
]


def all_candidates() -> list[tuple[str, object]]:
    crits = [criterion(text, category, VARIABLES) for text, category in CRITERIA]
    return [(c.name, c) for c in candidates_for_all(crits)]


def test_every_candidate_can_both_pass_and_fail() -> None:
    # A check that cannot fail (or cannot pass) is a defect: show each one doing both.
    crits = [criterion(text, category, VARIABLES) for text, category in CRITERIA]
    never_failed, never_passed = [], []
    for crit in crits:
        results: dict[str, set[bool]] = {}
        for response in RESPONSES:
            for name, value in verdicts(crit, response, EXAMPLE).items():
                results.setdefault(name, set()).add(value)
        never_failed += [n for n, seen in results.items() if False not in seen]
        never_passed += [n for n, seen in results.items() if True not in seen]
    assert never_failed == [] and never_passed == []


def test_candidates_are_well_formed_and_unique() -> None:
    found = candidates_for_all(criterion(text, category, VARIABLES) for text, category in CRITERIA)
    assert len(found) > 70
    assert len({c.name for c in found}) == len(found)
    for cand in found:
        assert cand.name.isidentifier() and cand.name not in helpers.__all__
        assert (
            cand.kind == "deterministic"
            and cand.source == "rules"
            and cand.criterion_id.startswith("c")
        )
        assert cand.description and "\n" not in cand.description
        assert f"def {cand.name}(example: dict, response: str) -> bool:" in cand.code
        assert '    """' in cand.code and "Criterion (v1, " in cand.code


def test_taken_names_get_suffixes() -> None:
    taken: set[str] = set()
    first = candidates_for(criterion("Be concise."), taken=taken)
    second = candidates_for(criterion("Keep it brief."), taken=taken)
    assert [c.name for c in first] == [
        "brief_max_words_150",
        "brief_max_words_250",
        "brief_max_words_400",
    ]
    assert [c.name for c in second] == [
        "brief_max_words_150_2",
        "brief_max_words_250_2",
        "brief_max_words_400_2",
    ]
    assert "def brief_max_words_150_2(" in second[0].code


def test_names_and_code_are_stable_across_processes() -> None:
    script = (
        "import json\n"
        "from llmassert.synth.models import Category, Criterion\n"
        "from llmassert.synth.rules import candidates_for_all\n"
        "from llmassert.synth.taxonomy import criterion_id\n"
        f"crits = [Criterion(id=criterion_id('p', 1, t), prompt='p', version=1, text=t, category=Category(c), variables={VARIABLES!r}) for t, c in {[(t, c.value) for t, c in CRITERIA]!r}]\n"
        "print(json.dumps([[c.name, c.code] for c in candidates_for_all(crits)]))\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    ]  # fmt: skip
    assert runs[0] == runs[1]
    assert len(json.loads(runs[0])) > 70


def test_recognizes_only_what_it_can_check() -> None:
    assert recognizes(criterion("Never use the word 'Feature'.", Category.EXCLUSION))
    assert recognizes(criterion("Answer in at most 3 sentences.", Category.COUNT))
    for text in (
        "Adhere to the languages code conventions",
        "Prioritize the most important information first",
        "Take into account that you don’t have access to the full code but only the code diff.",
        "You should not make things up, you should only write facts & data that you have gathered",
    ):
        assert not recognizes(criterion(text)), text
        assert candidates_for(criterion(text)) == []
    assert not recognizes(criterion("Never use the word 'Feature'.", Category.PROMPT_REPHRASING))


def test_names_stay_readable() -> None:
    assert names("Keep it under 200 characters.") == [
        "max_chars_200_strict",
        "max_chars_200_slack10",
        "max_chars_200_slack25",
    ]
    assert names('Never use "Synergy!"')[0] == "forbid_synergy_exact"
