"""The one scrubber (llmassert/secrets.py): what reaches an error line, a log or a file."""

from __future__ import annotations

import pytest

from llmassert import secrets
from llmassert.config import Settings
from llmassert.errors import ConfigError, LLMTransportError
from llmassert.secrets import REDACTED, scrub, scrub_values


@pytest.mark.parametrize(
    ("text", "gone", "kept"),
    [
        (
            "POST http://alice:pw-123456@host:8/v1?api_key=sk-abc&x=1 failed",
            ["alice", "pw-123456", "sk-abc"],
            ["host:8/v1", "x=1"],
        ),
        ("headers {'Authorization': 'Bearer tok_0123456789'}", ["tok_0123456789"], ["Bearer"]),
        ('{"api-key": "azure-key-xyz"}', ["azure-key-xyz"], ["api-key"]),
        ("x-api-key=anthropic-123", ["anthropic-123"], ["x-api-key="]),
        ("Incorrect API key provided: sk-proj-ABCDEFGHIJKLMNOP", ["sk-proj-ABCDEFGHIJKLMNOP"], []),
        ("google key AIzaSyA0123456789abcdefghijklmn", ["AIzaSyA0123456789abcdefghijklmn"], []),
    ],
)
def test_scrub_removes_credentials_and_keeps_the_rest(
    text: str, gone: list[str], kept: list[str]
) -> None:
    out = scrub(text)
    assert REDACTED in out
    assert not any(g in out for g in gone), out
    assert all(k in out for k in kept), out


def test_configured_key_values_are_scrubbed_wherever_they_appear(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MY_PROVIDER_API_KEY", "plainvalue-without-shape")
    monkeypatch.setenv("SSH_KEY", "/home/me/.ssh/id_rsa")  # a path, not a credential
    assert scrub_values("got plainvalue-without-shape") == f"got {REDACTED}"
    assert scrub_values("see /home/me/.ssh/id_rsa") == "see /home/me/.ssh/id_rsa"
    Settings(api_key="flag-given-key-0001")  # a key given by flag or file registers itself
    assert scrub_values("flag-given-key-0001") == REDACTED
    secrets._registered.discard("flag-given-key-0001")


def test_every_error_line_is_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-errors-0123456789abcd")
    error = LLMTransportError("401 from http://u:p@h/v1: bad key sk-errors-0123456789abcd")
    assert "sk-errors" not in str(error) and "u:p@" not in str(error)
    with pytest.raises(ConfigError) as info:
        Settings.from_env(api_base="http://user:secretpw@127.0.0.1:9/v1")
    assert "secretpw" not in str(info.value) and "must not contain a user or password" in str(
        info.value
    )
