"""A placeholder that names where files go ("save files under the {out_dir} folder") is checked on
the paths the code writes to, not required in every reply. Real offline pipeline on a history written for this test."""

from __future__ import annotations

import json
from pathlib import Path

from llmassert.assertions.assertion_set import AssertionSet
from llmassert.synth.engine import synthesize

SCRIPT_V1 = """You write short Python scripts for data analysts.
Put the script in a ```python code block.
"""

SCRIPT_V2 = """You write short Python scripts for data analysts.
Put the script in a ```python code block.
The script should save any table or chart to a file in the {out_dir} directory.
"""

EXAMPLE = {"out_dir": "/srv/out"}
COMPLIANT = [
    "```python\nprint(sum([1, 2, 3]))\n```",  # writes nothing: need not name out_dir
    "```python\nimport pandas as pd\npd.DataFrame({'a': [1]}).to_csv('/srv/out/a.csv')\n```",
    "```python\nwith open('/srv/out/notes.txt', 'w') as f:\n    f.write('hi')\n```\nIt writes `notes.txt`.",
]
BROKEN = {
    "tmp path": "```python\nimport matplotlib.pyplot as plt\nplt.savefig('/tmp/plot.png')\n```",
    "open for writing": "```python\nwith open('/home/me/x.txt', 'w') as f:\n    f.write('x')\n```",
}


def test_file_location_placeholders_check_written_paths_only(tmp_path: Path) -> None:
    folder = tmp_path / "prompts" / "script"
    folder.mkdir(parents=True)
    for i, text in enumerate((SCRIPT_V1, SCRIPT_V2), 1):
        (folder / f"v{i}.txt").write_text(text)
    synthesize(tmp_path / "prompts", out_dir=tmp_path / "out")
    selected = json.loads((tmp_path / "out" / "script.json").read_text())["selection"]["selected"]
    assert "files_written_under_out_dir" in selected
    assert not any(name.startswith("mentions_out_dir") for name in selected)
    checks = AssertionSet.load(tmp_path / "out" / "script.py")
    for response in COMPLIANT:
        assert checks.check(response, EXAMPLE).passed, response
    for name, response in BROKEN.items():
        assert not checks.check(response, EXAMPLE).passed, name
