"""Pipeline operators: one module per operator type, one registry (``OPERATORS``).

Importing this package imports every operator module in it, so the registry is complete for
``spec.py`` (the discriminated union), ``llmassert schema`` and the runner.  A new operator only
needs its module here with an ``@register``-ed class (see ``base.py`` for the contract).
"""

from __future__ import annotations

import importlib
import pkgutil

from llmassert.pipeline.operators.base import OPERATORS, Operator, register

_NOT_OPERATORS = frozenset({"base", "common"})

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name not in _NOT_OPERATORS and not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["OPERATORS", "Operator", "register"]
