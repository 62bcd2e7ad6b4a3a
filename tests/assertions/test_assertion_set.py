"""AssertionSet: loading (sandboxed), metadata, checking, hostile modules, judges."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest

from llmassert.assertions import AssertionSet, judge
from llmassert.config import Settings
from llmassert.errors import AssertionModuleError, CassetteMissError
from llmassert.testing.fake_server import FakeLLMServer, Reply

# The shape llmassert.synth.writer produces: docstring metadata, helpers import, ASSERTIONS.
GENERATED = textwrap.dedent('''
    """Assertions for the prompt "summary"."""

    import re
    from llmassert.assertions.helpers import word_count


    def max_words(example: dict, response: str) -> bool:
        """At most the requested number of words.

        Criterion (prompt version 2, Count):
            Answer in no more than {word_count} words.
        Kind: deterministic (rule library).
        """
        return word_count(response) <= int(example.get("word_count", 50))


    def no_feature(example: dict, response: str) -> bool:
        """Criterion (prompt version 3, Exclusion):
            Never use words like 'Feature'.
        Kind: deterministic (rule library).
        """
        return re.search(r"\\bfeatures?\\b", response, re.IGNORECASE) is None


    def fix_no_feature(example: dict, response: str) -> str:
        return re.sub(r"\\bfeatures?\\b", "capability", response, flags=re.IGNORECASE)


    def _unused_helper(text):
        return text


    ASSERTIONS = [
        max_words,
        no_feature,
    ]
''')


def _write(tmp_path: Path, source: str, name: str = "checks.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def test_loads_a_generated_module_with_its_metadata(tmp_path: Path) -> None:
    checks = AssertionSet.load(_write(tmp_path, GENERATED))
    assert checks.names == ["max_words", "no_feature"] and len(checks) == 2
    first = checks["max_words"]
    assert (first.criterion, first.category, first.version, first.kind) == (
        "Answer in no more than {word_count} words.",
        "Count",
        2,
        "deterministic",
    )
    assert [a.name for a in checks] == checks.names and "no_feature" in checks
    assert checks.has_fix("no_feature") and not checks.has_fix("max_words")


def test_check_reports_each_failure_with_its_criterion(tmp_path: Path) -> None:
    checks = AssertionSet.load(_write(tmp_path, GENERATED))
    good = checks.check("A short summary.", example={"word_count": 5})
    assert good.passed and good.failures == () and set(good.timings) == set(checks.names)
    bad = checks.check("This new feature is great and has many parts", {"word_count": 5})
    assert not bad.passed and bad.failed_names == ["max_words", "no_feature"]
    assert bad.failures[1].criterion == "Never use words like 'Feature'."
    assert bad.results == {"max_words": False, "no_feature": False}
    assert "2 of 2 assertions failed" in bad.summary()
    assert "Never use words like 'Feature'." in bad.feedback()
    assert checks.fix("no_feature", "A feature.") == "A capability."


def test_exceptions_and_non_bool_results_are_failures_not_crashes(tmp_path: Path) -> None:
    checks = AssertionSet.load(
        _write(
            tmp_path,
            """
        def needs_key(example, response):
            return example["missing"] in response

        def returns_none(example, response):
            return None

        def truthy(example, response):
            return response
    """,
        )
    )
    result = checks.check("text")
    by_name = {f.name: f for f in result.failures}
    assert set(by_name) == {"needs_key", "returns_none"}
    assert by_name["needs_key"].message == "raised KeyError: 'missing'"
    assert by_name["needs_key"].kind == "error"
    assert "returned None" in by_name["returns_none"].message
    assert result.results["truthy"] is True


def test_public_functions_with_the_assertion_signature_are_found_without_a_list(
    tmp_path: Path,
) -> None:
    checks = AssertionSet.load(
        _write(
            tmp_path,
            """
        def polite(example, response):
            '''Be polite.'''
            return "please" in response

        def helper(text, word):
            return word in text

        def _private(example, response):
            return False
    """,
        )
    )
    assert checks.names == ["polite"] and checks["polite"].criterion == "Be polite."


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "import os\n\ndef a(example, response):\n    return os.system('true') == 0\n",
            "line 1.*import of 'os' is not allowed",
        ),
        ("def a(example, response):\n    return open('/etc/passwd').read() == ''\n", "line 2"),
        ("def a(example, response):\n    return __import__('os') is None\n", "line 2"),
        (
            "ASSERTIONS = [missing]\n\ndef a(example, response):\n    return True\n",
            "line 1: ASSERTIONS lists 'missing'",
        ),
        ("def a(example, response):\n    return (\n", "syntax error"),
        ("def helper(text):\n    return text\n", "no assertion functions"),
    ],
)
def test_unsafe_or_broken_modules_are_refused_naming_file_and_line(
    tmp_path: Path, source: str, message: str
) -> None:
    path = _write(tmp_path, source, "hostile.py")
    with pytest.raises(AssertionModuleError, match=message) as info:
        AssertionSet.load(path)
    assert str(info.value).startswith(str(path))
    assert "\n" not in str(info.value)


def test_missing_module_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(AssertionModuleError, match="not found"):
        AssertionSet.load(tmp_path / "nope.py")


def test_an_infinite_loop_runs_in_the_sandbox_and_times_out_as_a_failure(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        def spins(example, response):
            while True:
                pass

        def fine(example, response):
            n = 0
            while n < 3:
                n += 1
            return n == 3
    """,
        "loops.py",
    )
    with AssertionSet.load(path, timeout_s=0.3) as checks:
        result = checks.check("anything")
        assert result.results == {"spins": False, "fine": True}
        failure = result.failures[0]
        assert failure.kind == "timeout" and "timed out" in failure.message
        assert "0.3 s per check" in failure.message
        # The worker was restarted: the set keeps working after a timeout.
        many = checks.check_many([({}, "a"), ({}, "b")])
        assert [r.results["fine"] for r in many] == [True, True]


def test_select_keeps_order_and_rejects_unknown_names(tmp_path: Path) -> None:
    checks = AssertionSet.load(_write(tmp_path, GENERATED))
    subset = checks.select(["no_feature"])
    assert subset.names == ["no_feature"] and subset.has_fix("no_feature")
    assert subset.check("a feature").failed_names == ["no_feature"]
    with pytest.raises(KeyError, match="unknown assertions"):
        checks.select(["nope"])


def test_from_functions_and_from_source_text() -> None:
    def short(example: dict[str, object], response: str) -> bool:
        """Keep it short."""
        return len(response) < 10

    assert AssertionSet.from_functions([short]).check("x" * 20).failures[0].criterion == (
        "Keep it short."
    )
    inline = AssertionSet.load("def a(example, response):\n    return response == 'ok'\n")
    assert inline.check("ok").passed and not inline.check("no").passed


def test_trusted_modules_may_import_anything(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        import os

        def sep(example, response):
            return os.sep in response
    """,
    )
    with pytest.raises(AssertionModuleError):
        AssertionSet.load(path)
    assert AssertionSet.load(path, trusted=True).check("a/b").passed


JUDGES = '''
from llmassert.assertions.judge import llm_judge

QUESTION = "Is the response polite?"


def polite(example: dict, response: str) -> bool:
    """Criterion (prompt version 1, QualitativeAssessment):
        Be polite.
    Kind: LLM judge (generated by the model).
    """
    return llm_judge(QUESTION, example, response)


def on_topic(example: dict, response: str) -> bool:
    return llm_judge("Is the response about " + "the topic?", example, response)


def concise(example: dict, response: str) -> bool:
    return llm_judge("Is the response concise?", example, response)


def short(example: dict, response: str) -> bool:
    return len(response) < 100
'''


def test_judge_assertions_ask_the_llm_concurrently_in_acheck(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    checks = AssertionSet.load(_write(tmp_path, JUDGES))
    assert checks.judge_names == ["polite", "on_topic", "concise"]
    assert checks["polite"].question == "Is the response polite?"
    assert checks["on_topic"].question is None  # not a constant: runs as code, judge inside
    llm_server.latency_s = 0.2
    llm_server.script(Reply(tool_args={"answer": "no", "reason": "it is curt"}), match="polite")
    llm_server.handler = lambda body: Reply(tool_args={"answer": "yes", "reason": "fine"})
    with judge.using(llm_settings):
        result = asyncio.run(checks.acheck("Go away.", {"topic": "tax"}))
        assert result.failed_names == ["polite"]
        assert result.failures[0].message == "judge answered no: it is curt"
        assert llm_server.stats.max_concurrency == 3
        # Same questions again: answered from the LLM layer's cache.
        again = checks.check("Go away.", {"topic": "tax"})
    assert again.failed_names == ["polite"] and len(llm_server.requests) == 3


def test_judge_infrastructure_errors_propagate(tmp_path: Path, llm_settings: Settings) -> None:
    checks = AssertionSet.load(_write(tmp_path, JUDGES)).select(["polite"])
    replay = llm_settings.replace(mode="replay", cassette_dir=tmp_path / "cassettes")
    (tmp_path / "cassettes").mkdir()
    (tmp_path / "cassettes" / "empty.yaml").write_text("interactions: []\nversion: 1\n")
    from llmassert.llm.session import session

    with session(replay, "empty") as client, judge.using(client), pytest.raises(CassetteMissError):
        checks.check("hello")
