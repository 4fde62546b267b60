"""A fake Coze open API server that speaks the wire contract in ../shared/CONTRACT.md.

`create_app` builds the ASGI app; `serve` and `running` run it on a loopback socket.
"""

from .app import create_app
from .auth import TokenGrant
from .coverage import Coverage, CoverageItem, coverage
from .faults import ExponentialDelay, Faults, UniformDelay
from .files import FileLimits
from .framing import CANONICAL as CANONICAL_FRAMING
from .framing import VARIANTS as FRAMING_VARIANTS
from .framing import Framing
from .framing import combined as combined_framing
from .profiles import DEFAULT_PLATFORM, PLATFORMS, PlatformName, Profile, ProfileError, load_profile
from .scenario_schema import render as scenario_schema
from .scenarios import BUILTIN_DIR, BotScenario, Catalogue, ScenarioFileError, WorkflowScenario
from .scenarios import load_file as load_scenario_file
from .server import RunningServer, ServerLimits, base_url_of, bind, running, serve
from .simulator import DEFAULT_TOKEN, SimConfig
from .store import StoreLimits
from .tls import LocalTls, local_tls

__all__ = [
    "BUILTIN_DIR",
    "CANONICAL_FRAMING",
    "DEFAULT_PLATFORM",
    "DEFAULT_TOKEN",
    "FRAMING_VARIANTS",
    "PLATFORMS",
    "BotScenario",
    "Catalogue",
    "Coverage",
    "CoverageItem",
    "ExponentialDelay",
    "Faults",
    "FileLimits",
    "Framing",
    "LocalTls",
    "PlatformName",
    "Profile",
    "ProfileError",
    "RunningServer",
    "ScenarioFileError",
    "ServerLimits",
    "SimConfig",
    "StoreLimits",
    "TokenGrant",
    "UniformDelay",
    "WorkflowScenario",
    "base_url_of",
    "bind",
    "combined_framing",
    "coverage",
    "create_app",
    "load_profile",
    "load_scenario_file",
    "local_tls",
    "running",
    "scenario_schema",
    "serve",
]
