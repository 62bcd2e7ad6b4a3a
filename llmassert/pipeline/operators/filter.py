"""``filter``: a map with one boolean output field; rows answered false leave (and are counted)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import model_validator

from llmassert.pipeline.operators.base import CallEstimate, Outcome, Row, register
from llmassert.pipeline.operators.map import MapOperator, MapSpec
from llmassert.pipeline.templates import KeySet


class FilterSpec(MapSpec):
    """DocETL's filter: ``output.schema`` has exactly one field, a boolean."""

    type: Literal["filter"] = "filter"  # type: ignore[assignment]

    @model_validator(mode="after")
    def _one_bool(self) -> FilterSpec:
        schema = self.output.schema_ if self.output else {}
        if len(schema) != 1 or str(next(iter(schema.values()))).lower() not in ("bool", "boolean"):
            raise ValueError(
                "filter needs output.schema with exactly one boolean field, e.g. `keep: boolean`"
            )
        return self


@register(FilterSpec)
class FilterOperator(MapOperator):
    @property
    def flag_field(self) -> str:
        return self.output_fields()[0]

    def output_keys(self, keys: KeySet) -> KeySet:
        return super().output_keys(keys).without([self.flag_field])

    def estimate_calls(self, rows: list[Row]) -> CallEstimate:
        est = super().estimate_calls(rows)
        note = "; ".join(filter(None, [est.note, "rows out ≤ rows in"]))
        rows = [{k: v for k, v in r.items() if k != self.flag_field} for r in est.rows]
        return CallEstimate(calls=est.calls, rows=rows, note=note, upper_bound=True)

    def make(self, row: Row, output: dict[str, Any]) -> Outcome:
        if output.get(self.flag_field) is True:
            rest = {k: v for k, v in output.items() if k != self.flag_field}
            return Outcome(rows=[{**row, **rest}])
        return Outcome(filtered=1)
