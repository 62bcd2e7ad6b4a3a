"""Files and secrets (issue 10, items 4-6): every case of ``cases_files.CASES`` ends in its
expected safe outcome, through real CLI runs on real files (see ``cases_files.py``)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from ._case import Case
from .cases_files import CASES


def test_the_table_covers_every_class_with_enough_payloads() -> None:
    per_class = Counter(c.cls for c in CASES)
    assert len(CASES) >= 35
    assert len({(c.cls, c.name) for c in CASES}) == len(CASES)
    for cls in (
        "user-files",
        "output-is-input",
        "umask",
        "journal-tamper",
        "concurrent-run",
        "secrets-in-artifacts",
        "secrets-in-errors",
        "malformed-input",
        "misplaced-output",
    ):
        assert per_class[cls] >= 3, cls
    assert {c.expected for c in CASES} <= {"refused", "contained"}


@pytest.mark.parametrize("case", CASES, ids=[f"{c.cls}/{c.name}" for c in CASES])
def test_case_ends_in_its_safe_outcome(case: Case, tmp_path: Path) -> None:
    assert case.run(tmp_path) == case.expected
