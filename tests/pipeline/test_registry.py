"""The operator registry: every operator module is listed, and a type's module loads on lookup."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import llmassert.pipeline.operators as operators
from llmassert.pipeline.operators import OPERATOR_MODULES, OPERATORS
from llmassert.pipeline.operators.base import Operator, OperatorRegistry

NOT_OPERATORS = {"__init__", "base", "common", "subset"}


def test_each_module_registers_exactly_the_types_listed_for_it() -> None:
    folder = Path(operators.__file__).parent
    modules = {p.stem for p in folder.glob("*.py")} - NOT_OPERATORS
    assert modules == set(OPERATOR_MODULES.values()), "list them in base.OPERATOR_MODULES"
    for module in modules:
        mod = importlib.import_module(f"llmassert.pipeline.operators.{module}")
        registered = {
            cls.type_name
            for cls in vars(mod).values()
            if isinstance(cls, type)
            and issubclass(cls, Operator)
            and cls.__module__ == mod.__name__
            and "type_name" in vars(cls)
        }
        listed = {t for t, m in OPERATOR_MODULES.items() if m == module}
        assert registered == listed, module
        for type_name in listed:
            assert OPERATORS[type_name].__module__ == mod.__name__


def test_registry_holds_each_operator_type() -> None:
    assert {"map", "filter", "reduce", "split", "gather", "resolve", "unnest", "equijoin"} <= set(
        OPERATORS
    )
    assert "scan" not in OPERATORS
    with pytest.raises(KeyError):
        OPERATORS["scan"]


def test_parsing_a_pipeline_imports_only_the_operators_it_names(tmp_path: Path) -> None:
    data = tmp_path / "docs.json"
    data.write_text('[{"text": "a b c"}]')
    yaml_path = tmp_path / "p.yaml"
    yaml_path.write_text(
        "default_model: openai/x\n"
        f"datasets: {{docs: {{type: file, path: {data}}}}}\n"
        "operations:\n"
        "  - {name: s, type: split, split_key: text, method: delimiter,"
        " method_kwargs: {delimiter: ' '}}\n"
        "pipeline:\n"
        "  steps: [{name: st, input: docs, operations: [s]}]\n"
        f"  output: {{type: file, path: {tmp_path / 'out.json'}}}\n"
    )
    code = (
        "import sys\n"
        "from llmassert.pipeline.spec import load_pipeline\n"
        f"load_pipeline({str(yaml_path)!r})\n"
        "print(sorted(m.rsplit('.', 1)[1] for m in sys.modules"
        " if m.startswith('llmassert.pipeline.operators.')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['base', 'split']"


def test_a_type_registered_by_a_module_the_table_does_not_name_is_refused() -> None:
    registry = OperatorRegistry({"map": "map"})
    with pytest.raises(ValueError, match="OPERATOR_MODULES"):
        registry.add("map", OPERATORS["filter"])
    with pytest.raises(ValueError, match="OPERATOR_MODULES"):
        registry.add("nope", OPERATORS["map"])
    registry.add("map", OPERATORS["map"])
    registry.add("map", OPERATORS["map"])  # the same class again: a re-import, fine
    assert registry["map"] is OPERATORS["map"]
