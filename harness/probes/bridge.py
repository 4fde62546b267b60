"""The workaround: a workflow's http node calls local code served by the HTTP bridge."""

from __future__ import annotations

import json
from typing import Any

from ..judges import cells_for
from ..matrix import Capability, Evidence, Mode, Verdict
from ..sdk import event_name
from ._base import ProbeContext, ProbeResult, check_streams
from .demo_tools import get_weather, read_file, search_files
from .workflow import stream_workflow

BROKEN_CLOCK_ERROR = "clock unavailable for UTC"
"""What the failing tool's error says, looked for in the workflow's Error event."""


def _text(events: list[Any]) -> str:
    return " ".join(
        [event.message.content for event in events if event_name(event) == "Message"]
        + [f"{event.error.error_code} {event.error.error_message}" for event in events if event_name(event) == "Error"]
    )


def probe_workflow_bridge(ctx: ProbeContext) -> ProbeResult:
    """http-bridge-workflow and bridge-chain-workflow against the bridge, in body error mode."""
    if ctx.bridge_url is None:
        raise ValueError("the workflow-bridge probe needs a running bridge (ProbeContext.bridge_url)")
    coze, transport = ctx.coze()
    single_id = ctx.scenario_ids["http-bridge-workflow"]
    city = "Paris"
    one, one_error = stream_workflow(
        coze, single_id, {"url": f"{ctx.bridge_url}/tools/get_weather", "arguments": {"city": city}}
    )
    expected_one = get_weather(city)
    chain, chain_error = stream_workflow(
        coze, ctx.scenario_ids["bridge-chain-workflow"], {"bridge": ctx.bridge_url, "query": "coze"}
    )
    expected_chain = [search_files("coze"), read_file(search_files("coze"))]
    failed, failed_error = stream_workflow(
        coze, single_id, {"url": f"{ctx.bridge_url}/tools/broken_clock", "arguments": {"timezone": "UTC"}}
    )
    evidence = Evidence(
        id="workflow-bridge",
        probe="workflow-bridge",
        summary="workflows whose http nodes call local tools through the HTTP bridge",
        exchanges=list(transport.exchanges),
        sdk_events=[
            json.dumps({"single": _text(one), "chain": _text(chain), "failing": _text(failed)}, ensure_ascii=False)
        ],
        error=one_error or chain_error or failed_error,
        simulated="the http node is the simulator's; it makes a real HTTP request to the bridge on loopback.",
    )
    works = expected_one in _text(one)
    chained = all(part in _text(chain) for part in expected_chain)
    reported = BROKEN_CLOCK_ERROR in _text(failed) and any(event_name(e) == "Error" for e in failed)

    def verdict(ok: bool, yes: str, no: str) -> tuple[Verdict, str]:
        return (Verdict.WORKAROUND, yes) if ok else (Verdict.BROKEN, no)

    verdicts = {
        Capability.TOOL_CALL_EVENT: (
            Verdict.NOT_APPLICABLE,
            "the workflow calls the bridge itself; no event reaches the client.",
        ),
        Capability.TOOL_CALL_FIELDS: verdict(
            works, "the http node sends the tool's named JSON arguments.", f"the call failed: {one_error or _text(one)}"
        ),
        Capability.SUBMIT_METHOD: (
            Verdict.NOT_APPLICABLE,
            "the bridge's HTTP answer is the output; nothing is submitted.",
        ),
        Capability.OUTPUTS_IN_ANSWER: verdict(
            works, f"the output quotes {expected_one!r}.", f"the output lacks {expected_one!r}: {_text(one)}"
        ),
        Capability.CALLS_PER_ROUND: (
            Verdict.NOT_APPLICABLE,
            "workflow nodes call one tool each; there are no rounds of calls.",
        ),
        Capability.ROUNDS: verdict(
            chained,
            "two http nodes in a row: the second used the first's output.",
            f"the chain failed: {chain_error or _text(chain)}",
        ),
        Capability.TOOL_ERRORS: verdict(
            reported,
            "a raising tool became a workflow Error event with its message.",
            f"the tool error was lost: {failed_error or _text(failed)}",
        ),
        Capability.INTERRUPT_RESUME: (Verdict.NOT_APPLICABLE, "the bridge needs no pause."),
        Capability.LOCAL_CODE: verdict(
            works,
            "local functions ran behind the bridge and their output came back.",
            f"the bridge path failed: {one_error or _text(one)}",
        ),
    }
    return ProbeResult(
        cells=cells_for(Mode.WORKFLOW_BRIDGE, evidence.id, verdicts),
        evidence=[evidence],
        streams=check_streams(transport.exchanges),
    )
