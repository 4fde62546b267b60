"""What a bot scenario does in a chat: the events of each step, and the state change behind them.

Each function plans first (renders every template, validates every input) and only then mutates
the chat, so a client mistake is answered with an error and leaves the chat exactly as it was.
Callers hold the store lock; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import wire
from ..envelope import bad_request, dumps
from ..ids import Clock, IdSource
from ..profiles import Profile
from ..scenarios import BotScenario, ToolCallSpec
from ..sse import Variant
from ..store import ChatRecord, PendingCall
from .templates import TemplateError, render, render_value

Event = tuple[str, dict[str, Any]]

VERBOSE_FINISH = dumps({"msg_type": "generate_answer_finish", "data": "", "from_module": None, "from_unit": None})
VERBOSE_INTERRUPT = dumps({"msg_type": "interrupt", "data": ""})


@dataclass(frozen=True)
class _ToolRoundPlan:
    calls: list[tuple[ToolCallSpec, Any]]  # spec, rendered arguments


@dataclass(frozen=True)
class _AnswerPlan:
    text: str


@dataclass(frozen=True)
class _FailurePlan:
    partial: str
    code: int
    msg: str


_Plan = _ToolRoundPlan | _AnswerPlan | _FailurePlan


def history_context(chat: ChatRecord) -> dict[str, Any]:
    """`{{ history.count }}`, `{{ history.text }}` (one `role: content` line per message) and
    `{{ history.messages.N.role|type|content }}`: the messages of the conversation's current section from
    before the chat began, which is the context a model would see (a clear empties it)."""
    messages = [{"role": m.role, "type": m.type, "content": m.content} for m in chat.history]
    return {
        "count": len(messages),
        "text": "\n".join(f"{m['role']}: {m['content']}" for m in messages),
        "messages": messages,
    }


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


class BotEngine:
    """Turns a bot scenario into chat events; one per simulator, shared by all routes."""

    def __init__(self, ids: IdSource, clock: Clock, profile: Profile) -> None:
        self._ids = ids
        self._clock = clock
        self._profile = profile

    # -- planning ------------------------------------------------------------------------------

    def _context(self, chat: ChatRecord, outputs: dict[str, str]) -> dict[str, Any]:
        return {
            "user": chat.user_message,
            "output": outputs,
            "var": chat.variables,
            "param": chat.parameters,
            "history": history_context(chat),
            "files": chat.files,
            **({"file": chat.files[0]} if chat.files else {}),
        }

    def _plan(self, bot: BotScenario, chat: ChatRecord, outputs: dict[str, str]) -> _Plan:
        context = self._context(chat, outputs)
        try:
            if chat.next_round < len(bot.rounds):
                specs = bot.rounds[chat.next_round].tool_calls
                return _ToolRoundPlan([(spec, render_value(spec.arguments, context)) for spec in specs])
            if bot.fail is not None:
                return _FailurePlan(render(bot.fail.partial_answer, context), bot.fail.code, bot.fail.msg)
            return _AnswerPlan(render(bot.answer, context))
        except TemplateError as exc:
            raise bad_request(
                f"bot {bot.id} ({bot.name}) cannot answer: {exc}; send the value in custom_variables or parameters"
                + ("" if chat.files else ", or attach an uploaded file (an object_string file or image part)")
            ) from None

    # -- messages ------------------------------------------------------------------------------

    def _message(self, chat: ChatRecord, msg_id: str, kind: str, content: str, *, complete: bool) -> dict[str, Any]:
        return wire.message(chat, msg_id, kind, content, self._clock.now() if complete else None)

    def _complete_message(self, chat: ChatRecord, kind: str, content: str) -> Event:
        message = self._message(chat, self._ids.new_id(), kind, content, complete=True)
        chat.messages.append(message)
        return ("conversation.message.completed", message)

    def _stream_text(self, chat: ChatRecord, text: str, chunk_size: int, *, complete: bool) -> list[Event]:
        msg_id = self._ids.new_id()
        delta = self._message(chat, msg_id, "answer", "", complete=False)
        events: list[Event] = [
            ("conversation.message.delta", Variant(delta, piece)) for piece in _chunks(text, chunk_size) if piece
        ]
        chat.usage.output_count += len(text)
        if complete:
            message = self._message(chat, msg_id, "answer", text, complete=True)
            chat.messages.append(message)
            events.append(("conversation.message.completed", message))
        return events

    # -- transitions ---------------------------------------------------------------------------

    def _apply(self, bot: BotScenario, chat: ChatRecord, plan: _Plan) -> list[Event]:
        events: list[Event] = []
        if isinstance(plan, _ToolRoundPlan):
            # Where the platform has no tool-call path (studio), the agent pauses, says so in a verbose
            # message, and the stream ends with no event and no tool calls a client could answer.
            silent = self._profile.chat.tool_calls == "interrupt-message"
            chat.next_round += 1
            chat.pending = []
            for spec, arguments in plan.calls:
                encoded = dumps(arguments)
                call = PendingCall(id=self._ids.new_id(), name=spec.name, key=spec.output_key, arguments=encoded)
                chat.pending.append(call)
                if not silent:
                    content = dumps({"name": spec.name, "arguments": arguments})
                    events.append(self._complete_message(chat, "function_call", content))
                chat.usage.output_count += len(encoded)
            chat.status = "requires_action"
            if silent:
                events.append(self._complete_message(chat, "verbose", VERBOSE_INTERRUPT))
            else:
                events.append(("conversation.chat.requires_action", wire.chat(chat, self._profile)))
        elif isinstance(plan, _FailurePlan):
            events += self._stream_text(chat, plan.partial, bot.chunk_size, complete=False) if plan.partial else []
            chat.status = "failed"
            chat.failed_at = self._clock.now()
            chat.last_error = (plan.code, plan.msg)
            events.append(("conversation.chat.failed", wire.chat(chat, self._profile)))
        else:
            events += self._stream_text(chat, plan.text, bot.chunk_size, complete=True)
            events.append(self._complete_message(chat, "verbose", VERBOSE_FINISH))
            chat.status = "completed"
            chat.completed_at = self._clock.now()
            events.append(("conversation.chat.completed", wire.chat(chat, self._profile)))
        return events

    def start(self, bot: BotScenario, chat: ChatRecord) -> list[Event]:
        """A new chat: created, in_progress, then the first round of tool calls or the answer."""
        plan = self._plan(bot, chat, chat.outputs)
        chat.usage.input_count += len(chat.user_message)
        events: list[Event] = [("conversation.chat.created", wire.chat(chat, self._profile))]
        chat.status = "in_progress"
        events.append(("conversation.chat.in_progress", wire.chat(chat, self._profile)))
        return events + self._apply(bot, chat, plan)

    def submit(self, bot: BotScenario, chat: ChatRecord, outputs: Sequence[tuple[str, str]]) -> list[Event]:
        """Tool outputs for the pending round: validated whole, then the chat moves on."""
        if chat.status != "requires_action":
            raise bad_request(
                f"chat {chat.id} is not waiting for tool outputs (status: {chat.status}); submit only after "
                "a conversation.chat.requires_action event, once per round"
            )
        pending = {call.id: call for call in chat.pending}
        seen: set[str] = set()
        for call_id, _ in outputs:
            if call_id not in pending:
                raise bad_request(
                    f"tool_call_id {call_id!r} is not a pending tool call of chat {chat.id}; "
                    f"pending ids: {', '.join(pending)}"
                )
            if call_id in seen:
                raise bad_request(f"tool_call_id {call_id!r} is answered more than once; answer each call once")
            seen.add(call_id)
        missing = [call_id for call_id in pending if call_id not in seen]
        if missing:
            raise bad_request(
                f"tool_outputs has no output for pending tool call(s) {', '.join(missing)}; "
                "answer every call of the round in one submit"
            )
        merged = dict(chat.outputs)
        for call_id, output in outputs:
            merged[pending[call_id].key] = output
        plan = self._plan(bot, chat, merged)

        chat.outputs = merged
        chat.pending = []
        chat.status = "in_progress"
        events: list[Event] = [("conversation.chat.in_progress", wire.chat(chat, self._profile))]
        for _, output in outputs:
            chat.usage.input_count += len(output)
            events.append(self._complete_message(chat, "tool_response", output))
        return events + self._apply(bot, chat, plan)

    def cancel(self, chat: ChatRecord) -> None:
        if chat.status not in ("created", "in_progress", "requires_action"):
            raise bad_request(
                f"chat {chat.id} cannot be canceled: it is already {chat.status}; "
                "only a chat in progress or waiting for tool outputs can be canceled"
            )
        chat.status = "canceled"
        chat.pending = []
