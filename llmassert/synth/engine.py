"""Synthesis end to end: prompt histories in, reviewed assertion modules and manifests out.

For every prompt found under ``path``::

    history -> deltas -> criteria (rules; the model re-categorizes with --model)
            -> candidates (rule library always; LLM checks and judges with --model)
            -> evaluation on the labeled responses (M), subsumption verified on the data (K)
            -> selection (ILP; criteria coverage when there are no labels)
            -> assertions/<name>.py + assertions/<name>.json

``holdout`` splits the labeled responses *by input* (responses to the same input dict stay
together; stable hashing with ``seed``): selection sees one part, the other gives held-out
coverage / FFR.  Infeasible targets do not stop the run: the nearest feasible (alpha, tau) is used
and the report says so (``strict`` turns that into an error).  Every output is rendered and
validated before the first byte is written, so an error leaves ``out_dir`` untouched.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from llmassert.aio import run_sync
from llmassert.config import Settings
from llmassert.errors import HistoryError, InfeasibleError, SynthesisError
from llmassert.select import Matrix
from llmassert.select.tradeoff import best_coverage
from llmassert.synth.evaluate import (
    EvalStats,
    aevaluate,
    derive_subsumption,
    k_matrix,
    verify_subsumption,
)
from llmassert.synth.manifest import (
    ExampleRef,
    HistoryRecord,
    Manifest,
    Method,
    Metrics,
    RetiredRecord,
    SelectionRecord,
    SelfTestRecord,
    SentenceRecord,
    VersionRecord,
    split_metrics,
    stable_id,
)
from llmassert.synth.models import Candidate, Criterion
from llmassert.synth.report import PromptReport, SynthReport
from llmassert.synth.writer import (
    PendingFile,
    check_not_edited,
    commit_outputs,
    module_stem,
    prepare_outputs,
)

if TYPE_CHECKING:
    from llmassert.history.models import LabeledExample, PromptHistory
    from llmassert.llm.client import LLMClient
    from llmassert.select import Selection
    from llmassert.synth.extract import Extraction
    from llmassert.synth.llm_candidates import LLMStats


class SynthProgress(Protocol):
    """Where the engine reports what it is doing (the CLI draws it with rich on stderr)."""

    def stage(self, prompt: str, text: str) -> None: ...

    def evaluating(self, prompt: str, done: int, total: int) -> None: ...

    def finished(self, prompt: str) -> None: ...


class _Silent:
    def stage(self, prompt: str, text: str) -> None:
        pass

    def evaluating(self, prompt: str, done: int, total: int) -> None:
        pass

    def finished(self, prompt: str) -> None:
        pass


@dataclass(frozen=True)
class SynthOptions:
    alpha: float = 0.6
    tau: float = 0.25
    method: Method = "sub"
    holdout: float = 0.0
    seed: int = 0
    strict: bool = False
    timeout_s: float = 1.0  # per sandboxed call
    memory_mb: int = 512
    # Select so that FFR <= tau holds with this one-sided confidence on the selection split
    # (None: in-sample, as SPADE does). See conservative_tau(). In-sample selection over the
    # 10-60 good labels users typically have overfits: held-out FFR reached 0.41 on SPADE's
    # negotiation pipeline at tau = 0.25 (docs/benchmarks.md), hence the 0.9 default.
    ffr_confidence: float | None = 0.9
    # The version whose instructions are enforced: None = the latest; an index, label or sha.
    version: str | None = None
    # Severity of the selected checks when there are no labeled responses (see Manifest).
    unvalidated: Literal["warn", "block"] = "warn"

    def __post_init__(self) -> None:
        for name in ("alpha", "tau"):
            if not 0 <= getattr(self, name) <= 1:
                raise SynthesisError(
                    f"must be between 0 and 1, got {getattr(self, name)}", field=f"--{name}"
                )
        if self.ffr_confidence is not None and not 0 < self.ffr_confidence < 1:
            raise SynthesisError(
                f"must be in (0, 1), got {self.ffr_confidence}", field="--ffr-confidence"
            )
        if not 0 <= self.holdout < 1:
            raise SynthesisError(f"must be in [0, 1), got {self.holdout}", field="--holdout")
        if self.unvalidated not in ("warn", "block"):
            raise SynthesisError(
                f"must be warn or block, got {self.unvalidated!r}", field="--unvalidated"
            )
        if self.method not in ("sub", "cov", "base"):
            raise SynthesisError(f"must be sub, cov or base, got {self.method!r}", field="--method")


@dataclass
class _Outcome:
    report: PromptReport
    files: list[PendingFile]
    relaxed: str | None = None  # the infeasibility message when targets were relaxed


def synthesize(
    path: str | Path,
    *,
    out_dir: str | Path = "assertions",
    alpha: float = 0.6,
    tau: float = 0.25,
    method: Method = "sub",
    settings: Settings | None = None,
    client: LLMClient | None = None,
    holdout: float = 0.0,
    seed: int = 0,
    labels: str | Path | None = None,
    git: bool | None = None,
    strict: bool = False,
    write: bool = True,
    progress: SynthProgress | None = None,
    sandbox_timeout_s: float = 1.0,
    ffr_confidence: float | None = 0.9,
    force: bool = False,
    version: str | None = None,
    unvalidated: Literal["warn", "block"] = "warn",
) -> SynthReport:
    """Synthesize assertions for every prompt under ``path``; see the module docstring.

    Offline unless ``settings.model`` is set (or ``client`` is given). ``write=False`` renders and
    validates everything but writes nothing (:func:`commit` writes it later).
    ``sandbox_timeout_s`` limits each call of LLM-written code. ``ffr_confidence`` (default 0.9)
    selects for FFR <= tau at that confidence; None selects in-sample (:func:`conservative_tau`).
    An edited ``<out_dir>/<name>.py`` is refused before any work (and again before writing)
    unless ``force``.
    ``version`` picks the version whose instructions are checked (default: the latest).
    ``unvalidated``: the severity of the checks of a prompt without labeled responses ("warn":
    reported, never enforced, until labels measure how often they fail good outputs).
    """
    from llmassert.history import load_histories

    options = SynthOptions(
        alpha=alpha,
        tau=tau,
        method=method,
        holdout=holdout,
        seed=seed,
        strict=strict,
        timeout_s=sandbox_timeout_s,
        ffr_confidence=ffr_confidence,
        version=version,
        unvalidated=unvalidated,
    )
    histories = load_histories(Path(path), git=git, labels=Path(labels) if labels else None)
    if not histories:
        raise HistoryError(
            "no prompt histories found (expected version folders, "
            "<name>.yaml/.json with versions:, or a git-tracked prompt file)",
            file=path,
        )
    _check_histories(histories)
    # Before any LLM call (commit() checks again): refusing after paying for them wastes them.
    check_not_edited((Path(out_dir) / f"{module_stem(h.name)}.py" for h in histories), force=force)
    model = settings.model if settings is not None else None
    if client is None and model:
        from llmassert.llm.session import get_client

        assert settings is not None
        client = get_client(settings)
    if client is not None and not model:
        model = client.settings.model
    outcomes = run_sync(
        _synthesize_all(histories, Path(out_dir), options, client, model, progress or _Silent()),
        here=True,
    )
    relaxed = [o.relaxed for o in outcomes if o.relaxed]
    if strict and relaxed:
        raise InfeasibleError(relaxed[0] + " (--strict: nothing written)")
    report = SynthReport(
        prompts=[o.report for o in outcomes],
        out_dir=Path(out_dir),
        model=model,
        written=False,
        pending=[f for o in outcomes for f in o.files],
    )
    if client is not None and model:
        report.cost = client.usage.cost
    if write:
        commit(report, force=force)
    return report


def commit(report: SynthReport, extra: Sequence[PendingFile] = (), *, force: bool = False) -> None:
    """Write a report's validated outputs (and ``extra`` files, e.g. the HTML report)."""
    commit_outputs([*report.pending, *extra], force=force)
    report.pending = []
    report.written = True


def _check_histories(histories: Sequence[PromptHistory]) -> None:
    stems: dict[str, str] = {}
    for h in histories:
        if len(h.versions) < 2:
            raise HistoryError(
                f"prompt {h.name!r} has only one version; synthesis needs at least two "
                "to see which instructions were added",
                file=h.origin,
            )
        stem = module_stem(h.name)
        if stem in stems:
            raise HistoryError(
                f"prompts {stems[stem]!r} and {h.name!r} would both be written "
                f"as {stem}.py; rename one",
                file=h.origin,
            )
        stems[stem] = h.name


async def _synthesize_all(
    histories: Sequence[PromptHistory],
    out_dir: Path,
    options: SynthOptions,
    client: LLMClient | None,
    model: str | None,
    progress: SynthProgress,
) -> list[_Outcome]:
    outcomes = []
    for history in histories:
        outcomes.append(await _synthesize_one(history, out_dir, options, client, model, progress))
        progress.finished(history.name)
    return outcomes


# -- one prompt -----------------------------------------------------------------------------------


@dataclass
class _Candidates:
    criteria: list[Criterion]
    candidates: list[Candidate]
    needs_judge: list[str]
    sources: Counter[str] = field(default_factory=Counter)
    llm_stats: LLMStats | None = None
    offline_judges: int = 0
    history: HistoryRecord | None = None
    self_test: SelfTestRecord | None = None


async def _criteria_and_candidates(
    history: PromptHistory,
    client: LLMClient | None,
    model: str | None,
    progress: SynthProgress,
    options: SynthOptions | None = None,
) -> _Candidates:
    from llmassert.history.notes import note_deltas
    from llmassert.synth.extract import candidates as offline_candidates
    from llmassert.synth.extract import extract
    from llmassert.synth.llm_candidates import reserved_names
    from llmassert.synth.rules import recognizes
    from llmassert.synth.taxonomy import criteria as categorize_offline

    options = options or SynthOptions()
    progress.stage(history.name, "diffing versions")
    found = extract(history, options.version)
    # Graders' criterion notes (`llmassert label`, notes.jsonl) count as latest-version edits.
    criteria = offline = [*found.criteria, *categorize_offline(note_deltas(history))]
    llm_stats = None
    if client is not None and model:
        from llmassert.synth.llm_candidates import LLMStats
        from llmassert.synth.llm_candidates import categorize as llm_categorize

        llm_stats = LLMStats()
        progress.stage(history.name, f"categorizing {len(criteria)} criteria with {model}")
        criteria = await llm_categorize(client, model, criteria, llm_stats)
    candidates: list[Candidate] = []
    offline_judges = 0
    # Names stay unique within the prompt (and stable across reruns), and never shadow a helper.
    taken = reserved_names()
    for crit, rule_crit in zip(criteria, offline, strict=True):
        # The model's category adds to the rules' reading, never replaces it: a criterion the
        # rules check offline keeps those candidates whatever category the model picked.
        readings = [rule_crit] if crit.category == rule_crit.category else [rule_crit, crit]
        codes: set[str] = set()
        for reading in readings:
            if not reading.category.yields_assertions:
                continue
            for cand in offline_candidates(found, reading, taken):
                # The same check from both readings differs only in its (suffixed) name.
                body = re.sub(rf"\b{re.escape(cand.name)}\b", "_", cand.code)
                if body in codes:
                    continue
                codes.add(body)
                if cand.kind == "llm_judge" and not model:
                    offline_judges += 1  # no model to ask: cannot be evaluated offline
                    continue
                candidates.append(cand)
    needs_judge = [
        c.text
        for c, r in zip(criteria, offline, strict=True)
        if c.category.yields_assertions
        and (
            c.id in found.conditional
            or (c.id not in found.scoped and not recognizes(c) and not recognizes(r))
        )
    ]
    progress.stage(history.name, "self-testing candidates on the output template")
    checked, test_record = await _self_test(found, candidates, criteria, bool(history.labeled))
    candidates = checked
    if client is not None and model:
        from llmassert.synth.llm_candidates import NameRegistry, generate

        assert llm_stats is not None
        progress.stage(history.name, f"generating candidates with {model}")
        names = NameRegistry(taken)
        candidates += await generate(
            client, model, criteria, found.view.version.text, names, llm_stats, existing=candidates
        )
    sources: Counter[str] = Counter(
        "judge" if c.kind == "llm_judge" else c.source for c in candidates
    )
    return _Candidates(
        criteria,
        candidates,
        needs_judge,
        sources,
        llm_stats,
        offline_judges,
        _history_record(history, found),
        test_record,
    )


async def _self_test(
    found: Extraction, candidates: list[Candidate], criteria: list[Criterion], labeled: bool
) -> tuple[list[Candidate], SelfTestRecord]:
    """Drop candidates that fail the filled-in output template or contradict a better-founded
    one; without labels keep each criterion's most lenient variant (``selftest.py``)."""
    from llmassert.history.models import LabeledExample
    from llmassert.synth import selftest
    from llmassert.synth.template import filled

    sample = filled(found.template)
    det = [c for c in candidates if c.kind == "deterministic"]
    rows = selftest.responses(sample)
    variables = criteria[0].variables if criteria else ()
    inputs = {v: f"sample {v}" for v in variables}
    probes = [LabeledExample(input=inputs, response=r, label=1) for r in rows]
    M = (await aevaluate(det, probes)).M if det else []
    result = selftest.self_test(candidates, criteria, sample, M, labeled=labeled)
    record = SelfTestRecord(
        template_response=sample,
        failed_template=result.failed_template,
        contradictions=[list(p) for p in result.contradictions],
        loosened=result.loosened,
    )
    return result.kept, record


def _history_record(history: PromptHistory, found: Extraction) -> HistoryRecord:
    from dataclasses import asdict

    from llmassert.history.current import version_sha
    from llmassert.history.diff import _key

    not_instructions = []
    for s in found.sentences:
        if s.role == "output":
            continue
        version, sha = found.origins.get(_key(s.text), (found.view.version.index, None))
        not_instructions.append(
            SentenceRecord(text=s.text, role=s.role, reason=s.reason, version=version, sha=sha)
        )
    tpl = found.template
    template = (
        {
            "sections": [asdict(sec) for sec in tpl.sections],
            "ordered": tpl.ordered,
            "json_keys": list(tpl.json_keys),
        }
        if tpl.sections or tpl.json_keys
        else None
    )
    return HistoryRecord(
        checked=found.view.version.index,
        versions=[
            VersionRecord(index=v.index, label=v.label, sha=version_sha(v))
            for v in history.versions
        ],
        not_instructions=not_instructions,
        retired=[
            RetiredRecord(
                text=d.text, version=d.version, sha=version_sha(history.versions[d.version - 1])
            )
            for d in found.view.retired
        ],
        template=template,
    )


def offline_candidates(history: PromptHistory) -> tuple[list[Criterion], list[Candidate]]:
    """The criteria and candidates synthesis builds without a model (rule library; judges left
    out), for callers that evaluate them on responses of their own (``llmassert label``)."""
    found = run_sync(_criteria_and_candidates(history, None, None, _Silent()), here=True)
    return found.criteria, found.candidates


def split_by_input(
    examples: Sequence[LabeledExample], holdout: float, seed: int
) -> tuple[list[int], list[int]]:
    """(selection rows, held-out rows): whole input groups, chosen by a seeded stable hash.

    The number of held-out groups is ``round(holdout * groups)``, kept within [1, groups - 1]
    when there are at least two groups, so both sides are non-empty.
    """
    if holdout <= 0 or not examples:
        return list(range(len(examples))), []
    groups: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        groups.setdefault(stable_id(ex.input), []).append(i)
    if len(groups) < 2:
        return list(range(len(examples))), []
    order = sorted(groups, key=lambda g: hashlib.sha256(f"{seed}:{g}".encode()).hexdigest())
    n_test = min(max(round(holdout * len(order)), 1), len(order) - 1)
    test = sorted(i for g in order[:n_test] for i in groups[g])
    chosen = set(test)
    return [i for i in range(len(examples)) if i not in chosen], test


async def _synthesize_one(
    history: PromptHistory,
    out_dir: Path,
    options: SynthOptions,
    client: LLMClient | None,
    model: str | None,
    progress: SynthProgress,
) -> _Outcome:
    found = await _criteria_and_candidates(history, client, model, progress, options)
    candidates, criteria = found.candidates, found.criteria
    warnings: list[str] = []
    examples = list(history.labeled)
    train, test = split_by_input(examples, options.holdout, options.seed)
    if options.holdout and not test:
        warnings.append("--holdout ignored: fewer than two distinct labeled inputs")

    progress.stage(
        history.name,
        f"evaluating {len(candidates)} candidates on {len(examples)} labeled responses",
    )
    evaluation = await aevaluate(
        candidates,
        examples,
        client=client,
        model=model,
        timeout_s=options.timeout_s,
        memory_mb=options.memory_mb,
        progress=lambda done, total: progress.evaluating(history.name, done, total),
    )
    warnings += _eval_warnings(evaluation.stats)
    if found.offline_judges:
        warnings.append(
            f"{found.offline_judges} LLM-judge candidates of the rule library were "
            "skipped: no model configured"
        )
    M_train = [evaluation.M[i] for i in train]
    y_train = [examples[i].label for i in train]

    pairs = derive_subsumption(candidates, M_train)
    if client is not None and model and candidates:
        from llmassert.synth.llm_candidates import claim_subsumptions

        assert found.llm_stats is not None
        progress.stage(history.name, "asking the model for subsumptions")
        claims = await claim_subsumptions(
            client, model, history.name, candidates, criteria, found.llm_stats
        )
        verified, rejected = verify_subsumption(claims, [c.name for c in candidates], M_train)
        pairs |= verified
        if rejected:
            warnings.append(
                f"{rejected} subsumption claims of the model contradicted by the "
                "labeled data were dropped"
            )
    if found.llm_stats is not None:
        warnings += _llm_warnings(found.llm_stats)

    refs = [_ref(examples[i], "train") for i in train] + [_ref(examples[i], "test") for i in test]
    manifest = Manifest(
        prompt=history.name,
        versions=len(history.versions),
        model=model,
        alpha=options.alpha,
        tau=options.tau,
        method=options.method,
        criteria=criteria,
        candidates=candidates,
        assertions=[c.name for c in candidates],
        groups=[c.criterion_id for c in candidates],
        M=M_train,
        y=y_train,
        K=k_matrix(len(candidates), pairs),
        test_M=[evaluation.M[i] for i in test],
        test_y=[examples[i].label for i in test],
        selection=SelectionRecord(
            method=options.method,
            alpha=options.alpha,
            tau=options.tau,
            selected=[],
            count=0,
            coverage=None,
            ffr=None,
            status="pending",
        ),
        metrics=Metrics(
            train=split_metrics(M_train, y_train, []), holdout=options.holdout, seed=options.seed
        ),
        examples=refs,
        history=found.history,
        self_test=found.self_test,
        validated=bool(M_train),
        unvalidated_severity=options.unvalidated,
    )
    if not M_train and candidates:
        enforced = (
            "written as severity block (--unvalidated block)"
            if options.unvalidated == "block"
            else "written as severity warn: reported, never enforced"
        )
        warnings.append(
            "no labeled responses: the selection is unvalidated (each criterion's most lenient "
            f"check, self-tested on the prompt's output template), {enforced}; add --labels to "
            "measure FFR"
        )
    progress.stage(history.name, "selecting")
    manifest, relaxed = _select(manifest, options, warnings)
    if not candidates:
        warnings.append("no checkable criteria: nothing to select")
    files = prepare_outputs(manifest, out_dir)
    train_m, test_m = manifest.metrics.train, manifest.metrics.test
    report = PromptReport(
        name=history.name,
        versions=len(history.versions),
        criteria=len(criteria),
        candidates=len(candidates),
        selected=manifest.selection.count,
        coverage=train_m.coverage,
        ffr=train_m.ffr,
        test_coverage=test_m.coverage if test_m else None,
        test_ffr=test_m.ffr if test_m else None,
        labeled=len(examples),
        status=manifest.selection.status,
        sources=found.sources,
        needs_judge=found.needs_judge,
        warnings=warnings,
        files=[f.path for f in files],
        manifest=manifest,
        not_instructions=[
            (r.role, r.text) for r in (found.history.not_instructions if found.history else [])
        ],
        retired=len(found.history.retired) if found.history else 0,
        checked=history.versions[found.history.checked - 1].label if found.history else "",
        validated=bool(M_train),
    )
    return _Outcome(report, files, relaxed)


def _ref(ex: LabeledExample, split: str) -> ExampleRef:
    return ExampleRef(
        id=stable_id({"input": ex.input, "response": ex.response}),
        input_id=stable_id(ex.input),
        label=ex.label,
        split=split,  # type: ignore[arg-type]
        model=ex.model,
    )


def conservative_tau(tau: float, good: int, confidence: float) -> float:
    """The largest k / good such that k false failures among ``good`` responses still bound the
    true FFR by ``tau`` at ``confidence`` (one-sided Clopper-Pearson upper bound).

    With few labels this is much stricter than tau: after 12 good responses, even 1 false failure
    leaves a 90 % upper bound of 0.29, so selecting at tau = 0.25 in-sample (3 false failures
    allowed) generalizes poorly. 0.0 means "fail none of them".
    """
    if good <= 0:
        return tau
    lo, hi = 0, good  # the bound grows with k: bisect for the last k within tau
    if _upper_bound(0, good, confidence) > tau:
        return 0.0
    while lo < hi:
        k = (lo + hi + 1) // 2
        lo, hi = (k, hi) if _upper_bound(k, good, confidence) <= tau + 1e-12 else (lo, k - 1)
    return lo / good


def _upper_bound(k: int, n: int, confidence: float) -> float:
    """p with P(X <= k | n, p) = 1 - confidence (bisection; the CDF falls as p grows)."""
    if k >= n:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(50):
        p = (lo + hi) / 2
        lo, hi = (p, hi) if _binomial_cdf(k, n, p) > 1 - confidence else (lo, p)
    return hi


def ffr_upper_bound(false_failures: int, good: int, confidence: float) -> float:
    """One-sided Clopper-Pearson upper bound on the true FFR after ``false_failures`` of ``good``
    labeled good responses failed: the bound :func:`conservative_tau` keeps within tau."""
    return _upper_bound(false_failures, good, confidence)


def _binomial_cdf(k: int, n: int, p: float) -> float:
    # In log space: (1 - p) ** n underflows long before the tail that matters does.
    log_p, log_q = math.log(p), math.log1p(-p)
    log_n = math.lgamma(n + 1)
    return sum(
        math.exp(log_n - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q)
        for i in range(k + 1)
    )


def manifest_matrix(manifest: Manifest) -> Matrix:
    """The selection problem a manifest records: its candidates' verdicts, labels, kinds, costs."""
    return Matrix(
        assertions=manifest.assertions,
        M=manifest.M,
        y=manifest.y or None,
        K=manifest.K,
        groups=manifest.groups,
        kinds=[c.kind for c in manifest.candidates],
        costs=[c.cost for c in manifest.candidates],
    )


def _select(
    manifest: Manifest, options: SynthOptions, warnings: list[str]
) -> tuple[Manifest, str | None]:
    """Solve; when the targets cannot be met, relax them and say so.

    The false-failure ceiling tau is kept whenever possible — an assertion that fails good
    responses blocks the pipeline for nothing — and alpha is lowered to the best coverage
    reachable at that tau. Only when nothing is feasible at tau does the solver's nearest
    feasible (alpha, tau) apply, raising tau.
    """
    from llmassert.select import select

    if not manifest.candidates:
        return manifest.with_selection(
            [], method=options.method, alpha=options.alpha, tau=options.tau, status="empty"
        ), None
    matrix = manifest_matrix(manifest)
    tau = options.tau
    good = sum(manifest.y)
    if options.ffr_confidence is not None and manifest.y:
        # Recorded in the manifest and the module header; not a warning, it is the default.
        tau = conservative_tau(options.tau, good, options.ffr_confidence)
    options = replace(options, tau=tau)
    try:
        sel = select(matrix, options.method, options.alpha, tau)
        return _apply(manifest, sel, options.alpha, tau, options, relaxed=False), None
    except InfeasibleError as e:
        infeasible = e
    found = best_coverage(matrix, options.method, options.alpha, tau)
    if found is not None:
        a, sel = found
        warnings.append(
            f"coverage >= {options.alpha:g} is out of reach at FFR <= "
            f"{tau:.3g}; selected for the best reachable coverage: "
            f"alpha={a:.3g}, tau={tau:.3g}"
        )
        return _apply(manifest, sel, a, tau, options, relaxed=True), infeasible.message
    if infeasible.nearest is None:
        warnings.append(f"{infeasible.message}; nothing selected")
        return manifest.with_selection(
            [], method=options.method, alpha=options.alpha, tau=tau, status="infeasible"
        ), infeasible.message
    a, t = infeasible.nearest
    sel = select(matrix, options.method, a, t)
    warnings.append(
        f"alpha={options.alpha:g}, tau={tau:.3g} cannot be met; selected at "
        f"the nearest feasible alpha={a:g}, tau={t:g}"
    )
    return _apply(manifest, sel, a, t, options, relaxed=True), infeasible.message


def _apply(
    manifest: Manifest,
    sel: Selection,
    alpha: float,
    tau: float,
    options: SynthOptions,
    *,
    relaxed: bool,
) -> Manifest:
    # The tie-break (fewest false failures, then preference) is select()'s own last stage, so
    # `llmassert select` on this manifest at these targets returns this selection.
    return manifest.selected_by(
        sel, alpha=alpha, tau=tau, relaxed=relaxed, ffr_confidence=options.ffr_confidence
    )


def _eval_warnings(stats: EvalStats) -> list[str]:
    out = []
    if stats.timed_out:
        out.append(
            f"{len(stats.timed_out)} candidates kept timing out and count as failing: "
            + ", ".join(sorted(stats.timed_out))
        )
    broken = sorted(n for n in stats.errors if n not in stats.timed_out)
    if broken:
        first = broken[0]
        out.append(
            f"{len(broken)} candidates raised errors on some responses (counted as "
            f"failures), e.g. {first}: {stats.first_error.get(first, '')}"
        )
    return out


def _llm_warnings(stats: LLMStats) -> list[str]:
    if not stats.dropped:
        return []
    detail = ", ".join(f"{reason} ({n})" for reason, n in sorted(stats.dropped.items()))
    return [f"dropped {sum(stats.dropped.values())} model outputs: {detail}"]


__all__ = [
    "SynthOptions",
    "SynthProgress",
    "best_coverage",
    "commit",
    "conservative_tau",
    "ffr_upper_bound",
    "offline_candidates",
    "split_by_input",
    "synthesize",
]
