"""Memory over many chats: the simulator's resident size as N chats go through one app, with the store's
default bound against the same run with the bound lifted (the baseline: what the store did before it had
one), each in a child process of its own so that neither inherits the other's heap.

    python -m benchmarks.memory [--chats 100000] [--message-bytes 1024] [--write]

Each chat is a non-streamed echo-bot chat with a message of `--message-bytes`, sent over HTTP through
the in-process transport (no socket: the figure is the app's, not uvicorn's). Reported: resident size
(max RSS) at ten checkpoints, and the growth over the last half of the run, which is flat when the store
is bounded and keeps climbing when it is not.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Any

import httpx

from benchmarks._common import write_section
from harness.inprocess import InProcessTransport
from simulators.coze import DEFAULT_TOKEN, SimConfig, StoreLimits, create_app

ECHO_BOT = "7390000000000000001"
_UNBOUNDED = 10**9


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(chats: int, message_bytes: int, bounded: bool) -> dict[str, Any]:
    """One run in this process: RSS at each tenth of the way, and the records the store holds at the end."""
    limits = StoreLimits() if bounded else StoreLimits(max_records=_UNBOUNDED)
    app = create_app(config=SimConfig(store=limits))
    text = "x" * message_bytes
    checkpoints: list[tuple[int, float]] = []
    started = time.perf_counter()
    step = max(1, chats // 10)
    with httpx.Client(transport=InProcessTransport(app), base_url="http://sim") as client:
        headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
        body = {"bot_id": ECHO_BOT, "user_id": "u", "additional_messages": [{"role": "user", "content": text}]}
        for number in range(1, chats + 1):
            answer = client.post("/v3/chat", json=body, headers=headers)
            if answer.status_code != 200:
                raise RuntimeError(f"chat {number}: HTTP {answer.status_code}: {answer.text[:200]}")
            if number % step == 0:
                checkpoints.append((number, round(_rss_mb(), 1)))
    store = app.state.simulator.store
    return {
        "bounded": bounded,
        "max_records": limits.max_records,
        "checkpoints": checkpoints,
        "chats_kept": len(store.chats),
        "seconds": round(time.perf_counter() - started, 1),
    }


def run(chats: int = 100_000, message_bytes: int = 1024) -> dict[str, Any]:
    runs = []
    for mode in ("bounded", "unbounded"):
        print(f"memory: {chats} chats, store {mode} ...", file=sys.stderr, flush=True)
        command = [sys.executable, "-m", "benchmarks.memory", "--child", mode, "--chats", str(chats)]
        command += ["--message-bytes", str(message_bytes)]
        done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=1800)
        runs.append(json.loads(done.stdout))
    bounded, unbounded = runs

    def growth(result: dict[str, Any]) -> float:
        points = result["checkpoints"]
        half = points[len(points) // 2 - 1][1]
        return round(float(points[-1][1] - half), 1)

    return {
        "chats": chats,
        "message_bytes": message_bytes,
        "bounded": bounded,
        "unbounded": unbounded,
        "growth_last_half_mb": {"bounded": growth(bounded), "unbounded": growth(unbounded)},
    }


def report(result: dict[str, Any]) -> str:
    lines = [f"memory over {result['chats']} chats ({result['message_bytes']}-byte messages), max RSS in MB:"]
    for mode in ("bounded", "unbounded"):
        points = ", ".join(f"{n}: {mb}" for n, mb in result[mode]["checkpoints"])
        kept = result[mode]["chats_kept"]
        lines.append(f"  {mode:<9} {points}  ({kept} chats kept, {result[mode]['seconds']} s)")
    growth = result["growth_last_half_mb"]
    lines.append(f"  growth over the last half: bounded {growth['bounded']} MB, unbounded {growth['unbounded']} MB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=100_000)
    parser.add_argument("--message-bytes", type=int, default=1024)
    parser.add_argument("--write", action="store_true", help="merge the figures into reports/benchmarks.json")
    parser.add_argument("--child", choices=["bounded", "unbounded"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.chats, args.message_bytes, args.child == "bounded")))
        return 0
    result = run(args.chats, args.message_bytes)
    print(report(result))
    if args.write:
        write_section("memory", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
