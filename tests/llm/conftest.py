"""Fixtures for the LLM layer: a client on the loopback server (see tests/conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from llmassert.config import Settings
from llmassert.llm.managed_client import Client, build_client

SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}, "score": {"type": "integer", "minimum": 0}},
    "required": ["answer", "score"],
    "additionalProperties": False,
}


def user(text: str) -> tuple[dict[str, str], ...]:
    return ({"role": "user", "content": text},)


@pytest.fixture
def secret(llm_settings: Settings) -> str:
    """The fake API key the fixtures put in the environment (must never reach disk or logs)."""
    key = os.environ["OPENAI_API_KEY"]
    assert key.startswith("sk-test-")
    return key


@pytest.fixture
def client(llm_settings: Settings) -> Iterator[Client]:
    made = build_client(llm_settings)
    assert isinstance(made, Client)
    yield made
