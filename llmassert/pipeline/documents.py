"""Text out of document files (PDF, Word, PowerPoint, Excel): the one place that reads them.

Used by dataset ``parsing`` tools (:mod:`~llmassert.pipeline.parsing`) and by a map's
``pdf_url_key`` when the model cannot take a PDF (:mod:`~llmassert.pipeline.pdf_input`).  The
work is done by maintained libraries — pypdf, python-docx, python-pptx, openpyxl — from the
``documents`` extra, imported when a document is first read (most pipelines never read one, and
together they cost ~150 ms to import).  A missing library is a one-line ConfigError with the
install command; a file the library cannot read is a :class:`DocumentError` naming the file.

Functions take the file's bytes, never a path: callers read files through
:func:`llmassert.fileio.read_bytes` (one-line errors) or download them, and nothing here opens
a file by a name that came from data.
"""

from __future__ import annotations

import importlib
import io
from dataclasses import dataclass
from typing import Any

from llmassert.errors import ConfigError

INSTALL_HINT = "pip install 'llmassert[documents]'"
PDF_MAGIC = b"%PDF-"


class DocumentError(ValueError):
    """A document that its library cannot read (corrupt, encrypted, not that format)."""


def _library(module: str, package: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            f"reading this document needs {package}, which is not installed",
            field="documents",
            hint=INSTALL_HINT,
        ) from None


def require(kind: str) -> None:
    """Fail now (one line) if the library for ``kind`` (pdf/docx/pptx/xlsx) is missing."""
    module, package = LIBRARIES[kind]
    _library(module, package)


LIBRARIES = {
    "pdf": ("pypdf", "pypdf"),
    "docx": ("docx", "python-docx"),
    "pptx": ("pptx", "python-pptx"),
    "xlsx": ("openpyxl", "openpyxl"),
}


# -- PDF -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PdfPage:
    text: str
    images: int


def pdf_pages(data: bytes) -> list[PdfPage]:
    """Each page's text layer (pypdf's extraction, layout-free) and its number of images."""
    pypdf = _library("pypdf", "pypdf")
    if not data.startswith(PDF_MAGIC):
        raise DocumentError("not a PDF (it does not start with %PDF-)")
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # An empty user password opens many "protected" PDFs; others cannot be read.
            try:
                reader.decrypt("")
            except Exception as e:
                raise DocumentError(f"encrypted PDF: {e}") from None
        pages = []
        for page in reader.pages:
            text = page.extract_text() or ""
            try:
                images = len(page.images)
            except Exception:  # an image pypdf cannot decode still counts as unknown, not fatal
                images = 0
            pages.append(PdfPage(text=text, images=images))
    except DocumentError:
        raise
    except Exception as e:  # pypdf raises many types for malformed files
        raise DocumentError(f"unreadable PDF: {type(e).__name__}: {e}") from None
    return pages


def pdf_text(data: bytes) -> tuple[str, int]:
    """The whole text layer of a PDF (pages separated by a blank line) and its page count."""
    pages = pdf_pages(data)
    return "\n\n".join(p.text.strip() for p in pages), len(pages)


# -- Office formats --------------------------------------------------------------------------------


def _open(kind: str, data: bytes, opener: Any) -> Any:
    try:
        return opener(io.BytesIO(data))
    except Exception as e:  # zip / XML errors of a file that is not what its name says
        raise DocumentError(f"unreadable {kind} file: {type(e).__name__}: {e}") from None


def docx_text(data: bytes) -> str:
    """The paragraphs of a Word document, one per line (DocETL's docx_to_string)."""
    docx = _library("docx", "python-docx")
    doc = _open("docx", data, docx.Document)
    return "\n".join(p.text for p in doc.paragraphs)


def pptx_slides(data: bytes) -> list[list[str]]:
    """Per slide, the text of each shape that has text (DocETL's pptx_to_string)."""
    pptx = _library("pptx", "python-pptx")
    prs = _open("pptx", data, pptx.Presentation)
    return [
        [shape.text for shape in slide.shapes if getattr(shape, "has_text_frame", False)]
        for slide in prs.slides
    ]


def xlsx_sheets(data: bytes, *, data_only: bool = False) -> tuple[list[list[list[Any]]], int]:
    """Every sheet's rows of cell values, and the index of the active sheet.

    ``data_only``: a formula cell gives the value Excel last saved for it, else the formula.
    """
    openpyxl = _library("openpyxl", "openpyxl")
    wb = _open("xlsx", data, lambda f: openpyxl.load_workbook(f, data_only=data_only))
    sheets = [[list(row) for row in ws.iter_rows(values_only=True)] for ws in wb.worksheets]
    active = wb.worksheets.index(wb.active) if wb.active in wb.worksheets else 0
    return sheets, active


# -- a folder dataset's files ----------------------------------------------------------------------

FOLDER_SUFFIXES = frozenset({".pdf", ".docx", ".pptx", ".xlsx"})


def file_text(suffix: str, data: bytes) -> str:
    """The text of a document in a folder dataset, laid out as DocETL's ``read_dir`` does:
    PDF pages on separate lines, Word paragraphs per line, slides separated by a blank line,
    spreadsheet rows with tab-separated cells (every sheet, saved values)."""
    kind = suffix.lower().lstrip(".")
    if kind == "pdf":
        return "\n".join(p.text for p in pdf_pages(data))
    if kind == "docx":
        return docx_text(data)
    if kind == "pptx":
        return "\n\n".join("\n".join(texts) for texts in pptx_slides(data))
    if kind == "xlsx":
        sheets, _ = xlsx_sheets(data, data_only=True)
        return "\n".join(
            "\t".join("" if c is None else str(c) for c in row) for rows in sheets for row in rows
        )
    raise ValueError(f"not a document suffix: {suffix}")
