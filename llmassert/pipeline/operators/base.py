"""The operator abstraction: every pipeline operator is an ``Operator`` subclass in the registry.

An operator receives its validated spec and an :class:`OpContext`, and transforms a list of rows
(dicts) into a list of rows.  Rows it cannot produce go to ``ctx.quarantine`` or ``ctx.errors``
with the reason, never silently away.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

Row = dict[str, Any]
SpecT = TypeVar("SpecT", bound=BaseModel)


class Operator(ABC, Generic[SpecT]):
    """Base class; subclasses set ``type_name`` and ``spec_model`` and implement ``run``."""

    type_name: ClassVar[str]
    spec_model: ClassVar[type[BaseModel]]
    # True when rows can be processed independently (map-like): the runner may stream them and
    # an executor may partition them across workers.
    row_wise: ClassVar[bool] = False

    def __init__(self, spec: SpecT) -> None:
        self.spec = spec

    @abstractmethod
    async def run(self, rows: list[Row], ctx: Any) -> list[Row]:
        """Transform ``rows``; ``ctx`` is the runner's OpContext (LLM client, settings, sinks)."""


OPERATORS: dict[str, type[Operator[Any]]] = {}


def register(cls: type[Operator[Any]]) -> type[Operator[Any]]:
    """Class decorator adding an operator to the one registry, keyed by its YAML ``type``."""
    if cls.type_name in OPERATORS:
        raise ValueError(f"operator type {cls.type_name!r} registered twice")
    OPERATORS[cls.type_name] = cls
    return cls


OperatorFactory = Callable[[BaseModel], Operator[Any]]
