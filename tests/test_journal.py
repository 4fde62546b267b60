"""The stream journal: what it records, and what it shows about clients. The SDK lets go of a stream its
caller stopped reading, the runner and the bridge leave nothing open, and the simulator settles a
stream's state when its client goes away. Every wait is bounded."""

from __future__ import annotations

import functools
import gc
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import cozepy
import httpx
import pytest
from conftest import ECHO_BOT, WEATHER_BOT, user_message, weather_tools

from harness import sdk
from harness.bridge import create_bridge_app
from harness.local_plugin import LocalPluginRunner
from harness.tools import ToolRegistry
from simulators.coze import DEFAULT_TOKEN, Catalogue, RunningServer, SimConfig, create_app, running
from simulators.coze.faults import Faults
from simulators.coze.journal import Journal, JournalEntry, JournalMiddleware
from simulators.coze.scenarios import BUILTIN_DIR

pytestmark = pytest.mark.e2e

_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
_HEADERS = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
LONG_WORKFLOW = "7443000000000000001"
BRIDGE_WORKFLOW = "7440000000000000005"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("journal-scenarios")
    (folder / "long.yaml").write_text(
        f"""kind: workflow
id: "{LONG_WORKFLOW}"
name: long-workflow
description: says hello, then waits 30 s; a client that leaves early ends it
nodes:
  - {{kind: message, title: Hello, content: hello}}
  - {{kind: wait, title: Wait, seconds: 30}}
  - {{kind: end, output: {{output: done}}}}
""",
        encoding="utf-8",
    )
    with running(create_app(Catalogue.load(BUILTIN_DIR, folder))) as server:
        yield server


def _journal(sim: RunningServer) -> Journal:
    journal: Journal = sim.app.state.simulator.journal
    return journal


def _coze(sim: RunningServer) -> Any:
    return cozepy.Coze(
        auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=sim.base_url, http_client=httpx.Client(timeout=_TIMEOUT)
    )


def _closed(journal: Journal, entry_id: int, timeout: float = 5.0) -> JournalEntry:
    """The entry once it is closed, waiting at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        (entry,) = [e for e in journal.entries() if e.id == entry_id]
        if not entry.open or time.monotonic() >= deadline:
            return entry
        time.sleep(0.01)


def test_journal_records_a_stream_and_serves_it_off_the_api(sim: RunningServer) -> None:
    body = {
        "bot_id": ECHO_BOT,
        "user_id": "u",
        "stream": True,
        "additional_messages": [{"role": "user", "content": "hi", "content_type": "text"}],
    }
    with httpx.Client(timeout=_TIMEOUT) as client:
        answer = client.post(f"{sim.base_url}/v3/chat", json=body, headers=_HEADERS)
        refused = client.get(f"{sim.base_url}/_sim/journal")
        listed = client.get(f"{sim.base_url}/_sim/journal", headers=_HEADERS)
    assert refused.status_code == 401 and refused.json()["code"] == 4100, "the journal shows every client's traffic"
    assert listed.status_code == 200
    entries = listed.json()["entries"]
    assert not [e for e in entries if e["path"].startswith("/_sim/")], "the journal does not journal itself"
    entry = [e for e in entries if e["path"] == "/v3/chat"][-1]
    assert entry["stream"] and entry["status"] == 200 and entry["complete"] and entry["closed_by"] == "server"
    assert entry["bytes_sent"] == len(answer.content) and entry["chunks_sent"] == answer.text.count("\n\n")
    assert entry["opened_at"] <= entry["first_byte_at"] <= entry["closed_at"]
    assert entry["client"].startswith("127.0.0.1:") and entry["faults"] == []


@pytest.mark.skipif(sdk.tool_call_gap() is not None, reason=str(sdk.tool_call_gap()))
@pytest.mark.anyio
async def test_runner_leaves_no_stream_open(sim: RunningServer) -> None:
    tools = weather_tools()

    journal = _journal(sim)
    before = len(journal.entries())
    runner = LocalPluginRunner(_coze(sim), tools)
    with anyio.fail_after(30):
        result = await anyio.to_thread.run_sync(functools.partial(runner.run, WEATHER_BOT, "Paris"))
    assert result.ok
    assert journal.wait_closed(5.0) == []
    streams = [e for e in journal.entries()[before:] if e.stream]
    assert [e.path for e in streams] == ["/v3/chat", "/v3/chat/submit_tool_outputs"]
    assert all(e.closed_by == "server" and e.complete for e in streams)


@pytest.mark.skipif(not sdk.sync_stream_is_incremental(), reason="this cozepy reads a whole stream before parsing")
def test_sdk_closes_a_stream_the_caller_stopped_reading(tmp_path: Path) -> None:
    """The server stalls after two events, so only the client can end the stream. cozepy has no close():
    breaking out of the loop is not enough by itself; the connection closes when the caller lets go of the
    stream object (here: `del` and a collection), which the journal shows as closed by the client."""
    app = create_app(config=SimConfig(faults=Faults(stall={"after_events": 2, "seconds": 30})))
    with running(app) as server:
        journal = _journal(server)
        stream = _coze(server).chat.stream(bot_id=ECHO_BOT, user_id="u", additional_messages=[user_message("hi")])
        for event in stream:
            assert sdk.event_name(event) == "conversation.chat.created"
            break
        (entry,) = journal.streams()
        del stream, event
        gc.collect()
        closed = _closed(journal, entry.id)
        assert closed.closed_by == "client" and not closed.complete and closed.chunks_sent <= 2
        assert journal.open_entries() == []


@pytest.mark.anyio
async def test_bridge_and_workflow_leave_nothing_open(sim: RunningServer) -> None:
    tools = ToolRegistry()

    @tools.tool
    def lookup(city: str = "Paris") -> str:
        return f"found {city}"

    bridge_journal = Journal()
    bridge = JournalMiddleware(create_bridge_app(tools, insecure_no_auth=True), bridge_journal)
    with running(bridge) as served:  # type: ignore[arg-type]
        coze = _coze(sim)

        def run() -> list[str]:
            stream = coze.workflows.runs.stream(
                workflow_id=BRIDGE_WORKFLOW,
                parameters={"url": f"{served.base_url}/tools/lookup", "arguments": {"city": "Oslo"}},
            )
            return [sdk.event_name(event) for event in stream]

        with anyio.fail_after(30):
            names = await anyio.to_thread.run_sync(run)
        assert "Message" in names and "Error" not in names, names
        assert bridge_journal.wait_closed(5.0) == []
    (call,) = bridge_journal.entries()
    assert call.path == "/tools/lookup" and call.status == 200 and call.closed_by == "server" and call.complete
    assert _journal(sim).wait_closed(5.0) == []


def test_simulator_settles_a_stream_whose_client_went_away(sim: RunningServer) -> None:
    journal = _journal(sim)
    body = {"workflow_id": LONG_WORKFLOW}
    with httpx.Client(timeout=_TIMEOUT) as client:
        with client.stream("POST", f"{sim.base_url}/v1/workflow/stream_run", json=body, headers=_HEADERS) as answer:
            received = b""
            for chunk in answer.iter_raw():
                received += chunk
                if b"\n\n" in received:
                    break  # the first event is here; the run now waits 30 s: leave
        entry = [e for e in journal.streams() if e.path == "/v1/workflow/stream_run"][-1]
    closed = _closed(journal, entry.id)
    assert closed.closed_by == "client" and not closed.complete
    executions = [e for e in sim.app.state.simulator.store.executions.values() if e.workflow_id == LONG_WORKFLOW]
    execution = executions[-1]
    deadline = time.monotonic() + 5.0
    while execution.status == "Running" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert execution.status == "Fail" and execution.error[0] == 5000 and "client closed" in execution.error[1]
    assert journal.wait_closed(5.0) == []
