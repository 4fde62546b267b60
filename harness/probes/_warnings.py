"""What the SDK says while a probe runs: Python warnings raised from its code and its logger's records.

They belong in the probe's evidence (cozepy 0.20.0 warns `Unknown ChatStatus value` on the open-source
server, and logs `[cozepy][WARNING] ... code=6039` when a workflow run stops at a question), not mixed
into the report's progress. Warnings from anywhere else are given back to Python's own machinery when
the block ends, so nothing but the SDK's is taken away.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SDK_PACKAGE = "cozepy"
_QUIET = logging.CRITICAL + 1


class _Collect(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        _keep(self.lines, f"{record.name} {record.levelname}: {record.getMessage()}")


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
    logger = logging.getLogger(SDK_PACKAGE)
    collect = _Collect(lines)
    handlers = [(handler, handler.level) for handler in logger.handlers]
    for handler, _ in handlers:
        handler.setLevel(_QUIET)
    logger.addHandler(collect)
    dirs = _sdk_dirs()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield lines
    finally:
        logger.removeHandler(collect)
        for handler, level in handlers:
            handler.setLevel(level)
    for item in caught:
        source = str(Path(item.filename).resolve())
        if any(source.startswith(folder) for folder in dirs):
            _keep(lines, f"{item.category.__name__}: {item.message}")
        else:  # not the SDK's: as if it had never been caught
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno, source=item.source)
