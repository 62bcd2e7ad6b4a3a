"""The operator registry: every operator module is imported by the package, so it registers."""

from __future__ import annotations

import ast
from pathlib import Path

import llmassert.pipeline.operators as operators
from llmassert.pipeline.operators import OPERATORS

NOT_OPERATORS = {"__init__", "base", "common", "subset"}


def test_every_operator_module_is_imported_by_the_package() -> None:
    folder = Path(operators.__file__).parent
    modules = {p.stem for p in folder.glob("*.py")} - NOT_OPERATORS
    tree = ast.parse((folder / "__init__.py").read_text(encoding="utf-8"))
    imported = {
        alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module == "llmassert.pipeline.operators"
        for alias in node.names
    }
    assert modules - imported == set(), "add these to pipeline/operators/__init__.py"


def test_registry_holds_each_operator_type() -> None:
    assert {"map", "filter", "reduce", "split", "gather", "resolve", "unnest", "equijoin"} <= set(
        OPERATORS
    )
