"""``split``: cut a long text field into chunks, one output row per chunk (DocETL's operator).

Each output row is the input row plus ``<split_key>_chunk`` (the text), ``<name>_id`` (the source
document's id) and ``<name>_chunk_num`` (1, 2, ...).  Unlike DocETL, whose ids are random uuids,
the id is a hash of the source row's content: the same document gets the same id on every run,
so checkpoints, caches and cassettes keep matching.  Identical rows are the same document.

Methods: ``token_count`` (``num_tokens`` per chunk, tokens counted offline by
:mod:`llmassert.pipeline.tokens`; joined back together the chunks are the text, exactly) and
``delimiter`` (DocETL's rules: blank pieces dropped, ``num_splits_to_group`` pieces per chunk,
each chunk stripped).  A row whose text yields no chunk (empty text) is counted as filtered.
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from llmassert.pipeline.operators.base import (
    UNKNOWN,
    Issue,
    OperationSpec,
    Outcome,
    Row,
    RowOperator,
    StrictModel,
    register,
)
from llmassert.pipeline.templates import KeySet
from llmassert.pipeline.tokens import Tokenizer, get_tokenizer

if TYPE_CHECKING:
    from llmassert.pipeline.context import OpContext


class SplitKwargs(StrictModel):
    """``method_kwargs`` of a split."""

    num_tokens: int | None = Field(None, ge=1, description="token_count: tokens per chunk.")
    delimiter: str | None = Field(None, min_length=1, description="delimiter: text to split on.")
    num_splits_to_group: int | None = Field(
        None, ge=1, description="delimiter: pieces per chunk (default 1)."
    )
    model: str | None = Field(
        None,
        description="token_count: tokenizer of this model "
        "(default: the operation's model, else default_model).",
    )


class SplitSpec(OperationSpec):
    """``type: split``."""

    type: Literal["split"] = "split"
    split_key: str = Field(min_length=1, description="Field holding the text to split.")
    method: Literal["token_count", "delimiter"]
    method_kwargs: SplitKwargs
    # DocETL's docs show it both inside method_kwargs and at the top level; accept both.
    num_splits_to_group: int | None = Field(
        None, ge=1, description="Same as method_kwargs.num_splits_to_group."
    )
    model: str | None = Field(None, description="Tokenizer model (see method_kwargs.model).")

    @model_validator(mode="after")
    def _kwargs_for_method(self) -> SplitSpec:
        kw = self.method_kwargs
        if self.method == "token_count" and kw.num_tokens is None:
            raise ValueError("method token_count needs method_kwargs.num_tokens")
        if self.method == "delimiter" and kw.delimiter is None:
            raise ValueError("method delimiter needs method_kwargs.delimiter")
        return self

    @property
    def group(self) -> int:
        return self.method_kwargs.num_splits_to_group or self.num_splits_to_group or 1


def split_by_delimiter(text: str, delimiter: str, group: int = 1) -> list[str]:
    """Non-blank pieces of ``text``, ``group`` per chunk, joined by ``delimiter`` and stripped."""
    pieces = [p for p in text.split(delimiter) if p.strip()]
    return [delimiter.join(pieces[i : i + group]).strip() for i in range(0, len(pieces), group)]


def doc_id(row: Row) -> str:
    """The stable id of the document a row holds: a hash of its content (the text and every
    other field), independent of the row's position, the run and the machine."""
    blob = json.dumps(row, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]  # as long as a uuid's hex


@register(SplitSpec)
class SplitOperator(RowOperator[SplitSpec]):
    """One row per chunk of ``split_key``."""

    @property
    def chunk_key(self) -> str:
        return f"{self.spec.split_key}_chunk"

    @property
    def id_key(self) -> str:
        return f"{self.name}_id"

    @property
    def num_key(self) -> str:
        return f"{self.name}_chunk_num"

    @cached_property
    def tokenizer(self) -> Tokenizer:
        spec = self.spec
        return get_tokenizer(spec.method_kwargs.model or spec.model or self.env.default_model)

    def chunks(self, text: str) -> list[str]:
        spec = self.spec
        if spec.method == "delimiter":
            assert spec.method_kwargs.delimiter is not None  # checked by the spec
            return split_by_delimiter(text, spec.method_kwargs.delimiter, spec.group)
        assert spec.method_kwargs.num_tokens is not None
        return self.tokenizer.chunks(text, spec.method_kwargs.num_tokens)

    async def process_row(self, row: Row, ctx: OpContext) -> Outcome:
        key = self.spec.split_key
        text: Any = row.get(key)
        if text is UNKNOWN:  # --dry-run: the text comes from an LLM call not made
            return Outcome(
                rows=[{**row, self.chunk_key: UNKNOWN, self.id_key: UNKNOWN, self.num_key: 1}]
            )
        if not isinstance(text, str):
            got = "missing" if key not in row else f"{type(text).__name__}, not a string"
            return Outcome(errors=[Issue(self.name, row, f"split_key {key!r} is {got}")])
        pieces = self.chunks(text)
        if not pieces:
            return Outcome(filtered=1, meta={"chunks": 0})
        ident = doc_id(row)
        rows = [
            {**row, self.chunk_key: piece, self.id_key: ident, self.num_key: i}
            for i, piece in enumerate(pieces, start=1)
        ]
        return Outcome(rows=rows, meta={"chunks": len(rows)})

    def output_keys(self, keys: KeySet) -> KeySet:
        self.require_keys(keys, [self.spec.split_key], "split_key")
        return keys | (self.chunk_key, self.id_key, self.num_key)
