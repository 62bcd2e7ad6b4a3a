"""llmassert: assertions for LLM outputs, synthesized from prompt history.

Public names are listed in ``__all__`` and pinned by tests/test_public_api.py.
"""

from __future__ import annotations

import os

# Set before anything can import litellm: never fetch the model cost map from the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from llmassert.config import Settings  # noqa: E402
from llmassert.errors import LlmAssertError  # noqa: E402

__version__ = "0.1.0"

__all__ = ["LlmAssertError", "Settings", "__version__"]
