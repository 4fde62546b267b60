"""The network guard of the pytest plugin: while a test uses the coze fixtures, connections (and name
lookups) beyond loopback are refused with `NetworkBlockedError`, in every thread; a recording run with
`$COZE_API_BASE` set may also reach that one host."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest

__all__ = ["BASE_ENV", "TOKEN_ENV", "NetworkBlockedError", "guarded", "is_loopback_address", "recording_host"]

BASE_ENV = "COZE_API_BASE"
TOKEN_ENV = "COZE_API_TOKEN"
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


class NetworkBlockedError(ConnectionRefusedError):
    """A test using the coze fixtures tried to reach a host other than loopback."""


def is_loopback_address(host: str | bytes) -> bool:
    """Is `host` (an IP literal or a name) one this machine answers itself? Names other than
    localhost's are not resolved: resolving them is already traffic to a DNS server."""
    text = host.decode() if isinstance(host, bytes) else host
    text = text.strip("[]").split("%", 1)[0]
    if text.lower() in _LOCAL_NAMES or text.lower().endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _blocked(what: str) -> NetworkBlockedError:
    return NetworkBlockedError(
        f"coze-harness refused {what}: while a test uses the coze fixtures only loopback (127.0.0.0/8, ::1, "
        "localhost) is reachable (and, when recording with --coze-record and $COZE_API_BASE, that host). "
        "Point the client at coze_sim.base_url or use coze_client."
    )


def recording_host(config: pytest.Config) -> str | None:
    """The one host beyond loopback a recording run may reach: that of $COZE_API_BASE."""
    if config.getoption("coze_record", default="none") == "none":
        return None
    base = os.environ.get(BASE_ENV, "").strip()
    return (urlsplit(base).hostname or None) if base else None


@contextmanager
def guarded(config: pytest.Config) -> Iterator[None]:
    """Refuse connections (and name lookups) beyond loopback for the test's duration, in every thread.

    `socket.socket.connect` / `connect_ex` are what both httpx's sync transport and asyncio's loop
    call, so one patch covers sync and async clients; `socket.getaddrinfo` is guarded too, so a
    client given a real host name fails before any DNS query leaves the machine. A recording run
    with `$COZE_API_BASE` set may also look up that host and connect to the addresses it resolved to.
    """
    allowed_host = recording_host(config)
    allowed_addresses: set[str] = set()
    connect = socket.socket.connect
    connect_ex = socket.socket.connect_ex
    getaddrinfo = socket.getaddrinfo

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return  # unix sockets and the like never leave the machine
        host = address[0] if isinstance(address, tuple) else address
        if is_loopback_address(host) or str(host) in allowed_addresses:
            return
        port = address[1] if isinstance(address, tuple) and len(address) > 1 else "?"
        raise _blocked(f"a connection to {host}:{port}")

    def guarded_connect(self: socket.socket, address: Any) -> None:
        check(self, address)
        connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        check(self, address)
        return connect_ex(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        text = host.decode() if isinstance(host, bytes) else host
        if allowed_host is not None and isinstance(text, str) and text.lower() == allowed_host.lower():
            answers = getaddrinfo(host, *args, **kwargs)
            allowed_addresses.update(str(answer[4][0]) for answer in answers)
            return answers
        if host is not None and not is_loopback_address(host) and not _is_ip_literal(host):
            raise _blocked(f"a name lookup of {host!r}")
        return getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", guarded_connect)
        patch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
        patch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
        yield


def _is_ip_literal(host: str | bytes) -> bool:
    """An address needs no lookup; `connect` judges it."""
    text = host.decode() if isinstance(host, bytes) else host
    try:
        ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True
