"""The failure log: concurrent appends stay whole lines; `llmassert report` summarizes it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from llmassert.assertions.results import CheckResult, Failure
from llmassert.hooks.failure_log import FailureLog
from llmassert.hooks.failure_report import summarize

FAILED = CheckResult(
    False,
    (
        Failure("no_sorry", "Never apologize.", "returned False"),
        Failure("max_words", "At most 10 words.", "returned False"),
    ),
    {},
    {"no_sorry": False, "max_words": False},
)
PASSED = CheckResult(True, (), {}, {"no_sorry": True, "max_words": True})


def _hammer(path: str, writer: int, n: int) -> None:
    log = FailureLog(path, flush_every=7)
    for i in range(n):
        log.record(
            FAILED if i % 2 else PASSED,
            example={"w": writer, "i": i},
            response=f"response {writer}-{i} " + "x" * 2000,
            prompt="p",
            prompt_version="1",
        )
    log.flush()


HAMMER = """
import sys
from llmassert.assertions.results import CheckResult, Failure
from llmassert.hooks.failure_log import FailureLog
FAILED = CheckResult(False, (Failure("no_sorry", "Never apologize.", "returned False"),
                             Failure("max_words", "At most 10 words.", "returned False")),
                     {}, {"no_sorry": False, "max_words": False})
PASSED = CheckResult(True, (), {}, {"no_sorry": True, "max_words": True})
log = FailureLog(sys.argv[1], flush_every=7)
for i in range(int(sys.argv[3])):
    log.record(FAILED if i % 2 else PASSED, example={"w": sys.argv[2], "i": i},
               response="response %s-%d " % (sys.argv[2], i) + "x" * 2000, prompt="p",
               prompt_version="1")
log.flush()
"""


def test_concurrent_appends_from_threads_and_processes_stay_whole(tmp_path: Path) -> None:
    path = tmp_path / "failures.jsonl"
    # Separate interpreters (not fork: forking a threaded test process can deadlock the child).
    procs = [
        subprocess.Popen([sys.executable, "-c", HAMMER, str(path), str(10 + w), "60"])
        for w in range(3)
    ]
    threads = [threading.Thread(target=_hammer, args=(str(path), w, 60)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        assert p.wait(timeout=120) == 0
    lines = [json.loads(line) for line in path.read_text().splitlines()]  # all parse
    failures = [x for x in lines if x["event"] == "failure"]
    assert len(failures) == 7 * 30 * 2
    assert sum(x["checks"] for x in lines if x["event"] == "checks") == 7 * 60
    assert "x" * 100 not in path.read_text()  # no raw text by default


def test_summary_counts_and_rates(tmp_path: Path) -> None:
    path = tmp_path / "failures.jsonl"
    log = FailureLog(path)
    for i in range(10):
        log.record(
            FAILED if i < 3 else PASSED,
            example={"i": i},
            response=f"r{i}",
            prompt="support",
            prompt_version="2",
        )
    log.record(FAILED, example={}, response="other", prompt="billing", prompt_version="1")
    log.flush()
    summary = summarize(path)
    assert (summary.failures, summary.checks) == (4, 11)
    support = next(r for r in summary.by_prompt if r.prompt == "support")
    assert (support.failures, support.checks, support.rate) == (3, 10, pytest.approx(0.3))
    rows = {(r.prompt, r.assertion): r for r in summary.by_assertion}
    assert (
        rows[("support", "no_sorry")].failures == 3 and rows[("support", "no_sorry")].checks == 10
    )
    assert len(summary.by_day) == 2 and summary.by_day[0].day is not None
    only = summarize(path, prompt="billing")
    assert (only.failures, only.checks) == (1, 1)


def test_report_command_table_json_and_bad_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from llmassert.cli import main

    path = tmp_path / "failures.jsonl"
    log = FailureLog(path)
    log.record(FAILED, example={}, response="r", prompt="support", prompt_version="2")
    log.record(PASSED, example={}, response="r2", prompt="support", prompt_version="2")
    log.flush()
    assert main(["report", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1 failed responses out of 2 checked (rate 50.00%)" in out
    assert "no_sorry" in out and "By day" in out
    assert main(["report", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["by_prompt"][0] == {
        "prompt": "support",
        "prompt_version": "2",
        "assertion": None,
        "day": None,
        "failures": 1,
        "checks": 2,
        "rate": 0.5,
    }
    with path.open("a") as f:
        f.write("{broken\n")
    assert main(["report", str(path)]) == 2
    assert "failures.jsonl: line 4: invalid JSON" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "none.jsonl")]) == 2
