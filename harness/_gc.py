"""The garbage collector in the short commands that run probes (`report`; the compat sweeps run it per release).

By the time a report starts probing, FastAPI, pydantic, cozepy, the simulator and their models are a heap of a
few hundred thousand objects that live until the process exits. The collector walks all of them on every
full collection, and those collections hold the GIL while the loopback servers and the SDK's threads wait
on it: measured on 2 cores, a report spent 0.1 to 0.2 s in collections and ran about 15% faster with the
heap frozen. `gc.freeze()` moves what is alive now into a generation the collector leaves alone; objects
made afterwards are collected as usual. The pytest plugin does it too, once a user's tests are collected, with
the limits `harness.pytest.heap` sets (never in a nested session; the next session of a process gives it back).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
from collections.abc import Iterable


def freeze_after_importing(modules: Iterable[str]) -> None:
    """Import `modules` (what the command is about to use), then freeze every object alive now. A module that
    cannot be imported, whatever it raises, is left for the command to meet where it needs it and report as it does
    (a missing cozepy is a probe's crash, an import that fails in a user's suite fails the test that needs it, not
    the session): importing early is only to freeze more."""
    enabled = gc.isenabled()
    gc.disable()  # the imports make hundreds of thousands of objects: no collection walks them before they are frozen
    try:
        for name in modules:
            with contextlib.suppress(Exception):
                importlib.import_module(name)
        gc.freeze()
    finally:
        if enabled:
            gc.enable()
