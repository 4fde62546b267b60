"""coze-harness: the client side (runner, bridge, probes, reports) of the Coze contract harness."""

from .bridge import create_bridge_app, plugin_spec
from .local_plugin import (
    AsyncLocalPluginRunner,
    LocalPluginError,
    LocalPluginResult,
    LocalPluginRunner,
    RoundLimitExceeded,
    StreamEndedError,
    ToolCallRecord,
    UnsupportedSDKError,
)
from .tools import LocalTool, ToolError, ToolRegistry, ToolResult, load_registry, tool

__version__ = "0.1.0"

__all__ = [
    "AsyncLocalPluginRunner",
    "LocalPluginError",
    "LocalPluginResult",
    "LocalPluginRunner",
    "LocalTool",
    "RoundLimitExceeded",
    "StreamEndedError",
    "ToolCallRecord",
    "ToolError",
    "ToolRegistry",
    "ToolResult",
    "UnsupportedSDKError",
    "create_bridge_app",
    "load_registry",
    "plugin_spec",
    "tool",
]
