"""Cassettes: record a flow run by the real `cozepy`, replay it with no server, check the simulator.

- `record_flow(name)` / `CassetteRecorder`: record through httpx, keeping each stream's chunks and
  their arrival offsets, redacted before anything is returned (`harness.cassettes.redaction`).
- `CassetteTransport` / `AsyncCassetteTransport`: replay as an httpx transport, coalesced (vcrpy's
  way), faithful (original chunks, offsets on a `VirtualClock`) or rechunked (adversarial splits).
- `register_vcrpy(vcr.VCR())`: load the same files with vcrpy (coalesced).
- `verify_cassette` / `verify_files`: does the simulator answer a cassette's requests in the same shape?

The file format is vcrpy's YAML plus a `coze_harness` block and chunked stream bodies
(`harness.cassettes.model`).
"""

from .flows import FLOWS, Flow, FlowInput, run_flow
from .matching import Bindings, request_differences
from .model import (
    SIMULATOR_BASE_URL,
    Body,
    Cassette,
    CassetteError,
    CassetteFormatError,
    CassetteInfo,
    CassetteNotFoundError,
    Chunk,
    Interaction,
    RecordedRequest,
    RecordedResponse,
    load,
    loads,
)
from .record import (
    CassetteRecorder,
    FlowUnavailableError,
    async_cozepy_client,
    cozepy_client,
    record_flow,
)
from .redaction import RedactionError, RedactionRules, Redactor
from .replay import (
    AsyncCassetteTransport,
    CassetteTransport,
    Playback,
    PlayedChunk,
    ReplayMode,
    UnmatchedRequestError,
    VirtualClock,
    rechunk,
)
from .vcrpy_support import MATCH_ON, SERIALIZER, CassetteSerializer, register_vcrpy
from .verify import Difference, Verification, verify_cassette, verify_files

__all__ = [
    "FLOWS",
    "MATCH_ON",
    "SERIALIZER",
    "SIMULATOR_BASE_URL",
    "AsyncCassetteTransport",
    "Bindings",
    "Body",
    "Cassette",
    "CassetteError",
    "CassetteFormatError",
    "CassetteInfo",
    "CassetteNotFoundError",
    "CassetteRecorder",
    "CassetteSerializer",
    "CassetteTransport",
    "Chunk",
    "Difference",
    "Flow",
    "FlowInput",
    "FlowUnavailableError",
    "Interaction",
    "Playback",
    "PlayedChunk",
    "RecordedRequest",
    "RecordedResponse",
    "RedactionError",
    "RedactionRules",
    "Redactor",
    "ReplayMode",
    "UnmatchedRequestError",
    "Verification",
    "VirtualClock",
    "async_cozepy_client",
    "cozepy_client",
    "load",
    "loads",
    "rechunk",
    "record_flow",
    "register_vcrpy",
    "request_differences",
    "run_flow",
    "verify_cassette",
    "verify_files",
]
