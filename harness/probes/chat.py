"""Probes of bot chat: the local-plugin loop, streamed and polled, with the real cozepy client."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from simulators.coze import DEFAULT_PLATFORM

from .. import sdk
from ..judges import cells_for, judge_chat, platform_without_tool_path
from ..judges._cells import CHAT_IDS, offers_tool_calls
from ..matrix import Capability, Evidence, Mode, Verdict
from ..recorder import Exchange
from ..sdk import enum_value, event_name
from ..tools import ToolRegistry
from . import demo_tools
from ._base import ProbeContext, ProbeResult, check_streams, describe_error
from .surface import chat_facts

REQUIRES_ACTION = "conversation.chat.requires_action"
COMPLETED = "conversation.chat.completed"
_MAX_ROUNDS = 5
_POLL_LIMIT_SECONDS = 20.0


class _Run:
    """One chat driven to its end, and everything observed on the way."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.rounds: list[list[str]] = []
        self.outputs: list[str] = []
        self.answer = ""
        self.status = ""
        self.error: str | None = None
        self.close_error: str | None = None  # the flow ran but the client could not be closed
        self.stage = "start"
        self.conversation_id = ""
        self.chat_id = ""

    def saw(self, chat: Any) -> None:
        """Keep the ids of the chat, from any event or poll that carries it."""
        if chat is not None:
            self.conversation_id, self.chat_id = str(chat.conversation_id), str(chat.id)

    @property
    def saw_tool_event(self) -> bool:
        return REQUIRES_ACTION in self.events

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    def quotes_outputs(self) -> bool:
        return self.completed and bool(self.outputs) and all(output in self.answer for output in self.outputs)


def _answer_of(messages: list[Any]) -> str:
    return "".join(m.content for m in messages if enum_value(m.type) == "answer")


def _tool_calls(chat: Any) -> list[Any]:
    action = getattr(chat, "required_action", None)
    if action is None or action.submit_tool_outputs is None:
        raise LookupError("the Chat of the requires_action event carries no required_action.submit_tool_outputs")
    return list(action.submit_tool_outputs.tool_calls)


def _dispatch(registry: ToolRegistry, calls: list[Any], run: _Run) -> list[Any]:
    import cozepy

    outputs = []
    names = []
    for call in calls:
        if call.function is None:
            raise LookupError(f"tool call {call.id} has no function (name and arguments)")
        names.append(call.function.name)
        result = registry.invoke(call.function.name, call.function.arguments)
        run.outputs.append(result.output)
        outputs.append(cozepy.ToolOutput(tool_call_id=call.id, output=result.output))
    run.rounds.append(names)
    return outputs


def _stream_chat(coze: Any, bot_id: str, text: str, registry: ToolRegistry) -> _Run:
    import cozepy

    run = _Run()
    message = cozepy.Message(role="user", type="question", content=text, content_type="text")
    try:
        run.stage = "stream"
        stream = coze.chat.stream(bot_id=bot_id, user_id="probe", additional_messages=[message])
        for _ in range(_MAX_ROUNDS):
            last = None
            pieces = []
            for event in stream:
                run.events.append(event_name(event))
                run.saw(getattr(event, "chat", None))
                last = event
                if event_name(event) == "conversation.message.delta":
                    pieces.append(event.message.content)
            if last is None:
                raise LookupError("the stream ended with no event")
            run.status = enum_value(last.chat.status) if last.chat else ""
            if event_name(last) != REQUIRES_ACTION:
                run.answer = "".join(pieces)
                return run
            run.stage = "read tool calls"
            outputs = _dispatch(registry, _tool_calls(last.chat), run)
            run.stage = "submit_tool_outputs"
            stream = coze.chat.submit_tool_outputs(
                conversation_id=last.chat.conversation_id, chat_id=last.chat.id, tool_outputs=outputs, stream=True
            )
        raise LookupError(f"the bot still asked for tools after {_MAX_ROUNDS} rounds")
    except Exception as exc:
        run.error = f"at {run.stage}: {describe_error(exc)}"
    return run


def _poll_chat(coze: Any, bot_id: str, text: str, registry: ToolRegistry) -> _Run:
    import cozepy

    run = _Run()
    message = cozepy.Message(role="user", type="question", content=text, content_type="text")
    try:
        run.stage = "create"
        chat = coze.chat.create(bot_id=bot_id, user_id="probe", additional_messages=[message])
        run.saw(chat)
        for _ in range(_MAX_ROUNDS + 1):
            run.stage = "retrieve"
            deadline = time.monotonic() + _POLL_LIMIT_SECONDS
            polls = 0
            while enum_value(chat.status) in ("created", "in_progress"):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"chat still in progress after {_POLL_LIMIT_SECONDS} s")
                if polls:  # the first retrieve goes at once: the simulator has usually settled the step
                    time.sleep(0.05)
                polls += 1
                chat = coze.chat.retrieve(conversation_id=chat.conversation_id, chat_id=chat.id)
            run.status = enum_value(chat.status)
            run.events.append(f"status:{run.status}")
            if run.status != "requires_action":
                run.stage = "messages.list"
                run.answer = _answer_of(coze.chat.messages.list(conversation_id=chat.conversation_id, chat_id=chat.id))
                return run
            run.events.append(REQUIRES_ACTION)
            run.stage = "read tool calls"
            outputs = _dispatch(registry, _tool_calls(chat), run)
            run.stage = "submit_tool_outputs"
            chat = coze.chat.submit_tool_outputs(
                conversation_id=chat.conversation_id, chat_id=chat.id, tool_outputs=outputs, stream=False
            )
        raise LookupError(f"the bot still asked for tools after {_MAX_ROUNDS} rounds")
    except Exception as exc:
        run.error = f"at {run.stage}: {describe_error(exc)}"
    return run


def _submit_endpoint(coze: Any, run: _Run, exchanges: list[Exchange]) -> tuple[int | None, str]:
    """Ask the server for submit_tool_outputs on a chat it paused without tool calls: what it answers
    (a 404 where the platform has no such endpoint). The ids come from the raw bytes when the SDK could
    not parse the chat that carried them."""
    import cozepy

    ids = (run.chat_id, run.conversation_id)
    if not run.chat_id:
        found = next((m for e in exchanges if (m := CHAT_IDS.search(e.response_body))), None)
        if found is None:
            return None, "not tried: no chat id reached the client"
        ids = (found.group(1), found.group(2))
    try:
        coze.chat.submit_tool_outputs(
            conversation_id=ids[1],
            chat_id=ids[0],
            tool_outputs=[cozepy.ToolOutput(tool_call_id="0", output="")],
            stream=False,
        )
    except Exception as exc:
        code = getattr(exc, "code", None)
        return (code if isinstance(code, int) else None), describe_error(exc)
    return None, "accepted"


def _absent_on_platform(single: _Run, submit: tuple[int | None, str]) -> dict[Capability, tuple[Verdict, str]]:
    code, answer = submit
    return platform_without_tool_path(
        single.status,
        (
            Verdict.ABSENT if code == 404 else Verdict.BROKEN,
            f"cozepy has chat.submit_tool_outputs; the server answered it with: {answer}.",
        ),
    )


def _verdicts(
    single: _Run, chain: _Run, failing: _Run, has_submit: bool, how: str
) -> dict[Capability, tuple[Verdict, str]]:
    """The judges' rules (harness/judges/chat.py), with what only cozepy's models can show: a release whose
    Chat has no required_action field drops the tool calls on parse, so they are absent, not broken."""
    verdicts = judge_chat(single, chain, failing, how, has_submit, "chat.submit_tool_outputs")
    if not single.rounds and not sdk.chat_has_required_action():
        verdicts[Capability.TOOL_CALL_FIELDS] = (
            Verdict.ABSENT,
            "cozepy.Chat has no required_action field: the tool calls are dropped on parse.",
        )
    return verdicts


def _summary(run: _Run) -> str:
    return json.dumps(
        {"rounds": run.rounds, "status": run.status, "answer": run.answer, "error": run.error}, ensure_ascii=False
    )


_Driver = Callable[[Any, str, str, ToolRegistry], _Run]


def _probe(ctx: ProbeContext, mode: Mode, drive: _Driver, summary: str, how: str) -> ProbeResult:
    """The same three chats through one driver: two tools in a round, two rounds, a failing tool."""
    coze, transport = ctx.coze()
    single = drive(coze, ctx.scenario_ids["weather-bot"], "Paris", demo_tools.registry)
    chain = drive(coze, ctx.scenario_ids["research-bot"], "coze", demo_tools.registry)
    failing = drive(coze, ctx.scenario_ids["weather-bot"], "Oslo", demo_tools.failing)
    has_submit = hasattr(coze.chat, "submit_tool_outputs")
    offered = offers_tool_calls(transport.exchanges)
    # Only a platform other than cloud may lack the path: on cloud, no tool call on the wire is a failure.
    lacking = ctx.platform != DEFAULT_PLATFORM and has_submit and not offered
    submit = _submit_endpoint(coze, single, transport.exchanges) if lacking else (None, "")
    evidence = Evidence(
        id=mode.value,
        probe=mode.value,
        summary=summary,
        exchanges=list(transport.exchanges),
        sdk_events=[
            *single.events,
            *chain.events,
            "runs: " + " | ".join(_summary(r) for r in (single, chain, failing)),
            *([f"submit_tool_outputs on the paused chat: {submit[1]}"] if lacking else []),
        ],
        sdk_facts=chat_facts(),
        error=single.error or chain.error,
        simulated="the bots are simulator scenarios; the wire format is the platform profile's (CONTRACT.md).",
    )
    verdicts = _absent_on_platform(single, submit) if lacking else _verdicts(single, chain, failing, has_submit, how)
    return ProbeResult(
        cells=cells_for(mode, evidence.id, verdicts), evidence=[evidence], streams=check_streams(transport.exchanges)
    )


def probe_chat_stream(ctx: ProbeContext) -> ProbeResult:
    """chat.stream to requires_action, local tools, submit_tool_outputs(stream=True), to the answer."""
    return _probe(
        ctx,
        Mode.CHAT_STREAM,
        _stream_chat,
        "weather-bot (two tools, one round), research-bot (two rounds), weather-bot with a failing tool",
        "streamed",
    )


def probe_chat_poll(ctx: ProbeContext) -> ProbeResult:
    """chat.create, retrieve until requires_action, submit_tool_outputs(stream=False), retrieve, messages.list."""
    result = _probe(
        ctx,
        Mode.CHAT_POLL,
        _poll_chat,
        "the same three chats without streaming: create, retrieve, submit, messages.list",
        "polled",
    )
    for cell in result.cells:
        if cell.capability is Capability.TOOL_CALL_EVENT and cell.verdict is Verdict.SUPPORTED:
            cell.reason = "retrieve returned status requires_action with required_action (polled: no event)."
    return result
