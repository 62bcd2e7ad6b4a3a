"""Shrink a selection problem before the ILP, without changing its optimum.

Every reduction here keeps the optimal count *and* the tie-break among optimal sets:

- An assertion whose own FFR exceeds tau can never be selected (a set fails every good response
  any member fails), so its column goes. Under ``sub`` its own requirement is vacuous too: adding
  it always breaks the FFR ceiling, which is exactly SPADE's exemption.
- ``cov``: assertion ``b`` is dropped when a more preferred ``a`` catches every bad response ``b``
  catches and fails no good response ``b`` passes (swapping ``b`` for ``a`` keeps any solution
  feasible and no worse), and when it catches no bad response at all. Identical columns are the
  special case of mutual dominance: the most preferred copy stays.
- ``sub``: a dominated ``b`` may still matter for subsumption and, through the FFR exemption, its
  good-response failures matter to other assertions. ``b`` is dropped only when a more preferred
  ``a`` has the *same* good-response failures, catches every bad response ``b`` catches, subsumes
  ``b`` and subsumes every other assertion ``b`` subsumes. ``b``'s own requirement stays.
- ``sub`` (lexicographic, the default): ``b`` is dropped when a more preferred ``a`` catches every
  bad response ``b`` catches, fails no good response ``b`` passes, subsumes ``b`` and subsumes
  every other assertion ``b`` subsumes (the swap keeps every objective at least as good). An
  assertion that fails no good response not already failed must be represented (selected or
  subsumed) in every optimum — adding it would otherwise lower the unsubsumed count — so it
  becomes a hard cover row, and a forced selection when one column alone can represent it.
- Responses that no remaining assertion fails are dropped (they still count in the coverage and
  FFR denominators); identical responses are merged into one weighted row. When every remaining
  assertion together fails no more good responses than tau allows, the FFR ceiling cannot bind:
  ``budget`` is None and no FFR row is written (the good rows stay: the tie-break counts them).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from llmassert.select.arrays import Arrays, BoolArray, IntArray
from llmassert.select.metrics import allowed_false, required_caught
from llmassert.select.selection import PresolveStats

# Columns per block in the pairwise dominance products: bounds memory at 5,000+ assertions.
_BLOCK = 1024


@dataclass(frozen=True)
class Requirement:
    """SPADE_sub for one assertion: selected, subsumed by a selected one, or exempt.

    Exempt means adding the assertion to the selection would push the FFR above tau, i.e. the
    selection's weighted good failures outside ``good_rows`` reach ``room``.
    """

    own: int  # reduced column of the assertion itself; -1 when presolve removed it
    by: IntArray  # reduced columns that subsume it
    good_rows: IntArray  # reduced good rows it fails
    room: int | None  # failures still needed for exemption; None: exemption impossible


@dataclass(frozen=True)
class Targets:
    """Lexicographic ``sub``: which assertions the selection must or should represent.

    An assertion is *represented* when it is selected or a selected assertion subsumes it; its
    representers are the reduced columns that would do so. ``soft[t]`` lists the representers of
    ``weight[t]`` assertions (merged when they share them): the first objective maximizes the
    weight represented. ``hard`` rows must be represented (see the module docstring).
    ``constant`` counts assertions whose fate presolve already decided: ``(represented, not)``.
    """

    soft: list[IntArray]
    weight: IntArray
    hard: list[IntArray]
    represented: int  # by forced columns or hard rows
    unrepresentable: int  # nothing selectable represents them


@dataclass(frozen=True)
class Reduced:
    cols: IntArray  # original column of each reduced column
    # Tie-break rank of each reduced column: the original ranks, never renumbered, because the
    # tie-break minimizes their sum and sums do not survive renumbering.
    rank: IntArray
    bad: BoolArray  # (bad rows, nc): True where the column fails the row
    bad_w: IntArray  # responses merged into each bad row
    need: int  # weighted bad rows the selection must catch
    good: BoolArray  # (good rows, nc)
    good_w: IntArray
    budget: int | None  # weighted good rows the selection may fail; None: cannot bind
    requirements: list[Requirement]
    stats: PresolveStats
    forced: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))  # always selected
    targets: Targets | None = None  # lexicographic sub only

    @property
    def nc(self) -> int:
        return len(self.cols)


def reduce(
    arrays: Arrays,
    *,
    method: str,
    tau: float,
    alpha: float | None,
    presolve: bool = True,
    sub_rule: str = "exemption",
) -> Reduced:
    """The (possibly presolved) problem for ``cov``/``sub``; ``alpha=None`` for max coverage.

    ``sub_rule`` picks what ``sub`` means: "exemption" (requirements with SPADE's exemption) or
    "lexicographic" (representation targets, :class:`Targets`)."""
    if arrays.good is None:
        raise ValueError("reduce() needs labels")
    if method == "sub" and sub_rule == "lexicographic":
        return _reduce_lexicographic(arrays, tau, alpha, presolve)
    sub = method == "sub"
    fail_good, fail_bad = arrays.fail[arrays.good], arrays.fail[~arrays.good]
    budget = allowed_false(tau, len(fail_good))
    need = 0 if alpha is None else required_caught(alpha, len(fail_bad))
    n = arrays.n
    subsumes = arrays.subsumes if arrays.subsumes is not None else np.zeros((n, n), dtype=bool)
    if not presolve:
        return _unreduced(arrays, fail_bad, fail_good, subsumes, need, budget, sub)

    cand = np.flatnonzero(fail_good.sum(axis=0) <= budget)
    cand_subsumes = subsumes[np.ix_(cand, cand)]
    keep = _undominated(
        fail_bad[:, cand], fail_good[:, cand], arrays.rank[cand], cand_subsumes if sub else None
    )
    cols = cand[keep]
    bad, bad_w, _ = _merge_rows(fail_bad[:, cols])
    good, good_w, good_rep = _merge_rows(fail_good[:, cols])
    room_total: int | None = budget
    if int(good_w.sum()) <= budget:
        room_total = None
    requirements = (
        _requirements(
            cand, cols, cand_subsumes, fail_good[np.ix_(good_rep, cand)], good_w, room_total
        )
        if sub
        else []
    )
    reduced = Reduced(
        cols=cols.astype(np.int64),
        rank=arrays.rank[cols].astype(np.int64),
        bad=bad,
        bad_w=bad_w,
        need=need,
        good=good,
        good_w=good_w,
        budget=room_total,
        requirements=requirements,
        stats=PresolveStats(
            assertions=n,
            responses=int(arrays.fail.shape[0]),
            assertions_after=len(cols),
            responses_after=len(bad_w) + len(good_w),
        ),
    )
    return _fix_forced(reduced, arrays.rank) if sub else reduced


def _requirements(
    cand: IntArray,
    cols: IntArray,
    subsumes: BoolArray,
    cand_good: BoolArray,
    good_w: IntArray,
    budget: int | None,
) -> list[Requirement]:
    """One requirement per candidate (duplicates merged), in reduced indices.

    ``cand_good[r, k]``: candidate k fails merged good row r (read on one response of the row).
    """
    col_pos = {int(c): k for k, c in enumerate(cols)}
    out: list[Requirement] = []
    seen: set[tuple[int, bytes, bytes]] = set()
    for k, b in enumerate(cand):
        rows = np.flatnonzero(cand_good[:, k]) if budget is not None else np.zeros(0, np.int64)
        by = np.array(
            [col_pos[int(a)] for a in cand[subsumes[:, k]] if int(a) in col_pos], dtype=np.int64
        )
        own = col_pos.get(int(b), -1)
        key = (own, by.tobytes(), rows.tobytes())
        if key in seen:
            continue
        seen.add(key)
        # An assertion that fails no good response can never break the ceiling: no exemption.
        room = None if budget is None or len(rows) == 0 else budget + 1 - int(good_w[rows].sum())
        out.append(Requirement(own, by, rows, room))
    return out


def _fix_forced(problem: Reduced, rank: IntArray) -> Reduced:
    """``sub``: select what every feasible selection must contain, and simplify around it.

    A requirement that cannot be exempt (its assertion fails no good response, or the ceiling
    cannot bind) and has exactly one way to be met forces that column. Forced columns leave the
    model: the bad rows they catch are caught, the good rows they fail are spent from the FFR
    budget, the requirements they meet are met. Repeats until nothing new is forced.
    """
    while True:
        forced = sorted(
            {
                int(req.own) if req.own >= 0 else int(req.by[0])
                for req in problem.requirements
                if req.room is None and len(req.by) + (req.own >= 0) == 1
            }
        )
        if not forced:
            return problem
        problem = _apply_forced(problem, np.array(forced, dtype=np.int64), rank)


@dataclass(frozen=True)
class _Fixed:
    """A problem with some columns selected for good: their rows settled, the rest re-indexed."""

    keep: BoolArray  # the columns left in the model
    new_col: IntArray  # reduced column -> its index among the kept ones
    failed: BoolArray  # good rows a forced column fails (spent from the budget)
    # The model without the forced columns. Its requirements and targets are empty: they index
    # columns and rows, and each caller re-indexes its own (with ``new_col`` and ``failed``).
    rest: Reduced


def _fix_columns(p: Reduced, forced: IntArray, rank: IntArray, *, merge_good: bool) -> _Fixed:
    """Select ``forced``: the bad rows they catch are caught, the good rows they fail are spent.

    ``merge_good`` merges identical good rows (not when requirements still index them).
    """
    sel = np.zeros(p.nc, dtype=bool)
    sel[forced] = True
    keep = ~sel
    caught = p.bad[:, sel].any(axis=1)
    bad, bad_w = _merge_weighted(p.bad[~caught][:, keep], p.bad_w[~caught])
    need = max(0, p.need - int(p.bad_w[caught].sum()))
    failed = p.good[:, sel].any(axis=1)
    good, good_w = p.good[~failed][:, keep], p.good_w[~failed]
    if merge_good:
        good, good_w = _merge_weighted(good, good_w)
    budget = None if p.budget is None else p.budget - int(p.good_w[failed].sum())
    if budget is not None and budget >= 0 and int(good_w.sum()) <= budget:
        budget = None  # what is left can never break the ceiling
    cols = p.cols[keep]
    rest = replace(
        p,
        cols=cols,
        rank=rank[cols],
        bad=bad,
        bad_w=bad_w,
        need=need,
        good=good,
        good_w=good_w,
        budget=budget,
        forced=np.sort(np.concatenate([p.forced, p.cols[forced]])),
        stats=p.stats.model_copy(
            update={
                "assertions_after": len(cols),
                "responses_after": len(bad_w) + len(good_w),
                "fixed": p.stats.fixed + len(forced),
            }
        ),
        requirements=[],
        targets=None,
    )
    return _Fixed(keep, np.cumsum(keep) - 1, np.asarray(failed), rest)


def _apply_forced(p: Reduced, forced: IntArray, rank: IntArray) -> Reduced:
    f = _fix_columns(p, forced, rank, merge_good=False)
    sel, new_col, budget, good_w = ~f.keep, f.new_col, f.rest.budget, f.rest.good_w
    new_row = np.where(f.failed, -1, np.cumsum(~f.failed) - 1)
    requirements = []
    for req in p.requirements:
        if (req.own >= 0 and sel[req.own]) or sel[req.by].any():
            continue
        rows = new_row[req.good_rows]
        rows = rows[rows >= 0]
        if budget is None:
            good_rows, room = np.zeros(0, np.int64), None
        else:
            good_rows = rows
            room = None if len(rows) == 0 else budget + 1 - int(good_w[rows].sum())
            if room is not None and room <= 0:
                continue  # adding it alone now breaks the ceiling: always exempt
        own = int(new_col[req.own]) if req.own >= 0 else -1
        requirements.append(Requirement(own, new_col[req.by], good_rows, room))
    return replace(f.rest, requirements=requirements)


def _merge_weighted(rows: BoolArray, weights: IntArray) -> tuple[BoolArray, IntArray]:
    """Drop rows no column fails and merge identical ones, summing their weights."""
    live = rows.any(axis=1)
    rows, weights = rows[live], weights[live]
    if len(rows) == 0:
        return rows, weights
    _, first, inverse = np.unique(
        np.packbits(rows, axis=1), axis=0, return_index=True, return_inverse=True
    )
    summed = np.bincount(inverse.reshape(-1), weights=weights).astype(np.int64)
    order = np.argsort(first)
    return rows[first[order]], summed[order]


def _unreduced(
    arrays: Arrays,
    fail_bad: BoolArray,
    fail_good: BoolArray,
    subsumes: BoolArray,
    need: int,
    budget: int,
    sub: bool,
) -> Reduced:
    """The textbook model: every column, every response, every requirement."""
    n = arrays.n
    requirements = []
    if sub:
        for b in range(n):
            rows = np.flatnonzero(fail_good[:, b])
            room = budget + 1 - len(rows) if len(rows) else None
            requirements.append(Requirement(b, np.flatnonzero(subsumes[:, b]), rows, room))
    cols = np.arange(n, dtype=np.int64)
    return _one_row_each(arrays, fail_bad, fail_good, cols, need, budget, requirements, None)


def _one_row_each(
    arrays: Arrays,
    fail_bad: BoolArray,
    fail_good: BoolArray,
    cols: IntArray,
    need: int,
    budget: int,
    requirements: list[Requirement],
    targets: Targets | None,
) -> Reduced:
    """The model over the columns ``cols`` with every response a row of its own (weight 1)."""
    return Reduced(
        cols=cols.astype(np.int64),
        rank=arrays.rank[cols].astype(np.int64),
        bad=fail_bad[:, cols],
        bad_w=np.ones(len(fail_bad), dtype=np.int64),
        need=need,
        good=fail_good[:, cols],
        good_w=np.ones(len(fail_good), dtype=np.int64),
        budget=budget,
        requirements=requirements,
        stats=PresolveStats(
            assertions=arrays.n,
            responses=int(arrays.fail.shape[0]),
            assertions_after=len(cols),
            responses_after=int(arrays.fail.shape[0]),
        ),
        targets=targets,
    )


def _undominated(
    fail_bad: BoolArray,
    fail_good: BoolArray,
    rank: IntArray,
    subsumes: BoolArray | None,
    own: IntArray | None = None,
    *,
    exact_good: bool = True,
) -> BoolArray:
    """Mask of the columns presolve keeps (see the module docstring for the rules).

    ``subsumes[k, c]``: column k subsumes assertion c, over every assertion that subsumption
    matters for (``own[k]`` is column k's own place among them); None for ``cov``.
    ``exact_good``: the dominator must fail exactly the same good responses (exemption rule).
    """
    nc = fail_bad.shape[1]
    keep = np.ones(nc, dtype=bool)
    if nc == 0:
        return keep
    if subsumes is None:
        keep &= fail_bad.any(axis=0)  # catches nothing: never worth a place in a minimal set
        keep[np.flatnonzero(keep)[_duplicates(fail_bad, fail_good, keep, rank)]] = False
    idx = np.flatnonzero(keep)
    if len(idx) < 2:
        return keep
    # rows no column fails decide nothing; dropping them shortens the products below
    fb = fail_bad[:, idx]
    fg = fail_good[:, idx]
    fb = fb[fb.any(axis=1)]
    fg = fg[fg.any(axis=1)]
    r = rank[idx]
    dropped = np.zeros(len(idx), dtype=bool)
    if subsumes is not None:
        # Under sub the dominator must subsume b: few pairs (K is sparse), checked one by one.
        sub = subsumes[idx]
        at = (np.arange(nc) if own is None else own)[idx]
        a_all, b_all = np.nonzero(sub[:, at])
        keep_pair = r[a_all] < r[b_all]
        a_all, b_all = a_all[keep_pair], b_all[keep_pair]
        for start in range(0, len(a_all), _BLOCK):
            a, b = a_all[start : start + _BLOCK], b_all[start : start + _BLOCK]
            ok = ~(fb[:, b] & ~fb[:, a]).any(axis=0)  # a catches every bad response b catches
            ok &= ~(fg[:, a] & ~fg[:, b]).any(axis=0)  # a fails no good response b passes
            if exact_good:
                ok &= ~(fg[:, b] & ~fg[:, a]).any(axis=0)
            missing = sub[b] & ~sub[a]  # assertions b subsumes and a does not ...
            missing[np.arange(len(a)), at[a]] = False  # ... other than a itself
            ok &= ~missing.any(axis=1)
            dropped[b[ok]] = True
        keep[idx[dropped]] = False
        return keep
    fbf = fb.astype(np.float32)
    fgf = fg.astype(np.float32)
    for start in range(0, len(idx), _BLOCK):
        blk = slice(start, min(start + _BLOCK, len(idx)))
        # [a, b]: bad responses b catches and a misses; good responses a fails and b passes.
        b_not_a = ((1.0 - fbf).T @ fbf[:, blk]) == 0
        a_not_b = (fgf.T @ (1.0 - fgf[:, blk])) == 0
        dom = b_not_a & a_not_b & (r[:, None] < r[None, blk])
        dropped[blk] = dom.any(axis=0)
    keep[idx[dropped]] = False
    return keep


def _duplicates(
    fail_bad: BoolArray, fail_good: BoolArray, keep: BoolArray, rank: IntArray
) -> BoolArray:
    """Among kept columns, the identical copies that are not the most preferred of their group."""
    cols = np.concatenate([fail_bad[:, keep], fail_good[:, keep]], axis=0)
    packed = np.packbits(cols, axis=0).T
    _, first, inverse = np.unique(packed, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    r = rank[keep]
    best = np.full(len(first), np.iinfo(np.int64).max)
    np.minimum.at(best, inverse, r)
    dup: BoolArray = r != best[inverse]
    return dup


def _merge_rows(rows: BoolArray) -> tuple[BoolArray, IntArray, IntArray]:
    """Distinct non-empty rows, how many responses each stands for, and one response per row."""
    live = np.flatnonzero(rows.any(axis=1))
    if len(live) == 0:
        return rows[:0], np.zeros(0, np.int64), np.zeros(0, np.int64)
    packed = np.packbits(rows[live], axis=1)
    _, first, counts = np.unique(packed, axis=0, return_index=True, return_counts=True)
    order = np.argsort(first)  # keep response order: stable, readable models
    rep = live[first[order]]
    return rows[rep], counts[order].astype(np.int64), rep.astype(np.int64)


def _reduce_lexicographic(
    arrays: Arrays, tau: float, alpha: float | None, presolve: bool
) -> Reduced:
    """Lexicographic ``sub``: columns, rows and representation targets (module docstring)."""
    assert arrays.good is not None
    fail_good, fail_bad = arrays.fail[arrays.good], arrays.fail[~arrays.good]
    n = arrays.n
    budget = allowed_false(tau, len(fail_good))
    need = 0 if alpha is None else required_caught(alpha, len(fail_bad))
    subsumes = arrays.subsumes if arrays.subsumes is not None else np.zeros((n, n), dtype=bool)
    own_failures = fail_good.sum(axis=0)
    cand = np.flatnonzero(own_failures <= budget)
    if presolve:
        keep = _undominated(
            fail_bad[:, cand],
            fail_good[:, cand],
            arrays.rank[cand],
            subsumes[cand],
            cand,
            exact_good=False,
        )
        cols = cand[keep]
    else:
        cols = np.arange(n, dtype=np.int64)  # the textbook model: the FFR row rules columns out
    # represent[k, c]: column k represents assertion c (is c, or subsumes it)
    represent = subsumes[cols].copy()
    represent[np.arange(len(cols)), cols] = True

    def unreduced(targets: Targets) -> Reduced:
        return _one_row_each(arrays, fail_bad, fail_good, cols, need, budget, [], targets)

    if not presolve:
        soft = [np.flatnonzero(represent[:, c]) for c in range(n)]
        live = [t for t in soft if len(t)]
        return unreduced(Targets(live, np.ones(len(live), np.int64), [], 0, n - len(live)))
    forced = np.zeros(len(cols), dtype=bool)
    spent = np.zeros(len(fail_good), dtype=bool)  # good responses the forced columns fail
    reach = fail_good[:, cols].any(axis=1)  # good responses any kept column fails
    while True:
        # Free: adding the assertion to any selection containing the forced columns keeps the
        # FFR within tau. Every optimum represents it (else adding it lowers the first
        # objective), so it is a hard row, and forces its representer when there is only one.
        outside = fail_good & ~spent[:, None]
        free = ~outside.any(axis=0)
        free |= (own_failures <= budget) & (
            int((reach | spent).sum()) + (fail_good & ~(reach | spent)[:, None]).sum(axis=0)
            <= budget
        )
        counts = represent[~forced].sum(axis=0)
        done = represent[forced].any(axis=0)
        single = free & ~done & (counts == 1)
        if not single.any():
            break
        for c in np.flatnonzero(single):
            forced[np.flatnonzero(represent[:, c] & ~forced)] = True
        spent = np.asarray(fail_good[:, cols[forced]].any(axis=1), dtype=bool)
    done = represent[forced].any(axis=0)
    free_rows = free & ~done
    hard_sets = _distinct(
        [np.flatnonzero(represent[:, c] & ~forced) for c in np.flatnonzero(free_rows)]
    )
    hard_mask = np.zeros((len(hard_sets), len(cols)), dtype=bool)
    for h, members in enumerate(hard_sets):
        hard_mask[h, members] = True
    rest = np.flatnonzero(~done & ~free_rows)
    open_reps = represent[:, rest] & ~forced[:, None]  # (columns, remaining assertions)
    reachable = open_reps.any(axis=0)
    unrepresentable = int((~reachable).sum())
    open_reps = open_reps[:, reachable]
    if len(hard_sets) and open_reps.shape[1]:
        # a hard row whose members all represent the assertion already represents it
        strays = hard_mask.astype(np.float32) @ (~open_reps).astype(np.float32)
        covered = (strays == 0).any(axis=0)
    else:
        covered = np.zeros(open_reps.shape[1], dtype=bool)
    represented = int(done.sum()) + int(free_rows.sum()) + int(covered.sum())
    open_reps = open_reps[:, ~covered]
    if open_reps.shape[1]:
        _, first, counts = np.unique(
            np.packbits(open_reps, axis=0).T, axis=0, return_index=True, return_counts=True
        )
        order = np.argsort(first)
        soft = [np.flatnonzero(open_reps[:, k]) for k in first[order]]
        weight = counts[order].astype(np.int64)
    else:
        soft, weight = [], np.zeros(0, np.int64)
    reduced = unreduced(Targets(soft, weight, hard_sets, represented, unrepresentable))
    return _apply_forced_targets(reduced, np.flatnonzero(forced), arrays.rank)


def _distinct(sets: list[IntArray]) -> list[IntArray]:
    seen: dict[bytes, IntArray] = {}
    for members in sets:
        seen.setdefault(members.tobytes(), members)
    return list(seen.values())


def _apply_forced_targets(p: Reduced, forced: IntArray, rank: IntArray) -> Reduced:
    """Select the forced columns of a lexicographic problem and merge its rows."""
    assert p.targets is not None
    f = _fix_columns(p, forced, rank, merge_good=True)
    t = p.targets
    targets = Targets(
        [f.new_col[m] for m in t.soft],
        t.weight,
        [f.new_col[m] for m in t.hard],
        t.represented,
        t.unrepresentable,
    )
    return replace(f.rest, targets=targets)


__all__ = ["Reduced", "Requirement", "Targets", "reduce"]
