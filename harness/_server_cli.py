"""The options every long-running server of the command shares (`serve`, `bridge serve`): how long a
connection may take over its headers, how long an idle one stays open, how many may be open at once.

They exist because neither server sits behind a proxy that would enforce them: without them, a client
that trickles its headers or opens sockets and sends nothing holds them for as long as it likes.
"""

from __future__ import annotations

import argparse
import math

from simulators.coze import ServerLimits

from .bridge import is_loopback_host

__all__ = ["add_server_limit_options", "is_loopback_host", "positive_bytes", "positive_int", "positive_seconds"]

_DEFAULTS = ServerLimits()


def positive_seconds(text: str) -> float:
    """An argparse type: a finite number of seconds above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"wants a number of seconds above 0, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"wants a finite number of seconds above 0, got {text!r}")
    return value


def _whole_above_zero(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"wants {what} above 0, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"wants {what} above 0, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: a whole number above zero."""
    return _whole_above_zero(text, "a whole number")


def positive_bytes(text: str) -> int:
    """An argparse type: a whole number of bytes above zero."""
    return _whole_above_zero(text, "a whole number of bytes")


def add_server_limit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--header-timeout",
        type=positive_seconds,
        default=_DEFAULTS.header_timeout,
        metavar="SECONDS",
        help="close a connection whose request headers have not all arrived within SECONDS "
        f"(default {_DEFAULTS.header_timeout:g})",
    )
    parser.add_argument(
        "--idle-timeout",
        type=positive_seconds,
        default=_DEFAULTS.idle_timeout,
        metavar="SECONDS",
        help=f"close a keep-alive connection idle for SECONDS (default {_DEFAULTS.idle_timeout:g})",
    )
    parser.add_argument(
        "--max-connections",
        type=positive_int,
        default=_DEFAULTS.max_connections,
        metavar="N",
        help="answer 503 to a connection beyond N open ones (default "
        f"{_DEFAULTS.max_connections}, lowered to fit the process's open-file limit)",
    )


def add_access_log_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--access-log",
        action="store_true",
        help="write one line per request to stderr: client, method, path, status, duration (never a header; "
        "query values other than decimal ids are written REDACTED). Off by default",
    )


def server_limits_of(args: argparse.Namespace) -> ServerLimits:
    return ServerLimits(
        header_timeout=args.header_timeout, idle_timeout=args.idle_timeout, max_connections=args.max_connections
    )
