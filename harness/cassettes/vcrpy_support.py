"""Using our cassettes from vcrpy: a serializer and two matchers to register on a `vcr.VCR`.

vcrpy replays a cassette coalesced (one chunk, no timing): that is its design, and the reason the
harness has its own replay transport. What vcrpy users get from us is that our cassettes load in
vcrpy at all, and that what vcrpy records through our serializer is redacted like ours.

    import vcr
    from harness.cassettes import register_vcrpy

    my_vcr = register_vcrpy(vcr.VCR())
    with my_vcr.use_cassette("cassettes/simulator/workflow-stream.yaml", serializer="coze-harness",
                             match_on=["method", "path", "coze_query", "coze_body"], record_mode="none"):
        ...  # httpx and cozepy calls are answered from the cassette

The serializer turns our chunked stream bodies into vcrpy's single `body.string` on the way in;
on the way out it writes what vcrpy recorded as a cassette of ours, each stream as one chunk at
offset 0 with a note that its boundaries and timing were lost, after the default redaction.
vcrpy's `Request(**dict)` takes exactly `method, uri, body, headers`, which is why nothing of ours
lives in a recorded request.
"""

from __future__ import annotations

from typing import Any

import httpx

from .matching import body_differences, query_differences
from .model import Body, Cassette, CassetteInfo, Chunk, Interaction, RecordedRequest, RecordedResponse, Status, loads
from .record import versions
from .redaction import RedactionRules, Redactor

SERIALIZER = "coze-harness"
MATCH_ON = ("method", "path", "coze_query", "coze_body")
VCRPY_NOTE = "recorded by vcrpy: each stream is one chunk at offset 0; its chunk boundaries and timing were not kept"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def _data(value: Any) -> bytes:
    if value is None:
        return b""
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


class CassetteSerializer:
    """A vcrpy serializer (`serialize(dict) -> str`, `deserialize(str) -> dict`) for our format."""

    def __init__(self, rules: RedactionRules | None = None) -> None:
        self.rules = rules or RedactionRules()

    def deserialize(self, cassette_string: str) -> dict[str, Any]:
        cassette = loads(cassette_string, "vcrpy cassette")
        return {
            "version": 1,
            "interactions": [
                {
                    "request": {
                        "method": interaction.request.method,
                        "uri": interaction.request.uri,
                        "body": interaction.request.body,
                        "headers": interaction.request.headers,
                    },
                    "response": {
                        "status": interaction.response.status.model_dump(),
                        "headers": interaction.response.headers,
                        "body": {"string": interaction.response.body.data},
                    },
                }
                for interaction in cassette.interactions
            ],
        }

    def serialize(self, cassette_dict: dict[str, Any]) -> str:
        interactions: list[Interaction] = []
        for item in cassette_dict.get("interactions", []):
            request, response = item["request"], item["response"]
            recorded = RecordedResponse(
                status=Status(code=int(response["status"]["code"]), message=response["status"].get("message") or ""),
                headers={str(k).lower(): [str(v) for v in vs] for k, vs in response.get("headers", {}).items()},
                body=Body(string=""),
            )
            data = _data(response.get("body", {}).get("string"))
            body = Body(chunks=[Chunk.of(0.0, data)] if data else []) if recorded.is_event_stream else Body.whole(data)
            interactions.append(
                Interaction(
                    request=RecordedRequest(
                        method=request["method"],
                        uri=request["uri"],
                        body=_text(request.get("body")),
                        headers={str(k).lower(): [str(v) for v in vs] for k, vs in request.get("headers", {}).items()},
                    ),
                    response=recorded.model_copy(update={"body": body}),
                )
            )
        first = httpx.URL(interactions[0].request.uri) if interactions else None
        base_url = f"{first.scheme}://{first.netloc.decode('ascii')}" if first is not None else ""
        info = CassetteInfo(source="vcrpy", base_url=base_url, recorded_with=versions(), notes=[VCRPY_NOTE])
        return Redactor(self.rules).redact(Cassette(coze_harness=info, interactions=interactions)).dumps()


def _assert_no_differences(differences: list[str]) -> None:
    if differences:
        raise AssertionError("; ".join(differences))


def coze_body(live: Any, recorded: Any) -> None:
    """vcrpy matcher: JSON bodies equal as data (key order free), pseudonyms matching anything."""
    _assert_no_differences(body_differences(_data(recorded.body), _data(live.body), {}))


def coze_query(live: Any, recorded: Any) -> None:
    """vcrpy matcher: query parameters equal by name, pseudonyms matching anything."""
    _assert_no_differences(query_differences(recorded.parsed_uri.query, live.parsed_uri.query, {}))


def register_vcrpy(vcr_instance: Any, rules: RedactionRules | None = None) -> Any:
    """Register our serializer (`coze-harness`) and matchers (`coze_body`, `coze_query`); returns the instance."""
    vcr_instance.register_serializer(SERIALIZER, CassetteSerializer(rules))
    vcr_instance.register_matcher("coze_body", coze_body)
    vcr_instance.register_matcher("coze_query", coze_query)
    return vcr_instance
