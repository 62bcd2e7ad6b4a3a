"""Dataset ``parsing`` tools over real files: txt, docx, pptx, xlsx written with their libraries,
PDFs written by hand; refused tools say why in one line, before any call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import docx
import openpyxl
import pptx
import pytest
from pipeline_kit import chat_requests, read_json, run_pipeline, write_pipeline

from llmassert.config import Settings
from llmassert.errors import InputError, SpecError
from llmassert.pipeline.runner import Runner, RunOptions
from llmassert.pipeline.spec import load_pipeline
from llmassert.testing.documents import make_pdf
from llmassert.testing.fake_server import FakeLLMServer

PIPELINE = """\
default_model: openai/fake-model
datasets:
  files:
    type: file
    path: data.json
    parsing: PARSING
operations:
  - name: keep
    type: code_map
    code: |
      def transform(doc):
          return {}
pipeline:
  steps:
    - {name: s, input: files, operations: [keep]}
  output: {type: file, path: out.json}
"""


@pytest.fixture
def parse(llm_settings: Settings) -> Any:
    """Run the pipeline (a code_map: no LLM call) over ``rows`` parsed by ``parsing``."""

    def run(tmp_path: Path, rows: list[dict[str, Any]], parsing: list[dict[str, Any]]) -> Any:
        text = PIPELINE.replace("PARSING", json.dumps(parsing))
        run_pipeline(write_pipeline(tmp_path, text, rows), llm_settings)
        return read_json(tmp_path / "out.json")

    return run


def prepare(tmp_path: Path, rows: list[dict[str, Any]], parsing: list[dict[str, Any]]) -> None:
    text = PIPELINE.replace("PARSING", json.dumps(parsing))
    path = write_pipeline(tmp_path, text, rows)
    Runner(load_pipeline(path), Settings(model="openai/fake-model"), RunOptions()).prepare()


def test_txt_and_docx_become_text_in_the_row(tmp_path: Path, parse: Any) -> None:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "a.txt").write_text("plain notes\nline two\n")
    document = docx.Document()
    document.add_paragraph("Board minutes")
    document.add_paragraph("The budget was approved.")
    document.save(str(tmp_path / "files" / "b.docx"))
    out = parse(
        tmp_path,
        [{"id": 1, "note": "files/a.txt", "memo": "files/b.docx"}],
        [
            {"function": "txt_to_string", "input_key": "note", "output_key": "note_text"},
            {"function": "docx_to_string", "input_key": "memo", "output_key": "memo_text"},
        ],
    )
    assert out == [
        {
            "id": 1,
            "note": "files/a.txt",
            "memo": "files/b.docx",
            "note_text": "plain notes\nline two\n",
            "memo_text": "Board minutes\nThe budget was approved.",
        }
    ]


def _deck(path: Path) -> None:
    prs = pptx.Presentation()
    for title, body in (("Roadmap", "Ship v2 in May"), ("Risks", "Hiring is slow")):
        slide = prs.slides.add_slide(prs.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    prs.save(str(path))


def test_pptx_whole_deck_or_one_row_per_slide(tmp_path: Path, parse: Any) -> None:
    _deck(tmp_path / "deck.pptx")
    whole = parse(tmp_path, [{"id": 1, "text": "deck.pptx"}], [{"function": "pptx_to_string"}])
    assert [r["text"] for r in whole] == ["Roadmap\nShip v2 in May\nRisks\nHiring is slow"]
    per_slide = parse(
        tmp_path,
        [{"id": 1, "text": "deck.pptx"}],
        [{"function": "pptx_to_string", "doc_per_slide": True}],
    )
    assert per_slide == [
        {"id": 1, "text": "Roadmap\nShip v2 in May"},
        {"id": 1, "text": "Risks\nHiring is slow"},
    ]


def _workbook(path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Q1"
    ws.append(["Product", "Units", "Region"])
    ws.append(["Router", 12, "EU"])
    ws.append(["Phone", 7, None])
    other = wb.create_sheet("Q2")
    other.append(["Product", "Units"])
    other.append(["Bulb", 30])
    wb.save(str(path))


def test_xlsx_orientations_column_order_and_sheets(tmp_path: Path, parse: Any) -> None:
    _workbook(tmp_path / "sales.xlsx")
    row = [{"id": 1, "sheet": "sales.xlsx"}]
    cols = parse(tmp_path, row, [{"function": "xlsx_to_string", "input_key": "sheet"}])
    # DocETL's column layout (an empty cell prints as None, as there).
    assert cols[0]["text"] == "Product: Router\nPhone\n\nUnits: 12\n7\n\nRegion: EU\nNone\n"
    rows = parse(
        tmp_path,
        row,
        [
            {
                "function": "xlsx_to_string",
                "input_key": "sheet",
                "function_kwargs": {"orientation": "row", "col_order": ["Units", "Product"]},
            }
        ],
    )
    assert rows[0]["text"] == "Units: 12 | Product: Router\nUnits: 7 | Product: Phone"
    sheets = parse(
        tmp_path,
        row,
        [
            {
                "function": "xlsx_to_string",
                "input_key": "sheet",
                "orientation": "row",
                "doc_per_sheet": True,
            }
        ],
    )
    assert [r["text"] for r in sheets] == [
        "Product: Router | Units: 12 | Region: EU\nProduct: Phone | Units: 7 | Region: None",
        "Product: Bulb | Units: 30",
    ]


def test_pdf_text_layer_per_page_and_pages_that_need_ocr(tmp_path: Path, parse: Any) -> None:
    (tmp_path / "r.pdf").write_bytes(make_pdf(["Receipt 42", "Total 9.50"]))
    (tmp_path / "scan.pdf").write_bytes(make_pdf(["Cover", ""]))
    pages = parse(
        tmp_path,
        [{"id": 1, "pdf": "r.pdf"}],
        [
            {
                "function": "paddleocr_pdf_to_string",
                "input_key": "pdf",
                "output_key": "receipt",
                "doc_per_page": True,
            }
        ],
    )
    assert [r["receipt"] for r in pages] == [
        "Page 1:\nText:\nReceipt 42\n\nImages:\n\n",
        "Page 2:\nText:\nTotal 9.50\n\nImages:\n\n",
    ]
    # A page with no text layer would need OCR: an error naming the file and page...
    ocr = [{"function": "paddleocr_pdf_to_string", "input_key": "pdf"}]
    with pytest.raises(InputError, match=r"data.json: \[0\].pdf: .*scan.pdf: page 2 has no text"):
        prepare(tmp_path, [{"id": 1, "pdf": "scan.pdf"}], ocr)
    # ... unless OCR is off, as in DocETL.
    off = parse(tmp_path, [{"id": 1, "pdf": "scan.pdf"}], [{**ocr[0], "ocr_enabled": False}])
    assert (
        off[0]["text"].startswith("Page 1:\nText:\nCover\n")
        and "Page 2:\nText:\n\n" in (off[0]["text"])
    )


def test_parsed_text_reaches_the_prompt(
    tmp_path: Path, llm_server: FakeLLMServer, llm_settings: Settings
) -> None:
    document = docx.Document()
    document.add_paragraph("Incident: the VPN dropped twice.")
    document.save(str(tmp_path / "inc.docx"))
    text = PIPELINE.replace("PARSING", json.dumps([{"function": "docx_to_string"}])).replace(
        """    type: code_map
    code: |
      def transform(doc):
          return {}""",
        """    type: map
    prompt: "Summarize: {{ input.text }}"
    output: {schema: {summary: string}}""",
    )
    run_pipeline(write_pipeline(tmp_path, text, [{"text": "inc.docx"}]), llm_settings)
    [req] = chat_requests(llm_server)
    assert "Summarize: Incident: the VPN dropped twice." in json.dumps(req.body)


@pytest.mark.parametrize(
    ("parsing", "message"),
    [
        (
            [{"function": "azure_di_read", "use_url": True}],
            "parsing tool 'azure_di_read': needs Azure Document Intelligence, a cloud service",
        ),
        ([{"function": "whisper_speech_to_text"}], "needs a speech-to-text model service"),
        ([{"function": "gptpdf_to_string"}], "needs an LLM vision service"),
        ([{"function": "pdf_to_txt"}], "unknown parsing tool 'pdf_to_txt'"),
        ([{"function": "docx_to_string", "doc_per_sheet": True}], "does not take 'doc_per_sheet'"),
        ([{"function": "txt_to_string", "inputkey": "x"}], "inputkey"),
    ],
)
def test_refused_tools_say_why_in_one_line(
    tmp_path: Path, parsing: list[dict[str, Any]], message: str
) -> None:
    path = write_pipeline(
        tmp_path, PIPELINE.replace("PARSING", json.dumps(parsing)), [{"text": "x"}]
    )
    with pytest.raises(SpecError) as e:
        load_pipeline(path)
    assert message in str(e.value)
    assert "datasets.files.parsing" in str(e.value)
    assert "\n" not in str(e.value)


def test_user_defined_parsing_functions_are_refused(tmp_path: Path) -> None:
    text = "parsing_tools:\n  - name: f\n    function_code: 'def f(d): return [d]'\n" + PIPELINE
    path = write_pipeline(tmp_path, text.replace("PARSING", "[{function: f}]"), [{"text": "x"}])
    with pytest.raises(SpecError, match="parsing_tools: user-defined parsing functions"):
        load_pipeline(path)


def test_a_missing_file_names_the_dataset_row_and_key(tmp_path: Path) -> None:
    with pytest.raises(InputError) as e:
        prepare(
            tmp_path,
            [{"doc": "here.txt"}, {"doc": "gone.txt"}],
            [{"function": "txt_to_string", "input_key": "doc"}],
        )
    assert "data.json: [0].doc" in str(e.value) and "does not exist" in str(e.value)
    (tmp_path / "here.txt").write_text("ok")
    docx.Document().save(str(tmp_path / "fine.docx"))
    (tmp_path / "gone.docx").write_text("not a zip")
    with pytest.raises(InputError, match=r"\[1\].doc: docx_to_string: .*unreadable docx"):
        prepare(
            tmp_path,
            [{"doc": "fine.docx"}, {"doc": "gone.docx"}],
            [{"function": "docx_to_string", "input_key": "doc", "output_key": "t"}],
        )


def test_a_folder_dataset_reads_documents_like_docetl_read_dir(tmp_path: Path) -> None:
    from llmassert.pipeline.datasets import load_dataset

    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "a.txt").write_text("plain")
    (folder / "b.pdf").write_bytes(make_pdf(["Invoice 7", "Paid"]))
    document = docx.Document()
    document.add_paragraph("Memo one")
    document.save(str(folder / "c.docx"))
    _deck(folder / "d.pptx")
    _workbook(folder / "e.xlsx")
    (folder / "f.bin").write_bytes(b"\x00\xff\x00 binary")
    rows, _ = load_dataset(folder)
    texts = {r["filename"]: r["text"] for r in rows}
    assert set(texts) == {"a.txt", "b.pdf", "c.docx", "d.pptx", "e.xlsx"}  # f.bin skipped
    assert texts["b.pdf"] == "Invoice 7\n\nPaid\n"  # pages joined by a newline, as DocETL
    assert texts["c.docx"] == "Memo one"
    assert texts["d.pptx"] == "Roadmap\nShip v2 in May\n\nRisks\nHiring is slow"
    assert (
        texts["e.xlsx"]
        == "Product\tUnits\tRegion\nRouter\t12\tEU\nPhone\t7\t\nProduct\tUnits\nBulb\t30"
    )
    (folder / "g.pdf").write_bytes(b"%PDF-1.4 truncated")
    with pytest.raises(InputError, match=r"g.pdf: unreadable PDF"):
        load_dataset(folder)
