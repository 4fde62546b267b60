"""How the plugin's clients reach the simulator, one mode each: `socket` (loopback HTTP), `inprocess` (the same
app through `harness.transports.inprocess`, no socket) and `cassette` (replayed; `harness.pytest.cassette`), and the
simulator the `coze_sim` fixture serves (its scenario folders and `SimConfig` from the test's markers)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from simulators.coze import SimConfig

    from .cassette import CozeCassette
    from .sim import CozeSim, SimHosts

__all__ = [
    "DEFAULT_MODE",
    "MODES",
    "SIMULATOR_MODULES",
    "config_of",
    "marked_mode",
    "marker_kwargs",
    "mode_of",
    "simulator_for",
    "token_of",
]

DEFAULT_MODE = "socket"


def marker_kwargs(request: pytest.FixtureRequest, name: str) -> dict[str, Any]:
    """The keyword arguments of the test's closest `name` marker (empty without one)."""
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


def config_of(request: pytest.FixtureRequest) -> SimConfig | None:
    from simulators.coze import SimConfig

    config = marker_kwargs(request, "coze").get("config")
    if config is not None and not isinstance(config, SimConfig):
        pytest.fail(
            f"@pytest.mark.coze(config=...) takes a simulators.coze.SimConfig, not {type(config).__name__}",
            pytrace=False,
        )
    return config


def simulator_for(request: pytest.FixtureRequest, hosts: SimHosts) -> CozeSim:
    """The test's simulator: the session's app for this setup (scenario folders, `SimConfig`), reset to a
    fresh, seeded state, or a new one the first time the setup is seen (`harness.pytest.sim`)."""
    from simulators.coze import BUILTIN_DIR, ScenarioFileError

    from .sim import CozeSim

    folders, builtin = _scenario_folders(request)
    if builtin:
        folders.insert(0, BUILTIN_DIR)
    if not folders:
        pytest.fail("@pytest.mark.coze_scenarios(builtin=False) needs at least one folder", pytrace=False)
    try:
        host = hosts.get(folders, config_of(request), token_of(request))
    except ScenarioFileError as exc:
        pytest.fail(f"coze_sim: a scenario is wrong: {exc}", pytrace=False)
    return CozeSim(host)


# --- clients, by mode ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Mode:
    """How one mode builds clients: each builder takes the test's request and returns the cozepy
    client (and, sync, what closes it). A builder asks for `coze_sim` only if it needs a server.
    `modules` are what its first client imports (`harness.pytest.heap` imports them before freezing)."""

    sync: Callable[[pytest.FixtureRequest], tuple[Any, Callable[[], None]]]
    asynchronous: Callable[[pytest.FixtureRequest], Any]
    modules: tuple[str, ...]


def token_of(request: pytest.FixtureRequest) -> str:
    """The first token of the marker's `SimConfig`, else the simulator's default one."""
    config = config_of(request)
    if config is not None:
        return config.tokens[0].token
    from harness.transports.inprocess import dev_token

    return dev_token()


def client_timeout() -> Any:
    """The clients' timeout: the harness's one (`harness.clients.CLIENT_TIMEOUT`)."""
    from harness.clients import CLIENT_TIMEOUT

    return CLIENT_TIMEOUT


def sim_of(request: pytest.FixtureRequest) -> CozeSim:
    sim: CozeSim = request.getfixturevalue("coze_sim")
    return sim


def _socket_sync(request: pytest.FixtureRequest) -> tuple[Any, Callable[[], None]]:
    from harness.clients import coze_client_and_http

    sim = sim_of(request)
    # The session's socket transport, lent: connections are kept between tests, and a transport per test
    # would load the certificate bundle (tens of milliseconds) for plain HTTP. A pool left busy by the
    # test (early cozepy releases leave a read stream open) is replaced when the client closes.
    transport = sim.socket_transport
    coze, http = coze_client_and_http(
        transport, base_url=sim.base_url, token=token_of(request), timeout=client_timeout()
    )

    def close() -> None:
        http.close()
        sim.socket_client_done()

    return coze, close


def _socket_async(request: pytest.FixtureRequest) -> Any:
    import httpx

    from harness.clients import async_coze_client
    from harness.recorder import shared_ssl_context

    sim = sim_of(request)
    # No kept-alive connections: a pooled socket would belong to the test's event loop and outlive
    # it, and this fixture is sync, so it cannot `aclose` the client on that loop afterwards.
    limits = httpx.Limits(max_keepalive_connections=0)
    transport = httpx.AsyncHTTPTransport(verify=shared_ssl_context(), limits=limits)
    return async_coze_client(transport, base_url=sim.base_url, token=token_of(request), timeout=client_timeout())


def _inprocess_sync(request: pytest.FixtureRequest) -> tuple[Any, Callable[[], None]]:
    from harness.clients import coze_client_and_http
    from harness.transports.inprocess import INPROCESS_BASE_URL

    # the session's transport to this app, lent: no event loop thread started and stopped per test
    transport = sim_of(request).transport
    coze, http = coze_client_and_http(
        transport, base_url=INPROCESS_BASE_URL, token=token_of(request), timeout=client_timeout()
    )
    return coze, http.close


def _inprocess_async(request: pytest.FixtureRequest) -> Any:
    from harness.clients import async_coze_client
    from harness.transports.inprocess import INPROCESS_BASE_URL, AsyncInProcessTransport

    transport = AsyncInProcessTransport(sim_of(request).app)
    return async_coze_client(transport, base_url=INPROCESS_BASE_URL, token=token_of(request), timeout=client_timeout())


def _cassette(request: pytest.FixtureRequest) -> CozeCassette:
    cassette: CozeCassette = request.getfixturevalue("coze_cassette")
    return cassette


def _cassette_sync(request: pytest.FixtureRequest) -> tuple[Any, Callable[[], None]]:
    return _cassette(request).sync_client()


def _cassette_async(request: pytest.FixtureRequest) -> Any:
    return _cassette(request).async_client()


SIMULATOR_MODULES = ("simulators.coze", "harness.pytest.sim", "harness.transports.inprocess", "harness.pytest._lent")
"""What `coze_sim` imports: the simulator, and the transport its admin calls (and in-process clients) go through."""

_CLIENT_MODULES = ("cozepy", "harness.clients")
"""What building a cozepy client imports, in every mode (the SDK only here: a suite that asks for `coze_sim` alone
never imports it)."""

MODES: dict[str, _Mode] = {
    "socket": _Mode(
        _socket_sync,
        _socket_async,
        (*SIMULATOR_MODULES, *_CLIENT_MODULES, "harness.recorder", "simulators.coze._uvicorn"),
    ),
    "inprocess": _Mode(_inprocess_sync, _inprocess_async, (*SIMULATOR_MODULES, *_CLIENT_MODULES)),
    "cassette": _Mode(_cassette_sync, _cassette_async, (*_CLIENT_MODULES, "harness.recorder", "harness.cassettes")),
}


def marked_mode(node: pytest.Item | pytest.Collector) -> Any:
    """What `@pytest.mark.coze(mode=...)` (or its one positional argument) says, unchecked; `socket` without it."""
    marker = node.get_closest_marker("coze")
    if marker is None:
        return DEFAULT_MODE
    return marker.kwargs.get("mode", marker.args[0] if marker.args else DEFAULT_MODE)


def mode_of(request: pytest.FixtureRequest) -> str:
    """The mode of `@pytest.mark.coze(mode=...)` (or its one positional argument); `socket` without it."""
    mode = marked_mode(request.node)
    if mode not in MODES:
        pytest.fail(f"@pytest.mark.coze: unknown mode {mode!r}; choose one of {', '.join(MODES)}", pytrace=False)
    return str(mode)
