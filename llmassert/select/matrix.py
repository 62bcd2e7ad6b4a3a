"""The evaluation matrix that selection solves over, and its loader.

``M[i][j] = 1`` when assertion ``j`` passed response ``i``; ``y[i] = 1`` marks a good response and
``0`` a bad one; ``K[a][b] = 1`` says assertion ``a`` subsumes (implies) assertion ``b``.

Structural checks run before pydantic's own typing so that a malformed file gets one precise line
(``matrix.json: M[3]: has 43 values, expected 44 (one per assertion)``) instead of a validation dump.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from llmassert.errors import MatrixError
from llmassert.fileio import read_json

Kind = Literal["deterministic", "llm_judge"]
KINDS: tuple[str, ...] = ("deterministic", "llm_judge")

# Keys of a plain matrix file that carry no information for selection (SPADE's files have them).
IGNORED_PLAIN_KEYS = frozenset({"responses", "semantics"})


class Matrix(BaseModel):
    """Assertion verdicts on labeled responses, plus what selection needs to know per assertion."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    assertions: list[str]
    M: list[list[int]]  # rows = responses, columns = assertions; 1 = the assertion passed
    y: list[int] | None = None  # 1 good, 0 bad; None: no labels
    K: list[list[int]] | None = None  # K[a][b] = 1: a subsumes b
    groups: list[str] | None = None  # criterion id per assertion
    kinds: list[Kind] | None = None
    costs: list[float] | None = None

    @model_validator(mode="before")
    @classmethod
    def _structure(cls, data: Any) -> Any:
        if isinstance(data, dict):
            check_structure(data)
        return data

    @property
    def n_assertions(self) -> int:
        return len(self.assertions)

    @property
    def n_responses(self) -> int:
        return len(self.M)

    @classmethod
    def load(cls, path: str | Path) -> Matrix:
        """Read a plain matrix JSON or a synthesis manifest (a file with ``candidates``)."""
        path = Path(path)
        return cls.from_json_data(read_json(path, MatrixError), file=path)

    @classmethod
    def from_json_data(cls, raw: Any, *, file: str | Path | None = None) -> Matrix:
        """Build from parsed JSON; errors name ``file`` and the offending field."""
        if not isinstance(raw, dict):
            raise MatrixError("must be a JSON object with assertions, M, y and K", file=file)
        try:
            data = _manifest_fields(raw) if "candidates" in raw else _plain_fields(raw)
            return cls.model_validate(data)
        except MatrixError as e:
            raise MatrixError(e.message, file=file, field=e.field) from None
        except ValidationError as e:
            err = e.errors()[0]
            field = _loc(err["loc"]) or None
            raise MatrixError(err["msg"], file=file, field=field) from None


def _plain_fields(raw: dict[str, Any]) -> dict[str, Any]:
    known = set(Matrix.model_fields)
    unknown = sorted(set(raw) - known - IGNORED_PLAIN_KEYS)
    if unknown:
        raise MatrixError(
            f"unknown key {unknown[0]!r} (expected {', '.join(sorted(known))})", field=unknown[0]
        )
    return {k: v for k, v in raw.items() if k in known}


def _manifest_fields(raw: dict[str, Any]) -> dict[str, Any]:
    """A synthesis manifest: the matrix keys, plus kinds and costs taken from its candidates."""
    data: dict[str, Any] = {k: raw[k] for k in ("assertions", "M", "y", "K", "groups") if k in raw}
    if data.get("y") == []:  # a manifest written without labeled responses
        data["y"] = None
    candidates = raw["candidates"]
    if not isinstance(candidates, list):
        raise MatrixError("must be a list", field="candidates")
    by_name = {c.get("name"): c for c in candidates if isinstance(c, dict)}
    names = data.get("assertions")
    if isinstance(names, list) and all(n in by_name for n in names):
        kinds = [by_name[n].get("kind", "deterministic") for n in names]
        costs = [by_name[n].get("cost", 1.0) for n in names]
        data.setdefault("kinds", kinds)
        data.setdefault("costs", costs)
    return data


def _loc(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def check_structure(data: dict[str, Any]) -> None:
    """Shapes and values of a matrix in raw (JSON) form; raises a one-line :class:`MatrixError`."""
    names = data.get("assertions")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise MatrixError("must be a list of assertion names", field="assertions")
    seen: set[str] = set()
    for j, name in enumerate(names):
        if name in seen:
            raise MatrixError(f"duplicate name {name!r}", field=f"assertions[{j}]")
        seen.add(name)
    n = len(names)
    rows = data.get("M")
    if not isinstance(rows, list):
        raise MatrixError("must be a list of rows (one per response)", field="M")
    for i, row in enumerate(rows):
        _check_binary_row(row, n, f"M[{i}]", "assertion")
    labels = data.get("y")
    if labels is not None:
        if not isinstance(labels, list):
            raise MatrixError("must be a list of 0/1 labels or null", field="y")
        if len(labels) != len(rows):
            raise MatrixError(
                f"has {len(labels)} labels but M has {len(rows)} rows (one label per response)",
                field="y",
            )
        _check_binary_row(labels, len(rows), "y", "response")
    subsumes = data.get("K")
    if subsumes is not None:
        if not isinstance(subsumes, list) or len(subsumes) != n:
            got = len(subsumes) if isinstance(subsumes, list) else type(subsumes).__name__
            raise MatrixError(
                f"must be {n}x{n} (assertions x assertions), got {got} rows", field="K"
            )
        for a, row in enumerate(subsumes):
            _check_binary_row(row, n, f"K[{a}]", "assertion")
    _check_per_assertion(data, "groups", n, lambda v: isinstance(v, str), "a criterion id (string)")
    _check_per_assertion(data, "kinds", n, lambda v: v in KINDS, "'deterministic' or 'llm_judge'")
    _check_per_assertion(
        data,
        "costs",
        n,
        lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v < float("inf"),
        "a finite number >= 0",
    )


def _check_binary_row(row: Any, n: int, field: str, per: str) -> None:
    if not isinstance(row, list):
        raise MatrixError(f"must be a list of 0/1 values, got {type(row).__name__}", field=field)
    if len(row) != n:
        raise MatrixError(f"has {len(row)} values, expected {n} (one per {per})", field=field)
    try:
        distinct = set(row)  # fast path: a valid row holds at most two distinct values
    except TypeError:  # unhashable cells (lists, dicts): the loop below names the first one
        distinct = {None}
    if distinct <= {0, 1} and all(isinstance(v, int) for v in distinct):
        return
    for k, v in enumerate(row):
        # bool is an int subclass: true/false are accepted as 1/0 on purpose; 2, 0.5, "1" are not.
        if not (isinstance(v, int) and v in (0, 1)):
            raise MatrixError(f"must be 0 or 1, got {v!r}", field=f"{field}[{k}]")


def _check_per_assertion(data: dict[str, Any], key: str, n: int, ok: Any, expected: str) -> None:
    values = data.get(key)
    if values is None:
        return
    if not isinstance(values, list) or len(values) != n:
        got = len(values) if isinstance(values, list) else type(values).__name__
        raise MatrixError(f"must list one value per assertion ({n}), got {got}", field=key)
    for j, v in enumerate(values):
        if not ok(v):
            raise MatrixError(f"must be {expected}, got {v!r}", field=f"{key}[{j}]")


__all__ = ["KINDS", "Kind", "Matrix", "check_structure"]
