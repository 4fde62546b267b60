"""Trusting the simulator's throwaway certificate authority, for clients we cannot hand an SSL context.

`cozepy`'s websocket client opens `wss://` with the default SSL context and offers no way to pass
another, so the only door is the `SSL_CERT_FILE` variable OpenSSL reads when a default context is
made. This sets it for the block and restores it after; it affects the whole process meanwhile, so
use it around one run, not around a test session.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_VARIABLE = "SSL_CERT_FILE"


@contextmanager
def trusting(ca_file: Path) -> Iterator[None]:
    if not ca_file.is_file():
        raise FileNotFoundError(f"no certificate authority at {ca_file}")
    before = os.environ.get(_VARIABLE)
    os.environ[_VARIABLE] = str(ca_file)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(_VARIABLE, None)
        else:
            os.environ[_VARIABLE] = before
