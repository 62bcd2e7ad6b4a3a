"""`llmassert run --dry-run`: token and cost estimates, checked against an independent count."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmassert.cli import main
from llmassert.llm.usage import known_price, set_price
from llmassert.pipeline.estimate import STRING_TOKENS, schema_tokens
from llmassert.pipeline.tokens import get_tokenizer

PIPE = """\
default_model: MODEL
datasets:
  docs: {type: file, path: data.json}
operations:
  - name: summarize
    type: map
    prompt: "Summarize in at most {{ input.max_words }} words: {{ input.text }}"
    output:
      schema:
        summary: string
        tags: list[string]
    MAX_TOKENS
pipeline:
  steps:
    - {name: s, input: docs, operations: [summarize]}
  output: {type: file, path: out.json}
"""
ROWS = [
    {"text": "Revenue grew twelve percent in every region. " * (i + 1), "max_words": 20}
    for i in range(6)
]


def _run(tmp_path: Path, model: str, extra: str = "") -> None:
    (tmp_path / "data.json").write_text(json.dumps(ROWS))
    (tmp_path / "p.yaml").write_text(PIPE.replace("MODEL", model).replace("MAX_TOKENS", extra))
    assert main(["run", str(tmp_path / "p.yaml"), "--dry-run"]) == 0


def _total(err: str) -> list[str]:
    line = next(x for x in err.splitlines() if x.strip().startswith("total"))
    return [c.strip() for c in line.split("│")]


def _expected_prompt_tokens(model: str) -> int:
    tok = get_tokenizer(model)
    rendered = [f"Summarize in at most 20 words: {r['text']}" for r in ROWS]
    return sum(tok.count(p) for p in rendered)


def test_dry_run_counts_prompt_tokens_estimates_output_and_prices_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = "openai/gpt-4o-mini"
    price = known_price(model)
    assert price is not None and price[0] > 0  # litellm's price map lists it
    _run(tmp_path, model)
    err = capsys.readouterr().err
    cells = _total(err)
    calls, prompt, output, cost = int(cells[4]), cells[5], cells[6], cells[7]
    assert calls == len(ROWS)
    prompt_tokens = int(prompt.replace(",", ""))
    rendered_only = _expected_prompt_tokens(model)
    # The rendered prompts, plus per call the tool schema (no system message here).
    assert rendered_only < prompt_tokens < rendered_only + len(ROWS) * 60
    per_call_output = schema_tokens(
        {
            "type": "object",
            "properties": {
                "summary": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
        }
    )
    assert per_call_output > STRING_TOKENS
    assert output == f"~{per_call_output * len(ROWS):,}"
    expected_cost = prompt_tokens * price[0] + per_call_output * len(ROWS) * price[1]
    assert float(cost) == pytest.approx(expected_cost, abs=5e-5)
    assert "output tokens estimated from the schema" in err
    assert "unknown price" not in err


def test_max_tokens_caps_the_output_estimate_and_unknown_models_say_unknown_price(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(tmp_path, "openai/my-own-model", "litellm_completion_kwargs: {max_tokens: 7}")
    err = capsys.readouterr().err
    cells = _total(err)
    assert cells[6] == f"~{7 * len(ROWS)}"
    assert cells[7] == "unknown price"
    assert "unknown price for openai/my-own-model" in err
    assert "$0" not in err and "0.0000" not in err

    set_price("openai/my-own-model", 1e-6, 2e-6)  # the user's own price
    try:
        _run(tmp_path, "openai/my-own-model", "litellm_completion_kwargs: {max_tokens: 7}")
        cells = _total(capsys.readouterr().err)
        prompt_tokens = int(cells[5].replace(",", ""))
        assert float(cells[7]) == pytest.approx(
            prompt_tokens * 1e-6 + 7 * len(ROWS) * 2e-6, abs=5e-5
        )
    finally:
        from llmassert.llm import usage

        usage._overrides.pop("openai/my-own-model", None)
