"""The CLI shell with the LLM layer: fast --help, cache commands, one-line config errors."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from llmassert import cli
from llmassert.commands._options import llm_options, llm_session
from llmassert.config import Settings
from llmassert.llm import LLMRequest
from llmassert.llm.cache import DiskCache
from llmassert.testing.fake_server import FakeLLMServer, Reply

LLMASSERT = [sys.executable, "-m", "llmassert.cli"]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [*LLMASSERT, *args], capture_output=True, text=True, env=full_env, timeout=120
    )


def test_help_works_without_importing_litellm() -> None:
    probe = (
        "import sys\n"
        "import typer\n"
        "from llmassert.cli import app, main\n"
        "assert main(['--help']) == 0\n"
        "for name in typer.main.get_command(app).commands:\n"
        "    assert main([name, '--help']) == 0, name\n"
        "assert 'litellm' not in sys.modules, 'litellm imported'\n"
        "assert 'vcr' not in sys.modules and 'aiohttp' not in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "Usage" in done.stdout and "cache" in done.stdout


def test_cache_info_and_clear(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "cache")
    for i in range(3):
        cache.put(f"{i:02d}" + "a" * 62, {"text": "x" * 100})
    info = run_cli("cache", "info", "--cache-dir", str(tmp_path / "cache"))
    assert info.returncode == 0 and "3 cached responses" in info.stdout
    cleared = run_cli("cache", "clear", "--cache-dir", str(tmp_path / "cache"))
    assert cleared.returncode == 0 and "removed 3 cached responses" in cleared.stdout
    assert cache.stats() == (0, 0)


def test_bad_environment_is_a_one_line_error(tmp_path: Path) -> None:
    done = run_cli("cache", "info", env={"LLMASSERT_MAX_CONCURRENCY": "many"})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: max_concurrency:")


@pytest.fixture
def probe_command(tmp_path: Path) -> Iterator[str]:
    """A command built like the real LLM commands (shared options + session), added for a test."""

    @llm_options
    def probe(prompts: list[str], settings: Settings) -> None:
        with llm_session(settings, "probe") as client:
            for prompt in prompts:
                result = client.complete(
                    LLMRequest(
                        model=settings.model or "", messages=({"role": "user", "content": prompt},)
                    )
                )
                typer.echo(result.text)

    cli.app.command("llm-probe")(probe)
    try:
        yield "llm-probe"
    finally:
        cli.app.registered_commands.pop()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--model", "gpt 4o"], "error: model: malformed model string 'gpt 4o'"),
        (["--model", "nonsense-model"], "error: model: unknown model 'nonsense-model'"),
        (["--model", "openai/gpt-4o-mini"], "error: model: no API key for openai model"),
        (["--model", "openai/x", "--api-base", "localhost:8000"], "error: api_base: "),
        (["--model", "openai/x", "--api-base", "http://h:99999/v1"], "error: api_base: malformed"),
        (
            ["--model", "openai/x", "--record", "a", "--replay", "b"],
            "error: --replay: --record and",
        ),
        (
            ["--model", "openai/x", "--api-base", "http://h/v1", "--replay", "nowhere"],
            "error: replay: cassette nowhere/probe.yaml not found",
        ),
    ],
)
def test_bad_llm_config_exits_2_with_one_line(
    probe_command: str,
    args: list[str],
    expected: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for var in ("OPENAI_API_KEY", "OPENAI_API_BASE", "OPENAI_BASE_URL", "LLMASSERT_API_BASE"):
        monkeypatch.delenv(var, raising=False)
    code = cli.main([probe_command, "hello", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith(expected), err


def test_session_reports_usage_and_budget_stops_with_exit_3(
    probe_command: str,
    llm_server: FakeLLMServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-cli-0123456789")
    llm_server.handler = lambda body: Reply(content="answer", usage=(40, 30))
    common = [
        "--model",
        "openai/fake-model",
        "--api-base",
        llm_server.base_url,
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    assert cli.main([probe_command, "one", *common]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == "answer"
    assert "LLM usage: 1 calls (0 cached), 1 requests, 70 tokens" in err
    # 70 tokens spent by the first call: the second is never started; exit 3, report printed.
    code = cli.main([probe_command, "two", "three", "four", *common, "--max-tokens", "50"])
    out, err = capsys.readouterr()
    assert code == 3 and out.strip() == "answer"
    assert "error: LLM budget exhausted: 70 tokens reached --max-tokens 50 after 1 calls" in err
    assert "LLM usage: 1 calls" in err
    assert llm_server.stats.requests == 2


def test_flags_win_over_base_settings_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from llmassert.commands._options import settings_from_options

    monkeypatch.setenv("LLMASSERT_MODEL", "openai/from-env")
    monkeypatch.setenv("LLMASSERT_MAX_CONCURRENCY", "7")
    env = settings_from_options()
    assert env.model == "openai/from-env" and env.max_concurrency == 7
    flags = settings_from_options(
        model="openai/flag", record=Path("c"), max_tokens=10, no_cache=True
    )
    assert flags.model == "openai/flag" and flags.mode == "record"
    assert flags.cassette_dir == Path("c") and flags.max_tokens_total == 10
    assert flags.cache_dir is None
    base = Settings(model="openai/from-pipeline", max_concurrency=3)
    layered = settings_from_options(base=base, max_cost=0.5)
    assert layered.model == "openai/from-pipeline" and layered.max_cost == 0.5
    assert settings_from_options(base=base, model="openai/flag").model == "openai/flag"


def test_process_exit_keeps_the_code_and_flushes_output(tmp_path: Path) -> None:
    """``python -m llmassert.cli`` (and the console script) end through ``exit_process``:
    at-exit handlers run, output is flushed, the command's exit code is the process's."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    ok = subprocess.run(
        [sys.executable, "-m", "llmassert.cli", "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert ok.returncode == 0 and "Usage" in ok.stdout and ok.stdout.rstrip().endswith("─╯")
    bad = subprocess.run(
        [sys.executable, "-m", "llmassert.cli", "run", "missing.yaml"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert bad.returncode == 2 and "missing.yaml: pipeline file not found" in bad.stderr
