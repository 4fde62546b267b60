"""pytest fixtures for testing your own Coze code against the simulator (loaded by the `pytest11` entry point).

Fixtures (function-scoped, so every test starts from a fresh, seeded simulator and gets the same ids):

- `coze_sim`: a `harness.pytest.sim.CozeSim`, the simulator serving the built-in catalogue plus the
  scenario folders named by the `coze_scenarios` ini option (paths relative to the ini file) and the
  `@pytest.mark.coze_scenarios("dir", ...)` marker (paths relative to the test file; `builtin=False`
  drops the built-in catalogue): `base_url` (127.0.0.1, an ephemeral port), `app`, `token`, and the
  admin API's helpers (`requests()`, `tool_outputs()`, `assert_tool_outputs(...)`,
  `assert_no_requests()`, `add_bot(...)`, `add_workflow(...)`, `add_scenario(...)`). One app per
  setup is kept for the session and reset before each test (`POST /_sim/reset`), so a test costs a
  reset, not a server start and stop.
- `coze_client` / `async_coze_client`: a real `cozepy.Coze` / `AsyncCoze` reaching the simulator
  the way the test's mode says: `@pytest.mark.coze(mode="socket")` (the default: HTTP over the
  loopback socket), `mode="inprocess"` (the same app through `harness.transports.inprocess`, no socket) or
  `mode="cassette"` (replayed from a cassette file: no simulator, no socket; see below).
- `coze_cassette`: in cassette mode, the test's `CozeCassette` (its path, whether this run records
  or replays, the replay transport with its playbacks and virtual clock).
- `local_tools`: an empty `harness.tools.ToolRegistry` to fill with `@local_tools.tool`.
- `coze_bridge`: the HTTP bridge serving `local_tools` on 127.0.0.1, no token; tools added after
  it started are served too.

Cassette mode: `@pytest.mark.coze(mode="cassette", cassette="cassettes/chat.yaml", replay="faithful")`.
`cassette` is relative to the test file (default `cassettes/<module>/<test name>.yaml` beside it);
`replay` is a `harness.cassettes.ReplayMode` (`faithful`, `coalesced`, `rechunked`). What happens
depends on `--coze-record`, as vcrpy's record modes:

- `none` (the default): replay; a missing cassette fails the test saying how to record it.
- `once`: replay an existing cassette; record one that does not exist yet.
- `all`: record every cassette again, overwriting it.

Recording runs the test against a fresh seeded simulator on loopback (`coze_sim`), or, when
`COZE_API_BASE` is set, against that server with the token in `COZE_API_TOKEN`. The cassette is
redacted (`harness.cassettes.redaction`) and written only when the test passes. `new_episodes` is
refused: pseudonyms are numbered over a whole recording, so new traffic cannot be appended to a
redacted cassette; record it again with `all`.

While a test uses these fixtures, connections to anything but loopback are refused with
`NetworkBlockedError`: a test meant to run against the simulator can never reach the real Coze by
mistake, and fails saying so instead of hanging. Only a recording run with `COZE_API_BASE` set may
also reach that one host.

Once the tests are collected, if any of them uses these fixtures, the plugin imports what they will need and
freezes the heap (`gc.freeze`), so that the garbage collector stops walking FastAPI's, pydantic's, cozepy's
and pytest's own objects on every full collection; `harness.pytest.heap` says what that costs and when it is
undone, and `coze_freeze_heap = false` in the ini file turns it off.

Nothing is imported from the simulator, cozepy or FastAPI unless a collected test uses a fixture, so loading
the plugin costs a test run that does not use it nothing, and needs only pytest.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from .bridge import RunningBridge, live_bridge
from .cassette import RECORD_MODES, CozeCassette, cassette_for
from .heap import FREEZE_INI, begin, freeze_for, release
from .modes import DEFAULT_MODE, MODES, mode_of, simulator_for
from .network import BASE_ENV, TOKEN_ENV, NetworkBlockedError, guarded, is_loopback_address
from .sim import CozeSim, SimHosts, SimulatorAdminError, iter_hosts

if TYPE_CHECKING:
    from harness.tools import ToolRegistry

__all__ = [
    "BASE_ENV",
    "DEFAULT_MODE",
    "MODES",
    "RECORD_MODES",
    "TOKEN_ENV",
    "CozeCassette",
    "CozeSim",
    "NetworkBlockedError",
    "RunningBridge",
    "SimulatorAdminError",
    "is_loopback_address",
]


# --- options, markers and hooks -------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("coze-harness", "coze-harness simulator fixtures")
    group.addoption(
        "--coze-record",
        action="store",
        choices=RECORD_MODES,
        default="none",
        help=(
            "cassette record mode for tests in @pytest.mark.coze(mode='cassette'): 'none' (the default) replays "
            "and never records; 'once' records cassettes that do not exist yet; 'all' records every one again. "
            f"Recording uses a fresh simulator, or the server at ${BASE_ENV} with the token in ${TOKEN_ENV}. "
            "'new_episodes' is refused (a redacted cassette cannot be appended to)."
        ),
    )
    parser.addini(
        "coze_scenarios",
        type="paths",
        default=[],
        help="scenario folders (relative to the ini file) that coze_sim serves beside the built-in catalogue",
    )
    parser.addini(
        FREEZE_INI,
        type="bool",
        default=True,
        help="freeze the heap (gc.freeze) once tests that use the coze fixtures are collected, so that the garbage "
        "collector stops walking FastAPI's, pydantic's and cozepy's objects again and again; false to leave the "
        "collector alone (see harness.pytest.heap)",
    )


def pytest_configure(config: pytest.Config) -> None:
    begin(config)  # is this session run inside another, and what did an earlier one leave frozen (`heap`)
    config.add_cleanup(functools.partial(release, config))
    config.addinivalue_line(
        "markers",
        "coze(mode='socket', config=None, cassette=None, replay='faithful'): how coze_client / async_coze_client "
        "reach the simulator: 'socket' (loopback HTTP, the default), 'inprocess' (no socket) or 'cassette' "
        "(replay `cassette`, a path relative to the test file, in `replay` mode: faithful, coalesced or "
        "rechunked); config: the simulators.coze.SimConfig of coze_sim (seed, tokens, pacing)",
    )
    config.addinivalue_line(
        "markers",
        "coze_scenarios(*folders, builtin=True): scenario folders (relative to the test file) that "
        "coze_sim serves; builtin=False leaves the built-in catalogue out",
    )
    record = config.getoption("coze_record", default="none")
    if record == "new_episodes":
        raise pytest.UsageError(
            "--coze-record=new_episodes is not supported: a cassette is redacted as a whole (pseudonyms are "
            "numbered over the whole recording), so new traffic cannot be appended to one. Use "
            "--coze-record=all to record the cassettes again, or once for the missing ones."
        )


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Freeze the heap if the collected tests use the simulator's fixtures (`harness.pytest.heap`)."""
    try:
        freeze_for(session)
    except Exception as exc:  # only a speed-up: the tests run as they would without it, and the warning says why
        message = f"coze-harness did not freeze the heap: {type(exc).__name__}: {exc}"
        warnings.warn(pytest.PytestWarning(message), stacklevel=1)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item, so a recording is written only for a passing test."""
    report = yield
    setattr(item, f"_coze_report_{report.when}", report)
    return report


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def coze_network_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """Refuse connections (and name lookups) beyond loopback for the test's duration, in every thread
    (`harness.pytest.network`)."""
    with guarded(request.config):
        yield


@pytest.fixture(scope="session")
def coze_sim_hosts() -> Iterator[SimHosts]:
    """The session's simulator apps, one per setup (scenario folders and `SimConfig`), stopped at its end."""
    yield from iter_hosts(SimHosts())


@pytest.fixture
def coze_sim(request: pytest.FixtureRequest, coze_sim_hosts: SimHosts, coze_network_guard: None) -> Iterator[CozeSim]:
    """The test's simulator, fresh and seeded: the same ids, an empty store, journal and request log, the
    catalogue of its scenario folders (`harness.pytest.sim.CozeSim`: `base_url`, `app`, `token`, `requests()`,
    `assert_tool_outputs(...)`, `assert_no_requests()`, `add_bot(...)`...). The app is kept for the session
    and reset before each test; its loopback server starts when a test first asks for `base_url`.

    `@pytest.mark.coze(config=SimConfig(...))` sets its seed, tokens, pacing...
    """
    sim = simulator_for(request, coze_sim_hosts)
    yield sim
    sim.settle()  # the reset before this test is sent without waiting: one the simulator refused fails this test


@pytest.fixture
def coze_mode(request: pytest.FixtureRequest) -> str:
    """The mode of `@pytest.mark.coze(mode=...)` (or its one positional argument); `socket` without it."""
    return mode_of(request)


@pytest.fixture
def coze_client(request: pytest.FixtureRequest, coze_mode: str, coze_network_guard: None) -> Iterator[Any]:
    """A `cozepy.Coze` reaching the simulator by the test's mode, closed after the test."""
    coze, close = MODES[coze_mode].sync(request)
    try:
        yield coze
    finally:
        close()


@pytest.fixture
def async_coze_client(request: pytest.FixtureRequest, coze_mode: str, coze_network_guard: None) -> Any:
    """A `cozepy.AsyncCoze` reaching the simulator by the test's mode; skipped on cozepy before 0.3.0.

    Any event loop can use it (socket mode keeps no connection open between requests; in-process
    mode runs the app on the loop that makes the request; cassette mode holds no loop state).
    """
    from harness import sdk

    if not sdk.has_async_client():
        pytest.skip(f"cozepy {sdk.version()} has no AsyncCoze")
    return MODES[coze_mode].asynchronous(request)


@pytest.fixture
def coze_cassette(request: pytest.FixtureRequest, coze_mode: str, coze_network_guard: None) -> Iterator[CozeCassette]:
    """The test's cassette, replayed or recorded as `--coze-record` says (cassette mode only)."""
    with cassette_for(request, coze_mode) as cassette:
        yield cassette


@pytest.fixture
def local_tools() -> ToolRegistry:
    """An empty registry; add tools with `@local_tools.tool`."""
    from harness.tools import ToolRegistry

    return ToolRegistry()


@pytest.fixture
def coze_bridge(local_tools: ToolRegistry, coze_network_guard: None) -> Iterator[RunningBridge]:
    """The HTTP bridge serving `local_tools` on 127.0.0.1 (no token), stopped when the test ends."""
    from simulators.coze import running

    with running(live_bridge(local_tools)) as server:
        yield RunningBridge(base_url=server.base_url, registry=local_tools)
