"""Runtime hook overhead: what deterministic checks and the guard cost per call.

    python bench/hook_overhead.py                       # default sizes
    python bench/hook_overhead.py --responses 5000 --calls 3000

1. Deterministic checks: a module of ten rule-library-style assertions (word limits read from
   the example, banned words, bullet and sentence counts, sections, apologies, JSON) over
   distinct, realistic responses (80-400 words, bullets, headers).  Every response is checked
   once, so the helpers' per-response memo helps only *within* a response (the real case);
   reported as µs per assertion per response.
2. Guard overhead on a cached LLM call: ``client.complete`` answered from the disk cache (the
   0 ms network path) with and without ``@guard`` (policy ``noop``, failure log on).  Distinct
   cached requests per call, split between the two variants and interleaved, so neither sees
   warmer caches.  Reported for the full ten-assertion set and for a one-assertion set (the
   guard's own machinery).

Targets: ≤ 50 µs per deterministic check; guard overhead ≤ 5 % of the cached call path.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from llmassert.assertions import AssertionSet
from llmassert.config import Settings
from llmassert.hooks import guard
from llmassert.llm import LLMRequest
from llmassert.llm.managed_client import build_client
from llmassert.testing.fake_server import FakeLLMServer, Reply

MODULE = textwrap.dedent('''
    import re
    from llmassert.assertions.helpers import (
        apologizes, bullets, contains_any, has_section, is_json, sentence_count, word_count,
    )


    def max_words(example, response):
        """Answer in no more than {word_count} words."""
        return word_count(response) <= int(example.get("word_count", 300))


    def no_banned_words(example, response):
        """Never use words like 'Feature' or 'synergy'."""
        return not contains_any(response, ["feature", "synergy", "leverage"])


    def at_most_five_bullets(example, response):
        """Use at most 5 bullet points."""
        return len(bullets(response)) <= 5


    def has_summary_section(example, response):
        """Include a Summary section."""
        return has_section(response, "Summary")


    def no_apology(example, response):
        """Do not apologize."""
        return not apologizes(response)


    def mentions_company(example, response):
        """Mention the company by name."""
        return example.get("company", "").lower() in response.lower()


    def sentence_limit(example, response):
        """Keep it under 30 sentences."""
        return sentence_count(response) <= 30


    def no_json(example, response):
        """Answer in prose, not JSON."""
        return not is_json(response)


    def no_placeholder(example, response):
        """Never leave placeholders like [NAME]."""
        return re.search(r"\\[[A-Z_]{2,}\\]", response) is None


    def no_urls(example, response):
        """Do not include links."""
        return "http://" not in response and "https://" not in response
''')

WORDS = [
    "revenue",
    "growth",
    "quarter",
    "margin",
    "customers",
    "product",
    "launch",
    "team",
    "market",
    "risk",
    "cost",
    "pipeline",
    "forecast",
    "region",
    "sales",
    "support",
    "churn",
    "retention",
    "pricing",
    "contract",
    "renewal",
    "partner",
    "roadmap",
    "hiring",
    "budget",
    "outlook",
    "demand",
    "supply",
    "inventory",
]


def make_response(rng: random.Random) -> str:
    """A summary-like answer: a header, prose sentences, a few bullets, 80-400 words."""

    def sentence() -> str:
        words = [rng.choice(WORDS) for _ in range(rng.randint(8, 22))]
        return " ".join(words).capitalize() + "."

    parts = ["## Summary", " ".join(sentence() for _ in range(rng.randint(3, 7)))]
    parts += [f"- {sentence()}" for _ in range(rng.randint(0, 5))]
    parts.append(" ".join(sentence() for _ in range(rng.randint(1, 5))))
    if rng.random() < 0.05:  # about one response in ten fails a check (this or the length)
        parts.append("Sorry, I could not find the Q4 numbers.")
    return "\n\n".join(parts)


def bench_checks(checks: AssertionSet, n: int) -> dict[str, Any]:
    rng = random.Random(1)
    responses = [make_response(rng) for _ in range(n)]
    example = {"word_count": 250, "company": "Acme"}
    per_response: list[float] = []
    per_assertion: dict[str, list[float]] = {name: [] for name in checks.names}
    words = []
    for text in responses:
        words.append(len(text.split()))
        start = time.perf_counter()
        result = checks.check(text, example)
        per_response.append(time.perf_counter() - start)
        for name, seconds in result.timings.items():
            per_assertion[name].append(seconds)
    return {
        "responses": n,
        "words": statistics.median(words),
        "per_check_us": statistics.median(per_response) / len(checks) * 1e6,
        "per_check_p90_us": sorted(per_response)[int(0.9 * n)] / len(checks) * 1e6,
        "per_assertion_us": {k: statistics.median(v) * 1e6 for k, v in per_assertion.items()},
    }


def bench_guard(checks: AssertionSet, calls: int, log: Path) -> dict[str, float]:
    rng = random.Random(2)
    answers = [make_response(rng) for _ in range(calls)]
    with FakeLLMServer() as server:
        server.handler = lambda body: Reply(
            content=answers[int(body["messages"][0]["content"].rsplit(" ", 1)[1])]
        )
        settings = Settings(
            model="openai/fake-model",
            api_base=server.base_url,
            api_key="sk-bench-0000000000",
            cache_dir=Path(tempfile.mkdtemp()),
        )
        client = build_client(settings)

        def plain(question: str, word_count: int = 250, company: str = "Acme") -> str:
            return client.complete(
                LLMRequest(
                    model="openai/fake-model", messages=({"role": "user", "content": question},)
                )
            ).text

        guarded = guard(checks, on_fail="noop", failure_log=log, prompt_name="bench")(plain)
        questions = [f"Summarize the quarter, request {i}" for i in range(calls)]
        for q in questions:  # prime the cache: every timed call below is a cache hit
            plain(q)
        assert len(server.requests) == calls
        for q in questions[:50]:  # warm code paths (not the helpers' memo: distinct texts)
            plain(q)
        timings: dict[str, list[float]] = {"plain": [], "guarded": []}
        for i, q in enumerate(questions):
            fn, key = (plain, "plain") if i % 2 else (guarded, "guarded")
            start = time.perf_counter()
            fn(q)
            timings[key].append(time.perf_counter() - start)
        assert len(server.requests) == calls  # no call left the cache
    base = statistics.median(timings["plain"])
    with_guard = statistics.median(timings["guarded"])
    return {
        "plain_us": base * 1e6,
        "guarded_us": with_guard * 1e6,
        "overhead_us": (with_guard - base) * 1e6,
        "ratio": (with_guard - base) / base,
    }


def bench_machinery(checks: AssertionSet, log: Path, calls: int = 20000) -> dict[str, float]:
    """The guard's own cost per call around a function that returns at once (best of 5)."""
    import timeit

    text = make_response(random.Random(3))

    def plain(question: str, word_count: int = 250, company: str = "Acme") -> str:
        return text

    guarded = guard(checks, on_fail="noop", failure_log=log, prompt_name="bench")(plain)
    best = {}
    for name, fn in (("plain", plain), ("guarded", guarded)):
        best[name] = min(timeit.repeat(lambda f=fn: f("q"), number=calls, repeat=5)) / calls
    return {
        "plain_us": best["plain"] * 1e6,
        "guarded_us": best["guarded"] * 1e6,
        "machinery_us": (best["guarded"] - best["plain"]) * 1e6,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--responses", type=int, default=3000)
    ap.add_argument("--calls", type=int, default=2000)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp())
    (folder / "checks.py").write_text(MODULE)
    checks = AssertionSet.load(folder / "checks.py")
    for _ in range(200):  # warm-up: imports, regex compilation
        checks.check(make_response(random.Random(0)), {"word_count": 250, "company": "Acme"})

    res = bench_checks(checks, args.responses)
    print(
        f"\n## Deterministic checks ({len(checks)} assertions, {res['responses']} distinct "
        f"responses, median {res['words']:.0f} words)\n"
    )
    print("| assertion | median µs |\n|---|---:|")
    for name, us in res["per_assertion_us"].items():
        print(f"| {name} | {us:.1f} |")
    print(
        f"\nmedian per assertion per response: {res['per_check_us']:.1f} µs "
        f"(p90 {res['per_check_p90_us']:.1f} µs; target ≤ 50 µs)"
    )

    print(f"\n## Guard overhead on a cached LLM call ({args.calls} calls, policy noop)\n")
    print("| assertion set | cached call µs | guarded µs | overhead µs | overhead |")
    print("|---|---:|---:|---:|---:|")
    for label, subset in (
        ("10 deterministic", checks),
        ("1 deterministic", checks.select(["no_urls"])),
    ):
        g = bench_guard(subset, args.calls, folder / f"failures-{len(subset)}.jsonl")
        print(
            f"| {label} | {g['plain_us']:.0f} | {g['guarded_us']:.0f} | "
            f"{g['overhead_us']:.0f} | {g['ratio']:.1%} |"
        )
    machinery = bench_machinery(checks.select(["no_urls"]), folder / "failures-m.jsonl")
    print(
        f"\nguard machinery alone (1 trivial assertion, function returning at once, best of 5): "
        f"{machinery['machinery_us']:.1f} µs per call"
    )
    print("\n(target: guard overhead ≤ 5 % of the cached call path)")


if __name__ == "__main__":
    main()
