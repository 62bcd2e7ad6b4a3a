"""Fixtures for guard tests: an assertion module on disk and a failure log path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

CHECKS = textwrap.dedent('''
    from llmassert.assertions.helpers import word_count


    def max_words(example, response):
        """Answer in at most {max_words} words."""
        return word_count(response) <= int(example.get("max_words", 10))


    def no_sorry(example, response):
        """Never apologize."""
        return "sorry" not in response.lower()


    def fix_no_sorry(example, response):
        return response.replace("Sorry, ", "").replace("sorry", "")
''')


@pytest.fixture
def checks_path(tmp_path: Path) -> Path:
    path = tmp_path / "checks.py"
    path.write_text(CHECKS, encoding="utf-8")
    return path


@pytest.fixture
def failure_log(tmp_path: Path) -> Path:
    return tmp_path / "logs" / "failures.jsonl"
