"""`llmassert run` at scale: wall time against the ideal, and peak memory, by input size.

    python bench/runner_scale.py [--sizes 2000 10000] [--concurrency 64 256] [--repeat 3]
        [--latency-ms 200] [--executor local] [--ray-workers 2] [--out /tmp/runner_scale]

The split → gather → map pipeline of ``bench/runner_vs_docetl.py`` (``../shared/bench``: its
fake server, ``make_docs.py``, the DocETL template with ``intermediate_dir`` set, loaded
unchanged), run as a CLI subprocess with the cache off.  Runs are interleaved (every size and
concurrency once, then again) so load drift spreads over all of them.  Per run: wall time, the
ideal ``ceil(calls / concurrency) × latency``, the server-observed span (first request to last
response), peak RSS of the ``llmassert`` process (``wait4``), its CPU, and the row accounting
(output + quarantine + errors = chunks: no row lost).  Medians and ranges per configuration.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import runner_vs_docetl as rvd  # server, templates, paths

COUNT_ROWS = "import json, sys; print(len(json.load(open(sys.argv[1]))))"


def lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip())


def run_once(
    yaml_path: Path, d: Path, concurrency: int, a: argparse.Namespace, port: int
) -> dict[str, Any]:
    shutil.rmtree(d / "inter", ignore_errors=True)
    for stale in d.glob("out*"):
        stale.unlink()
    rvd.http(f"http://127.0.0.1:{port}/stats/reset", b"")
    cmd = [sys.executable, "-m", "llmassert.cli", "run", str(yaml_path), "--quiet"]
    cmd += ["--max-concurrency", str(concurrency), "--no-cache", "--no-resume"]
    if a.executor != "local":
        cmd += ["--executor", a.executor]
        if a.executor == "ray":
            cmd += ["--ray-workers", str(a.ray_workers)]
    t0, started = time.perf_counter(), time.time()
    with (d / "llmassert.log").open("w") as log:
        proc = subprocess.Popen(
            cmd, cwd=d, env=rvd.our_env(d), stdout=log, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(proc.pid, 0)
    wall, ended = time.perf_counter() - t0, time.time()
    proc.returncode = os.waitstatus_to_exitcode(status)
    stats = rvd.http(f"http://127.0.0.1:{port}/stats")
    out = d / "out.json"
    # Counted in a child process: loading a large output here would grow this process, and a
    # forked child's ru_maxrss counts the parent's pages it maps before exec.
    n_out = (
        int(subprocess.check_output([sys.executable, "-c", COUNT_ROWS, str(out)]))
        if out.exists()
        else 0
    )
    calls = stats["requests"]
    ideal = math.ceil(calls / concurrency) * a.latency_ms / 1000 if calls else float("nan")
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "rc": proc.returncode,
        "wall_s": wall,
        "ideal_s": ideal,
        "span_s": stats["active_span_s"],
        # before the first request / after the last response (the server's clock, same host)
        "to_first_s": (stats.get("first_request_ts") or ended) - started,
        "after_last_s": ended - (stats.get("last_response_ts") or ended),
        "calls": calls,
        "max_concurrency": stats["max_concurrency"],
        "peak_rss_mb": usage.ru_maxrss / 1024,  # kB on Linux
        "cpu_s": cpu,
        "out": n_out,
        "quarantined": lines(d / "out.quarantine.jsonl"),
        "errors": lines(d / "out.errors.jsonl"),
        "inter_mb": sum(p.stat().st_size for p in (d / "inter").rglob("*") if p.is_file()) / 1e6
        if (d / "inter").exists()
        else 0.0,
    }


def fmt_range(values: list[float], digits: int = 2) -> str:
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:.{digits}f}"
    return f"{med:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000])
    ap.add_argument("--concurrency", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--latency-ms", type=float, default=200)
    ap.add_argument("--executor", default="local")
    ap.add_argument("--ray-workers", type=int, default=2)
    ap.add_argument("--out", default="/tmp/runner_scale")
    a = ap.parse_args()
    if not (rvd.SHARED / "fake_llm_server.py").exists():
        sys.exit(f"shared bench tools not found at {rvd.SHARED} (set LLMASSERT_SHARED_BENCH)")
    root = Path(a.out)
    root.mkdir(parents=True, exist_ok=True)
    proc, port = rvd.start_server(a.latency_ms, root)
    configs = [(n, c) for n in a.sizes for c in a.concurrency]
    runs: dict[tuple[int, int], list[dict[str, Any]]] = {k: [] for k in configs}
    try:
        paths = {}
        for n in a.sizes:
            d = root / f"n{n}"
            d.mkdir(exist_ok=True)
            data = d / "docs.json"
            if not data.exists():
                subprocess.run(
                    [
                        sys.executable,
                        str(rvd.SHARED / "docetl" / "make_docs.py"),
                        str(n),
                        str(data),
                    ],
                    check=True,
                )
            paths[n] = (rvd.render("split_gather", d, data, port), d)
        for rep in range(a.repeat):
            for n, c in configs:
                yaml_path, d = paths[n]
                r = run_once(yaml_path, d, c, a, port)
                r.update(n_docs=n, concurrency=c, rep=rep, load=os.getloadavg()[0])
                runs[(n, c)].append(r)
                print(json.dumps(r), flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    report(runs, a, root)


def report(
    runs: dict[tuple[int, int], list[dict[str, Any]]], a: argparse.Namespace, root: Path
) -> None:
    loads = [r["load"] for rs in runs.values() for r in rs]
    text = [
        f"executor {a.executor}, latency {a.latency_ms:.0f} ms, cache off, {a.repeat} interleaved "
        f"runs per row; load average during the runs {min(loads):.1f}–{max(loads):.1f} on "
        f"{os.cpu_count()} cores; medians (min–max)",
        "",
        "| documents | in flight | calls | ideal s | wall s | wall / ideal | span / ideal | "
        "before first request s | after last response s | peak RSS MB | CPU ms / call | "
        "out + quarantine + errors | rc |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (n, c), rs in runs.items():
        ideal = rs[0]["ideal_s"]
        accounted = {r["out"] + r["quarantined"] + r["errors"] for r in rs}
        text.append(
            f"| {n:,} | {c} | {rs[0]['calls']:,} | {ideal:.1f} | "
            f"{fmt_range([r['wall_s'] for r in rs])} | "
            f"{fmt_range([r['wall_s'] / r['ideal_s'] for r in rs])} | "
            f"{fmt_range([r['span_s'] / r['ideal_s'] for r in rs])} | "
            f"{fmt_range([r['to_first_s'] for r in rs])} | "
            f"{fmt_range([r['after_last_s'] for r in rs])} | "
            f"{fmt_range([r['peak_rss_mb'] for r in rs], 0)} | "
            f"{fmt_range([1000 * r['cpu_s'] / max(1, r['calls']) for r in rs])} | "
            f"{', '.join(f'{x:,}' for x in sorted(accounted))} | "
            f"{max(r['rc'] for r in rs)} |"
        )
    out = "\n".join(text) + "\n"
    (root / "results.md").write_text(out)
    (root / "results.json").write_text(
        json.dumps([r for rs in runs.values() for r in rs], indent=1)
    )
    print(out)


if __name__ == "__main__":
    main()
