"""``code_map``, ``code_filter``, ``code_reduce``: user Python in the YAML, no LLM call.

DocETL's semantics: ``code`` defines ``transform``; code_map's ``transform(doc) -> dict`` is
merged into the row, code_filter's ``transform(doc) -> bool`` keeps or drops the row,
code_reduce's ``transform(items) -> dict`` aggregates each ``reduce_key`` group (``_all``: one
group) and its result carries the group's key values (``pass_through``: also the first row's
other keys).  ``limit``: code_map processes the first N rows, code_filter stops after N rows
passed, code_reduce reduces the N smallest groups.

Containment is the assertion code's (``llmassert.sandbox.code.CodeRunner``): the source is
checked against the same AST allowlist before any row is read (imports: ``re``, ``json``,
``math``, ``string`` and the curated stdlib proxies of ``sandbox._worker.CODE_MODULES``; no
dunders, no ``open``/``exec``/...). Code the inline-safe rules prove bounded runs in-process,
anything else in the process sandbox; every row gets frozen inputs, a deadline, a memory bound
and size-guarded operations. A ``transform`` that raises, exceeds a bound, or returns the wrong
type sends that row (or group) to the error report with a one-line reason: never a silent drop.
Rows beyond ``limit`` are counted as filtered.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import Field, field_validator

from llmassert.errors import SandboxError, UnsafeCodeError
from llmassert.pipeline.context import OpContext, PipelineEnv
from llmassert.pipeline.operators.base import (
    GlobalOperator,
    Issue,
    OperationSpec,
    Outcome,
    OutputSpec,
    Row,
    register,
)
from llmassert.pipeline.templates import KeySet

ALL = "_all"


class CodeSpec(OperationSpec):
    """Keys shared by the code operations."""

    code: str = Field(min_length=1, description="Python source defining `transform`.")
    limit: int | None = Field(None, gt=0, description="See the module docstring.")
    concurrent_thread_count: int | None = Field(
        None, ge=1, description="DocETL's thread count (accepted; rows run in order here)."
    )
    output: OutputSpec | None = Field(
        None,
        description="DocETL accepts and ignores it; here its fields are known to the static "
        "key checks downstream (values are not type-checked).",
    )


class CodeMapSpec(CodeSpec):
    type: Literal["code_map"] = "code_map"
    drop_keys: list[str] | None = Field(None, description="Keys removed from each output row.")


class CodeFilterSpec(CodeSpec):
    type: Literal["code_filter"] = "code_filter"


class CodeReduceSpec(CodeSpec):
    type: Literal["code_reduce"] = "code_reduce"
    reduce_key: str | list[str] = Field(ALL, description="Key(s) to group by; `_all`: one group.")
    pass_through: bool = Field(False, description="Keep the first row's other keys.")

    @field_validator("reduce_key")
    @classmethod
    def _nonempty(cls, v: str | list[str]) -> str | list[str]:
        if isinstance(v, list) and not v:
            raise ValueError("needs at least one key")
        return v

    @property
    def keys(self) -> list[str]:
        keys = [self.reduce_key] if isinstance(self.reduce_key, str) else list(self.reduce_key)
        return [k for k in keys if k != ALL]


class _CodeOperator(GlobalOperator[Any]):
    """Loads ``transform`` once (every policy error is a SpecError before any row is read)."""

    def __init__(self, spec: CodeSpec, env: PipelineEnv) -> None:
        super().__init__(spec, env)
        # Imported here: the sandbox costs ~0.2 s of start-up (its allowlist tables), paid
        # only by pipelines that have code operations (this module registers with every run).
        from llmassert.sandbox.code import CodeRunner

        filename = f"{env.spec_file}:{self.where}.code"
        try:
            self.runner = CodeRunner(spec.code, filename=filename)
        except UnsafeCodeError as e:
            raise self.fail(f"code refused: {e}", "code") from None
        except SandboxError as e:
            raise self.fail(e.message, "code") from None

    async def call_all(self, args: list[Any]) -> list[tuple[Any, str | None]]:
        """``transform(arg)`` for each arg: ``(result, None)`` or ``(None, one-line reason)``."""
        if self.runner.inline:
            return self.runner.apply([(a,) for a in args])
        # The sandbox waits on a worker process: not on the event loop.
        return await asyncio.to_thread(self.runner.apply, [(a,) for a in args])


@register(CodeMapSpec)
class CodeMapOperator(_CodeOperator):
    def output_keys(self, keys: KeySet) -> KeySet:
        return KeySet(keys.keys | set(_declared(self.spec)), open=True)

    async def run(self, rows: list[Row], ctx: OpContext) -> Outcome:
        limit = self.spec.limit
        todo = rows if limit is None else rows[:limit]
        out = Outcome(filtered=len(rows) - len(todo))
        drop = set(self.spec.drop_keys or [])
        for row, (result, error) in zip(todo, await self.call_all(todo), strict=True):
            if error is None and not isinstance(result, dict):
                error = f"transform must return a dict, got {type(result).__name__}"
            if error is not None:
                out.errors.append(Issue(self.name, row, error))
            else:
                out.rows.append({k: v for k, v in {**row, **result}.items() if k not in drop})
            ctx.advance()
        return out


@register(CodeFilterSpec)
class CodeFilterOperator(_CodeOperator):
    def output_keys(self, keys: KeySet) -> KeySet:
        return keys

    async def run(self, rows: list[Row], ctx: OpContext) -> Outcome:
        out = Outcome()
        limit = self.spec.limit
        results: list[tuple[Any, str | None]] = []
        for i, row in enumerate(rows):
            if limit is not None and len(out.rows) >= limit:
                out.filtered += 1
                continue
            if i >= len(results):  # in chunks: with a limit, rows after it are never run
                chunk = rows[i : i + (len(rows) if limit is None else max(limit, 64))]
                results.extend(await self.call_all(chunk))
            result, error = results[i]
            if error is None and not isinstance(result, bool):
                error = f"transform must return a bool, got {type(result).__name__}"
            if error is not None:
                out.errors.append(Issue(self.name, row, error))
            elif result:
                out.rows.append(row)
            else:
                out.filtered += 1
            ctx.advance()
        return out


@register(CodeReduceSpec)
class CodeReduceOperator(_CodeOperator):
    def output_keys(self, keys: KeySet) -> KeySet:
        self.require_keys(keys, self.spec.keys, "reduce_key")
        return KeySet(frozenset(self.spec.keys) | set(_declared(self.spec)), open=True)

    async def run(self, rows: list[Row], ctx: OpContext) -> Outcome:
        keys = self.spec.keys
        groups: dict[tuple[Any, ...], list[Row]] = {}
        for row in rows:
            groups.setdefault(tuple(_hashable(row.get(k)) for k in keys), []).append(row)
        ordered = list(groups.values())
        out = Outcome()
        if self.spec.limit is not None:
            # DocETL: the smallest groups first (stable for equal sizes).
            ordered.sort(key=len)
            out.filtered = sum(len(g) for g in ordered[self.spec.limit :])
            ordered = ordered[: self.spec.limit]
        for group, (result, error) in zip(ordered, await self.call_all(ordered), strict=True):
            if error is None and not isinstance(result, dict):
                error = f"transform must return a dict, got {type(result).__name__}"
            if error is not None:
                out.errors.extend(Issue(self.name, r, error) for r in group)
                continue
            base = dict(group[0]) if self.spec.pass_through else {}
            out.rows.append({**base, **result, **{k: group[0].get(k) for k in keys}})
            ctx.advance()
        return out


def _declared(spec: CodeSpec) -> list[str]:
    """The fields of the spec's ``output.schema`` (DocETL ignores the key; see CodeSpec)."""
    return list(spec.output.schema_) if spec.output else []


def _hashable(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _hashable(x)) for k, x in v.items()))
    return v
