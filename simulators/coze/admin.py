"""The admin API, beside the journal under `/_sim/` (a prefix no Coze API has), as WireMock and MockServer
users expect it. Every route takes a token like the Coze routes, checked before any body is read.

- `POST /_sim/reset`: the simulator as it started, in one call: a fresh store, journal and request log,
  ids and log ids seeded as at start, the clock at its start, and the file catalogue only (scenarios
  registered at runtime dropped). A request running meanwhile finishes on the simulator it started on.
- `GET /_sim/requests[?method=POST&path=/v3/chat]`: the requests received since the start or the last
  reset, oldest first (`simulators.coze.requestlog`: method, path, query, redacted headers, body).
- `POST /_sim/scenarios`: a bot, workflow or chatflow scenario, the same mapping a scenario file holds
  (as JSON), validated by the same models; served at once, until the next reset. An id already served is
  replaced. At most `MAX_RUNTIME_SCENARIOS` of them, each at most `MAX_SCENARIO_BYTES`; a refusal is a 4000
  envelope naming the problem.
- `GET /_sim/scenarios`: every scenario served, with `runtime` true for the ones registered here.

Answers are envelopes (`{"code": 0, "msg": "", "data": ...}`), like the platform's.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .envelope import CozeError, bad_request, error, ok
from .inputs import _read_bounded, parse_json
from .journal import ADMIN_PREFIX
from .scenarios import BotScenario, Catalogue, WorkflowScenario, _Document, _location
from .simulator import Simulator, simulator_of

__all__ = [
    "MAX_RUNTIME_SCENARIOS",
    "MAX_SCENARIO_BYTES",
    "RESET_PATH",
    "RUNTIME_SOURCE",
    "ResetEndpoint",
    "register_scenario",
    "router",
]

MAX_RUNTIME_SCENARIOS = 64
MAX_SCENARIO_BYTES = 256 * 1024
RUNTIME_SOURCE = "<runtime>"
"""What `Catalogue.sources` says of a scenario registered through the admin API."""

router = APIRouter(prefix=ADMIN_PREFIX.rstrip("/"), include_in_schema=False)

_CREATING = threading.Lock()


def _admin_lock(request: Request) -> threading.Lock:
    """One lock per app: a reset and a registration never interleave (a scenario registered during a
    reset lands in the new simulator or is refused, never in the one being dropped)."""
    state = request.app.state
    with _CREATING:
        lock: threading.Lock | None = getattr(state, "coze_admin_lock", None)
        if lock is None:
            lock = threading.Lock()
            state.coze_admin_lock = lock
    return lock


RESET_PATH = f"{ADMIN_PREFIX}reset"


class ResetEndpoint:
    """`POST /_sim/reset`, answered before FastAPI's routing: a test suite calls it before every test, and
    the router's work was most of its cost. The same token check (before the body, which is not read),
    the same envelopes, the same lock as the router's admin routes. Sits inside the log-id middleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._fastapi: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != RESET_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            simulator_of(request).auth.authenticate(request)
        except CozeError as exc:
            await error(request, exc)(scope, receive, send)
            return
        owner = scope["app"]  # the FastAPI app, whose state holds the current simulator
        with _admin_lock(request):
            current: Simulator = owner.state.simulator
            owner.state.simulator = current.renewed()
        await ok(request, {"reset": True})(scope, receive, send)


@router.get("/requests")
async def requests(request: Request) -> Response:
    sim = simulator_of(request)
    sim.auth.authenticate(request)
    method = request.query_params.get("method") or None
    path = request.query_params.get("path") or None
    return ok(request, sim.requests.wire(method=method, path=path))


@router.get("/scenarios")
async def scenarios(request: Request) -> Response:
    simulator_of(request).auth.authenticate(request)
    current: Simulator = request.app.state.simulator
    catalogue = current.catalogue
    rows = [{**row, "runtime": catalogue.sources.get(row["id"]) == RUNTIME_SOURCE} for row in catalogue.entries()]
    return ok(request, {"scenarios": rows})


@router.post("/scenarios")
async def add_scenario(request: Request) -> Response:
    sim = simulator_of(request)
    sim.auth.authenticate(request)
    raw = await _read_bounded(request, sim.config.body_timeout_seconds)
    if len(raw) > MAX_SCENARIO_BYTES:
        raise bad_request(f"the scenario is {len(raw)} bytes; the limit is {MAX_SCENARIO_BYTES}")
    value = parse_json(raw, "the scenario", max_bytes=MAX_SCENARIO_BYTES)
    if not isinstance(value, dict):
        raise bad_request("the scenario must be a JSON object with a 'kind' (bot, workflow, chatflow)")
    try:
        scenario = _Document.model_validate({"scenario": value}).scenario
    except ValidationError as exc:
        problems = "; ".join(f"at {_location(err['loc'])}: {err['msg']}" for err in exc.errors())
        raise bad_request(f"the scenario is not valid: {problems}") from None
    with _admin_lock(request):
        current: Simulator = request.app.state.simulator
        replaced = register_scenario(current, scenario)
    return ok(request, {"id": scenario.id, "kind": scenario.kind, "replaced": replaced})


def register_scenario(sim: Simulator, scenario: BotScenario | WorkflowScenario) -> bool:
    """Serve `scenario` from now on (replacing one with its id); whether one was replaced. The catalogue is
    swapped whole, so a request sees the old one or the new one. Call it holding the app's admin lock."""
    catalogue = sim.catalogue
    runtime = sum(1 for source in catalogue.sources.values() if source == RUNTIME_SOURCE)
    replaced = scenario.id in catalogue.sources
    if catalogue.sources.get(scenario.id) != RUNTIME_SOURCE and runtime >= MAX_RUNTIME_SCENARIOS:
        raise bad_request(
            f"{runtime} scenarios were registered at runtime already; the limit is {MAX_RUNTIME_SCENARIOS} "
            f"(POST {ADMIN_PREFIX}reset drops them)"
        )
    bots = {key: bot for key, bot in catalogue.bots.items() if key != scenario.id}
    workflows = {key: flow for key, flow in catalogue.workflows.items() if key != scenario.id}
    if isinstance(scenario, BotScenario):
        bots[scenario.id] = scenario
    else:
        workflows[scenario.id] = scenario
    sources = {**catalogue.sources, scenario.id: RUNTIME_SOURCE}
    sim.catalogue = Catalogue(bots=bots, workflows=workflows, sources=sources)
    return replaced
