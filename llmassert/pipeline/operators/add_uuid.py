"""``add_uuid``: give every row an id under ``<name>_id`` (DocETL's add_uuid operator).

DocETL draws a fresh ``uuid4`` per row per run.  Here the id is derived from the operation's
name, the row's content and its occurrence number among identical rows, formatted as a UUID:
distinct rows — and identical rows — get distinct ids, and the same input gets the same ids on
every run, so caches, checkpoints and cassettes downstream keep matching (as split's ids).
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Literal

from llmassert.pipeline.context import OpContext
from llmassert.pipeline.operators.base import (
    GlobalOperator,
    OperationSpec,
    Outcome,
    Row,
    register,
    row_digest,
)
from llmassert.pipeline.templates import KeySet


class AddUuidSpec(OperationSpec):
    """DocETL's add_uuid (no keys of its own)."""

    type: Literal["add_uuid"] = "add_uuid"


@register(AddUuidSpec)
class AddUuidOperator(GlobalOperator[AddUuidSpec]):
    @property
    def id_key(self) -> str:
        return f"{self.name}_id"

    def output_keys(self, keys: KeySet) -> KeySet:
        return keys | [self.id_key]

    async def run(self, rows: list[Row], ctx: OpContext) -> Outcome:
        seen: dict[str, int] = {}
        out = Outcome()
        for row in rows:
            digest = row_digest(row)
            nth = seen[digest] = seen.get(digest, -1) + 1
            raw = hashlib.sha256(f"{self.name}|{digest}|{nth}".encode()).digest()[:16]
            out.rows.append({**row, self.id_key: str(uuid.UUID(bytes=raw, version=4))})
        return out
