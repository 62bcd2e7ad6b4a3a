"""``link_resolve``: point every link at a canonical id (DocETL's link_resolve operator).

Each row has an id (``id_key``) and a list of links to other rows' ids (``link_key``).  A link
value that is not an id is embedded and compared with each id whose embedding has cosine
similarity of at least ``blocking_threshold``: ``comparison_prompt`` (over ``link_value``,
``id_value`` and ``item``, the row owning the id) asks whether they are the same thing.  Links
judged the same as an id are replaced by it in every row; the ids themselves are trusted as
canonical (run ``resolve`` first).  When several ids match one link, the most similar one wins
(DocETL keeps whichever answer came last).  A comparison whose answer fails its checks counts as
"no match" and is counted; each comparison is journaled for resume.  A row without an id or
whose links are not a list goes to the errors file.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import Field, model_validator

from llmassert.pipeline.blocking import embed_all, verdict_schema
from llmassert.pipeline.context import OpContext
from llmassert.pipeline.operators.base import (
    CallEstimate,
    Issue,
    LLMOperationSpec,
    Outcome,
    Row,
    register,
    row_digest,
)
from llmassert.pipeline.operators.common import PromptOperator
from llmassert.pipeline.similarity import cosine
from llmassert.pipeline.templates import KeySet

SAME_SCHEMA = verdict_schema("is_same")


class LinkResolveSpec(LLMOperationSpec):
    """DocETL's link_resolve."""

    type: Literal["link_resolve"] = "link_resolve"
    id_key: str = Field("title", min_length=1, description="The canonical id of each row.")
    link_key: str = Field("related_to", min_length=1, description="The list of links to fix.")
    blocking_threshold: float = Field(
        ge=-1, le=1, description="Compare a link with ids at least this similar (cosine)."
    )
    comparison_prompt: str = Field(description="Jinja over link_value, id_value and item.")
    comparison_model: str | None = None
    embedding_model: str | None = None

    @model_validator(mode="after")
    def _own_prompt(self) -> LinkResolveSpec:
        if self.prompt is not None or self.output is not None:
            raise ValueError("link_resolve uses `comparison_prompt` (no prompt / output)")
        return self


@register(LinkResolveSpec)
class LinkResolveOperator(PromptOperator[LinkResolveSpec]):
    prompt_field = "comparison_prompt"
    model_field = "comparison_model"

    @classmethod
    def step_schema(cls, spec: LinkResolveSpec) -> dict[str, Any]:
        return SAME_SCHEMA

    def output_keys(self, keys: KeySet) -> KeySet:
        missing = keys.missing([self.spec.id_key, self.spec.link_key])
        if missing:
            field = "id_key" if missing[0] == self.spec.id_key else "link_key"
            raise self.fail(f"{missing[0]!r} is not a key of the rows here", field)
        self.step.prompt.check({"link_value": None, "id_value": None, "item": keys})
        return keys

    def estimate_calls(self, rows: list[Row]) -> CallEstimate:
        return CallEstimate(
            calls=2,
            rows=rows,
            note="2 embedding requests, then one comparison per link/id pair above "
            "blocking_threshold (unknown before embedding)",
            upper_bound=True,
        )

    async def run(self, rows: list[Row], ctx: OpContext) -> Outcome:
        id_key, link_key = self.spec.id_key, self.spec.link_key
        out = Outcome()
        good: list[Row] = []
        for row in rows:
            if row.get(id_key) is None:
                out.errors.append(Issue(self.name, row, f"{id_key!r} is missing"))
            elif not isinstance(row.get(link_key), list):
                out.errors.append(Issue(self.name, row, f"{link_key!r} is not a list"))
            else:
                good.append(row)
        item_by_id: dict[str, Row] = {}
        for row in good:
            item_by_id.setdefault(str(row[id_key]), row)
        ids = list(item_by_id)
        to_resolve = list(
            dict.fromkeys(str(v) for row in good for v in row[link_key] if str(v) not in item_by_id)
        )
        replacements: dict[str, str] = {}
        stats = {"links_to_resolve": len(to_resolve), "comparisons": 0, "failed_comparisons": 0}
        if to_resolve and ids:
            id_vecs = await embed_all(ctx, ids, self.spec.embedding_model)
            link_vecs = await embed_all(ctx, to_resolve, self.spec.embedding_model)
            pairs = [
                (cosine(lv, iv), li, ii)
                for li, lv in enumerate(link_vecs)
                for ii, iv in enumerate(id_vecs)
                if cosine(lv, iv) >= self.spec.blocking_threshold
            ]
            verdicts = await asyncio.gather(
                *(
                    self._same(ctx, to_resolve[li], ids[ii], item_by_id[ids[ii]])
                    for _, li, ii in pairs
                )
            )
            stats["comparisons"] = len(pairs)
            best: dict[str, tuple[float, str]] = {}
            for (sim, li, ii), verdict in zip(pairs, verdicts, strict=True):
                if verdict is None:
                    stats["failed_comparisons"] += 1
                elif verdict:
                    link = to_resolve[li]
                    if link not in best or sim > best[link][0]:
                        best[link] = (sim, ids[ii])
            replacements = {link: id_ for link, (_, id_) in best.items()}
        stats["replacements"] = len(replacements)
        for row in good:
            links = [replacements.get(str(v), v) for v in row[link_key]]
            out.rows.append({**row, link_key: links})
        out.meta = {"link_resolve": stats}
        return out

    async def _same(self, ctx: OpContext, link: str, id_value: str, item: Row) -> bool | None:
        """The model's verdict on one pair (None: its answer failed the checks or errored)."""
        variables = {"link_value": link, "id_value": id_value, "item": item}
        text = self.step.prompt.render(**variables)

        async def call() -> dict[str, Any]:
            result = await self.step.run(ctx, text, example=variables, variables=variables)
            ok = result.output is not None and not result.failures and result.error is None
            return {"same": bool(result.output.get("is_same")) if ok and result.output else None}

        got = await ctx.checkpointed(f"pair:{row_digest([link, id_value])}", call)
        same = got.get("same")
        return None if same is None else bool(same)
