"""coze-harness: the client side (runner, bridge, probes, reports) of the Coze contract harness."""

__version__ = "0.1.0"
