"""Which response to grade next: ``active``, ``random``, ``order`` (file order), ``uncertainty``.

The selection constrains *rates* over the graded sample (coverage, FFR), so which responses get
graded shapes the selection as much as their labels do. ``active`` is herding on the candidate
checks' verdicts: the next response is the one that brings the graded sample's per-check failure
rates closest to the whole pool's (one vector operation over the verdict matrix, no solver call),
so the rates the selection is solved on track the pool's from the first grades on. Exact ties go
to the highest boundary score (:func:`scores`: the chance the grade contradicts the current
selection near its FFR / coverage boundary, plus candidate checks disagreeing).

``uncertainty`` is the boundary score on its own, refined by an exact look-ahead (the selection
re-solved with the response graded good and graded bad, for the ``LOOKAHEAD`` best; 2 x
``LOOKAHEAD`` solves per grade, tens of milliseconds each with HiGHS). It was the first design
and is kept for comparison: it grades hard cases first, which skews the sample's rates, and
needed *more* grades than random on SPADE's pipelines (docs/benchmarks.md).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

import numpy as np

from llmassert.select.metrics import allowed_false, required_caught
from llmassert.synth.engine import conservative_tau

if TYPE_CHECKING:  # the session calls pick(); a strategy only reads the session it is given
    from llmassert.label.session import LabelSession

Strategy = Literal["active", "random", "order", "uncertainty"]
STRATEGIES: tuple[Strategy, ...] = ("active", "random", "order", "uncertainty")
# active: how many of the most representative responses compete on the boundary score. 1 (ties
# only) measured best: a shortlist of 5 gave up representativeness for boundary cases and
# needed more grades than random on finance and negotiation (docs/benchmarks.md).
SHORTLIST = 1
LOOKAHEAD = 3  # uncertainty: exact look-ahead solves (2 each) per grade
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
        return _representative(session, pending, SHORTLIST)
    if strategy == "uncertainty":
        return _uncertain(session, pending, LOOKAHEAD)
    raise ValueError(f"unknown strategy {strategy!r} (expected one of {', '.join(STRATEGIES)})")


def _representative(session: LabelSession, pending: list[str], shortlist: int) -> str:
    """Keep the graded sample representative of the pool on every check's failure rate; among
    the ``shortlist`` responses that do it best (and any tied with the best), take the one where
    it matters most to the selection.

    Herding: the response that brings the graded sample's per-check failure rates closest to
    the whole pool's. Coverage and FFR are rates over the graded sample, so a sample skewed
    toward some checks' failures skews the selection; herding removes the luck of the draw
    that random order leaves in.
    """
    keys = session.all_keys()
    fails = np.array([[1 - v for v in session.item(k).passes] for k in keys], dtype=float)
    if fails.size == 0:
        return pending[0]
    target = fails.mean(axis=0)
    index = {k: i for i, k in enumerate(keys)}
    labeled = [index[k] for k in keys if k in session.labels]
    total = fails[labeled].sum(axis=0) if labeled else np.zeros(fails.shape[1])
    rows = np.array([index[k] for k in pending])
    distance = (((total + fails[rows]) / (len(labeled) + 1) - target) ** 2).sum(axis=1)
    order = np.argsort(distance, kind="stable")
    cut = max(shortlist, int(np.sum(distance <= distance[order[0]] + 1e-12)))
    near = [pending[int(i)] for i in order[:cut]]
    scored = scores(session, near)
    return max(near, key=lambda k: scored[k][0])  # max keeps the closest among equal scores


def disagreement(passes: Iterable[int]) -> float:
    """4 p (1 - p), p the share of checks passing: 1 when they split evenly, 0 when unanimous."""
    values = list(passes)
    if not values:
        return 0.0
    p = sum(values) / len(values)
    return 4 * p * (1 - p)


def _fails(passes: tuple[int, ...], indices: tuple[int, ...]) -> bool:
    return any(passes[j] == 0 for j in indices)


def scores(session: LabelSession, pending: list[str]) -> dict[str, tuple[float, float]]:
    """key -> (cheap score, chance the response is good)."""
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
    tau_next = conservative_tau(t.tau, good + 1, t.ffr_confidence) if t.ffr_confidence else t.tau
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


def _uncertain(session: LabelSession, pending: list[str], lookahead: int) -> str:
    """The response most likely to contradict the current selection near its boundary (cheap
    score), refined by an exact look-ahead of the ``lookahead`` best: kept as ``uncertainty``
    for comparison — it skews the graded sample toward hard cases and needs more grades than
    random on SPADE's pipelines (docs/benchmarks.md, "Labeling (issue 14)")."""
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


__all__ = ["LOOKAHEAD", "SHORTLIST", "STRATEGIES", "Strategy", "disagreement", "pick", "scores"]
