"""What an operator sees at run time: :class:`PipelineEnv` (static) and :class:`OpContext` (live).

``PipelineEnv`` is plain data resolved from the YAML and the CLI (default model, system prompt,
paths, cache policy); it pickles, so a Ray worker gets the same one.  ``OpContext`` is built per
operation (and per worker) by the executor and carries the live pieces: the LLM client with
per-operation accounting, the embedding client, the operation's checkpoint journal for sub-steps,
and progress reporting.  Operators never reach for globals; everything comes through these two.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from llmassert.errors import BudgetExceededError, CassetteMissError, LLMError, SpecError
from llmassert.pipeline.types import OpStats

if TYPE_CHECKING:
    from llmassert.config import Settings
    from llmassert.llm.client import LLMClient, LLMRequest, LLMResult
    from llmassert.pipeline.checkpoint import Journal
    from llmassert.pipeline.operators.base import OperationSpec


@dataclass(frozen=True)
class PipelineEnv:
    """Pipeline-wide settings an operator may read (picklable)."""

    spec_file: str
    base_dir: Path
    default_model: str | None = None
    dataset_description: str | None = None
    persona: str | None = None
    bypass_cache: bool = False
    embedding_model: str | None = None
    embedding_api_base: str | None = None
    # top-level `retrievers`: name -> RetrieverSpec (plain data: pickles to Ray workers)
    retrievers: dict[str, Any] = field(default_factory=dict)
    # DocETL's fallback_models / fallback_embedding_models (tried in order after a failure)
    fallback_models: tuple[str, ...] = ()
    fallback_embedding_models: tuple[str, ...] = ()
    # operation name -> "operations[2] (name)", for errors that point into the YAML
    op_where: dict[str, str] = field(default_factory=dict)

    def path(self, p: str | Path) -> Path:
        """A path from the YAML, resolved against the YAML's folder."""
        path = Path(p).expanduser()
        return path if path.is_absolute() else (self.base_dir / path)

    def where(self, name: str) -> str:
        """Where an operation stands in the YAML (``operations[2] (name)``), for error fields."""
        return self.op_where.get(name, f"operations ({name})")

    def model_for(self, spec: OperationSpec, model: str | None = None) -> str:
        """The model an operation uses: its own ``model``, else the pipeline default."""
        chosen = model or getattr(spec, "model", None) or self.default_model
        if not chosen:
            raise SpecError(
                "no model: set `model` on the operation, `default_model` in the "
                "pipeline, --model or LLMASSERT_MODEL",
                file=self.spec_file,
                field=f"{self.where(spec.name)}.model",
            )
        return chosen

    def use_cache(self, spec: OperationSpec) -> bool:
        """Whether an operation's calls use the LLM cache: its ``bypass_cache``, else the pipeline's."""
        own: bool | None = getattr(spec, "bypass_cache", None)
        return not (own if own is not None else self.bypass_cache)

    def system_message(self, op_type: str, extra: str | None = None) -> str | None:
        """DocETL's ``system_prompt`` (dataset description + persona) as one system message."""
        parts: list[str] = []
        if self.persona:
            parts.append(f"You are {self.persona}.")
        if self.dataset_description:
            parts.append(f"The data you are working with: {self.dataset_description}.")
        if parts:
            parts.append(
                f"You are performing a {op_type} operation on it; base every answer "
                "only on the data you are given."
            )
        if extra:
            parts.append(extra.strip())
        return " ".join(parts) if parts else None

    def fingerprint_extra(self, spec: OperationSpec) -> str:
        """Inputs to an operation's fingerprint that live outside its spec.

        The model, the system prompt, and the content of its assertion module: editing the
        module must not let a resumed run reuse rows checked by the old one.
        """
        model = getattr(spec, "model", None) or self.default_model or ""
        module = ""
        assertions = getattr(spec, "assertions", None)
        if assertions is not None:
            try:
                module = hashlib.sha256(self.path(assertions.module).read_bytes()).hexdigest()
            except OSError:
                module = "missing"
        blob = json.dumps([model, self.persona, self.dataset_description, module])
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


class Progress(Protocol):
    """Where executors report progress (the runner's rich display, or nothing).

    A unit (row, group) in progress gets fractional ``credit`` as its LLM calls complete (see
    :class:`UnitCredit`), so a bar moves with the requests, not only when whole rows finish;
    ``advance`` reports ``n`` units finished, of which ``credited`` was already shown.
    ``llm_call`` reports each completed call's tokens and cost.  Every method does nothing
    unless overridden: :class:`NullProgress` is the protocol as it is.
    """

    def add_total(self, op: str, n: int) -> None:
        return None

    def advance(self, op: str, n: int = 1, credited: float = 0.0) -> None:
        return None

    def credit(self, op: str, amount: float) -> None:
        return None

    def llm_call(self, op: str, tokens: int, cost: float) -> None:
        return None

    def warn(self, message: str) -> None:
        return None


class NullProgress(Progress):
    """Progress that reports nothing (tests, workers, --quiet)."""


_MISSING = object()
# DocETL's default embedding model (resolve blocking, sample, rank with no model named).
DEFAULT_EMBEDDING_MODEL = "text-embedding-3-small"


@dataclass
class UnitCredit:
    """Progress credited so far to the unit (row, group) running in this task.

    Each LLM call the unit completes moves it halfway from its credit to done (1/2, 3/4, ...:
    monotone, never a whole unit before the unit ends, no guess of how many calls it needs); the
    executor adds the rest when the unit finishes.  A ContextVar, because one operation context
    serves many concurrent units; tasks a unit spawns copy the context and share the object.
    """

    given: float = 0.0


CURRENT_UNIT: ContextVar[UnitCredit | None] = ContextVar("llmassert_unit_credit", default=None)


class OpContext:
    """The live context of one operation (on one worker)."""

    def __init__(
        self,
        op_name: str,
        *,
        env: PipelineEnv,
        settings: Settings,
        client: LLMClient | None,
        stats: OpStats | None = None,
        journal: Journal | None = None,
        progress: Progress | None = None,
        embed_client_factory: Callable[[], LLMClient] | None = None,
    ) -> None:
        self.op_name = op_name
        self.env = env
        self.settings = settings
        self._client = client
        self.stats = stats if stats is not None else OpStats()
        self.journal = journal
        self.progress: Progress = progress or NullProgress()
        self._embed_client_factory = embed_client_factory
        self._embed_client: LLMClient | None = None

    @property
    def client(self) -> LLMClient:
        if self._client is None:
            raise RuntimeError(f"operation {self.op_name!r} has no LLM client (dry run?)")
        return self._client

    async def complete(self, request: LLMRequest, stats: OpStats | None = None) -> LLMResult:
        """One LLM request through the shared client, counted in ``stats``: a unit's own
        counters (an ``LLMStep`` run, added to the operation's when it ends), else this
        operation's."""
        result = await self.client.acomplete(request)
        s, u = stats if stats is not None else self.stats, result.usage
        s.calls += 1
        s.cached += int(result.cached)
        s.retries += max(0, result.attempts - 1) + result.reasks
        s.usage.add_usage(u)
        self.progress.llm_call(self.op_name, u.total_tokens, u.cost)
        credit = CURRENT_UNIT.get()
        if credit is not None:
            step = (1.0 - credit.given) / 2
            credit.given += step
            self.progress.credit(self.op_name, step)
        return result

    async def embed(self, texts: Sequence[str], model: str | None = None) -> list[list[float]]:
        """Embeddings (``default_embedding_api_base`` honoured); requests counted as calls."""
        client = self.client
        if self.env.embedding_api_base and self.env.embedding_api_base != self.settings.api_base:
            if self._embed_client is None and self._embed_client_factory is not None:
                self._embed_client = self._embed_client_factory()
            client = self._embed_client or client
        primary = model or self.env.embedding_model or DEFAULT_EMBEDDING_MODEL
        models = [primary, *(m for m in self.env.fallback_embedding_models if m != primary)]
        for i, chosen in enumerate(models):
            try:
                result = await client.aembed_result(texts, chosen)
                break
            except LLMError as e:
                # DocETL's fallback_embedding_models; a replay miss or budget stop is final.
                if i == len(models) - 1 or isinstance(e, (CassetteMissError, BudgetExceededError)):
                    raise
                self.stats.fallbacks += 1
        self.stats.calls += 1
        self.stats.cached += int(result.cached)
        self.stats.usage.add_usage(result.usage)
        return result.vectors

    async def checkpointed(
        self,
        key: str,
        factory: Callable[[], Awaitable[Any]],
        keep: Callable[[Any], bool] | None = None,
    ) -> Any:
        """Run ``factory`` once per ``key`` across killed and resumed runs.

        For sub-steps inside a unit (a fold batch, a resolve comparison): the JSON-able result is
        journaled, so a resumed run gets it back without calling the LLM again.  ``keep``: only
        results it accepts are journaled (an errored row must be tried again on resume).
        """
        if self.journal is None:
            return await factory()
        jkey = f"s:{key}"
        hit = self.journal.get(jkey, _MISSING)
        if hit is not _MISSING:
            return hit
        value = await factory()
        if keep is None or keep(value):
            self.journal.put(jkey, value)
        return value

    def finish(self) -> OpStats:
        """This operation's counters once its units ran here, with the journal entries found
        damaged meanwhile (taken from the journal: a Ray worker's partitions share one)."""
        if self.journal is not None:
            self.stats.damaged += self.journal.take_rejected()
        return self.stats

    def advance(self, n: int = 1, credited: float = 0.0) -> None:
        self.progress.advance(self.op_name, n, credited)

    def warn(self, message: str) -> None:
        self.progress.warn(f"{self.op_name}: {message}")
