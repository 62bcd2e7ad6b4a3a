"""JUnit XML for regression runs, in the shape CI systems read (Jenkins, GitLab, GitHub actions).

One ``<testsuite>`` (the module), one ``<testcase>`` per record: ``classname`` is the module,
``name`` the record's key (its id, or ``input-<hash>``).  A record whose checks fail is a
``<failure>`` whose message lists the failing assertions (``<error>`` when every one of them
raised or timed out); quarantined pipeline rows fail the ``(pipeline)`` check like any other.
With a baseline only regressions fail; a record whose failures are all known (or tolerated) is
``<skipped>``, so the report is green exactly when the gate is.  Failures of ``warn`` assertions
never fail a testcase: they go to its ``<system-out>``.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from llmassert.assertions.results import Failure
from llmassert.secrets import scrub
from llmassert.testing.baseline import Comparison
from llmassert.testing.regression import SuiteResult


def _lines(label: str, failures: list[Failure]) -> str:
    out = []
    for f in failures:
        out.append(f"{label} {f.name}: {scrub(f.message)}")
        if f.criterion:
            out.append(f"  criterion: {f.criterion}")
    return "\n".join(out)


def build_junit(
    suite: SuiteResult,
    *,
    comparison: Comparison | None = None,
    warn: frozenset[str] = frozenset(),
) -> ET.Element:
    """The ``<testsuites>`` element (see the module docstring)."""
    module = Path(suite.module).stem if suite.module else "assertions"
    root = ET.Element("testsuites", name=f"llmassert {module}")
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    regressed: dict[str, set[str]] = {}
    if comparison is not None:
        for flip in comparison.regressed:
            regressed.setdefault(flip.key, set()).add(flip.assertion)
    cases = []
    total_time = 0.0
    for i, result in enumerate(suite.results):
        key, label = suite.keys[i], suite.labels[i]
        seconds = sum(result.timings.values())
        total_time += seconds
        case = ET.Element("testcase", classname=module, name=key, time=f"{seconds:.6f}")
        counts["tests"] += 1
        warned = [f for f in result.failures if f.name in warn]
        blocking = [f for f in result.failures if f.name not in warn]
        gating = (
            blocking
            if comparison is None
            else [f for f in blocking if f.name in regressed.get(key, set())]
        )
        if gating:
            errors_only = all(f.kind != "failed" for f in gating)
            tag, count = ("error", "errors") if errors_only else ("failure", "failures")
            # Check messages quote exceptions, which can quote credentials.
            message = "; ".join(f"{f.name}: {scrub(f.message)}" for f in gating)
            child = ET.SubElement(case, tag, message=message[:1000])
            child.set("type", "error" if errors_only else "failed")
            child.text = _lines(label, gating)
            counts[count] += 1
        elif blocking:
            names = ", ".join(f.name for f in blocking)
            ET.SubElement(case, "skipped", message=f"known failure (within baseline): {names}")
            counts["skipped"] += 1
        if warned:
            out = ET.SubElement(case, "system-out")
            out.text = "warning (severity warn, does not gate):\n" + _lines(label, warned)
        cases.append(case)
    attrs = {
        "name": module,
        **{k: str(v) for k, v in counts.items()},
        "time": f"{total_time:.6f}",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "hostname": socket.gethostname(),
    }
    element = ET.SubElement(root, "testsuite", attrs)
    props = ET.SubElement(element, "properties")
    for name, stats in suite.stats.items():
        ET.SubElement(props, "property", name=f"{name}.criterion", value=stats.criterion)
        ET.SubElement(props, "property", name=f"{name}.kind", value=stats.kind)
        ET.SubElement(props, "property", name=f"{name}.pass_rate", value=f"{stats.pass_rate:.4f}")
    element.extend(cases)
    for k, v in counts.items():
        root.set(k, str(v))
    root.set("time", f"{total_time:.6f}")
    return root


def write_junit(
    path: str | Path,
    suite: SuiteResult,
    *,
    comparison: Comparison | None = None,
    warn: frozenset[str] = frozenset(),
) -> None:
    """Write the report atomically (a CI step never reads half a file)."""
    from llmassert.fileio import atomic_write_text

    root = build_junit(suite, comparison=comparison, warn=warn)
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode", xml_declaration=False)
    atomic_write_text(Path(path), '<?xml version="1.0" encoding="utf-8"?>\n' + text + "\n")
