"""A user's test suite through the pytest plugin, in each mode, beside the same suite on respx, in one run.

    python -m benchmarks.plugin_suite [--tests 200] [--rounds 3] [--write]

Generates a suite of N tests, each one echo-bot chat through the plugin's `coze_client` (read to its last
event and checked), and runs it with pytest in a subprocess (`python -m pytest -q`, interpreter start and
collection included, as a user runs it) in `socket`, `inprocess` and `cassette` mode (replaying a cassette
recorded once before the timed runs), and beside them the same N tests on respx: a cozepy client per test
whose chat route answers the bytes captured from the simulator. Every suite loads the plugin, so the
baseline pays the same imports. Rounds alternate the suites; figures are each suite's best and median
wall time, after one untimed run of each (bytecode is cached, in the temporary folder, as an
installed package's is); `ratios` are the bests' against respx's best (the least disturbed by other work on the
machine, as `harness_speed` reads its transports), `median_ratios` the medians', `paired_ratios` the median of
each round's ratio (the figure least moved by a host that slows down for a while). Targets (issue 23):
in-process <= 1.2x, socket <= 1.5x, cassette replay <= 1.1x.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import ROOT, write_section
from simulators.coze import BUILTIN_DIR

ECHO_BOT = "7390000000000000001"
TARGETS = {"inprocess": 1.2, "socket": 1.5, "cassette": 1.1}
_BASE_URL = "http://respx.coze-simulator.invalid"

_PLUGIN_TEST = """
import cozepy
import pytest

from harness.sdk import event_name

pytestmark = [pytest.mark.coze(mode="{mode}"{cassette}), pytest.mark.coze_scenarios("scenarios", builtin=False)]


@pytest.mark.parametrize("index", range({count}))
def test_echo(coze_client, index):
    message = cozepy.Message(role="user", type="question", content="hello", content_type="text")
    stream = coze_client.chat.stream(bot_id="{bot}", user_id="u", additional_messages=[message])
    assert [event_name(e) for e in stream][-1] == "conversation.chat.completed"
"""

_RESPX_TEST = """
from pathlib import Path

import cozepy
import httpx
import pytest
import respx

from harness.sdk import event_name

CANNED = (Path(__file__).parent / "echo.sse").read_bytes()
BASE_URL = "{base_url}"
HEADERS = {{"content-type": "text/event-stream"}}
HTTP = httpx.Client()  # one for the module: the baseline pays no client (nor SSL context) per test


@pytest.fixture
def coze_client():
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(BASE_URL + "/v3/chat")
        route.mock(side_effect=lambda request: httpx.Response(200, headers=HEADERS, content=CANNED))
        yield cozepy.Coze(auth=cozepy.TokenAuth("any-token"), base_url=BASE_URL, http_client=HTTP)


@pytest.mark.parametrize("index", range({count}))
def test_echo(coze_client, index):
    message = cozepy.Message(role="user", type="question", content="hello", content_type="text")
    stream = coze_client.chat.stream(bot_id="{bot}", user_id="u", additional_messages=[message])
    assert [event_name(e) for e in stream][-1] == "conversation.chat.completed"
"""


def _capture() -> bytes:
    """The echo bot's chat stream as the simulator sends it (the respx suite serves these bytes)."""
    import httpx

    from harness.transports.inprocess import InProcessTransport
    from simulators.coze import DEFAULT_TOKEN, create_app

    transport = InProcessTransport(create_app())
    try:
        with httpx.Client(transport=transport, base_url=_BASE_URL) as client:
            body = {
                "bot_id": ECHO_BOT,
                "user_id": "u",
                "stream": True,
                "additional_messages": [{"role": "user", "content": "hello", "content_type": "text"}],
            }
            return client.post("/v3/chat", json=body, headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}).content
    finally:
        transport.close()


def _suites(folder: Path, count: int) -> dict[str, Path]:
    """One folder per suite, each with its test module."""
    suites: dict[str, Path] = {}
    for mode in ("socket", "inprocess", "cassette"):
        where = folder / mode
        where.mkdir()
        cassette = ', cassette="cassettes/echo.yaml"' if mode == "cassette" else ""
        text = _PLUGIN_TEST.format(mode=mode, cassette=cassette, count=count, bot=ECHO_BOT)
        (where / f"test_{mode}.py").write_text(text, encoding="utf-8")
        # the echo bot alone: the suite does not depend on the rest of the catalogue
        (where / "scenarios").mkdir()
        shutil.copy(BUILTIN_DIR / "echo_bot.yaml", where / "scenarios" / "echo_bot.yaml")
        suites[mode] = where
    where = folder / "respx"
    where.mkdir()
    (where / "echo.sse").write_bytes(_capture())
    text = _RESPX_TEST.format(base_url=_BASE_URL, count=count, bot=ECHO_BOT)
    (where / "test_respx.py").write_text(text, encoding="utf-8")
    suites["respx"] = where
    return suites


_SOURCE = {"root": ROOT, "plugin": "harness.pytest.plugin"}
"""Where the suites import coze-harness from, and the plugin module: another checkout's, to measure before/after."""


def _pytest(where: Path, *args: str) -> tuple[float, str]:
    """Wall time of one pytest run in a subprocess, and its last line; a failing run is an error."""
    env = {**os.environ, "PYTHONPATH": str(_SOURCE["root"]), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    # Bytecode cached, as in a user's installed environment (in the suites' temporary folder, not the tree):
    # with PYTHONDONTWRITEBYTECODE every run compiled the project's modules again
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(where.parent / "pycache")
    command = [sys.executable, "-m", "pytest", "-q", "-p", str(_SOURCE["plugin"]), "-p", "no:cacheprovider"]
    command += ["-p", "no:randomly", "-W", "ignore::DeprecationWarning", *args]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=where, env=env, capture_output=True, text=True, timeout=900, check=False)
    elapsed = time.perf_counter() - started
    last = (done.stdout.strip().splitlines() or [""])[-1]
    if done.returncode != 0:
        raise RuntimeError(
            f"the {where.name} suite failed ({done.returncode}): {done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return elapsed, last


def run(tests: int = 200, rounds: int = 5) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="coze-plugin-suite-") as temp:
        suites = _suites(Path(temp), tests)
        _pytest(suites["cassette"], "--coze-record=once", "-k", "test_echo[0]")  # record the cassette once
        for where in suites.values():  # warm up, untimed: bytecode and the OS's file cache
            _pytest(where)
        seconds: dict[str, list[float]] = {name: [] for name in suites}
        for _ in range(rounds):
            for name, where in suites.items():
                elapsed, _last = _pytest(where)
                seconds[name].append(elapsed)
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    best = {name: min(values) for name, values in seconds.items()}
    return {
        "description": f"{tests} tests, each one echo-bot chat through the plugin's coze_client, run by pytest in a "
        "subprocess in each mode, beside the same tests on respx serving the simulator's captured bytes",
        "tests": tests,
        "rounds": rounds,
        "seconds": {
            name: {"median": medians[name], "best": min(values), "worst": max(values)}
            for name, values in seconds.items()
        },
        "ms_per_test": {name: best[name] * 1000 / tests for name in best},
        "ratios": {mode: best[mode] / best["respx"] for mode in TARGETS},
        "median_ratios": {mode: medians[mode] / medians["respx"] for mode in TARGETS},
        "paired_ratios": {mode: _paired(seconds[mode], seconds["respx"]) for mode in TARGETS},
        "targets": dict(TARGETS),
    }


def _paired(mode: list[float], respx: list[float]) -> float:
    """The median of each round's ratio: a suite and the respx suite of one round ran within seconds of each
    other, so a host that slows down for a while moves both and not their ratio."""
    return statistics.median(one / baseline for one, baseline in zip(mode, respx, strict=True))


def report(result: dict[str, Any]) -> str:
    lines = [
        f"plugin suite: {result['tests']} tests, {result['rounds']} rounds; wall time of `pytest -q`, best "
        "(median), and the ratio of the bests (of the medians; the median of each round's ratio)"
    ]
    respx = result["seconds"]["respx"]
    lines.append(f"  respx      {respx['best']:6.2f} s ({respx['median']:.2f} s)")
    for mode, target in result["targets"].items():
        ratio = result["ratios"][mode]
        verdict = "met" if ratio <= target else "MISSED"
        figures = result["seconds"][mode]
        lines.append(
            f"  {mode:<10} {figures['best']:6.2f} s ({figures['median']:.2f} s)   {ratio:.2f}x respx "
            f"({result['median_ratios'][mode]:.2f}x; {result['paired_ratios'][mode]:.2f}x)   "
            f"target <= {target}: {verdict}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tests", type=int, default=200, help="tests in the generated suite (default 200)")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each suite, alternating (default 5)")
    parser.add_argument("--write", action="store_true", help="merge the figures into reports/benchmarks.json")
    parser.add_argument(
        "--root",
        type=Path,
        default=ROOT,
        help="the checkout the suites import coze-harness from (another one to measure an older plugin)",
    )
    parser.add_argument(
        "--plugin", default="harness.pytest.plugin", help="the plugin module (older: harness.pytest_plugin)"
    )
    args = parser.parse_args(argv)
    _SOURCE.update(root=args.root.resolve(), plugin=args.plugin)
    result = run(args.tests, args.rounds)
    print(report(result))
    if args.write:
        print(f"wrote {write_section('plugin_suite', result)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
