"""A server for the benchmarks, in its own process so that it has a core of its own.

`python -m benchmarks._serve sim [--scenarios DIR] [--backlog N]` serves the simulator;
`python -m benchmarks._serve bare --frames FILE` serves the bytes in FILE (events separated by a blank
line) at `POST /v3/chat`, one ASGI message per event, from a bare Starlette app: the ceiling a Python
ASGI server reaches with the same bytes. Both print `READY <base_url>` and then `PEAK_RSS_KB <n>` when
they are told to stop (SIGTERM or SIGINT).
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn


def _socket(backlog: int) -> socket.socket:
    # IPPROTO_TCP, as simulators.coze.server.bind: asyncio sets TCP_NODELAY only on such connections.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def bare_app(frames: list[bytes]) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    async def stream(request: Request) -> StreamingResponse:
        await request.body()

        async def frames_out() -> AsyncIterator[bytes]:
            for frame in frames:
                yield frame

        response = StreamingResponse(frames_out(), status_code=200)
        response.headers["content-type"] = "text/event-stream"
        return response

    return Starlette(routes=[Route("/v3/chat", stream, methods=["POST"])])


def split_frames(raw: bytes) -> list[bytes]:
    return [part + b"\n\n" for part in raw.split(b"\n\n") if part]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._serve")
    parser.add_argument("kind", choices=["sim", "bare"])
    parser.add_argument("--scenarios", action="append", default=[], metavar="DIR")
    parser.add_argument("--frames", metavar="FILE")
    parser.add_argument("--backlog", type=int, default=128)
    args = parser.parse_args(argv)
    if args.kind == "sim":
        from simulators.coze import BUILTIN_DIR, Catalogue, create_app

        app: Any = create_app(Catalogue.load(BUILTIN_DIR, *(Path(d) for d in args.scenarios)))
    else:
        app = bare_app(split_frames(Path(args.frames).read_bytes()))
    sock = _socket(args.backlog)
    host, port = sock.getsockname()[:2]
    print(f"READY http://{host}:{port}", flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False, timeout_graceful_shutdown=2)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the SIGINT it stopped on
        uvicorn.Server(config).run(sockets=[sock])
    print(f"PEAK_RSS_KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
