"""Framing robustness: each spec-legal SSE framing variant, served for an SDK to read (the probe: driven.py).

The real server may start sending what the SSE specification allows and the canonical framing does
not use: comment keep-alives, `retry:` lines, CRLF or CR line ends, `id:` lines on chat events, a
space after the colon (or none), `data:` over several lines, events of unknown names, `[DONE]`
spelled differently, a response left open after its last event. For every variant this probe
serves the echo bot's chat stream and the joke workflow's stream in that framing (scenario data: a
copy of each with a `framing` block, on a simulator of its own) and compares what the SDK parsed
with what it parsed from the canonical framing. These are findings about the SDK, not verdicts
about the platform: no Coze server is known to send these variants today.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from simulators.coze import CANONICAL_FRAMING as CANONICAL
from simulators.coze import FRAMING_VARIANTS as VARIANTS
from simulators.coze import Catalogue, Framing

from ..recorder import Exchange

ECHO_BOT = "7390000000000000001"
JOKE_WORKFLOW = "7440000000000000001"
_BOT_BASE = 7398000000000000000
_WORKFLOW_BASE = 7448000000000000000
_SAMPLE_CHARS = 320
_UNKNOWN = {"unknown", "coze.unknown"}

StreamKind = Literal["chat", "workflow"]
STREAMS: tuple[StreamKind, ...] = ("chat", "workflow")


def _catalogue(variants: list[tuple[str, Framing]]) -> tuple[Catalogue, dict[str, tuple[str, str]]]:
    """The echo bot and the joke workflow once per framing, under fresh ids: name -> (bot id, workflow id)."""
    builtin = Catalogue.builtin()
    bot, workflow = builtin.bots[ECHO_BOT], builtin.workflows[JOKE_WORKFLOW]
    bots, workflows, ids = {}, {}, {}
    for number, (name, framing) in enumerate(variants):
        bot_id, workflow_id = str(_BOT_BASE + number), str(_WORKFLOW_BASE + number)
        bots[bot_id] = bot.model_copy(update={"id": bot_id, "name": f"echo-bot-{name}", "framing": framing})
        workflows[workflow_id] = workflow.model_copy(
            update={"id": workflow_id, "name": f"joke-workflow-{name}", "framing": framing}
        )
        ids[name] = (bot_id, workflow_id)
    return Catalogue(bots=bots, workflows=workflows), ids


def sample_of(exchanges: list[Exchange]) -> str:
    """The start of the last stream received (of the last response, if none was a stream), CR shown as \\r."""
    streams = [e for e in exchanges if "event-stream" in e.response_headers.get("content-type", "")]
    body = streams[-1].response_body if streams else (exchanges[-1].response_body if exchanges else "")
    return body[:_SAMPLE_CHARS].replace("\r", "\\r")


def framing_catalogue() -> tuple[list[tuple[str, Framing]], Catalogue, dict[str, tuple[str, str]]]:
    """Every framing (the canonical one first), and the catalogue serving the echo bot and the joke workflow
    in each: name -> (bot id, workflow id)."""
    framings = [("canonical", CANONICAL)] + [(name, variant.framing) for name, variant in VARIANTS.items()]
    catalogue, ids = _catalogue(framings)
    return framings, catalogue, ids


class _LateWrites(logging.Filter):
    """asyncio's warning when the server writes to a client that has already given up on a stream."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "socket.send() raised exception" not in record.getMessage()


@contextmanager
def quiet_late_writes() -> Iterator[None]:
    """An SDK that fails on the first event closes the connection while the rest is still going out:
    expected here, so the server's warnings about it are not printed over the report's progress."""
    logger, late = logging.getLogger("asyncio"), _LateWrites()
    logger.addFilter(late)
    try:
        yield
    finally:
        logger.removeFilter(late)
