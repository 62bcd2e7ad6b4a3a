"""The executor seam: how the runner runs operators over rows.

The runner cuts each step into *stages* and hands every stage to an :class:`Executor`:

- ``run_rows(ops, data, stage)`` — a chain of row operators (map, filter, split,
  unnest...).  Rows **stream** through the chain: a row finished by the first operator enters the
  second at once, without waiting for the rest of the dataset.  Returns one :class:`OpResult`
  per operator (its output in input order, so intermediate files and resumes are stable).
- ``run_groups(op, data, stage)`` — a group operator (reduce): rows grouped by
  ``op.group_key`` in order of first appearance, groups run concurrently.
- ``run_global(op, data, stage)`` / ``run_join(op, left, right, stage)`` — operators that
  need their whole input (resolve) or two inputs (equijoin).

Operators are pure functions of (spec, rows, ctx) (see ``operators/base.py``), so an executor only
decides *where* units run.  :class:`LocalExecutor` (the default) runs every unit on one asyncio
loop: all units of a stage are fanned out at once (a bounded window of in-flight units) and the
LLM client's global bound (``Settings.max_concurrency``) shapes the traffic.  It journals each
finished unit (``"r:<row digest>"`` / ``"g:<group digest>"`` keys) so a killed run resumes
without repeating calls, and de-duplicates identical rows in flight.

A second executor (Ray, ``--executor ray``) plugs in by implementing the same four methods:

- **row chains**: partition ``data`` (keep partition order), run ``LocalExecutor().run_rows`` on
  each partition inside a worker with its own client (``StageEnv.worker_copy()`` is picklable:
  settings, env, checkpoint root, fingerprints — rebuild the client with
  ``llmassert.llm.get_client(settings)``), then concatenate the per-partition ``OpResult``s in
  partition order with :func:`concat_results` — output order equals the local executor's.
- **groups**: shard by ``op.group_key`` and run ``LocalExecutor().run_groups`` per shard; fold
  batches stay inside a group (they are sequential by nature), order groups by first appearance.
- **global / join**: run on the driver (or split the operator's own parallel part).
- **checkpoints**: workers open their journal with ``shard=<worker id>``; a resumed run reads every
  shard of an operation's journal, so units finished by any worker are not repeated.
- **usage**: each ``OpResult.stats`` carries the calls, tokens and cost of its units; the driver
  sums them with :meth:`OpStats.add`.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from llmassert.errors import ConfigError, SpecError
from llmassert.llm.session import get_client
from llmassert.pipeline.admission import Admission
from llmassert.pipeline.context import (
    CURRENT_UNIT,
    NullProgress,
    OpContext,
    PipelineEnv,
    Progress,
    UnitCredit,
)
from llmassert.pipeline.operators.base import (
    GlobalOperator,
    GroupOperator,
    JoinOperator,
    Operator,
    RowOperator,
)
from llmassert.pipeline.types import FLAG_KEY, Issue, OpStats, Outcome, Row, unit_key

if TYPE_CHECKING:
    from llmassert.config import Settings
    from llmassert.llm.client import LLMClient
    from llmassert.pipeline.checkpoint import CheckpointStore, Journal

Lineage = dict[str, Any]


@dataclass
class Rows:
    """Rows and their lineage (one entry per row): what a stage takes."""

    rows: list[Row]
    lineage: list[Lineage]


@dataclass
class OpResult:
    """What one operator produced over its whole input."""

    name: str
    rows: list[Row] = field(default_factory=list)
    lineage: list[Lineage] = field(default_factory=list)  # aligned with rows
    quarantined: list[Issue] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    stats: OpStats = field(default_factory=OpStats)


def concat_results(parts: Sequence[OpResult]) -> OpResult:
    """Results of partitions of one operator, in partition order, as one result."""
    out = OpResult(parts[0].name if parts else "")
    for p in parts:
        out.rows.extend(p.rows)
        out.lineage.extend(p.lineage)
        out.quarantined.extend(p.quarantined)
        out.errors.extend(p.errors)
        out.stats.add(p.stats)
    return out


class RowSink(Protocol):
    """Where a streamed operation's rows go, in input order (an output or intermediate file)."""

    def write(self, rows: list[Row], lineage: list[Lineage]) -> None: ...


def feed_sinks(results: Sequence[OpResult], stage: StageEnv) -> None:
    """For executors that gather a stage's rows before returning them (Ray): hand each
    operation's rows to its sink, and drop the rows ``stage.keep`` does not name."""
    for res in results:
        sink = stage.sinks.get(res.name)
        if sink is not None and res.rows:
            sink.write(res.rows, res.lineage)
        if stage.keep is not None and res.name not in stage.keep:
            res.rows, res.lineage = [], []


@dataclass
class StageEnv:
    """Everything an executor needs to run a stage of one step."""

    settings: Settings
    env: PipelineEnv
    step: str
    fingerprints: dict[str, str]
    checkpoints: CheckpointStore | None = None
    client: LLMClient | None = None
    progress: Progress = field(default_factory=NullProgress)
    shard: str | None = None
    # Streaming a row stage (see LocalExecutor.run_rows): the operations whose rows the
    # results hold (None: all), and where each operation's rows go as they are done.
    keep: frozenset[str] | None = None
    sinks: dict[str, RowSink] = field(default_factory=dict)

    def worker_copy(self) -> StageEnv:
        """A picklable copy for another process: no client, no progress display, no sinks
        (a worker returns every row; the driver hands them to the sinks)."""
        return replace(self, client=None, progress=NullProgress(), keep=None, sinks={})

    def journal(self, op: Operator[Any]) -> Journal | None:
        if self.checkpoints is None or not op.uses_llm:
            return None
        return self.checkpoints.journal(
            self.step, op.name, self.fingerprints[op.name], shard=self.shard
        )

    def context(self, op: Operator[Any]) -> OpContext:
        def embed_client() -> LLMClient:
            return get_client(self.settings.replace(api_base=self.env.embedding_api_base))

        return OpContext(
            op.name,
            env=self.env,
            settings=self.settings,
            client=self.client,
            journal=self.journal(op),
            progress=self.progress,
            embed_client_factory=embed_client,
        )


class Executor(ABC):
    """Runs stages of operators; see the module docstring."""

    name: ClassVar[str]

    @abstractmethod
    async def run_rows(
        self, ops: Sequence[Operator[Any]], data: Rows, stage: StageEnv
    ) -> list[OpResult]:
        """A chain of row operators (and group operators whose groups stay within one
        upstream unit), streamed; one result per operator.  Honours ``stage.keep`` and
        ``stage.sinks`` (:func:`feed_sinks` for executors that gather rows first)."""

    @abstractmethod
    async def run_groups(self, op: GroupOperator[Any], data: Rows, stage: StageEnv) -> OpResult:
        """A group operator."""

    @abstractmethod
    async def run_global(self, op: GlobalOperator[Any], data: Rows, stage: StageEnv) -> OpResult:
        """An operator that needs its whole input."""

    @abstractmethod
    async def run_join(
        self, op: JoinOperator[Any], left: list[Row], right: list[Row], stage: StageEnv
    ) -> OpResult:
        """An operator over two inputs."""

    async def run_stage(
        self,
        ops: Sequence[Operator[Any]],
        data: Rows,
        stage: StageEnv,
        join: tuple[list[Row], list[Row]] | None = None,
    ) -> list[OpResult]:
        """A stage, by the kind of its first operator (``join``: a join's two inputs)."""
        op = ops[0]
        if isinstance(op, RowOperator):
            return await self.run_rows(ops, data, stage)
        if isinstance(op, GroupOperator):
            return [await self.run_groups(op, data, stage)]
        if isinstance(op, GlobalOperator):
            return [await self.run_global(op, data, stage)]
        if isinstance(op, JoinOperator) and join is not None:
            return [await self.run_join(op, *join, stage)]
        raise SpecError(f"operator {op.type_name!r} has no known kind", field=op.name)

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release workers."""


EXECUTORS: dict[str, Callable[..., Executor]] = {}


def check_executor_name(name: str) -> None:
    """An executor name is an identifier: it becomes part of a module name, never a path."""
    if not _EXECUTOR_NAME.fullmatch(name):
        known = ", ".join(sorted({"local", "ray", *EXECUTORS}))
        raise ConfigError(f"unknown executor {name!r} (known: {known})", field="--executor")


_EXECUTOR_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


def get_executor(name: str, **options: Any) -> Executor:
    """The executor registered under ``name`` (``local``; ``ray`` when its module is present).

    ``options`` go to its constructor (``ray``: ``address``, ``workers``).
    """
    check_executor_name(name)
    if name not in EXECUTORS and name != "local":
        import importlib

        try:
            importlib.import_module(f"llmassert.pipeline.executor_{name}")
        except ModuleNotFoundError as e:
            if e.name and e.name.endswith(f"executor_{name}"):
                known = ", ".join(sorted({"local", *EXECUTORS}))
                raise ConfigError(
                    f"unknown executor {name!r} (known: {known})", field="--executor"
                ) from None
            raise
    if name not in EXECUTORS:
        raise ConfigError(f"unknown executor {name!r}", field="--executor")
    return EXECUTORS[name](**options)


# -- the local executor --------------------------------------------------------------------------


class _Unit:
    """Runs one unit of an operator with journaling, in-flight de-duplication and accounting."""

    def __init__(self, op: Operator[Any], ctx: OpContext) -> None:
        self.op = op
        self.ctx = ctx
        self.journal = ctx.journal
        self.pending: dict[str, asyncio.Future[Outcome]] = {}
        self.first_start: float | None = None
        self.last_end = 0.0
        # Units of operations without LLM calls are neither journaled nor shared in flight
        # (recomputing them is cheaper than their content digest): no key.
        self.keyed = op.uses_llm

    def key(self, value: Any, kind: str = "r:") -> str | None:
        """The unit's journal / in-flight key: a content digest (None: not keyed)."""
        return kind + unit_key(value) if self.keyed else None

    async def __call__(
        self,
        key: str | None,
        rows_in: int,
        work: Callable[[], Awaitable[Outcome]],
        source: Row | None = None,
    ) -> Outcome:
        """Run (or replay) one unit; ``source`` is the input row of a row unit."""
        if self.first_start is None:
            self.first_start = time.perf_counter()
        stats = self.ctx.stats
        credit: UnitCredit | None = None  # set when this call runs the work itself
        replayed = self.replay(key, rows_in, source) if key is not None else None
        if replayed is not None:
            outcome = replayed
            stats.resumed += 1
        elif key is None:
            outcome = await work()
        elif key in self.pending:
            outcome = await self.pending[key]
        else:
            fut: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
            self.pending[key] = fut
            credit = UnitCredit()
            token = CURRENT_UNIT.set(credit)
            try:
                outcome = await work()
            except BaseException as e:
                fut.set_exception(e)
                fut.exception()  # retrieved: no "never retrieved" warning for lone units
                raise
            finally:
                self.pending.pop(key, None)
                CURRENT_UNIT.reset(token)
            fut.set_result(outcome)
            if self.journal is not None and not outcome.errors:
                self.journal.put(key, _encode(outcome, source))
        _tally(stats, rows_in, outcome)
        self.last_end = time.perf_counter()
        # What its LLM calls already credited (0 for journal hits and shared futures).
        self.ctx.advance(1, credit.given if credit is not None else 0.0)
        return outcome

    def replay(self, key: str, rows_in: int, source: Row | None) -> Outcome | None:
        """The journaled outcome of a unit, if there is one and it checks out.

        A journal is a file anyone can edit: an entry of the wrong shape, or whose rows do not
        add up (in = out + filtered + quarantined + errored for one-row-per-row operators; at
        least one destination otherwise) is discarded and the unit runs again.
        """
        if self.journal is None:
            return None
        hit = self.journal.get(key)
        if hit is None:
            return None
        outcome = _checked(hit, source, rows_in, self.op.one_row_per_row)
        if outcome is None:
            self.journal.discard(key)
        return outcome

    def finish(self) -> OpStats:
        if self.first_start is not None:
            self.ctx.stats.seconds = self.last_end - self.first_start
        return self.ctx.finish()


async def run_pool(n: int, width: int, work: Callable[[int], Awaitable[None]]) -> None:
    """Run ``work(0..n-1)`` with at most ``width`` in flight; the first error cancels the rest."""
    if n == 0:
        return
    indexes = iter(range(n))

    async def worker() -> None:
        for i in indexes:
            await work(i)

    tasks = [asyncio.ensure_future(worker()) for _ in range(min(width, n))]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def group_rows(op: GroupOperator[Any], rows: list[Row]) -> list[tuple[tuple[Any, ...], list[int]]]:
    """``op``'s groups of ``rows``: (key, row indexes), in order of first appearance (every
    executor groups alike, so outputs come in the same order wherever they run)."""
    groups: dict[str, tuple[tuple[Any, ...], list[int]]] = {}
    for i, row in enumerate(rows):
        key = op.group_key(row)
        # the key as a dict key: its values may be lists
        groups.setdefault(json.dumps(key, sort_keys=True, default=str), (key, []))[1].append(i)
    return list(groups.values())


def _merge_lineage(parent: Lineage, op: str, meta: dict[str, Any]) -> Lineage:
    return {**parent, op: meta} if meta else parent


class LocalExecutor(Executor):
    """Everything on one asyncio loop; the LLM client's bound limits requests in flight."""

    name = "local"

    def __init__(self, window: int | None = None) -> None:
        self.window = window

    def _width(self, stage: StageEnv) -> int:
        return self.window or max(64, 4 * stage.settings.max_concurrency)

    async def run_rows(
        self, ops: Sequence[Operator[Any]], data: Rows, stage: StageEnv
    ) -> list[OpResult]:
        """Stream ``data`` through ``ops`` (row operators, and group operators whose groups
        stay within one upstream unit: see ``GroupOperator.groups_within``).

        Each input row's outputs (at every level) are handed over in input order as soon as
        that row and every row before it are done: written to the operation's sink
        (``stage.sinks``) and kept in its result only if ``stage.keep`` names it.  Input rows
        start as the LLM client runs short of work (``admission.py``), at most ``window`` at
        once and ``2 × window`` ahead of the oldest unfinished one, so what waits to be
        handed over stays bounded whatever the input's size.
        """
        rows, lineage = data.rows, data.lineage
        units = [_Unit(op, stage.context(op)) for op in ops]
        results = [OpResult(op.name) for op in ops]
        keep = [stage.keep is None or op.name in stage.keep for op in ops]
        sinks = [stage.sinks.get(op.name) for op in ops]
        # per input row still being handed over: per operator, (path, outcome, lineages)
        pending: dict[int, list[list[tuple[tuple[int, ...], Outcome, list[Lineage]]]]] = {}
        finished: set[int] = set()
        head = 0  # the first input row not yet handed over
        moved = asyncio.Event()
        stage.progress.add_total(ops[0].name, len(rows))

        def hand_over(levels: list[list[tuple[tuple[int, ...], Outcome, list[Lineage]]]]) -> None:
            for k, entries in enumerate(levels):
                if not entries:
                    continue
                if len(entries) > 1:
                    entries.sort(key=lambda e: e[0])
                res, out_rows, out_lins = results[k], [], []
                for _, outcome, lins in entries:
                    out_rows.extend(outcome.rows)
                    out_lins.extend(lins)
                    res.quarantined.extend(outcome.quarantined)
                    res.errors.extend(outcome.errors)
                sink = sinks[k]
                if sink is not None and out_rows:
                    sink.write(out_rows, out_lins)
                if keep[k]:
                    res.rows.extend(out_rows)
                    res.lineage.extend(out_lins)

        def done(i: int) -> None:
            nonlocal head, moved
            finished.add(i)
            if i != head:
                return
            while head in finished:
                finished.discard(head)
                hand_over(pending.pop(head))
                head += 1
            moved.set()
            moved = asyncio.Event()
            admission.notify()

        async def admit(i: int) -> None:
            while i >= head + ahead:
                await moved.wait()
            pending[i] = [[] for _ in ops]

        async def through(level: int, path: tuple[int, ...], row: Row, lin: Lineage) -> None:
            op, unit = ops[level], units[level]
            assert isinstance(op, RowOperator)
            admission.calls += unit.keyed
            outcome = await unit(unit.key(row), 1, lambda: op.process_row(row, unit.ctx), row)
            admission.notify()
            child = _merge_lineage(lin, op.name, outcome.meta)
            pending[path[0]][level].append((path, outcome, [child] * len(outcome.rows)))
            await onward(level + 1, path, outcome.rows, child)

        async def grouped(level: int, path: tuple[int, ...], rows: list[Row]) -> None:
            op, unit = ops[level], units[level]
            assert isinstance(op, GroupOperator)
            groups = [(key, [rows[i] for i in at]) for key, at in group_rows(op, rows)]
            stage.progress.add_total(op.name, len(groups))

            async def one(g: int, key: tuple[Any, ...], members: list[Row]) -> None:
                admission.calls += unit.keyed
                outcome = await unit(
                    unit.key([list(key), members], "g:"),
                    len(members),
                    lambda: op.process_group(key, members, unit.ctx),
                )
                admission.notify()
                # As run_groups: a group's rows start a lineage of their own.
                child = _merge_lineage({}, op.name, outcome.meta)
                at = (*path, g)
                pending[path[0]][level].append((at, outcome, [child] * len(outcome.rows)))
                await onward(level + 1, at, outcome.rows, child)

            await asyncio.gather(*(one(g, *kv) for g, kv in enumerate(groups)))

        async def onward(level: int, path: tuple[int, ...], rows: list[Row], lin: Lineage) -> None:
            if level == len(ops) or not rows:
                return
            if isinstance(ops[level], GroupOperator):
                await grouped(level, path, rows)
                return
            stage.progress.add_total(ops[level].name, len(rows))
            if len(rows) == 1:
                await through(level, (*path, 0), rows[0], lin)
            else:
                await asyncio.gather(
                    *(through(level, (*path, j), r, lin) for j, r in enumerate(rows))
                )

        async def top(i: int) -> None:
            pending[i] = [[] for _ in ops]  # started by the admission, within its bounds
            await through(0, (i,), rows[i], lineage[i])
            done(i)

        async def batched(b: int) -> None:
            op, unit = ops[0], units[0]
            assert isinstance(op, RowOperator)
            size = op.batch_size
            first = b * size
            chunk = rows[first : first + size]
            await admit(first)
            for j in range(1, len(chunk)):
                pending[first + j] = [[] for _ in ops]
            keys = [unit.key(r) for r in chunk]
            if unit.journal is not None and all(
                k is not None and unit.replay(k, 1, r) is not None
                for k, r in zip(keys, chunk, strict=True)
            ):
                outcomes = [await unit(k, 1, _never, r) for k, r in zip(keys, chunk, strict=True)]
            else:
                fresh = await op.process_batch(chunk, unit.ctx)
                outcomes = [
                    await unit(k, 1, _const(o), r)
                    for k, o, r in zip(keys, fresh, chunk, strict=True)
                ]
            for j, o in enumerate(outcomes):
                lin = _merge_lineage(lineage[first + j], op.name, o.meta)
                pending[first + j][0].append(((first + j,), o, [lin] * len(o.rows)))
                done(first + j)

        width = self._width(stage)
        ahead = 2 * width
        admission = Admission(stage.client, width, ahead)
        try:
            if len(ops) == 1 and isinstance(ops[0], RowOperator) and ops[0].batch_size > 1:
                size = ops[0].batch_size
                ahead = max(ahead, 2 * size)
                await run_pool(-(-len(rows) // size), width // size + 1, batched)
            else:
                await admission.run(len(rows), top, lambda: head)
        finally:
            for res, u in zip(results, units, strict=True):
                res.stats = u.finish()
        return results

    async def run_groups(self, op: GroupOperator[Any], data: Rows, stage: StageEnv) -> OpResult:
        ordered = [(key, [data.rows[i] for i in at]) for key, at in group_rows(op, data.rows)]
        unit = _Unit(op, stage.context(op))
        results: list[tuple[tuple[int, ...], Outcome, list[Lineage]]] = []
        stage.progress.add_total(op.name, len(ordered))

        async def one(i: int) -> None:
            key, members = ordered[i]
            outcome = await unit(
                unit.key([list(key), members], "g:"),
                len(members),
                lambda: op.process_group(key, members, unit.ctx),
            )
            lin = _merge_lineage({}, op.name, outcome.meta)
            results.append(((i,), outcome, [lin] * len(outcome.rows)))

        try:
            await run_pool(len(ordered), self._width(stage), one)
        finally:
            stats = unit.finish()
        return _collect(op.name, results, stats)

    async def run_global(self, op: GlobalOperator[Any], data: Rows, stage: StageEnv) -> OpResult:
        rows, lineage = data.rows, data.lineage
        ctx = stage.context(op)
        stage.progress.add_total(op.name, 1)
        started = time.perf_counter()
        outcome = await op.run(rows, ctx)
        ctx.advance()
        same = len(outcome.rows) == len(rows)
        lins = [
            _merge_lineage(lineage[i] if same else {}, op.name, outcome.meta)
            for i in range(len(outcome.rows))
        ]
        return _single(op.name, ctx, outcome, lins, len(rows), started)

    async def run_join(
        self, op: JoinOperator[Any], left: list[Row], right: list[Row], stage: StageEnv
    ) -> OpResult:
        ctx = stage.context(op)
        stage.progress.add_total(op.name, 1)
        started = time.perf_counter()
        outcome = await op.run_join(left, right, ctx)
        ctx.advance()
        lins = [_merge_lineage({}, op.name, outcome.meta)] * len(outcome.rows)
        return _single(op.name, ctx, outcome, lins, len(left) + len(right), started)


EXECUTORS["local"] = LocalExecutor


_GONE = "-"


def _encode(outcome: Outcome, source: Row | None) -> dict[str, Any]:
    """Journal form of an outcome: output rows as deltas against the input row.

    A map adds a few fields to a large row; journaling only what changed keeps journal lines
    small (the row itself is in the operation's input, which a resumed run has again).
    """
    data = outcome.to_json()
    if source is not None and outcome.rows:
        deltas = []
        for r in outcome.rows:
            delta = {
                "+": {k: v for k, v in r.items() if k not in source or source[k] != v},
                _GONE: [k for k in source if k not in r],
            }
            if list(_apply(source, delta)) != list(r):
                return data  # key order would change: journal the rows whole
            deltas.append(delta)
        data["rows"], data["delta"] = deltas, True
    return data


def _apply(source: Row, delta: dict[str, Any]) -> Row:
    gone = delta[_GONE]
    return {
        **({k: v for k, v in source.items() if k not in gone} if gone else source),
        **delta["+"],
    }


def _decode(data: dict[str, Any], source: Row | None) -> Outcome:
    outcome = Outcome.from_json(data)
    if data.get("delta"):
        assert source is not None
        outcome.rows = [_apply(source, d) for d in data["rows"]]
    return outcome


def _checked(data: Any, source: Row | None, rows_in: int, exact: bool) -> Outcome | None:
    """Decode a journaled outcome, or None if its shape or row accounting is wrong."""
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        return None
    filtered = data.get("filtered", 0)
    if type(filtered) is not int or filtered < 0 or data.get("errors"):
        return None  # outcomes with errors are never journaled
    if not isinstance(data.get("quarantined", []), list) or not isinstance(
        data.get("meta", {}), dict
    ):
        return None
    if data.get("delta") and source is None:
        return None
    try:
        outcome = _decode(data, source)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    if not all(isinstance(r, dict) for r in outcome.rows):
        return None
    total = len(outcome.rows) + outcome.filtered + len(outcome.quarantined)
    return outcome if (total == rows_in if exact else total >= 1) else None


async def _never() -> Outcome:
    raise AssertionError("journaled unit recomputed")


def _const(outcome: Outcome) -> Callable[[], Awaitable[Outcome]]:
    async def value() -> Outcome:
        return outcome

    return value


def _collect(
    name: str, entries: list[tuple[tuple[int, ...], Outcome, list[Lineage]]], stats: OpStats
) -> OpResult:
    entries.sort(key=lambda e: e[0])
    result = OpResult(name, stats=stats)
    for _, outcome, lins in entries:
        result.rows.extend(outcome.rows)
        result.lineage.extend(lins)
        result.quarantined.extend(outcome.quarantined)
        result.errors.extend(outcome.errors)
    return result


def _tally(stats: OpStats, rows_in: int, outcome: Outcome) -> OpStats:
    """Count one unit's rows into ``stats`` (returned)."""
    stats.rows_in += rows_in
    stats.rows_out += len(outcome.rows)
    stats.filtered += outcome.filtered
    stats.quarantined += len(outcome.quarantined)
    stats.errored += len(outcome.errors)
    stats.flagged += sum(1 for r in outcome.rows if FLAG_KEY in r)
    return stats


def _single(
    name: str, ctx: OpContext, outcome: Outcome, lins: list[Lineage], rows_in: int, started: float
) -> OpResult:
    s = _tally(ctx.finish(), rows_in, outcome)
    s.seconds = time.perf_counter() - started
    return OpResult(
        name,
        rows=outcome.rows,
        lineage=lins,
        quarantined=outcome.quarantined,
        errors=outcome.errors,
        stats=s,
    )


__all__ = [
    "EXECUTORS",
    "Executor",
    "LocalExecutor",
    "OpResult",
    "RowSink",
    "Rows",
    "StageEnv",
    "concat_results",
    "feed_sinks",
    "get_executor",
    "group_rows",
    "run_pool",
]
