"""The model-cascade decision engine (DocETL's filter ``cascade``), sans-IO.

A cheap *proxy* scores every item with P(positive); an expensive *oracle* labels a uniform
random sample; from the sample the engine picks proxy thresholds so that the chosen guarantee
holds with probability at least ``1 - delta`` (DocETL delegates this to BARGAIN; this is our own
implementation of the same idea with classical order-statistic and Clopper-Pearson bounds):

* ``recall`` — items with score below ``t`` are negative, the rest positive.  ``t`` is the
  r-th smallest score among the sampled oracle positives, with r the largest integer such that
  ``P(Binomial(m, 1 - target) <= r - 1) <= delta`` (m sampled positives): then the share of all
  positives scoring below ``t`` exceeds ``1 - target`` with probability at most ``delta``.
* ``precision`` — items with score at least ``t`` are positive, the rest negative.  Candidate
  thresholds (a grid of sample quantiles) are tested from the highest down with the one-sided
  Clopper-Pearson lower bound of the sampled precision above them; the first that fails stops
  the sequence (fixed-sequence testing: no multiplicity correction needed).
* ``accuracy`` — the proxy's own answer (score >= 0.5) is trusted where its confidence
  ``max(p, 1 - p)`` reaches ``t`` (chosen like precision, on the sampled agreement); the rest are
  *escalated* to the oracle, whose answers are right by definition.
* ``precision+recall`` — a recall threshold below which items are negative and a precision
  threshold above which they are positive (``delta / 2`` each); the band between is escalated.

Sampled items always take the oracle's label.  The bounds treat the sample as i.i.d. draws
(the usual approximation for sampling without replacement); they hold whatever the proxy's
score quality is — a poor proxy only means more escalation or a looser threshold.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Guarantee = Literal["accuracy", "precision", "recall", "precision+recall"]
Decision = Literal["positive", "negative", "escalate"]
GRID = 20  # candidate thresholds for precision / accuracy (DocETL's n_thresholds)


class CascadeSpec(BaseModel):
    """DocETL's ``cascade:`` block (filter, resolve, equijoin); unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")

    proxy_model: str = Field(min_length=1, description="The cheap model that scores every item.")
    guarantee: Guarantee | None = Field(
        None, description="Default: recall for filter, precision for resolve / equijoin."
    )
    target: float = Field(gt=0, lt=1, description="Target value of the guarantee metric.")
    delta: float = Field(0.05, gt=0, lt=1, description="The guarantee holds w.p. 1 - delta.")
    label_budget: int = Field(400, gt=0, description="Oracle answers spent on the sample.")


def seed_of(name: str) -> int:
    """The sampling seed of an operation: the same items are sampled on every run."""
    import hashlib

    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)


def sample_indices(n: int, budget: int, seed: int) -> list[int]:
    """A uniform sample of ``min(budget, n)`` item indices (sorted; the same for a seed)."""
    k = min(budget, n)
    return sorted(random.Random(seed).sample(range(n), k))


def binom_cdf(k: int, n: int, p: float) -> float:
    """P(Binomial(n, p) <= k)."""
    if k < 0:
        return 0.0
    if k >= n or p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    lp, lq = math.log(p), math.log1p(-p)
    total = 0.0
    for i in range(k + 1):
        total += math.exp(
            math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq
        )
    return min(1.0, total)


def lower_bound(successes: int, n: int, delta: float) -> float:
    """One-sided Clopper-Pearson lower confidence bound (level ``1 - delta``) of a proportion."""
    if n == 0 or successes == 0:
        return 0.0
    lo, hi = 0.0, successes / n
    for _ in range(60):  # bisection: P(Bin(n, p) >= successes) = delta
        mid = (lo + hi) / 2
        if 1.0 - binom_cdf(successes - 1, n, mid) < delta:
            lo = mid
        else:
            hi = mid
    return lo


def recall_threshold(positive_scores: Sequence[float], target: float, delta: float) -> float:
    """The score below which items may be called negative (``-inf``: keep everything)."""
    m = len(positive_scores)
    r = 0
    while r < m and binom_cdf(r, m, 1.0 - target) <= delta:
        r += 1
    return sorted(positive_scores)[r - 1] if r > 0 else -math.inf


def _candidates(values: Sequence[float]) -> list[float]:
    """Up to GRID distinct thresholds taken from the sampled values, highest first."""
    distinct = sorted(set(values), reverse=True)
    if len(distinct) <= GRID:
        return distinct
    step = (len(distinct) - 1) / (GRID - 1)
    return sorted({distinct[round(i * step)] for i in range(GRID)}, reverse=True)


def fixed_sequence_threshold(
    values: Sequence[float], correct: Sequence[bool], target: float, delta: float
) -> float:
    """Lowest threshold whose sampled success rate above it is certified ``>= target``.

    ``values[i]`` is a sampled item's score, ``correct[i]`` whether it counts as a success
    (a true positive for precision, an agreeing proxy answer for accuracy); ``inf``: none.
    """
    chosen = math.inf
    for t in _candidates(values):
        above = [c for v, c in zip(values, correct, strict=True) if v >= t]
        if lower_bound(sum(above), len(above), delta) < target:
            break
        chosen = t
    return chosen


@dataclass
class CascadePlan:
    """Per item: positive / negative / escalate, and the thresholds that decided it."""

    decisions: list[Decision]
    thresholds: dict[str, float] = field(default_factory=dict)


def fit_logistic(x: Sequence[Sequence[float]], y: Sequence[bool]) -> list[float]:
    """Weights (bias last) of an L2-regularized (C = 1), class-balanced logistic regression.

    Newton's method (IRLS) on the convex loss: the embedding proxy's scoring head, as DocETL
    fits with scikit-learn's ``LogisticRegression(class_weight="balanced")``.
    """
    import numpy as np

    a = np.hstack([np.asarray(x, dtype=float), np.ones((len(x), 1))])
    t = np.asarray(y, dtype=float)
    pos = max(1.0, float(t.sum()))
    neg = max(1.0, float(len(t) - t.sum()))
    sw = np.where(t == 1, len(t) / (2 * pos), len(t) / (2 * neg))
    reg = np.eye(a.shape[1])
    reg[-1, -1] = 0.0  # the bias is not penalized
    w = np.zeros(a.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(a @ w, -30, 30)))
        grad = a.T @ (sw * (p - t)) + reg @ w
        hess = (a * (sw * p * (1 - p))[:, None]).T @ a + reg
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return [float(v) for v in w]


def logistic_scores(x: Sequence[Sequence[float]], w: Sequence[float]) -> list[float]:
    """P(positive) of each row under :func:`fit_logistic`'s weights."""
    import numpy as np

    a = np.hstack([np.asarray(x, dtype=float), np.ones((len(x), 1))])
    return [float(v) for v in 1 / (1 + np.exp(-np.clip(a @ np.asarray(w), -30, 30)))]


def decide(
    scores: Sequence[float | None],
    sampled: dict[int, bool],
    guarantee: Guarantee,
    target: float,
    delta: float,
    fixed: dict[int, bool] | None = None,
) -> CascadePlan:
    """Decide every item from proxy ``scores`` (P(positive); None: the proxy failed) and the
    oracle's labels of the ``sampled`` items (index -> label).  Sampled items are decided by
    their label; items without a proxy score are escalated.  ``fixed``: oracle labels that
    decide their items but take no part in the thresholds (the embedding proxy's training
    rows: they are not a fresh sample)."""
    known = {i: s for i, s in sampled.items()}
    scored = [(i, s) for i, s in known.items() if scores[i] is not None]
    thresholds: dict[str, float] = {}

    def score(i: int) -> float:
        s = scores[i]
        assert s is not None
        return s

    if guarantee in ("recall", "precision+recall"):
        d = delta / 2 if guarantee == "precision+recall" else delta
        thresholds["recall"] = recall_threshold([score(i) for i, y in scored if y], target, d)
    if guarantee in ("precision", "precision+recall"):
        d = delta / 2 if guarantee == "precision+recall" else delta
        thresholds["precision"] = fixed_sequence_threshold(
            [score(i) for i, _ in scored], [y for _, y in scored], target, d
        )
    if guarantee == "accuracy":
        thresholds["accuracy"] = fixed_sequence_threshold(
            [max(score(i), 1 - score(i)) for i, _ in scored],
            [(score(i) >= 0.5) == y for i, y in scored],
            target,
            delta,
        )

    known.update(fixed or {})
    decisions: list[Decision] = []
    for i, s in enumerate(scores):
        if i in known:
            decisions.append("positive" if known[i] else "negative")
        elif s is None:
            decisions.append("escalate")
        elif guarantee == "recall":
            decisions.append("negative" if s < thresholds["recall"] else "positive")
        elif guarantee == "precision":
            decisions.append("positive" if s >= thresholds["precision"] else "negative")
        elif guarantee == "accuracy":
            if max(s, 1 - s) >= thresholds["accuracy"]:
                decisions.append("positive" if s >= 0.5 else "negative")
            else:
                decisions.append("escalate")
        else:
            low = thresholds["recall"]
            high = max(thresholds["precision"], low)
            if s < low:
                decisions.append("negative")
            elif s >= high:
                decisions.append("positive")
            else:
                decisions.append("escalate")
    return CascadePlan(decisions, thresholds)


@dataclass
class CascadeRun:
    """What a cascade decided: items the oracle answered, the proxy's verdicts on the rest."""

    asked: list[int]
    proxy_verdicts: dict[int, bool]
    thresholds: dict[str, float]
    escalated: int
    proxy_scored: int

    def meta(self, guarantee: str, target: float, delta: float, proxy_model: str) -> dict[str, Any]:
        """The lineage entry of a cascade (thresholds ±inf shown as null)."""
        return {
            "guarantee": guarantee,
            "target": target,
            "delta": delta,
            "proxy_model": proxy_model,
            "proxy_scored": self.proxy_scored,
            "oracle_calls": len(self.asked),
            "oracle_escalated": self.escalated,
            "served_by_proxy": len(self.proxy_verdicts),
            "thresholds": {
                k: (v if math.isfinite(v) else None) for k, v in self.thresholds.items()
            },
        }


Oracle = Callable[[list[int]], Awaitable[dict[int, bool | None]]]


async def run_binary(
    n: int,
    *,
    guarantee: Guarantee,
    target: float,
    delta: float,
    label_budget: int,
    seed: int,
    oracle: Oracle,
    proxy: Callable[[int], Awaitable[float | None]] | None = None,
    embed: Callable[[], Awaitable[list[list[float]]]] | None = None,
) -> CascadeRun:
    """Drive a binary cascade over ``n`` items (IO stays in the callables).

    ``oracle(indices)`` answers items (None: its answer failed its checks, no label);
    ``proxy(i)`` is a chat proxy's P(positive), or ``embed()`` the embedding proxy's vectors
    (then a logistic head is fitted on an oracle-labeled slice of half the budget, at most 200
    rows, and the threshold sample is drawn from the other rows, as DocETL does).
    """
    asked: dict[int, bool | None] = {}
    fixed: dict[int, bool] = {}
    if embed is not None:
        train = sample_indices(n, min(max(label_budget // 2, 1), 200, n), seed)
        asked.update(await oracle(train))
        fixed = {i: v for i, v in asked.items() if v is not None}
        if len(set(fixed.values())) < 2:
            # One class only: no head can be fitted; every item goes to the oracle.
            rest = [i for i in range(n) if i not in asked]
            asked.update(await oracle(rest))
            return CascadeRun(sorted(asked), {}, {}, len(rest), 0)
        vectors = await embed()
        labeled = sorted(fixed)
        weights = fit_logistic([vectors[i] for i in labeled], [fixed[i] for i in labeled])
        scores: list[float | None] = list(logistic_scores(vectors, weights))
        others = [i for i in range(n) if i not in asked]
        picks = sample_indices(len(others), max(label_budget - len(train), 10), seed + 1)
        sample = [others[j] for j in picks]
    else:
        assert proxy is not None
        scores = list(await asyncio.gather(*(proxy(i) for i in range(n))))
        sample = sample_indices(n, label_budget, seed)
    asked.update(await oracle(sample))
    labels = {i: v for i, v in asked.items() if v is not None and i not in fixed}
    plan = decide(scores, labels, guarantee, target, delta, fixed)
    escalate = [i for i, d in enumerate(plan.decisions) if d == "escalate" and i not in asked]
    asked.update(await oracle(escalate))
    verdicts = {i: plan.decisions[i] == "positive" for i in range(n) if i not in asked}
    return CascadeRun(
        sorted(asked), verdicts, plan.thresholds, len(escalate), sum(s is not None for s in scores)
    )
