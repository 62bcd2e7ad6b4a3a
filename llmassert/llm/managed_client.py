"""The managed :class:`~llmassert.llm.client.LLMClient`, transport-agnostic: cache → budget → rate limits → concurrency
bound → transport with retries → structured-output validation and re-asks → accounting.

One call (:meth:`Client.acomplete`) may make several HTTP attempts: retries of transient failures
(429/5xx/timeouts/connection errors, see :mod:`llmassert.llm.retry`) and re-asks when structured
output does not parse or validate.  Every attempt is rate-limited, bounded and counted.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from llmassert.aio import run_sync
from llmassert.config import Settings
from llmassert.enforce import Decision, Enforcer, Failure, Policy, aenforce
from llmassert.errors import ConfigError, LLMOutputError, LLMTransportError
from llmassert.llm import recording, structured  # modules, not the package API
from llmassert.llm.cache import DiskCache, canonical_json, embedding_key, request_key
from llmassert.llm.client import EmbedResult, LLMClient, LLMRequest, LLMResult, Usage
from llmassert.llm.limits import ConcurrencyLimiter, LocalRateLimiter, RateLimiter
from llmassert.llm.retry import TransportFailure, with_retries
from llmassert.llm.transport import Transport
from llmassert.llm.transports import build_transport, transport_name
from llmassert.llm.usage import Tally, UsageSummary, UsageTracker, cost_of
from llmassert.llm.validate import check_model, check_settings

log = logging.getLogger("llmassert.llm")

EMBED_BATCH = 256


class Client(LLMClient):
    """Cache, budget, rate limits, concurrency bound, retries, structured output, record/replay."""

    def __init__(
        self,
        settings: Settings,
        *,
        cache: DiskCache | None = None,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        check_settings(settings)
        self.settings = settings
        self._cache = (
            cache
            if cache is not None
            else (DiskCache(settings.cache_dir) if settings.cache_dir else None)
        )
        self._limiter = ConcurrencyLimiter(settings.max_concurrency)
        local = LocalRateLimiter(settings.rpm, settings.tpm)
        self._rpm, self._tpm = local.rpm, local.tpm
        # rate_limiter: a shared (cluster-wide) limiter replaces this process's rpm/tpm buckets.
        self._rate: RateLimiter | None = rate_limiter or (
            local if settings.rpm or settings.tpm else None
        )
        self._tracker = UsageTracker(
            max_cost=settings.max_cost, max_tokens=settings.max_tokens_total
        )
        self._transports: dict[str, Transport] = {}
        self._by_model: dict[str, Transport] = {}
        self._checked: set[str] = set()
        # Models that rejected tool calling: their structured output goes via response_format.
        self._no_tools: set[str] = set()
        self._cache_warned = False
        self._lock = threading.Lock()
        # Structured output that does not parse or validate is re-asked, then raises.
        self._schema_policy = Policy(action="raise", max_repairs=settings.max_reasks, name="reask")

    # -- accounting ------------------------------------------------------------------------------

    @property
    def usage(self) -> Usage:
        return self._tracker.total

    def backlog(self) -> tuple[int, int]:
        limiter = self._limiter
        return limiter.active + limiter.waiting, limiter.limit

    def summary(self) -> UsageSummary:
        """Totals plus calls, cache hits, retries, re-asks and a per-tag breakdown."""
        return self._tracker.summary()

    # -- sync API on the shared background loop (warm connection pools) --------------------------------------------------

    def complete(self, request: LLMRequest) -> LLMResult:
        return run_sync(self.acomplete(request))

    def embed(self, texts: Sequence[str], model: str | None = None) -> list[list[float]]:
        return run_sync(self.aembed(texts, model))

    # -- plumbing --------------------------------------------------------------------------------

    def _transport(self, model: str) -> Transport:
        found = self._by_model.get(model)  # per call: no lock, no registry lookup
        if found is not None:
            return found
        kind = transport_name(self.settings, model)
        with self._lock:
            found = self._transports.get(kind)
            if found is None:
                found = self._transports[kind] = build_transport(kind, self.settings)
            self._by_model[model] = found
            return found

    def _check_call(self, model: str) -> str | None:
        """Validate the model once; return the active cassette's path in record/replay mode."""
        if model not in self._checked:
            check_model(model, self.settings)
            with self._lock:
                self._checked.add(model)
        if self.settings.mode == "live":
            return None
        active = recording.active()
        if active is None or active.mode != self.settings.mode:
            raise ConfigError(
                f"mode {self.settings.mode!r} but no {self.settings.mode} cassette is active",
                field="mode",
                hint="run inside llmassert.llm.recording.cassette(settings, name) or --record/--replay",
            )
        return str(active.path)

    def _use_cache(self, use_cache: bool) -> DiskCache | None:
        # Record and replay bypass the cache: the cassette must see (record) or answer (replay)
        # every request, or a cassette recorded over a warm cache would be missing entries.
        if not use_cache or self.settings.mode != "live":
            return None
        return self._cache

    async def _attempts(
        self,
        model: str,
        tag: str,
        call: _CallState,
        cassette: str | None,
        send: Any,
        estimate: int,
    ) -> Any:
        """One logical request with retries; each attempt rate-limited, bounded and counted."""

        async def attempt() -> Any:
            async with self._limiter.slot():
                # Inside the slot: a send time granted by the limiter is used at once, so
                # attempts never bunch up behind the concurrency bound and burst past the rate.
                if self._rate:
                    await self._rate.acquire(estimate)
                try:
                    raw, pt, ct = await send()
                except TransportFailure:
                    self._count(model, tag, call, 0, 0)
                    if self._rate:
                        self._rate.settle(-estimate)
                    raise
            self._count(model, tag, call, pt, ct)
            if self._rate:
                self._rate.settle(pt + ct - estimate)
            return raw

        def on_retry(failure: TransportFailure, sleep: float) -> None:
            call.retries += 1

        return await with_retries(
            attempt,
            model=model,
            max_retries=self.settings.max_retries,
            max_seconds=self.settings.max_retry_seconds,
            cassette=cassette,
            on_retry=on_retry,
        )

    def _count(self, model: str, tag: str, call: _CallState, pt: int, ct: int) -> None:
        cost = cost_of(model, pt, ct)
        call.usage.add(pt, ct, cost, 1)
        self._tracker.add_attempt(tag, pt, ct, cost)

    # -- chat ------------------------------------------------------------------------------------

    async def acomplete(self, request: LLMRequest) -> LLMResult:
        model = request.model
        cassette = self._check_call(model)
        if request.output_schema is not None:
            structured.check_schema(request.output_schema)
        cache = self._use_cache(request.use_cache)
        key = request_key(request) if cache else ""
        if cache:
            hit = cache.get(key)
            if hit is not None:
                self._tracker.finish_call(cached=True)
                return LLMResult(
                    model=model,
                    text=hit["text"],
                    data=hit.get("data"),
                    cached=True,
                    attempts=0,
                    reasks=hit.get("reasks", 0),
                )
        self._tracker.check_budget()
        call = _CallState()
        try:
            result = await self._complete(request, call, cassette)
        except BaseException:
            self._tracker.finish_call(retries=call.retries, reasks=call.reasks, failed=True)
            raise
        self._tracker.finish_call(retries=call.retries, reasks=call.reasks)
        if cache:
            # Only validated successes reach here: errors are never cached.
            self._store(
                cache,
                key,
                {
                    "model": model,
                    "text": result.text,
                    "data": result.data,
                    "reasks": result.reasks,
                    "usage": result.usage.model_dump(),
                },
            )
        return result

    def _store(self, cache: DiskCache, key: str, value: dict[str, Any]) -> None:
        # A full or read-only disk must not fail a call that succeeded: warn once and go on.
        try:
            cache.put(key, value)
        except OSError as e:
            if not self._cache_warned:
                self._cache_warned = True
                log.warning("cannot write the LLM cache in %s: %s", cache.path, e)

    async def _complete(
        self, request: LLMRequest, call: _CallState, cassette: str | None
    ) -> LLMResult:
        model, transport = request.model, self._transport(request.model)
        messages = list(request.messages)

        async def send() -> tuple[dict[str, Any], structured.OutputMode]:
            """One answer (with transport retries); a model that refuses tools gets json_schema."""
            while True:
                mode: structured.OutputMode = "json_schema" if model in self._no_tools else "tools"
                body = structured.chat_body(request, messages, mode)
                # Only a token bucket needs the size (encoding the body costs ~40 µs).
                estimate = (
                    len(canonical_json(body)) // 4 + (request.max_tokens or 0) if self._rate else 0
                )

                async def post(body: dict[str, Any] = body) -> tuple[dict[str, Any], int, int]:
                    raw = await transport.chat(model, body)
                    usage = raw.get("usage") or {}
                    return (
                        raw,
                        int(usage.get("prompt_tokens") or 0),
                        int(usage.get("completion_tokens") or 0),
                    )

                try:
                    raw = await self._attempts(model, request.tag, call, cassette, post, estimate)
                except LLMTransportError as e:
                    if request.output_schema is not None and mode == "tools" and _refuses_tools(e):
                        log.warning("%s rejected tool calling; using response_format", model)
                        self._no_tools.add(model)
                        continue
                    raise
                return raw, mode

        if request.output_schema is None:
            raw, _ = await send()
            try:
                text = structured.plain_text(raw)
            except structured.InvalidOutput as e:
                raise LLMOutputError(f"{model}: {e.reason}", field=request.tag or None) from None
            return self._result(request, call, text, None)

        # Structured output: invalid answers are re-asked through the enforcement core.
        Answer = structured.Parsed | structured.InvalidOutput
        last: Answer | None = None

        async def ask(reask: Decision | None) -> Answer:
            if isinstance(last, structured.InvalidOutput) and reask is not None:
                log.info("%s: %s; re-asking", model, last.reason)
                messages.extend(last.followup)
                call.reasks += 1
            raw, mode = await send()
            try:
                return structured.parse(raw, request, mode)
            except structured.InvalidOutput as e:
                return e

        async def check(answer: Answer) -> tuple[Failure, ...]:
            nonlocal last
            last = answer
            if isinstance(answer, structured.Parsed):
                return ()
            return (Failure(request.schema_name, message=answer.reason, source="schema"),)

        answer, decision = await aenforce(
            Enforcer(self._schema_policy),
            ask,
            check,
            # An answer with no choices cannot be re-asked: there is nothing to answer.
            can_reask=lambda a: not isinstance(a, structured.InvalidOutput) or bool(a.followup),
        )
        if isinstance(answer, structured.InvalidOutput):
            raise LLMOutputError(
                f"{model}: output for {request.schema_name!r} still invalid after "
                f"{call.reasks} re-ask{'s' if call.reasks != 1 else ''}: {answer.reason}",
                field=request.tag or None,
            )
        assert decision.verdict == "accept"
        return self._result(request, call, answer.text, answer.data)

    @staticmethod
    def _result(request: LLMRequest, call: _CallState, text: str, data: Any) -> LLMResult:
        return LLMResult(
            model=request.model,
            text=text,
            data=data,
            usage=call.usage.usage(),
            attempts=call.usage.requests,
            reasks=call.reasks,
        )

    # -- embeddings ------------------------------------------------------------------------------

    async def aembed_result(self, texts: Sequence[str], model: str | None = None) -> EmbedResult:
        model = model or self.settings.embedding_model
        if not model:
            raise ConfigError(
                "no embedding model configured",
                field="embedding_model",
                hint="set embedding_model, e.g. openai/text-embedding-3-small",
            )
        cassette = self._check_call(model)
        cache = self._use_cache(True)
        found: dict[str, list[float]] = {}
        if cache:
            for text in dict.fromkeys(texts):
                hit = cache.get(embedding_key(model, text))
                if hit is not None:
                    found[text] = hit["embedding"]
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if not missing:
            self._tracker.finish_call(cached=True)
            return EmbedResult(vectors=[found[t] for t in texts], cached=True)
        self._tracker.check_budget()
        transport, call = self._transport(model), _CallState()
        try:
            for start in range(0, len(missing), EMBED_BATCH):
                batch = missing[start : start + EMBED_BATCH]

                async def send(batch: list[str] = batch) -> tuple[list[list[float]], int, int]:
                    vectors, pt = await transport.embed(model, batch)
                    return vectors, pt, 0

                vectors = await self._attempts(
                    model, "embed", call, cassette, send, sum(len(t) for t in batch) // 4
                )
                for text, vec in zip(batch, vectors, strict=True):
                    found[text] = vec
                    if cache:
                        self._store(
                            cache, embedding_key(model, text), {"model": model, "embedding": vec}
                        )
        except BaseException:
            self._tracker.finish_call(retries=call.retries, failed=True)
            raise
        self._tracker.finish_call(retries=call.retries)
        return EmbedResult(vectors=[found[t] for t in texts], usage=call.usage.usage())

    async def aclose(self) -> None:
        for transport in list(self._transports.values()):
            await transport.aclose()


class _CallState:
    __slots__ = ("reasks", "retries", "usage")

    def __init__(self) -> None:
        self.usage = Tally()
        self.retries = 0
        self.reasks = 0


def _refuses_tools(error: LLMTransportError) -> bool:
    text = str(error).lower()
    return error.status in (400, 422) and ("tool" in text or "function" in text)


def build_client(settings: Settings, *, rate_limiter: RateLimiter | None = None) -> LLMClient:
    """A new client for ``settings`` (validated: bad model/endpoint/key → ConfigError).

    ``rate_limiter`` replaces the per-process rpm/tpm buckets (the Ray executor passes the
    cluster-wide limiter here).
    """
    return Client(settings, rate_limiter=rate_limiter)
