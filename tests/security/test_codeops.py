"""Code operations under containment: every payload of cases_codeops.py ends as expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from security._case import Case
from security.cases_codeops import CASES, LAST


def test_every_class_is_covered() -> None:
    classes = {c.cls for c in CASES}
    assert classes == {
        "codeops-time",
        "codeops-memory",
        "codeops-spike",
        "codeops-imports",
        "helper-regex-hostile",
    }
    keys = [(c.cls, c.name) for c in CASES]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.cls}: {c.name}")
def test_payload(case: Case, tmp_path: Path) -> None:
    assert case.run(tmp_path) == case.expected, LAST
