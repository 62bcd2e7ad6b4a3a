"""A map's ``pdf_url_key``: the PDF a row names goes to the model with the prompt.

DocETL downloads the PDF (an ``http(s)`` URL, else a local path) and sends it base64-encoded next
to the prompt, which only models that read PDFs understand.  Here the mode follows the model:

- ``file``: the model reads PDFs (litellm's model table says ``supports_pdf_input``): the user
  message is ``[{"type": "file", "file": {filename, file_data: data:application/pdf;base64,...}},
  {"type": "text", "text": prompt}]`` — the OpenAI shape, which litellm translates for Anthropic,
  Gemini, Bedrock and Vertex;
- ``text``: any other model: pypdf extracts the text layer, sent before the prompt between
  markers naming the file and its page count.

Which one was used is recorded per row (the lineage file: ``pdf: file|text``; with
``enable_observability``, ``pdf_input`` in the observability record).  A row whose PDF cannot be
fetched or read goes to the errors file with the reason; the run goes on.  Local paths resolve
against the YAML's folder; a download is capped at :data:`MAX_PDF_BYTES` and
:data:`FETCH_TIMEOUT_S`.  Under ``--record`` / ``--replay`` downloads are recorded and replayed
like LLM calls (the same HTTP patching), so a replay stays offline.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from llmassert.errors import CassetteMissError, InputError
from llmassert.fileio import read_bytes
from llmassert.llm import recording
from llmassert.llm.usage import model_info
from llmassert.pipeline import documents

MAX_PDF_BYTES = 50 * 2**20
FETCH_TIMEOUT_S = 60.0
PdfMode = Literal["file", "text"]


class PdfInputError(ValueError):
    """This row's PDF cannot be fetched or read (the row goes to the errors file)."""


def pdf_mode(model: str) -> PdfMode:
    """``file`` when litellm's model table says the model reads PDFs, else ``text``."""
    return "file" if model_info(model).get("supports_pdf_input") is True else "text"


def lookup(row: dict[str, Any], key: str) -> Any:
    """``row[key]``, or a dotted path into nested objects (DocETL's ``summary.url``)."""
    if key in row:
        return row[key]
    value: Any = row
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            raise PdfInputError(f"the row has no {key!r}")
        value = value[part]
    return value


@dataclass
class PdfPrompt:
    """What the request carries for one row."""

    text: str  # the prompt (text mode: with the PDF's text before it)
    attachments: tuple[dict[str, Any], ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)


async def fetch(ref: str, base_dir: Path) -> tuple[bytes, str]:
    """The PDF's bytes and a file name, from an http(s) URL or a local path."""
    parts = urlsplit(ref)
    if parts.scheme in ("http", "https"):
        return await _download(ref), PurePosixPath(unquote(parts.path)).name or "document.pdf"
    if parts.scheme == "file":
        ref = unquote(parts.path)
    elif parts.scheme and len(parts.scheme) > 1:  # "C:\\..." is a path, "ftp://..." is not
        raise PdfInputError(f"cannot fetch {ref!r}: only http(s) URLs and file paths")
    path = Path(ref).expanduser()
    path = path if path.is_absolute() else base_dir / path
    try:
        data = await asyncio.to_thread(read_bytes, path)
    except InputError as e:
        raise PdfInputError(f"{path}: {e.message}") from None
    return data, path.name


async def _download(url: str) -> bytes:
    # Lazy: httpx costs ~0.1-0.4 s to import and only pipelines downloading PDFs need it.
    import httpx

    misses = recording.replay_miss_count()
    try:
        async with (
            httpx.AsyncClient(follow_redirects=True, timeout=FETCH_TIMEOUT_S) as client,
            client.stream("GET", url) as response,
        ):
            if response.headers.get(recording.MISS_HEADER):
                miss = recording.replay_miss(since=misses)
                raise miss or CassetteMissError(f"download not in cassette: {url}")
            if response.status_code >= 400:
                raise PdfInputError(f"GET {url}: HTTP {response.status_code}")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_PDF_BYTES:
                    raise PdfInputError(f"GET {url}: larger than {MAX_PDF_BYTES >> 20} MB")
                chunks.append(chunk)
    except httpx.HTTPError as e:
        raise PdfInputError(f"GET {url}: {type(e).__name__}: {e}") from None
    return b"".join(chunks)


async def prepare(
    mode: PdfMode, row: dict[str, Any], key: str, prompt: str, base_dir: Path
) -> PdfPrompt:
    """The request content for one row (raises :class:`PdfInputError` for this row only)."""
    ref = lookup(row, key)
    if not isinstance(ref, str) or not ref.strip():
        raise PdfInputError(f"{key!r} is not a URL or path: {ref!r}")
    data, name = await fetch(ref.strip(), base_dir)
    if not data.startswith(documents.PDF_MAGIC):
        raise PdfInputError(f"{ref}: not a PDF (it does not start with %PDF-)")
    if mode == "file":
        encoded = base64.b64encode(data).decode("ascii")
        part = {
            "type": "file",
            "file": {"filename": name, "file_data": f"data:application/pdf;base64,{encoded}"},
        }
        return PdfPrompt(prompt, (part,), {"pdf": "file", "pdf_bytes": len(data)})
    try:
        text, pages = await asyncio.to_thread(documents.pdf_text, data)
    except documents.DocumentError as e:
        raise PdfInputError(f"{ref}: {e}") from None
    block = f"--- PDF {name} ({pages} pages, text extracted) ---\n{text}\n--- End of PDF {name} ---"
    return PdfPrompt(f"{block}\n\n{prompt}", (), {"pdf": "text", "pdf_pages": pages})
