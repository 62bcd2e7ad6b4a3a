"""Hand-written reference checks for the real-prompt benchmark's responses.

One deterministic check per broken response, written from its ``index.yaml`` entry: it must pass
every compliant response of the prompt and fail that broken response.  ``bench/synth_real.py
--oracle`` runs them all and reports any disagreement, which validates the hand-written responses
(a "compliant" response that breaks a checkable instruction, a "broken" one that breaks two) and
shows that each broken instruction really is deterministically checkable.  They are a yardstick for
the responses, not a model of what synthesis should write (they know which input field to read).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

Check = Callable[[dict[str, Any], str], bool]

FENCE = re.compile(r"^(```|~~~)([^\n`]*)\n(.*?)^\1\s*$", re.M | re.S)
COMMIT_TYPES = ("fix", "feat", "build", "chore", "ci", "docs", "style", "refactor", "perf", "test")


def _json(response: str) -> Any:
    text = response.strip()
    m = re.fullmatch(r"```[a-z]*\n(.*)\n```", text, re.S)
    if m:  # the gpt-pilot example shows its JSON inside a plain fence
        text = m.group(1)
    try:
        return json.loads(text)
    except ValueError:
        return None


def _is_json(response: str) -> bool:
    return _json(response) is not None


def _prose(response: str) -> str:
    return FENCE.sub("", response)


def _sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z])", " ".join(text.split()))
    return [p for p in parts if p.strip()]


_SPANISH = {"el", "la", "que", "de", "y", "por", "para", "una", "un", "es", "está", "voy", "los"}
_FRENCH = {"le", "la", "les", "des", "et", "un", "une", "avec", "est", "j'ai", "pour", "dans"}


def _english(text: str) -> bool:
    words = re.findall(r"[a-zà-ÿ']+", text.lower())
    foreign = sum(w in _SPANISH or w in _FRENCH for w in words)
    return foreign <= max(2, len(words) // 10)


# -- aider ---------------------------------------------------------------------------------------


def commit_max_72(example: dict[str, Any], response: str) -> bool:
    lines = response.strip().splitlines()
    return not lines or len(lines[0]) <= 72


def commit_type_listed(example: dict[str, Any], response: str) -> bool:
    m = re.match(r"([a-z]+)(\([^)]*\))?:", response.strip())
    return m is None or m.group(1) in COMMIT_TYPES


def commit_one_line(example: dict[str, Any], response: str) -> bool:
    return len(response.strip().splitlines()) == 1


def commit_has_prefix(example: dict[str, Any], response: str) -> bool:
    return re.match(r"[a-z]+(\([^)]*\))?: \S", response.strip()) is not None


def code_only_in_edit_blocks(example: dict[str, Any], response: str) -> bool:
    for m in FENCE.finditer(response):
        lang, body = m.group(2).strip(), m.group(3)
        if lang in ("bash", "sh", "shell"):
            continue  # shell commands are allowed at the end
        if "<<<<<<< SEARCH" not in body:
            return False
    return True


def same_language_as_user(example: dict[str, Any], response: str) -> bool:
    if str(example.get("user_language", "English")) != "English":
        return True
    return _english(_prose(response))


def few_short_sentences(example: dict[str, Any], response: str) -> bool:
    return len(_sentences(_prose(response))) <= 8


def path_line_bare(example: dict[str, Any], response: str) -> bool:
    lines = response.splitlines()
    for i, line in enumerate(lines):
        opens_block = line.startswith("```") and lines[i + 1 : i + 2] == ["<<<<<<< SEARCH"]
        if opens_block and (i == 0 or not re.fullmatch(r"[\w./-]+", lines[i - 1].strip())):
            return False
    return True


def blocks_closed(example: dict[str, Any], response: str) -> bool:
    return response.count("<<<<<<< SEARCH") == response.count(">>>>>>> REPLACE")


def search_inside_fence(example: dict[str, Any], response: str) -> bool:
    lines = response.splitlines()
    for i, line in enumerate(lines):
        if line == "<<<<<<< SEARCH" and (i == 0 or not lines[i - 1].startswith("```")):
            return False
    return True


def no_elision_comment(example: dict[str, Any], response: str) -> bool:
    return re.search(r"(#|//)\s*\.\.\..*(rest|unchanged|remaining)", response, re.I) is None


def listing_has_filename(example: dict[str, Any], response: str) -> bool:
    lines = response.splitlines()
    inside = False
    for i, line in enumerate(lines):
        if line.startswith("```"):
            if not inside:
                prev = lines[i - 1].strip() if i else ""
                if not re.fullmatch(r"[\w.-]+(/[\w.-]+)*\.\w+", prev):
                    return False
            inside = not inside
    return True


def no_ellipsis_line(example: dict[str, Any], response: str) -> bool:
    return all(line.strip() not in ("...", "…") for line in response.splitlines())


def udiff_no_line_numbers(example: dict[str, Any], response: str) -> bool:
    return re.search(r"^@@ -\d", response, re.M) is None


def udiff_no_timestamps(example: dict[str, Any], response: str) -> bool:
    return re.search(r"^(---|\+\+\+) \S+\s+\d{4}-\d{2}-\d{2}", response, re.M) is None


def udiff_has_path_lines(example: dict[str, Any], response: str) -> bool:
    for m in FENCE.finditer(response):
        body = m.group(3)
        first_hunk = body.find("\n@@") if not body.startswith("@@") else 0
        head = body[: max(first_hunk, 0)]
        if "--- " not in head or "+++ " not in head:
            return False
    return True


def udiff_hunks_change(example: dict[str, Any], response: str) -> bool:
    for m in FENCE.finditer(response):
        for hunk in re.split(r"^@@.*@@\s*$", m.group(3), flags=re.M)[1:]:
            changed = [
                ln
                for ln in hunk.splitlines()
                if ln[:1] in ("+", "-") and not ln.startswith(("---", "+++"))
            ]
            if not changed:
                return False
    return True


# -- khoj ----------------------------------------------------------------------------------------


def _list_in_object(response: str, key: str) -> list[Any] | None:
    data = _json(response)
    if isinstance(data, dict) and isinstance(data.get(key), list):
        return list(data[key])
    return None


def queries_at_most_max(example: dict[str, Any], response: str) -> bool:
    items = _list_in_object(response, "queries")
    return items is None or len(items) <= int(example["max_queries"])


def _span(response: str) -> str | None:
    """The outermost {...} or [...] of the response, whatever surrounds it."""
    m = re.search(r"[\[{].*[\]}]", response, re.S)
    return m.group(0) if m else None


def only_json(example: dict[str, Any], response: str) -> bool:
    """Nothing but the JSON (whether it parses is another instruction)."""
    if _span(response) is None:
        return True  # not JSON at all: the format instruction, not this one
    text = response.strip()
    return text[:1] in "[{" and text[-1:] in "]}"


def json_object(example: dict[str, Any], response: str) -> bool:
    data = _json(response)
    return data is None or isinstance(data, dict)


def valid_json(example: dict[str, Any], response: str) -> bool:
    """The JSON part parses (text around it is another instruction)."""
    span = _span(response)
    if span is None:
        return True
    try:
        json.loads(span)
    except ValueError:
        return False
    return True


def links_at_most_max(example: dict[str, Any], response: str) -> bool:
    items = _list_in_object(response, "links")
    return items is None or len(items) <= int(example["max_webpages"])


def links_are_urls(example: dict[str, Any], response: str) -> bool:
    items = _list_in_object(response, "links") or []
    return all(isinstance(u, str) and re.fullmatch(r"https?://[^\s/]+\.[^\s]+", u) for u in items)


def json_list_of_strings(example: dict[str, Any], response: str) -> bool:
    span = _span(response)
    if span is None:
        return False  # no JSON at all
    try:
        data = json.loads(span)
    except ValueError:
        return True  # invalid JSON is another instruction
    if isinstance(data, dict):
        data = data.get("queries")
    return isinstance(data, list) and all(isinstance(x, str) for x in data)


def has_python_fence(example: dict[str, Any], response: str) -> bool:
    return re.search(r"^```python\s*$", response, re.M) is not None


def no_plot_display(example: dict[str, Any], response: str) -> bool:
    return "plt.show(" not in response and ".show()" not in response


def files_in_home_dir(example: dict[str, Any], response: str) -> bool:
    home = str(example["home_dir"]).rstrip("/") + "/"
    paths = re.findall(r"(?:savefig|open|to_csv)\(\s*[\"']([^\"']+)[\"']", response)
    return all(p.startswith(home) for p in paths)


def katex_no_single_dollar(example: dict[str, Any], response: str) -> bool:
    return re.search(r"(?<!\$)\$(?!\$)[^$\n]+(?<!\$)\$(?!\$)", response) is None


def no_code_for_non_programmer(example: dict[str, Any], response: str) -> bool:
    if example.get("user_is_programmer"):
        return True
    return not FENCE.search(response)


def display_math_line_breaks(example: dict[str, Any], response: str) -> bool:
    return re.search(r"\$\$[^\n]", response) is None


# -- gpt-pilot -----------------------------------------------------------------------------------


def _steps(response: str) -> list[dict[str, Any]]:
    data = _json(response)
    steps = data.get("steps") if isinstance(data, dict) else None
    return [s for s in steps if isinstance(s, dict)] if isinstance(steps, list) else []


def no_start_the_app(example: dict[str, Any], response: str) -> bool:
    actions = " ".join(str(s.get("action", "")) for s in _steps(response)).lower()
    # "in any way": the words, and the usual commands that start an app (i16-loose widened this
    # from `npm (run )?start` when broken_5 was added).
    return (
        re.search(
            r"start (the|your) (app|server)|(npm|yarn|pnpm) (run )?(start|dev)\b|"
            r"python3? \S*(app|main|server)\.py|flask run|uvicorn |node \S*(server|app|index)\.js",
            actions,
        )
        is None
    )


def no_open_terminal(example: dict[str, Any], response: str) -> bool:
    actions = " ".join(str(s.get("action", "")) for s in _steps(response)).lower()
    return re.search(r"open (the|a|your) terminal|project directory", actions) is None


def no_postman(example: dict[str, Any], response: str) -> bool:
    return "postman" not in response.lower()


def every_step_has_result(example: dict[str, Any], response: str) -> bool:
    return all(str(s.get("result", "")).strip() for s in _steps(response))


def _tasks(response: str) -> list[dict[str, Any]]:
    data = _json(response)
    tasks = data.get("tasks") if isinstance(data, dict) else None
    return [t for t in tasks if isinstance(t, dict)] if isinstance(tasks, list) else []


def task_types_listed(example: dict[str, Any], response: str) -> bool:
    allowed = {"command", "save_file", "human_intervention", "utility_function"}
    return all(t.get("type") in allowed for t in _tasks(response))


def one_save_file_per_path(example: dict[str, Any], response: str) -> bool:
    paths = [
        (t.get("save_file") or {}).get("path")
        for t in _tasks(response)
        if t.get("type") == "save_file"
    ]
    return len(paths) == len(set(paths))


def commands_cd_into_folder(example: dict[str, Any], response: str) -> bool:
    for t in _tasks(response):
        cmd = str((t.get("command") or {}).get("command", ""))
        if re.match(r"(npm|yarn|pnpm|npx) ", cmd):
            return False
    return True


def no_human_testing(example: dict[str, Any], response: str) -> bool:
    for t in _tasks(response):
        if t.get("type") == "human_intervention":
            text = str(t.get("human_intervention_description", "")).lower()
            if re.search(r"\btest\b|check that|verify that .* works", text):
                return False
    return True


def _numbered_items(response: str) -> list[str]:
    data = _json(response)
    if isinstance(data, dict) and isinstance(data.get("tasks"), list):
        return [json.dumps(t) for t in data["tasks"]]
    return re.split(r"^\d+\. ", response, flags=re.M)[1:]


def every_task_has_test(example: dict[str, Any], response: str) -> bool:
    return all(re.search(r"test", item, re.I) for item in _numbered_items(response))


def crud_order(example: dict[str, Any], response: str) -> bool:
    order = []
    for item in _numbered_items(response):
        m = re.search(r"\b(POST|GET|PUT|PATCH|DELETE) /api/", item)
        if m:
            order.append({"POST": 0, "GET": 1, "PUT": 2, "PATCH": 2, "DELETE": 3}[m.group(1)])
    return order == sorted(order)


def one_endpoint_per_task(example: dict[str, Any], response: str) -> bool:
    return all(
        len(re.findall(r"\b(?:POST|GET|PUT|PATCH|DELETE) /api/", item)) <= 1
        for item in _numbered_items(response)
    )


def no_mkdir_touch(example: dict[str, Any], response: str) -> bool:
    return re.search(r"\b(mkdir|touch)\b", response) is None


def api_routes_under_api(example: dict[str, Any], response: str) -> bool:
    mounts = re.findall(r"\.use\(\s*'(/[^']*)'", response)
    calls = re.findall(r"api\.(?:get|post|put|delete)\(\s*'(/[^']*)'", response)
    return all(p.startswith("/api/") for p in mounts + calls)


def prescribed_catch(example: dict[str, Any], response: str) -> bool:
    if "catch (error)" not in response or "client/" not in response:
        return True
    return "error?.response?.data?.error || error.message" in response


# -- screenshot-to-code ---------------------------------------------------------------------------


def no_code_in_chat(example: dict[str, Any], response: str) -> bool:
    return not FENCE.search(response) and re.search(r"<[a-z]+[ >]", response) is None


def one_or_two_sentences(example: dict[str, Any], response: str) -> bool:
    return 1 <= len(_sentences(_prose(response))) <= 2


def validate(responses: dict[str, tuple[dict[str, Any], list[tuple[str, bool, str]]]]) -> list[str]:
    """Disagreements between the hand-written labels and the reference checks (empty = none).

    ``responses``: prompt id -> (example, [(file, compliant?, text)]).  Every compliant response
    must pass every check of its prompt; every broken one must fail its own check and pass the
    others (it breaks exactly one checkable instruction).
    """
    problems = []
    for pid, (example, rows) in sorted(responses.items()):
        checks = ORACLE.get(pid, {})
        for name, compliant, text in rows:
            failed = {f for f, fn in checks.items() if not fn(dict(example), text)}
            own = checks.get(name)
            if compliant and failed:
                problems.append(f"{pid}/{name}: compliant but fails {sorted(failed)}")
            elif not compliant and own is None:
                problems.append(f"{pid}/{name}: no reference check")
            elif not compliant and own is not None:
                same = {f for f, fn in checks.items() if fn is own}
                if not failed & same:
                    problems.append(f"{pid}/{name}: passes its own check {own.__name__}")
                if failed - same:
                    problems.append(f"{pid}/{name}: also fails {sorted(failed - same)}")
    return problems


ORACLE: dict[str, dict[str, Check]] = {
    "aider_commit_message": {
        "broken_1.txt": commit_max_72,
        "broken_2.txt": commit_type_listed,
        "broken_3.txt": commit_one_line,
        "broken_4.txt": commit_has_prefix,
    },
    "aider_editblock_system": {
        "broken_1.md": code_only_in_edit_blocks,
        "broken_2.md": same_language_as_user,
        "broken_3.md": few_short_sentences,
    },
    "aider_editblock_reminder": {
        "broken_1.md": path_line_bare,
        "broken_2.md": blocks_closed,
        "broken_3.md": code_only_in_edit_blocks,
        "broken_4.md": search_inside_fence,
    },
    "aider_wholefile_reminder": {
        "broken_1.md": no_elision_comment,
        "broken_2.md": listing_has_filename,
        "broken_3.md": no_ellipsis_line,
    },
    "aider_udiff_reminder": {
        "broken_1.md": udiff_no_line_numbers,
        "broken_2.md": udiff_no_timestamps,
        "broken_3.md": udiff_has_path_lines,
        "broken_4.md": udiff_hunks_change,
    },
    "khoj_search_subqueries": {
        "broken_1.json": queries_at_most_max,
        "broken_2.json": only_json,
        "broken_3.json": json_object,
        "broken_4.json": valid_json,
    },
    "khoj_webpages_to_read": {
        "broken_1.json": links_at_most_max,
        "broken_2.json": links_are_urls,
        "broken_3.json": only_json,
    },
    "khoj_extract_questions_offline": {
        "broken_1.json": only_json,
        "broken_2.json": valid_json,
        "broken_3.json": json_list_of_strings,
    },
    "khoj_python_code_generation": {
        "broken_1.md": has_python_fence,
        "broken_2.md": no_plot_display,
        "broken_3.md": has_python_fence,
        "broken_4.md": files_in_home_dir,
    },
    "khoj_personality": {
        "broken_1.md": katex_no_single_dollar,
        "broken_2.md": no_code_for_non_programmer,
        "broken_3.md": display_math_line_breaks,
    },
    "gptpilot_define_user_review_goal": {
        "broken_1.json": no_start_the_app,
        "broken_2.json": no_open_terminal,
        "broken_3.json": no_postman,
        "broken_4.json": every_step_has_result,
        "broken_5.json": no_start_the_app,
    },
    "gptpilot_parse_task": {
        "broken_1.json": task_types_listed,
        "broken_2.json": one_save_file_per_path,
        "broken_3.json": commands_cd_into_folder,
        "broken_4.json": no_human_testing,
    },
    "gptpilot_epic_breakdown": {
        "broken_1.md": every_task_has_test,
        "broken_2.md": crud_order,
        "broken_3.md": one_endpoint_per_task,
    },
    "gptpilot_developer_breakdown": {
        "broken_1.md": no_mkdir_touch,
        "broken_2.md": api_routes_under_api,
        "broken_3.md": prescribed_catch,
    },
    "s2c_agent_system": {
        "broken_1.txt": same_language_as_user,
        "broken_2.txt": no_code_in_chat,
        "broken_3.txt": one_or_two_sentences,
        "broken_4.txt": one_or_two_sentences,
        "broken_5.txt": one_or_two_sentences,
    },
}
