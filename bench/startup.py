"""Start-up: `llmassert --help` against `python -c "import litellm"` (median of several runs).

    python bench/startup.py            # 7 runs each
    python bench/startup.py --runs 15

Both run as fresh subprocesses of this interpreter, so the figures include interpreter start.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

HELP = [
    sys.executable,
    "-c",
    "import sys; from llmassert.cli import main; sys.exit(main(['--help']))",
]
BARE = [sys.executable, "-c", "pass"]
LITELLM = [sys.executable, "-c", "import litellm"]


def median_seconds(cmd: list[str], runs: int) -> float:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    median_seconds(HELP, 1)  # warm the bytecode cache and the page cache
    median_seconds(LITELLM, 1)
    bare = median_seconds(BARE, args.runs)
    help_s = median_seconds(HELP, args.runs)
    litellm_s = median_seconds(LITELLM, args.runs)
    rows = [
        ("python -c pass", bare),
        ("llmassert --help", help_s),
        ('python -c "import litellm"', litellm_s),
    ]
    print(f"{'command':<34}{'median s':>10}")
    for name, seconds in rows:
        print(f"{name:<34}{seconds:>10.3f}")
    print(f"import litellm / llmassert --help = {litellm_s / help_s:.1f}x")


if __name__ == "__main__":
    main()
