"""Settings shared by every subsystem.

Resolution order (later wins): defaults < environment < explicit overrides (CLI flags, pipeline
YAML keys, keyword arguments).  Environment variables:

- ``LLMASSERT_MODEL``: litellm model string (e.g. ``openai/gpt-4o-mini``); unset = offline.
- ``LLMASSERT_API_BASE``, else ``OPENAI_API_BASE`` / ``OPENAI_BASE_URL``: endpoint for
  OpenAI-compatible servers.
- ``LLMASSERT_CACHE_DIR``: disk cache (default ``.llmassert/cache``).
- ``LLMASSERT_MAX_CONCURRENCY``, ``LLMASSERT_RPM``, ``LLMASSERT_TPM``.

The API key is read from the provider's usual variable by litellm (``OPENAI_API_KEY`` ...) or from
``api_key``; it is a ``SecretStr`` so it never appears in reprs, logs or reports.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from llmassert import secrets
from llmassert.errors import ConfigError

# litellm otherwise fetches its model cost map from the internet at import time.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

Mode = Literal["live", "record", "replay"]


class Settings(BaseModel):
    """Runtime settings for the LLM layer and everything that calls it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = None
    embedding_model: str | None = None
    api_base: str | None = None
    api_key: SecretStr | None = None
    timeout_s: float = Field(60.0, gt=0)
    max_retries: int = Field(5, ge=0)
    max_retry_seconds: float = Field(120.0, gt=0)
    max_reasks: int = Field(2, ge=0)
    max_concurrency: int = Field(32, ge=1)
    rpm: int | None = Field(None, ge=1)
    tpm: int | None = Field(None, ge=1)
    cache_dir: Path | None = Path(".llmassert/cache")
    mode: Mode = "live"
    cassette_dir: Path | None = None
    max_cost: float | None = Field(None, ge=0)
    max_tokens_total: int | None = Field(None, ge=1)
    # A name in llmassert.llm.transports.TRANSPORTS ("http", "litellm", or registered), or
    # "auto": plain HTTP for OpenAI-compatible endpoints (api_base set, openai/ model), litellm
    # for every other provider.  Checked against the registry when a client is built.
    transport: str = "auto"

    def model_post_init(self, __context: Any) -> None:
        # A key given by flag or file (not the environment) is scrubbed like one from the env.
        if self.api_key is not None:
            secrets.register(self.api_key.get_secret_value())

    @field_validator("api_base")
    @classmethod
    def _check_api_base(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"api_base must start with http:// or https://, got {v!r}")
        if "@" in v.split("://", 1)[1].split("/", 1)[0]:
            # Credentials in the URL would travel in every error line and log; the key belongs
            # in OPENAI_API_KEY (or the provider's variable).
            raise ValueError(
                f"api_base must not contain a user or password ({v!r}): put the key in "
                "OPENAI_API_KEY or the provider's key variable"
            )
        return v.rstrip("/")

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Build settings from the environment, then apply non-None overrides."""
        env: dict[str, Any] = {}
        pairs = {
            "model": "LLMASSERT_MODEL",
            "embedding_model": "LLMASSERT_EMBEDDING_MODEL",
            "cache_dir": "LLMASSERT_CACHE_DIR",
            "max_concurrency": "LLMASSERT_MAX_CONCURRENCY",
            "rpm": "LLMASSERT_RPM",
            "tpm": "LLMASSERT_TPM",
        }
        for key, var in pairs.items():
            if os.environ.get(var):
                env[key] = os.environ[var]
        base = (
            os.environ.get("LLMASSERT_API_BASE")
            or os.environ.get("OPENAI_API_BASE")
            or os.environ.get("OPENAI_BASE_URL")
        )
        if base:
            env["api_base"] = base
        env.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**env)
        except ValidationError as e:
            err = e.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "settings"
            raise ConfigError(str(err["msg"]).removeprefix("Value error, "), field=field) from None

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied and validated."""
        try:
            return type(self)(**{**self.model_dump(), **changes})
        except ValidationError as e:
            err = e.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "settings"
            raise ConfigError(str(err["msg"]).removeprefix("Value error, "), field=field) from None
