"""Shared fixtures: the loopback OpenAI-compatible server and settings pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llmassert.config import Settings
from llmassert.testing.fake_server import FakeLLMServer

FAKE_KEY = "sk-test-SECRET-0123456789abcdef"


@pytest.fixture(autouse=True)
def _scratch_cwd(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test in its own empty folder.

    Defaults such as ``.llmassert/cache``, checkpoints and failure logs are relative to the working
    directory; without this, tests would share state through the repository checkout.
    """
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture
def llm_server() -> Iterator[FakeLLMServer]:
    """A fresh server on 127.0.0.1 (random port), stopped after the test."""
    server = FakeLLMServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def llm_settings(
    llm_server: FakeLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Settings that send every call to ``llm_server``, with a per-test cache folder.

    The key is a recognizable fake so tests can assert it never reaches disk.
    """
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    for var in ("OPENAI_API_BASE", "OPENAI_BASE_URL", "LLMASSERT_API_BASE", "LLMASSERT_MODEL"):
        monkeypatch.delenv(var, raising=False)
    return Settings(
        model="openai/fake-model",
        embedding_model="openai/fake-embed",
        api_base=llm_server.base_url,
        cache_dir=tmp_path / "cache",
        max_retries=3,
        max_retry_seconds=20,
        timeout_s=10,
    )
