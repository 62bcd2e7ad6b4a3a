"""Run a pipeline: steps in order, operators through an executor, checkpoints, outputs, summary.

``Runner(loaded, settings, options).prepare()`` does everything that can fail before an LLM call:
builds the operators (templates compiled, validate expressions allowlisted, assertion modules
loaded), reads the datasets, and walks the steps checking that every prompt reads only keys the
rows will have.  ``await runner.arun()`` then runs the steps; each step is cut into stages
(consecutive row operators stream through one stage; a reduce / resolve / join is a stage of its
own) and each stage goes to the executor (see ``executor.py``).  Finished operations are saved
to the checkpoint store; rows journaled inside an unfinished one are reused on resume.

Every input row ends up in exactly one place: the output, ``<output stem>.quarantine.jsonl``
(failed checks), ``<output stem>.errors.jsonl`` (could not be processed), or counted as
filtered out by a filter.  ``<output stem>.lineage.jsonl`` records, per output row, the calls,
cost, gleaning rounds and check retries each operation spent on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import glob
import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmassert.errors import SpecError
from llmassert.fileio import OutputLock, check_output_dir, check_output_file, ensure_distinct
from llmassert.llm.scope import current
from llmassert.llm.session import get_client
from llmassert.llm.transport import direct_session
from llmassert.pipeline.checkpoint import CheckpointStore, OpState, default_root
from llmassert.pipeline.context import NullProgress, OpContext, PipelineEnv, Progress
from llmassert.pipeline.datasets import RowsFile, load_dataset, write_jsonl
from llmassert.pipeline.estimate import TokenEstimate, estimate_op
from llmassert.pipeline.executor import (
    Executor,
    Lineage,
    LocalExecutor,
    OpResult,
    Rows,
    RowSink,
    StageEnv,
    get_executor,
)
from llmassert.pipeline.operators.base import OPERATORS, GroupOperator, Operator, RowOperator
from llmassert.pipeline.parsing import apply_parsing
from llmassert.pipeline.retrievers import Retriever
from llmassert.pipeline.spec import JoinInputs, LoadedPipeline
from llmassert.pipeline.templates import KeySet
from llmassert.pipeline.types import UNKNOWN, CallEstimate, Issue, OpStats, Row, row_digest

if TYPE_CHECKING:
    from llmassert.config import Settings
    from llmassert.llm.client import LLMClient


@dataclass
class RunOptions:
    resume: bool = True
    dry_run: bool = False
    executor: str = "local"
    executor_options: dict[str, Any] = field(default_factory=dict)  # e.g. ray: address
    model: str | None = None  # --model: replaces the YAML's default_model
    checkpoint_dir: Path | None = None
    lineage: bool = True


@dataclass
class OpReport:
    step: str
    name: str
    type: str
    stats: OpStats
    estimate: CallEstimate | None = None
    tokens: TokenEstimate | None = None  # --dry-run: prompt / output tokens and cost
    reused: bool = False  # loaded from a checkpoint of an interrupted run


@dataclass
class RunReport:
    """What a run did (or, for a dry run, would do)."""

    ops: list[OpReport] = field(default_factory=list)
    rows_in: int = 0
    rows_out: int = 0
    output: Path | None = None
    quarantine_file: Path | None = None
    errors_file: Path | None = None
    wall_s: float = 0.0
    dry_run: bool = False
    resumed: bool = False
    checkpoint_dir: Path | None = None

    @property
    def totals(self) -> OpStats:
        total = OpStats()
        for op in self.ops:
            total.add(op.stats)
        return total

    @property
    def quarantined(self) -> int:
        return sum(o.stats.quarantined for o in self.ops)

    @property
    def errored(self) -> int:
        return sum(o.stats.errored for o in self.ops)

    @property
    def flagged(self) -> int:
        return sum(o.stats.flagged for o in self.ops)


@dataclass
class _Data(Rows):
    fingerprint: str
    streamed: bool = False  # its rows went to the output files as they were made


class OutputSink:
    """The run's output file and lineage file, written as rows arrive (whole or not at all)."""

    def __init__(self, path: Path, lineage_path: Path | None) -> None:
        self.path, self.lineage_path = path, lineage_path
        self.rows: RowsFile | None = None
        self.lineage: RowsFile | None = None
        self.count = 0
        self.any_lineage = False

    def write(self, rows: list[Row], lineage: list[Lineage]) -> None:
        if self.rows is None:
            self.rows = RowsFile(self.path)
            if self.lineage_path is not None:
                self.lineage = RowsFile(self.lineage_path, "jsonl")
        self.rows.write(rows)
        if self.lineage is not None:
            self.any_lineage = self.any_lineage or any(lineage)
            self.lineage.write(
                [{"row": self.count + i, "operations": lin} for i, lin in enumerate(lineage)]
            )
        self.count += len(rows)

    def commit(self) -> None:
        if self.rows is None:
            self.write([], [])
        assert self.rows is not None
        self.rows.commit()
        if self.lineage is not None and self.any_lineage:
            self.lineage.commit()
        else:
            if self.lineage is not None:
                self.lineage.abort()
            if self.lineage_path is not None:
                self.lineage_path.unlink(missing_ok=True)

    def abort(self) -> None:
        for f in (self.rows, self.lineage):
            if f is not None:
                f.abort()


class _FileSink:
    """An operation's intermediate file as a stage sink."""

    def __init__(self, file: RowsFile) -> None:
        self.file = file

    def write(self, rows: list[Row], lineage: list[Lineage]) -> None:
        self.file.write(rows)


class _Tee:
    def __init__(self, *sinks: RowSink | None) -> None:
        self.sinks = [s for s in sinks if s is not None]

    def write(self, rows: list[Row], lineage: list[Lineage]) -> None:
        for s in self.sinks:
            s.write(rows, lineage)


class Runner:
    """One pipeline run; see the module docstring."""

    def __init__(
        self,
        loaded: LoadedPipeline,
        settings: Settings,
        options: RunOptions | None = None,
        *,
        client: LLMClient | None = None,
        progress: Progress | None = None,
        executor: Executor | None = None,
    ) -> None:
        self.loaded = loaded
        self.spec = loaded.spec
        self.settings = settings
        self.options = options or RunOptions()
        self.client = client
        self.progress: Progress = progress or NullProgress()
        self.executor = executor
        self.env: PipelineEnv | None = None
        self.ops: dict[str, Operator[Any]] = {}
        self.retrievers: dict[str, Retriever] = {}
        self._built: set[str] = set()
        self.datasets: dict[str, _Data] = {}
        self.output_path = loaded.resolve(self.spec.pipeline.output.path)
        inter = self.spec.pipeline.output.intermediate_dir
        self.checkpoint_root = (
            self.options.checkpoint_dir
            or (loaded.resolve(inter) if inter else None)
            or default_root(loaded.path)
        )

    # -- before any LLM call -------------------------------------------------------------------

    def prepare(self) -> None:
        """Build operators, read datasets, check every prompt against the row keys."""
        spec = self.spec
        sp = spec.system_prompt
        self.env = PipelineEnv(
            spec_file=str(self.loaded.path),
            base_dir=self.loaded.base_dir,
            default_model=self.options.model
            or spec.default_model
            or spec.model
            or self.settings.model,
            dataset_description=sp.dataset_description if sp else None,
            persona=sp.persona if sp else None,
            bypass_cache=spec.bypass_cache,
            embedding_model=spec.default_embedding_model or self.settings.embedding_model,
            embedding_api_base=spec.default_embedding_api_base,
            retrievers=dict(spec.retrievers or {}),
            fallback_models=tuple(spec.fallback_model_names()),
            fallback_embedding_models=tuple(spec.fallback_embedding_model_names()),
            op_where=dict(self.loaded.op_where),
        )
        used = {n for step in spec.pipeline.steps for n in step.op_names()}
        for op_spec in spec.operations:
            if op_spec.name in used:
                self.ops[op_spec.name] = OPERATORS[op_spec.type].build(op_spec, self.env)
        self.retrievers = {
            name: Retriever(name, r, self.env) for name, r in (spec.retrievers or {}).items()
        }
        for name, ds in spec.datasets.items():
            path = self.loaded.resolve(ds.path)
            rows, digest = load_dataset(path, ds.format)
            if ds.parsing:
                rows = apply_parsing(
                    rows,
                    ds.parsing,
                    base_dir=self.loaded.base_dir,
                    dataset=path,
                    where=f"datasets.{name}",
                )
                # The files a row names are input too: an edited file must not resume.
                digest = row_digest([digest, rows])
            self.datasets[name] = _Data(rows, [{}] * len(rows), digest)
        self._check_keys()
        if not self.options.dry_run:
            self._check_outputs()

    def output_files(self) -> dict[str, Path]:
        """Every file a run writes beside its output (label → path)."""
        out = self.output_path
        stem = out.with_suffix("")
        return {
            "pipeline.output.path": out,
            "quarantine file": stem.with_name(stem.name + ".quarantine.jsonl"),
            "errors file": stem.with_name(stem.name + ".errors.jsonl"),
            "lineage file": stem.with_name(stem.name + ".lineage.jsonl"),
            "lock file": out.with_name(out.name + ".lock"),
        }

    def _check_outputs(self) -> None:
        """Before any LLM call: outputs can be written there and none of them is an input.

        A run whose output is its dataset would replace the input with the output; an output
        under a file, at a folder or in an unwritable folder would fail only after every call
        was paid for.
        """
        inputs: list[tuple[str, Path]] = [("pipeline YAML", self.loaded.path)]
        for name, ds in self.spec.datasets.items():
            inputs.append((f"datasets.{name}.path", self.loaded.resolve(ds.path)))
        for op in self.spec.operations:
            module = getattr(getattr(op, "assertions", None), "module", None)
            if module is not None:
                inputs.append((f"{op.name}.assertions.module", self.loaded.resolve(str(module))))
        outputs = list(self.output_files().items())
        ensure_distinct(outputs, inputs)
        for label, path in outputs:
            check_output_file(path, field=label)
        check_output_dir(self.checkpoint_root, field="pipeline.output.intermediate_dir")
        ensure_distinct([("pipeline.output.intermediate_dir", self.checkpoint_root)], inputs)
        CheckpointStore(self.checkpoint_root, resume=False).check(
            [step.name for step in self.spec.pipeline.steps]
        )

    def _check_keys(self) -> None:
        keys: dict[str, KeySet] = {}
        for name, data in self.datasets.items():
            seen: dict[str, None] = {}
            for row in data.rows:
                seen.update(dict.fromkeys(row))
            keys[name] = KeySet.of(seen)
        for step in self.spec.pipeline.steps:
            self._check_retriever_keys(step, keys)
            current = keys[step.input] if step.input else KeySet()
            for entry in step.operations:
                if isinstance(entry, str):
                    current = self.ops[entry].output_keys(current)
                else:
                    name, sides = next(iter(entry.items()))
                    both = keys[sides.left].keys | keys[sides.right].keys
                    current = self.ops[name].output_keys(
                        KeySet(both, keys[sides.left].open or keys[sides.right].open)
                    )
            keys[step.name] = current

    def _check_retriever_keys(self, step: Any, keys: dict[str, KeySet]) -> None:
        for name in step.op_names():
            r = getattr(self.spec.operation(name), "retriever", None)
            if r is not None and r in self.retrievers:
                source = self.retrievers[r].spec.dataset
                if source not in keys:
                    raise SpecError(
                        f"retriever {r!r} indexes {source!r}, which is neither a dataset nor a "
                        f"step before {step.name!r}",
                        file=self.loaded.path,
                        field=f"retrievers.{r}.dataset",
                    )
                self.retrievers[r].check_index(keys[source])

    async def _build_retrievers(
        self, step: Any, outputs: dict[str, _Data], report: RunReport
    ) -> None:
        """Index what the step's operations retrieve from (once per run, before the step)."""
        assert self.env is not None
        for name in step.op_names():
            r = getattr(self.spec.operation(name), "retriever", None)
            if r is None or r in self._built:
                continue
            retriever = self.retrievers[r]
            ctx = OpContext(
                f"retriever {r}", env=self.env, settings=self.settings, client=self.client
            )
            source = outputs[retriever.spec.dataset]
            note = await retriever.build(source.rows, ctx, source.fingerprint)
            self._built.add(r)
            report.ops.append(OpReport(step.name, f"retriever:{r}", "retriever", ctx.stats))
            self.progress.warn(f"retriever {r}: {note}")

    def _retrieved(self, op: Operator[Any]) -> tuple[str, ...]:
        """The fingerprint of the index an operation retrieves from, if it retrieves."""
        name = getattr(op.spec, "retriever", None)
        return (self.retrievers[name].fingerprint,) if name is not None else ()

    # -- running -------------------------------------------------------------------------------

    def run(self) -> RunReport:
        done: list[RunReport] = []

        async def main() -> None:
            # The task's result stays None: at exit, asyncio.run's SIGINT bookkeeping
            # (signal.getsignal on its handler partial, which holds the task) formats the
            # task's repr, result included — a dry run's report holds every row (46 % of a
            # 10,000-document --dry-run was spent there).
            done.append(await self.arun())

        with _fewer_collections():
            asyncio.run(main())
        return done[0]

    async def arun(self) -> RunReport:
        if self.env is None:
            self.prepare()
        if self.options.dry_run:
            return await self._dry_run()
        # One run per output at a time: a second one would pay for every call again and
        # interleave its checkpoints with ours.
        # direct_session: the run's requests go out from this loop (no hop per call to the
        # background loop); its pool closes with the run.
        with OutputLock(self.output_path):
            async with direct_session():
                return await self._arun()

    @property
    def resumes(self) -> bool:
        """Whether this run may reuse an interrupted run's checkpoints.  Not when recording: a
        cassette must hold every request of the run (the cache is bypassed for the same reason),
        and rows the interrupted run journaled would be missing from it."""
        return self.options.resume and self.settings.mode != "record"

    async def _arun(self) -> RunReport:
        started = time.perf_counter()
        report = RunReport(output=self.output_path, checkpoint_dir=self.checkpoint_root)
        report.rows_in = sum(len(d.rows) for d in self.datasets.values())
        store = CheckpointStore(
            self.checkpoint_root, resume=self.resumes, pipeline=str(self.loaded.path)
        )
        report.resumed = store.resuming
        store.begin([step.name for step in self.spec.pipeline.steps])
        executor = self.executor or get_executor(
            self.options.executor, **self.options.executor_options
        )
        own_client = False
        if self.client is None:
            shared = current(self.settings)
            own_client = shared is None
            self.client = shared or get_client(self.settings)
        quarantined: list[Issue] = []
        errors: list[Issue] = []
        outputs: dict[str, _Data] = dict(self.datasets)
        self._clear_stale_temps()
        sink = OutputSink(
            self.output_path, self.output_files()["lineage file"] if self.options.lineage else None
        )
        try:
            last: _Data | None = None
            for step in self.spec.pipeline.steps:
                await self._build_retrievers(step, outputs, report)
                final = step is self.spec.pipeline.steps[-1]
                last = await self._run_step(
                    step,
                    outputs,
                    executor,
                    store,
                    report,
                    quarantined,
                    errors,
                    sink if final else None,
                )
                outputs[step.name] = last
            assert last is not None
            self._write_outputs(last, quarantined, errors, report, sink)
        except BaseException:
            sink.abort()
            raise
        finally:
            store.close()
            if self.executor is None:
                await executor.aclose()
            if own_client and self.client is not None:
                # its connections belong to this event loop: a later run builds a new one
                await self.client.aclose()
                self.client = None
            report.wall_s = time.perf_counter() - started
        store.complete()
        return report

    async def _run_step(
        self,
        step: Any,
        outputs: dict[str, _Data],
        executor: Executor,
        store: CheckpointStore,
        report: RunReport,
        quarantined: list[Issue],
        errors: list[Issue],
        sink: OutputSink | None = None,
    ) -> _Data:
        """Run one step's stages.  ``sink``: the step is the last one; if its last stage is a
        row stage, its rows stream into the output files instead of being held."""
        assert self.env is not None
        data = outputs[step.input] if step.input else _Data([], [], "")
        stages = self._stages(step)
        intermediates = self.spec.pipeline.output.intermediate_dir is not None
        for number, stage_ops in enumerate(stages):
            first = stage_ops[0]
            join = next(
                (e[first.name] for e in step.operations if isinstance(e, dict) and first.name in e),
                None,
            )
            if join is not None:
                left, right = outputs[join.left], outputs[join.right]
                fp_in = _h(left.fingerprint, right.fingerprint)
            else:
                fp_in = data.fingerprint
            fps: dict[str, str] = {}
            for op in stage_ops:
                fp_in = fps[op.name] = _h(fp_in, op.fingerprint(), *self._retrieved(op))
            rows_stage = isinstance(first, RowOperator)
            to_output = sink is not None and rows_stage and number == len(stages) - 1
            last_op = stage_ops[-1]
            saved = [
                store.load(step.name, op.name, fps[op.name], rows=op is last_op or not rows_stage)
                for op in stage_ops
            ]
            if all(s is not None for s in saved):
                # Reused from the interrupted run: rows count again, calls were not made now.
                results = [
                    OpResult(
                        op.name,
                        s.rows,
                        s.lineage,
                        s.quarantined,
                        s.errors,
                        OpStats(
                            rows_in=s.stats.rows_in,
                            rows_out=s.stats.rows_out,
                            filtered=s.stats.filtered,
                            quarantined=s.stats.quarantined,
                            errored=s.stats.errored,
                            flagged=s.stats.flagged,
                            resumed=s.stats.rows_in,
                        ),
                    )
                    for op, s in zip(stage_ops, saved, strict=True)
                    if s is not None
                ]
                reused = True
                if to_output:
                    assert sink is not None
                    sink.write(results[-1].rows, results[-1].lineage)
                    results[-1].rows, results[-1].lineage = [], []
            else:
                # Row stages stream: each operation's rows go to its intermediate file (only
                # when intermediate_dir asks for them) and the last one's to the output file
                # (last stage) or to the next stage; nothing else is held.
                files: dict[str, RowsFile] = {}
                if rows_stage and intermediates:
                    files = {
                        op.name: RowsFile(store.rows_path(step.name, op.name), "json")
                        for op in stage_ops
                    }
                sinks: dict[str, RowSink] = {n: _FileSink(f) for n, f in files.items()}
                if to_output:
                    assert sink is not None
                    sinks[last_op.name] = _Tee(sink, sinks.get(last_op.name))
                env = StageEnv(
                    settings=self.settings,
                    env=self.env,
                    step=step.name,
                    fingerprints=fps,
                    checkpoints=store,
                    client=self.client,
                    progress=self.progress,
                    keep=(frozenset() if to_output else frozenset({last_op.name}))
                    if rows_stage
                    else None,
                    sinks=sinks,
                )
                data, cut = _truncate(first, data)
                try:
                    results = await self._run_stage(executor, stage_ops, data, join, outputs, env)
                except BaseException:
                    for f in files.values():
                        f.abort()
                    raise
                if cut:
                    results[0].stats.rows_in += cut
                    results[0].stats.filtered += cut
                for op, res in zip(stage_ops, results, strict=True):
                    state = OpState(
                        fps[op.name], res.rows, res.lineage, res.quarantined, res.errors, res.stats
                    )
                    if op.name in files:
                        # No fsync: its state records the sha256, so a file a power cut left
                        # short is not reused (that operation runs again from its journal).
                        files[op.name].commit(fsync=False)
                        store.save_state(step.name, op.name, state, files[op.name].sha256)
                    elif not rows_stage or (op is last_op and not to_output):
                        store.save(step.name, op.name, state)
                    else:
                        store.save_state(step.name, op.name, state, None)
                reused = False
            for op, res in zip(stage_ops, results, strict=True):
                report.ops.append(
                    OpReport(step.name, op.name, op.type_name, res.stats, reused=reused)
                )
                quarantined.extend(res.quarantined)
                errors.extend(res.errors)
            data = _Data(results[-1].rows, results[-1].lineage, fp_in)
            if to_output:
                data.streamed = True
        return data

    async def _run_stage(
        self,
        executor: Executor,
        ops: list[Operator[Any]],
        data: _Data,
        join: JoinInputs | None,
        outputs: dict[str, _Data],
        env: StageEnv,
    ) -> list[OpResult]:
        sides = (outputs[join.left].rows, outputs[join.right].rows) if join is not None else None
        return await executor.run_stage(ops, data, env, sides)

    def _stages(self, step: Any) -> list[list[Operator[Any]]]:
        """Cut a step into stages: consecutive row operations stream through one stage, and so
        does a group operation whose groups never span two units of the operation before it
        (split → gather); anything else (reduce, resolve, a capped or batched operation)
        starts a stage of its own."""
        stages: list[list[Operator[Any]]] = []
        for name in step.op_names():
            op = self.ops[name]
            prev = stages[-1] if stages else []
            tail = prev[-1] if prev else None
            open_ = (isinstance(tail, RowOperator) and tail.batch_size == 1) or (
                isinstance(tail, GroupOperator) and len(prev) > 1
            )
            streams = (isinstance(op, RowOperator) and op.batch_size == 1) or (
                isinstance(op, GroupOperator) and tail is not None and op.groups_within(tail)
            )
            if open_ and streams and not _cap(op):
                prev.append(op)
            else:
                stages.append([op])
        return stages

    def _write_outputs(
        self,
        last: _Data,
        quarantined: list[Issue],
        errors: list[Issue],
        report: RunReport,
        sink: OutputSink,
    ) -> None:
        files = self.output_files()
        if not last.streamed:
            sink.write(last.rows, last.lineage)
        report.rows_out = sink.count
        report.quarantine_file = files["quarantine file"]
        report.errors_file = files["errors file"]
        write_jsonl(report.quarantine_file, (i.to_json() for i in quarantined))
        write_jsonl(report.errors_file, (i.to_json() for i in errors))
        sink.commit()

    def _clear_stale_temps(self) -> None:
        """Remove temp files a killed run left beside the outputs (held under the lock)."""
        for path in self.output_files().values():
            for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
                stale.unlink(missing_ok=True)

    # -- dry run -------------------------------------------------------------------------------

    async def _dry_run(self) -> RunReport:
        """Estimate calls per operation; operators without LLM calls run for real (cheap)."""
        assert self.env is not None
        report = RunReport(dry_run=True, output=self.output_path)
        report.rows_in = sum(len(d.rows) for d in self.datasets.values())
        outputs: dict[str, list[Row]] = {n: d.rows for n, d in self.datasets.items()}
        executor = LocalExecutor()
        for step in self.spec.pipeline.steps:
            rows = outputs[step.input] if step.input else []
            for entry in step.operations:
                name = entry if isinstance(entry, str) else next(iter(entry))
                op = self.ops[name]
                stats = OpStats(rows_in=len(rows))
                estimate: CallEstimate | None = None
                tokens: TokenEstimate | None = None
                if op.uses_llm:
                    estimate = op.estimate_calls(rows)
                    tokens = estimate_op(op, rows, estimate.calls, UNKNOWN)
                    rows = estimate.rows
                    stats.calls = estimate.calls
                else:
                    env = StageEnv(
                        settings=self.settings, env=self.env, step=step.name, fingerprints={}
                    )
                    join = entry[name] if isinstance(entry, dict) else None
                    data = _Data(rows, [{}] * len(rows), "")
                    res = (
                        await self._run_stage(
                            executor,
                            [op],
                            data,
                            join,
                            {k: _Data(v, [{}] * len(v), "") for k, v in outputs.items()},
                            env,
                        )
                    )[-1]
                    rows = res.rows
                    stats = res.stats
                stats.rows_out = len(rows)
                report.ops.append(
                    OpReport(step.name, name, op.type_name, stats, estimate, tokens=tokens)
                )
            outputs[step.name] = rows
        report.rows_out = len(outputs[self.spec.pipeline.steps[-1].name])
        return report


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run with the cyclic GC's young generation collected every 50,000 net allocations
    instead of 700 (restored after).  A run makes and drops millions of short-lived
    containers (coroutine frames, futures, request dicts) that reference counting frees;
    the default scanned them ~1,500 times in a 2,000-document run at 256 in flight and
    promoted survivors into full collections over every live row: 2.0 s of its 9.2 s of
    CPU.  At 50,000: 5 young passes, 0.08 s.  Cycles still get collected, later."""
    old = gc.get_threshold()
    if old[0] and old[0] < _GC_YOUNG:
        gc.set_threshold(_GC_YOUNG, *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


_GC_YOUNG = 50_000


def _cap(op: Operator[Any]) -> int | None:
    """DocETL's ``sample`` (any operation) / map's ``limit``: rows the operation may take
    (a filter's ``limit`` counts rows kept: ``LimitedFilterOperator``)."""
    found = [getattr(op.spec, "sample", None)]
    if op.type_name in ("map", "extract"):
        found.append(getattr(op.spec, "limit", None))
    caps = [int(c) for c in found if c]
    return min(caps) if caps else None


def _truncate(op: Operator[Any], data: _Data) -> tuple[_Data, int]:
    keep = op.admit(data.rows)
    if keep is not None:
        rows = [data.rows[i] for i in keep]
        lineage = [data.lineage[i] for i in keep]
        return _Data(rows, lineage, data.fingerprint), len(data.rows) - len(keep)
    cap = _cap(op)
    if cap is None or len(data.rows) <= cap:
        return data, 0
    return _Data(data.rows[:cap], data.lineage[:cap], data.fingerprint), len(data.rows) - cap


def _h(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
