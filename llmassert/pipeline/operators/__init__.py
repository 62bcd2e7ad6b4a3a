"""Pipeline operators: one module per operator type, one registry (``OPERATORS``).

Importing this package imports every operator module in it, so the registry is complete for
``spec.py`` (the discriminated union), ``llmassert schema`` and the runner.  A new operator is a
module here with an ``@register``-ed class (see ``base.py`` for the contract) and one import
line below (tests/pipeline/test_registry.py checks that none is missing).  The imports are
written out, not discovered, so the import graph is visible to tools and readers.
"""

from __future__ import annotations

from llmassert.pipeline.operators import (  # noqa: F401 - imported to register
    add_uuid,
    cluster,
    code,
    equijoin,
    extract,
    filter,
    gather,
    link_resolve,
    map,
    parallel_map,
    rank,
    reduce,
    resolve,
    sample,
    split,
    topk,
    unnest,
)
from llmassert.pipeline.operators.base import OPERATORS, Operator, register

__all__ = ["OPERATORS", "Operator", "register"]
