"""Files: `POST /v1/files/upload` (multipart) and `GET /v1/files/retrieve?file_id=`.

Every cozepy release from 0.2.0 to 0.20.0 sends the same two requests (`files={"file": ...}` and
`params={"file_id": ...}`). The token is checked before a byte of the upload is read; the upload
streams to the simulator's file folder under the limits of `SimConfig.files` (files.py).
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from .. import wire
from ..envelope import ok
from ..files import StoredFile, file_not_found, receive_upload
from ..inputs import required_id
from ..simulator import simulator_of

router = APIRouter()


@router.post("/v1/files/upload")
async def upload_file(request: Request) -> Response:
    sim = simulator_of(request)
    grant = sim.auth.authenticate(request)
    file_id = sim.ids.new_id()
    target = sim.files.new_path(file_id)
    upload = await receive_upload(
        request.stream(),
        request.headers.get("content-type", ""),
        request.headers.get("content-length"),
        target,
        sim.files.limits,
    )
    stored = StoredFile(
        id=file_id,
        file_name=upload.file_name,
        bytes=upload.size,
        created_at=sim.clock.now(),
        content_type=upload.content_type,
        sha256=upload.sha256,
        path=target,
        owner=grant,
    )
    sim.files.add(stored)
    data = wire.file(stored, sim.profile)
    if sim.profile.files.shape == "studio-file":
        return ok(request, data, BaseResp=None)
    return ok(request, data)


@router.get("/v1/files/retrieve")
async def retrieve_file(request: Request) -> Response:
    sim = simulator_of(request)
    grant = sim.auth.authenticate(request)
    file_id = required_id(request, {}, "file_id")
    stored = sim.files.get(file_id, grant)
    if stored is None:
        raise file_not_found(file_id, "file_id")
    return ok(request, wire.file(stored, sim.profile))
