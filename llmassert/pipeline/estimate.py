"""``--dry-run`` token and cost estimates, without any LLM call.

Prompt tokens are counted on the prompts the run would send: each operation's template rendered
on its input rows (row operations) or on its groups (``inputs``), plus the system message and
the output schema sent as a tool, with the tokenizer the runner uses for ``split``
(:func:`llmassert.pipeline.tokens.get_tokenizer`).  Values an earlier LLM operation would
produce are unknown in a dry run and render as the word ``UNKNOWN`` (so prompts reading them are
undercounted; the table says so).

Output tokens cannot be counted before the model answers: they are estimated from the output
schema — :data:`STRING_TOKENS` per string field, :data:`LIST_ITEMS` items per list, a few for
numbers, booleans, enums and JSON punctuation — or capped at ``max_tokens`` when the operation
sets it (whichever is smaller).  The assumption is printed with the estimate.

Cost uses the LLM layer's prices (litellm's bundled price map, or prices set with
:func:`llmassert.llm.usage.set_price`); a model with no known price is reported as
"unknown price", never as $0.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmassert.llm.usage import known_price
from llmassert.pipeline.tokens import get_tokenizer

STRING_TOKENS = 40
LIST_ITEMS = 3
SCALAR_TOKENS = 2
KEY_TOKENS = 3  # a quoted key, colon and comma
ASSUMPTION = (
    f"output tokens estimated from the schema: ~{STRING_TOKENS} per string field, "
    f"{LIST_ITEMS} items per list, capped by max_tokens"
)
# At most this many prompts are rendered per operation; the rest are extrapolated.
SAMPLE = 200


@dataclass(frozen=True)
class TokenEstimate:
    """Tokens one operation would use at its base number of calls (no retries / gleaning)."""

    model: str
    prompt_tokens: int
    output_tokens: int
    cost: float | None  # None: unknown price
    reads_unknown: bool = False  # a prompt renders values only an earlier LLM call produces


def schema_tokens(schema: Any, depth: int = 0) -> int:
    """Estimated tokens of a JSON answer to ``schema`` (see the module docstring)."""
    if not isinstance(schema, dict) or depth > 8:
        return SCALAR_TOKENS
    kind = schema.get("type")
    if "enum" in schema:
        return SCALAR_TOKENS
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        inner = sum(KEY_TOKENS + schema_tokens(v, depth + 1) for v in props.values())
        return 2 + inner
    if kind == "array":
        return 2 + LIST_ITEMS * (1 + schema_tokens(schema.get("items"), depth + 1))
    if kind == "string":
        return STRING_TOKENS
    return SCALAR_TOKENS


def _max_tokens(step: Any) -> int | None:
    for holder in (getattr(step, "request_args", None), getattr(step, "params", None)):
        if isinstance(holder, dict) and isinstance(holder.get("max_tokens"), int):
            return int(holder["max_tokens"])
    return None


def estimate_op(
    op: Any, rows: Sequence[dict[str, Any]], calls: int, unknown: object
) -> TokenEstimate | None:
    """The estimate for one LLM operation over its input ``rows`` (None: nothing to render).

    ``unknown`` is the dry run's placeholder for values only an LLM call would produce.
    """
    step = getattr(op, "step", None)
    prompt = getattr(step, "prompt", None)
    model = getattr(step, "model", None)
    if step is None or prompt is None or not isinstance(model, str) or calls <= 0:
        return None
    tokenizer = get_tokenizer(model)
    fixed = 0
    system = getattr(step, "system", None)
    if isinstance(system, str):
        fixed += tokenizer.count(system)
    schema = getattr(step, "schema", None)
    if schema is not None:
        fixed += tokenizer.count(json.dumps(schema))
    reads_unknown = any(v is unknown for r in rows for v in r.values())
    kind = getattr(op, "kind", "row")
    try:
        if kind == "row" and rows:
            sample = list(rows[:SAMPLE])
            counted = [tokenizer.count(prompt.render(input=r)) for r in sample]
            per_call = sum(counted) / len(counted)
            prompt_tokens = round((per_call + fixed) * calls)
        else:
            # Groups and whole inputs: every row is rendered once across the calls, and each
            # extra call (a fold batch, another group) repeats the template around them.
            whole = tokenizer.count(prompt.render(inputs=list(rows), input=rows[0] if rows else {}))
            empty = tokenizer.count(prompt.render(inputs=[], input={}))
            prompt_tokens = whole + (calls - 1) * empty + calls * fixed
    except Exception:  # a template that needs what a dry run cannot give: no estimate, no crash
        return None
    per_output = schema_tokens(schema)
    cap = _max_tokens(step)
    if cap is not None:
        per_output = min(per_output, cap)
    output_tokens = per_output * calls
    price = known_price(model)
    cost = None if price is None else prompt_tokens * price[0] + output_tokens * price[1]
    return TokenEstimate(model, prompt_tokens, output_tokens, cost, reads_unknown)
