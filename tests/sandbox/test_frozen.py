"""Frozen inputs behave like the plain data checks are written against, and cannot change."""

from __future__ import annotations

import copy
import json

import pytest

from llmassert.sandbox._frozen import FrozenDict, FrozenList, freeze

ROW = {"id": 1, "text": "t", "meta": {"tags": ["a", "b"], "pair": (1, [2])}, "s": {1}}


def test_frozen_values_read_like_the_original() -> None:
    frozen = freeze(ROW)
    assert frozen == ROW and isinstance(frozen, dict) and isinstance(frozen["meta"]["tags"], list)
    assert json.loads(json.dumps(frozen, default=list)) == json.loads(json.dumps(ROW, default=list))
    assert frozen.get("id") == 1 and sorted(frozen) == sorted(ROW)
    assert dict(frozen) == ROW and type(dict(frozen)) is dict  # a mutable copy on request
    assert frozen["meta"]["tags"] + ["c"] == ["a", "b", "c"]
    assert frozen | {"x": 1} == {**ROW, "x": 1}
    assert freeze(frozen) is frozen and copy.deepcopy(frozen) is frozen


@pytest.mark.parametrize(
    "mutate",
    [
        lambda f: f.__setitem__("id", 2),
        lambda f: f.__delitem__("id"),
        lambda f: f.pop("id"),
        lambda f: f.popitem(),
        lambda f: f.clear(),
        lambda f: f.update({"id": 2}),
        lambda f: f.setdefault("new", 1),
        lambda f: f.__ior__({"id": 2}),
        lambda f: f["meta"]["tags"].append("c"),
        lambda f: f["meta"]["tags"].extend("c"),
        lambda f: f["meta"]["tags"].sort(),
        lambda f: f["meta"]["tags"].__setitem__(0, "z"),
        lambda f: f["meta"]["tags"].__iadd__(["z"]),
        lambda f: f["meta"]["pair"][1].append(3),
        lambda f: f["s"].add(2),
    ],
)
def test_every_mutation_raises_and_changes_nothing(mutate: object) -> None:
    original = copy.deepcopy(ROW)
    frozen = freeze(ROW)
    with pytest.raises((TypeError, AttributeError)):
        mutate(frozen)  # type: ignore[operator]
    assert frozen == freeze(original) and original == ROW


def test_frozen_classes_cannot_be_patched() -> None:
    with pytest.raises(AttributeError):
        FrozenDict.update = dict.update  # type: ignore[method-assign]
    with pytest.raises(AttributeError):
        FrozenList.append = list.append  # type: ignore[method-assign]
