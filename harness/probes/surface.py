"""Facts read off the installed SDK's workflow and chat surface: enums, model fields, methods.

These are half of the "workflows have no tool-call path" argument (the other half is what the SDK
does with tool-call-shaped events the simulator puts on a workflow stream): if no event type, no
field and no method exists to carry a tool call and its output, no server could make it work.
"""

from __future__ import annotations

import inspect
from typing import Any

from ..matrix import SdkFact
from ._base import fact

_TOOLISH = ("tool", "submit", "function", "plugin", "required_action")


def public_methods(owner: Any) -> list[str]:
    return sorted(name for name in dir(owner) if not name.startswith("_") and callable(getattr(owner, name, None)))


def model_fields(model: Any) -> list[str]:
    return sorted(getattr(model, "model_fields", {}))


def _coze() -> Any:
    import cozepy

    return cozepy.Coze(auth=cozepy.TokenAuth("surface"), base_url="http://127.0.0.1:9")


def workflow_facts() -> list[SdkFact]:
    import cozepy.workflows.runs as runs

    client = _coze().workflows.runs
    methods = public_methods(client)
    resume = getattr(client, "resume", None)
    facts = [
        fact("cozepy.WorkflowEventType", sorted(member.value for member in runs.WorkflowEventType)),
        fact("cozepy.WorkflowEvent fields", model_fields(runs.WorkflowEvent)),
        fact(
            "cozepy.WorkflowEventInterruptData fields",
            model_fields(runs.WorkflowEventInterruptData),
            "no `data` field: the payload of an interrupt is dropped when parsed",
        ),
        fact("coze.workflows.runs methods", methods),
        fact(
            "coze.workflows.runs methods about tools",
            [name for name in methods if any(word in name for word in _TOOLISH)],
            "empty: there is no method to submit tool outputs for a workflow run",
        ),
    ]
    if resume is not None:
        facts.append(fact("coze.workflows.runs.resume parameters", list(inspect.signature(resume).parameters)))
    return facts


def chat_facts() -> list[SdkFact]:
    import cozepy.chat as chat

    client = _coze().chat
    function_model = getattr(chat, "ChatToolCallFunction", None)
    return [
        fact("cozepy.ChatEventType", sorted(member.value for member in chat.ChatEventType)),
        fact("cozepy.Chat fields", model_fields(chat.Chat)),
        fact("cozepy.ChatToolCallFunction fields", model_fields(function_model) if function_model else None),
        fact("coze.chat methods", public_methods(client)),
    ]


def chatflow_facts() -> list[SdkFact]:
    workflows = _coze().workflows
    chat = getattr(workflows, "chat", None)
    return [fact("coze.workflows.chat methods", public_methods(chat) if chat is not None else None)]
