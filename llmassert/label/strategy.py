"""Which response to grade next: ``active``, ``random`` or ``order`` (file order).

``active`` asks for the grade most likely to change the selection, in two stages:

1. A cheap score for every pending response, no solver call: the chance its grade contradicts
   the current selection (a good response the selection fails, or a bad one it passes), weighted
   by how close that contradiction pushes the selection to its FFR / coverage boundary (where it
   must change), plus a small term for candidate checks disagreeing on it (which also drives the
   start, when there is no selection yet). The chance is the selection's own error rate on the
   labels so far (Laplace-smoothed), falling back to the share of checks failing the response.
2. An exact look-ahead for the ``LOOKAHEAD`` best of them: the selection re-solved with the
   response graded good and graded bad; the one whose expected change (selected-set difference,
   weighted by the chance of each grade) is largest wins, the cheap score breaking ties.

Stage 2 costs 2 x ``LOOKAHEAD`` solves per grade (tens of milliseconds each on SPADE's matrices
with HiGHS), which keeps the loop interactive; capping the look-ahead, not the candidates, keeps
every check in play.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Literal

from llmassert.select.metrics import allowed_false, required_caught
from llmassert.synth.engine import conservative_tau

if TYPE_CHECKING:
    from llmassert.label.session import LabelSession

Strategy = Literal["active", "random", "order"]
STRATEGIES: tuple[Strategy, ...] = ("active", "random", "order")
LOOKAHEAD = 3
DISAGREEMENT_WEIGHT = 0.1  # a tie-break and a cold start, never above a likely contradiction


def pick(session: LabelSession, strategy: str, rng: random.Random) -> str | None:
    pending = session.pending()
    if not pending:
        return None
    if strategy == "order":
        return pending[0]
    if strategy == "random":
        return rng.choice(pending)
    if strategy == "active":
        return _active(session, pending, LOOKAHEAD)
    raise ValueError(f"unknown strategy {strategy!r} (expected one of {', '.join(STRATEGIES)})")


def _fails(passes: tuple[int, ...], indices: tuple[int, ...]) -> bool:
    return any(passes[j] == 0 for j in indices)


def scores(session: LabelSession, pending: list[str]) -> dict[str, tuple[float, float]]:
    """key -> (cheap score, chance the response is good)."""
    from llmassert.label.session import disagreement

    chosen = session.chosen()
    M, y = session.labeled_rows()
    idx = chosen.indices
    fails = [_fails(row, idx) for row in M]
    # The selection as a classifier: how often it errs, on each side, on the labels so far.
    good_when_failed = (sum(1 for f, v in zip(fails, y, strict=True) if f and v) + 1) / (
        sum(fails) + 2
    )
    bad_when_passed = (sum(1 for f, v in zip(fails, y, strict=True) if not f and not v) + 1) / (
        len(fails) - sum(fails) + 2
    )
    good = sum(y)
    bad = len(y) - good
    false = sum(1 for f, v in zip(fails, y, strict=True) if f and v)
    caught = sum(1 for f, v in zip(fails, y, strict=True) if f and not v)
    t = session.targets
    tau_next = (
        conservative_tau(t.tau, good + 1, t.ffr_confidence) if t.ffr_confidence else t.tau
    )
    # Slack left after one more contradiction; below zero the selection has to change.
    ffr_slack = allowed_false(tau_next, good + 1) - (false + 1)
    cov_slack = caught - required_caught(chosen.alpha_used or t.alpha, bad + 1)
    out: dict[str, tuple[float, float]] = {}
    for key in pending:
        passes = session.item(key).passes
        share_failing = 1 - sum(passes) / len(passes) if passes else 0.5
        if idx:
            failed = _fails(passes, idx)
            p_good = good_when_failed if failed else 1 - bad_when_passed
        else:
            failed = False
            p_good = 1 - share_failing
        if failed:
            contradiction, slack = p_good, ffr_slack
        else:
            contradiction, slack = 1 - p_good, cov_slack
        weight = 1.0 if slack < 0 else 1 / (2 + slack)
        score = contradiction * weight + DISAGREEMENT_WEIGHT * disagreement(passes)
        out[key] = (score, p_good)
    return out


def _active(session: LabelSession, pending: list[str], lookahead: int) -> str:
    scored = scores(session, pending)
    # Stable order: highest score first, file order among equals (reproducible runs).
    ranked = sorted(pending, key=lambda k: -scored[k][0])
    if lookahead <= 0 or not session.checks:
        return ranked[0]
    current = set(session.chosen().indices)
    best, best_change = ranked[0], -1.0
    for key in ranked[:lookahead]:
        p_good = scored[key][1]
        if_good = set(session.chosen_with(key, 1).indices)
        if_bad = set(session.chosen_with(key, 0).indices)
        change = p_good * len(if_good ^ current) + (1 - p_good) * len(if_bad ^ current)
        if change > best_change + 1e-12:
            best, best_change = key, change
    return best


__all__ = ["LOOKAHEAD", "STRATEGIES", "Strategy", "pick", "scores"]
