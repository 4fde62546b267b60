"""What the SDK says while a probe runs: Python warnings raised from its code and its logger's records.

They belong in the probe's evidence (cozepy 0.20.0 warns `Unknown ChatStatus value` on the open-source
server, and logs `[cozepy][WARNING] ... code=6039` when a workflow run stops at a question), not mixed
into the report's progress. Warnings from anywhere else are given back to Python's own machinery when
the block ends, so nothing but the SDK's is taken away.

Only what the block's own threads say is kept: the calling thread and any thread started while the block
runs (a websocket client's reader). A thread that was already running, such as a websocket close still
settling in the background from an earlier probe (or an earlier test in the same process), may log at any
moment; taking its lines would make the evidence depend on timing, and the report must not.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SDK_PACKAGE = "cozepy"
_QUIET = logging.CRITICAL + 1


class _Collect(logging.Handler):
    def __init__(self, lines: list[str], foreign: frozenset[threading.Thread]) -> None:
        super().__init__(logging.WARNING)
        self.lines = lines
        self.foreign = foreign

    def emit(self, record: logging.LogRecord) -> None:
        if threading.current_thread() not in self.foreign:  # emit runs on the thread that logged
            _keep(self.lines, f"{record.name} {record.levelname}: {record.getMessage()}")


def _foreign_threads() -> frozenset[threading.Thread]:
    """The threads already running when a block starts, other than the one starting it (the objects, not
    their idents, which the system reuses once a thread ends)."""
    current = threading.current_thread()
    return frozenset(thread for thread in threading.enumerate() if thread is not current)


def _keep(lines: list[str], line: str) -> None:
    """Each distinct message once, in the order first seen: how often a warning repeats depends on how
    often the SDK polled, which is not evidence of anything."""
    if line not in lines:
        lines.append(line)


def _sdk_dirs() -> list[str]:
    try:
        module = __import__(SDK_PACKAGE)
    except ImportError:
        return []
    return [str(Path(path).resolve()) for path in getattr(module, "__path__", [])]


@contextmanager
def sdk_output() -> Iterator[list[str]]:
    """Collect the SDK's warnings and WARNING-or-worse log records for the block, printing none of them.
    Yields the list the lines are added to: the log records as they come (`cozepy WARNING: ...`), then,
    when the block ends, the warnings (`UserWarning: ...`)."""
    lines: list[str] = []
    foreign = _foreign_threads()
    logger = logging.getLogger(SDK_PACKAGE)
    collect = _Collect(lines, foreign)
    handlers = [(handler, handler.level) for handler in logger.handlers]
    for handler, _ in handlers:
        handler.setLevel(_QUIET)
    logger.addHandler(collect)
    dirs = _sdk_dirs()
    caught: list[tuple[warnings.WarningMessage, threading.Thread]] = []

    def record(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: object = None,
        line: str | None = None,
    ) -> None:
        warning = warnings.WarningMessage(message, category, filename, lineno, None, line)
        caught.append((warning, threading.current_thread()))

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = record
            yield lines
    finally:
        logger.removeHandler(collect)
        for handler, level in handlers:
            handler.setLevel(level)
    for item, thread in caught:
        source = str(Path(item.filename).resolve())
        # A ResourceWarning (an unclosed socket) is raised wherever the garbage collector happens to run, at a
        # moment no probe controls, and names ephemeral ports: it says nothing the evidence could repeat.
        timely = not issubclass(item.category, ResourceWarning)
        if timely and thread not in foreign and any(source.startswith(folder) for folder in dirs):
            _keep(lines, f"{item.category.__name__}: {item.message}")
        else:  # not the SDK's: as if it had never been caught
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno, source=item.source)
