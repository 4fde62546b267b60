"""Record what a client sent and received, bytes included, without changing how it behaves.

A probe's verdict is only as good as its evidence, so the evidence is taken on the transport: the
request as it left the SDK and the response bytes in the order they arrived. The recording
transport wraps httpx's own, so it works with every httpx a supported cozepy release pins.

Cassettes need more than a probe's text evidence: the exact bytes, where each chunk ended and when
it arrived (vcrpy drains a stream into one body and keeps neither). `RecordingTransport(wire=True)`
keeps those in `Exchange.wire`, secrets included, for `harness.cassettes` to redact before anything
is written; the wire record is never part of an exchange's dump.
"""

from __future__ import annotations

import contextlib
import os
import re
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, Field

REDACTED = "***"
_SECRET_HEADERS = {"authorization", "cookie", "set-cookie", "x-api-key"}
MAX_BODY_CHARS = 200_000


class WireRecord(BaseModel):
    """The exchange as bytes on a clock, for cassettes. Holds secrets: redact before writing it anywhere.

    Offsets are seconds since the request was handed to the transport (a monotonic clock), taken
    when each chunk reached the caller, so they show the pace the client saw.
    """

    request_headers: list[tuple[str, str]] = Field(default_factory=list)
    request_content: bytes = b""
    reason_phrase: str = ""
    response_headers: list[tuple[str, str]] = Field(default_factory=list)
    response_at: float | None = Field(None, description="when the status line and headers arrived")
    chunks: list[tuple[float, bytes]] = Field(default_factory=list, description="(offset, bytes) as they arrived")
    stream_error: tuple[str, str] | None = Field(
        None, description="(exception type, message) when the body broke off midway"
    )


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
    wire: WireRecord | None = Field(None, exclude=True, repr=False)


def _headers(headers: httpx.Headers) -> dict[str, str]:
    return {key.lower(): (REDACTED if key.lower() in _SECRET_HEADERS else value) for key, value in headers.items()}


def _text(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace")
    return text if len(text) <= MAX_BODY_CHARS else text[:MAX_BODY_CHARS] + f"... [{len(text)} chars]"


class _Log:
    def __init__(self, wire: bool) -> None:
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        self._wire = wire

    def start(self, request: httpx.Request) -> Exchange:
        if self._wire:
            request.read()  # a cassette needs the body even when it was streamed; read() keeps it sendable
        body = request.content if isinstance(request.stream, httpx.ByteStream) else b""
        exchange = Exchange(
            method=request.method,
            url=str(request.url),
            request_headers=_headers(request.headers),
            request_body=_text(body),
        )
        if self._wire:
            exchange.wire = WireRecord(request_headers=list(request.headers.multi_items()), request_content=body)
        with self._lock:
            self.exchanges.append(exchange)
        return exchange


def _begin(exchange: Exchange, response: httpx.Response, started: float) -> None:
    exchange.status = response.status_code
    exchange.response_headers = _headers(response.headers)
    if exchange.wire is not None:
        exchange.wire.reason_phrase = response.reason_phrase
        exchange.wire.response_headers = list(response.headers.multi_items())
        exchange.wire.response_at = time.perf_counter() - started


class _SyncTee(httpx.SyncByteStream):
    def __init__(self, inner: Any, exchange: Exchange, started: float) -> None:
        self._inner = inner
        self._exchange = exchange
        self._started = started
        self._buffer = bytearray()
        self._read = False
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        self._read = True
        wire = self._exchange.wire
        try:
            for chunk in self._inner:
                if wire is not None:
                    wire.chunks.append((time.perf_counter() - self._started, bytes(chunk)))
                self._buffer += chunk
                self._exchange.response_body = _text(bytes(self._buffer))
                yield chunk
        except Exception as exc:  # not GeneratorExit: a client that stops reading early broke nothing
            if wire is not None:
                wire.stream_error = (type(exc).__name__, str(exc))
            raise
        self._exchange.complete = True

    def drain_unread(self) -> None:
        """Read a JSON answer the client never read (cozepy 0.6 raises on an error envelope without
        reading it), so a cassette still holds its body. A stream is never drained: it may not end."""
        content_type = self._exchange.response_headers.get("content-type", "")
        if self._read or self._closed or content_type.startswith("text/event-stream"):
            return
        with contextlib.suppress(Exception):
            for _ in self:
                pass

    def close(self) -> None:
        if self._exchange.wire is not None:
            self.drain_unread()
        self._closed = True
        self._inner.close()


_TLS_LOCK = threading.Lock()
_TLS_CONTEXTS: dict[tuple[str | None, str | None], ssl.SSLContext] = {}


def default_transport() -> httpx.HTTPTransport:
    """httpx's default transport, sharing one default SSL context instead of making one each time.

    Making one loads the certificate bundle (about 50 ms here) and a report makes a client for every
    run it drives (25 of them), nearly all over plain HTTP. The context is the one httpx would make,
    once per process and per `SSL_CERT_FILE` / `SSL_CERT_DIR` in force (httpx reads both when it makes
    one, and `harness.trust` sets the first around a run).
    """
    return httpx.HTTPTransport(verify=shared_ssl_context())


def shared_ssl_context() -> ssl.SSLContext:
    """The SSL context httpx would make by default, made once per process and per `SSL_CERT_FILE` /
    `SSL_CERT_DIR` in force (see `default_transport`)."""
    key = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    with _TLS_LOCK:
        context = _TLS_CONTEXTS.get(key)
        if context is None:
            context = _TLS_CONTEXTS[key] = httpx.create_ssl_context()
    return context


class RecordingTransport(httpx.BaseTransport):
    """Wraps a sync transport; `exchanges` grows as requests go out and bytes come back.

    With `wire=True` every exchange also carries a `WireRecord` (raw headers, exact bytes, chunk
    boundaries and arrival offsets), which is what a cassette is made from.
    """

    def __init__(self, inner: httpx.BaseTransport | None = None, *, wire: bool = False) -> None:
        self._inner = inner or default_transport()
        self._log = _Log(wire)
        self._wire = wire
        self._tees: list[_SyncTee] = []

    @property
    def exchanges(self) -> list[Exchange]:
        return self._log.exchanges

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        exchange = self._log.start(request)
        try:
            response = self._inner.handle_request(request)
        except Exception as exc:
            exchange.error = f"{type(exc).__name__}: {exc}"
            raise
        _begin(exchange, response, started)
        tee = _SyncTee(response.stream, exchange, started)
        if self._wire:
            self._tees.append(tee)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=tee,
            extensions=response.extensions,
        )

    def drain_unread(self) -> None:
        """With `wire=True`: read the JSON answers the client left unread and unclosed (see `_SyncTee`)."""
        for tee in self._tees:
            tee.drain_unread()

    def close(self) -> None:
        self._inner.close()


# The run-specific parts of evidence. The same SDK against the same simulator must record the same
# evidence, so these are normalised where evidence enters the report (`harness.reporting`).
VOLATILE_HEADERS = frozenset({"date"})  # the server's wall clock; the body's timestamps are the logical clock
LOGID_HEADER = "x-tt-logid"
_LOGID_SHAPE = r"\b\d{14}[0-9A-F]{20}\b"  # the platform's: a UTC timestamp and 20 upper-case hex digits
_LOOPBACK_PORT = re.compile(r"\b(127\.0\.0\.1|localhost|\[::1\]):\d{4,5}\b")
EPHEMERAL_PORT = "EPHEMERAL_PORT"


class Normaliser:
    """Turns one run's evidence into what any run of the same SDK and simulator records.

    - the loopback servers' ephemeral ports become names (`servers` maps a base URL to one, e.g.
      `http://127.0.0.1:41234` -> `PORT`), in URLs, `host` headers, bodies and messages alike; any other
      loopback port becomes `EPHEMERAL_PORT`;
    - the `date` header is dropped;
    - log ids (the `x-tt-logid` header's values and anything shaped like one) become `LOGID-1`, `LOGID-2`...
      by order of first appearance, the same id getting the same name everywhere, so a header still
      visibly matches the `detail.logid` of its body.

    Use one normaliser per run: the log id names run across everything it normalises.
    """

    def __init__(self, servers: Mapping[str, str] | None = None) -> None:
        self._hosts: dict[str, str] = {}
        for url, name in (servers or {}).items():
            parts = urlsplit(url)
            if parts.hostname and parts.port:
                self._hosts[parts.netloc] = f"{parts.netloc.rsplit(':', 1)[0]}:{name}"
        self._host_patterns = [
            (re.compile(re.escape(netloc) + r"(?!\d)"), name) for netloc, name in self._hosts.items()
        ]
        self._known_logids: set[str] = set()
        self._logids: dict[str, str] = {}
        self._logid_pattern: tuple[int, re.Pattern[str]] | None = None  # for how many known ids it was built

    def learn(self, data: object) -> None:
        """Note the log ids `data` (a JSON-like tree) holds in `x-tt-logid` headers, whatever their shape."""
        if isinstance(data, dict):
            for key, value in data.items():
                if key == LOGID_HEADER and isinstance(value, str) and value:
                    self._known_logids.add(value)
                self.learn(value)
        elif isinstance(data, list):
            for item in data:
                self.learn(item)

    def _logid(self, match: re.Match[str]) -> str:
        value = match.group(0)
        return self._logids.setdefault(value, f"LOGID-{len(self._logids) + 1}")

    def text(self, text: str) -> str:
        for pattern, name in self._host_patterns:
            text = pattern.sub(name, text)
        text = _LOOPBACK_PORT.sub(lambda match: f"{match.group(1)}:{EPHEMERAL_PORT}", text)
        return self._logid_regex().sub(self._logid, text)

    def _logid_regex(self) -> re.Pattern[str]:
        """The known log ids (longest first) or anything shaped like one, compiled again only when an id was
        learnt since (the set only grows, so its size says whether it changed)."""
        if self._logid_pattern is None or self._logid_pattern[0] != len(self._known_logids):
            known = "|".join(re.escape(value) for value in sorted(self._known_logids, key=len, reverse=True))
            pattern = re.compile(f"{known}|{_LOGID_SHAPE}" if known else _LOGID_SHAPE)
            self._logid_pattern = (len(self._known_logids), pattern)
        return self._logid_pattern[1]

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {key: value for key, value in headers.items() if key.lower() not in VOLATILE_HEADERS}

    def value(self, data: Any) -> Any:
        """A JSON-like tree with every string normalised, in order (keys are left as they are)."""
        if isinstance(data, str):
            return self.text(data)
        if isinstance(data, dict):
            return {key: self.value(item) for key, item in data.items()}
        if isinstance(data, list):
            return [self.value(item) for item in data]
        return data

    def exchange(self, exchange: Exchange) -> Exchange:
        """One exchange normalised (its wire record, for cassettes, is left out)."""
        data = exchange.model_dump(mode="json")
        self.learn(data)
        data["request_headers"] = self.headers(data["request_headers"])
        data["response_headers"] = self.headers(data["response_headers"])
        return Exchange.model_validate(self.value(data))
