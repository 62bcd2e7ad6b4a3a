"""Constraint checks on the full matrix, straight from the definitions (no presolve, no ILP).

``select()`` runs them on every answer before returning it: a selection that breaks its own
constraints would be a solver or presolve bug, and must never reach a user.
"""

from __future__ import annotations

import numpy as np

from llmassert.select.arrays import Arrays, rows_hit
from llmassert.select.metrics import allowed_false, required_caught


def violations(
    arrays: Arrays,
    indices: list[int],
    method: str,
    alpha: float,
    tau: float,
    *,
    sub_rule: str = "exemption",
) -> list[str]:
    """The constraints of ``cov``/``sub`` that the selection breaks (empty: feasible).
    Lexicographic ``sub`` has the constraints of ``cov`` (its subsumption is an objective)."""
    if arrays.good is None or method not in ("cov", "sub"):
        return []
    selected = np.zeros(arrays.n, dtype=bool)
    selected[indices] = True
    fail_good, fail_bad = arrays.fail[arrays.good], arrays.fail[~arrays.good]
    ceiling = allowed_false(tau, len(fail_good))
    failed = rows_hit(fail_good, selected)
    problems = []
    if int(rows_hit(fail_bad, selected).sum()) < required_caught(alpha, len(fail_bad)):
        problems.append(f"coverage below {alpha:g}")
    if int(failed.sum()) > ceiling:
        problems.append(f"FFR above {tau:g}")
    if method == "sub" and sub_rule == "exemption":
        subsumed = (
            np.asarray(arrays.subsumes[selected].any(axis=0), dtype=bool)
            if arrays.subsumes is not None
            else np.zeros(arrays.n, dtype=bool)
        )
        # adding b fails the good rows already failed plus b's own new ones
        with_b = int(failed.sum()) + fail_good[~failed].sum(axis=0)
        loose = ~selected & ~subsumed & (with_b <= ceiling)
        if loose.any():
            problems.append(f"{int(loose.sum())} assertion(s) not selected, subsumed or exempt")
    return problems


__all__ = ["violations"]
