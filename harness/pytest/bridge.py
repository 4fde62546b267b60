"""The HTTP bridge the `coze_bridge` fixture runs: where it listens and what it serves, following the test's
`local_tools` registry as it fills."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.tools import ToolRegistry

__all__ = ["RunningBridge", "live_bridge"]


@dataclass(frozen=True)
class RunningBridge:
    """The HTTP bridge the `coze_bridge` fixture runs: where it listens and what it serves."""

    base_url: str
    registry: ToolRegistry

    def tool_url(self, name: str) -> str:
        """The URL a workflow's HTTP node (or any client) posts a tool's arguments to."""
        from harness.bridge import tool_path

        return self.base_url + tool_path(name)

    @property
    def openapi_url(self) -> str:
        return self.base_url + "/openapi.json"


def live_bridge(registry: ToolRegistry) -> Any:
    """The bridge app for `registry`, rebuilt whenever the registry changes.

    `create_bridge_app` routes the tools a registry holds when it is built, but a test fills
    `local_tools` after the fixture started the server; this app follows the registry instead.
    """
    from fastapi import FastAPI

    from harness.bridge import create_bridge_app

    class LiveBridge(FastAPI):
        def __init__(self) -> None:
            super().__init__(openapi_url=None, docs_url=None, redoc_url=None)
            self._built: tuple[tuple[str, int], ...] | None = None
            self._inner: FastAPI | None = None

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            current = tuple((item.name, id(item)) for item in registry)
            if self._inner is None or current != self._built:
                # no token: the fixture's server is loopback-only and lives for one test (Host, Origin and
                # JSON checks still hold), and a workflow's http node scenario sends no Authorization
                self._inner, self._built = create_bridge_app(registry, insecure_no_auth=True), current
            await self._inner(scope, receive, send)

    return LiveBridge()
