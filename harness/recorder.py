"""Record what a client sent and received, bytes included, without changing how it behaves.

A probe's verdict is only as good as its evidence, so the evidence is taken on the transport: the
request as it left the SDK and the response bytes in the order they arrived. The recording
transport wraps httpx's own, so it works with every httpx a supported cozepy release pins.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
from pydantic import BaseModel, Field

REDACTED = "***"
_SECRET_HEADERS = {"authorization", "cookie", "set-cookie", "x-api-key"}
MAX_BODY_CHARS = 200_000


class Exchange(BaseModel):
    """One HTTP request and its response, as text (bodies are UTF-8 JSON or SSE on this API)."""

    method: str
    url: str
    request_headers: dict[str, str] = Field(default_factory=dict)
    request_body: str = ""
    status: int | None = None
    response_headers: dict[str, str] = Field(default_factory=dict)
    response_body: str = ""
    complete: bool = Field(False, description="the response body was read to its end")
    error: str | None = None


def _headers(headers: httpx.Headers) -> dict[str, str]:
    return {key.lower(): (REDACTED if key.lower() in _SECRET_HEADERS else value) for key, value in headers.items()}


def _text(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace")
    return text if len(text) <= MAX_BODY_CHARS else text[:MAX_BODY_CHARS] + f"... [{len(text)} chars]"


class _Log:
    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()

    def start(self, request: httpx.Request) -> Exchange:
        body = request.content if isinstance(request.stream, httpx.ByteStream) else b""
        exchange = Exchange(
            method=request.method,
            url=str(request.url),
            request_headers=_headers(request.headers),
            request_body=_text(body),
        )
        with self._lock:
            self.exchanges.append(exchange)
        return exchange


def _begin(exchange: Exchange, response: httpx.Response) -> None:
    exchange.status = response.status_code
    exchange.response_headers = _headers(response.headers)


class _SyncTee(httpx.SyncByteStream):
    def __init__(self, inner: Any, exchange: Exchange) -> None:
        self._inner = inner
        self._exchange = exchange
        self._buffer = bytearray()

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            self._buffer += chunk
            self._exchange.response_body = _text(bytes(self._buffer))
            yield chunk
        self._exchange.complete = True

    def close(self) -> None:
        self._inner.close()


class RecordingTransport(httpx.BaseTransport):
    """Wraps a sync transport; `exchanges` grows as requests go out and bytes come back."""

    def __init__(self, inner: httpx.BaseTransport | None = None) -> None:
        self._inner = inner or httpx.HTTPTransport()
        self._log = _Log()

    @property
    def exchanges(self) -> list[Exchange]:
        return self._log.exchanges

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        exchange = self._log.start(request)
        try:
            response = self._inner.handle_request(request)
        except Exception as exc:
            exchange.error = f"{type(exc).__name__}: {exc}"
            raise
        _begin(exchange, response)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_SyncTee(response.stream, exchange),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._inner.close()
