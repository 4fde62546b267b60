"""Platform profiles: how cloud Coze and the open-source server (coze-studio) differ on the wire.

A profile is data (`simulators/profiles/*.yaml`) that the routes read, so that the differences are
listed in one place a reader can check against reference/coze-studio.md, instead of being `if`
statements spread through the routes. The `cloud` profile reproduces CONTRACT.md byte for byte.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._yaml import YAMLError, load_yaml

PROFILE_DIR = Path(__file__).resolve().parent.parent / "profiles"
PlatformName = Literal["cloud", "studio"]
PLATFORMS: tuple[PlatformName, ...] = ("cloud", "studio")
DEFAULT_PLATFORM: PlatformName = "cloud"


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StreamStyle(_Data):
    """`plain`: `event:NAME` / `data:JSON`. `numbered`: `id: N` / `event: NAME` / `data: JSON`, from `first_id`."""

    framing: Literal["plain", "numbered"]
    first_id: int = Field(0, ge=0)


class Streams(_Data):
    """The framings that differ between platforms; /v3/chat's is the same on both (`sse.chat_frame`)."""

    chatflow: StreamStyle
    workflow: StreamStyle


class ChatEnd(_Data):
    """The event that closes a `/v3/chat` stream; `data` is the raw text after `data:` (may be empty)."""

    event: str = Field(min_length=1)
    data: str


class Headers(_Data):
    chat: dict[str, str]
    workflow: dict[str, str] = Field(description="workflow streams, and chatflow streams when numbered")


class Envelope(_Data):
    logid_detail: bool = Field(description="`detail: {logid}` in every JSON envelope")
    missing_route: Literal["envelope", "plain-text"] = Field(
        description="unknown paths and wrong methods: a 4000 envelope, or the Go router's plain-text 404 (for both)"
    )


class AuthFailure(_Data):
    status: int = Field(ge=200, le=599)
    code: int = Field(gt=0)
    missing: str = Field(description="no Authorization header")
    malformed: str = Field(description="not 'Bearer <token>'")
    unknown: str = Field(description="a token the server does not know")


class ChatRules(_Data):
    tool_calls: Literal["requires-action", "interrupt-message"] = Field(
        description="requires-action: conversation.chat.requires_action with the tool calls, answered by "
        "submit_tool_outputs; interrupt-message: a verbose interrupt message, no event, no tool calls"
    )
    sync_answer: Literal["in-progress", "final"] = Field(description="the Chat a non-stream /v3/chat returns")
    message_list_key: str = Field(min_length=1)
    required_action_field: bool
    last_error_field: bool
    statuses: dict[str, str] = Field(description="status spellings that differ: canonical -> as sent")


class WorkflowRules(_Data):
    interrupt_node_title: bool


class ChatflowRules(_Data):
    interrupts: Literal["refused", "requires-action"] = Field(
        description="refused: question and input nodes cannot run in a chatflow (undocumented on this platform); "
        "requires-action: they pause the run with conversation.chat.requires_action until the next user message"
    )
    pause_chat: Literal["chat", "minimal"] = Field(
        "minimal",
        description="the Chat in a pause's requires_action: the whole Chat object (cloud), or studio's "
        "{id, conversation_id, section_id, status, execute_id}",
    )
    interrupt_message: bool = Field(
        False, description='a verbose {"msg_type":"interrupt"} message completed before requires_action'
    )
    local_plugin: Literal["requires-action", "refused"] = Field(
        "refused",
        description="an end-side (local) plugin node in a chatflow: requires_action carrying its tool call, whose "
        "outputs /v3/chat/submit_tool_outputs refuses with an error event; or refused before streaming (not modelled)",
    )


class FileRules(_Data):
    """How the platform shows an uploaded file (`wire.file`)."""

    shape: Literal["file", "studio-file"] = Field(
        "file",
        description="file: the spec's File {id, bytes, created_at, file_name}; studio-file: coze-studio's "
        "{uri, bytes, CreatedAt, file_name, url, id} (its struct tags), in an envelope with `BaseResp: null`",
    )


class BotRules(_Data):
    """How the platform shows a bot (`wire.bot`)."""

    online_info: Literal["envelope", "bare"] = Field(
        "envelope",
        description="/v1/bot/get_online_info: the bot in an envelope's `data`, or (studio) the bot object alone",
    )
    plugins: Literal["plugin-info", "api-refs"] = Field(
        "plugin-info",
        description="plugin_info_list: the spec's PluginInfo {plugin_id, name, icon_url, description, "
        "api_info_list}, or (studio) one {plugin_id, api_id, api_name} per tool",
    )


class ConversationRules(_Data):
    """How the platform shows conversations and their messages (`wire.conversation_object`, `message_object`)."""

    shape: Literal["spec", "studio"] = Field(
        "spec",
        description="spec: ConversationData and OpenMessageApi as the official spec has them; studio: coze-studio's "
        "struct tags as each handler fills them (meta_data null when unset, no updated_at, name not on create, "
        'retrieve under `ConversationData`, `BaseResp: null`, ids "0" for none, an empty message list without '
        "`data`), and create ignores `messages`",
    )


class Profile(_Data):
    name: PlatformName
    title: str
    description: str
    streams: Streams
    chat_end: ChatEnd
    headers: Headers
    envelope: Envelope
    auth: AuthFailure
    absent_endpoints: list[str] = Field(description="route paths this platform does not serve (as declared here)")
    chat: ChatRules
    workflow: WorkflowRules
    chatflow: ChatflowRules
    files: FileRules = Field(default_factory=FileRules)
    bots: BotRules = Field(default_factory=BotRules)
    conversations: ConversationRules = Field(default_factory=ConversationRules)

    def status(self, canonical: str) -> str:
        """A chat status as this platform spells it."""
        return self.chat.statuses.get(canonical, canonical)


class ProfileError(ValueError):
    pass


@cache
def load_profile(name: str) -> Profile:
    """The named profile, read once; an unknown name or a bad file says which and why."""
    if name not in PLATFORMS:
        raise ProfileError(f"unknown platform profile {name!r}; choose one of: {', '.join(PLATFORMS)}")
    path = PROFILE_DIR / f"{name}.yaml"
    try:
        return Profile.model_validate(load_yaml(path.read_text(encoding="utf-8")))
    except (OSError, YAMLError, ValidationError) as exc:
        raise ProfileError(f"{path}: not a valid platform profile: {exc}") from None
