"""`llmassert run` vs DocETL 0.3.0 on the same pipeline YAML, the same data, the same server.

    python bench/runner_vs_docetl.py [--n 200] [--concurrency 64] [--latency-ms 200]
        [--pipelines split_gather map_reduce] [--repeat 3] [--docetl-venv /tmp/venv-peer]
        [--skip-docetl] [--out /tmp/runner_vs_docetl]

Uses ``../shared/bench`` (override with LLMASSERT_SHARED_BENCH): its fake OpenAI-compatible
server (latency as async sleeps, ``/stats`` with the server-observed span), ``make_docs.py`` for
the synthetic documents, and the DocETL YAML templates, rendered exactly as its ``bench.py``
does.  Each tool runs as a CLI subprocess with caching off (the templates set
``bypass_cache: true``; ours also gets ``--no-cache``), so every call reaches the server.

Per run it prints wall time, requests served, max concurrency seen by the server, the ideal
time ``Σ_stage ceil(calls / concurrency) × latency``, the server-observed span (first request to
last response), the ratios, and the client's CPU per call.  Start-up is measured apart
(``llmassert run --dry-run`` on the same pipeline; ``docetl version``).  DocETL runs from its
own venv (created by ``../shared/bench/docetl/run.sh``); without it, only our side is measured
and the reason is printed.  The tools' runs are interleaved (one of each, ``--repeat``
times); medians are reported, and the DocETL / llmassert ratio of each pair.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# ../shared/bench beside the checkout (or beside the folder of worktrees it sits in)
SHARED = Path(
    os.environ.get("LLMASSERT_SHARED_BENCH")
    or next(
        (
            p
            for p in (ROOT.parent / "shared" / "bench", ROOT.parents[1] / "shared" / "bench")
            if p.exists()
        ),
        ROOT.parent / "shared" / "bench",
    )
)


def http(url: str, data: bytes | None = None) -> Any:
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def start_server(latency_ms: float, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port_file = workdir / "port"
    port_file.unlink(missing_ok=True)
    log = (workdir / "server.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            str(SHARED / "fake_llm_server.py"),
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--latency-ms",
            str(latency_ms),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    for _ in range(200):
        if port_file.exists() and port_file.read_text().strip():
            return proc, int(port_file.read_text())
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("fake server did not start")


def render(pipeline: str, d: Path, data: Path, port: int) -> Path:
    text = (SHARED / "docetl" / f"{pipeline}.yaml.tmpl").read_text()
    for k, v in {
        "__DATA__": str(data),
        "__OUT__": str(d / "out.json"),
        "__INTER__": str(d / "inter"),
        "__MODEL__": "openai/fake-model",
        "__API_BASE__": f"http://127.0.0.1:{port}/v1",
    }.items():
        text = text.replace(k, v)
    path = d / "pipeline.yaml"
    path.write_text(text)
    return path


def timed(cmd: list[str], env: dict[str, str], cwd: Path, log: Path, port: int) -> dict[str, Any]:
    http(f"http://127.0.0.1:{port}/stats/reset", b"")
    load = os.getloadavg()[0]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()  # the server stamps requests with time.time() (same clock)
    t0 = time.perf_counter()
    with log.open("w") as f:
        rc = subprocess.run(
            cmd, cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT, timeout=1800
        ).returncode
    wall = time.perf_counter() - t0
    ended = time.time()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    stats = http(f"http://127.0.0.1:{port}/stats")
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    first, last = stats.get("first_request_ts"), stats.get("last_response_ts")
    return {
        "rc": rc,
        "wall_s": wall,
        "cpu_s": cpu,
        "requests": stats["requests"],
        "span_s": stats["active_span_s"],
        "max_concurrency": stats["max_concurrency"],
        # process start to the server's first request; its last response to process exit
        "before_first_s": first - started if first else math.nan,
        "after_last_s": ended - last if last else math.nan,
        "load_1m": load,
    }


def our_env(d: Path) -> dict[str, str]:
    return {
        **os.environ,
        "OPENAI_API_KEY": "sk-fake",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LLMASSERT_CACHE_DIR": str(d / "cache"),
        "COLUMNS": "120",
        "NO_COLOR": "1",
    }


def run_ours(yaml_path: Path, d: Path, a: argparse.Namespace, port: int) -> dict[str, Any]:
    shutil.rmtree(d / "inter", ignore_errors=True)
    cmd = [
        sys.executable,
        "-m",
        "llmassert.cli",
        "run",
        str(yaml_path),
        "--max-concurrency",
        str(a.concurrency),
        "--no-cache",
        "--no-resume",
        "--quiet",
    ]
    return timed(cmd, our_env(d), d, d / "llmassert.log", port)


def docetl_env(venv: Path, d: Path) -> dict[str, str]:
    site = subprocess.check_output(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        text=True,
    ).strip()
    return {
        **os.environ,
        "OPENAI_API_KEY": "sk-fake",
        "DOCETL_HOME_DIR": str(d / "home"),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "TIKTOKEN_CACHE_DIR": os.path.join(site, "litellm", "litellm_core_utils", "tokenizers"),
        "COLUMNS": "100",
        "NO_COLOR": "1",
    }


def run_docetl(yaml_path: Path, d: Path, a: argparse.Namespace, port: int) -> dict[str, Any]:
    shutil.rmtree(d / "inter", ignore_errors=True)
    shutil.rmtree(d / "home", ignore_errors=True)
    venv = Path(a.docetl_venv)
    cmd = [str(venv / "bin" / "docetl"), "run", str(yaml_path), "--max-threads", str(a.concurrency)]
    return timed(cmd, docetl_env(venv, d), d, d / "docetl.log", port)


def ideal(
    pipeline: str, data: Path, out_rows: int, a: argparse.Namespace
) -> tuple[float, list[int]]:
    if pipeline == "map_reduce":
        docs = json.loads(data.read_text())
        stages = [len(docs), len({doc["category"] for doc in docs})]
    else:
        stages = [out_rows]  # one map call per chunk
    lat = a.latency_ms / 1000
    return sum(math.ceil(c / a.concurrency) * lat for c in stages), stages


def startup(a: argparse.Namespace, yaml_path: Path, d: Path) -> dict[str, tuple[float, float]]:
    """(wall s, CPU s) of start-up commands, best of 3."""

    def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
        best = (math.inf, math.inf)
        for _ in range(3):
            ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(cmd, env=env, cwd=d, capture_output=True, timeout=300)
            wall = time.perf_counter() - t0
            ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
            best = min(best, (wall, cpu))
        return best

    env = our_env(d)
    out = {
        "llmassert --help": measure([sys.executable, "-m", "llmassert.cli", "--help"], env),
        "import the run path": measure(
            [
                sys.executable,
                "-c",
                "import llmassert.cli, llmassert.pipeline.runner, llmassert.llm.managed_client",
            ],
            env,
        ),
        # imports + spec + datasets + the non-LLM operators (split, gather) for real
        "llmassert run --dry-run": measure(
            [sys.executable, "-m", "llmassert.cli", "run", str(yaml_path), "--dry-run", "--quiet"],
            env,
        ),
    }
    if not a.skip_docetl and (Path(a.docetl_venv) / "bin" / "docetl").exists():
        out["docetl version"] = measure(
            [str(Path(a.docetl_venv) / "bin" / "docetl"), "version"],
            {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
        )
    return out


def median_row(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("wall_s", "cpu_s", "span_s", "before_first_s", "after_last_s")
    row = dict(runs[0])
    for k in keys:
        row[k] = statistics.median(r[k] for r in runs)
    row["rc"] = max(r["rc"] for r in runs)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency-ms", type=float, default=200)
    ap.add_argument("--pipelines", nargs="+", default=["split_gather", "map_reduce"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--docetl-venv", default=os.environ.get("VENV", "/tmp/venv-peer"))
    ap.add_argument("--skip-docetl", action="store_true")
    ap.add_argument("--out", default="/tmp/runner_vs_docetl")
    a = ap.parse_args()
    if not (SHARED / "fake_llm_server.py").exists():
        sys.exit(f"shared bench tools not found at {SHARED} (set LLMASSERT_SHARED_BENCH)")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    docetl_ok = (Path(a.docetl_venv) / "bin" / "docetl").exists() and not a.skip_docetl
    if not docetl_ok and not a.skip_docetl:
        print(
            f"DocETL not measured: no {a.docetl_venv}/bin/docetl (create it with "
            f"VENV={a.docetl_venv} bash {SHARED}/docetl/run.sh)",
            file=sys.stderr,
        )
    proc, port = start_server(a.latency_ms, out)
    rows: list[dict[str, Any]] = []
    starts: dict[str, tuple[float, float]] = {}
    dry_cpu: dict[str, float] = {}
    try:
        for pipeline in a.pipelines:
            base = out / f"{pipeline}_n{a.n}"
            data = base / "docs.json"
            base.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [sys.executable, str(SHARED / "docetl" / "make_docs.py"), str(a.n), str(data)],
                check=True,
            )
            tools = [("llmassert", run_ours)] + ([("docetl", run_docetl)] if docetl_ok else [])
            chunks = 0
            paths: dict[str, tuple[Path, Path]] = {}
            for tool, _ in tools:
                d = base / tool
                d.mkdir(exist_ok=True)
                yaml_path = render(pipeline, d, data, port)
                paths[tool] = (yaml_path, d)
                if tool == "llmassert":
                    measured = startup(a, yaml_path, d)
                    dry_cpu[pipeline] = measured["llmassert run --dry-run"][1]
                    starts = starts or measured
            # Interleaved (one run of each tool, then again) so load drift spreads over both.
            runs: dict[str, list[dict[str, Any]]] = {tool: [] for tool, _ in tools}
            for _ in range(a.repeat):
                for tool, runner in tools:
                    yaml_path, d = paths[tool]
                    runs[tool].append(runner(yaml_path, d, a, port))
                    print(json.dumps({"tool": tool, **runs[tool][-1]}), flush=True)
            for tool, _ in tools:
                d = paths[tool][1]
                row = median_row(runs[tool])
                row["walls"] = [r["wall_s"] for r in runs[tool]]  # in run order (paired)
                row["loads"] = [r["load_1m"] for r in runs[tool]]
                out_file = d / "out.json"
                n_out = len(json.loads(out_file.read_text())) if out_file.exists() else 0
                if tool == "llmassert":
                    chunks = n_out  # split_gather: one map call per chunk
                row.update(pipeline=pipeline, tool=tool, n_docs=a.n, output_rows=n_out)
                if tool == "llmassert" and row["requests"]:
                    # CPU of the LLM part alone: minus imports, datasets, split/gather
                    row["net_ms_per_call"] = (
                        1000 * (row["cpu_s"] - dry_cpu[pipeline]) / row["requests"]
                    )
                rows.append(row)
                print(json.dumps(row), flush=True)
            ideal_s, stages = ideal(pipeline, data, chunks, a)
            for r in rows:
                if r["pipeline"] == pipeline:
                    r.update(ideal_s=ideal_s, stage_calls=stages)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    report(rows, starts, a, out, docetl_ok)


def report(
    rows: list[dict[str, Any]],
    starts: dict[str, tuple[float, float]],
    a: argparse.Namespace,
    out: Path,
    docetl_ok: bool,
) -> None:
    loads = [x for r in rows for x in r["loads"]] or [math.nan]
    lines = [
        f"latency {a.latency_ms:.0f} ms, concurrency {a.concurrency}, {a.n} documents, "
        f"median of {a.repeat} runs; load average (1 min) at the runs' start "
        f"{min(loads):.1f}–{max(loads):.1f}, now {os.getloadavg()[0]:.1f}, on "
        f"{os.cpu_count()} cores",
        "",
        "| pipeline | tool | wall s | requests | max conc. | server span s | ideal s | "
        "span / ideal | wall / ideal | before first request s | after last response s | "
        "client CPU s | CPU ms / call | net CPU ms / call | rc |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        per_call = 1000 * r["cpu_s"] / r["requests"] if r["requests"] else float("nan")
        net = f"{r['net_ms_per_call']:.2f}" if "net_ms_per_call" in r else "–"
        lines.append(
            f"| {r['pipeline']} | {r['tool']} | {r['wall_s']:.2f} | {r['requests']} | "
            f"{r['max_concurrency']} | {r['span_s']:.2f} | {r['ideal_s']:.2f} | "
            f"{r['span_s'] / r['ideal_s']:.2f} | {r['wall_s'] / r['ideal_s']:.2f} | "
            f"{r['before_first_s']:.2f} | {r['after_last_s']:.2f} | "
            f"{r['cpu_s']:.2f} | {per_call:.2f} | {net} | {r['rc']} |"
        )
    if docetl_ok:
        lines += ["", "| pipeline | DocETL wall / llmassert wall |", "|---|---|"]
        for p in a.pipelines:
            ours = next((r for r in rows if r["pipeline"] == p and r["tool"] == "llmassert"), None)
            peer = next((r for r in rows if r["pipeline"] == p and r["tool"] == "docetl"), None)
            if ours and peer:
                pairs = [d / o for d, o in zip(peer["walls"], ours["walls"], strict=True)]
                lines.append(
                    f"| {p} | {peer['wall_s'] / ours['wall_s']:.1f}× (per interleaved pair: "
                    f"{', '.join(f'{x:.1f}×' for x in pairs)}) |"
                )
    lines += ["", "| start-up (best of 3) | wall s | CPU s |", "|---|---|---|"]
    lines += [f"| {k} | {w:.2f} | {c:.2f} |" for k, (w, c) in starts.items()]
    text = "\n".join(lines) + "\n"
    (out / "results.md").write_text(text)
    (out / "results.json").write_text(json.dumps({"rows": rows, "startup": starts}, indent=1))
    print(text)


if __name__ == "__main__":
    main()
