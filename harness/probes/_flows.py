"""What every probe shares: running a flow through the SDK's driver, and taking what crossed the wire.

Every column runs the same scenarios for every SDK, through its driver: cozepy in this process, @coze/api in
Node. What the SDK did comes back as observations; what crossed the wire is taken on the simulator's side
(`ProbeContext.tap`), so the evidence, the stream grammar checks and the judges are the ones every SDK gets.
Local code answers tool calls here in Python, over the driver's protocol.
"""

from __future__ import annotations

from typing import Any

from .. import judges
from ..drivers import Driver, FlowName, FlowRequest, Observation, ToolAnswerer, ToolCallSeen
from ..matrix import LOADING_FACT, Evidence, Mode, SdkFact
from ..recorder import Exchange
from ..tap import RecordingApp
from ..tools import ToolRegistry
from . import demo_tools
from ._base import ProbeContext, ProbeResult, StreamCheck

FLOW_SECONDS = 10.0


POLL_SECONDS = 2.0
"""A polled chat's limit: the simulator settles a step at once, so a poll still going after this never ends
(coze-js's createAndPoll polls without a limit until a status it knows; studio spells one differently)."""


def driver_of(ctx: ProbeContext) -> Driver:
    if ctx.driver is None:
        raise ValueError("a driven probe needs ProbeContext.driver (the SDK to run)")
    driver: Driver = ctx.driver
    return driver


REPEATS_KEPT = 2
"""Identical requests in a row (an SDK polling until a time limit) kept in the evidence: how many more a client
sends in that time depends on the machine, and the report must not."""


REPEATS_NOTE = (
    "a flow ran out of time while the SDK repeated one request: identical requests in a row beyond "
    f"{REPEATS_KEPT} are left out of the exchanges"
)


def take(ctx: ProbeContext) -> list[Exchange]:
    """The exchanges the simulator served since the last take, identical requests in a row (with identical
    answers) kept only `REPEATS_KEPT` times."""
    tap: RecordingApp | None = ctx.tap
    kept: list[Exchange] = []
    run = 0
    for exchange in tap.take() if tap is not None else []:
        run = run + 1 if kept and _same(kept[-1], exchange) else 1
        if run <= REPEATS_KEPT:
            kept.append(exchange)
    return kept


def _same(a: Exchange, b: Exchange) -> bool:
    def key(exchange: Exchange) -> tuple[object, ...]:
        return exchange.method, exchange.url, exchange.request_body, exchange.status, exchange.response_body

    return key(a) == key(b)


def run_flow(ctx: ProbeContext, flow: FlowName, tools: ToolAnswerer | None = None, **fields: Any) -> Observation:
    fields.setdefault("timeout_seconds", FLOW_SECONDS)
    request = FlowRequest(flow=flow, base_url=ctx.base_url, token=ctx.token, **fields)
    return driver_of(ctx).run(request, tools=tools)


def _answering(registry: ToolRegistry, outputs: list[str]) -> ToolAnswerer:
    """Local code answering the SDK's tool calls, keeping each output to look for in the answer."""

    def answer(call: ToolCallSeen) -> str:
        arguments = call.arguments if isinstance(call.arguments, (str, dict)) else None
        output = registry.invoke(call.name, arguments).output
        outputs.append(output)
        return output

    return answer


def facts(driver: Driver, observation: Observation, prefixes: tuple[str, ...]) -> list[SdkFact]:
    methods = {name: kind for name, kind in sorted(observation.methods.items()) if name.startswith(prefixes)}
    facts = [SdkFact(subject=f"{driver.sdk} methods ({', '.join(prefixes)})", value=methods)]
    facts += [  # what the SDK's types say, where it has types (Chat.required_action...)
        SdkFact(subject=f"{driver.sdk} {name}", value=present) for name, present in sorted(observation.fields.items())
    ]
    runtime = getattr(driver, "node_version", None)
    if runtime:
        facts.append(SdkFact(subject="node", value=runtime))
    loading = getattr(driver, "loading", None)
    if loading:
        facts.append(SdkFact(subject=LOADING_FACT, value=loading))
    return facts


def sdk_of(ctx: ProbeContext) -> str:
    return f"{driver_of(ctx).sdk} {driver_of(ctx).sdk_version}"


def result_of(mode: Mode, evidence: Evidence, verdicts: judges.Verdicts, streams: list[StreamCheck]) -> ProbeResult:
    return ProbeResult(cells=judges.cells_for(mode, evidence.id, verdicts), evidence=[evidence], streams=streams)


_CHATS = (
    ("weather-bot", "Paris", demo_tools.registry),
    ("research-bot", "coze", demo_tools.registry),
    ("weather-bot", "Oslo", demo_tools.failing),
)


def three_chats(ctx: ProbeContext, flow: FlowName, **fields: Any) -> list[judges.ChatRun]:
    """The weather bot, the research bot and the weather bot with a failing tool, local code answering."""
    runs = []
    for bot, text, registry in _CHATS:
        outputs: list[str] = []
        answer = _answering(registry, outputs)
        observation = run_flow(ctx, flow, answer, bot_id=ctx.scenario_ids[bot], message=text, **fields)
        runs.append(judges.ChatRun(observation, outputs))
    return runs
