"""Turning what a client sent and received into a redacted cassette.

`CassetteRecorder` wraps an httpx transport with `harness.recorder.RecordingTransport(wire=True)`,
the same recorder the probes use, which keeps each chunk's bytes and arrival offset. `cassette()`
builds the cassette and redacts it before returning, so a caller never holds a cassette with a
secret in it, let alone writes one.

Two things are normalised on the way: a gzip or deflate body is stored decoded (the client saw
the decoded bytes, and a compressed body could not be redacted), and the `Date` response header is
dropped (a clock reading nothing replays; without it re-recording gives the same file). A request
that failed before any response (connection refused, say) has nothing to replay and is listed in
the cassette's notes instead.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator, Callable, Iterable
from importlib import metadata
from typing import Any

import httpx

from .. import sdk
from ..clients import async_coze_client, coze_client
from ..recorder import Exchange, RecordingTransport
from .model import (
    Body,
    Cassette,
    CassetteError,
    CassetteInfo,
    Chunk,
    Headers,
    Interaction,
    RecordedRequest,
    RecordedResponse,
    Source,
    Status,
)
from .redaction import RedactionRules, Redactor

VOLATILE_RESPONSE_HEADERS = frozenset({"date"})


def _grouped(items: Iterable[tuple[str, str]], drop: frozenset[str] = frozenset()) -> Headers:
    headers: Headers = {}
    for name, value in items:
        if name.lower() not in drop:
            headers.setdefault(name.lower(), []).append(value)
    return headers


def _decoder(encoding: str) -> Callable[[bytes], bytes] | None:
    """An incremental decoder for a Content-Encoding, None for identity; refuses what it cannot read."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip", "deflate"):
        state = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib framing, detected
        return state.decompress
    raise CassetteError(
        f"cannot record a body with Content-Encoding {encoding!r}: it could not be redacted; "
        "send 'Accept-Encoding: gzip' (httpx adds br and zstd only when their packages are installed)"
    )


def versions() -> dict[str, str]:
    try:
        harness_version = metadata.version("coze-harness")
    except metadata.PackageNotFoundError:
        harness_version = "unknown"
    return {"cozepy": sdk.version(), "httpx": httpx.__version__, "coze-harness": harness_version}


def interaction_of(exchange: Exchange, base_url: str | None = None, written_base_url: str | None = None) -> Interaction:
    """One exchange as a cassette interaction, not yet redacted. `base_url` is rewritten as `written_base_url`."""
    wire = exchange.wire
    if wire is None or exchange.status is None:
        raise CassetteError(f"{exchange.method} {exchange.url} has no wire record or no response")
    uri = exchange.url
    if base_url and written_base_url and uri.startswith(base_url.rstrip("/")):
        uri = written_base_url.rstrip("/") + uri[len(base_url.rstrip("/")) :]
    try:
        request_body = wire.request_content.decode("utf-8") if wire.request_content else None
    except UnicodeDecodeError as exc:
        raise CassetteError(
            f"{exchange.method} {exchange.url}: a request body that is not UTF-8 cannot be stored"
        ) from exc
    request_headers = _grouped(wire.request_headers)
    if written_base_url and "host" in request_headers:
        request_headers["host"] = [httpx.URL(written_base_url).netloc.decode("ascii")]
    request = RecordedRequest(method=exchange.method, uri=uri, body=request_body, headers=request_headers)
    headers = _grouped(wire.response_headers, VOLATILE_RESPONSE_HEADERS)
    decode = _decoder(",".join(headers.get("content-encoding", [])))
    chunks = list(wire.chunks)
    if decode is not None:
        chunks = [(at, decode(piece)) for at, piece in chunks]
        headers.pop("content-encoding", None)
        headers.pop("content-length", None)
    error = f"{wire.stream_error[0]}: {wire.stream_error[1]}" if wire.stream_error else None
    response_stub = RecordedResponse(status=Status(code=exchange.status), headers=headers, body=Body(string=""))
    if response_stub.is_event_stream:
        body = Body(
            chunks=[Chunk.of(at, piece) for at, piece in chunks if piece],
            complete=exchange.complete,
            error=error,
        )
    else:
        body = Body.whole(b"".join(piece for _, piece in chunks)).model_copy(
            update={"complete": exchange.complete, "error": error}
        )
    if decode is not None and not body.is_stream:
        headers["content-length"] = [str(len(body.data))]
    response = RecordedResponse(
        status=Status(code=exchange.status, message=wire.reason_phrase),
        headers=headers,
        body=body,
        at=round(wire.response_at, 6) if wire.response_at is not None else None,
    )
    return Interaction(request=request, response=response)


class _AsyncOverSyncStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = iter(self._inner)
        while True:
            chunk = await asyncio.to_thread(next, chunks, None)
            if chunk is None:
                return
            yield chunk

    async def aclose(self) -> None:
        await asyncio.to_thread(self._inner.close)


class AsyncOverSyncTransport(httpx.AsyncBaseTransport):
    """Serves an async httpx client through a sync transport (a recorder), off the event loop.

    The request body is read on the loop; sending, each chunk of the answer and closing it run in
    worker threads, so the loop never blocks on the network. `aclose` does not close `inner`.
    """

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        response = await asyncio.to_thread(self.inner.handle_request, request)
        stream = response.stream
        if not isinstance(stream, httpx.SyncByteStream):  # pragma: no cover - sync transports give one
            raise TypeError(f"{type(self.inner).__name__} answered with a stream that is not synchronous")
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_AsyncOverSyncStream(stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        return None


class CassetteRecorder:
    """Records through `transport`; `cassette()` gives the redacted result.

    `secrets` are values to hide wherever they appear (the token you authenticated with, say);
    they are learned first, so the first token is always `REDACTED-TOKEN-1`.
    """

    def __init__(
        self,
        inner: httpx.BaseTransport | None = None,
        *,
        rules: RedactionRules | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        self.transport = RecordingTransport(inner, wire=True)
        self.rules = rules or RedactionRules()
        self._secrets = [secret for secret in secrets if secret]

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(transport=self.transport, **kwargs)

    def async_transport(self) -> httpx.AsyncBaseTransport:
        """The same recording for an async client: each blocking step runs in a worker thread.

        Closing it leaves the recorder's transport open (a sync client may share it): close
        `transport` when done.
        """
        return AsyncOverSyncTransport(self.transport)

    def cassette(
        self,
        *,
        source: Source,
        base_url: str,
        written_base_url: str | None = None,
        flow: str | None = None,
        ids: dict[str, str] | None = None,
        outcome: dict[str, Any] | None = None,
        simulator_seed: int | None = None,
        notes: Iterable[str] = (),
    ) -> Cassette:
        """Everything recorded so far, redacted. `base_url` is written as `written_base_url` if given."""
        interactions: list[Interaction] = []
        all_notes = list(notes)
        self.transport.drain_unread()
        for exchange in self.transport.exchanges:
            if exchange.status is None:
                path = httpx.URL(exchange.url).path  # not the query: it was never learned from, so never redacted
                all_notes.append(f"{exchange.method} {path} failed before a response: {exchange.error}")
                continue
            interactions.append(interaction_of(exchange, base_url, written_base_url))
        info = CassetteInfo(
            flow=flow,
            source=source,
            base_url=written_base_url or base_url,
            simulator_seed=simulator_seed,
            recorded_with=versions(),
            ids=dict(ids or {}),
            outcome=outcome,
            notes=all_notes,
        )
        raw = Cassette(coze_harness=info, interactions=interactions)
        return Redactor(self.rules, self._secrets).redact(raw)


class FlowUnavailableError(CassetteError):
    """The installed cozepy cannot run the flow (a capability gap, read by `harness.sdk`)."""


def cozepy_client(transport: httpx.BaseTransport, base_url: str, token: str) -> Any:
    """A real `cozepy.Coze` whose HTTP goes through `transport` (recording or replaying)."""
    return coze_client(transport, base_url=base_url, token=token)


def async_cozepy_client(transport: httpx.AsyncBaseTransport, base_url: str, token: str) -> Any:
    """A real `cozepy.AsyncCoze` (0.3.0+) whose HTTP goes through `transport`."""
    return async_coze_client(transport, base_url=base_url, token=token)


def record_flow(
    name: str,
    *,
    base_url: str | None = None,
    token: str | None = None,
    ids: dict[str, str] | None = None,
    given: Any = None,
    rules: RedactionRules | None = None,
    seed: int | None = None,
    secrets: Iterable[str] = (),
    catalogue: Any = None,
) -> Cassette:
    """Run flow `name` with the installed cozepy, recording it; the redacted cassette.

    Without `base_url` the flow runs against a fresh embedded simulator on loopback, seeded, so the
    same flow gives the same bytes (the simulator accepts `token`, by default its dev token). With
    `base_url` it runs against that server, which needs a real `token`; the token is learned as a
    secret first, so it is `REDACTED-TOKEN-1` wherever it appears. `secrets` are more values to hide;
    `catalogue` (a `simulators.coze.Catalogue`) replaces the simulator's built-in one.
    """
    from simulators.coze import DEFAULT_TOKEN, SimConfig, TokenGrant, create_app, running

    from .flows import FLOWS, FlowInput, run_flow
    from .model import SIMULATOR_BASE_URL

    flow = FLOWS[name]
    gap = flow.gap()
    if gap is not None:
        raise FlowUnavailableError(f"cannot record {name}: {gap}")
    given = given if given is not None else FlowInput()
    effective_ids = {**flow.roles, **(ids or {})}
    recorder = CassetteRecorder(rules=rules, secrets=[*([token] if token else []), *secrets])
    if base_url is not None:
        if not token:
            raise CassetteError("recording against a real base URL needs a token (COZE_API_TOKEN)")
        coze = cozepy_client(recorder.transport, base_url, token)
        outcome = run_flow(name, coze, effective_ids, given)
        return recorder.cassette(source="coze", base_url=base_url, flow=name, ids=effective_ids, outcome=outcome)
    config = SimConfig() if seed is None else SimConfig(seed=seed)
    sim_token = token or DEFAULT_TOKEN
    config = config.model_copy(update={"tokens": [TokenGrant(token=sim_token)]})
    with running(create_app(catalogue, config)) as sim:
        coze = cozepy_client(recorder.transport, sim.base_url, sim_token)
        outcome = run_flow(name, coze, effective_ids, given)
    return recorder.cassette(
        source="simulator",
        base_url=sim.base_url,
        written_base_url=SIMULATOR_BASE_URL,
        flow=name,
        ids=effective_ids,
        outcome=outcome,
        simulator_seed=config.seed,
    )
