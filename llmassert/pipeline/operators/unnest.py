"""``unnest``: one row per element of a list field, or a dict field's keys lifted into the row.

DocETL's semantics:

- a **list** under ``unnest_key`` gives one row per element, the element replacing the list
  under the same key (other fields copied);
- a **dict** under ``unnest_key`` stays as it is and its ``expand_fields`` (default: all its
  keys) are copied into the row (a field the dict lacks becomes ``None``);
- ``recursive: true`` keeps unnesting elements that are lists (flattening) or dicts (expanding)
  down to ``depth`` levels (default: 1 level, unlimited when recursive).

Beyond DocETL: list elements that are dicts also get their ``expand_fields`` copied into the row
when ``expand_fields`` is given (DocETL ignores it there unless ``recursive``); ``null`` counts as
an empty list.  An empty list gives one row with ``None`` under the key when ``keep_empty``, else
no row, and is counted as filtered (never silently gone).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from llmassert.pipeline.operators.base import (
    UNKNOWN,
    Issue,
    OperationSpec,
    Outcome,
    Row,
    RowOperator,
    register,
)
from llmassert.pipeline.templates import KeySet

if TYPE_CHECKING:
    from llmassert.pipeline.context import OpContext


class UnnestSpec(OperationSpec):
    """``type: unnest``."""

    type: Literal["unnest"] = "unnest"
    unnest_key: str = Field(min_length=1, description="Field holding a list or a dict.")
    keep_empty: bool | None = Field(
        None, description="Keep rows whose list is empty (value None). Default false."
    )
    expand_fields: list[str] | None = Field(None, description="Dict keys copied into the row.")
    recursive: bool | None = Field(None, description="Unnest nested lists/dicts too.")
    depth: int | None = Field(
        None, ge=1, description="Levels to unnest (default 1, or unlimited when recursive)."
    )


def unnest_row(row: Row, spec: UnnestSpec) -> list[Row]:
    """The rows ``row`` becomes (``spec.unnest_key`` must hold a list, tuple, dict or None).

    Output rows are new dicts; nested values are shared with ``row``, never modified.
    """
    key = spec.unnest_key
    depth = spec.depth or (math.inf if spec.recursive else 1)

    def expand(item: Row, value: dict[str, Any], fields: list[str] | None) -> Row:
        return {**item, **{name: value.get(name) for name in (value if fields is None else fields)}}

    def walk(item: Row, level: int) -> list[Row]:
        value = item[key]
        if isinstance(value, dict):
            return [expand(item, value, spec.expand_fields)]
        out: list[Row] = []
        for element in value:
            new = {**item, key: element}
            if spec.recursive and isinstance(element, list | tuple | dict) and level + 1 < depth:
                out += walk(new, level + 1)
            elif isinstance(element, dict) and spec.expand_fields:
                out.append(expand(new, element, spec.expand_fields))
            else:
                out.append(new)
        return out

    value = row[key]
    if value is None or (isinstance(value, list | tuple) and not value):
        return [{**row, key: None}] if spec.keep_empty else []
    return walk(row, 0)


@register(UnnestSpec)
class UnnestOperator(RowOperator[UnnestSpec]):
    """One row per list element (or the dict's fields lifted into the row)."""

    async def process_row(self, row: Row, ctx: OpContext) -> Outcome:
        key = self.spec.unnest_key
        if key not in row:
            return Outcome(errors=[Issue(self.name, row, f"unnest_key {key!r} is missing")])
        value = row[key]
        if value is UNKNOWN:  # --dry-run: the list comes from an LLM call not made
            return Outcome(rows=[{**row, **dict.fromkeys(self.spec.expand_fields or [], UNKNOWN)}])
        if value is not None and not isinstance(value, list | tuple | dict):
            return Outcome(
                errors=[
                    Issue(
                        self.name,
                        row,
                        f"unnest_key {key!r} is {type(value).__name__}, not a list or dict",
                    )
                ]
            )
        rows = unnest_row(row, self.spec)
        return Outcome(rows=rows, filtered=0 if rows else 1)

    def output_keys(self, keys: KeySet) -> KeySet:
        spec = self.spec
        self.require_keys(keys, [spec.unnest_key], "unnest_key")
        if spec.expand_fields is not None:
            return keys | spec.expand_fields
        # Expanding a dict without expand_fields adds keys that only the data knows.
        return KeySet(keys.keys, open=True)
