"""The workaround: workflows whose http nodes call local code served by the HTTP bridge."""

from __future__ import annotations

from .. import judges
from ..matrix import Evidence, Mode
from . import demo_tools
from ._base import ProbeContext, ProbeResult, check_streams
from ._flows import result_of, run_flow, take


def probe_workflow_bridge(ctx: ProbeContext) -> ProbeResult:
    if ctx.bridge_url is None:
        raise ValueError("the workflow-bridge probe needs a running bridge (ProbeContext.bridge_url)")
    take(ctx)
    single = ctx.scenario_ids["http-bridge-workflow"]
    one = run_flow(
        ctx,
        "workflow-bridge",
        workflow_id=single,
        parameters={"url": f"{ctx.bridge_url}/tools/get_weather", "arguments": {"city": "Paris"}},
    )
    chain = run_flow(
        ctx,
        "workflow-bridge",
        workflow_id=ctx.scenario_ids["bridge-chain-workflow"],
        parameters={"bridge": ctx.bridge_url, "query": "coze"},
    )
    failed = run_flow(
        ctx,
        "workflow-bridge",
        workflow_id=single,
        parameters={"url": f"{ctx.bridge_url}/tools/broken_clock", "arguments": {"timezone": "UTC"}},
    )
    exchanges = take(ctx)
    expected_chain = [demo_tools.search_files("coze"), demo_tools.read_file(demo_tools.search_files("coze"))]
    verdicts = judges.judge_bridge(
        one, chain, failed, demo_tools.get_weather("Paris"), expected_chain, demo_tools.BROKEN_CLOCK_ERROR
    )
    evidence = Evidence(
        id="workflow-bridge",
        probe="workflow-bridge",
        summary="workflows whose http nodes call local tools through the HTTP bridge",
        exchanges=exchanges,
        sdk_events=[
            judges.dumps(
                {
                    "single": judges.workflow_text(one),
                    "chain": judges.workflow_text(chain),
                    "failing": judges.workflow_text(failed),
                }
            )
        ],
        error=judges.first_error(one) or judges.first_error(chain) or judges.first_error(failed),
        simulated="the http node is the simulator's; it makes a real HTTP request to the bridge on loopback.",
    )
    return result_of(Mode.WORKFLOW_BRIDGE, evidence, verdicts, check_streams(exchanges))
