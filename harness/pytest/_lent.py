"""A transport lent to a client (a module apart so that loading the plugin does not import httpx)."""

from __future__ import annotations

import httpx


class LentTransport(httpx.BaseTransport):
    """Requests go through to `inner`; the borrowing client's `close()` leaves `inner` open for the next one."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._inner.handle_request(request)

    def close(self) -> None:
        pass


def all_idle(transport: httpx.BaseTransport) -> bool:
    """Are all the connections of httpx's socket transport idle (none holding an unread or unclosed
    response)? httpcore's pool lists them (`connections`, `is_idle()`) on every release httpx 0.24+ uses;
    a transport that does not is taken as busy."""
    pool = getattr(transport, "_pool", None)
    connections = getattr(pool, "connections", None)
    if connections is None:
        return False
    return all(connection.is_idle() for connection in list(connections))
