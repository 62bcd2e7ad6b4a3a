"""From a prompt and its responses to a ready :class:`LabelSession` (the IO around the core).

The candidate checks are the ones ``synth`` would evaluate: the manifest's candidates when
``<assertions>/<prompt>.json`` exists (LLM-written ones included, run in the sandbox), else the
rule library's offline candidates for the prompt's history. They run through synth's own
evaluation path (:func:`llmassert.synth.evaluate.evaluate`). LLM-judge candidates need a model:
without one they are left out (the screen says how many).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llmassert.errors import HistoryError
from llmassert.history import PromptHistory, load_histories
from llmassert.history.loaders import LABELS_FILE
from llmassert.label.selection import Targets
from llmassert.label.session import Check, Item, LabelSession
from llmassert.label.sources import Response
from llmassert.label.store import LabelStore
from llmassert.llm.client import LLMClient
from llmassert.synth.engine import offline_candidates
from llmassert.synth.evaluate import evaluate
from llmassert.synth.manifest import load_manifest
from llmassert.synth.models import Candidate
from llmassert.synth.writer import module_stem


@dataclass
class Prepared:
    history: PromptHistory
    session: LabelSession
    store: LabelStore
    candidates_from: str  # the manifest path, or "rule library"
    judges_left_out: int
    criteria: dict[str, str]  # criterion id -> its sentence


def labels_path(history: PromptHistory) -> Path:
    """Where ``synth`` looks for this prompt's labels."""
    origin = Path(history.origin)
    if origin.is_dir():
        return origin / LABELS_FILE
    return origin.with_name(f"{origin.stem}.labeled.jsonl")


def load_history(path: Path) -> PromptHistory:
    histories = load_histories(path)
    if len(histories) != 1:
        raise HistoryError(
            f"found {len(histories)} prompts; label grades one at a time",
            file=path,
            hint="point at one prompt folder or file",
        )
    return histories[0]


def prepare(
    prompt: Path | PromptHistory,
    responses: list[Response],
    *,
    assertions: Path,
    targets: Targets,
    timeout_s: float = 1.0,
    client: LLMClient | None = None,
    model: str | None = None,
) -> Prepared:
    """Load the checks, run them on ``responses``, open the labels file. With ``client`` and
    ``model``, LLM-judge candidates are run too (cached, like synth's)."""
    history = prompt if isinstance(prompt, PromptHistory) else load_history(prompt)
    manifest_path = assertions / f"{module_stem(history.name)}.json"
    criteria: dict[str, str] = {}
    candidates: list[Candidate]
    if manifest_path.is_file():
        manifest = load_manifest(manifest_path)
        candidates = list(manifest.candidates)
        criteria = {c.id: c.text for c in manifest.criteria}
        source = str(manifest_path)
    else:
        found, candidates = offline_candidates(history)
        criteria = {c.id: c.text for c in found}
        source = "rule library"
    judges: list[Candidate] = []
    if client is None or not model:
        judges = [c for c in candidates if c.kind == "llm_judge"]
        candidates = [c for c in candidates if c.kind != "llm_judge"]
    M = (
        evaluate(candidates, responses, client=client, model=model, timeout_s=timeout_s).M
        if candidates
        else []
    )
    items = [
        Item(r.input, r.response, tuple(M[i]) if candidates else (), r.model, r.id)
        for i, r in enumerate(responses)
    ]
    checks = [Check(c.name, c.description, c.criterion_id) for c in candidates]
    store = LabelStore.open(labels_path(history))
    session = LabelSession(items, checks, targets, labels=store.labels())
    return Prepared(history, session, store, source, len(judges), criteria)


__all__ = ["Prepared", "labels_path", "load_history", "prepare"]
