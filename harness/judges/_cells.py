"""What every judge shares: turning verdicts into cells, and reading what an SDK observed.

Judges import neither an SDK nor the simulator: they read `Observation`s (what the SDK did) and
`Exchange`s (what crossed the wire), so one judge serves every SDK a driver runs.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..drivers import Observation
from ..matrix import Capability, Cell, Mode, Verdict
from ..recorder import Exchange

Verdicts = dict[Capability, tuple[Verdict, str]]

TOOL_CAPABILITIES = (
    Capability.TOOL_CALL_EVENT,
    Capability.TOOL_CALL_FIELDS,
    Capability.SUBMIT_METHOD,
    Capability.OUTPUTS_IN_ANSWER,
    Capability.CALLS_PER_ROUND,
    Capability.ROUNDS,
    Capability.TOOL_ERRORS,
    Capability.LOCAL_CODE,
)
REQUIRES_ACTION = "conversation.chat.requires_action"
COMPLETED = "conversation.chat.completed"


def cells_for(mode: Mode, evidence_id: str, verdicts: Verdicts) -> list[Cell]:
    return [
        Cell(capability=capability, mode=mode, verdict=verdict, reason=reason, evidence=[evidence_id])
        for capability, (verdict, reason) in verdicts.items()
    ]


def has_method(observation: Observation, dotted: str) -> bool:
    return observation.methods.get(dotted, "absent") != "absent"


def first_error(observation: Observation) -> str | None:
    """The SDK's first error as one line (class, code, message), or None."""
    if not observation.errors:
        return "the flow ran out of time" if observation.timed_out else None
    error = observation.errors[0]
    code = f" (code {error.code})" if error.code is not None else ""
    status = f" (HTTP {error.status})" if error.status is not None and error.code is None else ""
    message = error.message.splitlines()[0] if error.message else ""
    return f"{error.type}{code}{status}: {message}"[:400]


def result_field(observation: Observation, name: str) -> Any:
    return observation.result.get(name) if isinstance(observation.result, dict) else None


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def offers_tool_calls(exchanges: list[Exchange]) -> bool:
    """Whether the server, read as raw bytes, ever spoke the tool-call protocol: a requires_action event or
    status. Neither anywhere is a platform without the path."""
    marks = (REQUIRES_ACTION, '"status":"requires_action"')
    return any(mark in exchange.response_body for exchange in exchanges for mark in marks)


CHAT_IDS = re.compile(r'"id":"(\d+)","conversation_id":"(\d+)","bot_id":"\d+","created_at"')
"""A Chat object's ids as the server sent them (a Message has `role` after `bot_id`, not `created_at`)."""


def chat_ids_on_wire(exchanges: list[Exchange]) -> tuple[str, str] | None:
    """(conversation id, chat id) of the first Chat object any response carried."""
    for exchange in exchanges:
        found = CHAT_IDS.search(exchange.response_body)
        if found:
            return found.group(2), found.group(1)
    return None
