"""DocETL's dataset ``parsing`` tools: a row names a file, the tool adds the file's text.

```yaml
datasets:
  reports:
    type: file
    path: reports.json                 # rows like {"id": 1, "report": "files/q1.docx"}
    parsing:
      - function: docx_to_string
        input_key: report              # default "text"
        output_key: report_text        # default "text"
```

Each tool maps every row to one row or more (a tool may return one document per sheet, slide or
page): the row's fields plus ``output_key``, in input order.  Tools run in the order listed, each
over the previous one's rows, when the dataset loads — before any LLM call.

Supported (a maintained library does the work, see :mod:`~llmassert.pipeline.documents`):
``txt_to_string``, ``docx_to_string``, ``pptx_to_string`` (``doc_per_slide``),
``xlsx_to_string`` (``orientation``, ``col_order``, ``doc_per_sheet``) and
``paddleocr_pdf_to_string`` (``doc_per_page``, ``ocr_enabled``, ``lang``) for PDFs with a text
layer: its text is read with pypdf; a page with no text layer would need OCR, which llmassert does
not run (an error naming the file and page unless ``ocr_enabled: false``).  Refused at load, with
the reason: tools that call a cloud service or a model (``azure_di_read``,
``whisper_speech_to_text``, ``gptpdf_to_string``), llama_index readers, and user-defined
functions (top-level ``parsing_tools``: arbitrary Python).

File paths in rows resolve against the YAML's folder, like every path in a pipeline.  A missing or
unreadable file is a one-line error naming the dataset, the row and the key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from llmassert.errors import InputError
from llmassert.fileio import decode_text, read_bytes
from llmassert.pipeline import documents
from llmassert.pipeline.operators.base import StrictModel
from llmassert.pipeline.types import Row

# DocETL tools that cannot run here, and why (checked when the YAML loads).
REFUSED = {
    "azure_di_read": "needs Azure Document Intelligence, a cloud service",
    "whisper_speech_to_text": "needs a speech-to-text model service",
    "gptpdf_to_string": "needs an LLM vision service",
    "llama_index_simple_directory_reader": "needs llama_index (use a folder dataset instead)",
    "llama_index_wikipedia_reader": "needs llama_index and the internet",
}


class ParsingToolSpec(StrictModel):
    """One entry of ``datasets.<name>.parsing`` (DocETL's keys)."""

    function: str = Field(description="The tool: txt/docx/pptx/xlsx_to_string, ...")
    input_key: str = Field("text", description="The row key holding the file's path.")
    output_key: str = Field("text", description="The row key the text goes to.")
    name: str | None = Field(None, description="DocETL (a label; not used).")
    function_kwargs: dict[str, Any] | None = Field(
        None, description="DocETL's older spelling of the tool's own keys."
    )
    # The tools' own keys (which tool takes which: TOOLS[function].kwargs).
    orientation: Literal["col", "row"] | None = None
    col_order: list[str] | None = None
    doc_per_sheet: bool | None = None
    doc_per_slide: bool | None = None
    doc_per_page: bool | None = None
    ocr_enabled: bool | None = None
    lang: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _known_tool(cls, data: Any) -> Any:
        # The tool first: a refused tool's own keys (azure's use_url...) are not the problem.
        function = data.get("function") if isinstance(data, dict) else None
        if isinstance(function, str) and function in REFUSED:
            raise ValueError(f"parsing tool {function!r}: {REFUSED[function]}")
        if isinstance(function, str) and function not in TOOLS:
            known = ", ".join(sorted(TOOLS))
            raise ValueError(f"unknown parsing tool {function!r} (known: {known})")
        if isinstance(data, dict) and isinstance(data.get("function_kwargs"), dict):
            data = {**data, **data["function_kwargs"]}
            data.pop("function_kwargs")
        return data

    @model_validator(mode="after")
    def _tool_keys(self) -> ParsingToolSpec:
        tool = TOOLS[self.function]
        given = {k for k in _TOOL_KEYS if getattr(self, k) is not None}
        extra = sorted(given - tool.kwargs)
        if extra:
            takes = ", ".join(sorted(tool.kwargs)) or "no other keys"
            raise ValueError(f"{self.function} does not take {extra[0]!r} (it takes {takes})")
        return self

    def kwargs(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _TOOL_KEYS if getattr(self, k) is not None}


_TOOL_KEYS = (
    "orientation",
    "col_order",
    "doc_per_sheet",
    "doc_per_slide",
    "doc_per_page",
    "ocr_enabled",
    "lang",
)


@dataclass(frozen=True)
class Tool:
    read: Callable[..., list[str]]  # (file bytes, file path, **kwargs) -> documents
    kwargs: frozenset[str]
    library: str | None  # documents.LIBRARIES key, checked at load


def _txt(data: bytes, path: Path) -> list[str]:
    return [decode_text(data, path)]


def _docx(data: bytes, path: Path) -> list[str]:
    return [documents.docx_text(data)]


def _pptx(data: bytes, path: Path, doc_per_slide: bool = False) -> list[str]:
    slides = documents.pptx_slides(data)
    if doc_per_slide:
        return ["\n".join(texts) for texts in slides]
    return ["\n".join(t for texts in slides for t in texts)]


def _sheet_text(rows: list[list[Any]], orientation: str, col_order: list[str] | None) -> str:
    """DocETL's layout: per column ``header: v1\\nv2...`` and a blank line, or per row
    ``h1: v | h2: v``.  ``col_order`` picks and orders columns by header (DocETL documents
    this; its code compares names with cell tuples and so keeps none: here it works)."""
    header = list(rows[0]) if rows else []
    body = rows[1:]
    columns = list(range(len(header)))
    if col_order:
        columns = [header.index(name) for name in col_order if name in header]
    out: list[str] = []
    if orientation == "col":
        for c in columns:
            values = [r[c] if c < len(r) else None for r in body]
            out.append(f"{header[c]}: " + "\n".join(map(str, values)))
            out.append("")
    else:
        for r in body:
            cells = [(header[c], r[c] if c < len(r) else None) for c in columns if header[c]]
            out.append(" | ".join(f"{h}: {v}" for h, v in cells))
    return "\n".join(out)


def _xlsx(
    data: bytes,
    path: Path,
    orientation: str = "col",
    col_order: list[str] | None = None,
    doc_per_sheet: bool = False,
) -> list[str]:
    sheets, active = documents.xlsx_sheets(data)
    chosen = sheets if doc_per_sheet else [sheets[active]]
    return [_sheet_text(rows, orientation, col_order) for rows in chosen]


def _pdf(
    data: bytes,
    path: Path,
    doc_per_page: bool = False,
    ocr_enabled: bool = True,
    lang: str = "en",
) -> list[str]:
    out = []
    for n, page in enumerate(documents.pdf_pages(data), start=1):
        if not page.text.strip() and ocr_enabled:
            raise documents.DocumentError(
                f"page {n} has no text layer and needs OCR, which llmassert does not run "
                "(set ocr_enabled: false to keep such pages empty)"
            )
        images = "\n".join(f"Image {k}" for k in range(1, page.images + 1))
        out.append(f"Page {n}:\nText:\n{page.text}\nImages:\n{images}\n")
    return out if doc_per_page else ["\n\n".join(out)]


TOOLS: dict[str, Tool] = {
    "txt_to_string": Tool(_txt, frozenset(), None),
    "docx_to_string": Tool(_docx, frozenset(), "docx"),
    "pptx_to_string": Tool(_pptx, frozenset({"doc_per_slide"}), "pptx"),
    "xlsx_to_string": Tool(_xlsx, frozenset({"orientation", "col_order", "doc_per_sheet"}), "xlsx"),
    "paddleocr_pdf_to_string": Tool(
        _pdf, frozenset({"doc_per_page", "ocr_enabled", "lang"}), "pdf"
    ),
}


def check_libraries(tools: list[ParsingToolSpec]) -> None:
    """Before reading any row: every library the tools need is installed (one line if not)."""
    for spec in tools:
        library = TOOLS[spec.function].library
        if library is not None:
            documents.require(library)


def apply_parsing(
    rows: list[Row], tools: list[ParsingToolSpec], *, base_dir: Path, dataset: Path, where: str
) -> list[Row]:
    """Run the tools in order over the dataset's rows (see the module docstring)."""
    check_libraries(tools)
    for i, spec in enumerate(tools):
        tool = TOOLS[spec.function]
        kwargs = spec.kwargs()
        out: list[Row] = []
        for n, row in enumerate(rows):
            field = f"[{n}].{spec.input_key}"
            if spec.input_key not in row:
                raise InputError(
                    f"{where}.parsing[{i}] ({spec.function}) reads key {spec.input_key!r}, "
                    "which this row does not have",
                    file=dataset,
                    field=f"[{n}]",
                )
            ref = row[spec.input_key]
            if not isinstance(ref, str) or not ref:
                raise InputError(
                    f"expected a file path for {spec.function}, got {type(ref).__name__}",
                    file=dataset,
                    field=field,
                )
            path = Path(ref).expanduser()
            path = path if path.is_absolute() else base_dir / path
            try:
                data = read_bytes(path)
            except InputError as e:
                raise InputError(f"{path}: {e.message}", file=dataset, field=field) from None
            try:
                docs = tool.read(data, path, **kwargs)
            except documents.DocumentError as e:
                raise InputError(f"{spec.function}: {path}: {e}", file=dataset, field=field) from e
            out.extend({**row, spec.output_key: doc} for doc in docs)
        rows = out
    return rows
