"""Synthesis quality on SPADE's public pipelines: offline synthesis, scored on held-out responses.

    python bench/synth_quality.py --data ../shared/spade            # 5 seeds, --holdout 0.5
    python bench/synth_quality.py --data ../shared/spade --seeds 3 --method cov

For every pipeline folder ``<data>/<p>/prompts`` (its version history and hand-labeled responses,
read by path and never copied), run ``synthesize`` offline — the rule library only, no LLM — with
the labeled responses split *by input* into a selection half and a held-out half, once per seed.
Print candidates, selected, and held-out coverage / FFR (mean ± sd over seeds) next to SPADE's
published selections (``spade_results.json``; SPADE used GPT-4-written candidates and scored
in-sample). Then list, per pipeline, the criteria the rule library does not recognize: those need
an LLM judge (``--model``). Outputs go to a temporary folder. Skips cleanly without the data.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from llmassert.synth.engine import synthesize
from llmassert.synth.report import PromptReport


def _mean_sd(values: list[float | None]) -> str:
    vals = [v for v in values if v is not None]
    if not vals:
        return "-"
    sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return f"{statistics.fmean(vals):.2f} ± {sd:.2f}"


def _spade(results: dict[str, Any], method: str) -> str:
    r = results.get(f"spade_{method}")
    if not r:
        return "-"
    return f"{r['n_selected']} / {r['ffr']:.2f} / {r['coverage']:.2f}"


def run_pipeline(
    folder: Path,
    seeds: int,
    holdout: float,
    method: str,
    alpha: float,
    tau: float,
    confidence: float | None,
) -> tuple[list[PromptReport], float]:
    reports = []
    start = time.perf_counter()
    for seed in range(seeds):
        with tempfile.TemporaryDirectory() as out:
            report = synthesize(
                folder / "prompts",
                out_dir=out,
                alpha=alpha,
                tau=tau,
                method=method,
                holdout=holdout,
                seed=seed,  # type: ignore[arg-type]
                ffr_confidence=confidence,
            )
        reports.append(report.prompts[0])
    return reports, (time.perf_counter() - start) / seeds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/spade"))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--holdout", type=float, default=0.5)
    ap.add_argument("--method", choices=["sub", "cov", "base"], default="sub")
    ap.add_argument("--alpha", type=float, default=0.6)
    ap.add_argument("--tau", type=float, default=0.25)
    ap.add_argument(
        "--ffr-confidence",
        type=float,
        default=0.9,
        help="select for FFR <= tau at this confidence, as `synth` does by default "
        "(0: in-sample, as SPADE does)",
    )
    ap.add_argument("--pipelines", nargs="*", help="only these pipelines")
    args = ap.parse_args(argv)

    if not args.data.is_dir():
        print(f"skip: SPADE data not found at {args.data} (pass --data)")
        return 0
    pipelines = sorted(p for p in args.data.iterdir() if (p / "prompts").is_dir())
    if args.pipelines:
        pipelines = [p for p in pipelines if p.name in args.pipelines]
    print(
        f"offline synthesis, --method {args.method} --alpha {args.alpha:g} --tau {args.tau:g} "
        f"--ffr-confidence {args.ffr_confidence:g} "
        f"--holdout {args.holdout:g}, {args.seeds} seeds (mean ± sd); "
        "SPADE: selected / FFR / coverage at alpha 0.6, tau 0.25 (in-sample, GPT-4 candidates)\n"
    )
    header = (
        "| pipeline | versions | criteria | candidates | selected | test coverage | "
        "test FFR | train coverage | train FFR | s/run | SPADE sub | SPADE base |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    judges: dict[str, list[str]] = {}
    for folder in pipelines:
        reports, seconds = run_pipeline(
            folder,
            args.seeds,
            args.holdout,
            args.method,
            args.alpha,
            args.tau,
            args.ffr_confidence or None,
        )
        results_file = folder / "spade_results.json"
        spade = json.loads(results_file.read_text()) if results_file.is_file() else {}
        first = reports[0]
        print(
            f"| {folder.name} | {first.versions} | {first.criteria} | {first.candidates} | "
            f"{_mean_sd([float(r.selected) for r in reports])} | "
            f"{_mean_sd([r.test_coverage for r in reports])} | "
            f"{_mean_sd([r.test_ffr for r in reports])} | "
            f"{_mean_sd([r.coverage for r in reports])} | "
            f"{_mean_sd([r.ffr for r in reports])} | {seconds:.1f} | "
            f"{_spade(spade, 'sub')} | {_spade(spade, 'base')} |",
            flush=True,
        )
        judges[folder.name] = first.needs_judge
        for w in sorted({w for r in reports for w in r.warnings}):
            print(f"  warning ({folder.name}): {w}", file=sys.stderr)
    print("\nCriteria the offline rule library does not recognize (they need an LLM judge):")
    for name, texts in judges.items():
        print(f"- {name} ({len(texts)}):")
        for t in texts:
            print(f"    - {' '.join(t.split())[:110]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
