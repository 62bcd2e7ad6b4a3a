"""The transport registry: which :class:`~llmassert.llm.transport.Transport` carries a model's calls.

``Settings.transport`` names one (``http``, ``litellm``) or leaves the choice to
:func:`transport_name` (``auto``: plain HTTP for ``openai/`` models on a configured
``api_base``, litellm for every other provider).  A new provider path registers a factory
here; the client, its retries, cache and record/replay do not change.
"""

from __future__ import annotations

from collections.abc import Callable

from llmassert.config import Settings
from llmassert.llm.litellm_transport import LiteLLMTransport
from llmassert.llm.transport import HttpTransport, Transport

TransportFactory = Callable[[Settings], Transport]

TRANSPORTS: dict[str, TransportFactory] = {
    "http": HttpTransport,
    # litellm itself is imported on the first call (~4 s), not here.
    "litellm": lambda settings: LiteLLMTransport(settings, replaying=settings.mode == "replay"),
}


def register_transport(name: str, factory: TransportFactory) -> None:
    """Add (or replace) a transport; select it with ``Settings(transport=name)``."""
    TRANSPORTS[name] = factory


def transport_name(settings: Settings, model: str) -> str:
    """The registered transport that carries ``model`` under ``settings`` (the one place this is decided)."""
    if settings.transport != "auto":
        return settings.transport
    return "http" if settings.api_base is not None and model.startswith("openai/") else "litellm"


def build_transport(name: str, settings: Settings) -> Transport:
    return TRANSPORTS[name](settings)
