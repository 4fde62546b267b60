"""In-process drivers for the simulator's ASGI app: HTTP through httpx.ASGITransport and websockets
through the ASGI messages themselves, all on one event loop that the (sync) tests run to completion.
No socket, no thread, no TLS: hundreds of requests a second, and an exception inside the app surfaces
in the test instead of becoming a closed connection."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from fastapi import FastAPI

from simulators.coze import create_app


class Sim:
    """The simulator app, an async httpx client over ASGITransport, and one event loop to run them."""

    def __init__(self, app: FastAPI | None = None) -> None:
        self.app = app if app is not None else create_app()
        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://sim")

    def run(self, awaitable: Any) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(awaitable, 20))

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = self.run(self.client.request(method, path, **kwargs))
        return response

    def close(self) -> None:
        self.run(self.client.aclose())
        self.loop.run_until_complete(asyncio.sleep(0))
        self.loop.close()


class SocketRun:
    """One websocket connection to the app, driven at the ASGI level (no TLS, no socket)."""

    def __init__(self, sim: Sim, query: str, headers: dict[str, str]) -> None:
        self.sim = sim
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "ws",
            "http_version": "1.1",
            "path": "/v1/chat",
            "raw_path": b"/v1/chat",
            "root_path": "",
            "query_string": query.encode(),
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("sim", 80),
            "subprotocols": [],
            "extensions": {"websocket.http.response": {}},
            "state": {},
        }
        self.incoming.put_nowait({"type": "websocket.connect"})
        self.task = sim.loop.create_task(sim.app(scope, self.incoming.get, self.outgoing.put))

    def next(self) -> dict[str, Any]:
        """The app's next ASGI message; if the app raised instead, that exception."""

        async def first() -> dict[str, Any]:
            getter = asyncio.ensure_future(self.outgoing.get())
            await asyncio.wait({getter, self.task}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                return getter.result()
            getter.cancel()
            if self.task.done():
                self.task.result()
            raise AssertionError("the app sent nothing within 5 s")

        message: dict[str, Any] = self.sim.run(first())
        return message

    def send_text(self, text: str) -> None:
        self.incoming.put_nowait({"type": "websocket.receive", "text": text})

    def event(self) -> dict[str, Any]:
        message = self.next()
        assert message["type"] == "websocket.send", message
        event: dict[str, Any] = json.loads(message["text"])
        assert isinstance(event["id"], str) and isinstance(event["event_type"], str)
        assert event["detail"]["logid"]
        return event

    def finish(self) -> None:
        self.incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})
        self.sim.run(self.task)  # raises if the app raised
