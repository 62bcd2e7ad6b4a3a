"""Text helpers used by generated assertions: correct on real shapes, total on odd input."""

from __future__ import annotations

import pytest

from llmassert.assertions import helpers as h

EMAIL = """Subject Line: Boost your team today

Hi [Your Name],

Are you tired of delays? Our tool (v2.5) fixes that, e.g. by syncing tasks. Dr. Lee agrees.

- Faster reviews
- Fewer meetings
1. Sign up
2) Invite your team

Thank you for being with us! Contact us at https://example.com/help.

Best regards,
[Your Name]
"""


def test_words_and_counts() -> None:
    assert h.words("don't stop-gap 3.5 v2, **bold** - x") == (
        "don't",
        "stop-gap",
        "3.5",
        "v2",
        "bold",
        "x",
    )
    assert h.word_count("") == 0
    assert h.char_count("a b\nc") == 5 and h.char_count("a b\nc", spaces=False) == 3
    assert h.line_count("a\n\n b \n") == 2
    assert h.paragraphs("a\nb\n\n\nc") == ("a\nb", "c")
    assert h.first_line("\n\n x \ny") == "x" and h.last_line("x\ny\n\n") == "y"


def test_sentences() -> None:
    found = h.sentences(EMAIL)
    assert "Are you tired of delays?" in found
    assert "Our tool (v2.5) fixes that, e.g. by syncing tasks." in found
    assert "Dr. Lee agrees." in found
    assert "Faster reviews" in found and "Sign up" in found
    assert h.sentence_count("One. Two! Three?") == 3
    assert h.questions(EMAIL) == ("Are you tired of delays?",)


def test_lists_headers_sections() -> None:
    assert h.bullets(EMAIL) == ("Faster reviews", "Fewer meetings")
    assert h.numbered_items(EMAIL) == ("Sign up", "Invite your team")
    assert len(h.list_items(EMAIL)) == 4
    assert h.bullets("**Bold** line\n*emphasis*") == ()
    md = "# Title\n## Risks and Opportunities ##\n**Summary:**\nNext steps: do it\ntext"
    assert h.markdown_headers(md) == ("Title", "Risks and Opportunities")
    assert h.headers(md) == ("Title", "Risks and Opportunities", "Summary")
    assert h.has_section(md, "risks and opportunities", exact=True)
    assert h.has_section(md, "Next Steps") and h.has_section(EMAIL, "Subject Line")
    assert not h.has_section(md, "Conclusion") and not h.has_section(md, "")
    assert not h.has_section(md, "Risks", exact=True) and h.has_section(md, "Risks")


def test_markdown_tables_code() -> None:
    table = "| a | b |\n|---|:---:|\n| 1 | 2 |"
    assert h.has_markdown_table(table) and not h.has_markdown_table("a | b\nc | d")
    assert h.is_markdown(table) and h.is_markdown("# T") and h.is_markdown("see [x](http://y)")
    assert not h.is_markdown("Just a plain sentence. Another one.")
    code = "Try this:\n```python\nprint(1)\n```\nand\n~~~\nx\n~~~"
    assert h.code_blocks(code) == ("print(1)\n", "x\n")
    assert h.code_blocks("no fences `inline`") == ()


def test_json() -> None:
    assert h.is_json('{"a": 1}') and h.is_json("null") and not h.is_json("{a: 1}")
    fenced = 'Here:\n```json\n{"name": "x", "Age": 3}\n```'
    assert not h.is_json(fenced) and h.is_json(fenced, lenient=True)
    assert h.parse_json('Sure! {"a": [1, 2]} Done.', lenient=True) == {"a": [1, 2]}
    assert h.parse_json("nope") is None and h.parse_json("[1]") == [1]
    assert h.json_object("[1]") is None and h.json_object('{"a": 1}') == {"a": 1}
    assert h.has_json_keys(fenced, ["name", "Age"], lenient=True)
    assert not h.has_json_keys(fenced, ["age"], lenient=True)
    assert h.has_json_keys(fenced, ["age"], lenient=True, case=False)
    assert not h.is_json("[" * 100_000)  # deep nesting is a failure, not a crash


def test_phrases() -> None:
    assert h.contains_phrase("We love the Feature set", "feature")
    assert not h.contains_phrase("We love the Feature set", "feature", case=True)
    assert not h.contains_phrase("concatenate", "cat") and h.contains_phrase(
        "concatenate", "cat", whole_word=False
    )
    assert h.contains_phrase("thanks  to   you", "thanks to you") and h.contains_phrase(
        "it’s fine", "it's fine"
    )
    assert h.contains_phrase("tag @anna please", "@") and h.contains_phrase(
        "I like C++ a lot", "C++"
    )
    assert not h.contains_phrase("x", "") and h.count_phrase("a cat, a Cat", "cat") == 2
    assert h.contains_any("x y", ["z", "y"]) and not h.contains_all("x y", ["z", "y"])
    assert h.stem("features") == h.stem("feature") == h.stem("featured")
    assert h.contains_stem("New features shipped", "feature") and not h.contains_stem(
        "feat", "feature"
    )
    assert h.contains_stem("the call to actions", "call to action")


def test_start_end_mentions() -> None:
    assert h.starts_with_phrase("  **Dear** team", "dear") and not h.starts_with_phrase(
        "Hi", "Dear"
    )
    assert h.starts_with_phrase('"Hello"', "Hello", case=True)
    assert h.ends_with_phrase("Thanks,\nAnna!\n", "anna") and not h.ends_with_phrase(
        "Anna, thanks", "Anna"
    )
    assert h.mentions_value("We discuss chi-squared tests today", "chi-squared tests")
    assert h.mentions_value("We discuss chi-squared test", "Chi-Squared Tests")  # stems
    assert not h.mentions_value("We discuss t-tests", "chi-squared tests")
    long_value = (
        "Project management software streamlines workflows and improves communication across teams"
    )
    assert h.mentions_value(
        "Our software streamlines workflows and communication for teams.", long_value
    )
    assert not h.mentions_value("Hello there.", long_value)
    assert h.mentions_value("Paris and Rome", ["Paris", "Rome"]) and not h.mentions_value(
        "Paris", ["Paris", "Rome"]
    )
    assert (
        not h.mentions_value("x", None)
        and not h.mentions_value("x", "")
        and h.mentions_value("got 42", 42)
    )


def test_fill_placeholders() -> None:
    example = {"name": "Priya", "n": 3, "none": None}
    assert h.fill_placeholders("Hi {name}, {{ n }} {{input.name}} {missing} {none}", example) == (
        "Hi Priya, 3 Priya {missing} {none}"
    )
    assert (
        h.fill_placeholders("Hi {name}", None) == "Hi {name}"
        and h.fill_placeholders(None, {}) == ""
    )  # type: ignore[arg-type]


def test_numbers_and_as_int() -> None:
    assert h.as_int(" 150 words") == 150 and h.as_int("1,200") == 1200 and h.as_int(150.9) == 150
    assert h.as_int(None) is None and h.as_int("many", 5) == 5 and h.as_int(True) is None
    assert h.as_int(float("nan")) is None and h.as_int("9" * 40) is None
    assert h.as_float("3.5%") == 3.5 and h.as_float("x") is None
    assert h.numbers("Revenue rose 12% to $1,200.5 in Q3 2023") == ("12%", "$1,200.5", "2023")


def test_links_emoji_placeholders_tone() -> None:
    assert h.urls(EMAIL) == ("https://example.com/help",)
    assert h.urls("(see http://a.b/c?d=1), **www.x.io**") == ("http://a.b/c?d=1", "www.x.io")
    assert h.urls("see www.example.org now") == ("www.example.org",)
    assert h.emojis("Great 🎉 job ✅") == ("🎉", "✅") and h.emojis("plain") == ()
    assert h.unfilled_placeholders('Hi {name}, {{ topic }} and {"a": 1}') == (
        "{name}",
        "{{ topic }}",
    )
    assert h.bracket_placeholders(EMAIL) == ("[Your Name]", "[Your Name]")
    assert h.bracket_placeholders("see [docs](http://x) and [a]") == ()
    assert h.apologizes("I'm sorry, I cannot do that.") and not h.apologizes("Sorry-free zone? no")
    assert h.ai_self_reference("As an AI language model, I think") and not h.ai_self_reference(
        "AI is big"
    )


def test_language_and_case() -> None:
    english = "The report shows that the team is on track and that we will ship it in time."
    spanish = "El informe muestra que el equipo va bien y que lo vamos a entregar a tiempo para el cliente."
    assert h.language_scores(english)["english"] > 0.3 > h.language_scores(english)["spanish"]
    assert h.language_scores(spanish)["spanish"] > h.language_scores(spanish)["english"]
    assert (
        h.english_ratio(english) == 1.0
        and h.english_ratio("Привет мир") == 0.0
        and h.english_ratio("") == 0.0
    )
    assert h.is_lowercase("all lower, see https://X.com\n```\nCODE\n```") and not h.is_lowercase(
        "Not lower"
    )
    assert h.is_uppercase("SHOUT 123!") and not h.is_uppercase("") and not h.is_uppercase("Mixed")
    assert h.is_title_case("The Art of the Deal") and not h.is_title_case("The art of the deal")


@pytest.mark.parametrize(
    "func",
    [h.words, h.word_count, h.sentences, h.lines, h.bullets, h.headers, h.section_titles, h.code_blocks,
     h.is_json, h.parse_json, h.questions, h.urls, h.emojis, h.unfilled_placeholders, h.is_markdown,
     h.is_lowercase, h.is_title_case, h.english_ratio, h.language_scores, h.numbers, h.paragraphs],
)  # fmt: skip
def test_helpers_are_total(func: object) -> None:
    for odd in (None, 42, "", "   \n\n"):
        func(odd)  # type: ignore[operator]  # must not raise


def test_tells_to_start_app() -> None:
    said = [
        "Run npm start.", "Then `npm run dev`.", "yarn start", "pnpm run start:dev",
        "python app.py", "python3 src/server.py", "python manage.py runserver",
        "python -m flask run", "flask --app web run", "uvicorn main:app --reload",
        "gunicorn -w 4 app:app", "node server.js", "nodemon ./src/index.ts", "npx next dev",
        "docker compose up", "go run main.go", "Start the server.", "Restart the backend.",
        "Run your Flask app.", "Spin up the dev server", "Click 'Start App'.",
        "Make sure the server is running.", "Ensure that your app is started.", "make dev",
        "./start.sh", "bash scripts/run-dev.sh", "Get the server running.", "Start a local server.",
    ]  # fmt: skip
    allowed = [
        "Open the app at http://localhost:3000.", "Click 'Start Quiz'; the timer starts.",
        "Run `python manage.py migrate`.", "Run `node scripts/seed.js`.", "curl localhost:3000",
        "Run the app's unit tests.", "Run the project tests.", "The server responds with 201.",
        "You don't need to start the app, it is already running.", "uvicorn is fast",
        "The terminal where the app is running prints OK.", "Restart the quiz.",
        "Start a new project in the UI.", "Get the project files.", "make test", "Make up a title.",
        "Ensure that the server returns 200.", "", None, 3,
    ]  # fmt: skip
    assert [t for t in said if not h.tells_to_start_app(t)] == []
    assert [t for t in allowed if h.tells_to_start_app(t)] == []  # type: ignore[arg-type]
