"""The parent trusts no frame it did not expect: a worker that forges, skips or repeats verdicts
fails the calls concerned. A real process stands in for a compromised worker."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from llmassert.sandbox import ProcessSandbox, load_inline
from llmassert.sandbox import process as process_module

SOURCE = (
    "def a(example, response):\n    return False\n\n\ndef b(example, response):\n    return False\n"
)

# Answers READY and LOADED like the real worker, then misbehaves on calls as MODE says.
FAKE_WORKER = textwrap.dedent(
    """
    import json, os, struct, sys
    FRAME = struct.Struct(">BIBI")
    MODE = {mode!r}
    def send(tag, index, status, text=b""):
        os.write(1, FRAME.pack(tag, index, status, len(text)) + text)
    send(0x52, 0, 1)
    for raw in sys.stdin.buffer:
        req = json.loads(raw)
        if req["op"] == "load":
            send(0x4C, 0, 1)
        elif req["op"] == "call":
            total = len(req["fns"]) * len(req["items"])
            for k in range(req["start"], total):
                if MODE == "all-pass":
                    send(0x43, k, 1)
                elif MODE == "skip":
                    send(0x43, k + 1, 1)
                elif MODE == "repeat":
                    send(0x43, req["start"], 1)
                elif MODE == "bad-status":
                    send(0x43, k, 9)
                elif MODE == "text-on-pass":
                    send(0x43, k, 1, b"ok")
                elif MODE == "json-line":
                    os.write(1, b'[true, null, null]\\n')
    """
)


@pytest.mark.parametrize("mode", ["skip", "repeat", "bad-status", "text-on-pass", "json-line"])
def test_unexpected_frames_fail_the_call(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "fake_worker.py"
    script.write_text(FAKE_WORKER.format(mode=mode))
    monkeypatch.setattr(process_module, "_WORKER", script)
    with ProcessSandbox(timeout_s=0.5) as box:
        sid = box.load(SOURCE)
        rows = box.call_many_detailed(sid, ["a", "b"], [({}, "x")] * 2)
    flat = [r for row in rows for r in row]
    # The frame that broke the protocol failed its call (the worker was replaced after it).
    bad = [r for r in flat if "protocol violation" in (r.error or "")]
    assert bad and all(r.value is None and r.kind == "crash" for r in bad), mode
    assert sum(r.passed for r in flat) < len(flat)


def test_in_order_frames_from_the_same_fake_are_believed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The control: the fake's frames are well-formed, so the parent reads them as verdicts. (The
    # real worker computes them from the code; this shows the check above is about the frames.)
    script = tmp_path / "fake_worker.py"
    script.write_text(FAKE_WORKER.format(mode="all-pass"))
    monkeypatch.setattr(process_module, "_WORKER", script)
    with ProcessSandbox(timeout_s=0.5) as box:
        assert box.call_many(box.load(SOURCE), ["a", "b"], [({}, "x")]) == [[True, True]]


def test_a_replaced_host_json_dumps_does_not_break_the_parent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(json, "dumps", str)
    with ProcessSandbox(timeout_s=1.0) as box:
        assert box.call_many(box.load(SOURCE), ["a"], [({"k": [1]}, "x")]) == [[False]]


def test_inline_code_sees_read_only_modules_and_frozen_examples() -> None:
    fns = load_inline(
        "import json\n\n\ndef probe(example, response):\n"
        "    return isinstance(example, dict) and json.dumps(example) == '{\"a\": [1]}'\n"
    )
    row = {"a": [1]}
    assert fns["probe"](row, "x") is True
    assert row == {"a": [1]} and sys.modules["json"].dumps is json.dumps
