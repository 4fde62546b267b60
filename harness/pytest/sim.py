"""The simulator behind `coze_sim`: one app per distinct setup, kept for the session and reset before each test.

Building an app and starting a server for every test, then waiting for the server to stop, cost about a
quarter of a second per test. Here a `SimHost` is made the first time a test needs a given setup (its
scenario folders, their files as they are on disk, and its `SimConfig`), and every later test with the
same setup gets that app again, reset through the admin API (`POST /_sim/reset`: a fresh store,
journal, request log, seeded ids, clock and catalogue), so isolation stays per test. The reset is sent
without waiting (`InProcessTransport.send_nowait`: the transport's next request starts once it is answered),
which leaves the hop to the app's thread and back out of every test. The loopback server is started the first
time a test asks for `base_url` (in-process mode never does), on the in-process transport's event loop and
behind its `after_sent`, so a request over the socket also starts once the reset is answered, and the same
thread runs the app for both; it is stopped at the end of the session. Only `CozeSim.app` and the admin calls
wait for the reset in the test's thread (`SimHost.settle`). The plugin reaches the app only over HTTP: the admin
calls go through the in-process transport, the tests' clients through the socket or that transport.

`CozeSim` is what `coze_sim` gives a test: `base_url`, `app`, `token`, and helpers over the admin API to
verify what the code under test sent (`requests`, `tool_outputs`, `assert_tool_outputs`,
`assert_no_requests`) and to define scenarios inline (`add_bot`, `add_workflow`, `add_scenario`).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from harness.transports.inprocess import InProcessTransport
    from simulators.coze import RunningServer, SimConfig

__all__ = ["ADMIN_BASE_URL", "SUBMIT_PATH", "CozeSim", "SimHost", "SimHosts", "SimulatorAdminError"]

ADMIN_BASE_URL = "http://admin.coze-simulator.invalid"
RESET_SECONDS = 30.0
"""The longest wait for a reset's answer."""
SUBMIT_PATH = "/v3/chat/submit_tool_outputs"


class SimulatorAdminError(RuntimeError):
    """The simulator refused an admin call (an invalid scenario, say); the message is the simulator's."""


class SimHost:
    """One simulator app for the session: its admin client, and its loopback server once one is asked for."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token
        self._admin: httpx.Client | None = None
        self._transport: InProcessTransport | None = None
        self._reset: concurrent.futures.Future[tuple[int, bytes]] | None = None  # sent, not yet waited for
        self._reset_sent: httpx.Request | None = None
        self._socket_transport: httpx.BaseTransport | None = None
        self._serving: AbstractContextManager[RunningServer] | None = None
        self._server: RunningServer | None = None

    @property
    def transport(self) -> httpx.BaseTransport:
        """The session's in-process transport to the app (one event loop thread, started once), lent to
        every in-process client: closing a client leaves it open; `close()` stops it. Its requests start
        after the last reset has been answered, so it needs no `settle()`."""
        from ._lent import LentTransport

        return LentTransport(self._inprocess())

    def _inprocess(self) -> InProcessTransport:
        if self._transport is None:
            from harness.transports.inprocess import InProcessTransport

            self._transport = InProcessTransport(self.app)
        return self._transport

    def socket_transport(self) -> httpx.BaseTransport:
        """httpx's socket transport for the session's socket-mode clients, lent (one SSL context, connections
        kept between tests). Call `settle_socket_transport()` when the borrowing client is done."""
        from ._lent import LentTransport

        if self._socket_transport is None:
            from harness.recorder import default_transport

            self._socket_transport = default_transport()
        return LentTransport(self._socket_transport)

    def settle_socket_transport(self) -> None:
        """After a test: if a connection of the pool is still busy (early cozepy releases leave a read stream
        open, which would hold it for ever and, a hundred tests later, exhaust the pool), close the pool and
        start the next test with a new one; idle connections are kept."""
        from ._lent import all_idle

        transport = self._socket_transport
        if transport is not None and not all_idle(transport):
            self._socket_transport = None
            transport.close()

    @property
    def admin(self) -> httpx.Client:
        self.settle()  # its requests would wait for the reset anyway; a refused one is raised here
        if self._admin is None:
            import httpx

            self._admin = httpx.Client(
                transport=self.transport,
                base_url=ADMIN_BASE_URL,
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=httpx.Timeout(30.0),
            )
        return self._admin

    @property
    def base_url(self) -> str:
        """The loopback server's URL, started on first use and kept for the session. Its requests start once the
        last reset has been answered (the server lets them in then), so it needs no `settle()`."""
        if self._server is None:
            from simulators.coze import running

            # On the in-process transport's loop: no hop from the test's thread to wait for the reset before a
            # request over the socket, nor a second thread running the app beside the transport's
            transport = self._inprocess()
            serving = running(transport.after_sent(self.app), loop=transport.loop)  # type: ignore[arg-type]
            self._server = serving.__enter__()
            self._serving = serving
        return self._server.base_url

    def call(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        """An admin call; its `data`, or SimulatorAdminError with the simulator's message."""
        response = self.admin.request(method, path, json=body, params=params)
        try:
            envelope = response.json()
        except ValueError:
            envelope = {"code": response.status_code, "msg": response.text[:500]}
        if response.status_code != 200 or envelope.get("code") != 0:
            raise SimulatorAdminError(f"{method} {path}: {envelope.get('msg') or response.status_code}")
        return envelope.get("data")

    def reset(self) -> None:
        """`POST /_sim/reset`, sent to the in-process transport without waiting (`send_nowait`; made before
        every test, so the hop to the app's thread and back is left out): the transport's next request starts
        after it, and so does one over the socket (the server is behind the transport's `after_sent`); what
        reaches the app object, and the admin calls, wait for it first (`settle`). The previous reset's outcome
        is checked first."""
        self.settle()
        self._reset = self._inprocess().send_nowait(self._reset_request())

    def _reset_request(self) -> httpx.Request:
        """The reset, built once: it is the same request before every test, and the transport only reads it."""
        if self._reset_sent is None:
            import httpx

            self._reset_sent = httpx.Request(
                "POST",
                f"{ADMIN_BASE_URL}/_sim/reset",
                headers={"Authorization": f"Bearer {self.token}", "Content-Length": "0"},
                extensions={"timeout": dict.fromkeys(("connect", "read", "write", "pool"), RESET_SECONDS)},
            )
        return self._reset_sent

    def settle(self) -> None:
        """Wait for the reset sent last (at most RESET_SECONDS); SimulatorAdminError if it was refused or broke.
        Safe from several threads at once (a test's threads making admin calls): the reset is let go only once
        answered, so no thread goes ahead of it while another waits."""
        sent = self._reset
        if sent is None:
            return
        try:
            status, body = sent.result(RESET_SECONDS)
        except concurrent.futures.TimeoutError:
            sent.cancel()
            raise SimulatorAdminError(f"POST /_sim/reset: no answer within {RESET_SECONDS:g} s") from None
        except Exception as exc:
            raise SimulatorAdminError(f"POST /_sim/reset: {type(exc).__name__}: {exc}") from exc
        finally:
            if sent.done() and self._reset is sent:
                self._reset = None
        if status != 200 or b'"code":0' not in body:
            raise SimulatorAdminError(f"POST /_sim/reset: {body[:500].decode('utf-8', 'replace')}")

    def close(self) -> None:
        with contextlib.suppress(SimulatorAdminError):  # the session is ending; the test that met it has reported it
            self.settle()
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if self._socket_transport is not None:  # first: a stream left open would hold the server's stop
            self._socket_transport.close()
            self._socket_transport = None
        serving, self._serving, self._server = self._serving, None, None
        if serving is not None:  # before the in-process transport: it serves on that transport's loop
            serving.__exit__(None, None, None)
        if self._transport is not None:
            self._transport.close()
            self._transport = None


def _files_of(folders: list[Path]) -> tuple[Any, ...]:
    """What decides a catalogue: each folder's scenario files with their size and time of change, so a
    scenario file edited or added during the session gets a new app. (`os.scandir`: this runs before
    every test, and listing with it costs half of `Path.iterdir` and `Path.stat`.)"""
    seen: list[Any] = []
    for folder in folders:
        try:
            with os.scandir(folder) as listing:
                entries = sorted((entry for entry in listing if entry.name.endswith(_SCENARIO_SUFFIXES)), key=_name)
        except OSError:
            seen.append((str(folder), None))
            continue
        for entry in entries:
            try:
                stat = entry.stat()
            except OSError:
                continue
            seen.append((entry.path, stat.st_size, stat.st_mtime_ns))
    return tuple(seen)


_SCENARIO_SUFFIXES = (".yaml", ".yml", ".json")


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name


class SimHosts:
    """The session's hosts, by setup; all closed at the end of the session."""

    def __init__(self) -> None:
        self._hosts: dict[tuple[Any, ...], SimHost] = {}

    def get(self, folders: list[Path], config: SimConfig | None, token: str) -> SimHost:
        """The host for this setup, reset; a new one (loading the catalogue) the first time."""
        from simulators.coze import Catalogue, create_app

        key = (_files_of(folders), config.model_dump_json() if config is not None else None)
        host = self._hosts.get(key)
        if host is None:
            app = create_app(Catalogue.load(*folders), config)  # ScenarioFileError for the caller to report
            host = self._hosts[key] = SimHost(app, token)
        else:
            host.reset()
        return host

    def close(self) -> None:
        hosts, self._hosts = list(self._hosts.values()), {}
        for host in hosts:
            host.close()


class CozeSim:
    """The simulator of one test (what `coze_sim` gives): fresh, seeded state, and the admin API's helpers."""

    def __init__(self, host: SimHost) -> None:
        self._host = host

    @property
    def app(self) -> Any:
        """The simulator's ASGI app (for the in-process transport), its reset applied."""
        self._host.settle()
        return self._host.app

    @property
    def token(self) -> str:
        """A token the simulator accepts (the first of the marker's `SimConfig`, else the default one)."""
        return self._host.token

    @property
    def base_url(self) -> str:
        """Where the simulator listens on 127.0.0.1 (started on first use, kept for the session)."""
        return self._host.base_url

    @property
    def socket_transport(self) -> httpx.BaseTransport:
        """httpx's socket transport, for clients of `base_url` (connections kept between tests)."""
        return self._host.socket_transport()

    @property
    def transport(self) -> httpx.BaseTransport:
        """An httpx transport to the simulator with no socket (`harness.transports.inprocess`, kept for the session;
        closing a client over it leaves it open)."""
        return self._host.transport

    def socket_client_done(self) -> None:
        """For the plugin: a socket-mode client of this test is closed (see `SimHost.settle_socket_transport`)."""
        self._host.settle_socket_transport()

    # --- verification -----------------------------------------------------------------------------

    def requests(self, method: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        """The requests the simulator received in this test, oldest first (`GET /_sim/requests`): each a dict
        with `method`, `path`, `query`, `headers` (credentials redacted), `body` (text), `body_read`."""
        params = {key: value for key, value in (("method", method), ("path", path)) if value}
        data = self._host.call("GET", "/_sim/requests", params=params)
        found: list[dict[str, Any]] = data["requests"]
        return found

    def json_bodies(self, method: str | None = None, path: str | None = None) -> list[Any]:
        """The JSON bodies of the requests received (`requests`), decoded; None for a body that is not JSON."""
        bodies = []
        for entry in self.requests(method, path):
            try:
                bodies.append(json.loads(entry["body"]) if entry.get("body") else None)
            except ValueError:
                bodies.append(None)
        return bodies

    def tool_outputs(self) -> list[list[dict[str, Any]]]:
        """The `tool_outputs` of every `submit_tool_outputs` request received, in order: one list of
        `{"tool_call_id": ..., "output": ...}` per request."""
        return [
            list(body.get("tool_outputs") or []) if isinstance(body, dict) else []
            for body in self.json_bodies("POST", SUBMIT_PATH)
        ]

    def assert_tool_outputs(self, *outputs: str, tool_call_ids: list[str] | None = None) -> None:
        """Assert that one `submit_tool_outputs` request carried exactly these outputs, in this order (and,
        given `tool_call_ids`, for these calls)."""
        sent = self.tool_outputs()
        for carried in sent:
            if [item.get("output") for item in carried] == list(outputs) and (
                tool_call_ids is None or [item.get("tool_call_id") for item in carried] == tool_call_ids
            ):
                return
        if not sent:
            raise AssertionError(f"no submit_tool_outputs request was received; expected one carrying {list(outputs)}")
        shown = "\n".join(f"  {index}: {carried}" for index, carried in enumerate(sent))
        raise AssertionError(
            f"no submit_tool_outputs request carried {list(outputs)}"
            + (f" for {tool_call_ids}" if tool_call_ids is not None else "")
            + f"; the {len(sent)} received carried:\n{shown}"
        )

    def assert_no_requests(self, method: str | None = None, path: str | None = None) -> None:
        """Assert that the simulator received no request (none with this method and path, given them)."""
        received = self.requests(method, path)
        if received:
            shown = "\n".join(f"  {entry['method']} {entry['path']}" for entry in received[:20])
            what = " ".join(part for part in (method, path) if part) or "request"
            raise AssertionError(f"expected no {what}; the simulator received {len(received)}:\n{shown}")

    def journal(self) -> list[dict[str, Any]]:
        """The stream journal's entries (`GET /_sim/journal`): each response's timing, size and who closed it."""
        response = self._host.admin.get("/_sim/journal")
        response.raise_for_status()
        entries: list[dict[str, Any]] = response.json()["entries"]
        return entries

    # --- scenarios at runtime ---------------------------------------------------------------------

    def add_scenario(self, scenario: dict[str, Any]) -> str:
        """Serve `scenario` (the mapping a scenario file holds, with its `kind`) for the rest of the test; its
        id. An invalid one raises SimulatorAdminError naming the problem."""
        data = self._host.call("POST", "/_sim/scenarios", body=scenario)
        scenario_id: str = data["id"]
        return scenario_id

    def add_bot(self, id: str, name: str = "inline-bot", description: str = "defined in a test", **fields: Any) -> str:
        """A bot scenario defined inline (`answer=`, `rounds=`, `tools=`... as in a scenario file); its id."""
        return self.add_scenario({"kind": "bot", "id": id, "name": name, "description": description, **fields})

    def add_workflow(
        self, id: str, name: str = "inline-workflow", description: str = "defined in a test", **fields: Any
    ) -> str:
        """A workflow scenario defined inline (`nodes=`... as in a scenario file); its id."""
        return self.add_scenario({"kind": "workflow", "id": id, "name": name, "description": description, **fields})

    def reset(self) -> None:
        """Start again within the test: the state as at the test's start (done for you before each test)."""
        self._host.reset()

    def settle(self) -> None:
        """Wait until the last reset is applied; SimulatorAdminError if the simulator refused it. Done for you
        wherever it matters (the plugin calls it after each test, so a refused reset fails that test)."""
        self._host.settle()


def iter_hosts(hosts: SimHosts) -> Iterator[SimHosts]:
    """The session fixture's body: the hosts, closed when the session ends."""
    try:
        yield hosts
    finally:
        hosts.close()
