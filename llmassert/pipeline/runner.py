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
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmassert.errors import SpecError
from llmassert.fileio import OutputLock, check_output_dir, check_output_file, ensure_distinct
from llmassert.llm.scope import current
from llmassert.llm.session import get_client
from llmassert.pipeline.checkpoint import CheckpointStore, OpState, default_root
from llmassert.pipeline.context import NullProgress, OpContext, PipelineEnv, Progress
from llmassert.pipeline.datasets import load_dataset, write_jsonl, write_rows
from llmassert.pipeline.estimate import TokenEstimate, estimate_op
from llmassert.pipeline.executor import (
    Executor,
    Lineage,
    LocalExecutor,
    OpResult,
    StageEnv,
    get_executor,
)
from llmassert.pipeline.operators.base import (
    OPERATORS,
    UNKNOWN,
    CallEstimate,
    GlobalOperator,
    GroupOperator,
    Issue,
    JoinOperator,
    Operator,
    OpStats,
    Row,
    RowOperator,
)
from llmassert.pipeline.parsing import apply_parsing
from llmassert.pipeline.retrievers import Retriever
from llmassert.pipeline.spec import JoinInputs, LoadedPipeline
from llmassert.pipeline.templates import KeySet
from llmassert.pipeline.types import row_digest

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
class _Data:
    rows: list[Row]
    lineage: list[Lineage]
    fingerprint: str


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
            note = await retriever.build(outputs[retriever.spec.dataset].rows, ctx)
            self._built.add(r)
            report.ops.append(OpReport(step.name, f"retriever:{r}", "retriever", ctx.stats))
            self.progress.warn(f"retriever {r}: {note}")

    # -- running -------------------------------------------------------------------------------

    def run(self) -> RunReport:
        return asyncio.run(self.arun())

    async def arun(self) -> RunReport:
        if self.env is None:
            self.prepare()
        if self.options.dry_run:
            return await self._dry_run()
        # One run per output at a time: a second one would pay for every call again and
        # interleave its checkpoints with ours.
        with OutputLock(self.output_path):
            return await self._arun()

    async def _arun(self) -> RunReport:
        started = time.perf_counter()
        report = RunReport(output=self.output_path, checkpoint_dir=self.checkpoint_root)
        report.rows_in = sum(len(d.rows) for d in self.datasets.values())
        store = CheckpointStore(
            self.checkpoint_root, resume=self.options.resume, pipeline=str(self.loaded.path)
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
        try:
            last: _Data | None = None
            for step in self.spec.pipeline.steps:
                await self._build_retrievers(step, outputs, report)
                last = await self._run_step(
                    step, outputs, executor, store, report, quarantined, errors
                )
                outputs[step.name] = last
            assert last is not None
            self._write_outputs(last, quarantined, errors, report)
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
    ) -> _Data:
        assert self.env is not None
        data = outputs[step.input] if step.input else _Data([], [], "")
        stages = self._stages(step)
        for stage_ops in stages:
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
                fp_in = fps[op.name] = _h(fp_in, op.fingerprint())
            saved = [store.load(step.name, op.name, fps[op.name]) for op in stage_ops]
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
            else:
                env = StageEnv(
                    settings=self.settings,
                    env=self.env,
                    step=step.name,
                    fingerprints=fps,
                    checkpoints=store,
                    client=self.client,
                    progress=self.progress,
                )
                data, cut = _truncate(first, data)
                results = await self._run_stage(executor, stage_ops, data, join, outputs, env)
                if cut:
                    results[0].stats.rows_in += cut
                    results[0].stats.filtered += cut
                for op, res in zip(stage_ops, results, strict=True):
                    store.save(
                        step.name,
                        op.name,
                        OpState(
                            fps[op.name],
                            res.rows,
                            res.lineage,
                            res.quarantined,
                            res.errors,
                            res.stats,
                        ),
                    )
                reused = False
            for op, res in zip(stage_ops, results, strict=True):
                report.ops.append(
                    OpReport(step.name, op.name, op.type_name, res.stats, reused=reused)
                )
                quarantined.extend(res.quarantined)
                errors.extend(res.errors)
            data = _Data(results[-1].rows, results[-1].lineage, fp_in)
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
        op = ops[0]
        if isinstance(op, RowOperator):
            return await executor.run_rows(ops, data.rows, data.lineage, env)  # type: ignore[arg-type]
        if isinstance(op, GroupOperator):
            return [await executor.run_groups(op, data.rows, data.lineage, env)]
        if isinstance(op, GlobalOperator):
            return [await executor.run_global(op, data.rows, data.lineage, env)]
        if isinstance(op, JoinOperator):
            assert join is not None
            return [
                await executor.run_join(op, outputs[join.left].rows, outputs[join.right].rows, env)
            ]
        raise SpecError(f"operator {op.type_name!r} has no known kind", field=op.name)

    def _stages(self, step: Any) -> list[list[Operator[Any]]]:
        stages: list[list[Operator[Any]]] = []
        for name in step.op_names():
            op = self.ops[name]
            streams = isinstance(op, RowOperator) and op.batch_size == 1 and not _cap(op)
            prev = stages[-1] if stages else None
            if streams and prev and isinstance(prev[-1], RowOperator) and prev[-1].batch_size == 1:
                prev.append(op)
            else:
                stages.append([op])
        return stages

    def _write_outputs(
        self, last: _Data, quarantined: list[Issue], errors: list[Issue], report: RunReport
    ) -> None:
        files = self.output_files()
        write_rows(self.output_path, last.rows)
        report.rows_out = len(last.rows)
        report.quarantine_file = files["quarantine file"]
        report.errors_file = files["errors file"]
        write_jsonl(report.quarantine_file, (i.to_json() for i in quarantined))
        write_jsonl(report.errors_file, (i.to_json() for i in errors))
        lineage_file = files["lineage file"]
        if self.options.lineage and any(last.lineage):
            write_jsonl(
                lineage_file, ({"row": i, "operations": lin} for i, lin in enumerate(last.lineage))
            )
        else:
            lineage_file.unlink(missing_ok=True)

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


def _cap(op: Operator[Any]) -> int | None:
    """DocETL's ``sample`` (any operation) / map's ``limit``: rows the operation may take."""
    found = [getattr(op.spec, "sample", None)]
    if op.type_name in ("map", "filter", "extract"):
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
