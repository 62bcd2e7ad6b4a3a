"""Small text helpers for messages and reports (one place, so every count reads the same)."""

from __future__ import annotations


def plural(n: int, word: str, many: str | None = None) -> str:
    """``plural(1, "row")`` -> ``"1 row"``, ``plural(2, "row")`` -> ``"2 rows"``;
    ``many`` for irregular plurals (``plural(2, "criterion", "criteria")``)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"
