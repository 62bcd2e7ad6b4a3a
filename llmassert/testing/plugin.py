"""pytest plugin for llmassert (entry point ``pytest11``): LLM tests against recorded cassettes.

Loaded in every pytest run of every project that has llmassert installed, so importing it costs
only pytest and the standard library; llmassert's modules are imported when a test uses it.

::

    @pytest.mark.llmassert(cassette="summary", assertions="assertions/summary.py")
    def test_summary(llmassert_session):
        text = summarize(DOC, client=llmassert_session.client)
        llmassert_session.check(text, example={"word_count": 50})

- Replay is the default: answers come from ``tests/cassettes/<name>.yaml`` (ini
  ``llmassert_cassette_dir``).  A missing cassette, or a request not in it, fails the test; it
  never reaches a model.  ``--llmassert-record`` calls the model and rewrites the cassettes.
- In replay the network is blocked for these tests: a connection to any non-loopback address,
  a DNS lookup of any name but ``localhost``, or a connection to the configured ``api_base``
  (even a loopback one) fails the test, even if the code under test swallows the error.  Other
  loopback services (a local database) stay reachable.
- ``--llmassert-repeat N`` asks every LLM-judge assertion N times (distinct seeds, past the cache)
  and prints each one's pass rate; ``--llmassert-min-pass-rate R`` fails tests whose judges pass
  less often than R.

Settings (model, api_base) come from the ``llmassert_settings`` fixture, by default
``Settings.from_env()`` with the ini ``llmassert_model``; override the fixture in a conftest.  The
session's disk cache is off: a cache hit would leave the request out of the recording.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from llmassert.assertions import AssertionSet, CheckResult
    from llmassert.config import Settings
    from llmassert.llm.client import LLMClient
    from llmassert.llm.recording import ActiveCassette

RECORD_HINT = "record it with `pytest --llmassert-record`"

MARKER = "llmassert"
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


@dataclass
class _Flakiness:
    """Pass counts of judge assertions under --llmassert-repeat, per (test, assertion)."""

    runs: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # [passes, runs]

    def add(self, nodeid: str, name: str, passed: bool) -> None:
        entry = self.runs.setdefault((nodeid, name), [0, 0])
        entry[0] += int(passed)
        entry[1] += 1


_FLAKINESS = pytest.StashKey[_Flakiness]()
_SESSION = pytest.StashKey["LLMAssertSession"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llmassert", "llmassert: LLM tests against recorded cassettes")
    group.addoption(
        "--llmassert-record",
        action="store_true",
        default=False,
        help="call the model for real and rewrite the cassettes of llmassert tests",
    )
    group.addoption(
        "--llmassert-repeat",
        type=int,
        default=1,
        metavar="N",
        help="ask each LLM-judge assertion N times and report pass rates",
    )
    group.addoption(
        "--llmassert-min-pass-rate",
        type=float,
        default=None,
        metavar="R",
        help="with --llmassert-repeat: fail tests whose judges pass less than R",
    )
    group.addoption(
        "--llmassert-cassette-dir",
        default=None,
        metavar="DIR",
        help="cassette folder (default: ini llmassert_cassette_dir, tests/cassettes)",
    )
    parser.addini(
        "llmassert_cassette_dir",
        "folder of llmassert cassettes, relative to rootdir",
        default="tests/cassettes",
    )
    parser.addini(
        "llmassert_model", "model for LLM-judge assertions (else LLMASSERT_MODEL)", default=""
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "llmassert(cassette=None, assertions=None): run the test inside llmassert's "
        "record/replay (cassette defaults to the test's name) with an AssertionSet loaded from "
        "`assertions`; see the llmassert_session fixture.",
    )
    if config.getoption("--llmassert-repeat") < 1:
        raise pytest.UsageError("--llmassert-repeat must be >= 1")
    config.stash[_FLAKINESS] = _Flakiness()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A marker alone is enough: the test runs inside the session without naming the fixture.
    for item in items:
        fixturenames = getattr(item, "fixturenames", None)
        if (
            item.get_closest_marker(MARKER) is not None
            and fixturenames is not None
            and "llmassert_session" not in fixturenames
        ):
            fixturenames.append("llmassert_session")


@pytest.fixture
def llmassert_settings(pytestconfig: pytest.Config) -> Settings:
    """Base settings for llmassert tests (override in a conftest to point elsewhere)."""
    from llmassert.config import Settings

    model = str(pytestconfig.getini("llmassert_model") or "") or None
    return Settings.from_env(model=model)


@pytest.fixture
def llmassert_session(
    request: pytest.FixtureRequest, llmassert_settings: Settings
) -> Iterator[LLMAssertSession]:
    """The test's record/replay session: ``.client``, ``.settings``, ``.assertions``, ``.check``."""
    from llmassert.assertions import judge
    from llmassert.errors import LlmAssertError
    from llmassert.llm import recording
    from llmassert.llm.session import session

    config = request.config
    marker = request.node.get_closest_marker(MARKER)
    opts = dict(marker.kwargs) if marker is not None else {}
    mode = "record" if config.getoption("--llmassert-record") else "replay"
    folder = config.getoption("--llmassert-cassette-dir") or config.getini("llmassert_cassette_dir")
    cassette_dir = Path(folder) if Path(folder).is_absolute() else config.rootpath / folder
    name = str(opts.get("cassette") or _default_cassette(request.node))
    settings = llmassert_settings.replace(mode=mode, cassette_dir=cassette_dir, cache_dir=None)
    assertions = None
    if opts.get("assertions"):
        assertions = _load_assertions(
            str(opts["assertions"]), config.rootpath, Path(str(request.node.path)).parent
        )
    blocker = _NetworkBlocker(settings.api_base) if mode == "replay" else None
    context = session(settings, name, record_hint=RECORD_HINT)
    setup_error = None
    try:
        client = context.__enter__()
    except LlmAssertError as e:
        setup_error = str(e)
    if setup_error is not None:  # outside the except: one message, not a chained pair
        pytest.fail(f"llmassert: {setup_error}", pytrace=False)
    state = LLMAssertSession(
        settings=settings,
        client=client,
        mode=mode,
        cassette=cassette_dir / f"{name}.yaml",
        assertions=assertions,
        nodeid=request.node.nodeid,
        repeat=config.getoption("--llmassert-repeat"),
        min_pass_rate=config.getoption("--llmassert-min-pass-rate"),
        flakiness=config.stash[_FLAKINESS],
        blocker=blocker,
        replay=recording.active() if mode == "replay" else None,
    )
    request.node.stash[_SESSION] = state
    try:
        with judge.using(client):
            if blocker is not None:
                with blocker:
                    yield state
            else:
                yield state
    finally:
        context.__exit__(None, None, None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    state = item.stash.get(_SESSION, None)
    replay = state.replay if state is not None else None
    if call.when == "call" and replay is not None and replay.misses:
        # A request the cassette does not hold: say so plainly (the client under test saw a
        # 404 and may have reported it as anything, or swallowed it).
        miss = replay.miss_error()
        text = f"llmassert: CassetteMissError: {miss.message if miss else ''} "
        text += f"({RECORD_HINT}, or check that the prompt, model or schema did not change)"
        if len(replay.misses) > 1:
            text += f"; {len(replay.misses) - 1} more missed"
        if report.failed:
            text += f"\n\n{report.longrepr}"
        report.outcome = "failed"
        report.longrepr = text
        return report
    blocker = state.blocker if state is not None else None
    if call.when == "call" and blocker is not None and blocker.violations and report.passed:
        # The code under test may have swallowed the error: the attempt alone fails the test.
        report.outcome = "failed"
        report.longrepr = "llmassert: network blocked in replay mode: " + "; ".join(
            blocker.violations
        )
    return report


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    flakiness = config.stash.get(_FLAKINESS, None)
    if not flakiness or not flakiness.runs:
        return
    tr = terminalreporter
    tr.write_sep("=", "llmassert: LLM-judge pass rates")
    width = max(len(f"{nodeid}::{name}") for nodeid, name in flakiness.runs)
    for (nodeid, name), (passes, runs) in sorted(flakiness.runs.items()):
        rate = passes / runs
        flag = "  FLAKY" if 0 < passes < runs else ""
        tr.write_line(f"{f'{nodeid}::{name}':<{width}}  {passes}/{runs}  {rate:6.0%}{flag}")


# -- the session object --------------------------------------------------------------------------


@dataclass
class LLMAssertSession:
    """What ``llmassert_session`` gives a test."""

    settings: Settings
    client: LLMClient
    mode: str  # "record" | "replay"
    cassette: Path
    assertions: AssertionSet | None
    nodeid: str
    repeat: int = 1
    min_pass_rate: float | None = None
    flakiness: _Flakiness | None = None
    blocker: _NetworkBlocker | None = None
    replay: ActiveCassette | None = None  # the replay cassette (misses are noted on it)

    def load(self, path: str | Path) -> AssertionSet:
        """Load another assertion module for this test."""
        from llmassert.assertions import AssertionSet

        return AssertionSet.load(path)

    def check(
        self,
        response: Any,
        example: dict[str, Any] | None = None,
        *,
        assertions: AssertionSet | None = None,
    ) -> CheckResult:
        """Run the assertions on ``response``; fail the test with a readable account if any fail.

        With ``--llmassert-repeat N`` every LLM-judge assertion is asked N times; the outcome is
        the first (normal) ask's, unless ``--llmassert-min-pass-rate`` is set.
        """
        from llmassert.assertions import judge
        from llmassert.hooks.response import extract_text

        checks = assertions or self.assertions
        if checks is None:
            raise pytest.UsageError(
                "llmassert_session.check needs assertions: pass assertions=... to the "
                "llmassert marker or to check()"
            )
        text = extract_text(response)
        result = checks.check(text, example)
        message = result.summary()
        judges = checks.judge_names
        if self.repeat > 1 and judges and self.flakiness is not None:
            subset = checks.select(judges)
            for name in judges:
                self.flakiness.add(self.nodeid, name, result.results[name])
            for k in range(1, self.repeat):
                with judge.repeat(k):
                    again = subset.check(text, example)
                for name in judges:
                    self.flakiness.add(self.nodeid, name, again.results[name])
            low = self._below_min(judges)
            if low:
                message = "\n".join(filter(None, [message, *low]))
        if message:
            pytest.fail(f"llmassert: {message}", pytrace=False)
        return result

    def _below_min(self, judges: list[str]) -> list[str]:
        if self.min_pass_rate is None or self.flakiness is None:
            return []
        low = []
        for name in judges:
            passes, runs = self.flakiness.runs[(self.nodeid, name)]
            if passes / runs < self.min_pass_rate:
                low.append(
                    f"{name}: passed {passes}/{runs} runs, below "
                    f"--llmassert-min-pass-rate {self.min_pass_rate:g}"
                )
        return low


# -- helpers -------------------------------------------------------------------------------------


def _default_cassette(node: pytest.Item) -> str:
    module = Path(str(getattr(node, "path", "test"))).stem
    return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{module}.{node.name}").strip("._")


def _load_assertions(path: str, rootdir: Path, testdir: Path) -> AssertionSet:
    from llmassert.assertions import AssertionSet

    candidate = Path(path)
    if not candidate.is_absolute():
        for base in (rootdir, testdir):
            if (base / candidate).is_file():
                candidate = base / candidate
                break
    return AssertionSet.load(candidate)


class NetworkBlockedError(RuntimeError):
    """A test in replay mode tried to reach the network.

    Not an OSError on purpose: HTTP clients turn OSErrors into retried connection errors.
    """


class _NetworkBlocker:
    """Patches socket connect and DNS for the duration of a replay test; records attempts."""

    def __init__(self, api_base: str | None) -> None:
        self.violations: list[str] = []
        self.endpoint: tuple[str, int] | None = None
        if api_base:
            parts = urlsplit(api_base)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            self.endpoint = ((parts.hostname or "").lower(), port)
        self._saved: list[tuple[Any, str, Any]] = []

    def _blocked(self, what: str) -> NetworkBlockedError:
        self.violations.append(what)
        return NetworkBlockedError(
            f"llmassert: network blocked in replay mode: {what} "
            "(record with `pytest --llmassert-record`)"
        )

    def _check_address(self, address: Any) -> None:
        if not isinstance(address, tuple) or len(address) < 2:
            return  # AF_UNIX paths and the like never leave the machine
        host, port = str(address[0]).lower(), address[1]
        if (
            self.endpoint
            and port == self.endpoint[1]
            and (
                host == self.endpoint[0] or (_is_loopback(host) and _is_loopback(self.endpoint[0]))
            )
        ):
            raise self._blocked(f"connect to the LLM endpoint {host}:{port}")
        if not _is_loopback(host):
            raise self._blocked(f"connect to {host}:{port}")

    def __enter__(self) -> _NetworkBlocker:
        blocker = self
        real_connect = socket.socket.connect
        real_connect_ex = socket.socket.connect_ex
        real_getaddrinfo = socket.getaddrinfo

        def connect(sock: socket.socket, address: Any) -> None:
            blocker._check_address(address)
            return real_connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            blocker._check_address(address)
            return real_connect_ex(sock, address)

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            name = host.decode() if isinstance(host, bytes) else host
            if name is not None and not _is_loopback(str(name)) and not _is_ip(str(name)):
                raise blocker._blocked(f"DNS lookup of {name}")
            return real_getaddrinfo(host, *args, **kwargs)

        self._patch(socket.socket, "connect", connect)
        self._patch(socket.socket, "connect_ex", connect_ex)
        self._patch(socket, "getaddrinfo", getaddrinfo)
        return self

    def _patch(self, owner: Any, name: str, value: Callable[..., Any]) -> None:
        self._saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    def __exit__(self, *exc: object) -> None:
        while self._saved:
            owner, name, value = self._saved.pop()
            setattr(owner, name, value)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False
