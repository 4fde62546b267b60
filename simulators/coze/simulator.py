"""The simulator's configuration and the objects every route shares."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import StreamingResponse

from .auth import Authenticator, TokenGrant
from .engines.bots import BotEngine
from .engines.flows import FlowEngine
from .envelope import LOGID_HEADER, logid_of
from .faults import FaultInjector, Faults, OnError
from .files import FileLimits, FileStore
from .framing import Framing
from .ids import Clock, IdSource
from .inputs import DEFAULT_BODY_TIMEOUT
from .journal import Journal
from .profiles import DEFAULT_PLATFORM, PlatformName, Profile, load_profile
from .requestlog import RequestLog
from .scenarios import BotScenario, Catalogue, WorkflowScenario
from .sse import stream_response
from .store import Store, StoreLimits

DEFAULT_TOKEN = "coze-harness-dev-token"
SIMULATOR_KEY = "coze_simulator"
"""Where a request's scope state holds the simulator serving it (see `simulator_of`)."""


class SimConfig(BaseModel):
    """Knobs that are not part of any scenario."""

    model_config = ConfigDict(frozen=True)

    seed: int = 20240101
    tokens: list[TokenGrant] = Field(default_factory=lambda: [TokenGrant(token=DEFAULT_TOKEN)], min_length=1)
    clock_start: int = Field(1_718_792_949, description="first timestamp of the logical clock")
    wall_clock: bool = Field(False, description="use real time instead of the logical clock")
    event_delay_seconds: float = Field(0.0, ge=0, le=60, description="pause between stream events")
    debug_url_base: str = "https://www.coze.com/work_flow"
    faults: Faults | None = Field(None, description="faults for every stream (a scenario's own block wins)")
    framing: Framing | None = Field(None, description="framing variant for every stream (a scenario's own wins)")
    profile: PlatformName = Field(DEFAULT_PLATFORM, description="the platform to speak: cloud Coze or coze-studio")
    store: StoreLimits = Field(default_factory=StoreLimits, description="how many records, and how old, are kept")
    allow_http_hosts: frozenset[str] = Field(
        frozenset(),
        description="hosts a workflow's http node may call besides loopback ones (so that a caller cannot "
        "make the simulator a proxy into the network it runs in)",
    )
    body_timeout_seconds: float = Field(
        DEFAULT_BODY_TIMEOUT, gt=0, le=3600, description="time a client has to send a whole request body (408 after)"
    )
    files: FileLimits = Field(default_factory=FileLimits, description="uploads: size of one, bytes and files kept")


@dataclass
class Simulator:
    catalogue: Catalogue
    config: SimConfig
    store: Store = field(init=False)

    def __post_init__(self) -> None:
        self.base_catalogue = self.catalogue
        """The catalogue it started with (its files); `catalogue` adds the scenarios registered at runtime."""
        self.store = Store(self.config.store)
        self.profile: Profile = load_profile(self.config.profile)
        self.ids = IdSource(self.config.seed)
        self.clock = Clock(self.config.clock_start, wall=self.config.wall_clock)
        # Log ids come from a source and a clock of their own: a request that creates nothing (a poll) then
        # moves no id and no timestamp, so what a run creates does not depend on how often a client polled.
        # Their seed names the profile too, so two simulators of one seed (cloud and studio side by side in
        # one report) never hand out the same log id.
        self.logids = IdSource(zlib.crc32(f"logids:{self.config.seed}:{self.config.profile}".encode()))
        self.log_clock = Clock(self.config.clock_start, wall=self.config.wall_clock)
        self.auth = Authenticator(self.config.tokens, self.profile.auth)
        self.bots = BotEngine(self.ids, self.clock, self.profile)
        self.flows = FlowEngine(
            self.store, self.ids, self.clock, self.config.debug_url_base, self.config.allow_http_hosts
        )
        self.faults = FaultInjector(self.config.faults, self.config.framing, self.config.seed)
        self.journal = Journal()
        self.requests = RequestLog()
        self.files = FileStore(self.config.files)

    def close(self) -> None:
        """Release what outlives requests: the uploaded files and their temporary folder (`running()` and
        `serve()` call it when the server stops; a finalizer does it otherwise)."""
        self.files.close()

    def renewed(self) -> Simulator:
        """A simulator as this one was when it started (fresh store, ids and clock seeded as then, the file
        catalogue only), keeping this one's journal and request log, which start again empty. The app
        swaps it in whole (`admin.reset`), so a request runs on one simulator from start to end."""
        fresh = Simulator(self.base_catalogue, self.config)
        self.journal.reset()
        self.requests.reset()
        fresh.journal, fresh.requests = self.journal, self.requests
        return fresh

    def check_request(self, scenario: BotScenario | WorkflowScenario) -> None:
        """Refuse the request now (5xx, rate limit) if the faults in force ask for it."""
        self.faults.check_request(scenario.id, scenario.faults)

    def stream(
        self,
        request: Request,
        frames: AsyncIterator[bytes],
        scenario: BotScenario | WorkflowScenario,
        on_error: OnError | None = None,
        headers: dict[str, str] | None = None,
    ) -> StreamingResponse:
        """The response for a stream of frames, with the scenario's (or the global) faults and framing.

        `headers` default to the profile's chat stream headers."""
        headers = {**(headers if headers is not None else self.profile.headers.chat), LOGID_HEADER: logid_of(request)}
        plan = self.faults.plan(scenario.faults, scenario.framing, on_error)
        if plan is None:
            return stream_response(frames, headers)
        entry = request.scope.get("state", {}).get("journal_entry")
        if entry is not None:
            entry.faults = plan.describe()
            entry.delays = plan.delays
        return stream_response(plan.shape(frames), headers)


def simulator_of(request: Request) -> Simulator:
    """The simulator serving this request: the one current when the request arrived, pinned in its scope
    (by the app's log-id middleware), so a reset while it runs does not switch it to a new one midway."""
    sim: Simulator | None = request.scope.get("state", {}).get(SIMULATOR_KEY)
    if sim is None:
        sim = request.app.state.simulator
    return sim
