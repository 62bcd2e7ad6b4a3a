"""Find the text in whatever a guarded function returns, put a fixed text back, read its usage.

Supported shapes: ``str``; llmassert's ``LLMResult``; OpenAI-style chat completions as objects
(the OpenAI SDK's ``ChatCompletion``, litellm's ``ModelResponse``) or as dicts; legacy text
completions (``choices[0].text``).  A tool call without text content is checked as its arguments
JSON.
"""

from __future__ import annotations

import copy
from typing import Any

from llmassert.llm.client import LLMResult, Usage
from llmassert.llm.usage import cost_of


def extract_text(obj: Any) -> str:
    """The response text of ``obj``; TypeError naming the type when there is none."""
    if isinstance(obj, str):
        return obj
    if isinstance(obj, LLMResult):
        return obj.text
    choice = _first_choice(obj)
    if choice is not None:
        message = _get(choice, "message")
        if message is not None:
            content = _get(message, "content")
            if content is None:
                calls = _get(message, "tool_calls") or []
                if calls:
                    return str(_get(_get(calls[0], "function"), "arguments") or "")
            return _content_text(content)
        text = _get(choice, "text")
        if text is not None:
            return str(text)
    raise TypeError(
        f"cannot find the response text in a {type(obj).__name__}: return a str, an "
        "OpenAI-style chat completion, or an llmassert LLMResult"
    )


def replace_text(obj: Any, text: str) -> Any:
    """A copy of ``obj`` whose response text is ``text`` (the original is left untouched)."""
    if isinstance(obj, str):
        return text
    if isinstance(obj, LLMResult):
        return obj.model_copy(update={"text": text, "data": None})
    new = copy.deepcopy(obj)
    choice = _first_choice(new)
    message = _get(choice, "message") if choice is not None else None
    if message is not None:
        _set(message, "content", text)
    elif choice is not None:
        _set(choice, "text", text)
    return new


def extract_usage(obj: Any) -> Usage | None:
    """Tokens and cost of the call that produced ``obj``, when it says."""
    if isinstance(obj, LLMResult):
        return obj.usage
    usage = _get(obj, "usage")
    if usage is None or isinstance(obj, str):
        return None
    prompt = int(_get(usage, "prompt_tokens") or 0)
    completion = int(_get(usage, "completion_tokens") or 0)
    hidden = getattr(obj, "_hidden_params", None)
    cost = hidden.get("response_cost") if isinstance(hidden, dict) else None
    if cost is None:
        cost = cost_of(str(_get(obj, "model") or ""), prompt, completion)
    return Usage(
        prompt_tokens=prompt, completion_tokens=completion, cost=float(cost or 0.0), requests=1
    )


def _first_choice(obj: Any) -> Any:
    choices = _get(obj, "choices")
    if isinstance(choices, list | tuple) and choices:
        return choices[0]
    return None


def _get(obj: Any, key: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, key, None)


def _set(obj: Any, key: str, value: Any) -> None:
    if isinstance(obj, dict):
        obj[key] = value
    else:
        setattr(obj, key, value)


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return "".join(str(_get(p, "text") or "") for p in content)
    return str(content)
