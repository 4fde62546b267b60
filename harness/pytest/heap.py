"""The garbage collector during a session that uses the simulator: the heap is frozen once the tests are collected.

By the first test, FastAPI, pydantic, cozepy, the simulator and pytest's own collection are a heap of a few hundred
thousand objects that live as long as the session. Left alone, the collector walks all of them on every full
collection: a few during the tests, two more that pytest makes when the session ends, one more when the
interpreter exits, and that exit then takes the heap apart object by object. Measured on 2 cores, a 200-test
in-process suite spent about 0.4 s of its 2.3 s in those (`benchmarks/README.md`). `gc.freeze()` moves what
is alive into a generation the collector leaves alone; what tests make afterwards is collected as usual.

So once collection is done, if a collected test uses one of the plugin's fixtures, `freeze_for` imports what
those tests' modes will import anyway (`modes.MODES[...].modules`) and freezes the heap. What that costs: an
object alive at that moment that becomes cyclic garbage later (a module-scoped fixture's value torn down
mid-session, say) is not reclaimed until the heap is unfrozen, and `gc.get_objects()` does not list frozen
objects. When the session ends, after pytest's last collections, `release` leaves the heap frozen: the process
normally ends with the session, and its interpreter would otherwise walk and take apart, object by object, a
heap the operating system is about to reclaim whole (about a quarter of a second here). Two exceptions bound
what stays frozen: a session run inside another (pytester's in-process runs) unfreezes at its end, since the
outer one goes on; and a later session in the same process (`pytest.main` called in a loop) unfreezes what
the earlier one left before freezing again, so at most one session's heap is ever held.
`coze_freeze_heap = false` in the ini file turns all of it off.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable

import pytest

from .modes import MODES, SIMULATOR_MODULES, marked_mode

__all__ = ["FREEZE_INI", "begin", "freeze_for", "modules_for", "release"]

FREEZE_INI = "coze_freeze_heap"

_FIXTURE_MODULES: dict[str, tuple[str, ...]] = {
    "coze_sim": SIMULATOR_MODULES,
    "coze_cassette": MODES["cassette"].modules,
    "coze_bridge": ("harness.bridge", "harness.tools", "simulators.coze._uvicorn"),
    "local_tools": ("harness.tools",),
}
_CLIENT_FIXTURES = ("coze_client", "async_coze_client")
_FROZEN = pytest.StashKey[bool]()
_NESTED = pytest.StashKey[bool]()
_sessions = [0]
"""Sessions of this process that loaded the plugin and have not ended: more than one means pytester in-process."""
_left_frozen = [False]
"""A session that ended left the heap frozen (the next one in this process unfreezes before freezing again)."""


def modules_for(items: Iterable[pytest.Item]) -> list[str]:
    """The modules the plugin's fixtures will import for these tests (none if no test uses them), in a fixed order."""
    needed: dict[str, None] = {}
    for item in items:
        names = getattr(item, "fixturenames", ())
        for fixture, modules in _FIXTURE_MODULES.items():
            if fixture in names:
                needed.update(dict.fromkeys(modules))
        if any(fixture in names for fixture in _CLIENT_FIXTURES):
            mode = MODES.get(marked_mode(item))  # an unknown mode fails in the test's setup, saying so
            needed.update(dict.fromkeys(mode.modules if mode is not None else SIMULATOR_MODULES))
    return list(needed)


def begin(config: pytest.Config) -> None:
    """At configure: note whether this session runs inside another one that loaded the plugin (pytester's
    in-process runs), which goes on after it; `release` undoes the freeze for those."""
    config.stash[_NESTED] = _sessions[0] > 0
    _sessions[0] += 1


def freeze_for(session: pytest.Session) -> bool:
    """After collection: if the tests use the plugin's fixtures, import what they will need and freeze the heap."""
    config = session.config
    if config.option.collectonly or not config.getini(FREEZE_INI):
        return False
    modules = modules_for(session.items)
    if not modules:
        return False
    from harness._gc import freeze_after_importing

    if _left_frozen[0]:  # an earlier session of this process (pytest.main in a loop): much of its heap is garbage now
        gc.unfreeze()
        gc.collect()
        _left_frozen[0] = False
    freeze_after_importing(["cozepy", "httpx", *modules])
    config.stash[_FROZEN] = True
    return True


def release(config: pytest.Config) -> None:
    """At the very end of the session (a cleanup that runs after pytest's own final collections). A session run
    inside another unfreezes what it froze; any other leaves it frozen, for the process that ends with it."""
    _sessions[0] = max(0, _sessions[0] - 1)
    if not config.stash.get(_FROZEN, False):
        return
    config.stash[_FROZEN] = False
    if config.stash.get(_NESTED, False):
        gc.unfreeze()
    else:
        _left_frozen[0] = True
