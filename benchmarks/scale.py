"""Scale: N concurrent bot chats, each a local-plugin round trip (stream -> requires_action -> run the
tools -> submit_tool_outputs stream -> completed), with async cozepy clients against one simulator in
its own process on loopback.

    python -m benchmarks.scale [--chats 1000] [--write]

Every chat is checked: the same event names as a chat run alone (nothing lost, nothing duplicated),
the deltas adding up to the completed answer, the answer quoting this chat's own tool outputs.
Reported: p50/p99 time to first event (from the call to its first event), wall time, peak memory of
the client and of the server (max RSS).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import resource
import sys
import time
from typing import Any

import httpx

from benchmarks._common import WEATHER_BOT, percentile, quiet_cozepy, server, write_section
from harness.inprocess import async_http_client
from harness.probes.demo_tools import registry as demo_tools
from harness.sdk import event_name
from simulators.coze import DEFAULT_TOKEN


class ChatRun:
    def __init__(self) -> None:
        self.first_event: float | None = None
        self.names: list[str] = []
        self.deltas: list[str] = []
        self.answer: str | None = None
        self.error: str | None = None


async def _one_chat(coze: Any, number: int, run: ChatRun) -> None:
    import cozepy

    city = f"City{number}"
    message = cozepy.Message(role="user", type="question", content=city, content_type="text")
    started = time.perf_counter()
    chat = None
    stream = await _maybe_await(
        coze.chat.stream(bot_id=WEATHER_BOT, user_id=f"user-{number}", additional_messages=[message])
    )
    async for event in stream:
        if run.first_event is None:
            run.first_event = time.perf_counter() - started
        _record(run, event)
        if event_name(event) == "conversation.chat.requires_action":
            chat = event.chat
    if chat is None:
        raise RuntimeError(f"chat {number} never asked for its tools: {run.names}")
    outputs = []
    for call in chat.required_action.submit_tool_outputs.tool_calls:
        result = demo_tools.invoke(call.function.name, call.function.arguments)
        outputs.append(cozepy.ToolOutput(tool_call_id=call.id, output=result.output))
    continued = await _maybe_await(
        coze.chat.submit_tool_outputs_stream(
            conversation_id=chat.conversation_id, chat_id=chat.id, tool_outputs=outputs
        )
    )
    async for event in continued:
        _record(run, event)
    expected = demo_tools.invoke("get_weather", {"city": city, "unit": "celsius"}).output
    if run.answer is None or expected not in run.answer or "".join(run.deltas) != run.answer:
        raise RuntimeError(f"chat {number}: answer {run.answer!r} does not quote {expected!r} or its deltas")


async def _maybe_await(value: Any) -> Any:
    """cozepy's async streams are awaited for an iterator in some releases and are the iterator in others."""
    return await value if inspect.isawaitable(value) else value


def _record(run: ChatRun, event: Any) -> None:
    name = event_name(event)
    run.names.append(name)
    message = getattr(event, "message", None)
    if name == "conversation.message.delta" and message is not None:
        run.deltas.append(message.content)
    if name == "conversation.message.completed" and message is not None and message.type == "answer":
        run.answer = message.content


async def _all(base_url: str, chats: int, per_client: int) -> tuple[list[ChatRun], float]:
    """`chats` chats at once, `per_client` of them sharing one AsyncCoze (and its connection pool).

    One pool for a thousand streams would measure httpcore instead: it scans every connection for
    every request it places, so its cost grows with the square of the pool (see README.md).
    """
    import cozepy

    clients = []
    for _ in range(0, chats, per_client):
        limits = httpx.Limits(max_connections=per_client + 5, max_keepalive_connections=per_client + 5)
        client = async_http_client(timeout=httpx.Timeout(300.0, connect=60.0), limits=limits)
        auth = cozepy.AsyncTokenAuth(DEFAULT_TOKEN)
        clients.append((client, cozepy.AsyncCoze(auth=auth, base_url=base_url, http_client=client)))
    runs = [ChatRun() for _ in range(chats)]

    async def guarded(number: int) -> None:
        try:
            await _one_chat(clients[number // per_client][1], number, runs[number])
        except Exception as exc:
            runs[number].error = f"{type(exc).__name__}: {exc}"

    started = time.perf_counter()
    await asyncio.gather(*(guarded(number) for number in range(chats)))
    elapsed = time.perf_counter() - started
    for client, _ in clients:
        await client.aclose()
    return runs, elapsed


def run(chats: int = 1000, per_client: int = 25) -> dict[str, Any]:
    quiet_cozepy()
    import cozepy

    if not hasattr(cozepy, "AsyncHTTPClient") or not hasattr(cozepy, "AsyncTokenAuth"):
        raise SystemExit("this benchmark needs an async cozepy client (AsyncHTTPClient, AsyncTokenAuth; 0.6+)")
    with server("sim", "--backlog", str(max(128, chats * 2))) as sim:
        reference, _ = asyncio.run(_all(sim.base_url, 1, 1))
        runs, elapsed = asyncio.run(_all(sim.base_url, chats, per_client))
    if reference[0].error:
        raise SystemExit(f"a single chat fails, so the benchmark cannot run: {reference[0].error}")
    expected = reference[0].names
    errors = [f"chat {n}: {r.error}" for n, r in enumerate(runs) if r.error]
    different = [n for n, r in enumerate(runs) if not r.error and r.names != expected]
    firsts = [r.first_event for r in runs if r.first_event is not None]
    events = sum(len(r.names) for r in runs)
    return {
        "description": "concurrent local-plugin chats (weather bot: 2 tool calls, 2 streams each) with async cozepy",
        "command": f"python -m benchmarks.scale --chats {chats} --per-client {per_client}",
        "chats": chats,
        "chats_per_client": per_client,
        "completed": chats - len(errors) - len(different),
        "errors": errors[:10],
        "lost_or_duplicated": len(different),
        "events_per_chat": len(expected),
        "events_total": events,
        "wall_seconds": elapsed,
        "chats_per_second": chats / elapsed,
        "events_per_second": events / elapsed,
        "time_to_first_event_seconds": {"p50": percentile(firsts, 0.5), "p99": percentile(firsts, 0.99)},
        "peak_rss_mb": {
            "client": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "server": (sim.peak_rss_kb or 0) / 1024,
        },
    }


def report(result: dict[str, Any]) -> str:
    first = result["time_to_first_event_seconds"]
    rss = result["peak_rss_mb"]
    lines = [
        f"{result['completed']}/{result['chats']} chats complete, {result['lost_or_duplicated']} with lost or "
        f"duplicated events, {len(result['errors'])} errors; {result['events_per_chat']} events each",
        f"wall {result['wall_seconds']:.1f} s ({result['chats_per_second']:.0f} chats/s, "
        f"{result['events_per_second']:,.0f} events/s); first event p50 {first['p50'] * 1000:.0f} ms, "
        f"p99 {first['p99'] * 1000:.0f} ms",
        f"peak RSS: client {rss['client']:.0f} MB, server {rss['server']:.0f} MB",
    ]
    lines += result["errors"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=1000, help="concurrent chats (default 1000)")
    parser.add_argument("--per-client", type=int, default=25, help="chats sharing one AsyncCoze (default 25)")
    parser.add_argument("--write", action="store_true", help="merge the figures into reports/benchmarks.json")
    args = parser.parse_args(argv)
    result = run(args.chats, args.per_client)
    print(report(result))
    if args.write:
        print(f"wrote {write_section('scale', result)}")
    return 0 if result["completed"] == result["chats"] else 1


if __name__ == "__main__":
    sys.exit(main())
