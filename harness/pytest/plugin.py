"""pytest fixtures for testing your own Coze code against the simulator (loaded by the `pytest11` entry point).

Fixtures (function-scoped, so every test starts from a fresh, seeded simulator and gets the same ids):

- `coze_sim`: a `simulators.coze.RunningServer` on 127.0.0.1 (an ephemeral port) serving the
  built-in catalogue plus the scenario folders named by the `coze_scenarios` ini option (paths
  relative to the ini file) and the `@pytest.mark.coze_scenarios("dir", ...)` marker (paths
  relative to the test file; `builtin=False` drops the built-in catalogue).
- `coze_client` / `async_coze_client`: a real `cozepy.Coze` / `AsyncCoze` reaching the simulator
  the way the test's mode says: `@pytest.mark.coze(mode="socket")` (the default: HTTP over the
  loopback socket), `mode="inprocess"` (the same app through `harness.inprocess`, no socket) or
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

Nothing is imported from the simulator, cozepy or FastAPI until a fixture runs, so loading the
plugin costs a test run that does not use it nothing, and needs only pytest.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from harness.cassettes import CassetteRecorder, CassetteTransport
    from harness.tools import ToolRegistry
    from simulators.coze import RunningServer, SimConfig

__all__ = [
    "BASE_ENV",
    "DEFAULT_MODE",
    "MODES",
    "RECORD_MODES",
    "TOKEN_ENV",
    "CozeCassette",
    "NetworkBlockedError",
    "RunningBridge",
    "is_loopback_address",
]

DEFAULT_MODE = "socket"
RECORD_MODES = ("none", "once", "new_episodes", "all")
BASE_ENV = "COZE_API_BASE"
TOKEN_ENV = "COZE_API_TOKEN"

_CLIENT_TIMEOUT_SECONDS = 60.0
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


# --- options and markers --------------------------------------------------------------------------


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


def pytest_configure(config: pytest.Config) -> None:
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


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item, so a recording is written only for a passing test."""
    report = yield
    setattr(item, f"_coze_report_{report.when}", report)
    return report


# --- the network guard ----------------------------------------------------------------------------


class NetworkBlockedError(ConnectionRefusedError):
    """A test using the coze fixtures tried to reach a host other than loopback."""


def is_loopback_address(host: str | bytes) -> bool:
    """Is `host` (an IP literal or a name) one this machine answers itself? Names other than
    localhost's are not resolved: resolving them is already traffic to a DNS server."""
    text = host.decode() if isinstance(host, bytes) else host
    text = text.strip("[]").split("%", 1)[0]
    if text.lower() in _LOCAL_NAMES or text.lower().endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _blocked(what: str) -> NetworkBlockedError:
    return NetworkBlockedError(
        f"coze-harness refused {what}: while a test uses the coze fixtures only loopback (127.0.0.0/8, ::1, "
        "localhost) is reachable (and, when recording with --coze-record and $COZE_API_BASE, that host). "
        "Point the client at coze_sim.base_url or use coze_client."
    )


def _recording_host(config: pytest.Config) -> str | None:
    """The one host beyond loopback a recording run may reach: that of $COZE_API_BASE."""
    if config.getoption("coze_record", default="none") == "none":
        return None
    base = os.environ.get(BASE_ENV, "").strip()
    return (urlsplit(base).hostname or None) if base else None


@pytest.fixture
def coze_network_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """Refuse connections (and name lookups) beyond loopback for the test's duration, in every thread.

    `socket.socket.connect` / `connect_ex` are what both httpx's sync transport and asyncio's loop
    call, so one patch covers sync and async clients; `socket.getaddrinfo` is guarded too, so a
    client given a real host name fails before any DNS query leaves the machine. A recording run
    with `$COZE_API_BASE` set may also look up that host and connect to the addresses it resolved to.
    """
    allowed_host = _recording_host(request.config)
    allowed_addresses: set[str] = set()
    connect = socket.socket.connect
    connect_ex = socket.socket.connect_ex
    getaddrinfo = socket.getaddrinfo

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return  # unix sockets and the like never leave the machine
        host = address[0] if isinstance(address, tuple) else address
        if is_loopback_address(host) or str(host) in allowed_addresses:
            return
        port = address[1] if isinstance(address, tuple) and len(address) > 1 else "?"
        raise _blocked(f"a connection to {host}:{port}")

    def guarded_connect(self: socket.socket, address: Any) -> None:
        check(self, address)
        connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        check(self, address)
        return connect_ex(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        text = host.decode() if isinstance(host, bytes) else host
        if allowed_host is not None and isinstance(text, str) and text.lower() == allowed_host.lower():
            answers = getaddrinfo(host, *args, **kwargs)
            allowed_addresses.update(str(answer[4][0]) for answer in answers)
            return answers
        if host is not None and not is_loopback_address(host) and not _is_ip_literal(host):
            raise _blocked(f"a name lookup of {host!r}")
        return getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", guarded_connect)
        patch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
        patch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
        yield


def _is_ip_literal(host: str | bytes) -> bool:
    """An address needs no lookup; `connect` judges it."""
    text = host.decode() if isinstance(host, bytes) else host
    try:
        ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


# --- the simulator --------------------------------------------------------------------------------


def _marker_kwargs(request: pytest.FixtureRequest, name: str) -> dict[str, Any]:
    marker = request.node.get_closest_marker(name)
    return dict(marker.kwargs) if marker is not None else {}


def _scenario_folders(request: pytest.FixtureRequest) -> tuple[list[Path], bool]:
    """Folders from the ini option, then from every `coze_scenarios` marker (closest last)."""
    folders = [Path(path) for path in request.config.getini("coze_scenarios")]
    builtin = True
    base = Path(request.path).parent
    markers = list(request.node.iter_markers("coze_scenarios"))
    for marker in reversed(markers):
        folders += [Path(arg) if Path(arg).is_absolute() else base / arg for arg in marker.args]
        builtin = bool(marker.kwargs.get("builtin", builtin))
    return folders, builtin


def _config_of(request: pytest.FixtureRequest) -> SimConfig | None:
    from simulators.coze import SimConfig

    config = _marker_kwargs(request, "coze").get("config")
    if config is not None and not isinstance(config, SimConfig):
        pytest.fail(
            f"@pytest.mark.coze(config=...) takes a simulators.coze.SimConfig, not {type(config).__name__}",
            pytrace=False,
        )
    return config


@pytest.fixture
def coze_sim(request: pytest.FixtureRequest, coze_network_guard: None) -> Iterator[RunningServer]:
    """A fresh simulator on 127.0.0.1 and an ephemeral port, stopped when the test ends.

    `@pytest.mark.coze(config=SimConfig(...))` sets its seed, tokens, pacing...
    """
    from simulators.coze import Catalogue, ScenarioFileError, create_app, running
    from simulators.coze.scenarios import BUILTIN_DIR

    folders, builtin = _scenario_folders(request)
    if builtin:
        folders.insert(0, BUILTIN_DIR)
    if not folders:
        pytest.fail("@pytest.mark.coze_scenarios(builtin=False) needs at least one folder", pytrace=False)
    try:
        catalogue = Catalogue.load(*folders)
    except ScenarioFileError as exc:
        pytest.fail(f"coze_sim: a scenario is wrong: {exc}", pytrace=False)
    with running(create_app(catalogue, _config_of(request))) as server:
        yield server


# --- clients, by mode -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Mode:
    """How one mode builds clients: each builder takes the test's request and returns the cozepy
    client (and, sync, what closes it). A builder asks for `coze_sim` only if it needs a server."""

    sync: Callable[[pytest.FixtureRequest], tuple[Any, Callable[[], None]]]
    asynchronous: Callable[[pytest.FixtureRequest], Any]


def _token_of(request: pytest.FixtureRequest) -> str:
    """The first token of the marker's `SimConfig`, else the simulator's default one."""
    config = _config_of(request)
    if config is not None:
        return config.tokens[0].token
    from harness.inprocess import dev_token

    return dev_token()


def _timeout() -> Any:
    import httpx

    return httpx.Timeout(_CLIENT_TIMEOUT_SECONDS, connect=5.0)


def _sim(request: pytest.FixtureRequest) -> RunningServer:
    sim: RunningServer = request.getfixturevalue("coze_sim")
    return sim


def _socket_sync(request: pytest.FixtureRequest) -> tuple[Any, Callable[[], None]]:
    from harness._client import coze_client_and_http

    sim = _sim(request)
    coze, http = coze_client_and_http(None, base_url=sim.base_url, token=_token_of(request), timeout=_timeout())
    return coze, http.close


def _socket_async(request: pytest.FixtureRequest) -> Any:
    import httpx

    from harness._client import async_coze_client

    sim = _sim(request)
    # No kept-alive connections: a pooled socket would belong to the test's event loop and outlive
    # it, and this fixture is sync, so it cannot `aclose` the client on that loop afterwards.
    limits = httpx.Limits(max_keepalive_connections=0)
    return async_coze_client(None, base_url=sim.base_url, token=_token_of(request), timeout=_timeout(), limits=limits)


def _inprocess_sync(request: pytest.FixtureRequest) -> tuple[Any, Callable[[], None]]:
    from harness._client import coze_client_and_http
    from harness.inprocess import INPROCESS_BASE_URL, InProcessTransport

    transport = InProcessTransport(_sim(request).app)
    coze, http = coze_client_and_http(
        transport, base_url=INPROCESS_BASE_URL, token=_token_of(request), timeout=_timeout()
    )
    return coze, http.close


def _inprocess_async(request: pytest.FixtureRequest) -> Any:
    from harness._client import async_coze_client
    from harness.inprocess import INPROCESS_BASE_URL, AsyncInProcessTransport

    transport = AsyncInProcessTransport(_sim(request).app)
    return async_coze_client(transport, base_url=INPROCESS_BASE_URL, token=_token_of(request), timeout=_timeout())


def _cassette(request: pytest.FixtureRequest) -> CozeCassette:
    cassette: CozeCassette = request.getfixturevalue("coze_cassette")
    return cassette


def _cassette_sync(request: pytest.FixtureRequest) -> tuple[Any, Callable[[], None]]:
    return _cassette(request).sync_client()


def _cassette_async(request: pytest.FixtureRequest) -> Any:
    return _cassette(request).async_client()


MODES: dict[str, _Mode] = {
    "socket": _Mode(_socket_sync, _socket_async),
    "inprocess": _Mode(_inprocess_sync, _inprocess_async),
    "cassette": _Mode(_cassette_sync, _cassette_async),
}


@pytest.fixture
def coze_mode(request: pytest.FixtureRequest) -> str:
    """The mode of `@pytest.mark.coze(mode=...)` (or its one positional argument); `socket` without it."""
    marker = request.node.get_closest_marker("coze")
    mode: Any = DEFAULT_MODE
    if marker is not None:
        mode = marker.kwargs.get("mode", marker.args[0] if marker.args else DEFAULT_MODE)
    if mode not in MODES:
        pytest.fail(f"@pytest.mark.coze: unknown mode {mode!r}; choose one of {', '.join(MODES)}", pytrace=False)
    return str(mode)


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


# --- cassette mode ------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")
_REPLAY_BASE_URL = "http://cassette.coze-harness.invalid"
"""Where replaying clients point when a cassette names no base URL: a host that can never resolve."""


def _cassette_path(request: pytest.FixtureRequest) -> Path:
    given = _marker_kwargs(request, "coze").get("cassette")
    here = Path(request.path).parent
    if given is None:
        name = _UNSAFE.sub("_", request.node.name).strip("_") or "test"
        return here / "cassettes" / Path(request.path).stem / f"{name}.yaml"
    if not isinstance(given, str | os.PathLike):
        pytest.fail(f"@pytest.mark.coze(cassette=...) takes a path, not {type(given).__name__}", pytrace=False)
    path = Path(given)
    return path if path.is_absolute() else here / path


@dataclass
class CozeCassette:
    """The cassette of a test in cassette mode, and whether this run replays or records it.

    Replaying: `transport` is the `harness.cassettes.CassetteTransport` the sync client uses (its
    `playbacks`, `clock`, `unplayed()`, `assert_all_played()`); the async client shares its playback.
    Recording: `recorder` collects the traffic; the cassette is written to `path` when the test passes.
    """

    path: Path
    record_mode: str
    replay_mode: str
    recording: bool
    base_url: str
    token: str
    source: str | None = None
    """Recording only: 'simulator' or 'coze' (a real server at $COZE_API_BASE)."""
    simulator_seed: int | None = None
    transport: CassetteTransport | None = None
    recorder: CassetteRecorder | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def sync_client(self) -> tuple[Any, Callable[[], None]]:
        from harness._client import coze_client_and_http

        transport: Any = self.recorder.transport if self.recorder is not None else self.transport
        coze, _http = coze_client_and_http(transport, base_url=self.base_url, token=self.token, timeout=_timeout())
        return coze, lambda: None  # the transport outlives the client; `finish` closes it

    def async_client(self) -> Any:
        from harness._client import async_coze_client

        if self.recorder is not None:
            transport: Any = self.recorder.async_transport()
        else:
            assert self.transport is not None
            transport = self.transport.async_twin()
        return async_coze_client(transport, base_url=self.base_url, token=self.token, timeout=_timeout())

    def finish(self, passed: bool) -> str | None:
        """Write a recording (only for a test that passed); what was done, for the terminal."""
        try:
            if self.recorder is None:
                return None
            if not passed:
                return f"coze-harness: {self.path} not written: the test did not pass"
            if not self.recorder.transport.exchanges:
                return f"coze-harness: {self.path} not written: the test sent no request"
            from harness.cassettes import SIMULATOR_BASE_URL

            cassette = self.recorder.cassette(
                source="simulator" if self.source == "simulator" else "coze",
                base_url=self.base_url,
                written_base_url=SIMULATOR_BASE_URL if self.source == "simulator" else None,
                simulator_seed=self.simulator_seed,
            )
            cassette.save(self.path)
            return None
        finally:
            for close in self._closers:
                close()


def _replay_mode(request: pytest.FixtureRequest) -> str:
    from harness.cassettes import ReplayMode

    replay = _marker_kwargs(request, "coze").get("replay", ReplayMode.FAITHFUL.value)
    try:
        return ReplayMode(replay).value
    except ValueError:
        choices = ", ".join(mode.value for mode in ReplayMode)
        pytest.fail(f"@pytest.mark.coze(replay=...): unknown replay mode {replay!r}; choose one of {choices}", False)


def _start_recording(request: pytest.FixtureRequest, cassette: CozeCassette) -> None:
    import httpx

    from harness.cassettes import CassetteRecorder

    base = os.environ.get(BASE_ENV, "").strip()
    if base:
        token = os.environ.get(TOKEN_ENV, "").strip()
        if not token:
            pytest.fail(f"recording against ${BASE_ENV} ({base}) needs a token in ${TOKEN_ENV}", pytrace=False)
        cassette.base_url, cassette.token, cassette.source = base.rstrip("/"), token, "coze"
    else:
        sim = _sim(request)
        config = _config_of(request)
        cassette.base_url, cassette.token, cassette.source = sim.base_url, _token_of(request), "simulator"
        cassette.simulator_seed = config.seed if config is not None else _default_seed()
    inner = httpx.HTTPTransport()
    cassette.recorder = CassetteRecorder(inner, secrets=[cassette.token])
    cassette._closers.append(inner.close)


def _default_seed() -> int:
    from simulators.coze import SimConfig

    return SimConfig().seed


@pytest.fixture
def coze_cassette(request: pytest.FixtureRequest, coze_mode: str, coze_network_guard: None) -> Iterator[CozeCassette]:
    """The test's cassette, replayed or recorded as `--coze-record` says (cassette mode only)."""
    if coze_mode != "cassette":
        pytest.fail("coze_cassette needs @pytest.mark.coze(mode='cassette', cassette=PATH)", pytrace=False)
    from harness.cassettes import CassetteError, CassetteTransport, load

    record = str(request.config.getoption("coze_record", default="none"))
    path = _cassette_path(request)
    recording = record == "all" or (record == "once" and not path.exists())
    cassette = CozeCassette(
        path=path,
        record_mode=record,
        replay_mode=_replay_mode(request),
        recording=recording,
        base_url=_REPLAY_BASE_URL,
        token="cassette-replay",
    )
    if recording:
        _start_recording(request, cassette)
    else:
        if not path.exists():
            pytest.fail(
                f"no cassette at {path}: record it by running this test with --coze-record=once (against a fresh "
                f"simulator, or the server at ${BASE_ENV} with ${TOKEN_ENV}), or with `coze-harness record`",
                pytrace=False,
            )
        try:
            recorded = load(path)
        except CassetteError as exc:
            pytest.fail(f"cannot replay {path}: {exc}", pytrace=False)
        cassette.base_url = recorded.coze_harness.base_url or _REPLAY_BASE_URL
        cassette.transport = CassetteTransport(recorded, mode=cassette.replay_mode)
    yield cassette
    report = getattr(request.node, "_coze_report_call", None)
    note = cassette.finish(passed=report is not None and report.passed)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if note and reporter is not None:
        reporter.write_line(note)


# --- local tools and the bridge -------------------------------------------------------------------


@pytest.fixture
def local_tools() -> ToolRegistry:
    """An empty registry; add tools with `@local_tools.tool`."""
    from harness.tools import ToolRegistry

    return ToolRegistry()


@dataclass(frozen=True)
class RunningBridge:
    """The HTTP bridge the `coze_bridge` fixture runs: where it listens and what it serves."""

    base_url: str
    registry: ToolRegistry

    def tool_url(self, name: str) -> str:
        """The URL a workflow's HTTP node (or any client) posts a tool's arguments to."""
        from harness.bridge import tool_path

        return self.base_url + tool_path(name)

    @property
    def openapi_url(self) -> str:
        return self.base_url + "/openapi.json"


def _live_bridge(registry: ToolRegistry) -> Any:
    """The bridge app for `registry`, rebuilt whenever the registry changes.

    `create_bridge_app` routes the tools a registry holds when it is built, but a test fills
    `local_tools` after the fixture started the server; this app follows the registry instead.
    """
    from fastapi import FastAPI

    from harness.bridge import create_bridge_app

    class LiveBridge(FastAPI):
        def __init__(self) -> None:
            super().__init__(openapi_url=None, docs_url=None, redoc_url=None)
            self._built: tuple[tuple[str, int], ...] | None = None
            self._inner: FastAPI | None = None

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            current = tuple((item.name, id(item)) for item in registry)
            if self._inner is None or current != self._built:
                # no token: the fixture's server is loopback-only and lives for one test (Host, Origin and
                # JSON checks still hold), and a workflow's http node scenario sends no Authorization
                self._inner, self._built = create_bridge_app(registry, insecure_no_auth=True), current
            await self._inner(scope, receive, send)

    return LiveBridge()


@pytest.fixture
def coze_bridge(local_tools: ToolRegistry, coze_network_guard: None) -> Iterator[RunningBridge]:
    """The HTTP bridge serving `local_tools` on 127.0.0.1 (no token), stopped when the test ends."""
    from simulators.coze import running

    with running(_live_bridge(local_tools)) as server:
        yield RunningBridge(base_url=server.base_url, registry=local_tools)
