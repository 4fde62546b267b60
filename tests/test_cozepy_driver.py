"""The cozepy driver: the installed cozepy behind the driver protocol, run in this process.

The cozepy report comes from it (`coze-harness report`): the probes see only what it observed and what the
simulator's side recorded, through the same judges that read @coze/api's runs. Before the report switched to
it, its verdicts were checked against the probes that held cozepy's objects in hand: the same in every cell
of every column, on both platforms, for all 29 releases; the compat gate keeps them so.
"""

from __future__ import annotations

import json

import pytest

from harness import sdk
from harness.cli import main
from harness.drivers import FlowRequest
from harness.drivers.cozepy import CozepyDriver
from harness.matrix import Mode
from simulators.coze import DEFAULT_TOKEN, Catalogue, SimConfig, create_app, running

MODES = [mode.value for mode in Mode]  # every capability column
IDS = {entry["name"]: entry["id"] for entry in Catalogue.builtin().entries()}


def test_a_flow_returns_what_cozepy_did() -> None:
    with running(create_app(Catalogue.builtin(), SimConfig())) as sim, CozepyDriver() as driver:
        base = {"base_url": sim.base_url, "token": DEFAULT_TOKEN}
        answered = []
        seen = driver.run(
            FlowRequest(flow="chat-stream", bot_id=IDS["weather-bot"], **base),
            tools=lambda call: answered.append(call.name) or f"{call.name} ran locally",
        )
        assert seen.sdk == "cozepy" and seen.sdk_version == sdk.version()
        assert seen.fields == {"Chat.required_action": sdk.chat_has_required_action()}
        if sdk.tool_call_gap() is None:
            assert not seen.errors
            assert [c.method for c in seen.calls] == ["chat.stream", "chat.submitToolOutputs"]
            assert answered == ["get_weather", "get_time"] and "get_weather ran locally" in seen.answer
            assert seen.event_names(0)[-1] in ("conversation.chat.requires_action", "done")
        else:  # this cozepy cannot hand a tool call over (tool_call_gap): local code is never asked
            assert answered == [] and seen.errors, sdk.tool_call_gap()


def test_drive_runs_cozepy_over_the_websocket(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["drive", "--sdk", "cozepy", "--flow", "websocket-chat", "--json"])
    observation = json.loads(capsys.readouterr().out)
    if sdk.websocket_chat_gap() is None:
        assert code == 0 and observation["result"]["status"] == "completed"
        assert [[call["name"] for call in calls] for calls in observation["tool_rounds"]] == [
            ["get_weather", "get_time"]
        ]
        assert "conversation.chat.requires_action" in [event["name"] for event in observation["events"]]
    else:  # no websocket chat, or one that starts only with audio: said, not run
        assert code == 0 and "absent" in observation["result"], sdk.websocket_chat_gap()


def test_drive_runs_cozepy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drive", "--sdk", "cozepy", "--flow", "workflow-stream", "--json"]) == 0
    observation = json.loads(capsys.readouterr().out)
    assert observation["sdk"] == "cozepy" and observation["calls"][0]["method"] == "workflows.runs.stream"
    assert main(["drive", "--sdk", "cozepy@0.1.0", "--flow", "chat-stream"]) == 2
    assert "drive runs the cozepy installed here" in capsys.readouterr().err


def test_a_websocket_close_that_hangs_is_kept_beside_the_verdict() -> None:
    """The closes are waited for after the probes (`Driver.settle`); one that hung does not change the verdict,
    it is added to the local-code cell's reason and to its evidence."""
    from harness.matrix import Capability, Cell, Evidence, Matrix, Verdict
    from harness.probes.websocket import note_close_hangs

    matrix = Matrix(sdk_version="0.15.0", platforms=["cloud"])
    evidence = Evidence(id="websocket-chat", probe="websocket-chat", summary="three chats")
    cell = Cell(
        capability=Capability.LOCAL_CODE,
        mode=Mode.WEBSOCKET_CHAT,
        verdict=Verdict.SUPPORTED,
        reason="the chats completed.",
        evidence=["websocket-chat"],
    )
    matrix.add([cell], [evidence])
    note_close_hangs(matrix, "cloud", [])
    assert matrix.evidence["websocket-chat"].error is None
    note_close_hangs(matrix, "cloud", ["CloseTimeout: close() did not return"])
    judged = matrix.cell(Capability.LOCAL_CODE, Mode.WEBSOCKET_CHAT)
    assert judged is not None and judged.verdict is Verdict.SUPPORTED
    assert judged.reason == "the chats completed. But the SDK's close() hangs: CloseTimeout: close() did not return"
    assert matrix.evidence["websocket-chat"].error == "CloseTimeout: close() did not return"
