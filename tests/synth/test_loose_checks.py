"""The two checks the independent review found too loose (docs/benchmarks.md, "Hand review of the
final synthesis"), on prompt histories written for this test, through the real offline pipeline
(no labels, the common case): the selected module must fail every should-fail text and pass every
should-pass text.

The counterexamples were written before the tool was run on them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmassert.assertions.assertion_set import AssertionSet
from llmassert.synth.engine import synthesize

# --- "don't tell the user to start the app in any way" ------------------------------------------

REVIEW_V1 = """You help a human tester check a finished task of a web app.
List the actions the tester takes, one per line, each followed by the expected result.
"""

REVIEW_V2 = """You help a human tester check a finished task of a web app.
List the actions the tester takes, one per line, each followed by the expected result.
The tester can press the "Start App" button themselves, so don't instruct them to start the app in any way.
If the tester needs a database command or an API request, give the full command to run.
"""

# Outputs that follow the prompt, some mentioning start/run/app/server in ways it allows.
START_SHOULD_PASS = {
    "browser only": "1. Open http://localhost:5173/login in your browser. Expected: the login "
    "form is shown.\n2. Type the demo credentials and click 'Log in'. Expected: the dashboard "
    "appears.",
    "curl request": "1. Run this command: curl -X POST http://localhost:3000/api/tasks -H "
    "'Content-Type: application/json' -d '{\"title\": \"Buy milk\"}'. Expected: the server "
    "responds with status 201 and the new task.",
    "database command": "1. Run `mongosh todo --eval 'db.tasks.find()'`. Expected: the list "
    "shows the task you created.",
    "migration command": "1. Run `python manage.py migrate`. Expected: the output ends with OK.",
    "a feature named start": "1. Click the 'Start Quiz' button. Expected: the first question "
    "appears and the timer starts.",
    "a feature named run": "1. Click 'Run report' in the sidebar. Expected: the report starts "
    "loading and shows 3 rows.",
    "restart a game": "1. Restart the quiz by clicking 'Play again'. Expected: the score is 0.",
    "the app is described": "1. Open the app at http://localhost:8000 and click 'New post'. "
    "Expected: the app shows an empty editor.",
    "logs of the running app": "1. Submit the form. Expected: the terminal where the app is "
    "running prints 'User created'.",
    "told not to start it": "1. You don't need to start the app, it is already running. Open "
    "http://localhost:3000. Expected: the home page loads.",
    "json steps": '{"steps": [{"title": "Submit the form", "action": "Open '
    'http://localhost:5173/form and click \'Submit\'", "result": "The server saves the form '
    'and the page shows Thank you"}]}',
}

# Outputs that tell the tester to start or run the app, in the common ways.
START_SHOULD_FAIL = {
    "npm start": "1. Run npm start in the terminal. Expected: the app opens on port 3000.",
    "npm run dev": "1. Run `npm run dev`, then open http://localhost:5173. Expected: the form.",
    "npm run start": "1. Type npm run start. Expected: 'listening on 3000'.",
    "yarn start": "1. Execute `yarn start`. Expected: the home page opens.",
    "pnpm dev": "1. In the terminal, run pnpm dev. Expected: the dev server URL is printed.",
    "python app.py": "1. Run python app.py. Expected: the page loads.",
    "python manage.py runserver": "1. Run `python manage.py runserver`. Expected: the site is up.",
    "flask run": "1. Run flask run and open http://127.0.0.1:5000. Expected: the index page.",
    "uvicorn": "1. Start the backend with uvicorn main:app --reload. Expected: docs at /docs.",
    "node server.js": "1. Run node server.js. Expected: 'Server listening'.",
    "start the server": "1. Start the server. Expected: it prints the port.",
    "start the application": "1. Start the application and log in. Expected: the dashboard.",
    "start your express server": "1. Start your Express server. Expected: no errors.",
    "run the app": "1. Run the app. Expected: the home page.",
    "launch the app": "1. Launch the app from the terminal. Expected: the window opens.",
    "restart the server": "1. Restart the server so the new route is loaded. Expected: 200.",
    "start app button": "1. Click the 'Start App' button. Expected: the app opens.",
    "make sure it is running": "1. Make sure the server is running, then open /api/tasks. "
    "Expected: a JSON list.",
    "docker compose up": "1. Run docker compose up. Expected: the containers start.",
    "json steps": '{"steps": [{"title": "Start", "action": "Run `npm start` in the terminal", '
    '"result": "The app is served on port 3000"}]}',
}


# --- "a one or two sentence summary" / "2-3 sentences" ------------------------------------------

SUMMARY_V1 = """You build web pages from screenshots with the file tools.
- Be extremely concise in your chat messages.
"""

SUMMARY_V2 = """You build web pages from screenshots with the file tools.
- Be extremely concise in your chat messages.
- At the end of the task, respond with a one or two sentence summary of what was built.
"""

SUMMARY_SHOULD_PASS = {
    "one sentence": "I built a landing page with a hero section and a pricing table.",
    "two sentences": "I built the dashboard with a sidebar and three charts. "
    "The colors follow the screenshot.",
}
SUMMARY_SHOULD_FAIL = {
    "empty": "",
    "three sentences": "I built the landing page. It has a hero section. The footer has links.",
    "five sentences": "I built the page. It has a header. It has a hero. It has a pricing table. "
    "It has a footer.",
}

DIGITS_V1 = """You answer questions about the company handbook.
"""
DIGITS_V2 = """You answer questions about the company handbook.
Answer in 2-3 sentences.
"""
DIGITS_SHOULD_PASS = {
    "two": "Leave is requested in the HR portal. Your manager approves it.",
    "three": "Leave is requested in the HR portal. Your manager approves it. You get an email.",
}
DIGITS_SHOULD_FAIL = {
    "one": "Leave is requested in the HR portal.",
    "four": "Leave is requested in the portal. Your manager approves it. You get an email. "
    "The calendar updates.",
}


def _module(tmp_path: Path, name: str, versions: tuple[str, ...]) -> tuple[AssertionSet, list[str]]:
    folder = tmp_path / "prompts" / name
    folder.mkdir(parents=True)
    for i, text in enumerate(versions, 1):
        (folder / f"v{i}.txt").write_text(text)
    synthesize(tmp_path / "prompts", out_dir=tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / f"{name}.json").read_text())
    return AssertionSet.load(tmp_path / "out" / f"{name}.py"), manifest["selection"]["selected"]


CASES = {
    "start_app": ((REVIEW_V1, REVIEW_V2), START_SHOULD_PASS, START_SHOULD_FAIL),
    "summary": ((SUMMARY_V1, SUMMARY_V2), SUMMARY_SHOULD_PASS, SUMMARY_SHOULD_FAIL),
    "digits": ((DIGITS_V1, DIGITS_V2), DIGITS_SHOULD_PASS, DIGITS_SHOULD_FAIL),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_counterexamples(tmp_path: Path, case: str) -> None:
    versions, should_pass, should_fail = CASES[case]
    checks, selected = _module(tmp_path, case, versions)
    wrong_fail = [k for k, r in should_pass.items() if not checks.check(r, {}).passed]
    wrong_pass = [k for k, r in should_fail.items() if checks.check(r, {}).passed]
    assert (wrong_fail, wrong_pass) == ([], []), selected
