"""`create_app`: the fake Coze server as a FastAPI app, built from a catalogue and a config."""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI
from starlette.datastructures import State
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from .admin import ResetEndpoint
from .admin import router as admin_router
from .envelope import LOGID_DETAIL_KEY, LOGID_HEADER, Code, CozeError, error, logid_of
from .faults import StreamAborted, quiet_deliberate_resets
from .ids import IdSource
from .journal import ADMIN_PREFIX, JournalMiddleware
from .openapi_doc import describe
from .requestlog import RequestLogMiddleware
from .routes import ROUTERS
from .scenarios import Catalogue
from .simulator import SIMULATOR_KEY, SimConfig, Simulator, simulator_of

_log = logging.getLogger("simulators.coze")
_ADMIN_LOGIDS = IdSource(0)
"""Log ids of admin answers (`/_sim/...`), apart from the seeded source, so that a test reading the journal or
the request log, or resetting, gets the same ids and timestamps afterwards as one that did not."""
_LOGID_KEY = LOGID_HEADER.encode()


class _LogIdMiddleware:
    """A fresh log id per request, in `scope["state"]` for every response to carry as `x-tt-logid`.

    The responses set the header themselves (`envelope`, `Simulator.stream`, `_missing_route`) rather
    than this middleware wrapping `send`: a wrapper would cost a call on every event of every stream.
    """

    def __init__(self, app: ASGIApp, app_state: State) -> None:
        self.app = app
        self.app_state = app_state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # The simulator current now serves the whole request, even if a reset swaps in a new one meanwhile.
            simulator: Simulator = self.app_state.simulator
            state = scope.setdefault("state", {})
            state[SIMULATOR_KEY] = simulator
            if scope["path"].startswith(ADMIN_PREFIX):  # not from the seeded source: admin calls leave ids as they are
                state["logid"] = _ADMIN_LOGIDS.logid(int(time.time()))
            else:
                state["logid"] = simulator.logids.logid(simulator.log_clock.now())
            state[LOGID_DETAIL_KEY] = simulator.profile.envelope.logid_detail
        await self.app(scope, receive, send)


_GO_ROUTER_404 = "404 page not found"


class _DenialLogFilter(logging.Filter):
    """uvicorn logs "returned without completing handshake" after a websocket denial response, which is
    how this app refuses a handshake on purpose (bad token, unknown bot, an endpoint the platform lacks);
    every other path accepts the socket, so the line is never news."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing handshake" not in record.getMessage()


_DENIAL_FILTER = _DenialLogFilter()


def _missing_route(request: Request, status: int) -> Response:
    """An unknown path (404) or a wrong method (405), as the platform's router answers it. The Go routers
    (hertz, like gin) answer a wrong method as an unknown path unless told otherwise: 404 for both."""
    sim: Simulator = request.app.state.simulator
    if sim.profile.envelope.missing_route == "plain-text":
        return PlainTextResponse(_GO_ROUTER_404, status_code=404, headers={LOGID_HEADER: logid_of(request)})
    if status == 404:
        msg = f"no such endpoint: {request.method} {request.url.path}"
    else:
        msg = f"{request.method} is not allowed on {request.url.path}"
    return error(request, CozeError(Code.BAD_REQUEST, msg, status=status))


class _AbsentEndpoints:
    """Routes the profile says the platform does not serve answer as unknown paths (websockets too).

    The routers stay the same for every profile; this sits in front of them so that "studio has no
    submit_tool_outputs" is one line of profile data, not a condition inside the route.
    """

    def __init__(self, app: ASGIApp, simulator: Simulator) -> None:
        self.app = app
        self._patterns = [compile_path(path)[0] for path in simulator.profile.absent_endpoints]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not any(p.match(scope["path"]) for p in self._patterns):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http":
            await _missing_route(Request(scope, receive), 404)(scope, receive, send)
            return
        await receive()  # websocket.connect: the handshake request, answered below with a refusal
        if "websocket.http.response" in scope.get("extensions", {}):
            headers = [(b"content-type", b"text/plain; charset=utf-8")]
            await send({"type": "websocket.http.response.start", "status": 404, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": _GO_ROUTER_404.encode()})
        else:
            await send({"type": "websocket.close", "code": 1008})


async def _coze_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CozeError)
    return error(request, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and wrong methods, as envelopes rather than Starlette's plain text."""
    assert isinstance(exc, HTTPException)
    if exc.status_code in (404, 405):
        return _missing_route(request, exc.status_code)
    return error(request, CozeError(Code.BAD_REQUEST, str(exc.detail), status=exc.status_code))


async def _unexpected(request: Request, exc: Exception) -> Response:
    """A bug in the simulator: logged here, answered with a 5000 envelope and no stack trace."""
    if isinstance(exc, StreamAborted):  # a reset fault, mid-body: nothing to answer and nothing to log
        return Response(status_code=500, headers={LOGID_HEADER: logid_of(request)})
    _log.exception("simulator error on %s %s", request.method, request.url.path)
    return error(request, CozeError(Code.INTERNAL, "internal error in the simulator; see its log"))


def create_app(catalogue: Catalogue | None = None, config: SimConfig | None = None) -> FastAPI:
    """The app for one simulated platform; every app has its own state, so tests can run many."""
    simulator = Simulator(catalogue if catalogue is not None else Catalogue.builtin(), config or SimConfig())
    # No redirect for a trailing slash: the platform answers such a path as unknown, with an envelope.
    app = FastAPI(title="Coze open API simulator", docs_url=None, redoc_url=None, redirect_slashes=False)
    app.state.simulator = simulator
    for router in ROUTERS:
        app.include_router(router)
    describe(app)  # /openapi.json: the routes' documented schemas, a generic envelope for the rest
    app.include_router(admin_router)  # reset, the requests received, runtime scenarios (under /_sim/)
    app.add_exception_handler(CozeError, _coze_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    if simulator.profile.absent_endpoints:  # one ASGI layer less on every message of every stream otherwise
        app.add_middleware(_AbsentEndpoints, simulator=simulator)
    app.add_middleware(ResetEndpoint)  # POST /_sim/reset, before the routing (a test suite calls it per test)
    app.add_middleware(_LogIdMiddleware, app_state=app.state)
    app.add_middleware(RequestLogMiddleware, log=simulator.requests)  # kept across resets, like the journal
    app.add_middleware(JournalMiddleware, journal=simulator.journal)

    async def journal(request: Request) -> Response:
        """The stream journal (not a Coze API): every response's timing, size and who closed it. It shows
        the traffic of every client, so it takes a token like every other route."""
        sim = simulator_of(request)
        sim.auth.authenticate(request)
        return JSONResponse(sim.journal.wire(), headers={LOGID_HEADER: logid_of(request)})

    app.add_api_route(f"{ADMIN_PREFIX}journal", journal, methods=["GET"], include_in_schema=False)
    quiet_deliberate_resets()
    if _DENIAL_FILTER not in logging.getLogger("uvicorn.error").filters:
        logging.getLogger("uvicorn.error").addFilter(_DENIAL_FILTER)
    return app
