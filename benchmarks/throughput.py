"""Throughput: chat events per second from the simulator, beside a bare Starlette endpoint sending the
same bytes (the ceiling), both on uvicorn in a process of their own, read by the same client in the
same run. Two readers: a raw httpx line reader (what the servers can do) and cozepy's parser.

    python -m benchmarks.throughput [--events 20000] [--runs 5] [--write]

The stream is benchmarks/scenarios/stream_bot.yaml: one delta per character of the user's message.
The figure is events / (request sent .. last byte read), median of the runs, each run reading both
servers in turn so that noise hits both alike. Target: the simulator at >= 0.8x the ceiling.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from benchmarks._common import SCENARIOS, STREAM_BOT, quiet_cozepy, server, summary, write_section
from simulators.coze import DEFAULT_TOKEN

TARGET_RATIO = 0.8
HEADERS = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}


def _text(events: int) -> str:
    alphabet = "The quick brown fox jumps over the lazy dog. "
    return (alphabet * (events // len(alphabet) + 1))[:events]


def _body(events: int) -> dict[str, Any]:
    return {
        "bot_id": STREAM_BOT,
        "user_id": "bench",
        "stream": True,
        "additional_messages": [{"role": "user", "content": _text(events), "content_type": "text"}],
    }


def raw_reader(base_url: str, body: dict[str, Any]) -> tuple[int, float]:
    """Events read with httpx's line iterator (an `event:` line is one event), and the seconds it took."""
    count = 0
    with httpx.Client(timeout=120) as client:
        started = time.perf_counter()
        with client.stream("POST", f"{base_url}/v3/chat", json=body, headers=HEADERS) as response:
            for line in response.iter_lines():
                if line.startswith("event:"):
                    count += 1
        return count, time.perf_counter() - started


def cozepy_reader(base_url: str, body: dict[str, Any]) -> tuple[int, float]:
    """Events as cozepy parses them (`done` included where the release hands it over)."""
    import cozepy

    coze = cozepy.Coze(auth=cozepy.TokenAuth(DEFAULT_TOKEN), base_url=base_url)
    message = cozepy.Message(
        role="user", type="question", content=body["additional_messages"][0]["content"], content_type="text"
    )
    started = time.perf_counter()
    count = sum(1 for _ in coze.chat.stream(bot_id=STREAM_BOT, user_id="bench", additional_messages=[message]))
    return count, time.perf_counter() - started


def capture(base_url: str, body: dict[str, Any]) -> bytes:
    with httpx.Client(timeout=120) as client:
        response = client.post(f"{base_url}/v3/chat", json=body, headers=HEADERS)
        response.raise_for_status()
        return response.content


def _measure(
    reader: Callable[[str, dict[str, Any]], tuple[int, float]], urls: dict[str, str], body: dict[str, Any], runs: int
) -> dict[str, Any]:
    rates: dict[str, list[float]] = {name: [] for name in urls}
    counts: dict[str, int] = {}
    reader(urls["simulator"], body)  # warm both servers and the client's imports
    reader(urls["ceiling"], body)
    for _ in range(runs):
        for name, url in urls.items():
            count, seconds = reader(url, body)
            counts[name] = count
            rates[name].append(count / seconds)
    simulator, ceiling = summary(rates["simulator"]), summary(rates["ceiling"])
    return {
        "events_per_stream": counts,
        "simulator_events_per_second": simulator,
        "ceiling_events_per_second": ceiling,
        "ratio": simulator["median"] / ceiling["median"],
    }


def run(events: int = 20_000, runs: int = 5) -> dict[str, Any]:
    quiet_cozepy()
    body = _body(events)
    with tempfile.TemporaryDirectory() as folder, server("sim", "--scenarios", str(SCENARIOS)) as sim:
        frames = Path(folder) / "frames.sse"
        frames.write_bytes(capture(sim.base_url, body))
        with server("bare", "--frames", str(frames)) as bare:
            urls = {"simulator": sim.base_url, "ceiling": bare.base_url}
            raw = _measure(raw_reader, urls, body, runs)
            sdk = _measure(cozepy_reader, urls, body, runs)
        stream_bytes = frames.stat().st_size
    return {
        "description": "chat events per second over loopback, simulator vs a bare Starlette/uvicorn endpoint "
        "sending the same bytes (each server in its own process)",
        "command": f"python -m benchmarks.throughput --events {events} --runs {runs}",
        "stream_bytes": stream_bytes,
        "target_ratio": TARGET_RATIO,
        "raw_httpx": raw,
        "cozepy": sdk,
    }


def report(result: dict[str, Any]) -> str:
    lines = [f"stream: {result['stream_bytes']:,} bytes"]
    for reader in ("raw_httpx", "cozepy"):
        part = result[reader]
        sim, ceiling = part["simulator_events_per_second"], part["ceiling_events_per_second"]
        lines.append(
            f"{reader:<10} simulator {sim['median']:>9,.0f} ev/s   ceiling {ceiling['median']:>9,.0f} ev/s   "
            f"ratio {part['ratio']:.2f} (target >= {result['target_ratio']})   events {part['events_per_stream']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.throughput", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="deltas per stream (default 20000)")
    parser.add_argument("--runs", type=int, default=5, help="runs per server and reader (default 5)")
    parser.add_argument("--write", action="store_true", help="merge the figures into reports/benchmarks.json")
    args = parser.parse_args(argv)
    result = run(args.events, args.runs)
    print(report(result))
    if args.write:
        print(f"wrote {write_section('throughput', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
