"""pytest fixtures for testing your own Coze code against the simulator (loaded by the `pytest11` entry point).

Fixtures (function-scoped, so every test starts from a fresh, seeded simulator and gets the same ids):

- `coze_sim`: a `simulators.coze.RunningServer` on 127.0.0.1 (an ephemeral port) serving the
  built-in catalogue plus the scenario folders named by the `coze_scenarios` ini option (paths
  relative to the ini file) and the `@pytest.mark.coze_scenarios("dir", ...)` marker (paths
  relative to the test file; `builtin=False` drops the built-in catalogue).
- `coze_client` / `async_coze_client`: a real `cozepy.Coze` / `AsyncCoze` reaching `coze_sim`
  the way the test's mode says: `@pytest.mark.coze(mode="socket")` (the default: HTTP over the
  loopback socket) or `mode="inprocess"` (the same app through `harness.inprocess`, no socket).
  `mode="cassette"` is reserved for cassette replay and fails with "not available yet".
- `local_tools`: an empty `harness.tools.ToolRegistry` to fill with `@local_tools.tool`.
- `coze_bridge`: the HTTP bridge serving `local_tools` on 127.0.0.1, no token; tools added after
  it started are served too.

While a test uses these fixtures, connections to anything but loopback are refused with
`NetworkBlockedError` (`--coze-record=none`, the default): a test meant to run against the
simulator can never reach the real Coze by mistake, and fails saying so instead of hanging.

Nothing is imported from the simulator, cozepy or FastAPI until a fixture runs, so loading the
plugin costs a test run that does not use it nothing, and needs only pytest.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

if TYPE_CHECKING:
    from harness.tools import ToolRegistry
    from simulators.coze import RunningServer, SimConfig

__all__ = [
    "DEFAULT_MODE",
    "MODES",
    "RECORD_MODES",
    "NetworkBlockedError",
    "RunningBridge",
    "is_loopback_address",
]

DEFAULT_MODE = "socket"
RECORD_MODES = ("none", "once", "all")

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
            "cassette record mode for tests using the coze fixtures. Only 'none' (the default: no "
            "recording, connections to anything but loopback refused) is implemented yet; 'once' and "
            "'all' are reserved for cassette recording and stop the run with a usage error."
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
        "coze(mode='socket', config=None): how coze_client / async_coze_client reach the simulator: 'socket' "
        "(loopback HTTP, the default), 'inprocess' (no socket) or 'cassette' (not available yet); "
        "config: the simulators.coze.SimConfig of coze_sim (seed, tokens, pacing)",
    )
    config.addinivalue_line(
        "markers",
        "coze_scenarios(*folders, builtin=True): scenario folders (relative to the test file) that "
        "coze_sim serves; builtin=False leaves the built-in catalogue out",
    )
    record = config.getoption("coze_record", default="none")
    if record != "none":
        raise pytest.UsageError(
            f"--coze-record={record} is not available yet: only 'none' is implemented. Record cassettes "
            "with `coze-harness record` meanwhile."
        )


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
        "localhost) is reachable (--coze-record=none). Point the client at coze_sim.base_url or use coze_client."
    )


def _check_connect(sock: socket.socket, address: Any) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return  # unix sockets and the like never leave the machine
    host = address[0] if isinstance(address, tuple) else address
    if not is_loopback_address(host):
        port = address[1] if isinstance(address, tuple) and len(address) > 1 else "?"
        raise _blocked(f"a connection to {host}:{port}")


@pytest.fixture
def coze_network_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """Refuse connections (and name lookups) beyond loopback for the test's duration, in every thread.

    `socket.socket.connect` / `connect_ex` are what both httpx's sync transport and asyncio's loop
    call, so one patch covers sync and async clients; `socket.getaddrinfo` is guarded too, so a
    client given a real host name fails before any DNS query leaves the machine.
    """
    if request.config.getoption("coze_record", default="none") != "none":  # pragma: no cover - refused at configure
        yield
        return
    connect = socket.socket.connect
    connect_ex = socket.socket.connect_ex
    getaddrinfo = socket.getaddrinfo

    def guarded_connect(self: socket.socket, address: Any) -> None:
        _check_connect(self, address)
        connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        _check_connect(self, address)
        return connect_ex(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
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
    """How one mode builds clients: each builder returns the cozepy client and what closes it.

    This table is the extension point for modes: cassette replay is one entry to fill in.
    """

    sync: Callable[[RunningServer, str], tuple[Any, Callable[[], None]]]
    asynchronous: Callable[[RunningServer, str], Any]


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


def _socket_sync(sim: RunningServer, token: str) -> tuple[Any, Callable[[], None]]:
    import cozepy

    from harness.inprocess import sync_http_client

    http = sync_http_client(timeout=_timeout())
    return cozepy.Coze(auth=cozepy.TokenAuth(token), base_url=sim.base_url, http_client=http), http.close


def _async_auth(token: str) -> Any:
    import cozepy

    return getattr(cozepy, "AsyncTokenAuth", cozepy.TokenAuth)(token)


def _socket_async(sim: RunningServer, token: str) -> Any:
    import cozepy
    import httpx

    from harness.inprocess import async_http_client

    # No kept-alive connections: a pooled socket would belong to the test's event loop and outlive
    # it, and this fixture is sync, so it cannot `aclose` the client on that loop afterwards.
    http = async_http_client(timeout=_timeout(), limits=httpx.Limits(max_keepalive_connections=0))
    return cozepy.AsyncCoze(auth=_async_auth(token), base_url=sim.base_url, http_client=http)


def _inprocess_sync(sim: RunningServer, token: str) -> tuple[Any, Callable[[], None]]:
    import cozepy

    from harness.inprocess import INPROCESS_BASE_URL, InProcessTransport, sync_http_client

    http = sync_http_client(InProcessTransport(sim.app), timeout=_timeout())
    coze = cozepy.Coze(auth=cozepy.TokenAuth(token), base_url=INPROCESS_BASE_URL, http_client=http)
    return coze, http.close


def _inprocess_async(sim: RunningServer, token: str) -> Any:
    import cozepy

    from harness.inprocess import INPROCESS_BASE_URL, AsyncInProcessTransport, async_http_client

    http = async_http_client(AsyncInProcessTransport(sim.app), timeout=_timeout())
    return cozepy.AsyncCoze(auth=_async_auth(token), base_url=INPROCESS_BASE_URL, http_client=http)


def _cassette_unavailable(sim: RunningServer, token: str) -> NoReturn:
    pytest.fail(
        "@pytest.mark.coze(mode='cassette') is not available yet: cassette replay is not wired into the "
        "plugin. Meanwhile replay with harness.cassettes.CassetteTransport and harness.inprocess.coze_over.",
        pytrace=False,
    )


MODES: dict[str, _Mode] = {
    "socket": _Mode(_socket_sync, _socket_async),
    "inprocess": _Mode(_inprocess_sync, _inprocess_async),
    "cassette": _Mode(_cassette_unavailable, _cassette_unavailable),
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
def coze_client(request: pytest.FixtureRequest, coze_sim: RunningServer, coze_mode: str) -> Iterator[Any]:
    """A `cozepy.Coze` reaching `coze_sim` by the test's mode, closed after the test."""
    coze, close = MODES[coze_mode].sync(coze_sim, _token_of(request))
    try:
        yield coze
    finally:
        close()


@pytest.fixture
def async_coze_client(request: pytest.FixtureRequest, coze_sim: RunningServer, coze_mode: str) -> Any:
    """A `cozepy.AsyncCoze` reaching `coze_sim` by the test's mode; skipped on cozepy before 0.3.0.

    Any event loop can use it (socket mode keeps no connection open between requests; in-process
    mode runs the app on the loop that makes the request).
    """
    from harness import sdk

    if not sdk.has_async_client():
        pytest.skip(f"cozepy {sdk.version()} has no AsyncCoze")
    return MODES[coze_mode].asynchronous(coze_sim, _token_of(request))


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
                self._inner, self._built = create_bridge_app(registry), current
            await self._inner(scope, receive, send)

    return LiveBridge()


@pytest.fixture
def coze_bridge(local_tools: ToolRegistry, coze_network_guard: None) -> Iterator[RunningBridge]:
    """The HTTP bridge serving `local_tools` on 127.0.0.1 (no token), stopped when the test ends."""
    from simulators.coze import running

    with running(_live_bridge(local_tools)) as server:
        yield RunningBridge(base_url=server.base_url, registry=local_tools)
