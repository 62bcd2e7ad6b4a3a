"""Prompts: sandboxed Jinja with strict undefined; references analysed for static checks."""

from __future__ import annotations

import pytest

from llmassert.errors import SpecError, TemplateError
from llmassert.pipeline.templates import KeySet, Prompt


def test_renders_rows_and_loops() -> None:
    p = Prompt("{{ input.title }}: {% for i in inputs %}{{ i.x }},{% endfor %}", where="p")
    assert p.render(input={"title": "T"}, inputs=[{"x": 1}, {"x": 2}]) == "T: 1,2,"


def test_missing_variable_is_an_error_not_an_empty_string() -> None:
    p = Prompt("Hello {{ input.name }}", where="operations[0] (m).prompt", file="p.yaml")
    with pytest.raises(TemplateError) as info:
        p.render(input={})
    assert str(info.value).startswith("p.yaml: operations[0] (m).prompt: template variable")


def test_sandbox_refuses_dunder_access() -> None:
    p = Prompt("{{ input.__class__.__mro__ }}", where="p")
    with pytest.raises(TemplateError, match=r"unsafe|missing"):
        p.render(input={})


def test_references_are_collected() -> None:
    p = Prompt(
        "{{ input.a }} {{ input['b'] }} {{ inputs[0].c }} "
        "{% for it in inputs | sort(attribute='d') %}{{ it.e }}{% endfor %} "
        "{{ output.f }} {{ loop_free }}",
        where="p",
    )
    assert p.refs.keys["input"] == {"a", "b"}
    assert p.refs.keys["inputs"] == {"c", "e"}
    assert p.refs.keys["output"] == {"f"}
    assert p.refs.names == {"input", "inputs", "output", "loop_free"}


def test_check_reports_missing_keys_and_names() -> None:
    p = Prompt("{{ input.a }} {{ input.zz }}", where="w", file="f.yaml")
    with pytest.raises(SpecError, match=r"f.yaml: w: input.zz is not a key .*\(keys: a\)"):
        p.check({"input": KeySet.of(["a"])})
    with pytest.raises(SpecError, match="unknown template variable 'input'"):
        p.check({"inputs": KeySet.of(["a"])})
    p.check({"input": KeySet.of(["a"], open=True)})  # open: anything may exist


def test_syntax_error_is_a_spec_error_with_line() -> None:
    with pytest.raises(SpecError, match="line 2"):
        Prompt("ok\n{% for x in %}", where="w")
