"""``gather``: give each chunk the context of its neighbours (DocETL's operator).

Chunks are grouped by ``doc_id_key`` and ordered by ``order_key``; each row gets
``<content_key>_rendered``, laid out exactly as DocETL lays it out::

    --- Previous Context ---
    [Chunk 1]
    <text of chunk 1>
    [... 1234 characters skipped ...]
    [Chunk 4 (Summary)]
    <chunk 4's summary, from the section's own content_key>
    --- End Previous Context ---

    _Current Section:_ # Part II > ## Timeline       (with doc_header_key)
    --- Begin Main Chunk ---
    <the chunk>
    --- End Main Chunk ---

    --- Next Context ---
    [Chunk 6]
    <text of chunk 6>
    --- End Next Context ---

``peripheral_chunks.previous`` looks at the chunks before this one in document order: ``head``
is the document's first ``count`` chunks, ``tail`` the ``count`` chunks right before this one,
``middle`` everything in between (omitted, with a "characters skipped" note, unless configured).
``next`` mirrors it after the chunk.  Without ``peripheral_chunks`` the rendered field is the
chunk itself.  Rows that repeat a chunk number of their document (identical source rows split
twice) share one rendering instead of seeing each other as context.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from llmassert.pipeline.operators.base import (
    UNKNOWN,
    GroupOperator,
    Issue,
    OperationSpec,
    Outcome,
    Row,
    StrictModel,
    register,
)
from llmassert.pipeline.templates import KeySet

if TYPE_CHECKING:
    from llmassert.pipeline.context import OpContext

PREVIOUS_START = "--- Previous Context ---"
PREVIOUS_END = "--- End Previous Context ---"
MAIN_START = "--- Begin Main Chunk ---"
MAIN_END = "--- End Main Chunk ---"
NEXT_START = "--- Next Context ---"
NEXT_END = "--- End Next Context ---"


class WindowPart(StrictModel):
    """``head`` / ``middle`` / ``tail`` of one side."""

    count: int | float | None = Field(
        None,
        ge=0,
        description="Chunks in this part (head and tail); a fraction is truncated (DocETL: 1.5 → 1).",
    )
    content_key: str | None = Field(
        None,
        description="Field shown for these chunks (default: "
        "the gather's content_key; another key is labelled Summary).",
    )


class Side(StrictModel):
    """``previous`` or ``next``."""

    head: WindowPart | None = None
    middle: WindowPart | None = None
    tail: WindowPart | None = None

    @model_validator(mode="after")
    def _counts(self) -> Side:
        for part in ("head", "tail"):
            value = getattr(self, part)
            if value is not None and value.count is None:
                raise ValueError(f"{part} needs a count")
        return self

    def keys(self) -> set[str]:
        return {
            p.content_key
            for p in (self.head, self.middle, self.tail)
            if p is not None and p.content_key
        }


class PeripheralChunks(StrictModel):
    previous: Side | None = None
    next: Side | None = None


class GatherSpec(OperationSpec):
    """``type: gather``."""

    type: Literal["gather"] = "gather"
    content_key: str = Field(min_length=1, description="Field with the chunk text.")
    doc_id_key: str = Field(min_length=1, description="Field naming the chunk's document.")
    order_key: str = Field(min_length=1, description="Field ordering chunks in a document.")
    peripheral_chunks: PeripheralChunks | None = None
    doc_header_key: str | None = Field(
        None, description="Field with the chunk's headers: a list of {header, level}."
    )
    main_chunk_start: str | None = Field(None, description=f"Default {MAIN_START!r}.")
    main_chunk_end: str | None = Field(None, description=f"Default {MAIN_END!r}.")


def render_side(
    chunks: list[Row], side: Side | None, content_key: str, order_key: str
) -> list[str]:
    """The lines for one side, ``chunks`` being that side's chunks in document order."""
    if side is None:
        return []
    head_n = int(side.head.count or 0) if side.head else 0
    tail_n = int(side.tail.count or 0) if side.tail else 0
    lines: list[str] = []
    skipping, skipped = False, 0
    for i, chunk in enumerate(chunks):
        part = side.head if i < head_n else side.tail if i >= len(chunks) - tail_n else side.middle
        if part is None:
            skipping, skipped = True, skipped + len(str(chunk[content_key]))
            continue
        if skipping:
            lines.append(f"[... {skipped} characters skipped ...]")
            skipping, skipped = False, 0
        key = part.content_key or content_key
        label = " (Summary)" if key != content_key else ""
        lines += [f"[Chunk {chunk[order_key]}{label}]", str(chunk[key])]
    if skipping:
        lines.append(f"[... {skipped} characters skipped ...]")
    return lines


def header_path(chunks: list[Row], index: int, header_key: str) -> str:
    """``_Current Section:_ # A > ## B``: the latest header of each level up to chunk ``index``.

    Levels at or below the shallowest header of the chunk itself are left out (the chunk shows
    those); a chunk without headers gets the whole path.  Malformed entries are ignored.
    """
    path: dict[int, str] = {}
    for chunk in chunks[: index + 1]:
        for level, text in _headers(chunk.get(header_key)):
            path = {lv: h for lv, h in path.items() if lv < level}
            path[level] = text
    own = [level for level, _ in _headers(chunks[index].get(header_key))]
    top = min(own) if own else None
    shown = [f"{'#' * lv} {h}" for lv, h in sorted(path.items()) if top is None or lv < top]
    return f"_Current Section:_ {' > '.join(shown)}" if shown else ""


def _headers(value: Any) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict):
            level, text = item.get("level"), item.get("header")
            if isinstance(level, int) and not isinstance(level, bool) and level > 0 and text:
                out.append((level, str(text)))
    return out


def render_chunk(chunks: list[Row], index: int, spec: GatherSpec) -> str:
    """``<content_key>_rendered`` for ``chunks[index]`` (``chunks``: one document, in order)."""
    ck, ok, windows = spec.content_key, spec.order_key, spec.peripheral_chunks
    main = chunks[index]
    if windows is None or (windows.previous is None and windows.next is None):
        return str(main[ck])  # DocETL: no (or an empty) peripheral_chunks, no markers
    parts = [
        PREVIOUS_START,
        *render_side(chunks[:index], windows.previous, ck, ok),
        PREVIOUS_END + "\n",
    ]
    if spec.doc_header_key and (headers := header_path(chunks, index, spec.doc_header_key)):
        parts.append(headers)
    parts += [
        spec.main_chunk_start or MAIN_START,
        str(main[ck]),
        spec.main_chunk_end or MAIN_END,
        "\n" + NEXT_START,
        *render_side(chunks[index + 1 :], windows.next, ck, ok),
        NEXT_END,
    ]
    return "\n".join(parts)


@register(GatherSpec)
class GatherOperator(GroupOperator[GatherSpec]):
    """Adds ``<content_key>_rendered`` to every chunk, grouped by document."""

    @property
    def rendered_key(self) -> str:
        return f"{self.spec.content_key}_rendered"

    def needed_keys(self) -> list[str]:
        spec = self.spec
        keys = [spec.content_key, spec.doc_id_key, spec.order_key]
        windows = spec.peripheral_chunks
        for side in (windows.previous, windows.next) if windows else ():
            keys += sorted(side.keys()) if side else []
        return list(dict.fromkeys(keys))

    def group_key(self, row: Row) -> tuple[Any, ...]:
        return (_hashable(row.get(self.spec.doc_id_key)),)

    async def process_group(self, key: tuple[Any, ...], rows: list[Row], ctx: OpContext) -> Outcome:
        needed = self.needed_keys()
        out = Outcome()
        good: list[Row] = []
        for row in rows:
            missing = [k for k in needed if k not in row]
            if missing:
                out.errors.append(
                    Issue(self.name, row, f"row has no {missing[0]!r} (needed by gather)")
                )
            else:
                good.append(row)
        if any(v is UNKNOWN for row in good for v in row.values()):
            # --dry-run: some values come from LLM calls not made.
            out.rows += [{**row, self.rendered_key: UNKNOWN} for row in good]
            return out
        # One chunk per order value: a duplicate of a chunk is not its own neighbour.
        chunks: dict[Any, Row] = {}
        for row in good:
            chunks.setdefault(_hashable(row[self.spec.order_key]), row)
        try:
            ordered = sorted(chunks.items(), key=lambda kv: kv[0])
        except TypeError:
            for row in good:
                out.errors.append(
                    Issue(
                        self.name,
                        row,
                        f"{self.spec.order_key!r} values of "
                        "this document cannot be ordered (mixed types)",
                    )
                )
            return out
        position = {k: i for i, (k, _) in enumerate(ordered)}
        doc = [row for _, row in ordered]
        rendered: dict[int, str] = {}
        for row in good:
            i = position[_hashable(row[self.spec.order_key])]
            if i not in rendered:
                rendered[i] = render_chunk(doc, i, self.spec)
            out.rows.append({**row, self.rendered_key: rendered[i]})
        return out

    def output_keys(self, keys: KeySet) -> KeySet:
        spec = self.spec
        fields = {
            spec.content_key: "content_key",
            spec.doc_id_key: "doc_id_key",
            spec.order_key: "order_key",
        }
        for key, field in fields.items():
            self.require_keys(keys, [key], field)
        return keys | (self.rendered_key,)


def _hashable(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True, default=str)
    return value
