"""Bounds on any thread: every payload of cases_threads.py ends as expected in each context."""

from __future__ import annotations

from pathlib import Path

import pytest

from security._case import Case
from security.cases_threads import CASES, LAST


def test_every_payload_runs_in_three_contexts() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    assert sum(n.endswith("[thread]") for n in names) >= 18


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.cls}: {c.name}")
def test_payload(case: Case, tmp_path: Path) -> None:
    assert case.run(tmp_path) == case.expected, LAST
