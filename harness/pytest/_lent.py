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
