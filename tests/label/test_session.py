"""The sans-IO session and strategies, on matrices written by hand."""

from __future__ import annotations

import random

import pytest

from llmassert.label.selection import Targets
from llmassert.label.session import Check, Item, LabelSession
from llmassert.synth.engine import ffr_upper_bound


def _session(rows: list[tuple[int, ...]], **kw: object) -> LabelSession:
    items = [Item({"q": i}, f"response {i}", row) for i, row in enumerate(rows)]
    checks = [Check(f"c{j}") for j in range(len(rows[0]))]
    return LabelSession(items, checks, Targets(ffr_confidence=None), **kw)  # type: ignore[arg-type]


ROWS = [(1, 1), (0, 1), (1, 0), (0, 0), (1, 1), (0, 1)]


def test_grade_undo_and_pending() -> None:
    s = _session(ROWS)
    keys = s.all_keys()
    s.grade(keys[0], 1)
    s.skip(keys[1])
    assert s.pending() == keys[2:]
    assert s.undo() == ("skip", keys[1], None)
    assert keys[1] in s.pending()
    s.grade(keys[0], 0)  # regrade: undo restores the earlier grade, not "ungraded"
    assert s.undo() == ("grade", keys[0], 1)
    assert s.labels == {keys[0]: 1}
    assert s.undo() == ("grade", keys[0], None)
    assert s.labels == {} and s.undo() is None


def test_status_matches_the_selection_on_the_labels() -> None:
    s = _session(ROWS)
    keys = s.all_keys()
    for k, label in zip(keys, (1, 0, 1, 0, 1, 0), strict=True):
        s.grade(k, label)
    st = s.status()
    # c0 fails rows 1, 3, 5 (all bad) and passes every good row: coverage 1, FFR 0.
    assert st.selected == ("c0",)
    assert (st.chosen.coverage, st.chosen.ffr) == (1.0, 0.0)
    assert st.graded == 6 and st.good == 3 and st.remaining == 0


def test_ffr_confidence_bound_shown_with_the_synth_rule() -> None:
    items = [Item({"q": i}, str(i), (1,)) for i in range(4)]
    s = LabelSession(items, [Check("c")], Targets(ffr_confidence=0.9))
    for k in s.all_keys():
        s.grade(k, 1)
    st = s.status()
    assert st.chosen.ffr == 0.0
    assert st.ffr_upper == pytest.approx(ffr_upper_bound(0, 4, 0.9))
    assert st.ffr_upper is not None and st.ffr_upper > 0.4  # 4 good labels prove little


def test_resumed_labels_are_never_asked_again() -> None:
    first = _session(ROWS)
    done = {k: 1 for k in first.all_keys()[:4]}
    s = _session(ROWS, labels=dict(done))
    rng = random.Random(1)
    seen = set()
    for strategy in ("active", "random", "order", "uncertainty"):
        s2 = _session(ROWS, labels=dict(done))
        while (k := s2.next(strategy, rng)) is not None:
            assert k not in done
            seen.add(k)
            s2.grade(k, 0)
    assert seen == set(s.all_keys()[4:])


def test_duplicate_responses_are_one_item() -> None:
    items = [Item({"q": 1}, "same", (1,)), Item({"q": 1}, "same", (1,))]
    s = LabelSession(items, [Check("c")])
    assert len(s.all_keys()) == 1


def test_active_prefers_the_response_the_selection_gets_wrong() -> None:
    # c0 is selected (catches both bad rows); the pending rows differ only in whether c0
    # fails them: grading one that c0 fails could show it is good and break FFR = 0.
    rows = [(0, 1), (0, 1), (1, 1), (1, 1)] + [(1, 1)] * 3 + [(0, 1)]
    s = _session(rows)
    keys = s.all_keys()
    for k, label in zip(keys[:4], (0, 0, 1, 1), strict=True):
        s.grade(k, label)
    assert 0 in s.chosen().indices
    assert s.next("uncertainty") == keys[7]


def test_active_keeps_the_sample_representative() -> None:
    # Half the pool fails c0. After grading two rows c0 passes, the representative choice is
    # a row c0 fails.
    rows = [(1,), (1,), (0,), (0,), (1,), (0,)]
    s = _session(rows)
    keys = s.all_keys()
    s.grade(keys[0], 1)
    s.grade(keys[1], 1)
    assert s.item(s.next("active") or "").passes == (0,)  # type: ignore[arg-type]


def test_unknown_strategy() -> None:
    with pytest.raises(ValueError, match="unknown strategy"):
        _session(ROWS).next("best")
