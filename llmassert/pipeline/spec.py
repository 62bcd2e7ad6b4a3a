"""Pipeline YAML → :class:`PipelineSpec`, in DocETL's shape, with one-line errors.

The top level is DocETL's (``default_model``, ``default_lm_api_base``, ``system_prompt``,
``bypass_cache``, ``datasets``, ``operations``, ``pipeline.steps`` / ``pipeline.output``); each
operation is validated by the spec model its operator registered (``OPERATORS[type].spec_model``),
so the operations form a discriminated union on ``type``.  Every error names the file, the
operation and the field in one line::

    pipelines/x.yaml: operations[2] (summarize).prompt: unknown template variable 'inpt' ...

Relative paths (datasets, output, intermediate_dir, assertion modules) resolve against the
YAML file's folder (DocETL resolves them against the working directory; ours does not depend on
where you run from).
"""

from __future__ import annotations

import copy
import difflib
import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import Field, ValidationError, create_model, field_validator

from llmassert.errors import SpecError

# OPERATORS imports an operator's module when its type is first looked up (a pipeline pays
# for the operators it names).
from llmassert.pipeline.operators.base import OPERATORS, JoinOperator, OperationSpec, StrictModel
from llmassert.pipeline.parsing import ParsingToolSpec
from llmassert.pipeline.retrievers import RetrieverSpec

OUTPUT_SUFFIXES = (".json", ".jsonl", ".csv")


class SystemPromptSpec(StrictModel):
    """DocETL's pipeline-wide system prompt."""

    dataset_description: str | None = None
    persona: str | None = None


_RETRIEVING_OPS = frozenset({"map", "filter", "reduce", "extract"})


class DatasetSpec(StrictModel):
    """``datasets.<name>``: a JSON list, JSONL, CSV, or a folder of text files."""

    type: Literal["file"] = "file"
    path: str = Field(description="File or folder, relative to the YAML's folder.")
    source: Literal["local"] | None = None
    format: Literal["json", "jsonl", "csv", "text"] | None = Field(
        None, description="llmassert extension; default: from the suffix (a folder = text)."
    )
    parsing: list[ParsingToolSpec] | None = Field(
        None, description="DocETL parsing tools: a row's file (docx, pptx, xlsx, pdf...) to text."
    )


class JoinInputs(StrictModel):
    """An equijoin in a step: ``- join_op: {left: dataset_or_step, right: ...}``."""

    left: str
    right: str


class StepSpec(StrictModel):
    """``pipeline.steps[i]``: operations run in order over ``input``."""

    name: str = Field(min_length=1)
    input: str | None = Field(None, description="A dataset or an earlier step.")
    operations: list[str | dict[str, JoinInputs]] = Field(min_length=1)

    def op_names(self) -> list[str]:
        return [o if isinstance(o, str) else next(iter(o)) for o in self.operations]


class OutputFileSpec(StrictModel):
    """``pipeline.output``."""

    type: Literal["file"] = "file"
    path: str = Field(description="Output file (.json, .jsonl or .csv).")
    intermediate_dir: str | None = Field(
        None, description="Each operation's output (and llmassert's checkpoints) go here."
    )

    @field_validator("path")
    @classmethod
    def _suffix(cls, v: str) -> str:
        if not v.lower().endswith(OUTPUT_SUFFIXES):
            raise ValueError(f"must end in one of {', '.join(OUTPUT_SUFFIXES)}")
        return v


class PipelineSection(StrictModel):
    steps: list[StepSpec] = Field(min_length=1)
    output: OutputFileSpec


class FallbackModelSpec(StrictModel):
    """One entry of DocETL's ``fallback_models`` in its long form."""

    model_name: str = Field(min_length=1)
    litellm_params: dict[str, Any] = Field(default_factory=dict)


FallbackModels = list[Union[str, FallbackModelSpec]]  # noqa: UP007


class PipelineSpec(StrictModel):
    """A whole pipeline file."""

    default_model: str | None = None
    model: str | None = Field(None, description="DocETL: the default model (as default_model).")
    fallback_models: FallbackModels | None = Field(
        None, description="DocETL: models tried in order when a request fails."
    )
    fallback_embedding_models: FallbackModels | None = Field(
        None, description="DocETL: embedding models tried in order when a request fails."
    )
    retrievers: dict[str, RetrieverSpec] | None = Field(
        None, description="DocETL: LanceDB indexes operations search with `retriever:`."
    )
    default_lm_api_base: str | None = None
    default_embedding_api_base: str | None = None
    default_embedding_model: str | None = Field(None, description="llmassert extension.")
    bypass_cache: bool = False
    system_prompt: SystemPromptSpec | None = None
    # Before datasets: a dataset naming a user-defined tool is reported as this field's error.
    parsing_tools: list[Any] | None = Field(
        None, description="DocETL's user-defined parsing functions: refused (arbitrary Python)."
    )
    datasets: dict[str, DatasetSpec] = Field(min_length=1)
    operations: list[OperationSpec] = Field(min_length=1)
    pipeline: PipelineSection
    optimizer_config: dict[str, Any] | None = Field(None, description="DocETL (ignored).")
    rate_limits: dict[str, Any] | None = Field(
        None, description="DocETL (ignored: use LLMASSERT_RPM / LLMASSERT_TPM)."
    )

    @field_validator("parsing_tools")
    @classmethod
    def _no_custom_parsing(cls, v: list[Any] | None) -> list[Any] | None:
        if v:
            # DocETL exec()s this code with full access to the machine; a pipeline from
            # elsewhere is untrusted (code_map runs contained Python, without imports).
            raise ValueError(
                "user-defined parsing functions are arbitrary Python (imports, files): "
                "refused; parse the files before the run, or use a built-in parsing tool"
            )
        return v

    def fallback_model_names(self) -> list[str]:
        return [m if isinstance(m, str) else m.model_name for m in self.fallback_models or []]

    def fallback_embedding_model_names(self) -> list[str]:
        return [
            m if isinstance(m, str) else m.model_name for m in self.fallback_embedding_models or []
        ]

    def operation(self, name: str) -> OperationSpec:
        return next(o for o in self.operations if o.name == name)


@dataclass(frozen=True)
class LoadedPipeline:
    """A validated spec and where it came from."""

    spec: PipelineSpec
    path: Path
    text_sha: str
    op_where: dict[str, str]

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def resolve(self, p: str) -> Path:
        path = Path(p).expanduser()
        # Normalized (no "pipelines/../out") so messages and reports show the path a user types.
        return Path(os.path.normpath(path if path.is_absolute() else self.base_dir / path))


# -- loading -------------------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe loader that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_pipeline(path: str | Path) -> LoadedPipeline:
    """Read, parse and validate a pipeline YAML; every problem is one ``SpecError`` line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError("pipeline file not found", file=path) from None
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"cannot read: {e}", file=path) from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "yaml"
        problem = getattr(e, "problem", None) or str(e)
        raise SpecError(f"invalid YAML: {problem}", file=path, field=where) from None
    if not isinstance(raw, dict):
        raise SpecError("expected a mapping with datasets, operations and pipeline", file=path)
    raw_ops = raw.get("operations")
    if not isinstance(raw_ops, list):
        raise SpecError("must be a list of operations", file=path, field="operations")
    ops, op_where = _validate_operations(raw_ops, path)
    try:
        spec = PipelineSpec.model_validate({**raw, "operations": ops})
    except ValidationError as e:
        raise _spec_error(e, path) from None
    _cross_check(spec, path, op_where)
    loaded = LoadedPipeline(
        spec=spec,
        path=path.resolve(),
        op_where=op_where,
        text_sha=hashlib.sha256(text.encode()).hexdigest(),
    )
    for name, ds in spec.datasets.items():
        if not loaded.resolve(ds.path).exists():
            raise SpecError(
                f"dataset file not found: {loaded.resolve(ds.path)}",
                file=path,
                field=f"datasets.{name}.path",
            )
    return loaded


def _validate_operations(
    raw_ops: list[Any], path: Path
) -> tuple[list[OperationSpec], dict[str, str]]:
    ops: list[OperationSpec] = []
    where: dict[str, str] = {}
    for i, op in enumerate(raw_ops):
        if not isinstance(op, dict):
            raise SpecError("each operation must be a mapping", file=path, field=f"operations[{i}]")
        name = op.get("name")
        label = f"operations[{i}]" + (f" ({name})" if isinstance(name, str) else "")
        kind = op.get("type")
        if kind is None:
            raise SpecError("missing required key 'type'", file=path, field=label)
        if kind in REFUSED_OPERATORS:
            raise SpecError(
                f"operator type {kind!r} is refused: {REFUSED_OPERATORS[kind]}",
                file=path,
                field=f"{label}.type",
            )
        if kind not in OPERATORS:
            known = ", ".join(sorted(OPERATORS))
            raise SpecError(
                f"unknown operator type {kind!r} (known: {known})", file=path, field=f"{label}.type"
            )
        model = OPERATORS[kind].spec_model
        try:
            spec = model.model_validate(op)
        except ValidationError as e:
            raise _spec_error(e, path, prefix=label, model=model) from None
        if spec.name in where:
            raise SpecError(
                f"duplicate operation name {spec.name!r} (first at {where[spec.name]})",
                file=path,
                field=f"{label}.name",
            )
        where[spec.name] = label
        ops.append(spec)
    return ops, where


def _cross_check(spec: PipelineSpec, path: Path, where: dict[str, str]) -> None:
    retrievers = spec.retrievers or {}
    for op in spec.operations:
        r = getattr(op, "retriever", None)
        if r is not None and op.type not in _RETRIEVING_OPS:
            raise SpecError(
                f"retriever on a {op.type}: DocETL offers retrieval on map, filter, reduce and extract only",
                file=path,
                field=f"{where[op.name]}.retriever",
            )
        if r is not None and r not in retrievers:
            raise SpecError(
                _unknown("retriever", r, sorted(retrievers)),
                file=path,
                field=f"{where[op.name]}.retriever",
            )
    steps = [s.name for s in spec.pipeline.steps]
    for name, r in retrievers.items():
        if r.dataset not in spec.datasets and r.dataset not in steps:
            raise SpecError(
                _unknown("dataset or step", r.dataset, sorted(spec.datasets) + steps),
                file=path,
                field=f"retrievers.{name}.dataset",
            )
    seen_steps: list[str] = []
    for i, step in enumerate(spec.pipeline.steps):
        label = f"pipeline.steps[{i}] ({step.name})"
        if step.name in seen_steps:
            raise SpecError(f"duplicate step name {step.name!r}", file=path, field=label)
        if step.name in spec.datasets:
            raise SpecError(
                f"step name {step.name!r} is also a dataset name", file=path, field=label
            )
        sources = set(spec.datasets) | set(seen_steps)
        for j, entry in enumerate(step.operations):
            name = entry if isinstance(entry, str) else next(iter(entry))
            if isinstance(entry, dict) and len(entry) != 1:
                raise SpecError(
                    "a join entry names one operation", file=path, field=f"{label}.operations[{j}]"
                )
            if name not in where:
                raise SpecError(
                    _unknown("operation", name, list(where)),
                    file=path,
                    field=f"{label}.operations[{j}]",
                )
            is_join = issubclass(OPERATORS[spec.operation(name).type], JoinOperator)
            if is_join and isinstance(entry, str):
                raise SpecError(
                    f"{name!r} is a join: write it as `- {name}: {{left: ..., right: ...}}`",
                    file=path,
                    field=f"{label}.operations[{j}]",
                )
            if not is_join and isinstance(entry, dict):
                raise SpecError(
                    f"{name!r} is not a join; list it by name",
                    file=path,
                    field=f"{label}.operations[{j}]",
                )
            if isinstance(entry, dict):
                for side in ("left", "right"):
                    src = getattr(entry[name], side)
                    if src not in sources:
                        raise SpecError(
                            _unknown("input", src, sorted(sources)),
                            file=path,
                            field=f"{label}.operations[{j}].{name}.{side}",
                        )
        first = step.operations[0]
        if step.input is None and isinstance(first, str):
            raise SpecError(
                "missing `input` (a dataset or an earlier step)", file=path, field=label
            )
        if step.input is not None and step.input not in sources:
            raise SpecError(
                _unknown("input", step.input, sorted(sources)), file=path, field=f"{label}.input"
            )
        seen_steps.append(step.name)


# DocETL operator types that exist in its code but are refused here, with the reason.
REFUSED_OPERATORS = {
    "scan": "it replaces a step's rows with a dataset's (DocETL 0.3.0's code has it, its docs "
    "do not); name that dataset as the step's `input:` instead",
}


def _unknown(what: str, name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {what} {name!r}{hint} (known: {', '.join(known) or 'none'})"


def _spec_error(
    e: ValidationError, path: Path, prefix: str = "", model: type[StrictModel] | None = None
) -> SpecError:
    err = e.errors()[0]
    loc = [
        p
        for p in err["loc"]
        if not (isinstance(p, str) and p.startswith(("function-", "str", "dict[")))
    ]
    field = prefix
    for part in loc:
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        known: list[str] = []
        if model is not None and len(loc) == 1:
            known = [f.alias or n for n, f in model.model_fields.items()]
        close = difflib.get_close_matches(key, known, n=1)
        msg = f"unknown key {key!r}" + (f"; did you mean {close[0]!r}?" if close else "")
    elif kind == "missing":
        msg = "missing required key"
    elif kind == "literal_error" and loc and loc[-1] == "type":
        msg = f"unknown type: {msg}"
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return SpecError(msg, file=path, field=field or None)


def pipeline_json_schema() -> dict[str, Any]:
    """JSON Schema of the pipeline YAML (operations as a union on ``type``), for editors."""
    return copy.deepcopy(_json_schema())


@functools.cache
def _json_schema() -> dict[str, Any]:
    specs = tuple(cls.spec_model for _, cls in sorted(OPERATORS.items()))
    op_type: Any = (
        Annotated[Union[specs], Field(discriminator="type")]  # noqa: UP007
        if len(specs) > 1
        else specs[0]
    )
    model = create_model(
        "Pipeline", __base__=PipelineSpec, operations=(list[op_type], Field(min_length=1))
    )
    schema: dict[str, Any] = model.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "llmassert pipeline (DocETL-compatible)"
    return schema
