"""The cassette file: vcrpy's YAML layout, with streams kept as the chunks that arrived and when.

A cassette is a vcrpy cassette (`version: 1`, `interactions: [{request, response}]`) so vcrpy users
can load it (coalesced) with our serializer; we add two things vcrpy has no place for:

- `coze_harness:` at the top: how, from where and with what the cassette was recorded, the ids the
  flow used and what the client saw (its outcome), so replay and `verify-sim` know what to expect.
- a streamed body is `body: {chunks: [{at, text}], complete, error}` instead of `body: {string}`:
  each chunk's bytes as the client received them and its arrival offset (seconds after the request
  left). The chunks are the only copy of the bytes: nothing else has to be kept consistent when a
  cassette is edited by hand, and joining them gives the body vcrpy would have stored.

Text is stored as text (YAML block scalars, so an SSE stream reads as it did on the wire); a chunk
that is not valid UTF-8 by itself (a split inside a multibyte character) is stored as base64.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

FORMAT: Literal[1] = 1
"""Version of the `coze_harness` block; vcrpy's own `version` stays 1."""

SIMULATOR_BASE_URL = "http://coze-simulator.invalid"
"""The base URL written for recordings of the embedded simulator, whose real port changes every run."""

Source = Literal["simulator", "coze", "vcrpy", "test"]


class CassetteError(Exception):
    """Base of every cassette problem: a missing or malformed file, an unmatched request."""


class CassetteNotFoundError(CassetteError, FileNotFoundError):
    """No cassette where one was asked for."""


class CassetteFormatError(CassetteError, ValueError):
    """A cassette that cannot be read: not YAML, or not shaped like a cassette."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Chunk(_Strict):
    """One piece of a body as it arrived: `text` when it is UTF-8 by itself, else `base64`."""

    at: float = Field(ge=0, description="seconds after the request left when this chunk reached the client")
    text: str | None = None
    base64: str | None = None

    @model_validator(mode="after")
    def _one_payload(self) -> Chunk:
        if (self.text is None) == (self.base64 is None):
            raise ValueError("a chunk has exactly one of 'text' and 'base64'")
        if self.base64 is not None:
            try:
                base64.b64decode(self.base64, validate=True)
            except binascii.Error as exc:
                raise ValueError(f"'base64' is not base64: {exc}") from exc
        return self

    @property
    def data(self) -> bytes:
        if self.text is not None:
            return self.text.encode("utf-8")
        return base64.b64decode(self.base64 or "")

    @classmethod
    def of(cls, at: float, data: bytes) -> Chunk:
        try:
            return cls(at=round(at, 6), text=data.decode("utf-8"))
        except UnicodeDecodeError:
            return cls(at=round(at, 6), base64=base64.b64encode(data).decode("ascii"))


class Body(_Strict):
    """A whole body (`string`, or `base64` when it is not UTF-8) or a stream (`chunks`)."""

    string: str | None = None
    base64: str | None = None
    chunks: list[Chunk] | None = None
    complete: bool = Field(True, description="the stream was read to its end")
    error: str | None = Field(None, description="'ExceptionType: message' when the stream broke off midway")

    @model_validator(mode="after")
    def _one_payload(self) -> Body:
        given = [name for name in ("string", "base64", "chunks") if getattr(self, name) is not None]
        if len(given) > 1:
            raise ValueError(f"a body has one of 'string', 'base64' and 'chunks', not {given}")
        return self

    @property
    def is_stream(self) -> bool:
        return self.chunks is not None

    @property
    def data(self) -> bytes:
        """The whole body, as vcrpy would have stored it."""
        if self.chunks is not None:
            return b"".join(chunk.data for chunk in self.chunks)
        if self.base64 is not None:
            return base64.b64decode(self.base64)
        return (self.string or "").encode("utf-8")

    @classmethod
    def whole(cls, data: bytes) -> Body:
        try:
            return cls(string=data.decode("utf-8"))
        except UnicodeDecodeError:
            return cls(base64=base64.b64encode(data).decode("ascii"))


class Status(_Strict):
    code: int
    message: str = ""


Headers = dict[str, list[str]]


class RecordedRequest(_Strict):
    """vcrpy's request layout exactly (vcrpy builds `Request(**this)`), so no field may be added here."""

    method: str
    uri: str
    body: str | None = None
    headers: Headers = Field(default_factory=dict)

    @property
    def content(self) -> bytes:
        return (self.body or "").encode("utf-8")

    def describe(self, limit: int = 300) -> str:
        """`METHOD URI BODY`, the body cut at `limit` characters: for error messages."""
        body = self.body or ""
        if len(body) > limit:
            body = body[:limit] + f"... [{len(body)} chars]"
        return f"{self.method} {self.uri}" + (f" {body}" if body else "")


class RecordedResponse(_Strict):
    status: Status
    headers: Headers = Field(default_factory=dict)
    body: Body
    at: float | None = Field(None, ge=0, description="seconds after the request left when the headers arrived")

    def header(self, name: str) -> str | None:
        for key, values in self.headers.items():
            if key.lower() == name.lower() and values:
                return values[0]
        return None

    @property
    def is_event_stream(self) -> bool:
        return (self.header("content-type") or "").split(";")[0].strip().lower() == "text/event-stream"


class Interaction(_Strict):
    request: RecordedRequest
    response: RecordedResponse


class CassetteInfo(_Strict):
    """What vcrpy does not keep: where, how and with what the cassette was recorded, and what the client saw."""

    format: Literal[1] = FORMAT
    flow: str | None = Field(None, description="the `coze-harness record --flow` that made it")
    source: Source = Field(description="simulator (embedded, seeded), coze (a real base URL), vcrpy or test")
    base_url: str
    simulator_seed: int | None = Field(None, description="the simulator's seed; verify-sim reuses it")
    recorded_with: dict[str, str] = Field(default_factory=dict, description="package versions")
    ids: dict[str, str] = Field(default_factory=dict, description="the ids the flow was given, by role")
    outcome: dict[str, Any] | None = Field(None, description="what the flow's client saw, redacted like the rest")
    pseudonyms: dict[str, int] = Field(
        default_factory=dict, description="how many distinct values of each kind were redacted (never the values)"
    )
    notes: list[str] = Field(default_factory=list)


class Cassette(_Strict):
    version: Literal[1] = 1
    coze_harness: CassetteInfo
    interactions: list[Interaction] = Field(default_factory=list)

    def to_document(self) -> dict[str, Any]:
        """The YAML document: no nulls except vcrpy's `request.body`, which vcrpy requires."""
        document: dict[str, Any] = self.model_dump(mode="json", exclude_none=True)
        for interaction in document["interactions"]:
            request = interaction["request"]
            request.setdefault("body", None)
            interaction["request"] = {key: request[key] for key in ("method", "uri", "body", "headers")}
            body = interaction["response"]["body"]
            if body.get("complete") is True:
                del body["complete"]  # the default; said only of a stream that broke off
        return document

    def dumps(self) -> str:
        text = yaml.dump(
            self.to_document(),
            Dumper=_Dumper,
            sort_keys=False,
            allow_unicode=True,
            width=1_000_000,
            default_flow_style=False,
        )
        # A YAML emitter may normalise what it cannot represent exactly (a bare CR, say); refuse to
        # write a cassette that would not read back as the bytes that were recorded.
        if loads(text) != self:
            raise CassetteFormatError("internal error: the cassette does not read back as written")
        return text

    def save(self, path: Path | str) -> Path:
        path = Path(path)
        text = self.dumps()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (SSE chunks) as `|` blocks, so a stream reads as it was on the wire."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # PyYAML falls back to a quoted style when a block cannot hold the string exactly.
    style = "|" if "\n" in value and "\r" not in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def loads(text: str, source: str = "<string>") -> Cassette:
    """Parse a cassette; errors name `source` and the place inside the document."""
    try:
        document = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise CassetteFormatError(f"{source}: not YAML: {exc}") from exc
    if not isinstance(document, dict) or "interactions" not in document:
        raise CassetteFormatError(f"{source}: not a cassette (no 'interactions' list)")
    if "coze_harness" not in document:
        raise CassetteFormatError(
            f"{source}: a vcrpy cassette without the 'coze_harness' block; "
            "record it with `coze-harness record`, or with vcrpy after harness.cassettes.register_vcrpy(vcr)"
        )
    try:
        return Cassette.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(top)'}: {error['msg']}" for error in exc.errors()[:5]
        )
        raise CassetteFormatError(f"{source}: not a valid cassette: {problems}") from exc


def load(path: Path | str) -> Cassette:
    path = Path(path)
    if not path.is_file():
        raise CassetteNotFoundError(
            f"no cassette at {path}; record one with `coze-harness record --flow NAME --out {path}`"
        )
    return loads(path.read_text(encoding="utf-8"), str(path))
