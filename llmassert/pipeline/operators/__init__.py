"""Pipeline operators: one module per operator type, one registry (``OPERATORS``).

``OPERATORS`` maps every operator type to its class; ``base.OPERATOR_MODULES`` says which module
here registers each type, and the registry imports that module the first time its type is looked
up, so a run pays only for the operators its pipeline names.  A new operator is a module here
with an ``@register``-ed class (see ``base.py`` for the contract) and one line in
``OPERATOR_MODULES`` (tests/pipeline/test_registry.py checks that none is missing).
"""

from __future__ import annotations

from llmassert.pipeline.operators.base import OPERATOR_MODULES, OPERATORS, Operator, register

__all__ = ["OPERATORS", "OPERATOR_MODULES", "Operator", "register"]
