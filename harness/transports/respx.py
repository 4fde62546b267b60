"""The simulator behind respx: mocked httpx traffic answered by the real app, a fresh stream per call.

A respx route whose `content` is an iterator is spent after the first call: the second call of the
same route silently gets an empty body (measured with respx 0.23). A chat that stops on
`requires_action`, or a test that runs a flow twice, needs every call answered in full. So the
route here has a side effect that calls the simulator app per request, through the in-process
transports of `harness.transports.inprocess`, and returns a response whose stream is new and incremental.

    with mock_coze(create_app(), base_url="https://api.coze.com") as router:
        coze = Coze(auth=TokenAuth(DEFAULT_TOKEN), base_url="https://api.coze.com")
        ...                                 # every request to that base URL reaches the app
        assert router["coze"].call_count == 2

One route serves sync and async clients: a respx side effect cannot tell which kind called it, so
`CozeRouter` marks its async resolutions (a context variable set in `async_handler`), and the side
effect answers an async call with a coroutine, which respx awaits, and a sync call with a response.
Requests to any other host are refused by respx (`assert_all_mocked`), so nothing leaks out.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import httpx
import respx

from .inprocess import INPROCESS_BASE_URL, AsyncInProcessTransport, InProcessTransport

__all__ = ["ROUTE_NAME", "CozeRouter", "mock_coze"]

ROUTE_NAME = "coze"

_ASYNC_CALL: ContextVar[bool] = ContextVar("coze_harness_respx_async_call", default=False)


class CozeRouter(respx.MockRouter):
    """A respx router whose side effects can tell an async call from a sync one (see the module doc).

    `app` is the simulator app the `coze` route calls. Stopping the router (leaving its context)
    stops the sync transport's event loop, cancelling what still runs there; a new one starts if the
    router is started again (as a decorator, once per call).
    """

    app: Any
    transport: InProcessTransport
    async_transport: AsyncInProcessTransport

    async def async_handler(self, request: httpx.Request) -> httpx.Response:
        token = _ASYNC_CALL.set(True)
        try:
            return await super().async_handler(request)
        finally:
            _ASYNC_CALL.reset(token)

    def stop(self, clear: bool = True, reset: bool = True, quiet: bool = False) -> None:
        super().stop(clear=clear, reset=reset, quiet=quiet)
        transport = getattr(self, "transport", None)
        if transport is not None:
            transport.close()
            self.transport = InProcessTransport(self.app)


class _Simulate:
    """The route's side effect: one app call per request, so every call gets a new, whole stream."""

    def __init__(self, router: CozeRouter) -> None:
        self._router = router

    def __call__(self, request: httpx.Request) -> Any:
        if _ASYNC_CALL.get():
            return self._router.async_transport.handle_async_request(request)  # a coroutine: respx awaits it
        return self._router.transport.handle_request(request)


def mock_coze(
    app: Any = None,
    *,
    base_url: str = INPROCESS_BASE_URL,
    assert_all_called: bool = False,
    assert_all_mocked: bool = True,
) -> CozeRouter:
    """A respx router (use it as a context manager or decorator) sending every request under `base_url`
    to the simulator.

    `app` is a simulator app (`simulators.coze.create_app(...)`), a `simulators.coze.Catalogue` (served
    with the default config), or None for the built-in catalogue. The route is `router["coze"]`
    (`ROUTE_NAME`), with respx's call history; `router.app` is the app, for reading its state.
    """
    app = _app_of(app)
    router = CozeRouter(base_url=base_url, assert_all_called=assert_all_called, assert_all_mocked=assert_all_mocked)
    router.app = app
    router.transport = InProcessTransport(app)
    router.async_transport = AsyncInProcessTransport(app)
    router.route(name=ROUTE_NAME).side_effect = _Simulate(router)
    return router


def _app_of(app: Any) -> Any:
    from simulators.coze import Catalogue, create_app

    if app is None:
        return create_app()
    if isinstance(app, Catalogue):
        return create_app(app)
    if not callable(app):
        raise TypeError(f"mock_coze takes a simulator app, a Catalogue or None, not {type(app).__name__}")
    return app
