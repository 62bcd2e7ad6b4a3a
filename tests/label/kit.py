"""A small prompt history and responses written for these tests."""

from __future__ import annotations

import json
from pathlib import Path

V1 = "Summarize the support ticket {ticket}."
V2 = (
    "Summarize the support ticket {ticket}.\n"
    "Use at most 3 bullet points.\n"
    "Never mention the word refund."
)

RESPONSES = [
    ({"ticket": "Login fails"}, "- User cannot log in\n- Error 500"),
    ({"ticket": "Login fails"}, "- User cannot log in\n- Asked for a refund\n- a\n- b\n- c"),
    ({"ticket": "Slow page"}, "- Page is slow"),
    ({"ticket": "Slow page"}, "The page is slow and they want a refund."),
    ({"ticket": "Broken export"}, "- Export fails\n- CSV empty"),
    ({"ticket": "Broken export"}, "- one\n- two\n- three\n- four\n- five"),
]


def write_prompt(root: Path) -> Path:
    folder = root / "tickets"
    folder.mkdir(parents=True)
    (folder / "v1.txt").write_text(V1)
    (folder / "v2.txt").write_text(V2)
    return folder


def write_responses(path: Path) -> Path:
    path.write_text("".join(json.dumps({"input": i, "response": r}) + "\n" for i, r in RESPONSES))
    return path
