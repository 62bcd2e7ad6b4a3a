"""The one JSON/JSONL reader and the one atomic writer (llmassert/fileio.py), on real files."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmassert.errors import InputError, LabelsError, OutputError
from llmassert.fileio import (
    AtomicStream,
    OutputLock,
    atomic_write_text,
    check_output_dir,
    check_output_file,
    dumps_json,
    ensure_distinct,
    parse_json,
    read_json,
    read_jsonl,
)


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000, "f.json: nested too deeply to read"),
        ('{"a": NaN}', "f.json: NaN is not valid JSON"),
        ("[-Infinity]", "f.json: -Infinity is not valid JSON"),
        ('{\n  "a": 1,\n  "b": }', "f.json: line 3: invalid JSON: Expecting value (column 8)"),
        ("9" * 5000, "f.json: a number has more than 4300 digits"),
    ],
)
def test_malformed_json_is_one_line_naming_the_place(text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_json(text, file="f.json")
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_jsonl_errors_name_the_line_and_use_the_callers_error(tmp_path: Path) -> None:
    path = tmp_path / "l.jsonl"
    path.write_bytes(b'{"a": 1}\n\n{"a": "\xff"}\n')
    with pytest.raises(LabelsError, match=r"l\.jsonl: line 3: not UTF-8 text \(byte 17\)"):
        read_jsonl(path, LabelsError)
    path.write_text('{"a": 1}\n\n[1]\n')
    with pytest.raises(InputError, match=r"line 3: expected a JSON object, got a list"):
        read_jsonl(path)
    assert read_jsonl(path, objects=False) == [(1, {"a": 1}), (3, [1])]
    path.write_text('{"a": 1}\n' + "[" * 50_000 + "\n")
    with pytest.raises(InputError, match=r"line 2: nested too deeply"):
        read_jsonl(path)


def test_read_json_names_missing_files_and_folders(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_json(tmp_path / "nope.json")
    with pytest.raises(InputError, match="is a folder, expected a file"):
        read_json(tmp_path)


def test_nan_is_never_written_back() -> None:
    text = dumps_json({"x": float("nan"), "y": [float("inf"), 1.5]})
    assert json.loads(text) == {"x": None, "y": [None, 1.5]}


def test_written_files_follow_the_umask_and_keep_a_replaced_files_mode(
    tmp_path: Path, umask: None
) -> None:
    fresh = tmp_path / "a" / "b.json"
    atomic_write_text(fresh, "{}")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o640
    locked = tmp_path / "locked.json"
    locked.write_text("old")
    locked.chmod(0o600)
    atomic_write_text(locked, "new")
    assert locked.read_text() == "new" and stat.S_IMODE(locked.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "locked.json"]  # no temp left


def test_writes_scrub_known_secret_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fileio-test-0123456789")
    atomic_write_text(tmp_path / "o.json", '{"note": "key sk-fileio-test-0123456789"}')
    assert (tmp_path / "o.json").read_text() == '{"note": "key <redacted>"}'
    # Key-shaped data that is not a known value is user data and stays.
    atomic_write_text(tmp_path / "o.json", '{"lib": "sk-learn-model-selection"}')
    assert "sk-learn-model-selection" in (tmp_path / "o.json").read_text()


def test_a_folder_where_a_file_goes_and_a_file_where_a_folder_goes(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("mine")
    with pytest.raises(OutputError, match="dir: is a folder, expected a file"):
        atomic_write_text(tmp_path / "dir", "x")
    with pytest.raises(OutputError, match="file is a file, not a folder"):
        atomic_write_text(tmp_path / "file" / "out.json", "x")
    with pytest.raises(OutputError, match="--junit: is a folder"):
        check_output_file(tmp_path / "dir", field="--junit")
    with pytest.raises(OutputError, match="is not a folder"):
        check_output_file(tmp_path / "file" / "deeper" / "out.json")
    with pytest.raises(OutputError, match="--out: is not a folder"):
        check_output_dir(tmp_path / "file", field="--out")
    with pytest.raises(OutputError, match="cannot write in /sys"):
        check_output_file("/sys/llmassert-test/out.json")
    check_output_dir(tmp_path / "new" / "folder")
    check_output_file(tmp_path / "new" / "out.json")
    assert (tmp_path / "file").read_text() == "mine" and not (tmp_path / "new").exists()


def test_an_output_that_is_an_input_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data.json"
    data.write_text("[]")
    (tmp_path / "link.json").symlink_to(data)
    (tmp_path / "docs").mkdir()
    inputs = [("dataset", data), ("docs", tmp_path / "docs")]
    for out in (data, tmp_path / "sub" / ".." / "data.json", tmp_path / "link.json"):
        with pytest.raises(OutputError, match="out: is the input dataset"):
            ensure_distinct([("out", out)], inputs)
    with pytest.raises(OutputError, match="is inside the input folder docs"):
        ensure_distinct([("out", tmp_path / "docs" / "o.json")], inputs)
    ensure_distinct([("out", tmp_path / "out.json")], inputs)


def test_a_second_writer_is_refused_naming_the_holder(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    with OutputLock(out):
        holder = json.loads((tmp_path / "out.json.lock").read_text())
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        with pytest.raises(OutputError) as info:
            OutputLock(out).acquire()
        assert f"pid {os.getpid()} on {socket.gethostname()}" in str(info.value)
    assert not (tmp_path / "out.json.lock").exists()
    with OutputLock(out):  # released: free again
        pass


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    lock = tmp_path / "out.json.lock"
    lock.write_text(json.dumps({"pid": gone.pid, "host": socket.gethostname()}))
    with OutputLock(tmp_path / "out.json"):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    lock.write_text(json.dumps({"pid": gone.pid, "host": "another-host"}))
    with pytest.raises(OutputError, match="on another-host"):
        OutputLock(tmp_path / "out.json").acquire()


def test_atomic_stream_appears_whole_with_its_digest_and_secrets_scrubbed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    monkeypatch.setenv("OPENAI_API_KEY", "sk-stream-0123456789abcd")
    path = tmp_path / "out.json"
    stream = AtomicStream(path)
    pieces = [f"piece {i} ".encode() * 50 for i in range(300)]
    pieces.append(b"leaked sk-stream-0123456789abcd here")
    for p in pieces:
        stream.write(p)
    assert not path.exists()  # nothing before commit
    stream.commit()
    expected = b"".join(pieces).replace(b"sk-stream-0123456789abcd", b"<redacted>")
    assert path.read_bytes() == expected
    assert stream.sha256 == hashlib.sha256(expected).hexdigest()
    assert stream.size == len(expected)
    assert list(tmp_path.iterdir()) == [path]  # no temp file left
