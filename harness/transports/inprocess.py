"""In-process HTTP: the simulator's ASGI app served to httpx inside the test process, with no socket.

Why not `httpx.ASGITransport` or Starlette's TestClient: both collect the whole body before the
caller sees a byte, so a stream that a client must react to while it is open (a chat stopping on
`requires_action`, a workflow interrupt answered while the first stream is still open, pacing from
`SimConfig(event_delay_seconds=...)`) behaves differently in process than over a socket. These
transports hand the body over chunk by chunk, as the app sends it, through a bounded queue, so the
app feels back-pressure and the caller sees each event when the app emits it.

- `AsyncInProcessTransport(app)` (`httpx.AsyncBaseTransport`): runs the app as a task on the
  caller's event loop (asyncio).
- `InProcessTransport(app)` (`httpx.BaseTransport`): runs the app on an event loop of its own in a
  background thread; the caller's thread takes chunks from the queue.

Both behave like the uvicorn server the simulator runs on, so a test sees the same thing in both
places: a response is streamed as sent; closing it early tells the app `http.disconnect` (then
cancels it, bounded); an app that fails before answering gives a 500 `Internal Server Error`, one
that fails midway breaks the body off (`httpx.RemoteProtocolError`, as a socket closed early would).
Every wait is bounded: by the request's read timeout (as on a socket), or `default_wait` seconds
when the request has none (cozepy 0.2 builds requests with no timeout at all). A caller that takes
nothing for that long is treated as gone, so an abandoned response cannot hold the app forever.

`coze_over(transport)` / `async_coze_over(transport)` build a real `cozepy.Coze` / `AsyncCoze` on
top, for every cozepy release, with `harness.clients` (which also provides `sync_http_client` and
`async_http_client`, re-exported here).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import unquote

import httpx

from ..clients import CLIENT_TIMEOUT, async_coze_client, async_http_client, coze_client, sync_http_client

__all__ = [
    "CLIENT_TIMEOUT",
    "DEFAULT_WAIT_SECONDS",
    "INPROCESS_BASE_URL",
    "QUEUE_CHUNKS",
    "AsyncInProcessTransport",
    "InProcessTransport",
    "async_coze_over",
    "async_http_client",
    "coze_over",
    "dev_token",
    "sync_http_client",
]

_log = logging.getLogger("harness.inprocess")

ASGIMessage = MutableMapping[str, Any]
ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[ASGIMessage]], Callable[[ASGIMessage], Awaitable[None]]],
    Awaitable[None],
]
T = TypeVar("T")

INPROCESS_BASE_URL = "http://inprocess.coze-simulator.invalid"
"""The base URL in-process clients use: any URL works (the transport never opens a socket), and a
`.invalid` host can never resolve, so a request that escaped the transport would fail loudly."""

DEFAULT_WAIT_SECONDS = 60.0
"""The longest wait for the app's next message when the request carries no read timeout."""

CLOSE_GRACE_SECONDS = 5.0
"""How long the app of a response closed before its end gets to finish after `http.disconnect` before it is
cancelled. The app of a response read to its end winds down on its own, as behind a server; what it still
runs when the transport closes is cancelled then (the same grace)."""

QUEUE_CHUNKS = 256
"""Response parts held between the app and the caller; a full queue makes the app's `send` wait. About
what a loopback socket buffers (a few hundred events of a chat stream), so a reader that keeps up is
never the one slowing the app down, and each hop carries a batch."""


# --- one request, on the loop that runs the app ---------------------------------------------------


@dataclass(frozen=True)
class _Start:
    status: int
    headers: list[tuple[bytes, bytes]]


@dataclass(frozen=True)
class _End:
    """The body ended: `error` is None when the app sent its last chunk, else why it broke off."""

    error: BaseException | None = None


_Part = _Start | bytes | _End


class _AppRun:
    """One request served by the app: ASGI `receive`/`send` on one side, a bounded queue on the other.

    Lives on the event loop that runs the app; every method must be called there.
    """

    def __init__(self, app: ASGIApp, request: httpx.Request, body: bytes, wait: float) -> None:
        self.app = app
        self.request = request
        self.request_body = body
        self.wait = wait
        # Unbounded as a queue; `_offer` keeps queued + `held` within QUEUE_CHUNKS.
        self.queue: asyncio.Queue[_Part] = asyncio.Queue()
        self.held = 0  # parts handed to a sync caller in one batch and not yet taken by it
        self.room = asyncio.Event()  # set whenever the caller takes parts or goes
        self.gone = asyncio.Event()  # the client closed the response, or stopped reading
        self.finished = asyncio.Event()  # the app sent its last body chunk
        self.over = asyncio.Event()  # either of the two: what `receive` answers with `http.disconnect`
        self.body_delivered = False
        self.started = False
        self.task: asyncio.Task[None] | None = None

    def scope(self) -> dict[str, Any]:
        url = self.request.url
        default_port = 443 if url.scheme == "https" else 80
        raw_path = url.raw_path.split(b"?", 1)[0]
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},  # what uvicorn declares
            "http_version": "1.1",
            "method": self.request.method,
            "scheme": url.scheme,
            "path": unquote(raw_path.decode("ascii")),  # as uvicorn does; `url.path` is decoded already
            "raw_path": raw_path,
            "query_string": url.query,
            "root_path": "",
            "headers": [(key.lower(), value) for key, value in self.request.headers.raw],
            "server": (url.host, url.port or default_port),
            "client": ("127.0.0.1", 0),
            "extensions": {},
        }

    def begin(self) -> asyncio.Task[None]:
        self.task = asyncio.get_running_loop().create_task(self._serve(), name="coze-harness in-process request")
        return self.task

    async def receive(self) -> ASGIMessage:
        if not self.body_delivered:
            self.body_delivered = True
            return {"type": "http.request", "body": self.request_body, "more_body": False}
        # Like uvicorn: the next message is a disconnect, once the client has left or the response is done.
        await self.over.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: ASGIMessage) -> None:
        if self.gone.is_set():
            return  # like uvicorn (ASGI spec 2.3): messages after a disconnect are dropped
        kind = message["type"]
        if not self.started:
            if kind != "http.response.start":
                raise RuntimeError(f"Expected ASGI message 'http.response.start', but got '{kind}'.")
            self.started = True
            headers = [(bytes(key), bytes(value)) for key, value in message.get("headers", [])]
            await self._offer(_Start(int(message["status"]), headers))
        elif not self.finished.is_set():
            if kind != "http.response.body":
                raise RuntimeError(f"Expected ASGI message 'http.response.body', but got '{kind}'.")
            body = bytes(message.get("body", b""))
            if body and self.request.method != "HEAD":
                await self._offer(body)
            if not message.get("more_body", False):
                # Queue the end before `finished` wakes `receive`: Starlette answers the disconnect that
                # follows by cancelling this very send, and an end lost that way would leave the caller
                # waiting for a body that is complete.
                await self._offer(_End())
                self._finish()
        else:
            raise RuntimeError(f"Unexpected ASGI message '{kind}' sent, after response already completed.")

    async def _offer(self, part: _Part) -> None:
        """Queue a part; a caller that takes nothing for `wait` seconds is treated as gone, like a
        socket whose peer stopped reading, so an abandoned response cannot hold the app forever."""
        if self.gone.is_set():
            return
        if not self._full():
            self.queue.put_nowait(part)  # no suspension point when there is room
            return
        try:
            await asyncio.wait_for(self._room(), self.wait)
        except asyncio.TimeoutError:
            _log.warning("%s %s: the client read nothing for %g s; disconnecting", *self._what(), self.wait)
            self._go()
            return
        if not self.gone.is_set():
            self.queue.put_nowait(part)

    def _full(self) -> bool:
        return self.queue.qsize() + self.held >= QUEUE_CHUNKS

    async def _room(self) -> None:
        while self._full() and not self.gone.is_set():
            self.room.clear()
            await self.room.wait()

    async def _serve(self) -> None:
        try:
            await self.app(self.scope(), self.receive, self.send)
        except Exception as exc:
            _log.error("Exception in ASGI application (%s %s)", *self._what(), exc_info=exc)
            if not self.started:
                await self._internal_error()
            elif not self.finished.is_set():
                await self._offer(_End(_broken(self.request, f"the app raised {type(exc).__name__}: {exc}")))
            return
        if not self.started and not self.gone.is_set():
            _log.error("ASGI callable returned without starting response (%s %s)", *self._what())
            await self._internal_error()
        elif not self.finished.is_set():
            await self._offer(_End(_broken(self.request, "the app returned without completing the response")))

    async def _internal_error(self) -> None:
        """What uvicorn answers when the app fails before it started a response."""
        self.started = True
        await self._offer(_Start(500, [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]))
        await self._offer(b"Internal Server Error")
        await self._offer(_End())
        self._finish()

    def _finish(self) -> None:
        self.finished.set()
        self.over.set()

    def _go(self) -> None:
        self.gone.set()
        self.over.set()

    def _what(self) -> tuple[str, str]:
        return self.request.method, str(self.request.url)

    async def next_part(self) -> _Part:
        """The next part the app sent, waiting at most `wait` seconds (`httpx.ReadTimeout` after)."""
        if not self.queue.empty():  # no timer and no task when the part is already there
            self.room.set()
            return self.queue.get_nowait()
        try:
            part = await asyncio.wait_for(self.queue.get(), self.wait)
        except asyncio.TimeoutError:
            self.abort()
            raise httpx.ReadTimeout(
                f"the in-process app sent nothing for {self.wait:g} s ({self.request.method} {self.request.url})",
                request=self.request,
            ) from None
        self.room.set()
        return part

    async def ready_parts(self) -> list[_Part]:
        """The parts the app can send without waiting on anything: taken right after the response start,
        so a short response travels back with its headers in one hop. It lets the loop run twice (the
        body is produced by another task) and never waits for more."""
        for _ in range(2):
            await asyncio.sleep(0)
        parts: list[_Part] = []
        while not self.queue.empty():
            parts.append(self.queue.get_nowait())
        self.held = len(parts)
        return parts

    async def next_parts(self) -> list[_Part]:
        """Every part queued so far, at least one (waiting like `next_part`), for a caller on another thread:
        one hop per batch instead of per part. The caller asks again only when it has taken the whole
        previous batch, which until then counts against QUEUE_CHUNKS as if still queued."""
        self.held = 0
        self.room.set()
        parts = [await self.next_part()]
        while not self.queue.empty():
            parts.append(self.queue.get_nowait())
        self.held = len(parts)
        return parts

    async def response_start(self) -> _Start:
        try:
            part = await self.next_part()
        except BaseException:
            self.abort()
            raise
        if not isinstance(part, _Start):  # cannot happen: `send` checks the order and `_serve` answers 500
            self.abort()
            raise AssertionError(f"expected the response start, got {part!r}")
        return part

    async def body(self) -> AsyncIterator[bytes]:
        while True:
            part = await self.next_part()
            if isinstance(part, _End):
                if part.error is not None:
                    raise part.error
                return
            if isinstance(part, bytes):
                yield part

    def abort(self) -> None:
        """Leave at once (an error on the client's side): disconnect and cancel the app, no grace.
        Synchronous, so it also works where the caller is being cancelled and cannot await."""
        self._leave()
        if self.task is not None:
            self.task.cancel()

    def _leave(self) -> None:
        # Draining the queue wakes a `send` waiting for room; it then sees `gone` and drops the rest.
        self._go()
        self.room.set()
        while not self.queue.empty():
            self.queue.get_nowait()

    async def close(self) -> None:
        """The client is done with the response: tell the app (`http.disconnect`), give it a bounded
        grace to finish (so what the app does on a disconnect is done when this returns), then cancel it."""
        self._leave()
        task = self.task
        if task is None or task.done():
            return
        await asyncio.wait({task}, timeout=CLOSE_GRACE_SECONDS)
        if not task.done():
            _log.warning(
                "%s %s: the app ignored the disconnect for %g s; cancelling it", *self._what(), CLOSE_GRACE_SECONDS
            )
            task.cancel()
            await asyncio.wait({task}, timeout=CLOSE_GRACE_SECONDS)


async def _answered(sent: concurrent.futures.Future[tuple[int, bytes]] | None) -> None:
    """Wait (on the loop) until a request sent without waiting has been answered, failed or been cancelled: its
    outcome is its sender's, never raised here. A waiter cancelled meanwhile leaves `sent` alone (`asyncio.wait`
    cancels nothing it waits for)."""
    if sent is not None and not sent.done():
        await asyncio.wait({asyncio.wrap_future(sent)})


def _broken(request: httpx.Request, why: str) -> httpx.RemoteProtocolError:
    """What a socket client sees when the server closes a response midway."""
    return httpx.RemoteProtocolError(
        f"peer closed connection without sending complete message body ({why})", request=request
    )


def _wait_of(request: httpx.Request, default: float) -> float:
    """The request's read timeout, which bounds every wait for the app as it would on a socket."""
    timeout = request.extensions.get("timeout")
    read = timeout.get("read") if isinstance(timeout, dict) else None
    return float(read) if read is not None else default


def _response(start: _Start, stream: httpx.SyncByteStream | httpx.AsyncByteStream) -> httpx.Response:
    return httpx.Response(start.status, headers=start.headers, stream=stream, extensions={"http_version": b"HTTP/1.1"})


# --- async ----------------------------------------------------------------------------------------


class _AsyncBody(httpx.AsyncByteStream):
    def __init__(self, run: _AppRun) -> None:
        self._run = run

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._run.body():
            yield chunk

    async def aclose(self) -> None:
        await self._run.close()


class AsyncInProcessTransport(httpx.AsyncBaseTransport):
    """Serve `app` to an `httpx.AsyncClient` as a task on the caller's (asyncio) event loop."""

    def __init__(self, app: Any, *, default_wait: float = DEFAULT_WAIT_SECONDS) -> None:
        self.app: ASGIApp = app
        self.default_wait = default_wait

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        run = _AppRun(self.app, request, body, _wait_of(request, self.default_wait))
        run.begin()
        start = await run.response_start()
        return _response(start, _AsyncBody(run))


# --- sync -----------------------------------------------------------------------------------------


class _LoopThread:
    """An asyncio event loop running in a daemon thread, for the sync transport's app runs."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        # The app runs whose responses were read to the end are not closed by the caller (no hop): held
        # here until they end, so a run still winding down is never garbage-collected while pending.
        self._runs: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=self._main, name="coze-harness in-process app", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
            tasks = asyncio.all_tasks(self.loop)
            for task in tasks:
                task.cancel()
            if tasks:
                gathered = asyncio.gather(*tasks, return_exceptions=True)
                self.loop.run_until_complete(asyncio.wait_for(gathered, CLOSE_GRACE_SECONDS))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        except Exception:
            _log.warning("stopping the in-process app loop", exc_info=True)
        finally:
            self.loop.close()

    def keep(self, task: asyncio.Task[None]) -> None:
        """Hold `task` until it ends (call on the loop)."""
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run `coroutine` on the loop and wait for its result, at most `timeout` seconds."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"the in-process app loop did not answer within {timeout:g} s") from None

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # closed between the check and the call
            self.loop.call_soon_threadsafe(self.loop.stop)
        if threading.current_thread() is not self._thread:
            self._thread.join(CLOSE_GRACE_SECONDS * 2)


class _SyncBody(httpx.SyncByteStream):
    def __init__(self, loop: _LoopThread, run: _AppRun, ready: list[_Part]) -> None:
        self._loop = loop
        self._run = run
        self._ready = ready
        self._ended = False
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        # The loop-side wait is bounded by the run's `wait`; the margin only covers a stuck loop.
        limit = self._run.wait + CLOSE_GRACE_SECONDS * 3
        batch, self._ready = self._ready, []
        while True:
            # What arrived together is read together, as from a socket's buffer: one chunk per batch.
            data = b"".join(part for part in batch if isinstance(part, bytes))
            if data:
                yield data
            end = next((part for part in batch if isinstance(part, _End)), None)
            if end is not None:
                self._ended = end.error is None
                if end.error is not None:
                    raise end.error
                return
            batch = self._loop.call(self._run.next_parts(), limit)

    def close(self) -> None:
        if self._closed or self._loop.loop.is_closed():
            return
        self._closed = True
        if self._ended:
            # The whole body arrived, so the app has already been told the response is done (its
            # `receive` answers `http.disconnect`) and winds down on its own, as behind a server: no
            # hop at all (a wake-up of the loop thread per response cost about 50 us). The transport
            # keeps the run's task until it ends, and `close()` cancels what is still running.
            return
        self._loop.call(self._run.close(), CLOSE_GRACE_SECONDS * 3)


async def _started(
    loop: _LoopThread,
    app: ASGIApp,
    request: httpx.Request,
    body: bytes,
    wait: float,
    after: concurrent.futures.Future[tuple[int, bytes]] | None,
) -> tuple[_AppRun, _Start]:
    """One request begun on `loop` once `after` (a `send_nowait`) is answered, up to its response's start."""
    await _answered(after)
    # Built on the loop: its queue and events belong to the loop that runs the app.
    run = _AppRun(app, request, body, wait)
    loop.keep(run.begin())
    return run, await run.response_start()


class InProcessTransport(httpx.BaseTransport):
    """Serve `app` to an `httpx.Client` (a cozepy `Coze`) from an event loop in a background thread.

    The loop starts with the first request and stops with `close()` (which `Client.close()` calls),
    cancelling what still runs on it, background work the app started included. One loop serves every
    request of the transport, so a request made while another's stream is open (a tool-output
    submit, a resume) is served concurrently, as a server would.
    """

    def __init__(self, app: Any, *, default_wait: float = DEFAULT_WAIT_SECONDS) -> None:
        self.app: ASGIApp = app
        self.default_wait = default_wait
        self._loop: _LoopThread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._sent: concurrent.futures.Future[tuple[int, bytes]] | None = None  # the last `send_nowait`

    def _loop_thread(self) -> _LoopThread:
        with self._lock:
            return self._loop_thread_locked()

    def _loop_thread_locked(self) -> _LoopThread:
        if self._closed:
            raise RuntimeError("this InProcessTransport is closed")
        if self._loop is None:
            self._loop = _LoopThread()
        return self._loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        loop = self._loop_thread()
        wait = _wait_of(request, self.default_wait)
        before = self._sent

        async def start() -> tuple[_AppRun, _Start, list[_Part]]:
            run, begun = await _started(loop, self.app, request, body, wait, before)
            return run, begun, await run.ready_parts()

        run, begun, ready = loop.call(start(), wait + CLOSE_GRACE_SECONDS * 3)
        return _response(begun, _SyncBody(loop, run, ready))

    def send_nowait(self, request: httpx.Request) -> concurrent.futures.Future[tuple[int, bytes]]:
        """Send `request` and return at once: the future gets its status and whole body (or the error that
        broke it off). A request this transport serves afterwards starts once that one has been answered,
        so it sees the effect as if the caller had waited, without a wait of its own: for a request made
        before every test (the plugin's reset), whose answer nobody needs before the test's first request.
        So does one through a server behind `after_sent`; code that reaches the app object directly waits on
        the future first."""
        body = request.read()
        wait = _wait_of(request, self.default_wait)
        with self._lock:
            loop = self._loop_thread_locked()
            before = self._sent

            async def exchange() -> tuple[int, bytes]:
                run, begun = await _started(loop, self.app, request, body, wait, before)
                return begun.status, b"".join([chunk async for chunk in run.body()])

            sent = self._sent = asyncio.run_coroutine_threadsafe(exchange(), loop.loop)
        return sent

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the app runs on, in the transport's thread (started if it was not)."""
        return self._loop_thread().loop

    def after_sent(self, app: Any) -> ASGIApp:
        """`app`, to serve on `loop` another way (a socket server started there): each of its requests starts
        once the last `send_nowait` has been answered, as the transport's own requests do, so a client of that
        server needs no wait of its own either."""
        return _AfterSent(app, self)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            loop, self._loop = self._loop, None
        if loop is not None:
            loop.stop()


class _AfterSent:
    """An ASGI app that lets a request in once its transport's last `send_nowait` has been answered."""

    def __init__(self, app: ASGIApp, transport: InProcessTransport) -> None:
        self.app = app
        self._transport = transport

    async def __call__(
        self, scope: MutableMapping[str, Any], receive: Callable[[], Awaitable[ASGIMessage]], send: Any
    ) -> None:
        await _answered(self._transport._sent)  # read on arrival: the last one sent before this request came
        await self.app(scope, receive, send)

    @property
    def state(self) -> Any:
        """The app's state: `running()` releases what the app holds (the simulator's uploads) through it."""
        return getattr(self.app, "state", None)


# --- cozepy on top --------------------------------------------------------------------------------


def coze_over(
    transport: httpx.BaseTransport,
    *,
    base_url: str = INPROCESS_BASE_URL,
    token: str | None = None,
    timeout: httpx.Timeout = CLIENT_TIMEOUT,
) -> Any:
    """A real `cozepy.Coze` whose HTTP goes through `transport` (any cozepy release from 0.2.0).

    `token` defaults to the simulator's dev token; `timeout` bounds every wait. cozepy keeps its
    client private, so close `transport` when done (`InProcessTransport.close()` stops its loop).
    """
    return coze_client(transport, base_url=base_url, token=token or dev_token(), timeout=timeout)


def async_coze_over(
    transport: httpx.AsyncBaseTransport,
    *,
    base_url: str = INPROCESS_BASE_URL,
    token: str | None = None,
    timeout: httpx.Timeout = CLIENT_TIMEOUT,
) -> Any:
    """A real `cozepy.AsyncCoze` (0.3.0+) whose HTTP goes through `transport`."""
    return async_coze_client(transport, base_url=base_url, token=token or dev_token(), timeout=timeout)


def dev_token() -> str:
    """The token the simulator accepts by default."""
    # Imported here: the token is plain data, and importing the simulator is only needed for it.
    from simulators.coze import DEFAULT_TOKEN

    return DEFAULT_TOKEN
