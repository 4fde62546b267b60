"""Property tests with the public strategies of `harness.strategies`, against the simulator in process.

(a) Any generated local-plugin bot (many calls, many rounds, Unicode and large arguments and outputs)
    round-trips through the real `LocalPluginRunner`: every tool gets exactly its arguments, and the
    simulator receives every output intact (the submitted bodies, and the answer quoting them).
(b) Any generated chat or workflow event sequence the simulator emits parses to the same events in
    cozepy and in a WHATWG-conformant SSE parser (written here, so it does not depend on a library's
    version), and those events include the ones the sequence says the simulator must send.
(c) Any generated scenario file, written as YAML or JSON, loads as the same scenario.

Plus one pinned finding: U+0085 inside a data line (sent raw, as Go's JSON encoder does; U+2028 and
U+2029 are escaped like Go) is not an SSE line end, but cozepy over httpx (0.24 to 0.28) splits there.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cozepy
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from pydantic import BaseModel, ConfigDict

from harness import sdk
from harness.inprocess import InProcessTransport, coze_over
from harness.local_plugin import LocalPluginRunner
from harness.recorder import RecordingTransport
from harness.sdk import enum_value, event_name
from harness.strategies import (
    LINE_SEPARATORS,
    EventSequence,
    LocalPluginCase,
    chat_event_sequences,
    local_plugin_cases,
    scenario_files,
    workflow_event_sequences,
)
from harness.tools import LocalTool, ToolRegistry
from simulators.coze import BotScenario, Catalogue, SimConfig, WorkflowScenario, create_app
from simulators.coze.scenarios import load_file

PROPERTY = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CALL_MARK = "coze-harness-call"
"""An argument the test adds to every generated call, so a tool knows which call it is answering."""


@contextmanager
def simulated(scenario: dict[str, Any]) -> Iterator[tuple[Any, RecordingTransport]]:
    """A cozepy client on a simulator serving only `scenario`, in process, with every byte recorded."""
    if scenario["kind"] == "bot":
        catalogue = Catalogue(bots={scenario["id"]: BotScenario.model_validate(scenario)})
    else:
        catalogue = Catalogue(workflows={scenario["id"]: WorkflowScenario.model_validate(scenario)})
    inner = InProcessTransport(create_app(catalogue, SimConfig(seed=3)))
    recorder = RecordingTransport(inner, wire=True)
    try:
        yield coze_over(recorder), recorder
    finally:
        inner.close()


def _message(text: str) -> Any:
    return cozepy.Message(role="user", type="question", content=text, content_type="text")


# --- (a) local plugin round trip ------------------------------------------------------------------


class _AnyArguments(BaseModel):
    model_config = ConfigDict(extra="allow")


def _with_marks(case: LocalPluginCase) -> dict[str, Any]:
    scenario = json.loads(json.dumps(case.scenario))
    for round_ in scenario["rounds"]:
        for call in round_["tool_calls"]:
            call["arguments"][CALL_MARK] = call["key"]
    return scenario


def _registry(case: LocalPluginCase, received: dict[str, dict[str, Any]]) -> ToolRegistry:
    registry = ToolRegistry()
    for name in {call["name"] for call in case.calls}:

        def answer(arguments: _AnyArguments) -> str:
            extra = dict(arguments.model_extra or {})
            key = extra[CALL_MARK]
            received[key] = extra
            return case.outputs[key]

        registry.add(LocalTool(answer, name=name, args=_AnyArguments))
    return registry


def _submitted(recorder: RecordingTransport) -> dict[str, str]:
    """call id -> output, from every submit_tool_outputs body the simulator received."""
    outputs: dict[str, str] = {}
    for exchange in recorder.exchanges:
        if "/v3/chat/submit_tool_outputs" in exchange.url and exchange.wire is not None:
            for item in json.loads(exchange.wire.request_content)["tool_outputs"]:
                outputs[item["tool_call_id"]] = item["output"]
    return outputs


@pytest.mark.skipif(sdk.tool_call_gap() is not None, reason=str(sdk.tool_call_gap()))
@PROPERTY
@given(case=local_plugin_cases())
def test_any_local_plugin_scenario_round_trips_with_outputs_intact(case: LocalPluginCase) -> None:
    scenario = _with_marks(case)
    received: dict[str, dict[str, Any]] = {}
    with simulated(scenario) as (coze, recorder):
        result = LocalPluginRunner(coze, _registry(case, received)).run(case.bot_id, case.user)
    assert result.status == "completed", result
    assert result.rounds == len(scenario["rounds"])
    calls = [call for round_ in scenario["rounds"] for call in round_["tool_calls"]]
    assert {key: args for key, args in received.items()} == {call["key"]: call["arguments"] for call in calls}
    assert [record.output for record in result.tool_calls] == [case.outputs[call["key"]] for call in calls]
    by_call_id = _submitted(recorder)
    assert sorted(by_call_id.values()) == sorted(case.outputs.values())
    assert [by_call_id[record.call_id] for record in result.tool_calls] == [
        record.output for record in result.tool_calls
    ]
    assert result.answer == case.expected_answer()


# --- (b) two parsers, one stream ------------------------------------------------------------------

_LINE_END = re.compile(r"\r\n|\r|\n")


def spec_events(raw: bytes) -> list[tuple[str, str]]:
    """Server-sent events as the WHATWG HTML standard parses them: (type, data).

    Lines end only at CRLF, CR or LF; `:` lines are comments; one space after the colon is dropped;
    `data` lines join with LF; a blank line dispatches (nothing, if no data); an unfinished event at
    the end of the stream is discarded.
    """
    text = raw.decode("utf-8")
    text = text.removeprefix("\ufeff")
    lines = _LINE_END.split(text)
    events: list[tuple[str, str]] = []
    name, data = "", []
    for line in lines[:-1]:  # the last piece follows the last line end: never a whole line
        if not line:
            if data:
                events.append((name or "message", "\n".join(data)))
            name, data = "", []
            continue
        if line.startswith(":"):
            continue
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    return events


def _fields(kind: str, name: str, data: dict[str, Any]) -> dict[str, Any]:
    """What both sides are compared on, from the data of an event."""
    if kind == "chat":
        if name.startswith("conversation.chat."):
            return {"status": data.get("status")}
        return {"content": data.get("content")}
    if name == "Message":
        return {"content": data.get("content"), "node_seq_id": data.get("node_seq_id")}
    if name == "Error":
        return {"error_code": data.get("error_code"), "error_message": data.get("error_message")}
    return {}


def _cozepy_fields(kind: str, event: Any) -> tuple[str, dict[str, Any]]:
    name = event_name(event)
    if kind == "chat":
        if name.startswith("conversation.chat."):
            return name, {"status": enum_value(event.chat.status)}
        return name, {"content": event.message.content}
    if name == "Message":
        return name, {"content": event.message.content, "node_seq_id": event.message.node_seq_id}
    if name == "Error":
        return name, {"error_code": event.error.error_code, "error_message": event.error.error_message}
    return name, {}


def _stream(sequence: EventSequence) -> tuple[list[Any], bytes]:
    """Run the sequence's scenario with cozepy; (its events, the raw bytes of the stream)."""
    with simulated(sequence.scenario) as (coze, recorder):
        if sequence.kind == "chat":
            events = list(
                coze.chat.stream(
                    bot_id=sequence.scenario["id"], user_id="u", additional_messages=[_message(sequence.user)]
                )
            )
        else:
            events = list(coze.workflows.runs.stream(workflow_id=sequence.scenario["id"]))
    (exchange,) = recorder.exchanges
    assert exchange.wire is not None
    return events, b"".join(piece for _, piece in exchange.wire.chunks)


def _is_subsequence(wanted: list[Any], seen: list[Any]) -> bool:
    remaining = iter(seen)
    return all(any(item == other for other in remaining) for item in wanted)


def _check_parsers_agree(sequence: EventSequence) -> None:
    events, raw = _stream(sequence)
    done = ("done", "Done")
    by_spec = [
        (name, _fields(sequence.kind, name, json.loads(data))) for name, data in spec_events(raw) if name not in done
    ]
    by_cozepy = [_cozepy_fields(sequence.kind, event) for event in events if event_name(event) not in done]
    assert by_cozepy == by_spec
    wanted = [(name, _fields(sequence.kind, name, data)) for name, data in sequence.expected if name not in done]
    assert _is_subsequence(wanted, by_spec), (wanted, by_spec)
    if any(name in done for name, _ in sequence.expected):
        assert spec_events(raw)[-1][0] in done


@PROPERTY
@given(sequence=chat_event_sequences())
def test_any_chat_stream_parses_the_same_in_cozepy_and_a_spec_parser(sequence: EventSequence) -> None:
    _check_parsers_agree(sequence)


@PROPERTY
@given(sequence=workflow_event_sequences())
def test_any_workflow_stream_parses_the_same_in_cozepy_and_a_spec_parser(sequence: EventSequence) -> None:
    _check_parsers_agree(sequence)


@pytest.mark.parametrize("separator", list(LINE_SEPARATORS), ids=["U+0085", "U+2028", "U+2029"])
def test_unicode_line_separators_inside_data_are_not_line_ends(separator: str) -> None:
    """The spec parser reads them as text; cozepy may not (httpx's iter_lines splits at them)."""
    sequence = EventSequence(
        kind="chat",
        scenario={
            "kind": "bot",
            "id": "7391234567890123456",
            "name": "separators",
            "description": "an answer with a Unicode line separator inside",
            "answer": f"before{separator}after",
            "chunk_size": 64,
        },
        user="hi",
    )
    with simulated(sequence.scenario) as (coze, recorder):
        try:
            list(coze.chat.stream(bot_id="7391234567890123456", user_id="u", additional_messages=[_message("hi")]))
            error: Exception | None = None
        except Exception as exc:  # the finding, when the installed httpx splits lines there
            error = exc
    raw = b"".join(piece for _, piece in recorder.exchanges[0].wire.chunks)  # type: ignore[union-attr]
    deltas = [json.loads(data)["content"] for name, data in spec_events(raw) if name == "conversation.message.delta"]
    assert "".join(deltas) == f"before{separator}after"
    if error is not None:
        pytest.xfail(
            f"cozepy {sdk.version()} cannot read a data line holding {separator!r}: {type(error).__name__} "
            "(httpx iter_lines ends lines where str.splitlines does; SSE ends them only at CR and LF)"
        )
    _check_parsers_agree(sequence)


# --- (c) scenario files ---------------------------------------------------------------------------


@PROPERTY
@given(scenario=scenario_files())
def test_any_generated_scenario_file_loads_as_written(scenario: dict[str, Any]) -> None:
    model = BotScenario if scenario["kind"] == "bot" else WorkflowScenario
    expected = model.model_validate(scenario)
    with tempfile.TemporaryDirectory() as folder:
        as_yaml = Path(folder) / "scenario.yaml"
        as_yaml.write_text(yaml.safe_dump(scenario, allow_unicode=True), encoding="utf-8")
        as_json = Path(folder) / "scenario.json"
        as_json.write_text(json.dumps(scenario, ensure_ascii=False), encoding="utf-8")
        assert load_file(as_yaml) == expected
        assert load_file(as_json) == expected
