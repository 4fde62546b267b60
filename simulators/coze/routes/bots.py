"""Bots, read only, from the catalogue: retrieve and list, in every form a cozepy release sends.

- `GET /v1/bot/get_online_info?bot_id=` (retrieve, every release; 0.18+ with `use_api_version=1`, the default)
- `GET /v1/bots/{bot_id}` (retrieve, 0.18+ with `use_api_version=2`; optional `is_published`)
- `GET /v1/space/published_bots_list?space_id=&page_index=&page_size=` (list, every release)
- `GET /v1/bots?workspace_id=&page_index=&page_size=&publish_status=&connector_id=` (list, 0.18+ v2;
  the spec calls the page `page_num`, cozepy sends `page_index`: both are read)

Every bot in the catalogue counts as published to the API connector. A scoped token sees only the bots
of its grant: retrieving another is 4101 (as chat is), and lists leave them out.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from .. import wire
from ..auth import TokenGrant
from ..envelope import LOGID_HEADER, Code, CozeError, bad_request, dumps, logid_of, ok
from ..inputs import required_id
from ..scenarios import BotScenario
from ..simulator import Simulator, simulator_of
from .chat import bot_of

router = APIRouter()

MAX_PAGE_SIZE = 100
PUBLISH_STATUSES = ("all", "published_online", "published_draft", "unpublished_draft")


def _published_at(sim: Simulator) -> int:
    """The one time a catalogue bot was created, updated and published: the clock's start, so a retrieve
    answers the same bytes every time (reading the clock would move it)."""
    return sim.config.clock_start


def _retrieve(request: Request, sim: Simulator, grant: TokenGrant, bot_id: str) -> Response:
    bot = bot_of(sim, grant, bot_id)
    data = wire.bot(bot, sim.profile, _published_at(sim))
    if sim.profile.bots.online_info == "bare" and request.url.path == "/v1/bot/get_online_info":
        # coze-studio's GetBotOnlineInfo answers c.JSON(OpenAPIBotInfo): the object itself, no envelope.
        body = dumps(data).encode("utf-8")
        return Response(body, media_type="application/json", headers={LOGID_HEADER: logid_of(request)})
    return ok(request, data)


@router.get("/v1/bot/get_online_info")
async def get_online_info(request: Request) -> Response:
    sim = simulator_of(request)
    grant = sim.auth.authenticate(request)
    return _retrieve(request, sim, grant, required_id(request, {}, "bot_id"))


@router.get("/v1/bots/{bot_id}")
async def retrieve_bot(request: Request, bot_id: str) -> Response:
    sim = simulator_of(request)
    grant = sim.auth.authenticate(request)
    if not bot_id.isdigit():
        raise bad_request(f"bot_id in the path must be a decimal id string, got {bot_id[:40]!r}")
    is_published = request.query_params.get("is_published")
    if is_published not in (None, "", "true", "false", "True", "False"):
        raise bad_request(f"is_published must be true or false, got {is_published[:40]!r}")
    return _retrieve(request, sim, grant, bot_id)


def _int_param(request: Request, names: tuple[str, ...], default: int, low: int, high: int) -> int:
    for name in names:
        raw = request.query_params.get(name)
        if raw in (None, ""):
            continue
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise bad_request(f"{name} must be an integer from {low} to {high}, got {raw[:40]!r}")
        return int(raw)
    return default


def _page(request: Request, sim: Simulator, grant: TokenGrant, space_id: str) -> tuple[list[BotScenario], int]:
    """The bots of one page, newest first as the platform sorts them (here: by id, descending), and the total."""
    page = _int_param(request, ("page_index", "page_num"), 1, 1, 1_000_000)
    size = _int_param(request, ("page_size",), 20, 1, MAX_PAGE_SIZE)
    bots = sorted(
        (b for b in sim.catalogue.bots.values() if b.space_id == space_id and grant.may_use_bot(b.id)),
        key=lambda b: int(b.id),
        reverse=True,
    )
    return bots[(page - 1) * size : page * size], len(bots)


@router.get("/v1/space/published_bots_list")
async def published_bots_list(request: Request) -> Response:
    sim = simulator_of(request)
    grant = sim.auth.authenticate(request)
    space_id = required_id(request, {}, "space_id")
    bots, total = _page(request, sim, grant, space_id)
    at = _published_at(sim)
    return ok(request, {"space_bots": [wire.published_bot(b, at) for b in bots], "total": total})


@router.get("/v1/bots")
async def list_bots(request: Request) -> Response:
    sim = simulator_of(request)
    grant = sim.auth.authenticate(request)
    space_id = required_id(request, {}, "workspace_id")
    status = request.query_params.get("publish_status") or "all"
    if status not in PUBLISH_STATUSES:
        raise CozeError(
            Code.BAD_REQUEST, f"publish_status must be one of {', '.join(PUBLISH_STATUSES)}, got {status[:40]!r}"
        )
    bots, total = _page(request, sim, grant, space_id)
    if status == "unpublished_draft":  # every catalogue bot is published
        bots, total = [], 0
    at = _published_at(sim)
    return ok(request, {"items": [wire.simple_bot(b, at) for b in bots], "total": total})
