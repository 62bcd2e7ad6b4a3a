"""bench/synth_real.py: history replay (renames, extraction from Python) and one end-to-end run.

Uses a real git repository the test creates; no fetched material.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("synth_real", ROOT / "bench" / "synth_real.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["synth_real"] = mod  # dataclasses look the module up by name
    spec.loader.exec_module(mod)
    return mod


bench = _load_bench()


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def _commit(repo: Path, rel: str, text: str, message: str) -> str:
    (repo / rel).parent.mkdir(parents=True, exist_ok=True)
    (repo / rel).write_text(text, encoding="utf-8")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


PY_V1 = 'OTHER = "x"\n'
PY_V2 = 'OTHER = "y"\nSUMMARY = "Summarize the text in 3 bullet points."\n'
PY_V3 = (
    "class P:\n    pass\n\nSUMMARY = PromptTemplate.from_template(\n"
    '    """Summarize the {text} in 3 bullet points.\nEach bullet has at most 12 words."""\n)\n'
)
PY_V4 = PY_V3 + 'OTHER = "z"\n'  # the constant is unchanged: not a new version
PY_V5 = PY_V3.replace("at most 12 words", "at most 10 words") + (
    'FSTR = f"Answer in {LANG}." + " Be brief."\n'
)


@pytest.fixture()
def repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    r = tmp_path / "owner+prompts"
    r.mkdir()
    _git(r, "init", "-q")
    _git(r, "config", "user.email", "t@example.invalid")
    _git(r, "config", "user.name", "t")
    shas = {
        "v1": _commit(r, "src/prompts.py", PY_V1, "v1"),
        "v2": _commit(r, "src/prompts.py", PY_V2, "v2"),
        "v3": _commit(r, "src/prompts.py", PY_V3, "v3"),
    }
    (r / "pkg").mkdir()
    _git(r, "mv", "src/prompts.py", "pkg/prompts.py")
    _git(r, "commit", "-q", "-m", "rename")
    shas["v4"] = _commit(r, "pkg/prompts.py", PY_V4, "v4")
    shas["v5"] = _commit(r, "pkg/prompts.py", PY_V5, "v5")
    shas["txt1"] = _commit(r, "notes.txt", "Reply in JSON.\n", "t1")
    shas["txt2"] = _commit(r, "notes.txt", "Reply in JSON with the key name.\n", "t2")
    return r, shas


def test_extract_python_forms() -> None:
    assert bench.extract_python(PY_V3, "SUMMARY") == (
        "Summarize the {text} in 3 bullet points.\nEach bullet has at most 12 words."
    )
    assert bench.extract_python(PY_V5, "FSTR") == "Answer in {LANG}. Be brief."
    assert bench.extract_python('x = ("a" "b")\n', "x") == "ab"
    assert bench.extract_python('x = """ a \n""".strip()\n', "x") == "a"
    src = 'class C:\n    main = "in class"\nmain = "module"\n'
    assert bench.extract_python(src, "C.main") == "in class"
    assert bench.extract_python(src, "main") == "module"
    assert bench.extract_python(src, "missing") is None
    assert bench.extract_python("def (:\n", "x") is None  # a broken version is skipped


def test_replay_follows_renames_extracts_and_dedups(
    repo: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    r, shas = repo
    git_dir = bench.resolve_git_dir(r)
    spec = bench.PromptSpec("summary", "owner/prompts", "pkg/prompts.py", shas["v5"], 3, "SUMMARY")
    n = bench.replay(spec, git_dir, tmp_path / "out")
    files = sorted((tmp_path / "out").iterdir())
    # v1 lacks the constant; v4 leaves it unchanged; the rename commit is followed.
    assert n == 3 and [f.name for f in files] == ["v001.txt", "v002.txt", "v003.txt"]
    assert files[0].read_text() == "Summarize the text in 3 bullet points."
    assert "at most 12 words" in files[1].read_text()
    assert "at most 10 words" in files[2].read_text()
    # Up to an earlier commit only (the path is the one at that commit).
    early = bench.PromptSpec("s", "owner/prompts", "src/prompts.py", shas["v3"], 2, "SUMMARY")
    assert bench.replay(early, git_dir, tmp_path / "early") == 2
    wrong = bench.PromptSpec("s", "owner/prompts", "pkg/prompts.py", shas["v3"], 2, "SUMMARY")
    with pytest.raises(bench.BenchError, match="no version"):
        bench.replay(wrong, git_dir, tmp_path / "wrong")


def test_find_repo_by_mirror_name_or_commit(
    repo: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    r, shas = repo
    other = tmp_path / "other"
    other.mkdir()
    _git(other, "init", "-q")
    dirs = [bench.resolve_git_dir(other), bench.resolve_git_dir(r)]
    spec = bench.PromptSpec("n", "Owner/Prompts", "notes.txt", shas["txt2"], 2)
    assert bench.find_repo(spec, dirs) == dirs[1]
    renamed = bench.PromptSpec("n", "someone/else", "notes.txt", shas["txt2"], 2)
    assert bench.find_repo(renamed, dirs) == dirs[1]  # found by the commit
    missing = bench.PromptSpec("n", "owner/prompts", "notes.txt", "0" * 40, 2)
    assert bench.find_repo(missing, dirs) is None
    with pytest.raises(bench.BenchError):
        bench.resolve_git_dir(tmp_path)


def test_load_specs_errors(tmp_path: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text("prompts:\n  - {id: a, repo: o/r, path: x, commit: c, versions: 2, colour: red}\n")
    with pytest.raises(bench.BenchError, match="unknown field colour"):
        bench.load_specs(p)
    p.write_text("prompts:\n  - {id: a, repo: o/r, path: x, versions: 2}\n")
    with pytest.raises(bench.BenchError, match="missing field commit"):
        bench.load_specs(p)


def test_end_to_end_on_own_history(repo: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    r, shas = repo
    (tmp_path / "prompts.yaml").write_text(
        "prompts:\n"
        f"  - {{id: summary, repo: owner/prompts, path: pkg/prompts.py, commit: {shas['v5']},"
        " versions: 3, extract: SUMMARY}\n"
    )
    resp = tmp_path / "responses" / "summary"
    resp.mkdir(parents=True)
    (resp / "inputs.json").write_text('{"text": "a report"}')
    (resp / "compliant_1.md").write_text("- One short point.\n- Another point.\n- A third one.\n")
    (resp / "broken_1.md").write_text("A paragraph that is not a list at all and goes on.\n")
    (resp / "index.yaml").write_text("broken:\n  - {file: broken_1.md, breaks: not bullets}\n")
    out = tmp_path / "figures.json"
    code = bench.main(
        [
            str(r),
            "--prompts",
            str(tmp_path / "prompts.yaml"),
            "--responses",
            str(tmp_path / "responses"),
            "--json",
            str(out),
        ]
    )
    assert code == 0
    figures = json.loads(out.read_text())
    row = figures["prompts"][0]
    assert row["error"] is None
    assert row["versions"] == 3 and row["criteria"] > 0 and row["selected"]
    assert row["compliant"] == 1 and row["broken"] == 1
    assert set(row["failed"]) == {"compliant_1.md", "broken_1.md"}
    assert figures["total"]["versions"] == 3
    if not row["failed"]["broken_1.md"]:
        assert row["missed"] == {"broken_1.md": "not bullets"}


def test_broken_response_must_say_what_it_breaks(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "broken_1.md").write_text("x")
    with pytest.raises(bench.BenchError, match=r"index\.yaml: missing"):
        bench.load_index(folder)
    (folder / "index.yaml").write_text("broken:\n  - {file: broken_2.md, breaks: y}\n")
    with pytest.raises(bench.BenchError, match=r"broken_1\.md is not listed"):
        bench.load_index(folder)


def test_committed_responses_agree_with_reference_checks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Every compliant response passes every reference check of its prompt; every broken one
    # fails exactly its own: the hand-written yardstick is self-consistent.
    assert bench.main(["--oracle"]) == 0
    assert "all agree" in capsys.readouterr().out


def test_reference_checks_report_disagreements() -> None:
    oracle = bench._load_oracle()
    example = {"max_queries": 2}
    rows = [
        ("compliant_1.json", True, '{"queries": ["a", "b", "c"]}'),  # too many: not compliant
        ("broken_1.json", False, '{"queries": ["a"]}'),  # breaks nothing
    ]
    problems = oracle.validate({"khoj_search_subqueries": (example, rows)})
    assert any("compliant_1.json: compliant but fails" in p for p in problems)
    assert any("broken_1.json: passes its own check" in p for p in problems)
