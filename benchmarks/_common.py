"""What the benchmarks share: servers in child processes, the machine, and reports/benchmarks.json."""

from __future__ import annotations

import datetime
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
RESULTS = ROOT / "reports" / "benchmarks.json"
STREAM_BOT = "7390000000000000900"
WEATHER_BOT = "7390000000000000002"


@dataclass
class Server:
    base_url: str
    process: subprocess.Popen[str]
    peak_rss_kb: int | None = field(default=None)


@contextmanager
def server(*args: str) -> Iterator[Server]:
    """`python -m benchmarks._serve ARGS` in a child process; its peak RSS is read when it stops."""
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._serve", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("READY "):
        process.kill()
        raise RuntimeError(f"the benchmark server did not start: {line!r}")
    running = Server(base_url=line.split()[1], process=process)
    try:
        yield running
    finally:
        process.send_signal(signal.SIGINT)
        try:
            rest = process.communicate(timeout=20)[0]
        except subprocess.TimeoutExpired:
            process.kill()
            rest = process.communicate()[0]
        for text in rest.splitlines():
            if text.startswith("PEAK_RSS_KB "):
                running.peak_rss_kb = int(text.split()[1])


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str] = {}
    for name in ("cozepy", "httpx", "uvicorn", "starlette", "fastapi"):
        try:
            from importlib.metadata import version

            versions[name] = version(name)
        except Exception:
            versions[name] = "?"
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "packages": versions,
    }


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": statistics.median(ordered),
        "best": ordered[-1],
        "worst": ordered[0],
        "runs": len(ordered),
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def write_section(name: str, section: dict[str, Any], path: Path = RESULTS) -> Path:
    """Merge one benchmark's figures into reports/benchmarks.json (the other sections are kept)."""
    try:
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        document = {}
    document["schema"] = 1
    document["machine"] = machine()
    document.setdefault("benchmarks", {})[name] = {
        **section,
        "measured_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def quiet_cozepy() -> None:
    """cozepy warns about authlib on import and logs every failed request; neither is ours to act on."""
    import logging
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import cozepy  # noqa: F401
    logging.getLogger("cozepy").setLevel(logging.ERROR)
