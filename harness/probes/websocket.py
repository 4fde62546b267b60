"""What the platform answers a websocket chat handshake, whatever the SDK can do (the probe: driven.py)."""

from __future__ import annotations

from simulators.coze import DEFAULT_PLATFORM

from ..recorder import Exchange
from ._base import ProbeContext


def handshake_refusal(ctx: ProbeContext, bot: str) -> Exchange | None:
    """The platform's answer to a plain websocket handshake when it refuses one with 404 (it has no
    websocket chat), whatever the SDK can do; None otherwise. No token is sent (a platform with the
    endpoint refuses with 401; one without has no route to authorize), so none can reach a log."""
    import ssl

    import websockets
    import websockets.sync.client

    if ctx.platform == DEFAULT_PLATFORM or ctx.secure_url is None or ctx.ca_file is None:
        return None  # cloud has websocket chat: no extra handshake (it would shift the seeded ids)
    url = ctx.secure_url.replace("https://", "wss://") + "/v1/chat?bot_id=" + ctx.scenario_ids[bot]
    context = ssl.create_default_context(cafile=str(ctx.ca_file))
    try:
        websockets.sync.client.connect(url, ssl=context, open_timeout=5).close()
    except websockets.InvalidStatus as refused:
        if refused.response.status_code != 404:
            return None
        body = (refused.response.body or b"").decode("utf-8", "replace")
        return Exchange(method="WEBSOCKET", url=url, status=404, response_body=body, complete=True)
    except (OSError, websockets.WebSocketException):  # not a refusal: the SDK's own run will say what it is
        return None
    return None
