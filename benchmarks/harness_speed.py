"""Harness speed: how long `coze-harness report` takes for the installed cozepy, and how the in-process
transport (harness.inprocess) compares with a plain respx mock answering the same stream.

    python -m benchmarks.harness_speed [--runs 3] [--streams 200] [--write]

The report is timed as a user runs it (a fresh `coze-harness report --platform cloud --out TMP`,
interpreter start included; target under 5 s for one release on one platform: the default, both
platforms, runs every probe twice). The transports are timed reading the same chat stream with cozepy:
the weather bot's first stream (a short one, 5 events) and the stream bot's (2,000 deltas). The respx
mock is the baseline: canned bytes, no app at all (target: in-process within 1.5x of it). Two more apps
answer the same bytes through the same transport, to split the ratio: a framework-less ASGI callable
(what the transport itself costs) and a bare FastAPI route (what any FastAPI app costs in process).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from starlette.responses import StreamingResponse

from benchmarks._common import ROOT, SCENARIOS, STREAM_BOT, WEATHER_BOT, quiet_cozepy, summary, write_section
from benchmarks._serve import split_frames
from simulators.coze import BUILTIN_DIR, DEFAULT_TOKEN, Catalogue, create_app

REPORT_TARGET_SECONDS = 5.0
TRANSPORT_TARGET_RATIO = 1.5
BASE_URL = "https://api.coze.com"


def time_report(runs: int) -> dict[str, Any]:
    executable = shutil.which("coze-harness") or str(Path(sys.executable).parent / "coze-harness")
    seconds = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            command = [executable, "report", "--platform", "cloud", "--out", out]
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
            seconds.append(time.perf_counter() - started)
            if done.returncode not in (0, 1):
                raise RuntimeError(f"coze-harness report exited {done.returncode}: {done.stderr[-2000:]}")
    figures = summary([-s for s in seconds])  # best = shortest
    return {
        "command": "coze-harness report --platform cloud --out TMP",
        "seconds": {"median": -figures["median"], "best": -figures["best"], "worst": -figures["worst"]},
        "runs": runs,
        "target_seconds": REPORT_TARGET_SECONDS,
    }


def _message(text: str) -> Any:
    import cozepy

    return cozepy.Message(role="user", type="question", content=text, content_type="text")


def _read(coze: Any, bot: str, text: str) -> int:
    return sum(1 for _ in coze.chat.stream(bot_id=bot, user_id="bench", additional_messages=[_message(text)]))


def _capture(app: Any, bot: str, text: str) -> bytes:
    """The bytes the simulator streams for this chat, from a fresh app (as each transport sees them)."""
    from harness.inprocess import InProcessTransport

    transport = InProcessTransport(app)
    try:
        with httpx.Client(transport=transport, base_url=BASE_URL) as client:
            body = {
                "bot_id": bot,
                "user_id": "bench",
                "stream": True,
                "additional_messages": [{"role": "user", "content": text, "content_type": "text"}],
            }
            response = client.post("/v3/chat", json=body, headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"})
            return response.content
    finally:
        transport.close()


def _raw_asgi(frames: list[bytes]) -> Any:
    """The transport's own cost: an ASGI callable with no framework, sending the frames one message each."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        for frame in frames:
            await send({"type": "http.response.body", "body": frame, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


def _bare_fastapi(frames: list[bytes]) -> Any:
    """The framework's floor: a FastAPI route streaming the frames, as any FastAPI simulator must at least do."""
    app = FastAPI()

    @app.post("/v3/chat")
    async def chat(request: Request) -> StreamingResponse:
        await request.body()

        async def out() -> AsyncIterator[bytes]:
            for frame in frames:
                yield frame

        response = StreamingResponse(out())
        response.headers["content-type"] = "text/event-stream"  # the bare type, as the simulator sends it
        return response

    return app


def time_transports(streams: int) -> dict[str, Any]:
    """cozepy reading one stream four ways, best of 3 interleaved rounds: through the in-process transport
    from the simulator, from a bare FastAPI route and from a framework-less ASGI callable (both sending the
    simulator's bytes), and from a respx mock answering those bytes (the baseline). The two bare apps split
    the ratio into what the transport costs and what any FastAPI app costs in process."""
    import cozepy
    import respx

    from harness.inprocess import InProcessTransport, coze_over

    catalogue = Catalogue.load(BUILTIN_DIR, SCENARIOS)
    cases = {
        "weather-bot (5 events)": (WEATHER_BOT, "Paris", streams),
        "stream-bot (2,000 deltas)": (STREAM_BOT, ("abcdefghij" * 200), max(5, streams // 20)),
    }
    results: dict[str, Any] = {}
    for label, (bot, text, count) in cases.items():
        canned = _capture(create_app(catalogue), bot, text)
        frames = split_frames(canned)
        transports = {
            "inprocess": InProcessTransport(create_app(catalogue)),
            "bare_fastapi": InProcessTransport(_bare_fastapi(frames)),
            "raw_asgi": InProcessTransport(_raw_asgi(frames)),
        }
        clients = {name: coze_over(transport, base_url=BASE_URL) for name, transport in transports.items()}
        timings: dict[str, list[float]] = {name: [] for name in [*transports, "respx"]}
        events: dict[str, int] = {}
        try:
            for _round in range(3):
                for name, coze in clients.items():
                    started = time.perf_counter()
                    for _ in range(count):
                        events[name] = _read(coze, bot, text)
                    timings[name].append((time.perf_counter() - started) / count)
                with respx.mock(assert_all_called=False) as mock:
                    mock.post(f"{BASE_URL}/v3/chat").mock(
                        side_effect=lambda request, body=canned: httpx.Response(
                            200, headers={"content-type": "text/event-stream"}, content=body
                        )
                    )
                    plain = cozepy.Coze(auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=BASE_URL)
                    started = time.perf_counter()
                    for _ in range(count):
                        events["respx"] = _read(plain, bot, text)
                    timings["respx"].append((time.perf_counter() - started) / count)
        finally:
            for transport in transports.values():
                transport.close()
        best = {name: min(values) for name, values in timings.items()}
        results[label] = {
            "streams_per_round": count,
            "events_per_stream": events,
            "inprocess_ms_per_stream": best["inprocess"] * 1000,
            "respx_ms_per_stream": best["respx"] * 1000,
            "ratio": best["inprocess"] / best["respx"],
            "bare_fastapi_ms_per_stream": best["bare_fastapi"] * 1000,
            "bare_fastapi_ratio": best["bare_fastapi"] / best["respx"],
            "raw_asgi_ms_per_stream": best["raw_asgi"] * 1000,
            "raw_asgi_ratio": best["raw_asgi"] / best["respx"],
        }
    return {"target_ratio": TRANSPORT_TARGET_RATIO, "cases": results}


def run(runs: int = 3, streams: int = 200) -> dict[str, Any]:
    quiet_cozepy()
    return {
        "description": "wall time of `coze-harness report`, and the in-process transport against a respx mock "
        "(with the simulator, a bare FastAPI route and a framework-less ASGI app behind it)",
        "command": f"python -m benchmarks.harness_speed --runs {runs} --streams {streams}",
        "report": time_report(runs),
        "transports": time_transports(streams),
    }


def report(result: dict[str, Any]) -> str:
    timed = result["report"]
    lines = [
        f"coze-harness report: median {timed['seconds']['median']:.2f} s, best {timed['seconds']['best']:.2f} s "
        f"over {timed['runs']} runs (target < {timed['target_seconds']:g} s)"
    ]
    target = result["transports"]["target_ratio"]
    for label, case in result["transports"]["cases"].items():
        lines.append(
            f"{label:<26} in-process {case['inprocess_ms_per_stream']:7.2f} ms   "
            f"respx {case['respx_ms_per_stream']:7.2f} ms   ratio {case['ratio']:.2f} (target <= {target})\n"
            f"{'':<26} floors: bare FastAPI route {case['bare_fastapi_ratio']:.2f}x, "
            f"framework-less ASGI app {case['raw_asgi_ratio']:.2f}x of respx, through the same transport"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.harness_speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="report runs (default 3)")
    parser.add_argument("--streams", type=int, default=200, help="short streams per timing round (default 200)")
    parser.add_argument("--write", action="store_true", help="merge the figures into reports/benchmarks.json")
    args = parser.parse_args(argv)
    result = run(args.runs, args.streams)
    print(report(result))
    if args.write:
        print(f"wrote {write_section('harness_speed', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
