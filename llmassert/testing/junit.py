"""JUnit XML for regression runs, in the shape CI systems read (Jenkins, GitLab, GitHub actions).

One ``<testsuite>`` per assertion, one ``<testcase>`` per record: ``classname`` is
``<module>.<assertion>``, ``name`` the record's id.  A failed check is ``<failure>``; a check
that raised or timed out is ``<error>``; with a baseline, failures of an assertion that did not
regress are ``<skipped>`` ("known failure"), so the report stays green where the gate is green.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from llmassert.secrets import scrub
from llmassert.testing.regression import SuiteResult


def build_junit(suite: SuiteResult, *, known_failures: frozenset[str] = frozenset()) -> ET.Element:
    """The ``<testsuites>`` element; ``known_failures`` are assertions whose failures are
    tolerated (within their baseline)."""
    module = Path(suite.module).stem if suite.module else "assertions"
    timestamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    root = ET.Element("testsuites", name=f"llmassert {module}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for name, stats in suite.stats.items():
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        cases = []
        suite_time = 0.0
        for i, result in enumerate(suite.results):
            seconds = result.timings.get(name, 0.0)
            suite_time += seconds
            case = ET.Element(
                "testcase",
                classname=f"{module}.{name}",
                name=suite.record_id(i),
                time=f"{seconds:.6f}",
            )
            counts["tests"] += 1
            failure = next((f for f in result.failures if f.name == name), None)
            if failure is not None:
                # Check messages quote exceptions, which can quote credentials.
                failure = replace(failure, message=scrub(failure.message))
                text = f"{failure.message}\ncriterion: {failure.criterion}"
                if name in known_failures:
                    tag, key = "skipped", "skipped"
                    message = f"known failure (within baseline): {failure.message}"
                elif failure.kind == "failed":
                    tag, key, message = "failure", "failures", failure.message
                else:
                    tag, key, message = "error", "errors", failure.message
                child = ET.SubElement(case, tag, message=message[:1000])
                if tag != "skipped":
                    child.set("type", failure.kind)
                    child.text = text
                counts[key] += 1
            cases.append(case)
        attrs = {
            "name": f"{module}.{name}",
            **{k: str(v) for k, v in counts.items()},
            "time": f"{suite_time:.6f}",
            "timestamp": timestamp,
            "hostname": socket.gethostname(),
        }
        element = ET.SubElement(root, "testsuite", attrs)
        props = ET.SubElement(element, "properties")
        ET.SubElement(props, "property", name="criterion", value=stats.criterion)
        ET.SubElement(props, "property", name="kind", value=stats.kind)
        ET.SubElement(props, "property", name="pass_rate", value=f"{stats.pass_rate:.4f}")
        element.extend(cases)
        for k, v in counts.items():
            totals[k] += v
        total_time += suite_time
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", f"{total_time:.6f}")
    return root


def write_junit(
    path: str | Path, suite: SuiteResult, *, known_failures: frozenset[str] = frozenset()
) -> None:
    """Write the report atomically (a CI step never reads half a file)."""
    from llmassert.fileio import atomic_write_text

    root = build_junit(suite, known_failures=known_failures)
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode", xml_declaration=False)
    atomic_write_text(Path(path), '<?xml version="1.0" encoding="utf-8"?>\n' + text + "\n")
