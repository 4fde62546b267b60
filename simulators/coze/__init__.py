"""A fake Coze open API server that speaks the wire contract in ../shared/CONTRACT.md.

`create_app` builds the ASGI app; `serve` and `running` run it on a loopback socket.
"""

from .app import create_app
from .auth import TokenGrant
from .coverage import Coverage, CoverageItem, coverage
from .files import FileLimits
from .profiles import DEFAULT_PLATFORM, PLATFORMS, PlatformName, Profile, ProfileError, load_profile
from .scenarios import BUILTIN_DIR, BotScenario, Catalogue, ScenarioFileError, WorkflowScenario
from .server import RunningServer, ServerLimits, base_url_of, bind, running, serve
from .simulator import DEFAULT_TOKEN, SimConfig
from .store import StoreLimits
from .tls import LocalTls, local_tls

__all__ = [
    "BUILTIN_DIR",
    "DEFAULT_PLATFORM",
    "DEFAULT_TOKEN",
    "PLATFORMS",
    "BotScenario",
    "Catalogue",
    "Coverage",
    "CoverageItem",
    "FileLimits",
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
    "WorkflowScenario",
    "base_url_of",
    "bind",
    "coverage",
    "create_app",
    "load_profile",
    "local_tls",
    "running",
    "serve",
]
