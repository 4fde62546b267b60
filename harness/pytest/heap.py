"""The garbage collector during a session that uses the simulator: the heap is frozen once the tests are collected.

By the first test, FastAPI, pydantic, cozepy, the simulator and pytest's own collection are a heap of a few hundred
thousand objects that live as long as the session. Left alone, the collector walks all of them on every full
collection: a few during the tests, two more that pytest makes when the session ends, one more when the
interpreter exits, and that exit then takes the heap apart object by object. Measured on 2 cores, a 200-test
in-process suite spent about 0.4 s of its 2.3 s in those (`benchmarks/README.md`). `gc.freeze()` moves what
is alive into a generation the collector leaves alone; what tests make afterwards is collected as usual.

So once collection is done, if a collected test uses one of the plugin's fixtures, `freeze_for` imports what those
tests' modes will import anyway (`modes.MODES[...].modules`) and freezes the heap. What that costs: an object alive
at that moment that becomes cyclic garbage later (a module-scoped fixture's value torn down mid-session, say) is not
reclaimed until the heap is unfrozen, and `gc.get_objects()` does not list frozen objects (nor are their finalizers
run, at exit either). When the session ends, `release` leaves the heap frozen (pytest's own last collections skip it
too): the process normally ends with the session, and its interpreter would otherwise walk and take apart, object by
object, a heap the operating system is about to reclaim whole (about a quarter of a second here). What stays frozen
is bounded: a session run inside another (pytester's in-process runs) never freezes, so the outer one's heap is left
as it was; and the next session started in the same process (`pytest.main` called in a loop) unfreezes and collects
what the last one left, so at most one session's heap is ever held. Nothing is frozen when no test will run
(`--collect-only`, `--fixtures`, a collection error), nor by a pytest that a test started in a process of its own
(it inherits `PYTEST_CURRENT_TEST`, which is how a session run in process by a test is told apart when the outer one
did not load the plugin): that one only misses the speed-up.
`coze_freeze_heap = false` in the ini file turns all of it off.
"""

from __future__ import annotations

import gc
import os
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
    """At configure. A session run inside another (pytester's in-process runs: a session of this process that
    loaded the plugin has not ended, or a test is running) never freezes, and leaves the outer one's freeze as it
    is. Any other first gives back what an earlier session of the process left frozen, collected."""
    nested = _sessions[0] > 0 or "PYTEST_CURRENT_TEST" in os.environ
    config.stash[_NESTED] = nested
    _sessions[0] += 1
    if not nested and _left_frozen[0]:  # pytest.main in a loop: much of the earlier session's heap is garbage now
        _left_frozen[0] = False
        gc.unfreeze()
        gc.collect()


def freeze_for(session: pytest.Session) -> bool:
    """After collection: if tests will run that use the plugin's fixtures, import what they need and freeze the heap."""
    config = session.config
    if config.stash.get(_NESTED, False) or not config.getini(FREEZE_INI) or not _tests_will_run(session):
        return False
    modules = modules_for(session.items)
    if not modules:
        return False
    from harness._gc import freeze_after_importing

    freeze_after_importing(modules)  # cozepy only if a test builds a client: `coze_sim` alone never imports it
    config.stash[_FROZEN] = True
    return True


def _tests_will_run(session: pytest.Session) -> bool:
    option = session.config.option
    if option.collectonly or getattr(option, "showfixtures", False) or getattr(option, "show_fixtures_per_test", False):
        return False
    return not session.testsfailed or bool(getattr(option, "continue_on_collection_errors", False))


def release(config: pytest.Config) -> None:
    """At the end of the session (a cleanup): what this session froze stays frozen, for the process that ends with it
    or for the next session of the process to give back."""
    _sessions[0] = max(0, _sessions[0] - 1)
    if config.stash.get(_FROZEN, False):
        config.stash[_FROZEN] = False
        _left_frozen[0] = True
