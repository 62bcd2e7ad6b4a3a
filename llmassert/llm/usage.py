"""Tokens, cost and budget accounting.

Prices come from litellm's bundled price table (``model_prices_and_context_window_backup.json``),
read straight from the installed package directory so that pricing never costs litellm's import.
Unknown models cost 0; :func:`set_price` overrides or adds a model (e.g. a self-hosted one).

:class:`UsageTracker` sums every HTTP attempt of every call (retries and re-asks included), per
client and per request ``tag``, and enforces the budget: once spent, *starting* a new call raises
:class:`~llmassert.errors.BudgetExceededError` while calls already in flight finish and are counted.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmassert.errors import BudgetExceededError
from llmassert.llm.client import Usage

PRICE_FILE = "model_prices_and_context_window_backup.json"

_prices: dict[str, Any] | None = None
_overrides: dict[str, tuple[float, float]] = {}
_prices_lock = threading.Lock()


def price_table() -> dict[str, Any]:
    """litellm's price table, loaded once without importing litellm ({} if unavailable)."""
    global _prices
    with _prices_lock:
        if _prices is None:
            _prices = {}
            spec = importlib.util.find_spec("litellm")
            for folder in (spec.submodule_search_locations or []) if spec else []:
                path = Path(folder) / PRICE_FILE
                if path.is_file():
                    with open(path, encoding="utf-8") as f:
                        loaded = json.load(f)
                    _prices = {k: v for k, v in loaded.items() if isinstance(v, dict)}
                    break
        return _prices


def set_price(model: str, input_per_token: float, output_per_token: float = 0.0) -> None:
    """Price ``model`` (as written in requests, e.g. ``openai/my-model``) per token, in USD."""
    _overrides[model] = (input_per_token, output_per_token)


def price_overrides() -> dict[str, tuple[float, float]]:
    """Prices set with :func:`set_price` (to hand to worker processes)."""
    return dict(_overrides)


def model_price(model: str) -> tuple[float, float]:
    """(input, output) USD per token for a litellm model string; (0, 0) when unknown."""
    return known_price(model) or (0.0, 0.0)


def is_embedding_model(model: str) -> bool:
    """Whether litellm's model table lists ``model`` as an embedding model (False if unknown)."""
    table = price_table()
    provider, _, bare = model.partition("/")
    for name in (model, bare) if bare else (model,):
        entry = table.get(name)
        if entry and (name == model or entry.get("litellm_provider") == provider):
            return bool(entry.get("mode") == "embedding")
    return False


def known_price(model: str) -> tuple[float, float] | None:
    """(input, output) USD per token, or None when neither :func:`set_price` nor litellm's table
    prices ``model`` (estimates say "unknown price" rather than $0)."""
    if model in _overrides:
        return _overrides[model]
    entry = model_info(model)
    if not entry:
        return None
    return (
        float(entry.get("input_cost_per_token") or 0.0),
        float(entry.get("output_cost_per_token") or 0.0),
    )


def model_info(model: str) -> dict[str, Any]:
    """litellm's table entry for a model string ({} when it does not list the model): prices,
    and capabilities such as ``supports_pdf_input``."""
    table = price_table()
    provider, _, bare = model.partition("/")
    for name in (model, bare) if bare else (model,):
        entry = table.get(name)
        # A bare name only counts when the table agrees on the provider (openai/x ≠ groq's x).
        if entry and (name == model or entry.get("litellm_provider") == provider):
            return dict(entry)
    return {}


def cost_of(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    pin, pout = model_price(model)
    return prompt_tokens * pin + completion_tokens * pout


@dataclass
class UsageSummary:
    """A snapshot of a client's accounting."""

    usage: Usage
    calls: int = 0
    cache_hits: int = 0
    retries: int = 0
    reasks: int = 0
    failed: int = 0
    by_tag: dict[str, Usage] = field(default_factory=dict)

    def line(self) -> str:
        """One human line: ``LLM: 12 calls (3 cached), 4,512 tokens, $0.0123, 2 retries``."""
        u = self.usage
        parts = [
            f"{self.calls} calls ({self.cache_hits} cached)",
            f"{u.requests} requests",
            f"{u.total_tokens:,} tokens ({u.prompt_tokens:,} in / {u.completion_tokens:,} out)",
            f"${u.cost:.4f}",
            f"{self.retries} retries",
            f"{self.reasks} re-asks",
        ]
        if self.failed:
            parts.append(f"{self.failed} failed")
        return "LLM usage: " + ", ".join(parts)


class Tally:
    """A running :class:`Usage` as plain numbers: adding to it builds no pydantic model (the
    client adds every HTTP attempt, so ~9 µs per model built mattered).  The one place usage
    is summed: the client's tracker, and each pipeline operation's ``OpStats``."""

    __slots__ = ("completion_tokens", "cost", "prompt_tokens", "requests")

    def __init__(self) -> None:
        self.prompt_tokens = self.completion_tokens = self.requests = 0
        self.cost = 0.0

    def add(self, prompt_tokens: int, completion_tokens: int, cost: float, requests: int) -> None:
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.cost += cost
        self.requests += requests

    def add_usage(self, other: Usage | Tally) -> None:
        """Add a call's (or another tally's) usage."""
        self.add(other.prompt_tokens, other.completion_tokens, other.cost, other.requests)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def usage(self) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            cost=self.cost,
            requests=self.requests,
        )

    def to_json(self) -> dict[str, Any]:
        return self.usage().model_dump()

    @classmethod
    def from_json(cls, data: Any) -> Tally:
        """A tally from :meth:`to_json`'s output; anything else raises ``ValueError``
        (pydantic's ``ValidationError``: the data may come from an edited file)."""
        tally = cls()
        tally.add_usage(Usage.model_validate(data))
        return tally

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tally):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Tally({', '.join(f'{k}={getattr(self, k)!r}' for k in self.__slots__)})"


class UsageTracker:
    """Thread-safe running totals plus the budget check."""

    def __init__(self, *, max_cost: float | None = None, max_tokens: int | None = None) -> None:
        self.max_cost = max_cost
        self.max_tokens = max_tokens
        self._lock = threading.Lock()
        self._total = Tally()
        self._by_tag: dict[str, Tally] = {}
        self._calls = self._hits = self._retries = self._reasks = self._failed = 0

    @property
    def total(self) -> Usage:
        with self._lock:
            return self._total.usage()

    def check_budget(self) -> None:
        """Raise BudgetExceededError when the budget is spent (call before starting a call)."""
        with self._lock:
            t = self._total
            tokens = t.prompt_tokens + t.completion_tokens
            if self.max_cost is not None and t.cost >= self.max_cost:
                why = f"cost ${t.cost:.4f} reached --max-cost ${self.max_cost:.4f}"
            elif self.max_tokens is not None and tokens >= self.max_tokens:
                why = f"{tokens:,} tokens reached --max-tokens {self.max_tokens:,}"
            else:
                return
            calls = self._calls
        raise BudgetExceededError(
            f"LLM budget exhausted: {why} after {calls} calls; no new calls started"
        )

    def add_attempt(
        self, tag: str, prompt_tokens: int, completion_tokens: int, cost: float
    ) -> None:
        """Count one HTTP attempt's usage (successful or not) as soon as it is known."""
        with self._lock:
            self._total.add(prompt_tokens, completion_tokens, cost, 1)
            by_tag = self._by_tag.get(tag)
            if by_tag is None:
                by_tag = self._by_tag[tag] = Tally()
            by_tag.add(prompt_tokens, completion_tokens, cost, 1)

    def finish_call(
        self, *, cached: bool = False, retries: int = 0, reasks: int = 0, failed: bool = False
    ) -> None:
        with self._lock:
            self._calls += 1
            self._hits += cached
            self._retries += retries
            self._reasks += reasks
            self._failed += failed

    def summary(self) -> UsageSummary:
        with self._lock:
            return UsageSummary(
                usage=self._total.usage(),
                calls=self._calls,
                cache_hits=self._hits,
                retries=self._retries,
                reasks=self._reasks,
                failed=self._failed,
                by_tag={k: v.usage() for k, v in self._by_tag.items()},
            )
