"""``--executor ray``: the runner's stages on a Ray cluster — the executor seam's second implementation.

Nothing about *what* operators do changes: every unit still runs through
:class:`~llmassert.pipeline.executor.LocalExecutor` (journaling, in-flight de-duplication,
accounting), only inside Ray worker actors instead of the driver's event loop.

- **Workers.**  One pool of async actors for the whole run (``RayWorker``), one per CPU of the
  cluster by default.  Each owns ONE LLM client (its share of ``max_concurrency``, async inside)
  whose rate limit is the cluster-wide :mod:`~llmassert.pipeline.ray_ratelimit` actor, so N
  workers together never exceed ``rpm`` / ``tpm``.
- **Rows.**  The runner has already loaded and validated the dataset, so rows reach the workers as
  contiguous partitions of those rows — the equivalent of ``ray.data.from_items(rows)`` followed by
  ``map_batches`` over an actor pool with order preserved.  We do not hand them to Ray Data: its
  actor pools live for one Dataset execution (3 s to start on an idle 2-core machine, 5–10 s
  under load — per stage), its Arrow conversion would change values (ints become floats next to
  nulls, nested objects get unified schemas), and re-reading files with Ray Data's readers would
  bypass the loaders that give one-line errors naming the file and row.  Partitions are pulled by the workers as they free
  up (at most ``IN_FLIGHT_PER_WORKER`` each), so a slow partition never idles the others.
- **Row chains** (map, filter, split, unnest...): each partition runs the whole chain on one worker
  (rows stream between operators there); results are concatenated in partition order with
  :func:`~llmassert.pipeline.executor.concat_results`, so output order equals the local
  executor's.  A map with ``max_batch_size`` gets partitions cut on batch boundaries, so its batch
  prompts are the same as locally.
- **Groups** (reduce, gather): grouped on the driver by ``op.group_key`` in order of first
  appearance and cut into shards of whole groups; fold batches stay inside their group (they are
  sequential by nature), so one huge group (``reduce_key: _all``) runs on one worker.
- **Whole-input operators** (resolve, equijoin) run on the driver — blocking, union-find and
  clustering there — while their LLM work (embeddings for blocking, comparison and resolution
  prompts) is spread over the workers through :class:`RemoteClient`.  This stops scaling where
  the driver's memory and CPU do: all rows and embeddings sit in one process and candidate pairs
  are scored there (O(n²) per block); comparisons are issued in waves from the driver.
- **Checkpoints and cache.**  Workers journal finished units into their own shard of each
  operation's journal (``<op>.journal.<shard>.jsonl``, one writer per file, so it is safe on NFS);
  a resumed run reads every shard.  The LLM disk cache is content-addressed with atomic writes, so
  workers share it freely.  Both must be on storage every node sees at the same path; workers
  check that before the first unit runs.
- **Usage.**  Calls, tokens and cost travel back in each partition's ``OpStats`` and are summed on
  the driver.  ``max_concurrency`` and the budget (``--max-cost``/``--max-tokens``) are totals:
  each worker gets an equal share, so the run can stop at most (N-1)/N of the budget early,
  never over it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import re
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from llmassert.errors import ConfigError, PipelineError
from llmassert.llm.client import EmbedResult, LLMClient, Usage
from llmassert.llm.transport import direct_session
from llmassert.llm.usage import price_overrides
from llmassert.pipeline.checkpoint import CheckpointStore, Journal
from llmassert.pipeline.executor import (
    EXECUTORS,
    Executor,
    LocalExecutor,
    OpResult,
    Rows,
    StageEnv,
    concat_results,
    feed_sinks,
    group_rows,
)
from llmassert.pipeline.operators.base import (
    GlobalOperator,
    GroupOperator,
    JoinOperator,
    Operator,
    Row,
    RowOperator,
)
from llmassert.pipeline.ray_ratelimit import start_rate_limiter

if TYPE_CHECKING:
    from llmassert.config import Settings
    from llmassert.llm.client import LLMRequest, LLMResult
    from llmassert.pipeline.ray_ratelimit import RateLimitHandle

log = logging.getLogger("llmassert.pipeline")

INSTALL_HINT = "pip install 'llmassert[ray]'"
IN_FLIGHT_PER_WORKER = 3
PARTITIONS_PER_WORKER = 4
START_TIMEOUT_S = 300.0
# Environment a worker on another node needs to reach the provider (values are sent inside the
# actor's constructor arguments, never in its runtime_env, which Ray shows in its dashboard).
FORWARDED_ENV = re.compile(
    r"^(LLMASSERT_.*|LITELLM_.*|.*_API_KEY|.*_API_BASE|.*_API_VERSION|.*_BASE_URL|"
    r"AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|REGION_NAME)|"
    r"GOOGLE_APPLICATION_CREDENTIALS|VERTEXAI_(PROJECT|LOCATION))$"
)

T = TypeVar("T")


def import_ray() -> Any:
    """``ray``, or a one-line ConfigError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError("Ray is not installed", field="--executor", hint=INSTALL_HINT) from None
    return ray


# -- what the driver sends to a worker ------------------------------------------------------------


@dataclass(frozen=True)
class WorkerInit:
    """Constructor arguments of one worker (picklable)."""

    settings: Settings
    shard: str
    limiter: RateLimitHandle | None
    # replay: the cassette every worker opens read-only; record: this worker's own cassette,
    # merged into the driver's when the pool closes.
    cassette: str | None
    env: dict[str, str] = field(default_factory=dict)
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)
    probe: Path | None = None  # a file the driver wrote under the cache dir


@dataclass(frozen=True)
class CheckpointRef:
    """Where the run's checkpoints live, and whether this run resumes (picklable)."""

    root: Path
    resuming: bool
    pipeline: str


class _WorkerStore(CheckpointStore):
    """The run's checkpoint store as seen from one worker: each journal opened once per stage.

    Opening a shard again would truncate it in a fresh run, and re-read every shard on resume.
    """

    def __init__(self, ref: CheckpointRef) -> None:
        super().__init__(ref.root, resume=False, pipeline=ref.pipeline)
        self.resuming = ref.resuming
        self._open: dict[tuple[str, str, str], Journal] = {}

    def journal(self, step: str, op: str, fingerprint: str, *, shard: str | None = None) -> Journal:
        key = (step, op, fingerprint)
        if key not in self._open:
            self._open[key] = super().journal(step, op, fingerprint, shard=shard)
        return self._open[key]

    def close_ops(self, step: str, ops: set[str]) -> None:
        """fsync and close the journals of a finished stage (they stay readable for a resume)."""
        for key in [k for k in self._open if k[0] == step and k[1] in ops]:
            self._open.pop(key).close()


@dataclass
class _Stage:
    ops: list[Operator[Any]]
    env: StageEnv


class RayWorker:
    """Body of a worker actor: one LLM client, the operators of the current stages, journals."""

    def __init__(self, init: WorkerInit) -> None:
        for name, value in init.env.items():
            os.environ.setdefault(name, value)
        from llmassert.llm.session import get_client
        from llmassert.llm.usage import set_price

        for model, (pin, pout) in init.prices.items():
            set_price(model, pin, pout)
        self.where = f"{socket.gethostname()}:{os.getpid()}"
        if init.probe is not None and not init.probe.exists():
            raise ConfigError(
                f"the LLM cache {init.probe.parent} is not visible from Ray worker {self.where}",
                field="cache_dir",
                hint="put --cache-dir on storage every node mounts at the "
                "same path, or use --no-cache",
            )
        self.shard = init.shard
        self._exit = contextlib.ExitStack()
        if init.cassette is not None:
            from llmassert.llm import recording

            self._exit.enter_context(recording.cassette(init.settings, init.cassette))
        limiter = init.limiter.limiter() if init.limiter is not None else None
        self.limiter = limiter
        self.client = get_client(init.settings, rate_limiter=limiter)
        self.stages: dict[str, _Stage] = {}
        self.stores: dict[CheckpointRef, _WorkerStore] = {}

    async def ready(self) -> str:
        return self.where

    async def prepare(
        self,
        stage_id: str,
        ops: list[Operator[Any]],
        stage: StageEnv,
        checkpoints: CheckpointRef | None,
    ) -> None:
        store = None
        if checkpoints is not None:
            if not (checkpoints.root / "run.json").exists():
                raise ConfigError(
                    f"checkpoint folder {checkpoints.root} is not visible from Ray worker "
                    f"{self.where}",
                    field="intermediate_dir",
                    hint="put pipeline.output.intermediate_dir on storage every node mounts "
                    "at the same path",
                )
            store = self.stores.get(checkpoints)
            if store is None:
                store = self.stores[checkpoints] = _WorkerStore(checkpoints)
        env = replace(stage, client=self.client, checkpoints=store, shard=self.shard)
        self.stages[stage_id] = _Stage(ops, env)

    async def run_rows(self, stage_id: str, data: Rows) -> list[OpResult]:
        st = self.stages[stage_id]
        # direct_session: requests leave from this actor's loop (no hop to the background
        # loop per call), as in a local run.
        async with direct_session():
            return await LocalExecutor().run_rows(st.ops, data, st.env)

    async def run_groups(self, stage_id: str, data: Rows) -> OpResult:
        st = self.stages[stage_id]
        op: GroupOperator[Any] = st.ops[0]  # type: ignore[assignment]
        async with direct_session():
            return await LocalExecutor().run_groups(op, data, st.env)

    async def finish(self, stage_id: str) -> None:
        """Forget a stage and close its journals."""
        st = self.stages.pop(stage_id, None)
        if st is not None and isinstance(st.env.checkpoints, _WorkerStore):
            st.env.checkpoints.close_ops(st.env.step, {op.name for op in st.ops})

    async def complete(self, request: LLMRequest) -> LLMResult:
        return await self.client.acomplete(request)

    async def embed(self, texts: list[str], model: str | None) -> EmbedResult:
        return await self.client.aembed_result(texts, model)

    async def close(self) -> None:
        for stage_id in list(self.stages):
            await self.finish(stage_id)
        for store in self.stores.values():
            store.close()
        if self.limiter is not None:
            await self.limiter.aflush_corrections()
        await self.client.aclose()
        self._exit.close()


_worker_class: Any = None


def _remote_worker() -> Any:
    global _worker_class
    if _worker_class is None:
        ray = import_ray()
        # Restarted by Ray if its process dies; the call in flight is retried, and journals plus
        # the cache make a retried unit cost no new request.
        _worker_class = ray.remote(max_restarts=3, max_task_retries=3)(RayWorker)
    return _worker_class


# -- the driver ------------------------------------------------------------------------------------


async def _await(ref: Any) -> Any:
    """Await a Ray result; an llmassert error raised in a worker is re-raised as itself."""
    ray = import_ray()
    try:
        return await ref
    except ray.exceptions.RayTaskError as e:
        cause = getattr(e, "cause", None)
        if isinstance(cause, Exception):
            raise cause from None
        raise PipelineError(f"Ray worker failed: {_first_line(e)}") from None
    except ray.exceptions.RayActorError as e:
        raise PipelineError(
            f"Ray worker died and could not be restarted: {_first_line(e)}",
            hint="see the Ray logs (/tmp/ray/session_latest/logs)",
        ) from None


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def partition(n: int, parts: int, *, multiple: int = 1) -> list[tuple[int, int]]:
    """``[start, end)`` ranges covering ``range(n)`` in order; starts are multiples of ``multiple``."""
    if n <= 0:
        return []
    blocks = -(-n // multiple)
    size = max(1, -(-blocks // max(1, parts))) * multiple
    return [(s, min(n, s + size)) for s in range(0, n, size)]


def shard_groups(sizes: Sequence[int], parts: int) -> list[tuple[int, int]]:
    """Cut consecutive groups (by row count) into at most ``parts`` runs of similar size."""
    total = sum(sizes)
    if not sizes:
        return []
    target = max(1, math.ceil(total / max(1, parts)))
    out: list[tuple[int, int]] = []
    start, acc = 0, 0
    for i, size in enumerate(sizes):
        acc += size
        if acc >= target:
            out.append((start, i + 1))
            start, acc = i + 1, 0
    if start < len(sizes):
        out.append((start, len(sizes)))
    return out


class _Pool:
    """The run's workers and limiter; hands partitions to whichever worker has room."""

    def __init__(self, workers: list[Any], limiter: RateLimitHandle | None) -> None:
        self.workers = workers
        self.limiter = limiter
        self._next = 0

    def pick(self) -> Any:
        worker = self.workers[self._next % len(self.workers)]
        self._next += 1
        return worker

    async def each(self, call: Callable[[Any], Any]) -> list[Any]:
        return list(await asyncio.gather(*(_await(call(w)) for w in self.workers)))

    async def map(
        self, n: int, call: Callable[[Any, int], Any], done: Callable[[int, Any], None]
    ) -> list[Any]:
        """``call(worker, i)`` for i in range(n), at most IN_FLIGHT_PER_WORKER per worker.

        The first error stops the stage: partitions still running on workers are cancelled, so
        a spent budget or a cassette miss does not leave the other workers calling on.
        """
        results: list[Any] = [None] * n
        todo = iter(range(n))
        running: set[Any] = set()

        async def lane(worker: Any) -> None:
            for i in todo:
                ref = call(worker, i)
                running.add(ref)
                try:
                    results[i] = await _await(ref)
                finally:
                    running.discard(ref)
                done(i, results[i])

        lanes = [
            asyncio.ensure_future(lane(w))
            for w in self.workers
            for _ in range(IN_FLIGHT_PER_WORKER)
        ]
        try:
            await asyncio.gather(*lanes)
        except BaseException:
            ray = import_ray()
            for ref in list(running):
                with contextlib.suppress(Exception):
                    ray.cancel(ref)
            for t in lanes:
                t.cancel()
            await asyncio.gather(*lanes, return_exceptions=True)
            raise
        return results


class RemoteClient(LLMClient):
    """An LLM client on the driver whose calls run on the workers (resolve, equijoin).

    Embedding batches and comparison prompts issued concurrently by an operator on the driver
    are spread round-robin over the workers, under their clients' limits and the shared rate.
    """

    def __init__(self, pool: _Pool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings
        self._usage = Usage()

    @property
    def usage(self) -> Usage:
        return self._usage.model_copy()

    async def acomplete(self, request: LLMRequest) -> LLMResult:
        result: LLMResult = await _await(self.pool.pick().complete.remote(request))
        self._usage = self._usage + result.usage
        return result

    async def aembed_result(self, texts: Sequence[str], model: str | None = None) -> EmbedResult:
        # One call, one worker: the worker's client de-duplicates, consults the cache and cuts
        # requests exactly as the local client would, so the HTTP bodies (what a cassette
        # matches on, and what a recording stores) are the local executor's.  Cutting the list
        # here instead made requests no local run sends, and every replay missed.  Operators
        # issue their batches concurrently, so batches still spread over the workers.
        result: EmbedResult = await _await(self.pool.pick().embed.remote(list(texts), model))
        self._usage = self._usage + result.usage
        return result


class RayExecutor(Executor):
    """Stages on Ray workers; see the module docstring.

    ``address``: ``None`` (``RAY_ADDRESS``, else a local Ray started for this run), ``"auto"``
    (the cluster ``ray start`` made on this node) or ``"ray://host:10001"`` (Ray Client).
    ``workers``: worker actors (default: the cluster's CPUs).
    """

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        self._ray = import_ray()
        self.address = address
        if workers is not None and workers < 1:
            raise ConfigError(f"must be >= 1, got {workers}", field="--ray-workers")
        self.workers = workers
        self._pool: _Pool | None = None
        self._owns_ray = False
        self._settings: Settings | None = None
        self._local = LocalExecutor()
        # The shared limiter's counters, read when the pool closes (None: no rpm/tpm).
        self.rate_stats: dict[str, Any] | None = None
        self._recordings: list[str] = []  # --record: the workers' cassette names

    # -- start-up ------------------------------------------------------------------------------

    async def _start(self, stage: StageEnv) -> _Pool:
        if self._pool is not None:
            if stage.settings != self._settings:
                raise PipelineError("one Ray executor serves one set of settings per run")
            return self._pool
        ray = self._ray
        if not ray.is_initialized():
            try:
                await asyncio.to_thread(
                    ray.init,
                    address=self.address,
                    include_dashboard=False,
                    logging_level=logging.ERROR,
                    log_to_driver=False,
                    configure_logging=True,
                )
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise ConfigError(
                    f"cannot start or reach Ray at {self.address or 'local'}: {_first_line(e)}",
                    field="--ray-address",
                    hint="`ray start --head` on the head node, then "
                    "--ray-address auto (or ray://HOST:10001)",
                ) from None
            self._owns_ray = True
        cpus = float(ray.cluster_resources().get("CPU", 1))
        count = self.workers or max(1, int(cpus))
        self._settings = stage.settings
        settings = self._worker_settings(stage.settings, count)
        cassette = self._cassette(settings)
        probe = self._probe(settings)
        limiter = start_rate_limiter(settings.rpm, settings.tpm)
        env = {k: v for k, v in os.environ.items() if FORWARDED_ENV.match(k)}
        run = uuid.uuid4().hex[:8]
        # More workers than CPUs share them: a worker waits on the provider, not on a core.
        cls = _remote_worker().options(num_cpus=min(1.0, cpus / count))
        shards = [f"ray{i}-{run}" for i in range(count)]
        if cassette is not None and settings.mode == "record":
            self._recordings = [f"{cassette}.{shard}" for shard in shards]
        workers = [
            cls.remote(
                WorkerInit(
                    settings=settings,
                    shard=shards[i],
                    limiter=limiter,
                    cassette=self._recordings[i] if self._recordings else cassette,
                    env=env,
                    prices=price_overrides(),
                    probe=probe,
                )
            )
            for i in range(count)
        ]
        self._pool = pool = _Pool(workers, limiter)
        try:
            where = await asyncio.wait_for(pool.each(lambda w: w.ready.remote()), START_TIMEOUT_S)
        except TimeoutError:
            raise PipelineError(
                f"{count} Ray workers did not start within {START_TIMEOUT_S:.0f} s",
                hint="check `ray status` for free CPUs, or pass fewer --ray-workers",
            ) from None
        finally:
            if probe is not None:
                probe.unlink(missing_ok=True)
        log.info("ray executor: %d workers on %s", count, ", ".join(sorted(set(where))))
        return pool

    @staticmethod
    def _worker_settings(settings: Settings, count: int) -> Settings:
        """Totals become per-worker shares; relative paths become absolute (workers' cwd)."""
        changes: dict[str, Any] = {
            "max_concurrency": max(1, math.ceil(settings.max_concurrency / count)),
        }
        if settings.max_cost is not None:
            changes["max_cost"] = settings.max_cost / count
        if settings.max_tokens_total is not None:
            changes["max_tokens_total"] = max(1, settings.max_tokens_total // count)
        for name in ("cache_dir", "cassette_dir"):
            value = getattr(settings, name)
            if value is not None:
                changes[name] = Path(value).resolve()
        return settings.replace(**changes)

    @staticmethod
    def _cassette(settings: Settings) -> str | None:
        if settings.mode == "live":
            return None
        from llmassert.llm import recording

        active = recording.active()
        if active is None:
            raise ConfigError(f"{settings.mode} mode but no cassette is active", field="mode")
        return active.name

    def _merge_recordings(self) -> None:
        """``--record``: each worker wrote its own cassette when it closed; fold them into
        the driver's, which is saved when the recording ends."""
        names, self._recordings = self._recordings, []
        if not names or self._settings is None:
            return
        from llmassert.llm import recording

        settings = self._worker_settings(self._settings, len(names))
        missing = []
        for name in names:
            path = recording.cassette_path(settings, name)
            if path.is_file():
                recording.absorb(path)
            else:
                missing.append(path.name)
        if missing:
            raise PipelineError(
                f"the recording is incomplete: {len(missing)} Ray worker(s) died before saving "
                f"their part ({', '.join(missing)})",
                hint="record again",
            )

    @staticmethod
    def _probe(settings: Settings) -> Path | None:
        if settings.cache_dir is None or settings.mode != "live":
            return None
        probe = Path(settings.cache_dir) / f".ray-probe-{uuid.uuid4().hex[:12]}"
        probe.parent.mkdir(parents=True, exist_ok=True)
        probe.write_text("llmassert: checks that Ray workers see the cache folder\n")
        return probe

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pool.each(lambda w: w.close.remote()), 30)
            self._merge_recordings()
            for w in pool.workers:
                with contextlib.suppress(Exception):
                    self._ray.kill(w)
            if pool.limiter is not None:
                with contextlib.suppress(Exception):
                    self.rate_stats = await asyncio.wait_for(pool.limiter.astats(), 10)
                pool.limiter.kill()
        if self._owns_ray:
            self._owns_ray = False
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._ray.shutdown)

    # -- stages --------------------------------------------------------------------------------

    async def _prepare(self, pool: _Pool, ops: Sequence[Operator[Any]], stage: StageEnv) -> str:
        stage_id = uuid.uuid4().hex
        store = stage.checkpoints
        ref = (
            CheckpointRef(store.root.resolve(), store.resuming, store.pipeline)
            if store is not None
            else None
        )
        # The driver's store holds open journals: workers get where it lives, not the object.
        payload = replace(stage.worker_copy(), checkpoints=None)
        ops_ref = self._ray.put(list(ops))
        await pool.each(lambda w: w.prepare.remote(stage_id, ops_ref, payload, ref))
        return stage_id

    async def _staged(
        self,
        ops: Sequence[Operator[Any]],
        stage: StageEnv,
        body: Callable[[_Pool, str], Awaitable[T]],
    ) -> T:
        pool = await self._start(stage)
        stage_id = await self._prepare(pool, ops, stage)
        try:
            return await body(pool, stage_id)
        finally:
            with contextlib.suppress(Exception):
                await pool.each(lambda w: w.finish.remote(stage_id))

    async def run_rows(
        self, ops: Sequence[Operator[Any]], data: Rows, stage: StageEnv
    ) -> list[OpResult]:
        rows, lineage = data.rows, data.lineage
        if not rows:
            return await self._local.run_rows(ops, data, stage)
        await self._start(stage)  # the workers' start-up is not any operation's time
        started = time.perf_counter()
        stage.progress.add_total(ops[0].name, len(rows))

        async def body(pool: _Pool, stage_id: str) -> list[list[OpResult]]:
            # A batched map must see the same batches as locally: cut on batch boundaries.
            head = ops[0]
            multiple = head.batch_size if len(ops) == 1 and isinstance(head, RowOperator) else 1
            parts = partition(
                len(rows), PARTITIONS_PER_WORKER * len(pool.workers), multiple=multiple
            )

            def done(_: int, results: list[OpResult]) -> None:
                for k, res in enumerate(results):
                    if k:
                        stage.progress.add_total(ops[k].name, res.stats.rows_in)
                    stage.progress.advance(ops[k].name, res.stats.rows_in)

            return await pool.map(
                len(parts),
                lambda w, i: w.run_rows.remote(
                    stage_id,
                    Rows(rows[parts[i][0] : parts[i][1]], lineage[parts[i][0] : parts[i][1]]),
                ),
                done,
            )

        per_part = await self._staged(ops, stage, body)
        out = [concat_results([p[k] for p in per_part]) for k in range(len(ops))]
        feed_sinks(out, stage)  # workers return every row; the driver writes the streamed ones
        return [_timed(r, started) for r in out]

    async def run_groups(self, op: GroupOperator[Any], data: Rows, stage: StageEnv) -> OpResult:
        rows, lineage = data.rows, data.lineage
        if not rows:
            return await self._local.run_groups(op, data, stage)
        await self._start(stage)
        started = time.perf_counter()
        members = [at for _, at in group_rows(op, rows)]  # as LocalExecutor.run_groups
        stage.progress.add_total(op.name, len(members))

        async def body(pool: _Pool, stage_id: str) -> list[OpResult]:
            shards = shard_groups(
                [len(m) for m in members], PARTITIONS_PER_WORKER * len(pool.workers)
            )
            picks = [[i for m in members[a:b] for i in m] for a, b in shards]

            def done(i: int, _: OpResult) -> None:
                a, b = shards[i]
                stage.progress.advance(op.name, b - a)

            return await pool.map(
                len(shards),
                lambda w, i: w.run_groups.remote(
                    stage_id, Rows([rows[j] for j in picks[i]], [lineage[j] for j in picks[i]])
                ),
                done,
            )

        parts = await self._staged([op], stage, body)
        return _timed(concat_results(parts), started)

    async def run_global(self, op: GlobalOperator[Any], data: Rows, stage: StageEnv) -> OpResult:
        return await self._local.run_global(op, data, await self._remote(stage))

    async def run_join(
        self, op: JoinOperator[Any], left: list[Row], right: list[Row], stage: StageEnv
    ) -> OpResult:
        return await self._local.run_join(op, left, right, await self._remote(stage))

    async def _remote(self, stage: StageEnv) -> StageEnv:
        pool = await self._start(stage)
        return replace(stage, client=RemoteClient(pool, stage.settings))


def _timed(result: OpResult, started: float) -> OpResult:
    # Partitions overlap in time: an operation's time is the stage's wall time, not their sum.
    result.stats.seconds = time.perf_counter() - started
    return result


EXECUTORS["ray"] = RayExecutor

__all__ = ["RayExecutor", "RayWorker", "RemoteClient", "import_ray", "partition", "shard_groups"]
