"""Top-level ``retrievers``: an embedded LanceDB index of a dataset (or a step's output).

DocETL's semantics (docs/retrievers.md there): a retriever indexes ``dataset`` (a dataset or an
earlier step) into ``index_dir`` once; an LLM operation with ``retriever: <name>`` searches it per
row (per group for reduce) and gets the matches as ``{{ retrieval_context }}`` — prepended under
"Here is some extra context:" when the prompt does not reference it.  ``index_types``: ``fts``
(LanceDB's full-text index over ``fts.index_phrase``) and/or ``embedding`` (vectors of
``embedding.index_phrase``, falling back to ``fts.index_phrase``); ``query.mode``: ``fts``,
``embedding`` or ``hybrid`` (both, fused by reciprocal rank; default: hybrid when both indexes
exist); ``query.top_k`` (5).  ``build_index``: ``if_missing`` (default), ``always``, ``never``.

The index lives on disk (no server); ``index_dir`` resolves against the YAML's folder.  The
specs here are plain data, so operators carrying them pickle to Ray workers, which open the same
``index_dir``.  Embeddings go through the run's LLM client (cache, record/replay, accounting).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llmassert.errors import InputError, SpecError
from llmassert.fileio import atomic_write_text, read_json
from llmassert.pipeline.blocking import embed_all
from llmassert.pipeline.templates import KeySet, Prompt
from llmassert.pipeline.types import Row

if TYPE_CHECKING:
    from llmassert.pipeline.context import OpContext, PipelineEnv

NO_CONTEXT = "No extra context available."
SNIPPET_CHARS = 1000


class StrictModel(BaseModel):
    """Unknown keys are errors (as operators.base.StrictModel; this module sits below it)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FtsSpec(StrictModel):
    index_phrase: str = Field(description="Jinja over `input` (an indexed row): the text indexed.")
    query_phrase: str = Field(description="Jinja over `input` (the operation's row): the query.")


class EmbeddingSpec(StrictModel):
    model: str = Field(description="Embedding model, e.g. openai/text-embedding-3-small.")
    index_phrase: str | None = Field(None, description="Default: fts.index_phrase.")
    query_phrase: str


class QuerySpec(StrictModel):
    mode: Literal["fts", "embedding", "hybrid"] | None = None
    top_k: int = Field(5, ge=1, le=1000)


class RetrieverSpec(StrictModel):
    """``retrievers.<name>``."""

    type: Literal["lancedb"]
    dataset: str = Field(min_length=1, description="A dataset or an earlier step to index.")
    index_dir: str = Field(min_length=1, description="LanceDB folder (relative to the YAML).")
    index_types: list[Literal["fts", "embedding", "hybrid"]] = Field(min_length=1)
    build_index: Literal["if_missing", "always", "never"] = "if_missing"
    fts: FtsSpec | None = None
    embedding: EmbeddingSpec | None = None
    query: QuerySpec = Field(default_factory=lambda: QuerySpec.model_validate({}))

    @model_validator(mode="after")
    def _sections(self) -> RetrieverSpec:
        kinds = self.kinds
        if "fts" in kinds and self.fts is None:
            raise ValueError("index_types has fts: needs an `fts` section")
        if "embedding" in kinds and self.embedding is None:
            raise ValueError("index_types has embedding: needs an `embedding` section")
        if self.embedding and not (self.embedding.index_phrase or self.fts):
            raise ValueError("embedding.index_phrase is needed without an fts section")
        mode = self.query.mode
        if mode in ("fts", "hybrid") and "fts" not in kinds:
            raise ValueError(f"query.mode {mode} needs an fts index")
        if mode in ("embedding", "hybrid") and "embedding" not in kinds:
            raise ValueError(f"query.mode {mode} needs an embedding index")
        return self

    @property
    def kinds(self) -> set[str]:
        k = set(self.index_types)
        return (k - {"hybrid"}) | ({"fts", "embedding"} if "hybrid" in k else set())

    @property
    def mode(self) -> str:
        if self.query.mode:
            return self.query.mode
        kinds = self.kinds
        return "hybrid" if len(kinds) == 2 else next(iter(kinds))


_TABLE_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_OPEN_LOCK = threading.Lock()


class Retriever:
    """One retriever at run time: builds its index, answers queries (thread- and Ray-safe)."""

    def __init__(self, name: str, spec: RetrieverSpec, env: PipelineEnv) -> None:
        self.name = name
        self.spec = spec
        self.env = env
        self.index_dir = env.path(spec.index_dir)
        self.table_name = _TABLE_CHARS.sub("_", name) or "retriever"
        where = f"retrievers.{name}"
        f, e = spec.fts, spec.embedding

        def prompt(src: str | None, field: str) -> Prompt | None:
            return Prompt(src, where=f"{where}.{field}", file=env.spec_file) if src else None

        self.fts_index = prompt(f.index_phrase if f else None, "fts.index_phrase")
        self.fts_query = prompt(f.query_phrase if f else None, "fts.query_phrase")
        self.emb_index = prompt(
            (e.index_phrase or (f.index_phrase if f else None)) if e else None,
            "embedding.index_phrase",
        )
        self.emb_query = prompt(e.query_phrase if e else None, "embedding.query_phrase")
        self._table: Any = None
        # What the index answers with, set by build(): part of the fingerprint of every
        # operation that retrieves from it, so a resumed run does not reuse rows computed
        # against another index (edited spec, rebuilt from changed data, replaced on disk).
        self.fingerprint = ""

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.name, self.spec, self.env))

    # -- static checks --------------------------------------------------------------------------

    def check_index(self, keys: KeySet) -> None:
        for p in (self.fts_index, self.emb_index):
            if p is not None:
                p.check({"input": keys})

    def check_query(self, available: dict[str, KeySet | None]) -> None:
        for p in (self.fts_query, self.emb_query):
            if p is not None:
                p.check(available)

    # -- building -------------------------------------------------------------------------------

    def _db(self) -> Any:
        import lancedb  # the `retrievers` extra; imported only by pipelines that use one

        self.index_dir.mkdir(parents=True, exist_ok=True)
        return lancedb.connect(str(self.index_dir))

    def _exists(self, db: Any) -> bool:
        tables = db.list_tables()
        names = getattr(tables, "tables", tables)
        return self.table_name in list(names)

    async def build(self, rows: list[Row], ctx: OpContext, source_fingerprint: str) -> str:
        """Build the index per ``build_index``; returns what was done (for the run's log).

        ``source_fingerprint``: the fingerprint of the rows indexed (a dataset's digest or a
        step's fingerprint), which names the content of an index built now.
        """
        db = await asyncio.to_thread(self._db)
        exists = await asyncio.to_thread(self._exists, db)
        policy = self.spec.build_index
        if policy == "never" or (policy == "if_missing" and exists):
            if not exists:
                raise SpecError(
                    f"build_index is never but {self.index_dir} has no index {self.table_name!r}",
                    file=self.env.spec_file,
                    field=f"retrievers.{self.name}.build_index",
                )
            self.fingerprint = await asyncio.to_thread(self._reused_fingerprint)
            return f"reused {self.index_dir}/{self.table_name}"
        records: list[dict[str, Any]] = []
        texts = [self._render(self.fts_index or self.emb_index, {"input": r}) for r in rows]
        vectors: list[list[float]] = []
        if self.emb_index is not None:
            assert self.spec.embedding is not None
            emb_texts = [self._render(self.emb_index, {"input": r}) for r in rows]
            vectors = await embed_all(ctx, emb_texts, self.spec.embedding.model)
        for i, (row, text) in enumerate(zip(rows, texts, strict=True)):
            rec: dict[str, Any] = {"text": text, "row": json.dumps(row, default=str), "pos": i}
            if vectors:
                rec["vector"] = vectors[i]
            records.append(rec)
        if not records:
            raise SpecError(
                f"dataset {self.spec.dataset!r} is empty: nothing to index",
                file=self.env.spec_file,
                field=f"retrievers.{self.name}.dataset",
            )
        await asyncio.to_thread(self._write, db, records)
        self._table = None
        content = _digest(self.spec.model_dump_json(), source_fingerprint)
        await asyncio.to_thread(self._mark, content)
        self.fingerprint = _digest(self.spec.model_dump_json(), content)
        return f"indexed {len(records)} rows into {self.index_dir}/{self.table_name}"

    # -- what the index holds (for fingerprints) -------------------------------------------------

    @property
    def _marker(self) -> Path:
        return self.index_dir / f"{self.table_name}.llmassert.json"

    def _listing(self) -> str:
        """The table's files by name and size.  Lance names data, index and version files
        with fresh UUIDs or numbers, so any rebuild or write changes the listing."""
        root = self.index_dir / f"{self.table_name}.lance"
        if not root.is_dir():  # another layout: the whole folder stands for the table
            root = self.index_dir
        h = hashlib.sha256()
        for path in sorted(p for p in root.rglob("*") if p.is_file() and p != self._marker):
            h.update(f"{path.relative_to(root)}\0{path.stat().st_size}\n".encode())
        return h.hexdigest()

    def _mark(self, content: str) -> None:
        """Record, next to the table, which content the build wrote (and the files it left)."""
        record = {"content": content, "listing": self._listing()}
        atomic_write_text(self._marker, json.dumps(record))

    def _reused_fingerprint(self) -> str:
        """A reused index is named by the content its build recorded while its files are the
        ones that build left; otherwise (built elsewhere, or written since) by its files."""
        try:
            mark = read_json(self._marker)
        except InputError:  # missing or damaged: the files name the index
            mark = None
        listing = self._listing()
        if isinstance(mark, dict) and mark.get("listing") == listing:
            content = str(mark.get("content"))
        else:
            content = f"files:{listing}"
        return _digest(self.spec.model_dump_json(), content)

    def _write(self, db: Any, records: list[dict[str, Any]]) -> None:
        table = db.create_table(self.table_name, data=records, mode="overwrite")
        if "fts" in self.spec.kinds:
            from lancedb.index import FTS

            table.create_index("text", config=FTS(), replace=True)

    # -- querying -------------------------------------------------------------------------------

    def _render(self, prompt: Prompt | None, variables: dict[str, Any]) -> str:
        return prompt.render(**variables).strip() if prompt is not None else ""

    def _open(self) -> Any:
        with _OPEN_LOCK:
            if self._table is None:
                db = self._db()
                if not self._exists(db):
                    raise SpecError(
                        f"no index {self.table_name!r} in {self.index_dir} (build_index: never?)",
                        file=self.env.spec_file,
                        field=f"retrievers.{self.name}",
                    )
                self._table = db.open_table(self.table_name)
            return self._table

    async def retrieve(self, variables: dict[str, Any], ctx: OpContext) -> str:
        """The ``retrieval_context`` text for one row (``variables``: input / reduce_key+inputs)."""
        mode = self.spec.mode
        text_q = self._render(self.fts_query, variables) if mode != "embedding" else ""
        vector: list[float] | None = None
        if mode != "fts":
            assert self.spec.embedding is not None
            q = self._render(self.emb_query, variables) or " "
            vector = (await ctx.embed([q], self.spec.embedding.model))[0]
        hits = await asyncio.to_thread(self._search, mode, text_q, vector)
        lines = [
            f"- [{i}] {str(h.get('text', ''))[:SNIPPET_CHARS]}"
            for i, h in enumerate(hits, start=1)
            if h.get("text")
        ]
        return "\n".join(lines) if lines else NO_CONTEXT

    def _search(self, mode: str, text: str, vector: list[float] | None) -> list[dict[str, Any]]:
        table = self._open()
        k = self.spec.query.top_k
        if mode == "fts" or (mode == "hybrid" and vector is None):
            if not text:
                return []
            return list(table.search(text, query_type="fts").limit(k).to_list())
        if mode == "embedding" or not text:
            return list(table.search(vector, query_type="vector").limit(k).to_list())
        from lancedb.rerankers import RRFReranker

        q = table.search(query_type="hybrid").vector(vector).text(text).rerank(RRFReranker())
        return list(q.limit(k).to_list())


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def context_key(op_name: str) -> str:
    """Where ``save_retriever_output`` keeps an operation's retrieved context on its rows."""
    return f"_{op_name}_retrieved_context"


def prompt_with_context(prompt_source: str, rendered: str, context: str | None) -> str:
    """DocETL: a prompt that does not reference ``retrieval_context`` gets it prepended."""
    if context is None or "retrieval_context" in prompt_source:
        return rendered
    return f"Here is some extra context:\n{context}\n\n{rendered}"
