"""The run's progress display, in a real pseudo-terminal: the bar moves as LLM requests
complete (not only when rows finish) and shows calls, tokens, cost and an ETA."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from llmassert.testing.fake_server import FakeLLMServer, Reply

PIPELINE = """\
default_model: openai/fake-model
datasets:
  docs: {type: file, path: data.json}
operations:
  - name: summarize
    type: map
    prompt: "Summarize: {{ input.text }}"
    output:
      schema:
        summary: string
    validate:
      - output["summary"] == "good"
    num_retries_on_validate_failure: 1
pipeline:
  steps:
    - {name: s, input: docs, operations: [summarize]}
  output: {type: file, path: out.json}
"""

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _run_in_pty(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run with stderr on a pseudo-terminal (rich draws its live display there)."""
    master, slave = os.openpty()
    proc = subprocess.Popen(
        args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed its end
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait(30)
    os.close(master)
    assert proc.stdout is not None
    proc.stdout.close()
    return proc.returncode, ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))


def test_the_bar_moves_as_requests_complete_with_calls_tokens_cost_and_eta(
    tmp_path: Path, llm_server: FakeLLMServer
) -> None:
    def handler(body: dict[str, Any]) -> Reply:
        # The first answer fails `validate`, the re-ask (which quotes the failure) passes:
        # two sequential requests per row, so no row finishes before the second wave.
        retry = "previous" in json.dumps(body["messages"]).lower()
        return Reply(tool_args={"summary": "good" if retry else "bad"}, delay_s=1.0, usage=(40, 5))

    llm_server.handler = handler
    (tmp_path / "data.json").write_text(json.dumps([{"text": f"doc {i}"} for i in range(10)]))
    (tmp_path / "pipe.yaml").write_text(PIPELINE)
    env = {
        **os.environ,
        "OPENAI_API_KEY": "sk-fake-0000000000000000",
        "COLUMNS": "160",
        "TERM": "xterm-256color",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    env.pop("CI", None)
    code, screen = _run_in_pty(
        [
            sys.executable,
            "-m",
            "llmassert.cli",
            "run",
            "pipe.yaml",
            "--api-base",
            llm_server.base_url,
            "--no-cache",
            "--max-concurrency",
            "10",
        ],
        tmp_path,
        env,
    )
    assert code == 0, screen[-2000:]
    assert len(llm_server.requests) == 20
    frames = re.findall(
        r"summarize\s+\S*\s+(\d+)%\s+(\d+)/10\s+(\d+) calls? (\d+) tok \$([\d.]+)\s+"
        r"(\d+:\d\d:\d\d)\s+eta\s+(\S+)",
        screen,
    )
    assert frames, screen[-2000:]
    # After the first wave of requests, before any row is done, the bar is already half way.
    early = [f for f in frames if f[1] == "0" and int(f[2]) >= 10]
    assert early, frames
    assert all(int(f[0]) >= 50 for f in early)
    pct, rows, calls, tokens, cost, _elapsed, _eta = frames[-1]
    assert (pct, rows, calls, tokens) == ("100", "10", "20", str(20 * 45))
    assert float(cost) >= 0.0
    assert any(re.fullmatch(r"\d+:\d\d:\d\d", f[6]) for f in early)  # an ETA, not "-:--:--"
