"""The JSON shape of every object the simulator sends (Chat, Message, Conversation, run history), in one place.

Records in the store hold state; this module turns them into what a client reads, in the platform
profile's spellings and with keys in the platform's order (the golden wire tests compare bytes).
Nothing else serialises these objects, so a field changes here or nowhere.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

from .profiles import Profile
from .store import (
    CONNECTOR_ID_API,
    ChatflowChat,
    ChatRecord,
    ChatStatus,
    Conversation,
    ExecutionRecord,
    MessageRecord,
    NodeRun,
    PendingCall,
)


def _required_action(calls: list[PendingCall]) -> dict[str, Any]:
    return {
        "type": "submit_tool_outputs",
        "submit_tool_outputs": {
            "tool_calls": [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls
            ]
        },
    }


def _chat_object(
    profile: Profile,
    record: ChatRecord | ChatflowChat,
    *,
    status: ChatStatus,
    last_error: tuple[int, str] | None,
    required_action: dict[str, Any] | None,
    usage: dict[str, int],
    meta_data: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The Chat object both kinds of chat share, keys in the platform's order; what differs between them is
    passed in (a chatflow always has `last_error`, a bot chat only where the profile says)."""
    body: dict[str, Any] = {"id": record.id, "conversation_id": record.conversation_id}
    if record.bot_id is not None:
        body["bot_id"] = record.bot_id
    body["created_at"] = record.created_at
    if record.completed_at is not None:
        body["completed_at"] = record.completed_at
    if record.failed_at is not None:
        body["failed_at"] = record.failed_at
    if last_error is not None:
        body["last_error"] = {"code": last_error[0], "msg": last_error[1]}
    if meta_data is not None:
        body["meta_data"] = meta_data
    body["status"] = profile.status(status)
    if required_action is not None:
        body["required_action"] = required_action
    body["usage"] = usage
    body["section_id"] = record.section_id
    return body


def chat(record: ChatRecord, profile: Profile) -> dict[str, Any]:
    """A bot chat's Chat object (in events, retrieve, cancel and non-stream answers).

    `meta_data` only when the chat was started with one: the docs say retrieve passes it through
    (retrieve_chat.md), and the recorded streams of chats started without one have no such key."""
    rules = profile.chat
    waiting = record.status == "requires_action" and rules.required_action_field
    return _chat_object(
        profile,
        record,
        last_error=record.last_error if rules.last_error_field else None,
        status=record.status,
        required_action=_required_action(record.pending) if waiting else None,
        usage=record.usage.wire(),
        meta_data=record.meta_data,
    )


def chatflow_chat(
    record: ChatflowChat,
    profile: Profile,
    status: ChatStatus,
    usage: dict[str, int],
    *,
    required_action: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A chatflow's Chat object: `bot_id` only when the request named one (the platform's published
    capture has none, and cozepy accepts that from 0.9, the first release with chatflows), `last_error`
    always, `required_action` only when an end-side plugin paused it on cloud (coze-py#303): the tool call
    a client reads, whose outputs the platform then refuses."""
    return _chat_object(
        profile,
        record,
        last_error=record.last_error,
        status=status,
        required_action=required_action,
        usage=usage,
    )


def chatflow_paused(record: ChatflowChat, execute_id: str) -> dict[str, Any]:
    """The Chat of a chatflow paused at a question or input node: no `required_action` object."""
    return {
        "id": record.id,
        "conversation_id": record.conversation_id,
        "section_id": record.section_id,
        "status": "requires_action",
        "execute_id": execute_id,
    }


def message(
    chat: ChatRecord | ChatflowChat, message_id: str, kind: str, content: str, now: int | None
) -> dict[str, Any]:
    """A Message the assistant sends in `chat` (bot chat or chatflow; a delta has no timestamps: `now` is
    None). `bot_id` only when the chat has one (a chatflow started without one has none)."""
    body: dict[str, Any] = {"id": message_id, "conversation_id": chat.conversation_id}
    if chat.bot_id is not None:
        body["bot_id"] = chat.bot_id
    body.update(role="assistant", type=kind, content=content, content_type="text", chat_id=chat.id)
    body["section_id"] = chat.section_id
    if now is not None:
        body["created_at"] = now
        body["updated_at"] = now
    return body


def run_history(execution: ExecutionRecord) -> dict[str, Any]:
    """The run history entry (`WorkflowRunHistory`): every field cozepy 0.7 to 0.20 requires.

    A paused execution reports `Running`: the enum has no other in-between state. `error_code` is a
    string, `""` on success, as the spec, api-markdown/workflow_history.md and the history recorded in
    coze-py's tests/test_workflow_run_history.py have it (cozepy 0.7 to 0.13 type it `int` and cannot
    read `""`: the compatibility report shows it). `node_execute_status` maps each node's title to its
    latest run (workflow_history.md: "key为节点的名称"), for the execute_nodes endpoint.
    """
    nodes = {
        run.node_title: {
            "node_id": run.node_id,
            "is_finish": run.is_finish,
            "update_time": run.update_time,
            "node_execute_uuid": run.node_execute_uuid,
        }
        for run in execution.node_runs.values()
    }
    return {
        "execute_id": execution.id,
        "execute_status": "Running" if execution.status == "Interrupted" else execution.status,
        "bot_id": execution.bot_id,
        "connector_id": CONNECTOR_ID_API,
        "connector_uid": execution.connector_uid,
        "run_mode": execution.run_mode,
        "logid": execution.logid,
        "create_time": execution.create_time,
        "update_time": execution.update_time,
        "output": execution.output,
        "error_code": str(execution.error[0]) if execution.error[0] else "",
        "error_message": execution.error[1],
        "debug_url": execution.debug_url,
        "is_output_trimmed": False,
        "usage": execution.usage.wire(),
        "node_execute_status": nodes,
    }


def node_execute_history(run: NodeRun) -> dict[str, Any]:
    """`WorkflowNodeExecuteHistory`: whether the node finished and its output as a JSON string."""
    return {"is_finish": run.is_finish, "node_output": run.output}


WORKFLOW_CREATOR = {"id": "7390000000000000001", "name": "coze-harness"}
"""Who created every catalogue workflow, as the list, retrieve and versions endpoints show it."""


def workflow_basic(workflow: WorkflowScenario, created_at: int) -> dict[str, Any]:
    """`OpenAPIWorkflowBasic` as api-markdown/get_workflow_list.md's example has it: timestamps as decimal
    strings, `app_id` "0" for a workflow outside an app (cozepy reads the strings into its int fields)."""
    return {
        "workflow_id": workflow.id,
        "workflow_name": workflow.name,
        "description": workflow.description,
        "icon_url": "",
        "app_id": "0",
        "created_at": str(created_at),
        "updated_at": str(created_at),
        "creator": dict(WORKFLOW_CREATOR),
    }


def workflow_parameters(workflow: WorkflowScenario) -> dict[str, Any]:
    """The start node's inputs as `OpenAPIParameter`s (get_workflow_info's `input.parameters`)."""
    params: dict[str, Any] = {}
    for name, spec in workflow.parameters.items():
        item: dict[str, Any] = {"type": spec.type, "required": spec.required, "description": spec.description}
        if spec.default is not None:
            item["default_value"] = spec.default if isinstance(spec.default, str) else json.dumps(spec.default)
        params[name] = item
    return params


def workflow_version(workflow: WorkflowScenario, version: str, created_at: int) -> dict[str, Any]:
    """`OpenAPIVersionMetaInfo` with what cozepy's WorkflowVersionInfo requires (description, creator)."""
    return {
        "version": version,
        "description": workflow.description,
        "created_at": str(created_at),
        "updated_at": str(created_at),
        "workflow_id": workflow.id,
        "creator": dict(WORKFLOW_CREATOR),
    }


def message_object(message: MessageRecord, profile: Profile | None = None) -> dict[str, Any]:
    """A stored message as the conversation and message endpoints answer it (`OpenMessageApi`), keys in the
    spec's order (coze-openapi.yaml `x-coze-order`: id ... type), then `section_id`. `bot_id` and `chat_id`
    are `""` for a message a client wrote (the docs' create_message and list_message examples). Studio: its
    OpenMessageApi's struct tags in their order, int64 ids as strings ("0" for none), `reasoning_content`."""
    if profile is not None and profile.conversations.shape == "studio":
        return {
            "id": message.id,
            "bot_id": message.bot_id or "0",
            "role": message.role,
            "content": message.content,
            "conversation_id": message.conversation_id,
            "meta_data": dict(message.meta_data),
            "created_at": message.created_at,
            "updated_at": message.updated_at,
            "chat_id": message.chat_id or "0",
            "content_type": message.content_type,
            "type": message.type,
            "section_id": message.section_id,
            "reasoning_content": "",
        }
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "bot_id": message.bot_id,
        "chat_id": message.chat_id,
        "meta_data": dict(message.meta_data),
        "role": message.role,
        "content": message.content,
        "content_type": message.content_type,
        "created_at": message.created_at,
        "updated_at": message.updated_at,
        "type": message.type,
        "section_id": message.section_id,
    }


ConversationView = Literal["create", "retrieve", "list", "update"]


def conversation_object(
    conversation: Conversation, profile: Profile | None = None, view: ConversationView = "retrieve"
) -> dict[str, Any]:
    """A Conversation (`ConversationData`), keys in the spec's order. cozepy requires `meta_data` (an object,
    never null) and, from 0.8, `last_section_id`; `creator_id` is sent when the conversation has one.

    Studio: conversation.ConversationData's struct tags as each handler fills them (`view`): `meta_data` null
    when there is none (parseExt's nil map; update fills none at all), `creator_d` (sic) on retrieve only,
    `name` everywhere but create, no `updated_at`."""
    if profile is not None and profile.conversations.shape == "studio":
        meta = dict(conversation.meta_data) if conversation.meta_data and view != "update" else None
        studio: dict[str, Any] = {"id": conversation.id, "created_at": conversation.created_at, "meta_data": meta}
        if view == "retrieve" and conversation.creator_id is not None:
            studio["creator_d"] = conversation.creator_id
        studio["connector_id"] = conversation.connector_id
        studio["last_section_id"] = conversation.section_id
        if view != "create":
            studio["name"] = conversation.name
        return studio
    body: dict[str, Any] = {
        "id": conversation.id,
        "name": conversation.name,
        "meta_data": dict(conversation.meta_data),
    }
    if conversation.creator_id is not None:
        body["creator_id"] = conversation.creator_id
    body["created_at"] = conversation.created_at
    body["updated_at"] = conversation.updated_at
    body["last_section_id"] = conversation.section_id
    body["connector_id"] = conversation.connector_id
    return body


def section(conversation: Conversation) -> dict[str, Any]:
    """The new context section a clear answers with (`Section`)."""
    return {"id": conversation.section_id, "conversation_id": conversation.id}


# --- files and bots (routes/files.py, routes/bots.py) ----------------------------------------------

if TYPE_CHECKING:
    from .files import StoredFile
    from .scenarios import BotScenario, ToolDeclaration, WorkflowScenario


def file(stored: StoredFile, profile: Profile) -> dict[str, Any]:
    """An uploaded file. Cloud: the spec's File, keys in its documented example's order (upload_files.md,
    retrieve_files.md); cozepy before 0.10 requires all four. Studio: bot_open_api.File's struct tags."""
    if profile.files.shape == "studio-file":
        uri = f"bot_files/{stored.id}/{stored.file_name}"
        return {
            "uri": uri,
            "bytes": stored.bytes,
            "CreatedAt": stored.created_at,
            "file_name": stored.file_name,
            "url": f"http://127.0.0.1/{uri}",
            "id": stored.id,
        }
    return {"bytes": stored.bytes, "created_at": stored.created_at, "file_name": stored.file_name, "id": stored.id}


MODEL_INFO = {"model_id": "0", "model_name": "coze-harness scenario"}
"""A scenario has no model: this names that plainly (cozepy 0.2 to 0.5 require both keys)."""


def _api_info(tool: ToolDeclaration) -> dict[str, Any]:
    return {"api_id": tool.api_id, "name": tool.name, "description": tool.description}


def _plugins(bot: BotScenario, profile: Profile) -> list[dict[str, Any]]:
    tools = bot.declared_tools()
    if not tools:
        return []
    if profile.bots.plugins == "api-refs":
        return [{"plugin_id": bot.plugin_id, "api_id": tool.api_id, "api_name": tool.name} for tool in tools]
    return [
        {
            "plugin_id": bot.plugin_id,
            "name": f"{bot.name} local tools",
            "icon_url": "",
            "description": "The tools this bot calls; the client runs them (local plugin) and submits their outputs.",
            "api_info_list": [_api_info(tool) for tool in tools],
        }
    ]


def bot(scenario: BotScenario, profile: Profile, published_at: int) -> dict[str, Any]:
    """A bot's configuration (BotInfo): keys in the spec's x-coze-order on cloud, in OpenAPIBotInfo's field
    order on studio, whose nil slices and pointers are JSON nulls. `published_at` stands for both times."""
    body: dict[str, Any] = {
        "bot_id": scenario.id,
        "name": scenario.name,
        "description": scenario.description,
        "icon_url": "",
        "create_time": published_at,
        "update_time": published_at,
        "version": "1",
        "prompt_info": {"prompt": scenario.prompt},
        "onboarding_info": {"prologue": scenario.prologue, "suggested_questions": list(scenario.suggested_questions)},
        "bot_mode": 0,
    }
    if profile.bots.plugins == "api-refs":
        if not scenario.suggested_questions:
            del body["onboarding_info"]["suggested_questions"]  # omitempty
        body["model_info"] = {"model_id": MODEL_INFO["model_id"]}
        body["plugin_info_list"] = _plugins(scenario, profile)
        body.update(
            workflow_info_list=None,
            shortcut_commands=None,
            default_user_input_type="",
            suggest_reply_info=None,
            background_image_info=None,
            variables=None,
        )
        return body
    body["plugin_info_list"] = _plugins(scenario, profile)
    body["model_info"] = dict(MODEL_INFO)
    return body


def published_bot(scenario: BotScenario, published_at: int) -> dict[str, Any]:
    """A bot in `/v1/space/published_bots_list` (SpacePublishedBots; `publish_time` is a string there)."""
    return {
        "bot_id": scenario.id,
        "bot_name": scenario.name,
        "description": scenario.description,
        "icon_url": "",
        "publish_time": str(published_at),
    }


def simple_bot(scenario: BotScenario, published_at: int) -> dict[str, Any]:
    """A bot in `/v1/bots` (cozepy's SimpleBot, 0.18 and later: every field but folder_id is required)."""
    return {
        "id": scenario.id,
        "name": scenario.name,
        "description": scenario.description,
        "icon_url": "",
        "is_published": True,
        "updated_at": published_at,
        "owner_user_id": scenario.owner_user_id,
        "published_at": published_at,
    }
