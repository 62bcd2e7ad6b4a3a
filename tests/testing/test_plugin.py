"""The pytest plugin, run for real inside pytester: record, replay, misses, blocked network."""

from __future__ import annotations

import importlib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmassert.testing.fake_server import FakeLLMServer, Reply

# Loaded here so pytester's in-process runs find them loaded: it restores sys.modules after each
# run, so what a run imports is imported again by the next (seconds each), and objects kept by
# modules loaded out here would meet fresh copies of classes (aiohttp's, vcrpy's).
for _module in (
    "aiohttp",
    "jsonschema",
    "vcr",
    "vcr.persisters.filesystem",
    "vcr.serialize",
    "llmassert.assertions.judge",
    "llmassert.hooks.response",
    "llmassert.llm.managed_client",
    "llmassert.llm.session",
    "llmassert.sandbox",
):
    importlib.import_module(_module)


pytest_plugins = ["pytester"]

KEY = "sk-test-abcdefgh123456"
CHECKS = '''
from llmassert.assertions.judge import llm_judge


def short(example, response):
    """At most {max_words} words."""
    return len(response.split()) <= example.get("max_words", 30)


def polite(example, response):
    return llm_judge("Is the response polite?", example, response)
'''

CONFTEST = """
import pytest
from llmassert.config import Settings

@pytest.fixture
def llmassert_settings():
    return Settings(model="openai/fake-model", api_base="{base}", cache_dir=None, max_retries=0,
                    timeout_s=5)
"""

APP = """
from llmassert.llm.client import LLMRequest


def summarize(client, text):
    request = LLMRequest(model="openai/fake-model",
                         messages=({{"role": "user", "content": "Summarize: " + text}},))
    return client.complete(request).text
"""


@pytest.fixture
def project(
    pytester: pytest.Pytester, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    """A user's project: conftest pointing at the loopback server, an app, assertions."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    # Unrelated plugins of this environment stay out of the inner runs (hypothesis alone costs
    # seconds per run).
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider -p no:hypothesispytest -p no:anyio\n")
    pytester.makeconftest(CONFTEST.format(base=llm_server.base_url))
    pytester.makepyfile(app=APP.format())
    (pytester.path / "assertions").mkdir()
    (pytester.path / "assertions" / "checks.py").write_text(CHECKS)
    return pytester


def _judge_says(server: FakeLLMServer, answer: str) -> None:
    def handler(body: dict[str, object]) -> Reply:
        if "Is the response polite?" in str(body.get("messages")):
            return Reply(tool_args={"answer": answer, "reason": "test"})
        return Reply(content="A short polite summary.")

    server.handler = handler


TEST_SUMMARY = """
import pytest
from app import summarize


@pytest.mark.llmassert(cassette="summary", assertions="assertions/checks.py")
def test_summary(llmassert_session):
    text = summarize(llmassert_session.client, "{doc}")
    llmassert_session.check(text, example={{"max_words": {limit}}})
"""


def test_record_then_replay_without_the_server(
    project: pytest.Pytester, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _judge_says(llm_server, "yes")
    project.makepyfile(test_summary=TEST_SUMMARY.format(doc="the annual report", limit=30))
    project.runpytest("--llmassert-record").assert_outcomes(passed=1)
    cassette = project.path / "tests" / "cassettes" / "summary.yaml"
    assert cassette.is_file()
    assert KEY not in cassette.read_text()
    recorded = len(llm_server.requests)
    assert recorded == 2  # the app's call and the judge's
    assert llm_server.requests[0].headers["authorization"] == f"Bearer {KEY}"

    # Replay, as in CI: no key, and the server (now answering differently) is never asked.
    monkeypatch.delenv("OPENAI_API_KEY")
    _judge_says(llm_server, "no")
    project.runpytest().assert_outcomes(passed=1)
    assert len(llm_server.requests) == recorded


def test_a_failing_check_fails_the_test_with_a_readable_message(
    project: pytest.Pytester, llm_server: FakeLLMServer
) -> None:
    _judge_says(llm_server, "no")
    project.makepyfile(test_summary=TEST_SUMMARY.format(doc="the annual report", limit=2))
    result = project.runpytest("--llmassert-record")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*llmassert: 2 of 2 assertions failed:*",
            "*short: returned False*",
            "*criterion: At most {max_words} words.*",
            "*polite: judge answered no: test*",
        ]
    )


def test_missing_cassette_and_unrecorded_requests_are_hard_failures(
    project: pytest.Pytester, llm_server: FakeLLMServer
) -> None:
    _judge_says(llm_server, "yes")
    project.makepyfile(test_summary=TEST_SUMMARY.format(doc="the annual report", limit=30))
    result = project.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*cassette*summary.yaml not found*--llmassert-record*"])
    assert llm_server.requests == []

    project.runpytest("--llmassert-record").assert_outcomes(passed=1)
    # A changed prompt is not in the cassette: it fails instead of reaching the model.
    project.makepyfile(test_summary=TEST_SUMMARY.format(doc="a different report", limit=30))
    before = len(llm_server.requests)
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*CassetteMissError*"])
    assert len(llm_server.requests) == before


@pytest.fixture
def local_listener() -> Iterator[int]:
    """A loopback service that is not the LLM endpoint (a local database, say)."""
    server = socket.create_server(("127.0.0.1", 0))
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


NETWORK_TESTS = """
import importlib
import socket
import pytest

def _try(address):
    try:
        socket.create_connection(address, timeout=2).close()
    except Exception as e:
        return type(e).__name__
    return "connected"


@pytest.mark.llmassert(cassette="net")
def test_internet_swallowed():
    # Code under test that hides the error: the attempt still fails the test.
    assert _try(("192.0.2.1", 80)) == "NetworkBlockedError"


@pytest.mark.llmassert(cassette="net")
def test_dns():
    with pytest.raises(Exception, match="DNS lookup of example.com"):
        socket.getaddrinfo("example.com", 443)


@pytest.mark.llmassert(cassette="net")
def test_llm_endpoint():
    assert _try(("127.0.0.1", {llm_port})) == "NetworkBlockedError"


@pytest.mark.llmassert(cassette="net")
def test_other_loopback_service():
    assert _try(("127.0.0.1", {local_port})) == "connected"


def test_unmarked_tests_are_untouched():
    assert _try(("127.0.0.1", {llm_port})) == "connected"
"""


def test_replay_blocks_the_network_but_not_other_loopback_services(
    project: pytest.Pytester, llm_server: FakeLLMServer, local_listener: int
) -> None:
    project.makepyfile(
        test_net=NETWORK_TESTS.format(llm_port=llm_server.port, local_port=local_listener)
    )
    (project.path / "tests" / "cassettes").mkdir(parents=True)
    (project.path / "tests" / "cassettes" / "net.yaml").write_text("version: 1\ninteractions: []\n")
    result = project.runpytest("-rf")
    # Every attempt fails its test, even where the code caught the error.
    result.assert_outcomes(passed=2, failed=3)
    result.stdout.fnmatch_lines(
        [
            "FAILED test_net.py::test_internet_swallowed - llmassert: network blocked*",
            "FAILED test_net.py::test_dns - llmassert: network blocked*",
            "FAILED test_net.py::test_llm_endpoint - llmassert: network blocked*",
        ],
        consecutive=True,
    )
    result.stdout.fnmatch_lines(
        [
            "*connect to 192.0.2.1:80*",
            "*DNS lookup of example.com*",
            f"*connect to the LLM endpoint 127.0.0.1:{llm_server.port}*",
        ]
    )
    # In record mode the same code may reach the LLM endpoint (it records from it).
    recorded = project.runpytest("--llmassert-record", "-k", "llm_endpoint or unmarked")
    recorded.assert_outcomes(passed=1, failed=1)
    recorded.stdout.fnmatch_lines(["*assert 'connected' == 'NetworkBlockedError'*"])


TEST_FLAKY = """
import pytest

@pytest.mark.llmassert(cassette="flaky", assertions="assertions/checks.py")
def test_judged(llmassert_session):
    llmassert_session.check("A short reply.", example={})
"""


def test_repeat_measures_judge_pass_rates_and_replays_them(
    project: pytest.Pytester, llm_server: FakeLLMServer
) -> None:
    def handler(body: dict[str, object]) -> Reply:
        # A judge that says no on one sample in three.
        return Reply(
            tool_args={
                "answer": "no" if body.get("seed") == 2 else "yes",
                "reason": f"seed {body.get('seed')}",
            }
        )

    llm_server.handler = handler
    project.makepyfile(test_flaky=TEST_FLAKY)
    result = project.runpytest("--llmassert-record", "--llmassert-repeat", "3")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*LLM-judge pass rates*", "*test_flaky.py::test_judged::polite  2/3 *67%  FLAKY*"]
    )
    asked = len(llm_server.requests)
    assert asked == 3
    replayed = project.runpytest("--llmassert-repeat", "3", "--llmassert-min-pass-rate", "0.9")
    replayed.assert_outcomes(failed=1)
    replayed.stdout.fnmatch_lines(["*polite: passed 2/3 runs, below --llmassert-min-pass-rate*"])
    assert len(llm_server.requests) == asked


def test_plugin_options_are_listed(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--llmassert-record*", "*--llmassert-repeat=N*"])


def test_cassette_dir_can_be_configured(
    project: pytest.Pytester, llm_server: FakeLLMServer, tmp_path: Path
) -> None:
    _judge_says(llm_server, "yes")
    project.makepyfile(test_summary=TEST_SUMMARY.format(doc="x", limit=30))
    folder = tmp_path / "elsewhere"
    project.runpytest("--llmassert-record", f"--llmassert-cassette-dir={folder}").assert_outcomes(
        passed=1
    )
    assert (folder / "summary.yaml").is_file()
    assert "interactions" in (folder / "summary.yaml").read_text()
