"""Shared fixtures: a simulator on a loopback socket and real cozepy clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cozepy
import pytest

from harness.tools import ToolRegistry
from harness.trust import trusting
from simulators.coze import DEFAULT_TOKEN, LocalTls, RunningServer, create_app, local_tls, running

WEATHER_BOT = "7390000000000000002"
ECHO_BOT = "7390000000000000001"
RESEARCH_BOT = "7390000000000000003"
FAILING_BOT = "7390000000000000004"


@pytest.fixture(autouse=True)
def _cozepy_free_builds_no_client(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test marked `cozepy_free` runs in one cozepy release's env only (tox.ini): building a cozepy client
    in it would mean its result depends on the release after all, so that fails the test."""
    if request.node.get_closest_marker("cozepy_free") is None:
        return
    for name in ("Coze", "AsyncCoze"):
        client = getattr(cozepy, name, None)
        if client is not None:

            def refuse(*_: Any, _name: str = name, **__: Any) -> None:
                raise AssertionError(f"a test marked cozepy_free built a cozepy.{_name}: remove the marker")

            monkeypatch.setattr(client, "__init__", refuse)


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningServer]:
    """The built-in catalogue on 127.0.0.1 and an ephemeral port, stopped when the module ends."""
    with running(create_app()) as server:
        yield server


@pytest.fixture(scope="module")
def tls() -> Iterator[LocalTls]:
    """A throwaway certificate authority for loopback (websocket chat is wss only), removed afterwards."""
    with local_tls() as files:
        yield files


@pytest.fixture(scope="module")
def wss(tls: LocalTls) -> Iterator[RunningServer]:
    """The built-in catalogue over TLS (https and wss), stopped when the module ends."""
    with running(create_app(), tls=tls) as server:
        yield server


@pytest.fixture
def coze(sim: RunningServer) -> cozepy.Coze:
    return cozepy.Coze(auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=sim.base_url)


@pytest.fixture
def without_required_action(monkeypatch: pytest.MonkeyPatch) -> None:
    """Break the simulator the way the gates must catch: requires_action events lose their tool calls."""
    from simulators.coze import wire
    from simulators.coze.profiles import Profile
    from simulators.coze.store import ChatRecord

    chat = wire.chat

    def stripped(record: ChatRecord, profile: Profile) -> dict[str, object]:
        body = chat(record, profile)
        body.pop("required_action", None)
        return body

    monkeypatch.setattr(wire, "chat", stripped)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def weather_tools() -> ToolRegistry:
    """The two tools weather-bot calls in one round, answering with text that names their arguments."""
    tools = ToolRegistry()

    @tools.tool
    def get_weather(city: str, unit: str = "celsius") -> str:
        return f"20 degrees {unit} in {city}"

    @tools.tool
    def get_time(timezone: str) -> str:
        return f"noon in {timezone}"

    return tools


def user_message(text: str) -> cozepy.Message:
    """A user question, built the same way on every cozepy release (the helper names changed)."""
    return cozepy.Message(role="user", type="question", content=text, content_type="text")


def scenario_copy(source: str, scenario_id: str, name: str, tail: str) -> str:
    """A scenario file's text under another id and name, with `tail` (more top-level YAML) appended."""
    lines = []
    for line in source.splitlines():
        if line.startswith("id:"):
            line = f'id: "{scenario_id}"'
        elif line.startswith("name:"):
            line = f"name: {name}"
        lines.append(line)
    return "\n".join(lines) + "\n" + tail


def with_faults(source: str, scenario_id: str, name: str, block: str) -> str:
    """A scenario copy with a one-line `faults:` block (e.g. `reset_after_events: 3`)."""
    return scenario_copy(source, scenario_id, name, f"faults:\n  {block}\n")


@contextmanager
def wss_clients(base_url: str, ca_file: Path) -> Iterator[tuple[Any, Any]]:
    """A sync and an async cozepy client for a TLS simulator, trusting its throwaway authority meanwhile."""
    with trusting(ca_file):
        auth_class = getattr(cozepy, "AsyncTokenAuth", cozepy.TokenAuth)
        yield (
            cozepy.Coze(auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=base_url),
            cozepy.AsyncCoze(auth=auth_class(DEFAULT_TOKEN), base_url=base_url),
        )
