"""A check's verdict does not depend on the thread that runs it.

The same hostile checks, loaded the way ``llmassert test`` loads a module, run on the main thread
(under the SIGALRM deadline), on an application's worker thread (the thread watchdog), through
``check_many`` (a task on llmassert's background loop), through ``acheck`` in the caller's own
event loop, through the real ``llmassert test`` command, and in the process sandbox where
synthesis evaluates LLM-written candidates: one verdict each, the same everywhere.
"""

from __future__ import annotations

import asyncio
import json
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from llmassert.assertions import AssertionSet
from llmassert.assertions.results import CheckResult
from llmassert.cli import main
from llmassert.sandbox.process import ProcessSandbox

# (name, source, response, expected (passed, failure kind)).
CASES = [
    (
        # Pathological for stdlib (~forever on this text), exact in RE2: the honest answer, that
        # there is no match, on every thread (the main thread used to time out: a failed check)
        # and in the process sandbox (which used to time out too: synthesis saw a failure).
        "polynomial_none",
        "import re\n"
        "def check(example, response):\n"
        '    return re.search(r"a*a*a*a*b", response) is None\n',
        "a" * 3000,
        (True, ""),
    ),
    (
        "compiled_findall",
        "import re\n"
        'PATTERN = re.compile(r"\\s*\\s*x")\n'
        "def check(example, response):\n"
        "    return not PATTERN.findall(response)\n",
        " " * 3000,
        (True, ""),
    ),
    (
        "helper_exponential",
        "from llmassert.assertions.formats import matches_regex\n"
        "def check(example, response):\n"
        '    return not matches_regex(response, "(a|aa)+$")\n',
        "a" * 45 + "!",
        (True, ""),
    ),
    (
        # No linear-time equivalent (a backreference): stdlib under the process sandbox's own
        # alarm, on every thread; it runs out of time everywhere.
        "backreference",
        "import re\n"
        "def check(example, response):\n"
        '    return re.search(r"(a+)a*a*b\\1", response) is None\n',
        "a" * 3000,
        (False, "timeout"),
    ),
    (
        # A module that may call llm_judge cannot re-run in the sandbox: refused everywhere.
        "judge_module_lookahead",
        "import re\n"
        "from llmassert.assertions.judge import llm_judge\n"
        "def check(example, response):\n"
        "    if len(response) < 0:\n"
        '        return llm_judge("never asked", response)\n'
        '    return re.search(r"(?=a*a*a*a*b)", response) is None\n',
        "a" * 3000,
        (False, "error"),
    ),
]
TIMEOUT_S = 1.0


def _verdict(result: CheckResult) -> tuple[bool, str]:
    return result.passed, result.failures[0].kind if result.failures else ""


def _on_worker_thread(fn: Callable[[], CheckResult]) -> CheckResult:
    box: list[CheckResult] = []
    worker = threading.Thread(target=lambda: box.append(fn()), name="app-worker")
    worker.start()
    worker.join(120)
    assert box, "the worker thread did not finish"
    return box[0]


def _llmassert_test(tmp_path: Path, source: str, response: str) -> tuple[bool, str]:
    """The verdict of the real ``llmassert test`` command on one record: (passed, failure kind
    as far as JUnit tells it: "failed", or "timeout"/"error" for an error element)."""
    module = tmp_path / "hostile.py"
    module.write_text(source)
    recorded = tmp_path / "recorded.jsonl"
    recorded.write_text(json.dumps({"id": "r", "input": {}, "response": response}) + "\n")
    junit = tmp_path / "out" / "junit.xml"
    code = main(
        [
            "test",
            str(recorded),
            "--assertions",
            str(module),
            "--junit",
            str(junit),
            "--timeout",
            "1",
        ]
    )
    (case,) = ET.parse(junit).getroot().iter("testcase")
    outcome = [child for child in case if child.tag != "system-out"]
    if code == 0:
        assert outcome == []
        return True, ""
    assert code == 1 and len(outcome) == 1
    message = str(outcome[0].get("message")) + (outcome[0].text or "")
    if outcome[0].tag == "failure":
        return False, "failed"
    return False, "timeout" if "timed out" in message else "error"


def _in_process_sandbox(source: str, response: str) -> tuple[bool, str]:
    """The verdict synthesis sees: it evaluates LLM-written candidates in the process sandbox."""
    with ProcessSandbox(timeout_s=TIMEOUT_S) as box:
        ((result,),) = box.call_many_detailed(box.load(source), ["check"], [({}, response)])
    if result.value is not None:
        return result.value, "" if result.value else "failed"
    assert result.error is not None
    return False, "timeout" if "timed out" in result.error else "error"


@pytest.mark.parametrize(
    ("name", "source", "response", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_the_same_check_gets_the_same_verdict_on_every_thread(
    name: str,
    source: str,
    response: str,
    expected: tuple[bool, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    checks = AssertionSet.from_source(source, timeout_s=TIMEOUT_S)
    with checks:
        verdicts = {
            "main": _verdict(checks.check(response)),
            "worker thread": _verdict(_on_worker_thread(lambda: checks.check(response))),
            "check_many": _verdict(checks.check_many([({}, response)])[0]),
            "acheck in the caller's loop": _verdict(asyncio.run(checks.acheck(response))),
        }
    verdicts["llmassert test"] = _llmassert_test(tmp_path, source, response)
    if "llm_judge" not in source:  # the worker has no judge: synthesis judges such code inline
        verdicts["process sandbox"] = _in_process_sandbox(source, response)
    capsys.readouterr()
    assert verdicts == dict.fromkeys(verdicts, expected), name
