"""Reading recorded SSE bytes, and the grammar each kind of stream must follow.

Each stream kind is described once, as an automaton over event names. Every stream a probe sees is
checked against it, and the transitions a run covered go into the report, so a reader can tell
which paths of the protocol the verdicts actually exercised.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel


class SseEvent(BaseModel):
    event: str
    data: str
    id: str | None = None


def parse_sse(text: str) -> list[SseEvent]:
    """A spec-following parser (blank-line delimited, `field: value`, comments ignored).

    Deliberately not cozepy's line-counting parser: the evidence should show what was on the wire.
    """
    events: list[SseEvent] = []
    fields: dict[str, list[str]] = {}
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line == "":
            if "data" in fields or "event" in fields:
                events.append(
                    SseEvent(
                        event=(fields.get("event") or ["message"])[-1],
                        data="\n".join(fields.get("data", [])),
                        id=fields["id"][-1] if "id" in fields else None,
                    )
                )
            fields = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        fields.setdefault(name, []).append(value[1:] if value.startswith(" ") else value)
    return events


START = "(start)"
END = "(end)"


@dataclass(frozen=True)
class Grammar:
    """An automaton over event names: `edges[state][event] = next state`; the state is the last event."""

    name: str
    edges: dict[str, frozenset[str]]
    accepting: frozenset[str]
    all_transitions: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        pairs = {f"{a} -> {b}" for a, targets in self.edges.items() for b in targets}
        pairs |= {f"{a} -> {END}" for a in self.accepting}
        object.__setattr__(self, "all_transitions", frozenset(pairs))

    def check(self, names: list[str], *, whole: bool = True) -> tuple[list[str], str | None]:
        """The transitions taken, and the first violation (None when the stream is well formed).

        With `whole=False` only a prefix was seen (the client stopped reading: cozepy before 0.17
        stops at `done`, and any release stops at an event it cannot parse), so the end is not judged.
        """
        taken: list[str] = []
        state = START
        for position, name in enumerate(names):
            if name not in self.edges.get(state, frozenset()):
                return taken, f"event {position} '{name}' cannot follow '{state}' in a {self.name} stream"
            taken.append(f"{state} -> {name}")
            state = name
        if not whole:
            return taken, None
        if state not in self.accepting:
            return taken, f"a {self.name} stream cannot end after '{state}'"
        taken.append(f"{state} -> {END}")
        return taken, None


def _chat(name: str, first: str) -> Grammar:
    created, progress = "conversation.chat.created", "conversation.chat.in_progress"
    delta, completed = "conversation.message.delta", "conversation.message.completed"
    terminal = frozenset(
        {"conversation.chat.completed", "conversation.chat.failed", "conversation.chat.requires_action"}
    )
    body = frozenset({delta, completed, "error"}) | terminal
    edges: dict[str, frozenset[str]] = {
        START: frozenset({first, "error"}),  # `error`: a stream-level failure (CONTRACT.md), its last event
        created: frozenset({progress, "error"}),
        progress: body,
        delta: body,
        completed: body,
        **{t: frozenset({"done"}) for t in terminal},
    }
    return Grammar(name, edges, frozenset({"done", "error"}))


CHAT = _chat("chat", "conversation.chat.created")
CHAT_AFTER_SUBMIT = _chat("chat after submit", "conversation.chat.in_progress")
CHATFLOW = _chat("chatflow", "conversation.chat.created")

_WF_BODY = frozenset({"Message", "PING", "Interrupt", "Error", "Done"})
WORKFLOW = Grammar(
    "workflow",
    {
        START: _WF_BODY,
        "Message": _WF_BODY,
        "PING": _WF_BODY,
        "Interrupt": frozenset({"Done"}),
        "Error": frozenset({"Done"}),
    },
    frozenset({"Done", "Interrupt", "Error"}),
)
WORKFLOW_AFTER_RESUME = Grammar("workflow after resume", WORKFLOW.edges, WORKFLOW.accepting)


def _websocket_chat() -> Grammar:
    """One socket, every round: no `done`; requires_action is answered on the socket and the chat goes on."""
    chat = _chat("websocket chat", "conversation.chat.created")
    edges = dict(chat.edges)
    edges[START] = frozenset({"chat.created"})
    edges["chat.created"] = frozenset({"chat.updated", "conversation.chat.created"})
    edges["chat.updated"] = frozenset({"conversation.chat.created"})
    edges["conversation.chat.requires_action"] = frozenset({"conversation.chat.in_progress"})
    for terminal in ("conversation.chat.completed", "conversation.chat.failed"):
        edges.pop(terminal, None)
    return Grammar("websocket chat", edges, frozenset({"conversation.chat.completed", "conversation.chat.failed"}))


WEBSOCKET_CHAT = _websocket_chat()

GRAMMARS = {g.name: g for g in (CHAT, CHAT_AFTER_SUBMIT, CHATFLOW, WORKFLOW, WORKFLOW_AFTER_RESUME, WEBSOCKET_CHAT)}
