"""``cluster``: a binary tree over the rows (agglomerative clustering), each node summarized.

DocETL's semantics: the rows' ``embedding_keys`` are embedded, clustered bottom-up (Ward
linkage, as scikit-learn's ``AgglomerativeClustering``), and every internal node is summarized
by ``summary_prompt`` over ``inputs`` — its two children: rows for leaves, the children's
summaries (with their ``distance``) above.  Each row gets ``output_key`` (default ``clusters``):
its path from the closest cluster up to the root, each entry ``{distance, <summary fields>}``.

Summaries run as soon as both children are done (independent subtrees concurrently), each
through the operation's checks; each is journaled, so a resumed run does not ask again.  A node
whose summary still fails its checks sends the rows under it to the quarantine file (or flags
them, per ``assertions.on_fail``): rows are never passed on with a silently missing summary.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import Field, model_validator

from llmassert.pipeline.blocking import EMBED_BATCH, embed_all
from llmassert.pipeline.clustering import embedding_text, ward_tree
from llmassert.pipeline.context import OpContext
from llmassert.pipeline.operators.base import (
    FLAG_KEY,
    CallEstimate,
    Issue,
    LLMOperationSpec,
    Outcome,
    Row,
    TypeFields,
    register,
    row_digest,
)
from llmassert.pipeline.operators.common import PromptOperator, failure_json
from llmassert.pipeline.schema_types import to_json_schema
from llmassert.pipeline.templates import KeySet


class ClusterSpec(LLMOperationSpec):
    """DocETL's cluster."""

    type: Literal["cluster"] = "cluster"
    embedding_keys: list[str] = Field(min_length=1, description="Keys embedded per row.")
    summary_prompt: str = Field(description="Jinja over `inputs` (a node's two children).")
    summary_schema: TypeFields = Field(description="Fields of each cluster's summary.")
    output_key: str = Field("clusters", min_length=1, description="Key of each row's path.")
    embedding_model: str | None = None
    max_batch_size: int | None = Field(
        None, ge=1, description="DocETL's thread count (accepted; --max-concurrency applies)."
    )

    @model_validator(mode="after")
    def _own_prompt(self) -> ClusterSpec:
        if self.prompt is not None or self.output is not None:
            raise ValueError(
                "cluster uses `summary_prompt` and `summary_schema`, not prompt/output"
            )
        return self


@register(ClusterSpec)
class ClusterOperator(PromptOperator[ClusterSpec]):
    prompt_field = "summary_prompt"

    @classmethod
    def step_schema(cls, spec: ClusterSpec) -> dict[str, Any]:
        return to_json_schema(spec.summary_schema)

    def output_keys(self, keys: KeySet) -> KeySet:
        missing = keys.missing(self.spec.embedding_keys)
        if missing:
            raise self.fail(f"{missing[0]!r} is not a key of the rows here", "embedding_keys")
        # `inputs` are rows (leaves) or summaries (nodes): either may carry a key.
        children = KeySet.of([*keys.keys, *self.spec.summary_schema, "distance"], keys.open)
        self.step.prompt.check({"inputs": children})
        return keys | [self.spec.output_key]

    def estimate_calls(self, rows: list[Row]) -> CallEstimate:
        n = len(rows)
        embeds = -(-n // EMBED_BATCH) if n > 1 else 0
        return CallEstimate(
            calls=max(0, n - 1) + embeds,
            rows=[{**r, self.spec.output_key: []} for r in rows],
            note=f"{max(0, n - 1)} summaries + {embeds} embedding request(s)",
        )

    async def run(self, rows: list[Row], ctx: OpContext) -> Outcome:
        key = self.spec.output_key
        n = len(rows)
        if n <= 1:
            return Outcome(rows=[{**r, key: []} for r in rows])
        texts = [embedding_text(r, self.spec.embedding_keys) for r in rows]
        vectors = await embed_all(ctx, texts, self.spec.embedding_model)
        merges = await asyncio.to_thread(ward_tree, vectors)
        parent: dict[int, int] = {}
        for j, (a, b, _) in enumerate(merges):
            parent[a] = parent[b] = n + j

        # node id -> (summary with its distance, or None if it failed; failures; flagged)
        done: dict[int, asyncio.Task[tuple[Row | None, list[dict[str, Any]]]]] = {}

        async def summarize(j: int) -> tuple[Row | None, list[dict[str, Any]]]:
            a, b, distance = merges[j]
            inputs: list[Row] = []
            for child in (a, b):
                if child < n:
                    inputs.append(rows[child])
                    continue
                summary, _ = await done[child - n]
                if summary is None:
                    return None, []  # a failed child: the failure is reported once, there
                inputs.append(summary)
            text = self.step.prompt.render(inputs=inputs)

            async def call() -> dict[str, Any]:
                result = await self.step.run(
                    ctx, text, example={"inputs": inputs}, variables={"inputs": inputs}
                )
                return {
                    "output": result.output,
                    "failures": [failure_json(f) for f in result.failures],
                    "error": result.error,
                }

            got = await ctx.checkpointed(
                f"node:{row_digest([text])}", call, keep=lambda d: not d["error"]
            )
            if got["error"] or got["output"] is None:
                return None, [{"kind": "error", "check": "summary", "message": got["error"]}]
            summary = {"distance": distance, **got["output"]}
            failures = got["failures"]
            if failures and self.step.policy.action != "flag":
                return None, failures
            if failures:
                summary[FLAG_KEY] = failures
            return summary, []

        for j in range(len(merges)):
            done[j] = asyncio.create_task(summarize(j))
        results = await asyncio.gather(*done.values())

        out = Outcome()
        for i, row in enumerate(rows):
            path: list[Row] = []
            bad: list[dict[str, Any]] | None = None
            node = parent.get(i)
            while node is not None:
                summary, failures = results[node - n]
                if summary is None:
                    bad = failures or bad or []
                    if failures:
                        break
                else:
                    path.append(summary)
                node = parent.get(node)
            if bad is None:
                out.rows.append({**row, key: path})
            elif any(f["kind"] == "error" for f in bad):
                out.errors.append(Issue(self.name, row, f"cluster summary: {bad[0]['message']}"))
            else:
                reason = "a cluster summary on this row's path failed its checks"
                out.quarantined.append(Issue(self.name, row, reason, bad))
        out.meta = {"clusters": len(merges)}
        return out
