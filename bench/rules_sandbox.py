"""Rule-library checks and the sandbox: what a deterministic check and a sandboxed call cost.

    python bench/rules_sandbox.py                          # SPADE pipelines if ../shared/spade exists
    python bench/rules_sandbox.py --data ../shared/spade   # explicit data folder
    python bench/rules_sandbox.py --synthetic              # generated responses only

Per pipeline: the offline rule candidates synthesized from its prompt history, evaluated over its
labeled responses the way evaluation and hooks do (item-major: every check on one response before
the next, so text splitting is shared). "cold" is the first check on a fresh response string
(it pays for splitting words/sentences), "warm" the rest. Then the process sandbox: worker start,
loading the candidates, throughput of one batched call_many, and the cost of a timeout + restart.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from llmassert.history import LabeledExample, deltas, load_histories
from llmassert.sandbox import ProcessSandbox, check_inline_safe, load_inline, validate_source
from llmassert.synth.rules import candidates_for_all
from llmassert.synth.taxonomy import criteria

PIPELINES = ("codereviews", "emails", "finance", "negotiation", "statsbot")
REPEATS = 3


def _synthetic() -> tuple[str, list[str], list[LabeledExample]]:
    prompt_versions = [
        "Summarize {doc} for {audience}.",
        "Summarize {doc} for {audience}. Use no more than [word_count] words. Never use the words "
        "'synergy' or 'leverage'. Respond in English with a markdown header and bullet points. "
        "End with a question. Include links to sources.",
    ]
    body = "## Summary\n" + "\n".join(
        f"- Point {i} about the plan and its cost of ${i * 10}." for i in range(12)
    )
    examples = [
        LabeledExample(input={"doc": "x " * 400, "audience": "execs", "word_count": 150},
                       response=f"{body}\nSee https://example.com/{i}. Any questions?", label=i % 2)
        for i in range(60)
    ]  # fmt: skip
    return "synthetic", prompt_versions, examples


def _load(data: Path | None) -> list[tuple[str, list[str], list[LabeledExample]]]:
    if data is None:
        return [_synthetic()]
    out = []
    for name in PIPELINES:
        folder = data / name / "prompts"
        if folder.is_dir():
            (history,) = load_histories(folder)
            out.append((name, [v.text for v in history.versions], list(history.labeled)))
    return out or [_synthetic()]


def _history(versions: list[str]) -> Any:
    from llmassert.history import PromptHistory, PromptVersion

    return PromptHistory(
        name="bench",
        origin="bench",
        versions=tuple(
            PromptVersion(index=i, text=t, source="bench", label=f"v{i}")
            for i, t in enumerate(versions, 1)
        ),
    )


def measure(name: str, versions: list[str], examples: list[LabeledExample]) -> dict[str, Any]:
    history = _history(versions)
    crits = criteria(deltas(history))
    cands = candidates_for_all(crits)
    t0 = time.perf_counter()
    for c in cands:
        validate_source(c.code, filename=c.name)
        check_inline_safe(c.code, filename=c.name)
    validate_us = (time.perf_counter() - t0) / max(1, len(cands)) * 1e6
    functions = [
        load_inline(c.code, filename=c.name, require_inline_safe=True)[c.name] for c in cands
    ]
    runs: list[tuple[list[float], list[float]]] = []
    for _ in range(REPEATS):  # the machine is shared: keep the quietest run
        cold: list[float] = []
        warm: list[float] = []
        for ex in examples:
            # A fresh string object per response: the helpers' per-text caches start cold.
            response = (" " + ex.response)[1:]
            example = {k: (" " + v)[1:] if isinstance(v, str) else v for k, v in ex.input.items()}
            for k, fn in enumerate(functions):
                t = time.perf_counter_ns()
                fn(example, response)
                (cold if k == 0 else warm).append((time.perf_counter_ns() - t) / 1e3)
        runs.append((cold, warm))
    cold, warm = min(runs, key=lambda run: statistics.mean(run[1]) if run[1] else 0.0)
    words = statistics.mean(len(ex.response.split()) for ex in examples) if examples else 0
    row: dict[str, Any] = {
        "pipeline": name,
        "criteria": len(crits),
        "candidates": len(cands),
        "words": words,
        "validate_us": validate_us,
        "cold_us": statistics.mean(cold) if cold else 0.0,
        "warm_us": statistics.mean(warm) if warm else 0.0,
        "warm_p95_us": statistics.quantiles(warm, n=20)[-1] if len(warm) >= 20 else 0.0,
    }
    source = "\n\n".join(c.code for c in cands)
    items = [(dict(ex.input), ex.response) for ex in examples]
    with ProcessSandbox(timeout_s=1.0) as box:
        t = time.perf_counter()
        box.start()
        row["start_ms"] = (time.perf_counter() - t) * 1e3
        t = time.perf_counter()
        sid = box.load(source, filename=f"{name}.py")
        row["load_ms"] = (time.perf_counter() - t) * 1e3
        t = time.perf_counter()
        box.call_many(sid, [c.name for c in cands], items)
        calls = max(1, len(cands) * len(items))
        row["sandbox_us"] = (time.perf_counter() - t) / calls * 1e6
    return row


def stuck_call_cost() -> float:
    """Seconds lost to one call stuck in a loop (the worker's own timer stops it)."""
    spin = "def spin(example, response):\n    while True:\n        pass\n\n\ndef ok(example, response):\n    return True\n"
    with ProcessSandbox(timeout_s=0.2) as box:
        sid = box.load(spin)
        t = time.perf_counter()
        box.call_many(sid, ["spin", "ok"], [({}, "x")])
        return time.perf_counter() - t


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "spade"
    )
    parser.add_argument("--synthetic", action="store_true")
    args = parser.parse_args()
    data = None if args.synthetic or not args.data.is_dir() else args.data
    if data is None and not args.synthetic:
        print(f"# {args.data} not found: synthetic responses only", file=sys.stderr)
    rows = [measure(*p) for p in _load(data)]
    print(
        "| pipeline | criteria | candidates | avg words | validate+inline check | cold check | warm check | warm p95 | worker start | load all | sandboxed call |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['pipeline']} | {r['criteria']} | {r['candidates']} | {r['words']:.0f} | {r['validate_us']:.0f} µs "
            f"| {r['cold_us']:.1f} µs | {r['warm_us']:.1f} µs | {r['warm_p95_us']:.1f} µs | {r['start_ms']:.0f} ms "
            f"| {r['load_ms']:.0f} ms | {r['sandbox_us']:.1f} µs |"
        )
    print(
        f"\nA call stuck in `while True` with timeout 0.2 s costs {stuck_call_cost():.2f} s in all (the worker's "
        "SIGALRM stops it, no restart); a worker killed by the watchdog or a crash costs one worker start."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
