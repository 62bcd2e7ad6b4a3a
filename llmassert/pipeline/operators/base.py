"""The operator contract.  Every pipeline operator is an :class:`Operator` subclass in ``OPERATORS``.

How to write an operator (``llmassert/pipeline/operators/<type>.py``)
=====================================================================

1. **Spec model.**  Subclass :class:`OperationSpec` (no LLM) or :class:`LLMOperationSpec` (prompt,
   output schema, model, gleaning, validate, assertions...) with ``type: Literal["<type>"]`` and
   the operator's own keys.  ``extra="forbid"`` is inherited: an unknown key is a one-line
   ``SpecError`` naming the file, the operation and the key.  Use field validators for key-level
   checks; ``spec.py`` builds the discriminated union from the registry, so nothing else to edit.

2. **Operator class.**  Decorate with ``@register(YourSpec)``: it sets ``spec_model`` and
   ``type_name`` (the spec's ``type`` literal: the YAML type is written once).  Set
   ``uses_llm = True`` if the operator calls the LLM (in ``__init__`` if the spec decides).
   Subclass the base that says how rows flow through you; executors rely on it:

   ============== ======================================== =====================================
   base           you implement                            the executor ...
   ============== ======================================== =====================================
   RowOperator    ``process_row(row, ctx) -> Outcome``     fans every row out at once, streams
                  (0..n rows out per row: map, filter,      rows into the next row operator,
                  split, unnest)                            journals each row, may partition
                                                            rows across workers (Ray)
   GroupOperator  ``group_key(row)`` and                   groups (order of first appearance),
                  ``process_group(key, rows, ctx)``         runs groups concurrently, journals
                  (reduce, gather by document)              each group, may shard by key
   GlobalOperator ``run(rows, ctx) -> Outcome``            hands you the whole input (resolve)
   JoinOperator   ``run_join(left, right, ctx)``           hands you two inputs (equijoin)
   ============== ======================================== =====================================

3. **Pure functions of (spec, rows, ctx).**  No files, no globals, no prints: an operator gets
   everything through its spec, its :class:`~llmassert.pipeline.context.PipelineEnv` (``self.env``)
   and the :class:`~llmassert.pipeline.context.OpContext` ``ctx`` (LLM calls with accounting,
   embeddings, sub-step checkpoints, progress).  Operators must pickle (``__reduce__`` rebuilds
   them from spec + env), because the Ray executor ships them to workers.

4. **Never drop a row silently.**  Return an :class:`Outcome`: ``rows`` for what goes on,
   ``filtered`` to count rows removed on purpose (filter's false rows), ``quarantined`` for rows
   whose output failed its checks, ``errors`` for rows that could not be processed.  Raise only
   for errors that must stop the run (``BudgetExceededError``, ``CassetteMissError``, policy
   ``raise``).  Outcomes without errors are journaled, so a resumed run never repeats them.

5. **LLM calls** go through ``llmassert.pipeline.operators.common``: build an :class:`LLMStep`
   once in ``__init__`` (prompt compiled, output schema, validate, assertions, gleaning) and call
   ``await step.run(ctx, prompt_vars, example=row)``; ``step.finish(...)`` applies the on-fail
   policy and returns the Outcome.  Don't call the client directly unless you must (resolve's
   comparisons use ``ctx.complete`` for a bare yes/no request).

6. **Static checks.**  Implement ``output_keys(keys)`` (the keys rows carry after you; raise
   ``SpecError`` via ``self.fail(...)`` if you need a key that is missing; call
   ``Prompt.check`` on your templates) and, for LLM operators, ``estimate_calls(rows)`` for
   ``--dry-run`` (operators with ``uses_llm`` False are simply executed by the dry run).
"""

from __future__ import annotations

import hashlib
import importlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from llmassert.errors import SpecError
from llmassert.pipeline.schema_types import TypeSyntaxError, to_json_schema
from llmassert.pipeline.templates import KeySet, Prompt
from llmassert.pipeline.types import (
    FLAG_KEY,
    UNKNOWN,
    CallEstimate,
    Issue,
    OpStats,
    Outcome,
    Row,
    row_digest,
)

if TYPE_CHECKING:
    from llmassert.pipeline.context import OpContext, PipelineEnv

OpKind = Literal["row", "group", "global", "join"]
# DocETL's names; the guard's reask / exception / noop are accepted too (llmassert.enforce.policy).
StepOnFail = Literal["retry", "glean", "flag", "quarantine", "raise", "reask", "exception", "noop"]


# -- spec models ---------------------------------------------------------------------------------


def _types_parse(v: dict[str, Any]) -> dict[str, Any]:
    if not v:
        raise ValueError("needs at least one field")
    for key, t in v.items():
        try:
            to_json_schema({key: t})
        except TypeSyntaxError as e:
            raise ValueError(f"field {key!r}: {e}") from None
    return v


# ``field: type`` pairs in DocETL's type language (output schemas, cluster's summary_schema).
TypeFields = Annotated[dict[str, Any], AfterValidator(_types_parse)]


# DocETL's ``limit`` of a row operation (map, extract): only the first N rows are processed.
RowLimit = Annotated[
    int | None,
    Field(gt=0, description="DocETL: process the first N rows; the rest are counted filtered."),
]


class StrictModel(BaseModel):
    """Base of everything read from pipeline YAML: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class OperationSpec(StrictModel):
    """Keys every operation has.  Subclasses narrow ``type`` to ``Literal["<type>"]``."""

    name: str = Field(min_length=1, description="Unique name, referenced from pipeline.steps.")
    type: str = Field(description="Operator type (map, filter, reduce, split, ...).")
    # DocETL keys accepted so DocETL pipelines load unchanged; they do not change behaviour here.
    optimize: bool | None = Field(None, description="DocETL optimizer flag (ignored).")
    recursively_optimize: bool | None = Field(None, description="DocETL optimizer flag (ignored).")
    verbose: bool | None = Field(None, description="DocETL logging flag (ignored).")
    sample: int | None = Field(
        None,
        ge=1,
        description="DocETL: run on the first N input rows only (debugging); "
        "the rest are counted as filtered.",
    )

    @field_validator("name")
    @classmethod
    def _name_chars(cls, v: str) -> str:
        if any(c in v for c in "/\\\0") or v.startswith("."):
            raise ValueError("must not contain '/', '\\' or start with '.' (used in file names)")
        return v


class OutputSpec(StrictModel):
    """``output:`` of an LLM operation: fields in DocETL's type language."""

    schema_: TypeFields = Field(
        alias="schema",
        description="field: type, e.g. summary: string, tags: list[string], score: enum[lo, hi]",
    )
    mode: Literal["tools", "structured_output"] | None = Field(
        None, description="DocETL's enforcement mode (the LLM layer picks; accepted, ignored)."
    )
    lineage: list[str] | None = Field(
        None, description="reduce: input keys to collect under <name>_lineage."
    )
    n: int | None = Field(
        None, ge=1, le=100, description="map: DocETL's n outputs per row (n checked answers)."
    )

    def json_schema(self) -> dict[str, Any]:
        return to_json_schema(self.schema_)


class GleaningSpec(StrictModel):
    """``gleaning:`` judge → refine loop after each answer."""

    num_rounds: int = Field(1, ge=0, le=10, description="At most this many refinements.")
    validation_prompt: str = Field(
        description="What the judge checks; may use Jinja "
        "({{ output }}, {{ input }} / {{ inputs }})."
    )
    model: str | None = Field(None, description="Judge model (default: the operation's).")
    if_: str | None = Field(
        None, alias="if", description="Python expression on `output`; glean only when it holds."
    )


class AssertionsSpec(StrictModel):
    """``assertions:`` a synthesized assertion module applied to every answer."""

    module: Path = Field(description="assertions/<name>.py (relative to the YAML's folder).")
    on_fail: StepOnFail = Field(
        "retry",
        description="retry | glean | flag | quarantine | raise (also reask = retry, "
        "exception = raise, noop = flag)",
    )
    max_retries: int = Field(2, ge=0, le=10)
    response_key: str | None = Field(
        None,
        description="Output field checked as the response "
        "(default: the only string field, else the JSON output).",
    )
    severity: dict[str, Literal["block", "warn"]] = Field(
        default_factory=dict,
        description="Per-assertion severity overriding the module's: warn failures never "
        "trigger on_fail; the row keeps them under _llmassert_warnings.",
    )


class LLMOperationSpec(OperationSpec):
    """Keys shared by every LLM-calling operation (map, filter, reduce, resolve...)."""

    prompt: str | None = Field(None, description="Jinja2 prompt.")
    output: OutputSpec | None = None
    model: str | None = Field(None, description="litellm model (default: default_model).")
    system_prompt: str | None = Field(
        None, description="llmassert extension: extra system text for this operation."
    )
    bypass_cache: bool | None = Field(
        None, description="Skip the LLM cache (default: the pipeline's bypass_cache)."
    )
    skip_on_error: bool = Field(
        False,
        description="An LLM error moves the row to "
        "<output>.errors.jsonl instead of stopping the run.",
    )
    gleaning: GleaningSpec | None = None
    validate_: list[str] | None = Field(
        None, alias="validate", description="Python expressions over `output` that must hold."
    )
    num_retries_on_validate_failure: int = Field(0, ge=0, le=10)
    assertions: AssertionsSpec | None = None
    litellm_completion_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra request parameters."
    )
    timeout: float | None = Field(
        None, description="DocETL per-call timeout (accepted; the LLM layer's timeout applies)."
    )
    max_retries_per_timeout: int | None = Field(None, description="DocETL (accepted, ignored).")
    enable_observability: bool = Field(
        False, description="DocETL: keep the prompt sent under `_observability_<name>`."
    )
    retriever: str | None = Field(
        None, description="A top-level `retrievers` name: `{{ retrieval_context }}` per row."
    )
    save_retriever_output: bool = Field(
        False, description="Keep the retrieved context under `_<name>_retrieved_context`."
    )

    @model_validator(mode="after")
    def _assert_module_suffix(self) -> LLMOperationSpec:
        if self.assertions and self.assertions.module.suffix not in (".py", ".json"):
            raise ValueError("assertions.module must be a .py module (or its .json manifest)")
        return self


# -- operators -----------------------------------------------------------------------------------

SpecT = TypeVar("SpecT", bound=OperationSpec)


class Operator(ABC, Generic[SpecT]):
    """Base class; see the module docstring for the contract."""

    type_name: ClassVar[str]  # both set by @register(spec_model)
    spec_model: ClassVar[type[OperationSpec]]
    kind: ClassVar[OpKind]
    # True if the operator calls the LLM (its units are journaled for resume); operators whose
    # spec decides (topk's fts, a map without prompt) set it in __init__.
    uses_llm: bool = False

    def __init__(self, spec: SpecT, env: PipelineEnv) -> None:
        self.spec = spec
        self.env = env
        self.where = env.where(spec.name)

    def __reduce__(self) -> tuple[Any, ...]:
        # Compiled templates and loaded assertion modules are rebuilt on the worker.
        return (type(self), (self.spec, self.env))

    @classmethod
    def build(cls, spec: Any, env: PipelineEnv) -> Operator[Any]:
        """The operator for ``spec``: the runner's one way to make one from the registry.

        A key can change how rows flow (filter ``cascade``, map ``calibrate`` need the whole
        input): such an operator returns a different class here, keeping one YAML ``type``.
        """
        return cls(spec, env)

    @property
    def name(self) -> str:
        return self.spec.name

    # Each row unit ends in exactly one place (output row, filtered, quarantined, errored): a
    # replayed journal entry of such an operator must account for exactly its input row.
    one_row_per_row: ClassVar[bool] = False

    def fail(self, message: str, field: str | None = None) -> SpecError:
        """A SpecError located at this operation (``operations[2] (name).field``)."""
        where = self.where
        return SpecError(
            message, file=self.env.spec_file, field=f"{where}.{field}" if field else where
        )

    def require_keys(self, keys: KeySet, needed: list[str], field: str) -> None:
        """Raise a SpecError at ``field`` if the rows here lack a key this operation needs."""
        missing = keys.missing(needed)
        if missing:
            shown = ", ".join(sorted(keys.keys)) or "none"
            raise self.fail(f"{missing[0]!r} is not a key of the rows here (keys: {shown})", field)

    def template(self, source: str, field: str) -> Prompt:
        """A Jinja template of this operation's spec, its errors located at ``field``."""
        return Prompt(source, where=f"{self.where}.{field}", file=self.env.spec_file)

    def admit(self, rows: list[Row]) -> list[int] | None:
        """Indices of the input rows this operation takes; the runner counts the others as
        filtered before it runs (reduce's ``limit``).  None (the default): every row."""
        return None

    def output_keys(self, keys: KeySet) -> KeySet:
        """Keys rows carry after this operator, given the keys they carry before.

        Check templates and required keys here (raise ``self.fail(...)``): it runs before any
        LLM call.  Default: unknown (open) — override to keep downstream checks useful.
        """
        return KeySet(keys.keys, open=True)

    def estimate_calls(self, rows: list[Row]) -> CallEstimate:
        """LLM calls for ``--dry-run`` (no call made).  Default: none, rows unchanged.

        Operators without LLM calls are not asked: the dry run executes them for real.
        """
        return CallEstimate(calls=0, rows=rows)

    def fingerprint(self) -> str:
        """Changes when the operator would produce different output (its spec and model)."""
        blob = json.dumps(self.spec.model_dump(mode="json", by_alias=True), sort_keys=True)
        extra = self.env.fingerprint_extra(self.spec)
        return hashlib.sha256(f"{self.type_name}|{blob}|{extra}".encode()).hexdigest()[:16]


class RowOperator(Operator[SpecT]):
    """Each input row is processed on its own (0..n output rows per input row)."""

    kind: ClassVar[OpKind] = "row"

    @property
    def batch_size(self) -> int:
        """Rows per :meth:`process_batch` call (map's ``max_batch_size``); 1 = row by row."""
        return 1

    @abstractmethod
    async def process_row(self, row: Row, ctx: OpContext) -> Outcome:
        """Process one row."""

    async def process_batch(self, rows: list[Row], ctx: OpContext) -> list[Outcome]:
        """Process several rows in one go (one outcome per row, same order)."""
        import asyncio

        return list(await asyncio.gather(*(self.process_row(r, ctx) for r in rows)))


class GroupOperator(Operator[SpecT]):
    """Rows are grouped by :meth:`group_key`; each group is processed on its own."""

    kind: ClassVar[OpKind] = "group"

    @abstractmethod
    def group_key(self, row: Row) -> tuple[Any, ...]:
        """The group of ``row``: a tuple of JSON-able values (hashable)."""

    @abstractmethod
    async def process_group(self, key: tuple[Any, ...], rows: list[Row], ctx: OpContext) -> Outcome:
        """Process one group (rows in input order)."""

    def groups_within(self, upstream: Operator[Any]) -> bool:
        """True if no group of this operation spans rows made by two units of ``upstream``.

        Then the executor streams: each upstream unit's rows are grouped as soon as that unit
        is done (split → gather per document), instead of waiting for the whole input.
        """
        return False


class GlobalOperator(Operator[SpecT]):
    """Needs its whole input at once (resolve)."""

    kind: ClassVar[OpKind] = "global"

    @abstractmethod
    async def run(self, rows: list[Row], ctx: OpContext) -> Outcome:
        """Process the whole input."""


class JoinOperator(Operator[SpecT]):
    """Two inputs (equijoin); a step names them as ``- op_name: {left: a, right: b}``."""

    kind: ClassVar[OpKind] = "join"

    @abstractmethod
    async def run_join(self, left: list[Row], right: list[Row], ctx: OpContext) -> Outcome:
        """Join the two inputs."""


# The module that registers each operator type.  The registry imports a type's module the first
# time the type is looked up, so a run imports only the operators its pipeline names: importing
# all of them cost every `llmassert run` ~0.1 s before its first request.  A new operator is one
# line here (tests/pipeline/test_registry.py checks that each module registers exactly the types
# listed for it).
OPERATOR_MODULES: dict[str, str] = {
    "add_uuid": "add_uuid",
    "cluster": "cluster",
    "code_filter": "code",
    "code_map": "code",
    "code_reduce": "code",
    "equijoin": "equijoin",
    "extract": "extract",
    "filter": "filter",
    "gather": "gather",
    "link_resolve": "link_resolve",
    "map": "map",
    "parallel_map": "parallel_map",
    "rank": "rank",
    "reduce": "reduce",
    "resolve": "resolve",
    "sample": "sample",
    "split": "split",
    "topk": "topk",
    "unnest": "unnest",
}


class OperatorRegistry(Mapping[str, "type[Operator[Any]]"]):
    """Operator type → class (``OPERATORS``): every type of :data:`OPERATOR_MODULES` is a key;
    looking one up imports the module that registers it, once."""

    def __init__(self, modules: Mapping[str, str]) -> None:
        self._modules = modules
        self._classes: dict[str, type[Operator[Any]]] = {}

    def __getitem__(self, type_name: str) -> type[Operator[Any]]:
        cls = self._classes.get(type_name)
        if cls is None:
            importlib.import_module(f"{__package__}.{self._modules[type_name]}")
            cls = self._classes[type_name]
        return cls

    def __contains__(self, type_name: object) -> bool:
        return type_name in self._modules

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)

    def add(self, type_name: str, cls: type[Operator[Any]]) -> None:
        module = f"{__package__}.{self._modules.get(type_name, '?')}"
        if cls.__module__ != module:
            raise ValueError(
                f"operator type {type_name!r} registered by {cls.__module__}; "
                f"OPERATOR_MODULES in {__name__} lists {module}"
            )
        if self._classes.setdefault(type_name, cls) is not cls:
            raise ValueError(f"operator type {type_name!r} registered twice")


OPERATORS = OperatorRegistry(OPERATOR_MODULES)


OpT = TypeVar("OpT", bound=type[Operator[Any]])


def register(spec_model: type[OperationSpec]) -> Callable[[OpT], OpT]:
    """``@register(MapSpec)``: adds the class to the one registry under its spec's ``type``.

    The YAML type name is the default of the spec model's ``type: Literal["<type>"]`` field,
    so it is written once; the decorator sets ``spec_model`` and ``type_name`` on the class.
    """
    type_name = spec_model.model_fields["type"].default
    if not isinstance(type_name, str) or not type_name:
        raise TypeError(f"{spec_model.__name__}.type needs a default: Literal['<type>'] = '<type>'")

    def add(cls: OpT) -> OpT:
        OPERATORS.add(type_name, cls)
        cls.type_name = type_name
        cls.spec_model = spec_model
        return cls

    return add


# The value types from pipeline/types.py are re-exported: they are part of the operator contract.
__all__ = [
    "FLAG_KEY",
    "OPERATORS",
    "OPERATOR_MODULES",
    "UNKNOWN",
    "AssertionsSpec",
    "CallEstimate",
    "GleaningSpec",
    "GlobalOperator",
    "GroupOperator",
    "Issue",
    "JoinOperator",
    "LLMOperationSpec",
    "OpKind",
    "OpStats",
    "OperationSpec",
    "Operator",
    "OperatorRegistry",
    "Outcome",
    "OutputSpec",
    "Row",
    "RowLimit",
    "RowOperator",
    "StepOnFail",
    "StrictModel",
    "TypeFields",
    "register",
    "row_digest",
]
