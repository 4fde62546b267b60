"""The simulator's configuration and the objects every route shares."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request

from .auth import Authenticator, TokenGrant
from .bots import BotEngine
from .flows import FlowEngine
from .ids import Clock, IdSource
from .scenarios import Catalogue
from .state import Store

DEFAULT_TOKEN = "coze-harness-dev-token"


class SimConfig(BaseModel):
    """Knobs that are not part of any scenario."""

    model_config = ConfigDict(frozen=True)

    seed: int = 20240101
    tokens: list[TokenGrant] = Field(default_factory=lambda: [TokenGrant(token=DEFAULT_TOKEN)], min_length=1)
    clock_start: int = Field(1_718_792_949, description="first timestamp of the logical clock")
    wall_clock: bool = Field(False, description="use real time instead of the logical clock")
    event_delay_seconds: float = Field(0.0, ge=0, le=60, description="pause between stream events")
    debug_url_base: str = "https://www.coze.com/work_flow"


@dataclass
class Simulator:
    catalogue: Catalogue
    config: SimConfig
    store: Store = field(default_factory=Store)

    def __post_init__(self) -> None:
        self.ids = IdSource(self.config.seed)
        self.clock = Clock(self.config.clock_start, wall=self.config.wall_clock)
        self.auth = Authenticator(self.config.tokens)
        self.bots = BotEngine(self.ids, self.clock)
        self.flows = FlowEngine(self.store, self.ids, self.clock, self.config.debug_url_base)


def simulator_of(request: Request) -> Simulator:
    sim: Simulator = request.app.state.simulator
    return sim
