"""harness.transports: every httpx transport in one place; the old module paths are the same modules."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_the_old_paths_are_the_same_modules() -> None:
    import harness.inprocess
    import harness.transports.inprocess

    assert harness.inprocess is harness.transports.inprocess
    pytest.importorskip("respx")
    import harness.respx_routes
    import harness.transports.respx

    assert harness.respx_routes is harness.transports.respx


def test_every_transport_is_named_in_the_package() -> None:
    import harness.transports as transports
    from harness.cassettes.replay import AsyncCassetteTransport, CassetteTransport
    from harness.recorder import RecordingTransport
    from harness.transports.inprocess import AsyncInProcessTransport, InProcessTransport

    assert transports.InProcessTransport is InProcessTransport
    assert transports.AsyncInProcessTransport is AsyncInProcessTransport
    assert transports.RecordingTransport is RecordingTransport
    assert transports.CassetteTransport is CassetteTransport
    assert transports.AsyncCassetteTransport is AsyncCassetteTransport
    with pytest.raises(AttributeError):
        _ = transports.NoSuchTransport


def test_importing_the_package_imports_no_transport_yet() -> None:
    code = (
        "import sys, harness.transports; "
        "print(sorted(m for m in ('respx', 'harness.cassettes', 'harness.transports.inprocess') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "[]"
