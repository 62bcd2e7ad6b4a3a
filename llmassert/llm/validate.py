"""Endpoint and model checks that turn bad configuration into one-line ``ConfigError``s early.

Runs without importing litellm in the common cases: providers are checked against the provider
names in litellm's bundled price table plus a few well-known ones, and litellm's own provider list
is consulted (imported lazily) only for a prefix neither knows.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

from llmassert.config import Settings
from llmassert.errors import ConfigError
from llmassert.llm.litellm_transport import import_litellm
from llmassert.llm.transports import TRANSPORTS
from llmassert.llm.usage import price_table

# provider → environment variables litellm reads the key from (any one suffices).
KEY_ENV: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "groq": ("GROQ_API_KEY",),
    "mistral": ("MISTRAL_API_KEY",),
    "cohere": ("COHERE_API_KEY", "CO_API_KEY"),
    "cohere_chat": ("COHERE_API_KEY", "CO_API_KEY"),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "openrouter": ("OPENROUTER_API_KEY", "OR_API_KEY"),
    "together_ai": ("TOGETHERAI_API_KEY", "TOGETHER_API_KEY", "TOGETHER_AI_API_KEY"),
    "xai": ("XAI_API_KEY",),
    "fireworks_ai": ("FIREWORKS_API_KEY", "FIREWORKS_AI_API_KEY", "FIREWORKSAI_API_KEY"),
    "perplexity": ("PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"),
    "cerebras": ("CEREBRAS_API_KEY",),
}
# Providers litellm supports that may be missing from the price table (self-hosted servers).
EXTRA_PROVIDERS = frozenset(
    {
        "openai",
        "azure",
        "azure_ai",
        "anthropic",
        "ollama",
        "ollama_chat",
        "hosted_vllm",
        "vllm",
        "lm_studio",
        "llamafile",
        "openai_like",
        "custom_openai",
        "huggingface",
        "bedrock",
        "vertex_ai",
        "gemini",
        "litellm_proxy",
        "text-completion-openai",
        "sagemaker",
    }
)
MODEL_RE = re.compile(r"^[^\s/][^\s]*$")


def _known_providers() -> set[str]:
    names = {
        str(v.get("litellm_provider")) for v in price_table().values() if v.get("litellm_provider")
    }
    return names | set(EXTRA_PROVIDERS)


def _litellm_providers() -> set[str]:
    return {str(getattr(p, "value", p)) for p in import_litellm().provider_list}


def provider_of(model: str) -> str | None:
    """The litellm provider of a model string, or None when it cannot be told."""
    if "/" in model:
        return model.split("/", 1)[0]
    entry = price_table().get(model)
    provider = entry.get("litellm_provider") if entry else None
    return str(provider) if provider else None


def check_model(model: str | None, settings: Settings, *, field: str = "model") -> str:
    """Return the provider of ``model`` or raise ConfigError saying what is wrong."""
    if model is None or not model.strip():
        raise ConfigError(
            "no model configured",
            field=field,
            hint="pass --model or set LLMASSERT_MODEL, e.g. openai/gpt-4o-mini",
        )
    if not MODEL_RE.match(model) or model.endswith("/"):
        raise ConfigError(
            f"malformed model string {model!r}",
            field=field,
            hint="use provider/model without spaces, e.g. openai/gpt-4o-mini",
        )
    provider = provider_of(model)
    if provider is None:
        raise ConfigError(
            f"unknown model {model!r} without a provider prefix",
            field=field,
            hint=f"write it as provider/model, e.g. openai/{model}",
        )
    # Providers named here need no table (litellm's price table is ~40 ms to load: not
    # before a run's first request, for the common case).
    known = provider in KEY_ENV or provider in EXTRA_PROVIDERS
    if not known and provider not in _known_providers() and provider not in _litellm_providers():
        raise ConfigError(
            f"unknown provider {provider!r} in model {model!r}",
            field=field,
            hint="see https://docs.litellm.ai/docs/providers",
        )
    # Replays never reach the provider, so CI needs no key.
    needs_key = settings.api_base is None and settings.api_key is None and settings.mode != "replay"
    if needs_key and provider in KEY_ENV:
        names = KEY_ENV[provider]
        if not any(os.environ.get(n) for n in names):
            raise ConfigError(
                f"no API key for {provider} model {model!r}",
                field=field,
                hint=f"set {names[0]}, or --api-base for a local server",
            )
    return provider


def check_api_base(settings: Settings) -> None:
    base = settings.api_base
    if base is None:
        return
    try:
        parts = urlsplit(base)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError as e:
        raise ConfigError(f"malformed api_base {base!r}: {e}", field="api_base") from None
    if not parts.hostname or not port_ok or any(c.isspace() for c in base):
        raise ConfigError(
            f"malformed api_base {base!r}",
            field="api_base",
            hint="expected e.g. http://127.0.0.1:8000/v1",
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"api_base {base!r} must not have a query or fragment", field="api_base")


def check_settings(settings: Settings) -> None:
    """Validate the endpoint and configured models (a missing model is fine: offline use)."""
    check_api_base(settings)
    if settings.transport != "auto" and settings.transport not in TRANSPORTS:
        raise ConfigError(
            f"unknown transport {settings.transport!r}; choose auto, "
            + ", ".join(sorted(TRANSPORTS)),
            field="transport",
        )
    if settings.model is not None:
        check_model(settings.model, settings)
    if settings.embedding_model is not None:
        check_model(settings.embedding_model, settings, field="embedding_model")
    if settings.mode != "live" and settings.cassette_dir is None:
        raise ConfigError(
            f"mode {settings.mode!r} needs a cassette folder",
            field="cassette_dir",
            hint="pass --record DIR or --replay DIR",
        )
