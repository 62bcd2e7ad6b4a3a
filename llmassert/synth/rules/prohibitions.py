"""Prohibitions with a concrete lexical core that no quote marks: the words banned are in the verb.

- "Don't instruct them to start the app" / "never tell the user to reinstall the package": the
  response must not contain the banned verb phrase (case-insensitive, whole words). The phrase is
  the 2–4 words after "to", up to a qualifier ("in any way", "by", "unless", ...), so a
  one-word verb ("don't tell them to wait") is too vague and gives nothing; two verbs sharing
  an object ("never ask them to copy and paste the output") ban the pair ("copy and paste"). When the phrase is
  starting or running the app itself ("start the app", "run the server"), the literal phrase is
  only one way to say it: ``tells_to_start_app`` also catches the synonyms and the commands that
  start an app (``npm start``, ``python app.py``, ``flask run``, ...).
- "Do not specify commands to create folders or files": the shell commands that do that
  (``mkdir``; ``touch`` with a path argument, since "touch" is also an English word) must not
  appear. Only the creating commands are listed: a ban on commands in general is not lexical.
"""

from __future__ import annotations

import re

from llmassert.synth.rules.base import Check, literal, slug
from llmassert.synth.rules.registry import Family, Hit

_BAN = r"(?:don'?t|do not|never|must not|should not|shouldn'?t|mustn'?t)"
_TELL = re.compile(
    _BAN + r"\s+(?:\w+\s+)?(?:instruct|tell|ask|advise|direct|request)\s+"
    r"(?:them|the user|users?|the human|the reader|him|her|people)\s+to\s+(?P<vp>[^.;:!?,()\"]+)",
    re.I,
)
# Where the banned verb phrase ends: a qualifier, a second clause, a purpose.
_VP_END = re.compile(
    r"\s+(?:in any way|in any form|at all|by|with|using|via|unless|if|when|because|since|so|or|"
    r"and|before|after|as|from|on their own|manually|yourself)\b.*$",
    re.I,
)
# A banned phrase that starts the app: many words and commands say the same thing.
_START_APP = re.compile(
    r"(?:re-?start|start(?: up)?|run|launch|boot(?: up)?|spin up|fire up|bring up) "
    r"(?:the |your |this |their )?(?:apps?|applications?|web ?apps?|(?:dev |development |web )?"
    r"servers?|back-?end|front-?end|project|program)",
    re.I,
)
_CREATE_CMD = re.compile(
    _BAN + r"\s+(?:\w+\s+){0,3}commands?\s+(?:to|that|which)\s+(?:\w+\s+)?create\s+"
    r"(?:any\s+|new\s+|the\s+)?(?P<what>folders?|director(?:y|ies)|files?)"
    r"(?:\s+(?:or|and|/)\s+(?P<what2>folders?|director(?:y|ies)|files?))?",
    re.I,
)


# Two verbs sharing one object ("copy and paste the result"): the pair is the banned phrase.
_VERB_PAIR = re.compile(r"^([a-z]+)\s+and\s+([a-z]+)\b", re.I)


def _verb_phrase(raw: str) -> str | None:
    pair = _VERB_PAIR.match(raw.strip())
    if pair and not re.match(r"(?:the|a|an|your|their|it|them|then|also|so)$", pair.group(2), re.I):
        return f"{pair.group(1)} and {pair.group(2)}"
    phrase = _VP_END.sub("", raw.strip()).strip()
    words = phrase.split()
    if not 2 <= len(words) <= 4 or not all(re.fullmatch(r"[A-Za-z'-]+", w) for w in words):
        return None
    return " ".join(words)


checks = Family("prohibitions", text=lambda criterion: " ".join(criterion.text.split()))


@checks.on(_TELL)
def _told_checks(hit: Hit) -> list[Check]:
    out: list[Check] = []
    for m in _TELL.finditer(hit.text):  # every banned phrase of the sentence
        phrase = _verb_phrase(m.group("vp"))
        if phrase is None:
            continue
        if _START_APP.fullmatch(phrase):
            out.append(
                Check(
                    f"no_instruction_{slug(phrase)}",
                    f'Does not tell the reader to "{phrase}" in any way: no "start/run/launch the '
                    'app or server" and no command that starts one (npm start, npm run dev, '
                    "python app.py, flask run, uvicorn, node server.js, ...); a clause saying "
                    "it is not needed passes.",
                    "return not tells_to_start_app(response)",
                    ("tells_to_start_app",),
                )
            )
            continue
        pattern = r"\b" + r"\s+".join(re.escape(w) for w in phrase.split()) + r"\b"
        out.append(
            Check(
                f"no_instruction_{slug(phrase)}",
                f'Does not tell the reader to "{phrase}" (case-insensitive, whole words).',
                f"return re.search({literal(pattern)}, response, re.IGNORECASE) is None",
                modules=("re",),
            )
        )
    return out


@checks.on(_CREATE_CMD)
def _create_command_checks(hit: Hit) -> list[Check]:
    m = hit.match
    kinds = {(m.group("what") or "").casefold()[:3], (m.group("what2") or "").casefold()[:3]}
    # mkdir at a command position; touch only with a path-like argument ("touch src/app.js").
    parts = [r"(?:^|[\s`$;&|(>])mkdir\s+\S"] if kinds & {"fol", "dir"} else []
    if "fil" in kinds:
        parts.append(r"(?:^|[\s`$;&|(>])touch\s+[\w~./-]*[./][\w~./-]*")
    if not parts:
        return []
    pattern = "|".join(parts)
    names = "/".join(n for n, p in (("mkdir", "mkdir"), ("touch", "touch")) if p in pattern)
    return [
        Check(
            f"no_{names.replace('/', '_')}_command",
            f"No command that creates folders or files ({names}).",
            f"return re.search({literal(pattern)}, response, re.MULTILINE) is None",
            modules=("re",),
        )
    ]
