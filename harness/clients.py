"""A real `cozepy` client whose HTTP goes through a given httpx transport: the one place that builds it.

The probes (through a recording transport), cassette recording and replay, the in-process
transport, the pytest plugin and the tests all need "a `cozepy.Coze` over this transport". What
differs between cozepy releases is decided here once, for every release from 0.2.0:

- `Coze(http_client=...)` takes cozepy's own `httpx.Client` subclass: `HTTPClient` before 0.6,
  `SyncHTTPClient` from then on. It is built with `transport=` and a bounded timeout (cozepy's own
  default read timeout is 600 s, which turns a server that stops answering into a ten-minute hang).
- `AsyncCoze` (0.3.0+) takes `AsyncHTTPClient` (0.6+) or a plain `httpx.AsyncClient` before, and its
  auth is `AsyncTokenAuth` where that exists (`TokenAuth` serves both before it did).
- Every cozepy release builds its `httpx.Request` itself and calls `client.send(request)`; httpx
  applies the client's timeout there only from 0.27 (encode/httpx#3116). Under httpx 0.24, the line
  cozepy 0.2-0.5 requires, such a request had no timeout at all: a stalled server hung the client
  until it closed the connection. The clients here fill in their timeout (a request hook) when a request
  has none, so the timeout given is the one in force on every release.

With `transport=None` the clients use httpx's own socket transport.

The conveniences elsewhere are this, with defaults filled in: `harness.transports.inprocess.coze_over` (the
in-process base URL and the simulator's dev token), `harness.cassettes.cozepy_client` (a recording or
replaying transport), the cozepy driver the report runs (`harness.drivers.cozepy`) and the pytest plugin's
`coze_client` fixture; none has a timeout of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

__all__ = [
    "CLIENT_TIMEOUT",
    "async_coze_client",
    "async_coze_client_and_http",
    "async_http_client",
    "coze_client",
    "coze_client_and_http",
    "sync_http_client",
]

CLIENT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
"""The one client timeout: every cozepy client the harness builds (probes, cassette recording and replay,
the in-process helpers, the pytest plugin's fixtures) waits at most this long to connect and between two
reads. Far below cozepy's own 600 s, so a server that stops answering fails a run instead of hanging it;
a read timeout bounds the wait between chunks, not a whole stream."""


def _timeout_filler(timeout: httpx.Timeout) -> Callable[[httpx.Request], None]:
    """A request hook that gives a request without a timeout the client's (see the module docstring).
    A hook rather than a transport wrapper, so that a client without a transport keeps httpx's own,
    with its proxy settings from the environment."""
    values = timeout.as_dict()

    def fill(request: httpx.Request) -> None:
        if "timeout" not in request.extensions:
            request.extensions = {**request.extensions, "timeout": values}

    return fill


def sync_http_client(transport: httpx.BaseTransport | None = None, *, timeout: httpx.Timeout = CLIENT_TIMEOUT) -> Any:
    """cozepy's own `httpx.Client` subclass (`HTTPClient` up to 0.5, `SyncHTTPClient` from 0.6), which
    `Coze(http_client=...)` is typed for, over `transport` (httpx's socket transport when None)."""
    import cozepy

    client_class = getattr(cozepy, "SyncHTTPClient", None) or getattr(cozepy, "HTTPClient")  # noqa: B009
    hooks = {"request": [_timeout_filler(timeout)]}
    return client_class(transport=transport, timeout=timeout, event_hooks=hooks)


def async_http_client(
    transport: httpx.AsyncBaseTransport | None = None,
    *,
    timeout: httpx.Timeout = CLIENT_TIMEOUT,
    limits: httpx.Limits | None = None,
) -> Any:
    """cozepy's `httpx.AsyncClient` subclass (`AsyncHTTPClient`, 0.6+; a plain `AsyncClient` before)."""
    import cozepy

    fill = _timeout_filler(timeout)

    async def fill_async(request: httpx.Request) -> None:
        fill(request)

    client_class: Any = getattr(cozepy, "AsyncHTTPClient", None) or httpx.AsyncClient
    options: dict[str, Any] = {"transport": transport, "timeout": timeout, "event_hooks": {"request": [fill_async]}}
    if limits is not None:
        options["limits"] = limits
    return client_class(**options)


def coze_client(
    transport: httpx.BaseTransport | None,
    *,
    base_url: str,
    token: str,
    timeout: httpx.Timeout = CLIENT_TIMEOUT,
) -> Any:
    """A real `cozepy.Coze` at `base_url` whose HTTP goes through `transport`.

    cozepy keeps its HTTP client private: close the transport (or use `coze_client_and_http`) when done.
    """
    return coze_client_and_http(transport, base_url=base_url, token=token, timeout=timeout)[0]


def coze_client_and_http(
    transport: httpx.BaseTransport | None,
    *,
    base_url: str,
    token: str,
    timeout: httpx.Timeout = CLIENT_TIMEOUT,
) -> tuple[Any, Any]:
    """`coze_client`, and the httpx client under it (for the caller to close)."""
    import cozepy

    http = sync_http_client(transport, timeout=timeout)
    return cozepy.Coze(auth=cozepy.TokenAuth(token), base_url=base_url, http_client=http), http


def async_coze_client(
    transport: httpx.AsyncBaseTransport | None,
    *,
    base_url: str,
    token: str,
    timeout: httpx.Timeout = CLIENT_TIMEOUT,
    limits: httpx.Limits | None = None,
) -> Any:
    """A real `cozepy.AsyncCoze` (0.3.0+) at `base_url` whose HTTP goes through `transport`."""
    return async_coze_client_and_http(transport, base_url=base_url, token=token, timeout=timeout, limits=limits)[0]


def async_coze_client_and_http(
    transport: httpx.AsyncBaseTransport | None,
    *,
    base_url: str,
    token: str,
    timeout: httpx.Timeout = CLIENT_TIMEOUT,
    limits: httpx.Limits | None = None,
) -> tuple[Any, Any]:
    """`async_coze_client`, and the `httpx.AsyncClient` under it (for the caller to `aclose`)."""
    import cozepy

    if not hasattr(cozepy, "AsyncCoze"):
        raise RuntimeError(f"cozepy {getattr(cozepy, '__version__', '?')} has no AsyncCoze (it arrived in 0.3.0)")
    auth = getattr(cozepy, "AsyncTokenAuth", cozepy.TokenAuth)(token)
    http = async_http_client(transport, timeout=timeout, limits=limits)
    return cozepy.AsyncCoze(auth=auth, base_url=base_url, http_client=http), http
