"""Cassette mode of the pytest plugin: where a test's cassette lives, whether this run replays or records
it (`--coze-record`, as vcrpy's record modes), and writing a recording only when the test passed."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .modes import client_timeout, config_of, marker_kwargs, sim_of, token_of
from .network import BASE_ENV, TOKEN_ENV

if TYPE_CHECKING:
    from harness.cassettes import Cassette, CassetteRecorder, CassetteTransport

__all__ = ["RECORD_MODES", "CozeCassette", "cassette_for"]

RECORD_MODES = ("none", "once", "new_episodes", "all")


_LOADED = pytest.StashKey[dict[tuple[str, int, int], "Cassette"]]()
_LOADED_MAX = 64


def _loaded(config: pytest.Config, path: Path) -> Cassette:
    """The cassette at `path`, parsed once per session while the file stays as it is (replaying reads it and
    never changes it; a playback's state lives in its transport): a suite whose tests replay one cassette
    parses it once, not once per test. Kept on the session's config, so no parsed cassette outlives it."""
    from harness.cassettes import load

    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    loaded = config.stash.setdefault(_LOADED, {})
    cassette = loaded.get(key)
    if cassette is None:
        cassette = load(path)
        if len(loaded) >= _LOADED_MAX:
            loaded.clear()
        loaded[key] = cassette
    return cassette


_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")
_REPLAY_BASE_URL = "http://cassette.coze-harness.invalid"
"""Where replaying clients point when a cassette names no base URL: a host that can never resolve."""


def _cassette_path(request: pytest.FixtureRequest) -> Path:
    given = marker_kwargs(request, "coze").get("cassette")
    here = Path(request.path).parent
    if given is None:
        name = _UNSAFE.sub("_", request.node.name).strip("_") or "test"
        return here / "cassettes" / Path(request.path).stem / f"{name}.yaml"
    if not isinstance(given, str | os.PathLike):
        pytest.fail(f"@pytest.mark.coze(cassette=...) takes a path, not {type(given).__name__}", pytrace=False)
    path = Path(given)
    return path if path.is_absolute() else here / path


@dataclass
class CozeCassette:
    """The cassette of a test in cassette mode, and whether this run replays or records it.

    Replaying: `transport` is the `harness.cassettes.CassetteTransport` the sync client uses (its
    `playbacks`, `clock`, `unplayed()`, `assert_all_played()`); the async client shares its playback.
    Recording: `recorder` collects the traffic; the cassette is written to `path` when the test passes.
    """

    path: Path
    record_mode: str
    replay_mode: str
    recording: bool
    base_url: str
    token: str
    source: str | None = None
    """Recording only: 'simulator' or 'coze' (a real server at $COZE_API_BASE)."""
    simulator_seed: int | None = None
    transport: CassetteTransport | None = None
    recorder: CassetteRecorder | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def sync_client(self) -> tuple[Any, Callable[[], None]]:
        from harness.clients import coze_client_and_http

        transport: Any = self.recorder.transport if self.recorder is not None else self.transport
        coze, _http = coze_client_and_http(
            transport, base_url=self.base_url, token=self.token, timeout=client_timeout()
        )
        return coze, lambda: None  # the transport outlives the client; `finish` closes it

    def async_client(self) -> Any:
        from harness.clients import async_coze_client

        if self.recorder is not None:
            transport: Any = self.recorder.async_transport()
        else:
            assert self.transport is not None
            transport = self.transport.async_twin()
        return async_coze_client(transport, base_url=self.base_url, token=self.token, timeout=client_timeout())

    def finish(self, passed: bool) -> str | None:
        """Write a recording (only for a test that passed); what was done, for the terminal."""
        try:
            if self.recorder is None:
                return None
            if not passed:
                return f"coze-harness: {self.path} not written: the test did not pass"
            if not self.recorder.transport.exchanges:
                return f"coze-harness: {self.path} not written: the test sent no request"
            from harness.cassettes import SIMULATOR_BASE_URL

            cassette = self.recorder.cassette(
                source="simulator" if self.source == "simulator" else "coze",
                base_url=self.base_url,
                written_base_url=SIMULATOR_BASE_URL if self.source == "simulator" else None,
                simulator_seed=self.simulator_seed,
            )
            cassette.save(self.path)
            return None
        finally:
            for close in self._closers:
                close()


def _replay_mode(request: pytest.FixtureRequest) -> str:
    from harness.cassettes import ReplayMode

    replay = marker_kwargs(request, "coze").get("replay", ReplayMode.FAITHFUL.value)
    try:
        return ReplayMode(replay).value
    except ValueError:
        choices = ", ".join(mode.value for mode in ReplayMode)
        pytest.fail(f"@pytest.mark.coze(replay=...): unknown replay mode {replay!r}; choose one of {choices}", False)


def _start_recording(request: pytest.FixtureRequest, cassette: CozeCassette) -> None:
    import httpx

    from harness.cassettes import CassetteRecorder

    base = os.environ.get(BASE_ENV, "").strip()
    if base:
        token = os.environ.get(TOKEN_ENV, "").strip()
        if not token:
            pytest.fail(f"recording against ${BASE_ENV} ({base}) needs a token in ${TOKEN_ENV}", pytrace=False)
        cassette.base_url, cassette.token, cassette.source = base.rstrip("/"), token, "coze"
    else:
        sim = sim_of(request)
        config = config_of(request)
        cassette.base_url, cassette.token, cassette.source = sim.base_url, token_of(request), "simulator"
        cassette.simulator_seed = config.seed if config is not None else _default_seed()
    inner = httpx.HTTPTransport()
    cassette.recorder = CassetteRecorder(inner, secrets=[cassette.token])
    cassette._closers.append(inner.close)


def _default_seed() -> int:
    from simulators.coze import SimConfig

    return SimConfig().seed


@contextmanager
def cassette_for(request: pytest.FixtureRequest, coze_mode: str) -> Iterator[CozeCassette]:
    """The test's cassette, replayed or recorded as `--coze-record` says (cassette mode only); a recording
    is written when the test passed."""
    if coze_mode != "cassette":
        pytest.fail("coze_cassette needs @pytest.mark.coze(mode='cassette', cassette=PATH)", pytrace=False)
    from harness.cassettes import CassetteError, CassetteTransport

    record = str(request.config.getoption("coze_record", default="none"))
    path = _cassette_path(request)
    recording = record == "all" or (record == "once" and not path.exists())
    cassette = CozeCassette(
        path=path,
        record_mode=record,
        replay_mode=_replay_mode(request),
        recording=recording,
        base_url=_REPLAY_BASE_URL,
        token="cassette-replay",
    )
    if recording:
        _start_recording(request, cassette)
    else:
        if not path.exists():
            pytest.fail(
                f"no cassette at {path}: record it by running this test with --coze-record=once (against a fresh "
                f"simulator, or the server at ${BASE_ENV} with ${TOKEN_ENV}), or with `coze-harness record`",
                pytrace=False,
            )
        try:
            recorded = _loaded(request.config, path)
        except CassetteError as exc:
            pytest.fail(f"cannot replay {path}: {exc}", pytrace=False)
        cassette.base_url = recorded.coze_harness.base_url or _REPLAY_BASE_URL
        cassette.transport = CassetteTransport(recorded, mode=cassette.replay_mode)
    yield cassette
    report = getattr(request.node, "_coze_report_call", None)
    note = cassette.finish(passed=report is not None and report.passed)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if note and reporter is not None:
        reporter.write_line(note)
