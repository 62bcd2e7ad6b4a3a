"""Round-2 holdout readings of structure and style rules: conditional and "multiple X" bans,
actions after "start by", addressed questions, imperative section demands, prompt notes that
look like section labels, and markdown scoped to a part of the response."""

from __future__ import annotations

from _rules_support import criterion, names, verdicts

from llmassert.synth.models import Category

FENCE = "```sh\nls\n```"


def _structure(text: str, **kw: object) -> list[str]:
    return [n for n in names(criterion(text, **kw)) if "code_block" in n or "table" in n]  # type: ignore[arg-type]


# --- finding 7: a ban with a trailing condition is conditional ----------------------------------


def test_code_block_ban_with_a_trailing_condition_gives_no_blanket_ban() -> None:
    assert _structure("Never wrap output in a code block unless the reader must run it.") == []
    assert _structure("Do not add a code block if the snippet is only an illustration.") == []
    assert _structure("Do not put a code block that the reader cannot run.") == []
    assert _structure("Never use a code block in your reply.") == ["no_code_block"]


def test_code_block_ban_is_skipped_when_the_prompt_asks_for_code_blocks() -> None:
    context = "Put shell commands in a code block. Do not use a code block for prose."
    crit = criterion("Do not use a code block for prose.", context=context)
    assert "no_code_block" not in names(crit)


# --- finding 8: "multiple / more than one X" limits X to one ------------------------------------


def test_negated_multiple_limits_to_one() -> None:
    text = "Never emit more than one code block per answer."
    assert "no_code_block" not in names(text)
    assert verdicts(text, f"Run:\n{FENCE}")["at_most_one_code_block"] is True
    assert verdicts(text, f"{FENCE}\nthen\n{FENCE}")["at_most_one_code_block"] is False
    table = "| a | b |\n|---|---|\n| 1 | 2 |"
    several = "Avoid several tables in one answer."
    assert "no_table" not in names(several)
    assert verdicts(several, table)["at_most_one_table"] is True
    assert verdicts(several, f"{table}\n\nand\n\n{table}")["at_most_one_table"] is False
    questions = "Do not ask the reader several questions at once."
    assert names(questions) == ["at_most_one_question"]
    assert verdicts(questions, "Which file? I can start there.") == {"at_most_one_question": True}
    assert verdicts(questions, "Which file? Which line?") == {"at_most_one_question": False}


# --- finding 5: "start by <verb>ing" is an action, not text -------------------------------------


def test_start_by_an_action_gives_no_literal_phrase() -> None:
    for text in (
        "For bigger jobs, begin by sketching an outline.",
        "Start by listing the inputs you received.",
        "Open with restating the goal in one line.",
        "End by checking the totals again.",
    ):
        assert not any(
            n.startswith(("starts_with_", "ends_with_", "first_line")) for n in names(text)
        ), text
    assert names("Start by asking the reader a question.")[:1] == ["starts_with_question"]
    said = names('Begin by saying "Good day".')
    assert "starts_with_good_day_exact" in said


def test_bare_start_words_need_a_noun_like_object() -> None:
    assert not any(n.startswith("starts_with") for n in names("Start with brief context."))
    assert "starts_with_hello_ci" in names("Start with Hello.")


# --- finding 1: sections demanded by an imperative ----------------------------------------------


def test_sections_need_an_imperative_about_the_response() -> None:
    assert names("Be careful with half-written sections and skip style remarks.") == []
    assert names("Take care with the code sections you touch.") == []
    listed = "The memo should use markdown and contain the following headers:"
    assert "has_sections_lenient" in names(listed)
    assert names("Split the report into clear sections.") == [
        "has_headers_strict",
        "has_sections_lenient",
    ]


# --- finding 4: "Label: instruction" is a note, not a section title -----------------------------


def test_label_lines_that_are_instructions_are_not_sections() -> None:
    ctx = "Use '##' to split sections. Hint7: If a value is optional, ALWAYS give it a default."
    for text in (
        "Hint7: If a value is optional, ALWAYS give it a default.",
        "Hint8: YOU MUST keep the public interface.",
        "Hint9: Use plain names for variables.",
    ):
        crit = criterion(text, Category.PRESENTATION_FORMAT, context=ctx)
        assert not any(n.startswith("sections_") for n in names(crit)), text
    described = criterion(
        "Open Issues: This section lists what is still unresolved.",
        Category.PRESENTATION_FORMAT,
        context="The output has these headers: Open Issues: This section lists ...",
    )
    assert "sections_open_issues_strict" in names(described)


# --- finding 3: questions need an addressee -----------------------------------------------------


def test_questions_without_an_addressee_are_not_asked_of_the_reader() -> None:
    assert names("Ask questions that name classes, modules, or directories.") == []
    assert names("Ask follow-up search queries about the missing modules.") == []
    assert names("Ask clarifying questions.")[:1] == ["asks_question_strict"]
    assert "asks_question_strict" in names("Ask for more details from the user.")
    assert "asks_for_confirmation" in names("Ask the user for confirmation before deleting data.")


# --- finding 2: markdown for one part, or under a condition -------------------------------------


def test_markdown_scoped_or_conditional_is_not_required_of_the_whole_response() -> None:
    for text in (
        "List the fixes you propose, using markdown to format the summary.",
        "Use markdown in the notes field.",
        "When the answer has several parts, format it with markdown.",
        "Write the review inside the <feedback> tag, formatted with markdown.",
    ):
        assert not any(n.startswith("markdown") for n in names(text)), text
    assert "markdown_lenient" in names("Format your answer in markdown.")
    assert "markdown_lenient" in names("Write every reply to the user in Markdown.")


# --- a tag skeleton after "Follow this format:" is the response's shape -------------------------


def test_tag_skeleton_after_a_format_line_requires_each_tag() -> None:
    from llmassert.history.models import PromptHistory, PromptVersion
    from llmassert.sandbox import load_inline
    from llmassert.synth.engine import offline_candidates

    text = (
        "Read the ticket and judge whether it is urgent.\n"
        "Follow this format:\n"
        "<verdict>\n"
        "Urgent or routine.\n"
        "</verdict>\n"
        "<reason>\n"
        "One line on why.\n"
        "</reason>\n"
    )
    history = PromptHistory(
        name="triage",
        versions=(PromptVersion(index=1, text=text, source="v1.txt", label="v1"),),
        origin="test",
    )
    _criteria, cands = offline_candidates(history)
    found = {c.name: c for c in cands if c.name.startswith("format_tags")}
    assert "format_tags_strict" in found  # the self-test may keep one variant only
    good = "<verdict>\nroutine\n</verdict>\n<reason>\nA typo fix.\n</reason>"
    missing = "<verdict>\nroutine\n</verdict>\nA typo fix."
    swapped = "<reason>\nA typo fix.\n</reason>\n<verdict>\nroutine\n</verdict>"
    for name, cand in found.items():
        fn = load_inline(cand.code, filename=name)[name]
        assert fn({}, good) is True
        assert fn({}, missing) is False
    strict = load_inline(found["format_tags_strict"].code, filename="s")["format_tags_strict"]
    assert strict({}, swapped) is False
