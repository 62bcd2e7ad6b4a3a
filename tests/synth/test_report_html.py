"""The HTML trade-off view: numbers parsed back from the page and recomputed independently, the
tie-break synthesis applies, the tau actually solved, and the page rendered in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from llmassert.cli import main
from llmassert.synth.manifest import (
    Manifest,
    Metrics,
    SelectionRecord,
    load_manifest,
    split_metrics,
)
from llmassert.synth.models import Candidate, Category, Criterion
from llmassert.synth.report import PromptReport, SynthReport
from llmassert.synth.report_html import render_html

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "prompts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Page(HTMLParser):
    """What the tests read back: per prompt (h2), its sweep rows, plotted points, tau lines and
    the paragraph explaining the tau."""

    def __init__(self) -> None:
        super().__init__()
        self.prompts: dict[str, dict[str, Any]] = {}
        self._current: dict[str, Any] | None = None
        self._in: str | None = None
        self._row: dict[str, Any] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "h2":
            self._in, self._text = "h2", []
        elif self._current is None:
            return
        elif tag == "tr" and "sweep" in a.get("class", ""):
            self._row = {
                "tau": float(a["data-tau"]),
                "selected": a["data-selected"].split(),
                "solved": "solved" in a["class"],
                "cells": [],
            }
        elif tag == "td" and self._row is not None:
            self._in, self._text = "td", []
        elif tag == "circle":
            kind = a["class"].split()[1]
            self._current["points"].setdefault(kind, {})[float(a["data-tau"])] = float(
                a["data-value"]
            )
        elif tag == "line":
            self._current["lines"][a["class"]] = float(a["data-tau"])
        elif tag == "p" and not self._current["explained"]:
            self._in, self._text = "p", []

    def handle_data(self, data: str) -> None:
        if self._in:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        text = "".join(self._text).strip()
        if tag == "h2" and self._in == "h2":
            self._current = {"rows": [], "points": {}, "lines": {}, "explained": ""}
            self.prompts[text] = self._current
            self._in = None
        elif tag == "td" and self._in == "td" and self._row is not None:
            self._row["cells"].append(text)
            self._in = None
        elif tag == "tr" and self._row is not None and self._current is not None:
            self._current["rows"].append(self._row)
            self._row = None
        elif tag == "p" and self._in == "p" and self._current is not None:
            if "dashed line" in text:
                self._current["explained"] = " ".join(text.split())
            self._in = None


def _rates(manifest: Manifest, names: list[str]) -> tuple[float, float]:
    """Coverage and FFR of a set, computed here from M and y (not by llmassert)."""
    cols = [manifest.assertions.index(n) for n in names]
    bad = [row for row, label in zip(manifest.M, manifest.y, strict=True) if label == 0]
    good = [row for row, label in zip(manifest.M, manifest.y, strict=True) if label == 1]
    caught = sum(1 for row in bad if any(row[c] == 0 for c in cols))
    flagged = sum(1 for row in good if any(row[c] == 0 for c in cols))
    return caught / len(bad), flagged / len(good)


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("html")
    prompts = Path(shutil.copytree(EXAMPLES, root / "prompts"))
    out, page = root / "assertions", root / "report.html"
    assert main(["synth", str(prompts), "--out", str(out), "--html", str(page)]) == 0
    return out, page


def test_every_number_on_the_page_is_the_selection_it_names(
    synthesized: tuple[Path, Path],
) -> None:
    out, page = synthesized
    parsed = Page()
    parsed.feed(page.read_text(encoding="utf-8"))
    assert set(parsed.prompts) == {
        "code_review_commenter",
        "product_update_email",
        "ticket_summarizer",
    }
    for name, section in parsed.prompts.items():
        manifest = load_manifest(out / f"{name}.json")
        rows = section["rows"]
        assert len(rows) >= 11
        for row in rows:
            count, coverage, ffr = row["cells"][1:4]
            assert int(count) == len(row["selected"])
            expected = _rates(manifest, row["selected"])
            assert (float(coverage), float(ffr)) == pytest.approx(expected, abs=0.005)
            # the plotted points are the same numbers
            assert section["points"]["coverage"][row["tau"]] == pytest.approx(expected[0], 1e-3)
            assert section["points"]["ffr"][row["tau"]] == pytest.approx(expected[1], abs=1e-3)
            assert expected[1] <= row["tau"] + 1e-9  # within its ceiling


def test_the_dashed_line_is_the_tau_solved_and_the_page_explains_ffr_confidence(
    synthesized: tuple[Path, Path],
) -> None:
    out, page = synthesized
    parsed = Page()
    parsed.feed(page.read_text(encoding="utf-8"))
    section = parsed.prompts["code_review_commenter"]
    manifest = load_manifest(out / "code_review_commenter.json")
    sel = manifest.selection
    assert sel.ffr_confidence == 0.9 and manifest.tau == 0.25
    good = manifest.metrics.train.good
    assert sel.tau < 0.25  # --ffr-confidence tightened it
    assert section["lines"]["solved-tau"] == pytest.approx(sel.tau, abs=1e-4)
    assert section["lines"]["requested-tau"] == pytest.approx(0.25)
    solved = [r for r in section["rows"] if r["solved"]]
    assert len(solved) == 1 and solved[0]["tau"] == pytest.approx(sel.tau, abs=1e-4)
    text = section["explained"]
    allowed = round(sel.tau * good)
    assert f"solved at, {sel.tau:.3g}, not the --tau 0.25 asked for" in text
    assert "--ffr-confidence 0.9" in text and "90% confidence" in text
    assert f"{good} good labeled responses" in text and f"at most {allowed} of them" in text


NO_FOO = Criterion(
    id="c-foo", prompt="demo", version=1, text="Never say foo.", category=Category.EXCLUSION
)


def _cand(name: str, body: str) -> Candidate:
    code = f"def {name}(example, response):\n    return {body}\n"
    return Candidate(name=name, criterion_id="c-foo", kind="deterministic", code=code)


def test_the_curve_applies_the_fewer_false_failures_tie_break() -> None:
    """Two pairs of checks catch every bad response, neither dominating the other; {a, b} also
    fails a good response, {c, d} none.  At tau = 0.25 both fit, and the curve must show the
    pair failing nothing (as synthesis selects), not whichever the solver met first."""
    # rows 0-3 bad, 4-7 good; 0 = the check fails the response
    M = [
        [0, 1, 0, 1],
        [0, 1, 1, 0],
        [1, 0, 0, 1],
        [1, 0, 1, 0],
        [0, 0, 1, 1],
        [1, 1, 1, 1],
        [1, 1, 1, 1],
        [1, 1, 1, 1],
    ]
    y = [0, 0, 0, 0, 1, 1, 1, 1]
    cands = [_cand(n, f"{k} not in response") for k, n in enumerate("abcd")]
    manifest = Manifest(
        prompt="demo",
        versions=2,
        model=None,
        alpha=0.6,
        tau=0.25,
        method="cov",
        criteria=[NO_FOO],
        candidates=cands,
        assertions=[c.name for c in cands],
        groups=["c-foo"] * 4,
        M=M,
        y=y,
        K=None,
        selection=SelectionRecord(
            method="cov",
            alpha=0.6,
            tau=0.25,
            selected=["c", "d"],
            count=2,
            coverage=1.0,
            ffr=0.0,
            status="optimal",
        ),
        metrics=Metrics(train=split_metrics(M, y, [2, 3])),
    )
    report = SynthReport(
        prompts=[
            PromptReport(
                name="demo",
                versions=2,
                criteria=1,
                candidates=4,
                selected=2,
                coverage=1.0,
                ffr=0.0,
                manifest=manifest,
            )
        ],
        out_dir=Path("assertions"),
        model=None,
        written=False,
    )
    parsed = Page()
    parsed.feed(render_html(report))
    rows = {r["tau"]: r for r in parsed.prompts["demo"]["rows"]}
    assert sorted(rows[0.0]["selected"]) == ["c", "d"]
    for tau in (0.25, 0.5):
        assert sorted(rows[tau]["selected"]) == ["c", "d"], rows[tau]
        assert rows[tau]["cells"][2:4] == ["1.00", "0.00"]


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("LLMASSERT_REQUIRE_BROWSER"),
    reason="chromium not installed (apt-get install -y chromium; .ci/run installs it)",
)
def test_the_page_renders_in_headless_chromium(
    synthesized: tuple[Path, Path], tmp_path: Path
) -> None:
    assert CHROMIUM is not None, "LLMASSERT_REQUIRE_BROWSER is set but chromium is missing"
    _, page = synthesized
    common = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered, source = Page(), Page()
    rendered.feed(dom.stdout)
    source.feed(page.read_text(encoding="utf-8"))
    # What the browser built is what we wrote: every row, point and line, number for number.
    assert rendered.prompts == source.prompts
    assert rendered.prompts["code_review_commenter"]["lines"]["solved-tau"] < 0.25
    shot = tmp_path / "report.png"
    done = subprocess.run(
        [*common, "--window-size=1000,1400", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1000, 1400)
    keep = os.environ.get("LLMASSERT_SCREENSHOT_DIR")
    if keep:  # for a human to look at
        shutil.copy(shot, Path(keep) / "synth-report.png")
    assert re.search(rb"IDAT", png)
