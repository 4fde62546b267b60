"""Every httpx transport the harness has, in one place (DESIGN.md: transports/).

- `harness.transports.inprocess`: `InProcessTransport` / `AsyncInProcessTransport`, the simulator's ASGI
  app served in the test process, streamed chunk by chunk as a socket would (also importable as
  `harness.inprocess`, the path the README has shown).
- `harness.transports.respx`: `mock_coze`, respx routes answered by the simulator app, a new stream per
  call (also `harness.respx_routes`; needs respx).
- recording: `RecordingTransport` (`harness.recorder`), the exchange as it left the SDK and the bytes as
  they came back, for probe evidence and cassettes.
- replay: `CassetteTransport` / `AsyncCassetteTransport` (`harness.cassettes.replay`), a cassette played
  back with no server.

The recording and replay transports stay in the modules that hold their models (the evidence the
recorder normalises, the cassette format and matching the player reads); they are re-exported here.
Names are imported when first asked for, so `import harness.transports` imports neither respx nor the
cassette machinery.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = [
    "INPROCESS_BASE_URL",
    "AsyncCassetteTransport",
    "AsyncInProcessTransport",
    "CassetteTransport",
    "CozeRouter",
    "InProcessTransport",
    "RecordingTransport",
    "mock_coze",
]

_WHERE = {
    "INPROCESS_BASE_URL": "harness.transports.inprocess",
    "InProcessTransport": "harness.transports.inprocess",
    "AsyncInProcessTransport": "harness.transports.inprocess",
    "RecordingTransport": "harness.recorder",
    "CassetteTransport": "harness.cassettes.replay",
    "AsyncCassetteTransport": "harness.cassettes.replay",
    "mock_coze": "harness.transports.respx",
    "CozeRouter": "harness.transports.respx",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'harness.transports' has no attribute {name!r}")
    return getattr(import_module(module), name)
