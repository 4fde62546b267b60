"""`coze-harness drive`: run one flow with one SDK against the embedded simulator and print what it observed.

For people checking what an SDK release does, and for the driver's own tests: the flows and the
observation are those the compatibility report's probes will judge (harness/drivers).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from simulators.coze import (
    DEFAULT_TOKEN,
    PLATFORMS,
    Catalogue,
    SimConfig,
    TokenGrant,
    create_app,
    local_tls,
    running,
)
from simulators.coze import FRAMING_VARIANTS as VARIANTS
from simulators.coze import combined_framing as combined

from . import sdk
from .drivers import FLOWS, Driver, DriverUnavailable, FlowRequest, Observation, ToolCallSeen, coze_js
from .drivers.cozepy import CozepyDriver

EXIT_OK, EXIT_FLOW_FAILED, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3

# The scenario each flow runs by default (names from the built-in catalogue) and its inputs.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "chat-stream": {"bot": "weather-bot", "message": "Paris"},
    "chat-poll": {"bot": "weather-bot", "message": "Paris"},
    "workflow-run": {"workflow": "forecast-workflow", "parameters": {"city": "Paris", "days": 2}},
    "workflow-stream": {"workflow": "joke-workflow", "parameters": {"topic": "cats"}},
    "workflow-resume": {"workflow": "question-workflow", "resume_data": ["Paris"]},
    "chatflow": {"workflow": "echo-chatflow", "message": "Paris"},
    "workflow-bridge": {"workflow": "http-bridge-workflow"},
    "websocket-chat": {"bot": "weather-bot", "message": "Paris"},
}


def add_drive_command(commands: Any) -> None:
    drive = commands.add_parser(
        "drive",
        help="run one flow with one SDK (cozepy, coze-js[@VERSION]) against the embedded simulator; "
        "print the observation",
        description=__doc__,
    )
    drive.add_argument(
        "--sdk",
        required=True,
        metavar="SDK",
        help="cozepy (the one installed here, run in this process), coze-js (the @coze/api in node_modules) or "
        "coze-js@VERSION",
    )
    drive.add_argument(
        "--flow", required=True, choices=[flow for flow in FLOWS if flow in _DEFAULTS], help="the flow to run"
    )
    drive.add_argument("--platform", choices=PLATFORMS, default="cloud", help="the simulator's platform profile")
    drive.add_argument(
        "--framing",
        action="append",
        default=[],
        choices=sorted(VARIANTS),
        metavar="VARIANT",
        help=f"serve every stream in this framing variant (repeatable): {', '.join(VARIANTS)}",
    )
    drive.add_argument("--bot", metavar="ID", help="the bot of a chat flow (default: the weather bot)")
    drive.add_argument("--workflow", metavar="ID", help="the workflow or chatflow of a workflow flow")
    drive.add_argument("--message", metavar="TEXT", help="the user's message of a chat or chatflow")
    drive.add_argument("--parameters", metavar="JSON", help="workflow parameters as a JSON object")
    drive.add_argument("--resume-data", action="append", metavar="TEXT", help="answer to an interrupt (repeatable)")
    drive.add_argument("--timeout", type=float, default=20.0, metavar="S", help="the flow's time limit (default 20)")
    drive.add_argument("--no-install", action="store_true", help="fail instead of installing a missing release")
    drive.add_argument("--json", action="store_true", help="print the observation as JSON")
    drive.set_defaults(func=_cmd_drive)


def _request(
    args: argparse.Namespace, base_url: str, bridge_url: str | None, ws_base_url: str | None = None
) -> FlowRequest:
    defaults = _DEFAULTS[args.flow]
    ids = {entry["name"]: entry["id"] for entry in Catalogue.builtin().entries()}
    parameters: dict[str, Any] = dict(defaults.get("parameters", {}))
    if args.flow == "workflow-bridge" and bridge_url is not None:
        parameters = {"url": f"{bridge_url}/tools/get_weather", "arguments": {"city": "Paris"}}
    if args.parameters:
        loaded = json.loads(args.parameters)
        if not isinstance(loaded, dict):
            raise ValueError("--parameters must be a JSON object")
        parameters = loaded
    chat = args.flow in ("chat-stream", "chat-poll", "websocket-chat")
    return FlowRequest(
        flow=args.flow,
        base_url=base_url,
        ws_base_url=ws_base_url,
        token=DEFAULT_TOKEN,
        bot_id=(args.bot or ids[defaults["bot"]]) if chat else None,
        workflow_id=None if chat else (args.workflow or ids[defaults["workflow"]]),
        message=args.message or defaults.get("message", "Paris"),
        parameters=parameters,
        resume_data=args.resume_data or defaults.get("resume_data", []),
        timeout_seconds=args.timeout,
    )


def _driver_for(spec: str, install: bool) -> Callable[[Path | None], Driver]:
    """What makes the driver `spec` names, given the TLS authority of a wss:// flow (a release of @coze/api is
    installed first, if asked and missing)."""
    if spec == "cozepy":
        return lambda ca_file: CozepyDriver(ca_file)
    if spec.startswith("cozepy@"):
        raise ValueError(f"--sdk {spec}: drive runs the cozepy installed here ({sdk.version()}); say --sdk cozepy")
    return coze_js.driver_factory(coze_js.parse_sdk(spec), install)


@contextmanager
def _bridge(needed: bool) -> Iterator[str | None]:
    if not needed:
        yield None
        return
    from .bridge import create_bridge_app
    from .probes import demo_tools

    app = create_bridge_app(demo_tools.bridged, token=None, insecure_no_auth=True, errors="body")
    with running(app) as bridge:
        yield bridge.base_url


def _local_tool(call: ToolCallSeen) -> str:
    from .probes import demo_tools

    arguments = call.arguments if isinstance(call.arguments, (str, dict)) else None
    return demo_tools.registry.invoke(call.name, arguments).output


def _cmd_drive(args: argparse.Namespace) -> int:
    try:
        framing = combined(args.framing) if args.framing else None
        make_driver = _driver_for(args.sdk, install=not args.no_install)
    except ValueError as exc:
        print(f"coze-harness drive: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DriverUnavailable as exc:
        print(f"coze-harness drive: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    config = SimConfig(tokens=[TokenGrant(token=DEFAULT_TOKEN)], profile=args.platform, framing=framing)
    app = create_app(Catalogue.builtin(), config)
    try:
        with ExitStack() as stack:
            sim = stack.enter_context(running(app))
            ws_base_url, ca_file = None, None
            if args.flow == "websocket-chat":  # the simulator serves websockets over TLS only
                tls = stack.enter_context(local_tls())
                secure = stack.enter_context(running(app, tls=tls))
                ws_base_url, ca_file = "wss://" + secure.base_url.removeprefix("https://"), Path(tls.ca_file)
            bridge_url = stack.enter_context(_bridge(args.flow == "workflow-bridge"))
            driver = stack.enter_context(make_driver(ca_file))
            request = _request(args, sim.base_url, bridge_url, ws_base_url)
            observation = driver.run(request, tools=_local_tool)
    except ValueError as exc:
        print(f"coze-harness drive: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DriverUnavailable as exc:
        print(f"coze-harness drive: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    print(observation.model_dump_json(indent=2) if args.json else describe(observation))
    return EXIT_FLOW_FAILED if observation.errors or observation.timed_out else EXIT_OK


def describe(observation: Observation) -> str:
    """The observation for a person: the calls, the events each delivered, the tool rounds, the result."""
    lines = [f"{observation.sdk} {observation.sdk_version}, flow {observation.flow}: {observation.seconds:.2f} s"]
    for number, call in enumerate(observation.calls):
        lines.append(f"  {call.method}: {call.returned}, {call.events} event(s)")
        names = observation.event_names(number)
        if names:
            lines.append(f"    {' '.join(names)}")
        if call.returned == "value" and call.value is not None and not call.events:
            text = json.dumps(call.value, ensure_ascii=False)
            lines.append(f"    value: {text[:300]}{'...' if len(text) > 300 else ''}")
    for number, calls in enumerate(observation.tool_rounds, 1):
        lines.append(f"  tool round {number}: " + ", ".join(f"{call.name}({call.arguments})" for call in calls))
    if observation.result is not None:
        lines.append(f"  result: {json.dumps(observation.result, ensure_ascii=False)[:600]}")
    for error in observation.errors:
        lines.append(f"  error: {error.type}: {error.message}")
    if observation.timed_out:
        lines.append("  timed out")
    absent = [name for name, kind in observation.methods.items() if kind == "absent"]
    if absent:
        lines.append(f"  absent methods: {', '.join(absent)}")
    return "\n".join(lines)
